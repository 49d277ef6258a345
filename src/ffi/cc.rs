//! Congestion-control feedback from C: the format-neutral packet result,
//! parsing transport-cc (RTPFB FMT 15) and RFC 8888 (RTPFB FMT 11) feedback
//! into a caller array, and building transport-cc feedback from one.

use crate::cc::{PacketResult, SentPacketId};
use crate::packet::rtcp::{self, RtcpPacket, TransportFeedbackBuilder};

use super::{args, guard, rtm_status};

/// How an `rtm_packet_result` names its packet (`RTM_PACKET_ID_*`).
pub type rtm_packet_id_kind = u8;
/// transport-cc: `seq` is the transport-wide sequence number; `ssrc` is 0.
pub const RTM_PACKET_ID_TRANSPORT_SEQ: rtm_packet_id_kind = 0;
/// RFC 8888: `ssrc` and `seq` are the packet's SSRC and RTP sequence number.
pub const RTM_PACKET_ID_RTP: rtm_packet_id_kind = 1;

/// `rtm_packet_result.ecn` when the format carries no ECN bits.
pub const RTM_ECN_NONE: u8 = 0xff;

/// Which feedback format (`RTM_CC_FEEDBACK_*`).
pub type rtm_cc_feedback_format = u8;
/// transport-cc (draft-holmer-rmcat-transport-wide-cc-extensions-01,
/// RTPFB FMT 15), with transport-wide sequence numbers.
pub const RTM_CC_FEEDBACK_TRANSPORT_CC: rtm_cc_feedback_format = 0;
/// RFC 8888 congestion control feedback (RTPFB FMT 11), per SSRC.
pub const RTM_CC_FEEDBACK_CCFB: rtm_cc_feedback_format = 1;

/// One packet's fate as a feedback message reports it. Frozen (no
/// `struct_size`): arrays of it are the per-feedback interface, and its
/// layout (24 bytes) never changes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct rtm_packet_result {
    /// RTM_PACKET_ID_TRANSPORT_SEQ or RTM_PACKET_ID_RTP.
    pub id_kind: rtm_packet_id_kind,
    /// Transport-wide or RTP sequence number (see `id_kind`).
    pub seq: u16,
    /// RTM_PACKET_ID_RTP: the packet's SSRC; otherwise 0 (ignored).
    pub ssrc: u32,
    /// Whether the packet arrived. As an input, any non-zero byte is true.
    pub received: bool,
    /// ECN bits (0..=3) when the format carries them, RTM_ECN_NONE (0xff)
    /// otherwise.
    pub ecn: u8,
    /// Arrival time on the receiver's clock, µs (only differences mean
    /// anything); 0 and ignored when not received.
    pub arrival_us: i64,
}

pub(crate) fn c_result(r: &PacketResult) -> rtm_packet_result {
    let (id_kind, ssrc, seq) = match r.id {
        SentPacketId::TransportSeq(seq) => (RTM_PACKET_ID_TRANSPORT_SEQ, 0, seq),
        SentPacketId::Rtp { ssrc, seq } => (RTM_PACKET_ID_RTP, ssrc, seq),
    };
    rtm_packet_result {
        id_kind,
        seq,
        ssrc,
        received: r.arrival_us.is_some(),
        ecn: r.ecn.unwrap_or(RTM_ECN_NONE),
        arrival_us: r.arrival_us.unwrap_or(0),
    }
}

/// Reads element `i` of a caller's array field by field through raw
/// pointers (the `received` byte as a byte: any non-zero value is true, so
/// a C `bool` holding garbage is not undefined behaviour here).
///
/// # Safety
/// `base` is valid for reads of `i + 1` elements.
pub(crate) unsafe fn read_result(base: *const rtm_packet_result, i: usize) -> rtm_packet_result {
    let p = base.add(i);
    rtm_packet_result {
        id_kind: core::ptr::addr_of!((*p).id_kind).read_unaligned(),
        seq: core::ptr::addr_of!((*p).seq).read_unaligned(),
        ssrc: core::ptr::addr_of!((*p).ssrc).read_unaligned(),
        received: core::ptr::addr_of!((*p).received)
            .cast::<u8>()
            .read_unaligned()
            != 0,
        ecn: core::ptr::addr_of!((*p).ecn).read_unaligned(),
        arrival_us: core::ptr::addr_of!((*p).arrival_us).read_unaligned(),
    }
}

