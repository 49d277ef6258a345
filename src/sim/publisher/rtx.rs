//! RFC 4588 retransmissions from a sender history.

use crate::packet::{ParseError, RtpPacket};
use bytes::{Bytes, BytesMut};

/// An RFC 4588 retransmission of `original`: the same header (CSRCs and
/// extensions too) with the RTX stream's SSRC, payload type and sequence
/// number, and the original sequence number (OSN) in front of the payload.
/// Padding is not carried over.
pub fn make_rtx(
    original: &[u8],
    rtx_ssrc: u32,
    rtx_pt: u8,
    rtx_seq: u16,
) -> Result<Bytes, ParseError> {
    let p = RtpPacket::parse(original)?;
    let header_len = p.header_len();
    let payload = p.payload();
    let mut buf = BytesMut::with_capacity(header_len + 2 + payload.len());
    buf.extend_from_slice(&original[..header_len]);
    buf.extend_from_slice(&p.sequence_number().to_be_bytes());
    buf.extend_from_slice(payload);
    buf[0] &= !0x20;
    let mut rtx = RtpPacket::parse(&mut buf[..])?;
    rtx.set_ssrc(rtx_ssrc);
    rtx.set_payload_type(rtx_pt);
    rtx.set_sequence_number(rtx_seq);
    Ok(buf.freeze())
}

/// A sender's history of recent packets, answering NACKs with RTX packets.
#[derive(Debug, Clone)]
pub struct RtxSender {
    rtx_ssrc: u32,
    rtx_pt: u8,
    next_seq: u16,
    /// Packets by sequence number modulo the capacity.
    history: Vec<Option<(u16, Bytes)>>,
    sent: u64,
}

impl RtxSender {
    /// Keeps the last `capacity` packets; the RTX stream starts at `first_seq`.
    pub fn new(rtx_ssrc: u32, rtx_pt: u8, first_seq: u16, capacity: usize) -> Self {
        Self {
            rtx_ssrc,
            rtx_pt,
            next_seq: first_seq,
            history: vec![None; capacity.max(1)],
            sent: 0,
        }
    }

    pub fn rtx_ssrc(&self) -> u32 {
        self.rtx_ssrc
    }

    /// Retransmissions made.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Remembers a media packet as sent.
    pub fn remember(&mut self, packet: &Bytes) {
        if let Ok(p) = RtpPacket::parse(&packet[..]) {
            let seq = p.sequence_number();
            let slot = usize::from(seq) % self.history.len();
            self.history[slot] = Some((seq, packet.clone()));
        }
    }

    /// The RTX packet for media sequence number `seq`, if still in history.
    pub fn retransmit(&mut self, seq: u16) -> Option<Bytes> {
        let slot = usize::from(seq) % self.history.len();
        let (held, packet) = self.history[slot].as_ref()?;
        if *held != seq {
            return None;
        }
        let rtx = make_rtx(packet, self.rtx_ssrc, self.rtx_pt, self.next_seq).ok()?;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.sent += 1;
        Some(rtx)
    }
}
