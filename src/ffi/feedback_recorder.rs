//! The congestion-control feedback recorder from C
//! (`rtm_feedback_recorder_*`): a receiver records arrivals and writes
//! transport-cc or RFC 8888 feedback packets.

use crate::cc::recorder::{FeedbackFormat, FeedbackRecorder, RecorderConfig, MAX_WINDOW};
use crate::cc::SentPacketId;

use super::cc::{rtm_cc_feedback_format, RTM_CC_FEEDBACK_CCFB, RTM_CC_FEEDBACK_TRANSPORT_CC};
use super::handle;
use super::{args, guard, rtm_status};

/// Records packet arrivals of one transport and writes congestion-control
/// feedback for the sender (opaque). Create with `rtm_feedback_recorder_new`,
/// free with `rtm_feedback_recorder_free`. Calls on one recorder must not
/// overlap; it may move between threads.
pub struct rtm_feedback_recorder {
    rec: FeedbackRecorder,
    poisoned: bool,
}

/// The C name of the recorder handle.
pub type rtm_feedback_recorder_t = rtm_feedback_recorder;

handle::poison_flag!(rtm_feedback_recorder);

/// Options of a feedback recorder (a growable struct): fill with
/// `rtm_feedback_recorder_config_init(&cfg, sizeof cfg)`, then change
/// fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_feedback_recorder_config {
    pub struct_size: usize,
    /// RTM_CC_FEEDBACK_TRANSPORT_CC (default: record with
    /// `rtm_feedback_recorder_on_transport_packet`) or RTM_CC_FEEDBACK_CCFB
    /// (RFC 8888: record with `rtm_feedback_recorder_on_rtp_packet`).
    pub format: rtm_cc_feedback_format,
    /// SSRC this receiver sends feedback as. Default 0.
    pub sender_ssrc: u32,
    /// transport-cc's media SSRC field (one of the sender's streams;
    /// receivers ignore it). Default 0.
    pub media_ssrc: u32,
    /// Feedback interval, µs, 50000..=250000 (it grows when feedback would
    /// exceed `rtcp_share_percent` of the received bitrate). Default 100000.
    pub interval_us: u64,
    /// Most feedback may take of the received bitrate, percent, 1..=100.
    /// Default 5.
    pub rtcp_share_percent: u32,
    /// Longest feedback packet written, bytes, >= 64. Default 1200.
    pub max_packet_len: usize,
    /// Arrivals remembered per stream: a power of two in 64..=32768.
    /// Default 2048.
    pub window: usize,
    /// RFC 8888: most SSRCs reported (1..=64; each one's window is
    /// allocated when it is first seen). Default 16.
    pub max_streams: usize,
}

/// Counters of a recorder (a growable struct: set `struct_size = sizeof`
/// before `rtm_feedback_recorder_get_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_feedback_recorder_stats {
    pub struct_size: usize,
    /// Distinct packets recorded.
    pub packets: u64,
    pub duplicates: u64,
    /// Too far behind the newest to be reported.
    pub too_old: u64,
    /// Recorded but pushed out of the window before being reported.
    pub evicted: u64,
    /// Of the wrong kind for the format, or of an SSRC past `max_streams`.
    pub rejected: u64,
    pub feedback_packets: u64,
    pub feedback_bytes: u64,
}

args::versioned!(rtm_feedback_recorder_config, rtm_feedback_recorder_stats);

