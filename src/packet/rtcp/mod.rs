//! RTCP (RFC 3550, RFC 4585, RFC 5104, REMB): borrowed views over a compound
//! packet, and builders that write into caller buffers.
//!
//! Each packet's counts are checked against its length once, when it is
//! parsed, so the views' accessors index without re-checking and cannot
//! panic. Packet types and feedback formats this module does not model are
//! yielded as [`RtcpPacket::Unknown`] rather than errors: RTCP is extensible
//! and a receiver must skip what it does not understand.
//!
//! Builders are plain data borrowing slices. A compound packet is built by
//! writing packets one after another into one buffer, e.g. with
//! [`write_compound`].

mod bye;
mod ccfb;
mod feedback;
mod remb;
mod report;
mod sdes;
#[cfg(test)]
mod tests;
mod twcc;
mod twcc_build;

pub use bye::{Bye, ByeBuilder};
pub use ccfb::{
    ntp16_to_us, us_to_ntp16, CcfbBlock, CcfbBlocks, CcfbBuilder, CcfbMetrics, CcfbResults,
    CcfbStream, CcfbWriter, CongestionFeedback, Metric, ATO_OVER_RANGE, ATO_UNAVAILABLE, FMT_CCFB,
    MAX_REPORTS_PER_BLOCK,
};
pub use feedback::{
    nack_pair_count, nack_pairs, Fir, FirBuilder, FirEntries, LostSequenceNumbers, Nack,
    NackBuilder, NackPairs, NackPairsBuilder, NackPairsFromLost, Pli, PliBuilder,
};
pub use remb::{Remb, RembBuilder};
pub use report::{
    ReceiverReport, ReceiverReportBuilder, ReportBlock, ReportBlocks, SenderReport,
    SenderReportBuilder,
};
pub use sdes::{Sdes, SdesBuilder, SdesChunks, SdesItems, SDES_CNAME};
pub use twcc::{
    ReferenceTimeUnwrapper, TransportFeedback, TransportFeedbackResults, DELTA_TICK_US, FMT_TWCC,
    REFERENCE_TICK_US,
};
pub use twcc_build::{TransportFeedbackBuilder, Written, MIN_TWCC_LEN};

use super::error::{be16, be32, ensure_room};
use super::{ParseError, WriteError};

/// Sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// Receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// Source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// Goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// Application-defined (RFC 3550 §6.7); yielded as `Unknown`.
pub const PT_APP: u8 = 204;
/// Transport-layer feedback (RFC 4585 §6.2).
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585 §6.3).
pub const PT_PSFB: u8 = 206;

/// RTPFB format of a generic NACK.
pub const FMT_NACK: u8 = 1;
/// PSFB format of a picture loss indication.
pub const FMT_PLI: u8 = 1;
/// PSFB format of a full intra request (RFC 5104 §4.3.1).
pub const FMT_FIR: u8 = 4;
/// PSFB format of application-layer feedback, which REMB uses.
pub const FMT_AFB: u8 = 15;

/// The most report blocks, chunks or SSRCs the 5-bit count field can hold.
pub const MAX_COUNT: usize = 31;

/// The longest packet the 16-bit length field can describe, in bytes.
pub const MAX_PACKET_LEN: usize = (u16::MAX as usize + 1) * 4;

/// Iterates over the packets of a compound RTCP packet.
///
/// An empty buffer yields nothing. The first error is yielded once and ends
/// the iteration: after a bad length nothing that follows can be trusted.
pub fn compound(buf: &[u8]) -> Compound<'_> {
    Compound { rest: buf }
}

