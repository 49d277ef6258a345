//! VP8 RTP payload descriptor (RFC 7741 §4.2), with the offsets of the
//! fields an SFU rewrites.

use crate::packet::ParseError;

/// A parsed VP8 payload descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor {
    /// N: the frame is not used as a reference by others.
    pub non_reference: bool,
    /// S: this packet starts a VP8 partition.
    pub start_of_partition: bool,
    /// PID: partition index.
    pub partition_index: u8,
    /// PictureID (7 or 15 bits) and where it sits.
    pub picture_id: Option<u16>,
    pub picture_id_15bit: bool,
    pub picture_id_offset: usize,
    /// TL0PICIDX and its offset.
    pub tl0_pic_idx: Option<u8>,
    pub tl0_pic_idx_offset: usize,
    /// TID (temporal layer), Y (layer sync), KEYIDX, and their byte's offset.
    pub temporal_id: Option<u8>,
    pub layer_sync: bool,
    pub key_idx: Option<u8>,
    pub tid_keyidx_offset: usize,
    /// Bytes of descriptor before the VP8 payload.
    pub len: usize,
    /// The packet starts a key frame (S=1, PID=0 and the VP8 header's P bit 0).
    pub keyframe: bool,
}

impl Descriptor {
    /// Parses the descriptor at the start of an RTP payload.
    pub fn parse(payload: &[u8]) -> Result<Self, ParseError> {
        let b0 = *payload.first().ok_or(ParseError::Truncated)?;
        let mut d = Descriptor {
            non_reference: b0 & 0x20 != 0,
            start_of_partition: b0 & 0x10 != 0,
            partition_index: b0 & 0x07,
            ..Default::default()
        };
        let mut at = 1;
        let byte = |i: usize| payload.get(i).copied().ok_or(ParseError::Truncated);
        if b0 & 0x80 != 0 {
            let x = byte(at)?;
            at += 1;
            let (has_i, has_l, has_t, has_k) =
                (x & 0x80 != 0, x & 0x40 != 0, x & 0x20 != 0, x & 0x10 != 0);
            if has_i {
                d.picture_id_offset = at;
                let first = byte(at)?;
                if first & 0x80 != 0 {
                    d.picture_id_15bit = true;
                    d.picture_id = Some(u16::from(first & 0x7f) << 8 | u16::from(byte(at + 1)?));
                    at += 2;
                } else {
                    d.picture_id = Some(u16::from(first));
                    at += 1;
                }
            }
            if has_l {
                d.tl0_pic_idx_offset = at;
                d.tl0_pic_idx = Some(byte(at)?);
                at += 1;
            }
            if has_t || has_k {
                d.tid_keyidx_offset = at;
                let tk = byte(at)?;
                if has_t {
                    d.temporal_id = Some(tk >> 6);
                    d.layer_sync = tk & 0x20 != 0;
                }
                if has_k {
                    d.key_idx = Some(tk & 0x1f);
                }
                at += 1;
            }
        }
        d.len = at;
        // The VP8 payload header's P bit (inverse key frame flag) is only
        // present at the start of partition 0.
        if d.start_of_partition && d.partition_index == 0 {
            d.keyframe = byte(at)? & 0x01 == 0;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_descriptor_key_and_delta() {
        // X=0 S=1 PID=0, then a VP8 header with P=0 (key frame).
        let d = Descriptor::parse(&[0x10, 0x50, 0x01]).unwrap();
        assert!(d.keyframe && d.start_of_partition && d.len == 1);
        let d = Descriptor::parse(&[0x10, 0x51]).unwrap();
        assert!(!d.keyframe);
        // Continuation packet (S=0): never a key frame start.
        let d = Descriptor::parse(&[0x00, 0x00]).unwrap();
        assert!(!d.keyframe);
    }

    #[test]
    fn full_extended_descriptor_rfc_7741() {
        // X=1 N=1 S=1 PID=0 | I L T K | M + 15-bit PictureID 0x1234 | TL0PICIDX 7 | TID 2 Y 1 KEYIDX 5 | VP8 hdr
        let p = [0xb0, 0xf0, 0x80 | 0x12, 0x34, 0x07, 0b1010_0101, 0x00];
        let d = Descriptor::parse(&p).unwrap();
        assert!(d.non_reference);
        assert_eq!(d.picture_id, Some(0x1234));
        assert!(d.picture_id_15bit);
        assert_eq!(d.picture_id_offset, 2);
        assert_eq!((d.tl0_pic_idx, d.tl0_pic_idx_offset), (Some(7), 4));
        assert_eq!(
            (d.temporal_id, d.layer_sync, d.key_idx),
            (Some(2), true, Some(5))
        );
        assert_eq!(d.tid_keyidx_offset, 5);
        assert_eq!(d.len, 6);
        assert!(d.keyframe);
        // 7-bit PictureID.
        let d = Descriptor::parse(&[0x90, 0x80, 0x05, 0x01]).unwrap();
        assert_eq!(
            (d.picture_id, d.picture_id_15bit, d.len),
            (Some(5), false, 3)
        );
    }

    #[test]
    fn truncated_descriptors_are_errors() {
        for bad in [
            &[][..],
            &[0x80],
            &[0x80, 0x80],
            &[0x80, 0x80, 0x80],
            &[0x80, 0x40],
            &[0x80, 0x20],
            &[0x10],
        ] {
            assert_eq!(
                Descriptor::parse(bad),
                Err(ParseError::Truncated),
                "{bad:?}"
            );
        }
    }
}