fn default_config() -> rtm_feedback_recorder_config {
    let d = RecorderConfig::default();
    rtm_feedback_recorder_config {
        struct_size: core::mem::size_of::<rtm_feedback_recorder_config>(),
        format: RTM_CC_FEEDBACK_TRANSPORT_CC,
        sender_ssrc: d.sender_ssrc,
        media_ssrc: d.media_ssrc,
        interval_us: d.interval_us,
        rtcp_share_percent: d.rtcp_share_percent,
        max_packet_len: d.max_packet_len,
        window: d.window,
        max_streams: d.max_streams,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT when `size` is not the sizeof of a released
/// layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_config_init(
    config: *mut rtm_feedback_recorder_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

/// Creates a recorder; all its memory is reserved here (RFC 8888: a
/// stream's window at its first packet). On success `*out` owns it.
/// `config` may be NULL for the defaults. RTM_ERR_NULL_POINTER (`out`);
/// RTM_ERR_INVALID_ARGUMENT for a bad `struct_size`, an unknown format or
/// a field out of its documented range; RTM_ERR_UNSUPPORTED for fields of
/// a newer header set. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_new(
    config: *const rtm_feedback_recorder_config,
    out: *mut *mut rtm_feedback_recorder_t,
) -> rtm_status {
    guard(|| {
        let c = if config.is_null() {
            default_config()
        } else {
            args::read(config, default_config())?
        };
        let out = args::out(out)?;
        let format = match c.format {
            RTM_CC_FEEDBACK_TRANSPORT_CC => FeedbackFormat::TransportCc,
            RTM_CC_FEEDBACK_CCFB => FeedbackFormat::Rfc8888,
            _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
        };
        if c.window > MAX_WINDOW {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let rec = FeedbackRecorder::new(RecorderConfig {
            format,
            sender_ssrc: c.sender_ssrc,
            media_ssrc: c.media_ssrc,
            interval_us: c.interval_us,
            rtcp_share_percent: c.rtcp_share_percent,
            max_packet_len: c.max_packet_len,
            window: c.window,
            max_streams: c.max_streams,
        })
        .map_err(|_| rtm_status::RTM_ERR_INVALID_ARGUMENT)?;
        *out = handle::into_raw(rtm_feedback_recorder {
            rec,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a recorder. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_free(rec: *mut rtm_feedback_recorder_t) {
    handle::free(rec)
}

/// Records the arrival at `arrival_us` (the receiver's monotonic clock) of
/// a packet of `size` bytes carrying transport-wide sequence number `seq`
/// (read it with `rtm_rtp_get_transport_seq`). Duplicates and packets too
/// old to report are counted, not errors. RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT for a recorder of format RTM_CC_FEEDBACK_CCFB.
/// Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_on_transport_packet(
    rec: *mut rtm_feedback_recorder_t,
    seq: u16,
    size: usize,
    arrival_us: u64,
) -> rtm_status {
    handle::with(rec, |h| {
        if h.rec.config().format != FeedbackFormat::TransportCc {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        h.rec
            .on_packet(SentPacketId::TransportSeq(seq), size, arrival_us);
        Ok(())
    })
}

/// RFC 8888: records the arrival of RTP packet `ssrc`/`seq` of `size` bytes
/// with ECN bits `ecn` (0..=3; 0 when the socket does not report them).
/// A packet of an SSRC past `max_streams` is counted as rejected.
/// RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for `ecn` > 3 or a
/// recorder of format RTM_CC_FEEDBACK_TRANSPORT_CC. Allocates nothing
/// except a new SSRC's window, once.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_on_rtp_packet(
    rec: *mut rtm_feedback_recorder_t,
    ssrc: u32,
    seq: u16,
    size: usize,
    ecn: u8,
    arrival_us: u64,
) -> rtm_status {
    handle::with(rec, |h| {
        if h.rec.config().format != FeedbackFormat::Rfc8888 || ecn > 3 {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        h.rec
            .on_packet_ecn(SentPacketId::Rtp { ssrc, seq }, size, ecn, arrival_us);
        Ok(())
    })
}

/// When feedback is next due (µs, `*at`): RTM_OK, or RTM_NOTHING_DUE when
/// nothing is waiting to be reported (`*at` untouched).
/// RTM_ERR_NULL_POINTER. Only reads the recorder.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_next_wakeup(
    rec: *const rtm_feedback_recorder_t,
    at: *mut u64,
) -> rtm_status {
    let mut due = true;
    let status = handle::with_shared(rec, |h| {
        let at = args::out(at)?;
        match h.rec.next_wakeup() {
            Some(t) => *at = t,
            None => due = false,
        }
        Ok(())
    });
    if status == rtm_status::RTM_OK && !due {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}

/// Writes the feedback packet due at `now_us` into `buf[0..capacity]`
/// (one RTCP packet; send it as is, or in a compound, then SRTCP-protect
/// it). RTM_OK with `*len` set; RTM_NOTHING_DUE when none is due (call at
/// `rtm_feedback_recorder_next_wakeup`); RTM_ERR_BUFFER_TOO_SMALL for a
/// `capacity` below 64 (nothing is lost: poll again with a bigger buffer);
/// RTM_ERR_NULL_POINTER. Packets past `max_packet_len` or `capacity` are
/// split over successive polls. Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_poll(
    rec: *mut rtm_feedback_recorder_t,
    now_us: u64,
    buf: *mut u8,
    capacity: usize,
    len: *mut usize,
) -> rtm_status {
    handle::poll_out(rec, len, |h| {
        if buf.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let buf = args::slice_mut(buf, capacity)?;
        Ok(h.rec.poll_feedback(now_us, buf)?)
    })
}

/// Copies the recorder's counters into `*stats` (set `stats->struct_size =
/// sizeof *stats` first). RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT
/// for a bad `struct_size`. Only reads the recorder.
#[no_mangle]
pub unsafe extern "C" fn rtm_feedback_recorder_get_stats(
    rec: *const rtm_feedback_recorder_t,
    stats: *mut rtm_feedback_recorder_stats,
) -> rtm_status {
    handle::with_shared(rec, |h| {
        let s = h.rec.stats();
        args::write(
            stats,
            rtm_feedback_recorder_stats {
                struct_size: 0,
                packets: s.packets,
                duplicates: s.duplicates,
                too_old: s.too_old,
                evicted: s.evicted,
                rejected: s.rejected,
                feedback_packets: s.feedback_packets,
                feedback_bytes: s.feedback_bytes,
            },
        )
    })
}