/// Iterator returned by [`compound`].
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match parse_one(self.rest) {
            Ok((packet, tail)) => {
                self.rest = tail;
                Some(Ok(packet))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Compound<'_> {}

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport(SenderReport<'a>),
    ReceiverReport(ReceiverReport<'a>),
    Sdes(Sdes<'a>),
    Bye(Bye<'a>),
    /// Generic NACK (RTPFB, FMT 1).
    Nack(Nack<'a>),
    /// Picture loss indication (PSFB, FMT 1).
    Pli(Pli),
    /// Full intra request (PSFB, FMT 4).
    Fir(Fir<'a>),
    /// Receiver estimated maximum bitrate (PSFB, FMT 15, "REMB").
    Remb(Remb<'a>),
    /// Transport-wide congestion control feedback (RTPFB, FMT 15).
    TransportCc(TransportFeedback<'a>),
    /// RFC 8888 congestion control feedback (RTPFB, FMT 11).
    CongestionFeedback(CongestionFeedback<'a>),
    /// A packet type or feedback format this module does not model.
    Unknown {
        packet_type: u8,
        /// The header's 5-bit count (or FMT, for feedback packets).
        count_or_fmt: u8,
        /// Everything after the 4-byte header, padding removed.
        body: &'a [u8],
    },
}

impl RtcpPacket<'_> {
    /// The packet type from the common header.
    pub fn packet_type(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => PT_SR,
            RtcpPacket::ReceiverReport(_) => PT_RR,
            RtcpPacket::Sdes(_) => PT_SDES,
            RtcpPacket::Bye(_) => PT_BYE,
            RtcpPacket::Nack(_)
            | RtcpPacket::TransportCc(_)
            | RtcpPacket::CongestionFeedback(_) => PT_RTPFB,
            RtcpPacket::Pli(_) | RtcpPacket::Fir(_) | RtcpPacket::Remb(_) => PT_PSFB,
            RtcpPacket::Unknown { packet_type, .. } => *packet_type,
        }
    }
}

/// Splits the first packet off `buf` and parses it.
fn parse_one(buf: &[u8]) -> Result<(RtcpPacket<'_>, &[u8]), ParseError> {
    if buf.len() < 4 {
        return Err(ParseError::Truncated);
    }
    if buf[0] >> 6 != 2 {
        return Err(ParseError::BadVersion);
    }
    let len = (usize::from(be16(buf, 2)) + 1) * 4;
    let (packet, tail) = buf.split_at_checked(len).ok_or(ParseError::Truncated)?;
    let mut body = &packet[4..];
    if packet[0] & 0x20 != 0 {
        let pad = usize::from(packet[len - 1]);
        if pad == 0 || pad > body.len() {
            return Err(ParseError::BadPadding);
        }
        body = &body[..body.len() - pad];
    }
    let count = packet[0] & 0x1f;
    let packet_type = packet[1];
    let unknown = RtcpPacket::Unknown {
        packet_type,
        count_or_fmt: count,
        body,
    };
    let parsed = match (packet_type, count) {
        (PT_SR, _) => RtcpPacket::SenderReport(SenderReport::parse(count, body)?),
        (PT_RR, _) => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body)?),
        (PT_SDES, _) => RtcpPacket::Sdes(Sdes::parse(count, body)?),
        (PT_BYE, _) => RtcpPacket::Bye(Bye::parse(count, body)?),
        (PT_RTPFB, FMT_NACK) => RtcpPacket::Nack(Nack::parse(body)?),
        (PT_RTPFB, FMT_TWCC) => RtcpPacket::TransportCc(TransportFeedback::parse(body)?),
        (PT_RTPFB, FMT_CCFB) => RtcpPacket::CongestionFeedback(CongestionFeedback::parse(body)?),
        (PT_PSFB, FMT_PLI) => RtcpPacket::Pli(Pli::parse(body)?),
        (PT_PSFB, FMT_FIR) => RtcpPacket::Fir(Fir::parse(body)?),
        (PT_PSFB, FMT_AFB) => Remb::parse(body)?.map_or(unknown, RtcpPacket::Remb),
        _ => unknown,
    };
    Ok((parsed, tail))
}

/// A builder that can be written into a caller buffer; lets
/// [`write_compound`] take a mixed list of builders without allocating.
pub trait RtcpWrite {
    /// Bytes [`write_into`](Self::write_into) will write.
    fn encoded_len(&self) -> usize;
    /// Writes the packet at the start of `buf` and returns its length.
    fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError>;
}

/// Writes `packets` back to back into `buf`, returning the total length.
///
/// Fails without writing anything if `buf` cannot hold them all; an invalid
/// argument may leave the earlier packets written.
pub fn write_compound(buf: &mut [u8], packets: &[&dyn RtcpWrite]) -> Result<usize, WriteError> {
    let needed = packets.iter().map(|p| p.encoded_len()).sum();
    ensure_room(buf, needed)?;
    let mut at = 0;
    for p in packets {
        let rest = buf
            .get_mut(at..)
            .ok_or(WriteError::BufferTooSmall { needed })?;
        at += p.write_into(rest)?;
    }
    Ok(at)
}

/// Implements [`RtcpWrite`] by forwarding to the builders' inherent methods,
/// which exist so callers need not import the trait.
macro_rules! impl_rtcp_write {
    ($($t:ty),* $(,)?) => {$(
        impl RtcpWrite for $t {
            fn encoded_len(&self) -> usize {
                Self::encoded_len(self)
            }
            fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
                Self::write_into(self, buf)
            }
        }
    )*};
}

impl_rtcp_write!(
    SenderReportBuilder<'_>,
    ReceiverReportBuilder<'_>,
    SdesBuilder<'_>,
    ByeBuilder<'_>,
    NackBuilder<'_>,
    NackPairsBuilder<'_>,
    PliBuilder,
    FirBuilder<'_>,
    RembBuilder<'_>,
    CcfbBuilder<'_>,
);

/// Checks that a `len`-byte packet fits the length field and `buf`, writes
/// the common header (no padding) and returns the packet's bytes.
fn start_packet(
    buf: &mut [u8],
    len: usize,
    count: usize,
    packet_type: u8,
) -> Result<&mut [u8], WriteError> {
    debug_assert!(len >= 4 && len % 4 == 0 && count <= MAX_COUNT);
    if len > MAX_PACKET_LEN {
        return Err(WriteError::InvalidArgument(
            "RTCP packet longer than its length field allows",
        ));
    }
    ensure_room(buf, len)?;
    let out = &mut buf[..len];
    // Both casts are in range: count <= 31 and len / 4 - 1 <= u16::MAX.
    out[0] = 0x80 | count as u8;
    out[1] = packet_type;
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
    Ok(out)
}

/// Fails unless `n` fits the 5-bit count field.
fn check_count(n: usize, why: &'static str) -> Result<(), WriteError> {
    if n > MAX_COUNT {
        Err(WriteError::InvalidArgument(why))
    } else {
        Ok(())
    }
}

#[inline]
fn put32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Iterator over a list of 32-bit SSRCs (BYE, REMB).
#[derive(Debug, Clone)]
pub struct Ssrcs<'a> {
    data: &'a [u8],
}

impl<'a> Ssrcs<'a> {
    fn new(data: &'a [u8]) -> Self {
        Ssrcs { data }
    }
}

impl Iterator for Ssrcs<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (head, tail) = self.data.split_first_chunk::<4>()?;
        self.data = tail;
        Some(u32::from_be_bytes(*head))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.data.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Ssrcs<'_> {}
