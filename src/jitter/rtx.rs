//! RFC 4588 retransmission packets back to their original form.

use bytes::{Buf, Bytes, BytesMut};

use crate::packet::{ParseError, RtpPacket};

/// How to recognise RTX packets and what they stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxConfig {
    /// SSRC of the RTX stream.
    pub rtx_ssrc: u32,
    /// SSRC and payload type of the media stream it repairs.
    pub media_ssrc: u32,
    pub media_payload_type: u8,
}

/// Turns an RTX packet into the original packet: sequence number from the
/// 2-byte OSN at the start of the payload, media SSRC and payload type.
/// In place when `packet` is the only reference to its storage; otherwise
/// (a shared buffer) the packet is copied once.
pub fn restore_rtx(packet: Bytes, rtx: &RtxConfig) -> Result<Bytes, ParseError> {
    let p = RtpPacket::parse(&packet[..])?;
    let payload = p.payload();
    if payload.len() < 2 {
        return Err(ParseError::Truncated);
    }
    let osn = u16::from_be_bytes([payload[0], payload[1]]);
    let header_len = p.header_len();
    let mut buf = packet
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
    // Slide the header over the OSN, then drop the two bytes in front.
    buf.copy_within(0..header_len, 2);
    buf.advance(2);
    let mut p = RtpPacket::parse(&mut buf[..])?;
    p.set_sequence_number(osn);
    p.set_ssrc(rtx.media_ssrc);
    p.set_payload_type(rtx.media_payload_type);
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RtpBuilder;

    #[test]
    fn restores_sequence_ssrc_and_payload_type() {
        let mut buf = [0u8; 64];
        let n = RtpBuilder {
            payload_type: 97,
            sequence_number: 9,
            timestamp: 1234,
            ssrc: 0xbbbb,
            extensions: &[(1, &[5])],
            payload: &[0x12, 0x34, 0xaa, 0xbb, 0xcc],
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        let rtx = RtxConfig {
            rtx_ssrc: 0xbbbb,
            media_ssrc: 0xaaaa,
            media_payload_type: 96,
        };
        for shared in [false, true] {
            let packet = Bytes::copy_from_slice(&buf[..n]);
            let keep = shared.then(|| packet.clone());
            let restored = restore_rtx(packet, &rtx).unwrap();
            let p = RtpPacket::parse(&restored[..]).unwrap();
            assert_eq!(p.sequence_number(), 0x1234);
            assert_eq!(p.ssrc(), 0xaaaa);
            assert_eq!(p.payload_type(), 96);
            assert_eq!(p.timestamp(), 1234);
            assert_eq!(p.extension(1), Some(&[5][..]));
            assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc]);
            drop(keep);
        }
    }

    #[test]
    fn rejects_rtx_without_osn() {
        let mut buf = [0u8; 16];
        let n = RtpBuilder {
            payload: &[1],
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        let rtx = RtxConfig {
            rtx_ssrc: 0,
            media_ssrc: 1,
            media_payload_type: 96,
        };
        assert_eq!(
            restore_rtx(Bytes::copy_from_slice(&buf[..n]), &rtx),
            Err(ParseError::Truncated)
        );
    }
}