/// Checks a caller's array of `n` results (NULL only with `n` 0, a length
/// no array can have) without forming a slice: its `bool`s are read as
/// bytes by [`read_result`].
pub(crate) fn check_results(ptr: *const rtm_packet_result, n: usize) -> Result<(), rtm_status> {
    if n > isize::MAX as usize / core::mem::size_of::<rtm_packet_result>() {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    if ptr.is_null() && n > 0 {
        return Err(rtm_status::RTM_ERR_NULL_POINTER);
    }
    Ok(())
}

/// A checked caller result as the Rust type; RTM_ERR_INVALID_ARGUMENT for
/// an unknown `id_kind`.
pub(crate) fn rust_result(r: &rtm_packet_result) -> Result<PacketResult, rtm_status> {
    let id = match r.id_kind {
        RTM_PACKET_ID_TRANSPORT_SEQ => SentPacketId::TransportSeq(r.seq),
        RTM_PACKET_ID_RTP => SentPacketId::Rtp {
            ssrc: r.ssrc,
            seq: r.seq,
        },
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    Ok(PacketResult {
        id,
        arrival_us: r.received.then_some(r.arrival_us),
        ecn: (r.ecn <= 3).then_some(r.ecn),
    })
}

/// What `rtm_cc_feedback_parse` found besides the results (a growable
/// struct: set `struct_size = sizeof` before the call).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_cc_feedback_info {
    pub struct_size: usize,
    /// RTM_CC_FEEDBACK_TRANSPORT_CC or RTM_CC_FEEDBACK_CCFB.
    pub format: rtm_cc_feedback_format,
    /// The feedback's sender.
    pub sender_ssrc: u32,
    /// transport-cc: the media SSRC field (receivers ignore it); RFC 8888: 0.
    pub media_ssrc: u32,
    /// transport-cc: the feedback packet count (a gap is lost feedback);
    /// RFC 8888: 0.
    pub fb_pkt_count: u8,
    /// transport-cc: the first sequence number reported; RFC 8888: 0.
    pub base_seq: u16,
    /// Results the packet holds (what `*count` is set to).
    pub result_count: usize,
    /// transport-cc: the reference time (signed, µs); RFC 8888: the report
    /// timestamp in µs. Arrival times are on this scale.
    pub reference_time_us: i64,
}

args::versioned!(rtm_cc_feedback_info);

/// The results of a feedback packet, without allocating.
pub(crate) enum FeedbackResults<'a> {
    Twcc(rtcp::TransportFeedbackResults<'a>),
    Ccfb(rtcp::CcfbResults<'a>),
}

impl Iterator for FeedbackResults<'_> {
    type Item = PacketResult;
    fn next(&mut self) -> Option<PacketResult> {
        match self {
            FeedbackResults::Twcc(it) => it.next(),
            FeedbackResults::Ccfb(it) => it.next(),
        }
    }
}

/// Parses one RTCP packet that must be transport-cc or RFC 8888 feedback.
fn parse_feedback(
    packet: &[u8],
) -> Result<(rtm_cc_feedback_info, FeedbackResults<'_>), rtm_status> {
    let parsed = rtcp::compound(packet)
        .next()
        .ok_or(rtm_status::RTM_ERR_TRUNCATED)??;
    let mut info = rtm_cc_feedback_info::default();
    let results = match parsed {
        RtcpPacket::TransportCc(fb) => {
            info.format = RTM_CC_FEEDBACK_TRANSPORT_CC;
            info.sender_ssrc = fb.sender_ssrc();
            info.media_ssrc = fb.media_ssrc();
            info.fb_pkt_count = fb.fb_pkt_count();
            info.base_seq = fb.base_seq();
            info.reference_time_us = fb.reference_time_us();
            FeedbackResults::Twcc(fb.results())
        }
        RtcpPacket::CongestionFeedback(fb) => {
            info.format = RTM_CC_FEEDBACK_CCFB;
            info.sender_ssrc = fb.sender_ssrc();
            info.reference_time_us = rtcp::ntp16_to_us(fb.report_timestamp());
            FeedbackResults::Ccfb(fb.results())
        }
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    Ok((info, results))
}

/// Parses the single RTCP packet `packet[0..len]` (e.g. `buf + info.offset`,
/// `info.len` from `rtm_rtcp_next` with kind RTM_RTCP_TRANSPORT_CC or
/// RTM_RTCP_CCFB) into `results[0..capacity]`, one entry per packet it
/// reports, in order. transport-cc entries have id_kind
/// RTM_PACKET_ID_TRANSPORT_SEQ and ecn RTM_ECN_NONE; RFC 8888 entries
/// RTM_PACKET_ID_RTP with their ECN bits (packets reported received with
/// an unknown arrival time are left out). Arrival times are on the scale of
/// `info->reference_time_us`, which wraps (transport-cc: every 2^24 x 64 ms,
/// about 12 days, read as signed; RFC 8888: every 65536 s):
/// `rtm_bwe_on_rtcp` unwraps it across feedbacks, a host feeding
/// `rtm_bwe_on_feedback` from this array sees one absurd jump per wrap
/// (counted and ignored by the estimator).
///
/// `info` may be NULL; otherwise it is a growable output (set
/// `info->struct_size = sizeof *info`). `results` may be NULL only with
/// `capacity` 0 (to ask how many there are).
///
/// Statuses: RTM_OK (`*count` results written); RTM_ERR_BUFFER_TOO_SMALL
/// when `capacity` is short: `*count` (and `info`) are still set, to the
/// number needed, and `results` is not written; RTM_ERR_NULL_POINTER
/// (`count` NULL, or `packet`/`results` NULL with a length);
/// RTM_ERR_INVALID_ARGUMENT (a bad `info->struct_size`, or an RTCP packet
/// of another kind); the parse statuses of `rtm_rtcp_next`
/// (RTM_ERR_TRUNCATED, RTM_ERR_BAD_VERSION, RTM_ERR_BAD_LENGTH,
/// RTM_ERR_BAD_PADDING, RTM_ERR_MALFORMED) for a damaged packet.
/// Thread-safe; allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_cc_feedback_parse(
    packet: *const u8,
    len: usize,
    info: *mut rtm_cc_feedback_info,
    results: *mut rtm_packet_result,
    capacity: usize,
    count: *mut usize,
) -> rtm_status {
    guard(|| {
        let packet = args::slice(packet, len)?;
        if !info.is_null() {
            args::check_out(info)?;
        }
        let out = args::slice_mut(results, capacity)?;
        let count = args::out(count)?;
        let (mut i, it) = parse_feedback(packet)?;
        let n = it.count();
        i.result_count = n;
        *count = n;
        if !info.is_null() {
            args::write(info, i)?;
        }
        if n > out.len() {
            return Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL);
        }
        let (_, it) = parse_feedback(packet)?;
        for (slot, r) in out.iter_mut().zip(it) {
            *slot = c_result(&r);
        }
        Ok(())
    })
}

