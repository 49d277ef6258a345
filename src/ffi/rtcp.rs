//! RTCP from C: walk a compound packet, read reports and NACKs, and build
//! feedback and reports into caller buffers.

use crate::packet::error::{be16, be32};
use crate::packet::rtcp::{
    self, ByeBuilder, FirBuilder, NackBuilder, PliBuilder, ReceiverReportBuilder, RembBuilder,
    ReportBlock, RtcpPacket, SdesBuilder, SenderReportBuilder,
};
use crate::packet::WriteError;

use super::{args, guard, rtm_status};

/// What an RTCP packet is, as rtmedia understands it.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtm_rtcp_kind {
    /// A type or feedback format rtmedia does not model; skip it.
    RTM_RTCP_UNKNOWN = 0,
    RTM_RTCP_SR = 1,
    RTM_RTCP_RR = 2,
    RTM_RTCP_SDES = 3,
    RTM_RTCP_BYE = 4,
    /// Generic NACK (RFC 4585).
    RTM_RTCP_NACK = 5,
    /// Picture loss indication (RFC 4585).
    RTM_RTCP_PLI = 6,
    /// Full intra request (RFC 5104).
    RTM_RTCP_FIR = 7,
    /// Receiver estimated maximum bitrate.
    RTM_RTCP_REMB = 8,
    /// transport-cc feedback (RTPFB FMT 15): read it with
    /// `rtm_cc_feedback_parse` or give it to `rtm_bwe_on_rtcp`.
    /// `media_ssrc` is set. (Appended in 0.2: reported as
    /// RTM_RTCP_UNKNOWN before.)
    RTM_RTCP_TRANSPORT_CC = 9,
    /// RFC 8888 congestion control feedback (RTPFB FMT 11): as
    /// RTM_RTCP_TRANSPORT_CC. (Appended in 0.2.)
    RTM_RTCP_CCFB = 10,
}

/// One packet of a compound RTCP packet, filled by `rtm_rtcp_next`. Fields
/// that do not apply to the kind are 0. Frozen (no `struct_size`): new RTCP
/// information comes through new functions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_rtcp_info {
    pub kind: rtm_rtcp_kind,
    /// The packet type byte (200–206 for the modelled kinds).
    pub packet_type: u8,
    /// The 5-bit count (reports, chunks, SSRCs) or feedback format.
    pub count_or_fmt: u8,
    /// Offset and length of this packet within the compound buffer.
    pub offset: usize,
    pub len: usize,
    /// SR/RR: the reporter; feedback: the packet sender; BYE: the first SSRC.
    pub sender_ssrc: u32,
    /// Feedback: the media source the feedback is about.
    pub media_ssrc: u32,
    /// SR/RR: number of report blocks (read them with `rtm_rtcp_get_report_block`).
    pub report_count: usize,
    /// SR only.
    pub ntp_timestamp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    /// REMB only: the estimate in bits per second (saturating).
    pub remb_bitrate_bps: u64,
}

/// One RFC 3550 reception report block.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_rtcp_report_block {
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a signed 24-bit value.
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    pub jitter: u32,
    pub last_sr: u32,
    pub delay_since_last_sr: u32,
}

impl From<ReportBlock> for rtm_rtcp_report_block {
    fn from(b: ReportBlock) -> Self {
        Self {
            ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            cumulative_lost: b.cumulative_lost,
            extended_highest_seq: b.extended_highest_seq,
            jitter: b.jitter,
            last_sr: b.last_sr,
            delay_since_last_sr: b.delay_since_last_sr,
        }
    }
}

impl From<rtm_rtcp_report_block> for ReportBlock {
    fn from(b: rtm_rtcp_report_block) -> Self {
        Self {
            ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            cumulative_lost: b.cumulative_lost,
            extended_highest_seq: b.extended_highest_seq,
            jitter: b.jitter,
            last_sr: b.last_sr,
            delay_since_last_sr: b.delay_since_last_sr,
        }
    }
}

