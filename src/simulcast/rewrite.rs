//! Writes a source packet into a subscriber's buffer with that subscriber's
//! header and VP8 descriptor values, in one pass over the bytes. A 7-bit
//! PictureID is widened to 15 bits on the way (one byte longer), so every
//! layer of a source reaches the subscriber in one PictureID space.

use super::source::SourcePacket;
use crate::codec::vp8::Descriptor;
use crate::packet::WriteError;

/// The values one subscriber sees for one packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OutFields {
    pub ssrc: u32,
    pub payload_type: Option<u8>,
    pub seq: u16,
    pub timestamp: u32,
    pub picture_id: Option<u16>,
    pub tl0_pic_idx: Option<u8>,
    pub key_idx: Option<u8>,
}

/// Bytes the rewritten packet takes.
pub(crate) fn rewritten_len(len: usize, vp8: Option<&Descriptor>) -> usize {
    len + usize::from(vp8.is_some_and(|d| d.picture_id.is_some() && !d.picture_id_15bit))
}

/// Copies `src` (an RTP packet whose layout and descriptor are known) into
/// `out` with `fields` applied; returns the length written.
pub(crate) fn write(
    src: &[u8],
    payload_start: usize,
    vp8: Option<&Descriptor>,
    fields: &OutFields,
    out: &mut [u8],
) -> Result<usize, WriteError> {
    let len = rewritten_len(src.len(), vp8);
    if out.len() < len {
        return Err(WriteError::BufferTooSmall { needed: len });
    }
    out[..payload_start].copy_from_slice(&src[..payload_start]);
    if let Some(pt) = fields.payload_type {
        out[1] = (out[1] & 0x80) | (pt & 0x7f);
    }
    out[2..4].copy_from_slice(&fields.seq.to_be_bytes());
    out[4..8].copy_from_slice(&fields.timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&fields.ssrc.to_be_bytes());
    let Some(d) = vp8 else {
        out[payload_start..len].copy_from_slice(&src[payload_start..]);
        return Ok(len);
    };
    // Descriptor: copy up to the PictureID, write it as 15 bits, then the
    // rest of the descriptor shifted by the widening, then the payload.
    let p = payload_start;
    let widen = usize::from(d.picture_id.is_some() && !d.picture_id_15bit);
    // Without a new value the source's PictureID is kept (still widened).
    match d.picture_id.map(|own| fields.picture_id.unwrap_or(own)) {
        Some(pid) => {
            let at = d.picture_id_offset;
            out[p..p + at].copy_from_slice(&src[p..p + at]);
            out[p + at] = 0x80 | (pid >> 8) as u8 & 0x7f;
            out[p + at + 1] = pid as u8;
            let old_end = at + if d.picture_id_15bit { 2 } else { 1 };
            out[p + old_end + widen..len].copy_from_slice(&src[p + old_end..]);
        }
        None => out[p..len].copy_from_slice(&src[p..]),
    }
    if let (Some(_), Some(tl0)) = (d.tl0_pic_idx, fields.tl0_pic_idx) {
        out[p + d.tl0_pic_idx_offset + widen] = tl0;
    }
    if let (Some(_), Some(key_idx)) = (d.key_idx, fields.key_idx) {
        let at = p + d.tid_keyidx_offset + widen;
        out[at] = (out[at] & 0xe0) | (key_idx & 0x1f);
    }
    Ok(len)
}

/// Writes a source packet (see [`write`]).
pub(crate) fn write_packet(
    pkt: &SourcePacket,
    fields: &OutFields,
    out: &mut [u8],
) -> Result<usize, WriteError> {
    write(
        &pkt.bytes,
        pkt.layout.payload_start,
        pkt.vp8.as_ref(),
        fields,
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(descriptor: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        p.extend_from_slice(descriptor);
        p.extend_from_slice(&[0xaa, 0xbb]);
        p
    }

    #[test]
    fn widens_a_7_bit_picture_id_and_rewrites_every_field() {
        // X=1 S=1 | I L T K | 7-bit PID 5 | TL0 9 | TID 1 Y KEYIDX 3
        let src = packet(&[0x90, 0xf0, 0x05, 0x09, 0b0110_0011]);
        let d = Descriptor::parse(&src[12..]).unwrap();
        let fields = OutFields {
            ssrc: 0x1122_3344,
            payload_type: Some(100),
            seq: 0xbeef,
            timestamp: 0xdead_0000,
            picture_id: Some(0x1234),
            tl0_pic_idx: Some(200),
            key_idx: Some(17),
        };
        let mut out = [0u8; 64];
        let n = write(&src, 12, Some(&d), &fields, &mut out).unwrap();
        assert_eq!(n, src.len() + 1);
        let o = Descriptor::parse(&out[12..n]).unwrap();
        assert_eq!(o.picture_id, Some(0x1234));
        assert!(o.picture_id_15bit);
        assert_eq!(
            (o.tl0_pic_idx, o.temporal_id, o.layer_sync, o.key_idx),
            (Some(200), Some(1), true, Some(17))
        );
        assert_eq!(&out[n - 2..n], &[0xaa, 0xbb]);
        assert_eq!(out[1], 100);
        assert_eq!(
            &out[2..12],
            &[0xbe, 0xef, 0xde, 0xad, 0, 0, 0x11, 0x22, 0x33, 0x44]
        );
        assert_eq!(
            write(&src, 12, Some(&d), &fields, &mut out[..n - 1]),
            Err(WriteError::BufferTooSmall { needed: n })
        );
    }

    #[test]
    fn keeps_the_marker_and_a_15_bit_layout() {
        let mut src = packet(&[0x90, 0x80, 0x81, 0x00]);
        src[1] |= 0x80;
        let d = Descriptor::parse(&src[12..]).unwrap();
        let fields = OutFields {
            picture_id: Some(7),
            ..Default::default()
        };
        let mut out = [0u8; 32];
        let n = write(&src, 12, Some(&d), &fields, &mut out).unwrap();
        assert_eq!(n, src.len());
        assert_eq!(out[1], 0x80 | 96);
        assert_eq!(&out[12..16], &[0x90, 0x80, 0x80, 0x07]);
    }
}
