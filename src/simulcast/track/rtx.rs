//! RFC 4588 retransmission in place: a rewritten packet already in the
//! caller's buffer becomes the subscriber's RTX packet (its RTX SSRC and
//! payload type, its own RTX sequence numbers, the original sequence number
//! in the first two payload bytes). Padding is not carried over (RFC 4588
//! §4: the retransmission has its own padding if any).

use crate::packet::{RtpLayout, WriteError};

/// What a subscriber negotiated for RTX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxConfig {
    pub ssrc: u32,
    pub payload_type: u8,
}

/// One subscriber's RTX stream.
#[derive(Debug, Clone, Copy)]
pub(super) struct RtxStream {
    pub config: RtxConfig,
    pub next_seq: u16,
}

/// Bytes an RTX packet needs beyond the original: the OSN.
pub(super) const RTX_OVERHEAD: usize = 2;

impl RtxStream {
    /// Turns the packet `buf[..len]` into an RTX packet in place; returns
    /// its length. `buf` must hold `len + 2` bytes.
    pub fn wrap(&mut self, buf: &mut [u8], len: usize) -> Result<usize, WriteError> {
        let layout = RtpLayout::parse(&buf[..len]).map_err(WriteError::Malformed)?;
        let (start, end) = (layout.payload_start, layout.payload_end);
        let out_len = end + RTX_OVERHEAD;
        if buf.len() < out_len {
            return Err(WriteError::BufferTooSmall { needed: out_len });
        }
        let osn = [buf[2], buf[3]];
        buf.copy_within(start..end, start + RTX_OVERHEAD);
        buf[start..start + RTX_OVERHEAD].copy_from_slice(&osn);
        buf[0] &= !0x20; // no padding
        buf[1] = (buf[1] & 0x80) | (self.config.payload_type & 0x7f);
        buf[2..4].copy_from_slice(&self.next_seq.to_be_bytes());
        buf[8..12].copy_from_slice(&self.config.ssrc.to_be_bytes());
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(out_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitter::{restore_rtx, RtxConfig as JitterRtx};

    #[test]
    fn wraps_in_place_and_the_jitter_buffer_restores_it() {
        // V=2 P=1, PT 96, seq 0x1234, ts, SSRC 0xaabbccdd, payload, 2 bytes
        // of padding.
        let original = [
            0xa0, 96, 0x12, 0x34, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 0, 2,
        ];
        let mut buf = [0u8; 32];
        buf[..original.len()].copy_from_slice(&original);
        let mut rtx = RtxStream {
            config: RtxConfig {
                ssrc: 0x0102_0304,
                payload_type: 97,
            },
            next_seq: 0xffff,
        };
        let n = rtx.wrap(&mut buf, original.len()).unwrap();
        assert_eq!(n, 12 + 2 + 3);
        assert_eq!(&buf[12..n], &[0x12, 0x34, 1, 2, 3], "OSN, then the payload");
        assert_eq!(&buf[..4], &[0x80, 97, 0xff, 0xff]);
        assert_eq!(&buf[8..12], &[1, 2, 3, 4]);
        assert_eq!(rtx.next_seq, 0);
        let restored = restore_rtx(
            bytes::Bytes::copy_from_slice(&buf[..n]),
            &JitterRtx {
                rtx_ssrc: 0x0102_0304,
                media_ssrc: 0xaabb_ccdd,
                media_payload_type: 96,
            },
        )
        .unwrap();
        assert_eq!(
            &restored[..],
            &[0x80, 96, 0x12, 0x34, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3]
        );
        let mut small = [0u8; 16];
        small[..original.len() - 1].copy_from_slice(&original[..original.len() - 1]);
        assert!(rtx.wrap(&mut small, 16).is_err());
    }
}