/// Validates and describes the RTCP packet starting at `buf[*offset]`, then
/// advances `*offset` past it. Loop until RTM_ERR_NOT_FOUND (end of the
/// compound packet). A parse status (RTM_ERR_BAD_VERSION, RTM_ERR_TRUNCATED,
/// RTM_ERR_BAD_LENGTH, RTM_ERR_BAD_PADDING, RTM_ERR_MALFORMED) means the rest
/// cannot be trusted: stop there. Unknown types are RTM_OK with kind
/// RTM_RTCP_UNKNOWN. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_next(
    buf: *const u8,
    len: usize,
    offset: *mut usize,
    info: *mut rtm_rtcp_info,
) -> rtm_status {
    guard(|| {
        let buf = args::slice(buf, len)?;
        let offset = args::out(offset)?;
        let info = args::out(info)?;
        let start = *offset;
        let rest = buf
            .get(start..)
            .ok_or(rtm_status::RTM_ERR_INVALID_ARGUMENT)?;
        let packet = rtcp::compound(rest)
            .next()
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)??;
        // The packet validated, so its header and length field are in bounds.
        let packet_len = (usize::from(be16(rest, 2)) + 1) * 4;
        let mut out = rtm_rtcp_info {
            kind: rtm_rtcp_kind::RTM_RTCP_UNKNOWN,
            packet_type: rest[1],
            count_or_fmt: rest[0] & 0x1f,
            offset: start,
            len: packet_len,
            sender_ssrc: if packet_len >= 8 { be32(rest, 4) } else { 0 },
            media_ssrc: 0,
            report_count: 0,
            ntp_timestamp: 0,
            rtp_timestamp: 0,
            packet_count: 0,
            octet_count: 0,
            remb_bitrate_bps: 0,
        };
        out.kind = match &packet {
            RtcpPacket::SenderReport(sr) => {
                out.report_count = sr.report_blocks().len();
                out.ntp_timestamp = sr.ntp_timestamp();
                out.rtp_timestamp = sr.rtp_timestamp();
                out.packet_count = sr.packet_count();
                out.octet_count = sr.octet_count();
                rtm_rtcp_kind::RTM_RTCP_SR
            }
            RtcpPacket::ReceiverReport(rr) => {
                out.report_count = rr.report_blocks().len();
                rtm_rtcp_kind::RTM_RTCP_RR
            }
            RtcpPacket::Sdes(_) => rtm_rtcp_kind::RTM_RTCP_SDES,
            RtcpPacket::Bye(_) => rtm_rtcp_kind::RTM_RTCP_BYE,
            RtcpPacket::Nack(n) => {
                out.media_ssrc = n.media_ssrc();
                rtm_rtcp_kind::RTM_RTCP_NACK
            }
            RtcpPacket::Pli(p) => {
                out.media_ssrc = p.media_ssrc();
                rtm_rtcp_kind::RTM_RTCP_PLI
            }
            RtcpPacket::Fir(f) => {
                out.media_ssrc = f.media_ssrc();
                rtm_rtcp_kind::RTM_RTCP_FIR
            }
            RtcpPacket::Remb(r) => {
                out.media_ssrc = r.media_ssrc();
                out.remb_bitrate_bps = r.bitrate_bps();
                rtm_rtcp_kind::RTM_RTCP_REMB
            }
            RtcpPacket::TransportCc(fb) => {
                out.media_ssrc = fb.media_ssrc();
                rtm_rtcp_kind::RTM_RTCP_TRANSPORT_CC
            }
            RtcpPacket::CongestionFeedback(_) => rtm_rtcp_kind::RTM_RTCP_CCFB,
            RtcpPacket::Unknown { .. } => rtm_rtcp_kind::RTM_RTCP_UNKNOWN,
        };
        *info = out;
        *offset = start + packet_len;
        Ok(())
    })
}

/// Parses the single RTCP packet `packet[0..len]` (e.g. `buf + info.offset`,
/// `info.len`), with the same statuses as `rtm_rtcp_next`.
fn single(packet: &[u8]) -> Result<RtcpPacket<'_>, rtm_status> {
    Ok(rtcp::compound(packet)
        .next()
        .ok_or(rtm_status::RTM_ERR_TRUNCATED)??)
}

/// Reads report block `index` of the SR or RR packet `packet[0..len]`.
/// RTM_ERR_NOT_FOUND if `index` is past the report count,
/// RTM_ERR_INVALID_ARGUMENT if the packet is not an SR or RR. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_get_report_block(
    packet: *const u8,
    len: usize,
    index: usize,
    out: *mut rtm_rtcp_report_block,
) -> rtm_status {
    guard(|| {
        let packet = args::slice(packet, len)?;
        let out = args::out(out)?;
        let mut blocks = match single(packet)? {
            RtcpPacket::SenderReport(sr) => sr.report_blocks(),
            RtcpPacket::ReceiverReport(rr) => rr.report_blocks(),
            _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
        };
        *out = blocks
            .nth(index)
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)?
            .into();
        Ok(())
    })
}