/// Smallest buffer `rtm_twcc_feedback_build` can write a packet into.
pub const RTM_TWCC_MIN_LEN: usize = 24;
const _: () = assert!(RTM_TWCC_MIN_LEN == rtcp::MIN_TWCC_LEN);

/// Writes one transport-cc feedback packet (RTPFB FMT 15) into
/// `buf[0..capacity]` from `entries[0..n]`: results with id_kind
/// RTM_PACKET_ID_TRANSPORT_SEQ, each sequence number after the previous
/// one (modulo 2^16; gaps are reported not received). Arrival times are
/// rounded down to 250 µs, the reference time to 64 ms. As many entries
/// as fit in `capacity` bytes are written: `*used` (may be NULL) says how
/// many (send the rest in another packet), `*out_len` the packet's length.
///
/// Statuses: RTM_OK; RTM_ERR_NULL_POINTER (`buf`, `out_len`, or `entries`
/// with `n` > 0); RTM_ERR_INVALID_ARGUMENT (`n` 0, an id_kind other than
/// RTM_PACKET_ID_TRANSPORT_SEQ, or entries out of order);
/// RTM_ERR_BUFFER_TOO_SMALL (not even the first entry fits: give at least
/// RTM_TWCC_MIN_LEN bytes). Thread-safe; allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_twcc_feedback_build(
    sender_ssrc: u32,
    media_ssrc: u32,
    fb_pkt_count: u8,
    entries: *const rtm_packet_result,
    n: usize,
    buf: *mut u8,
    capacity: usize,
    out_len: *mut usize,
    used: *mut usize,
) -> rtm_status {
    guard(|| {
        check_results(entries, n)?;
        if buf.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let buf = args::slice_mut(buf, capacity)?;
        let out_len = args::out(out_len)?;
        if n == 0 {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        for i in 0..n {
            if read_result(entries, i).id_kind != RTM_PACKET_ID_TRANSPORT_SEQ {
                return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
            }
        }
        let builder = TransportFeedbackBuilder {
            sender_ssrc,
            media_ssrc,
            fb_pkt_count,
            max_len: capacity,
        };
        let iter = (0..n).map(|i| {
            // SAFETY: `i < n`, checked above.
            let r = unsafe { read_result(entries, i) };
            (r.seq, r.received.then_some(r.arrival_us))
        });
        let written = builder.write_iter(buf, iter)?;
        *out_len = written.len;
        if let Some(used) = used.as_mut() {
            *used = written.entries;
        }
        Ok(())
    })
}