/// Expands the generic NACK `packet[0..len]` into the sequence numbers it
/// reports lost, written to `lost[0..capacity]`; `*count` receives how many
/// there are. If `capacity` is too small, RTM_ERR_BUFFER_TOO_SMALL and
/// `*count` holds the number needed (at most 17 per PID+BLP pair).
/// RTM_ERR_INVALID_ARGUMENT if the packet is not a NACK. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_nack_lost(
    packet: *const u8,
    len: usize,
    lost: *mut u16,
    capacity: usize,
    count: *mut usize,
) -> rtm_status {
    guard(|| {
        let packet = args::slice(packet, len)?;
        let lost = args::slice_mut(lost, capacity)?;
        let count = args::out(count)?;
        let RtcpPacket::Nack(nack) = single(packet)? else {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        };
        let mut n = 0;
        for seq in nack.lost_sequence_numbers() {
            if let Some(slot) = lost.get_mut(n) {
                *slot = seq;
            }
            n += 1;
        }
        *count = n;
        if n > capacity {
            return Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL);
        }
        Ok(())
    })
}

/// Builds a generic NACK (RFC 4585) for `lost[0..lost_count]` (sequence
/// numbers in arrival order; compressed into PID+BLP pairs) into
/// `out[0..capacity]`; `*out_len` receives its length.
/// RTM_ERR_INVALID_ARGUMENT (nothing is written) when `lost_count` is 0,
/// when the numbers need more PID+BLP pairs than the 16-bit length field
/// allows (about 65,000), or for a `lost_count` no array can have.
/// RTM_ERR_NULL_POINTER (`out`, `out_len`, or `lost` with `lost_count` >
/// 0); RTM_ERR_BUFFER_TOO_SMALL when `capacity` is below the packet's
/// length (nothing is written). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_nack(
    sender_ssrc: u32,
    media_ssrc: u32,
    lost: *const u16,
    lost_count: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let lost = args::slice(lost, lost_count)?;
        if lost.is_empty() {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let builder = NackBuilder {
            sender_ssrc,
            media_ssrc,
            lost,
        };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Builds a picture loss indication (12 bytes) into `out[0..capacity]`;
/// `*out_len` receives its length. Never RTM_ERR_INVALID_ARGUMENT.
/// RTM_ERR_NULL_POINTER (`out` or `out_len`); RTM_ERR_BUFFER_TOO_SMALL
/// when `capacity` is below 12 (nothing is written). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_pli(
    sender_ssrc: u32,
    media_ssrc: u32,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let builder = PliBuilder {
            sender_ssrc,
            media_ssrc,
        };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Builds a full intra request (RFC 5104, 20 bytes) for one media source
/// with command sequence number `seq_nr` (increment it per new request;
/// repeat it for a retransmission of the same request) into
/// `out[0..capacity]`; `*out_len` receives its length. Never
/// RTM_ERR_INVALID_ARGUMENT (one entry). RTM_ERR_NULL_POINTER (`out` or
/// `out_len`); RTM_ERR_BUFFER_TOO_SMALL when `capacity` is below 20
/// (nothing is written). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_fir(
    sender_ssrc: u32,
    media_ssrc: u32,
    seq_nr: u8,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let entries = [(media_ssrc, seq_nr)];
        let builder = FirBuilder {
            sender_ssrc,
            entries: &entries,
        };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Builds a REMB for `ssrcs[0..ssrc_count]` into `out[0..capacity]`;
/// `*out_len` receives its length. RTM_ERR_INVALID_ARGUMENT (nothing is
/// written) for more than 255 SSRCs (the 8-bit count) or an `ssrc_count`
/// no array can have. RTM_ERR_NULL_POINTER (`out`, `out_len`, or `ssrcs`
/// with `ssrc_count` > 0); RTM_ERR_BUFFER_TOO_SMALL when `capacity` is
/// below the packet's length (nothing is written). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_remb(
    sender_ssrc: u32,
    bitrate_bps: u64,
    ssrcs: *const u32,
    ssrc_count: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let builder = RembBuilder {
            sender_ssrc,
            bitrate_bps,
            ssrcs: args::slice(ssrcs, ssrc_count)?,
        };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Most report blocks one SR or RR holds.
pub const RTM_RTCP_MAX_REPORT_BLOCKS: usize = 31;

/// Builds a sender report with `blocks[0..block_count]` into
/// `out[0..capacity]`; `*out_len` receives its length.
/// RTM_ERR_INVALID_ARGUMENT (nothing is written) for more than
/// RTM_RTCP_MAX_REPORT_BLOCKS (31, the 5-bit count; send the rest in an
/// RR), a block whose `cumulative_lost` does not fit 24 bits
/// (-8388608..=8388607), or a `block_count` no array can have.
/// RTM_ERR_NULL_POINTER (`out`, `out_len`, or `blocks` with a
/// `block_count` above 0); RTM_ERR_BUFFER_TOO_SMALL when `capacity` is
/// below the packet's length (nothing is written). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_sr(
    ssrc: u32,
    ntp_timestamp: u64,
    rtp_timestamp: u32,
    packet_count: u32,
    octet_count: u32,
    blocks: *const rtm_rtcp_report_block,
    block_count: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let mut storage = [ReportBlock::default(); RTM_RTCP_MAX_REPORT_BLOCKS];
        let report_blocks = report_blocks(&mut storage, blocks, block_count)?;
        let builder = SenderReportBuilder {
            ssrc,
            ntp_timestamp,
            rtp_timestamp,
            packet_count,
            octet_count,
            report_blocks,
        };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Builds a receiver report with `blocks[0..block_count]` into
/// `out[0..capacity]`; `*out_len` receives its length.
/// RTM_ERR_INVALID_ARGUMENT (nothing is written) for more than
/// RTM_RTCP_MAX_REPORT_BLOCKS (31, the 5-bit count; send the rest in
/// another RR), a block whose `cumulative_lost` does not fit 24 bits
/// (-8388608..=8388607), or a `block_count` no array can have.
/// RTM_ERR_NULL_POINTER (`out`, `out_len`, or `blocks` with a
/// `block_count` above 0); RTM_ERR_BUFFER_TOO_SMALL when `capacity` is
/// below the packet's length (nothing is written). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_rr(
    ssrc: u32,
    blocks: *const rtm_rtcp_report_block,
    block_count: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let mut storage = [ReportBlock::default(); RTM_RTCP_MAX_REPORT_BLOCKS];
        let report_blocks = report_blocks(&mut storage, blocks, block_count)?;
        let builder = ReceiverReportBuilder {
            ssrc,
            report_blocks,
        };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Builds an SDES packet with one chunk carrying `cname[0..cname_len]`
/// (1–255 bytes, not NUL-terminated) into `out[0..capacity]`; `*out_len`
/// receives its length. RTM_ERR_INVALID_ARGUMENT (nothing is written) for
/// a `cname_len` of 0 or above 255. RTM_ERR_NULL_POINTER (`out`,
/// `out_len`, or `cname` with `cname_len` > 0); RTM_ERR_BUFFER_TOO_SMALL
/// when `capacity` is below the packet's length (nothing is written).
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_sdes_cname(
    ssrc: u32,
    cname: *const u8,
    cname_len: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let cname = args::slice(cname, cname_len)?;
        if cname.is_empty() {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let chunks = [(ssrc, cname)];
        let builder = SdesBuilder { chunks: &chunks };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Builds a BYE for `ssrcs[0..ssrc_count]` (1–31) with an optional reason
/// (`reason` may be NULL when `reason_len` is 0; at most 255 bytes) into
/// `out[0..capacity]`; `*out_len` receives its length.
/// RTM_ERR_INVALID_ARGUMENT (nothing is written) for an `ssrc_count` of 0
/// (a BYE names who leaves) or above 31 (the 5-bit count), or a
/// `reason_len` above 255. RTM_ERR_NULL_POINTER (`out`, `out_len`, `ssrcs`
/// with `ssrc_count` > 0, or `reason` with `reason_len` > 0);
/// RTM_ERR_BUFFER_TOO_SMALL when `capacity` is below the packet's length
/// (nothing is written). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtcp_build_bye(
    ssrcs: *const u32,
    ssrc_count: usize,
    reason: *const u8,
    reason_len: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let reason = args::slice(reason, reason_len)?;
        let builder = ByeBuilder {
            ssrcs: args::slice(ssrcs, ssrc_count)?,
            reason: (!reason.is_empty()).then_some(reason),
        };
        write(out, capacity, out_len, |buf| builder.write_into(buf))
    })
}

/// Copies C report blocks into `storage` (no allocation).
unsafe fn report_blocks(
    storage: &mut [ReportBlock; RTM_RTCP_MAX_REPORT_BLOCKS],
    blocks: *const rtm_rtcp_report_block,
    count: usize,
) -> Result<&[ReportBlock], rtm_status> {
    let blocks = args::slice(blocks, count)?;
    if blocks.len() > RTM_RTCP_MAX_REPORT_BLOCKS {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    for (slot, b) in storage.iter_mut().zip(blocks) {
        *slot = (*b).into();
    }
    Ok(&storage[..blocks.len()])
}

/// Runs a builder on `out[0..capacity]` and stores its length in `*out_len`,
/// both pointers checked before anything is written.
unsafe fn write(
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
    build: impl FnOnce(&mut [u8]) -> Result<usize, WriteError>,
) -> Result<(), rtm_status> {
    let buf = args::slice_mut(out, capacity)?;
    let out_len = args::out(out_len)?;
    *out_len = build(buf)?;
    Ok(())
}
