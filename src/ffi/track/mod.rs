//! One published video track at the SFU from C (`rtm_track_*`): its source,
//! one forwarder per subscriber, feedback routed by SSRC (NACKs answered
//! from the history, with RFC 4588 RTX where negotiated; PLIs and FIRs
//! merged into keyframe requests), joins from the history, and one drain
//! contract, `rtm_track_poll_output`. The glue a host would otherwise write
//! around `rtm_source_*` and `rtm_forwarder_*`, which stay usable alone.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::codec::{self, Codec};
use crate::packet::rtcp::PliBuilder;
use crate::packet::RtpLayout;
use crate::simulcast::{
    Output, PauseReason, RtpKind, RtxConfig, SourceConfig, SourceError, SubscriberConfig, Track,
    TrackConfig, TrackError, MAX_SPATIAL,
};

use super::buffers::{shared_buffer, BufferPool, CallerBuffer};
use super::handle;
use super::jitter::{rtm_release_fn, RTM_DEFAULT_MAX_PACKET_BYTES, RTM_MAX_PACKET_BYTES_LIMIT};
use super::pacer::{
    rtm_packet_class, RTM_NO_WAKEUP, RTM_PACKET_CLASS_RETRANSMISSION, RTM_PACKET_CLASS_VIDEO,
};
use super::simulcast::*;
use super::simulcast_forwarder::{forwarder_config, forwarder_stats};
use super::simulcast_source::{codec_code, packet_info, source_stats};
use super::{args, guard, rtm_status};

/// One published video track and its subscribers (opaque). Create with
/// `rtm_track_new`, free with `rtm_track_free`. Calls that change it (every
/// function taking `rtm_track_t *`) must not overlap with any other call on
/// it; the functions taking `const rtm_track_t *` only read it and may run
/// on several threads at once while nothing changes it. It may move between
/// threads. Feed it the publisher's decrypted RTP and RTCP and the
/// subscribers' decrypted RTCP, then call `rtm_track_poll_output` until it
/// returns RTM_NOTHING_DUE after every input and at its wakeup time.
pub struct rtm_track {
    track: Track,
    codec: Codec,
    /// The SSRC the PLIs written by `poll_output` come from.
    rtcp_ssrc: u32,
    /// Empty buffers for `rtm_track_push_rtp_copy`.
    pool: BufferPool,
    /// Copied packets per spatial layer, oldest first: each goes back to
    /// the pool once the history and the queue have let go of it.
    issued: [VecDeque<Bytes>; MAX_SPATIAL],
    issued_limit: usize,
    poisoned: bool,
}

/// The C name of the track handle.
pub type rtm_track_t = rtm_track;

handle::poison_flag!(rtm_track);

// Read-only calls share `&rtm_track` between threads.
fn _track_is_thread_safe() {
    fn check<T: Send + Sync>() {}
    check::<rtm_track>();
}

/// Most `max_subscribers` may be.
pub const RTM_TRACK_MAX_SUBSCRIBERS: usize = 65_536;
/// Most `queue_packets` and `nack_queue` may be.
pub const RTM_TRACK_MAX_QUEUE: usize = 65_536;

/// `rtm_track_subscriber_config.initial_bitrate_bps` of a subscriber that
/// heads for its `target` layer instead of following a bitrate.
pub const RTM_TRACK_NO_BITRATE: u64 = u64::MAX;

/// `rtm_track_subscriber_config.rtx_payload_type` when the subscriber did
/// not negotiate RTX: retransmissions go on its media SSRC.
pub const RTM_TRACK_NO_RTX: i16 = -1;

/// What `rtm_track_poll_output` gives (`RTM_TRACK_OUTPUT_*`).
pub type rtm_track_output_kind = u8;
/// Nothing now (with RTM_NOTHING_DUE): see `wakeup_us`.
pub const RTM_TRACK_OUTPUT_NONE: rtm_track_output_kind = 0;
/// `buf[0..len]` is an RTP packet for subscriber `subscriber`: protect it
/// with that subscriber's SRTP context and send it (or queue it in its
/// pacer).
pub const RTM_TRACK_OUTPUT_RTP: rtm_track_output_kind = 1;
/// `buf[0..len]` is a PLI (RFC 4585, 12 bytes) from `rtcp_ssrc` asking the
/// publisher for a keyframe on its SSRC `ssrc`: protect it with the
/// publisher's SRTCP context and send it. Requests of all subscribers are
/// merged and backed off per layer (see `rtm_source_poll_keyframe_request`).
/// A host that prefers FIR builds it from `ssrc` with `rtm_rtcp_build_fir`.
pub const RTM_TRACK_OUTPUT_KEYFRAME_REQUEST: rtm_track_output_kind = 2;

/// What an RTM_TRACK_OUTPUT_RTP packet is (`RTM_TRACK_RTP_*`).
pub type rtm_track_rtp_kind = u8;
/// Forwarded media (also history replayed after a join or a switch).
pub const RTM_TRACK_RTP_MEDIA: rtm_track_rtp_kind = 0;
/// A NACKed packet sent again on the subscriber's media SSRC (no RTX
/// negotiated).
pub const RTM_TRACK_RTP_RETRANSMISSION: rtm_track_rtp_kind = 1;
/// A NACKed packet sent again as RFC 4588 RTX: on the subscriber's RTX SSRC
/// and payload type, its own RTX sequence number, the original sequence
/// number in the first two payload bytes.
pub const RTM_TRACK_RTP_RTX: rtm_track_rtp_kind = 2;

/// Options of a track (a growable struct): fill with
/// `rtm_track_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_track_config {
    /// `sizeof` the caller's struct, set by `rtm_track_config_init`.
    pub struct_size: usize,
    /// RTM_SOURCE_CODEC_VP8 (temporal layers, PictureIDs), _H264 or
    /// _OPAQUE. Default VP8.
    pub codec: rtm_source_codec,
    /// RTP clock rate, > 0. Default 90000.
    pub clock_rate: u32,
    /// Most packets kept per spatial layer to answer NACKs and start joins,
    /// 1..=RTM_SIMULCAST_MAX_HISTORY (rounded up to a power of two). The
    /// history starts at 64 packets per layer and doubles (allocating, a few
    /// times in a layer's life) whenever it would drop a packet younger
    /// than 2 s, up to this. Default 1024.
    pub history_packets: u32,
    /// A spatial layer without media for this long is not alive (padding
    /// does not count), µs. Default 1000000.
    pub inactive_after_us: u64,
    /// Least time between two keyframe requests for one SSRC, µs (repeats
    /// of an unanswered one back off further). Default 300000.
    pub keyframe_retry_min_us: u64,
    /// Longest packet accepted, 12..=RTM_MAX_PACKET_BYTES_LIMIT; a push of a
    /// longer one returns RTM_ERR_TOO_LARGE. Bounds the history's memory:
    /// layers x `history_packets` x this. Default
    /// RTM_DEFAULT_MAX_PACKET_BYTES (1500).
    pub max_packet_bytes: usize,
    /// Most subscribers, 1..=RTM_TRACK_MAX_SUBSCRIBERS; their tables are
    /// reserved by `rtm_track_new`. Default 1024.
    pub max_subscribers: usize,
    /// Packets pushed and not yet drained, 1..=RTM_TRACK_MAX_QUEUE (at
    /// least this many; a host drains after every push, so more is a host
    /// bug, refused with RTM_ERR_QUEUE_FULL). Default 16.
    pub queue_packets: usize,
    /// NACKed packets waiting to be answered, all subscribers together,
    /// 1..=RTM_TRACK_MAX_QUEUE; more are counted (`nack_queue_full`) and
    /// dropped. Default 512.
    pub nack_queue: usize,
    /// A joining subscriber starts from the history (no keyframe request
    /// reaches the publisher) when its layer's last keyframe is at most
    /// this old, µs; 0: never. Default 1000000.
    pub max_history_start_us: u64,
    /// SSRC the PLIs written by `rtm_track_poll_output` are sent from (the
    /// SFU's RTCP SSRC toward the publisher). Default 0.
    pub rtcp_ssrc: u32,
}

/// Options of one subscriber (a growable struct): fill with
/// `rtm_track_subscriber_config_init(&cfg, sizeof cfg)`, then change
/// fields. The first six are those of `rtm_forwarder_config`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_track_subscriber_config {
    /// `sizeof` the caller's struct, set by
    /// `rtm_track_subscriber_config_init`.
    pub struct_size: usize,
    /// SSRC the subscriber sees (its NACKs and PLIs name it). Default 0
    /// (set it; unique in the track).
    pub ssrc: u32,
    /// Payload type to write, 0..=127, or -1 to keep the publisher's.
    /// Default -1.
    pub payload_type: i16,
    /// Highest layer this subscriber wants (e.g. from its window size).
    /// Default {2, 3}: everything.
    pub max_layer: rtm_layer,
    /// RTP clock rate, > 0, for timestamps across a switch. Default 90000.
    pub clock_rate: u32,
    /// Sent packets remembered for NACKs, 1..=RTM_SIMULCAST_MAX_HISTORY
    /// (an upper bound: the track sizes the records for about one second
    /// of the layer the subscriber gets). Default 1024.
    pub history_packets: u32,
    /// Largest disagreement between the sender-report timeline and the
    /// arrival clock at a switch before the arrival clock is used, µs.
    /// Default 500000.
    pub max_timestamp_skew_us: u64,
    /// RFC 4588 RTX payload type the subscriber negotiated, 0..=127, or
    /// RTM_TRACK_NO_RTX (default): NACKed packets are then resent on the
    /// media SSRC.
    pub rtx_payload_type: i16,
    /// RTX SSRC (with `rtx_payload_type`); must differ from every SSRC of
    /// the track's subscribers. Default 0.
    pub rtx_ssrc: u32,
    /// The layer the subscriber heads for (capped at `max_layer`), unless
    /// `initial_bitrate_bps` is set. Default {2, 3}: the best there is.
    pub target: rtm_layer,
    /// RTM_TRACK_NO_BITRATE (default): head for `target`. Otherwise the
    /// bandwidth (bits/s) this subscriber has for the track: the track picks
    /// the layer itself, with hysteresis, again whenever a layer comes alive
    /// (update it with `rtm_track_set_available_bitrate`).
    pub initial_bitrate_bps: u64,
}

/// What `rtm_track_poll_output` gives (a growable struct: set
/// `struct_size = sizeof` before the call).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_track_output {
    pub struct_size: usize,
    /// RTM_TRACK_OUTPUT_RTP, _KEYFRAME_REQUEST, or _NONE (with
    /// RTM_NOTHING_DUE).
    pub kind: rtm_track_output_kind,
    /// RTP: the subscriber the packet is for (its id from
    /// `rtm_track_add_subscriber`). 0 otherwise.
    pub subscriber: u64,
    /// RTP, KEYFRAME_REQUEST: the length written to the caller's buffer.
    /// After RTM_ERR_BUFFER_TOO_SMALL: the capacity needed. 0 otherwise.
    pub len: usize,
    /// RTP: RTM_TRACK_RTP_MEDIA, _RETRANSMISSION or _RTX.
    pub rtp_kind: rtm_track_rtp_kind,
    /// RTP: RTM_PACKET_CLASS_VIDEO (media) or
    /// RTM_PACKET_CLASS_RETRANSMISSION, for `rtm_pacer_push`.
    pub packet_class: rtm_packet_class,
    /// RTP media: the packet starts a keyframe (`rtm_pacer_push`'s
    /// `keyframe_start`: the pacer drops that SSRC's stale queued video).
    pub keyframe_start: bool,
    /// RTP: the packet's SSRC (the subscriber's media SSRC, or its RTX SSRC);
    /// KEYFRAME_REQUEST: the publisher's SSRC the PLI names.
    pub ssrc: u32,
    /// RTP: the packet's sequence number.
    pub seq: u16,
    /// NONE: when to poll again (µs) if no input comes first, or
    /// RTM_NO_WAKEUP. 0 otherwise.
    pub wakeup_us: u64,
}

/// Counters since the track was created (a growable struct: set
/// `struct_size = sizeof` before `rtm_track_get_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_track_stats {
    pub struct_size: usize,
    /// Subscribers now.
    pub subscribers: u64,
    /// Publisher packets accepted.
    pub packets_in: u64,
    /// Pushes refused with RTM_ERR_QUEUE_FULL (the host had not drained).
    pub queue_full: u64,
    /// Sequence numbers subscribers NACKed.
    pub nacked: u64,
    /// NACKed numbers dropped because `nack_queue` was full.
    pub nack_queue_full: u64,
    /// NACKed packets sent again (RTX ones included).
    pub retransmitted: u64,
    /// Of which as RFC 4588 RTX.
    pub rtx_sent: u64,
    /// PLIs and FIR entries from subscribers.
    pub subscriber_plis: u64,
    /// Joins that started from the history (no keyframe asked).
    pub starts_from_history: u64,
    /// Joins that had to ask the publisher for a keyframe.
    pub starts_with_request: u64,
    /// PLIs given to the host for the publisher.
    pub keyframe_requests_sent: u64,
    /// RTX re-sends written as probe padding
    /// (`rtm_track_write_probe_padding`). (Appended after 0.2.0: a caller
    /// compiled without it does not get it.)
    pub probe_padding_sent: u64,
}

/// One subscriber's state (a growable struct: set `struct_size = sizeof`
/// before `rtm_track_get_subscriber`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_track_subscriber_state {
    pub struct_size: usize,
    /// Whether a layer is being forwarded (false while paused or waiting
    /// for a keyframe); `current` is valid only then.
    pub has_current: bool,
    pub current: rtm_layer,
    /// Whether the subscriber heads for a layer (false before a target and
    /// while paused for bandwidth or no feed); `target` is valid only then.
    pub has_target: bool,
    pub target: rtm_layer,
    /// Why nothing is forwarded (the host's pause first), or RTM_PAUSE_NONE.
    pub pause_reason: rtm_pause_reason,
}

args::versioned!(
    rtm_track_config,
    rtm_track_subscriber_config,
    rtm_track_output,
    rtm_track_subscriber_state
);
args::versioned_grown!(rtm_track_stats, first_new_field: probe_padding_sent);

fn default_config() -> rtm_track_config {
    let d = TrackConfig::default();
    rtm_track_config {
        struct_size: core::mem::size_of::<rtm_track_config>(),
        codec: codec_code(d.source.codec),
        clock_rate: d.source.clock_rate,
        history_packets: d.source.history_packets as u32,
        inactive_after_us: d.source.inactive_after_us,
        keyframe_retry_min_us: d.source.keyframe_retry_min_us,
        max_packet_bytes: RTM_DEFAULT_MAX_PACKET_BYTES,
        max_subscribers: d.max_subscribers,
        queue_packets: d.queue_packets,
        nack_queue: d.nack_queue,
        max_history_start_us: d.max_history_start_us,
        rtcp_ssrc: 0,
    }
}

fn default_subscriber_config() -> rtm_track_subscriber_config {
    let d = SubscriberConfig::default().forwarder;
    let top = c_layer(d.max_layer);
    rtm_track_subscriber_config {
        struct_size: core::mem::size_of::<rtm_track_subscriber_config>(),
        ssrc: d.ssrc,
        payload_type: d.payload_type.map_or(-1, i16::from),
        max_layer: top,
        clock_rate: d.clock_rate,
        history_packets: d.history_packets as u32,
        max_timestamp_skew_us: d.max_timestamp_skew_us,
        rtx_payload_type: RTM_TRACK_NO_RTX,
        rtx_ssrc: 0,
        target: top,
        initial_bitrate_bps: RTM_TRACK_NO_BITRATE,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT when `size` is not the sizeof of a released
/// layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_config_init(
    config: *mut rtm_track_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

/// Fills `*config` with a subscriber's defaults and sets
/// `config->struct_size` to `size` (pass `sizeof *config`).
/// RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT when `size` is not the
/// sizeof of a released layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_subscriber_config_init(
    config: *mut rtm_track_subscriber_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_subscriber_config()))
}

fn track_config(c: &rtm_track_config) -> Result<TrackConfig, rtm_status> {
    let codec = match c.codec {
        RTM_SOURCE_CODEC_VP8 => Codec::Vp8,
        RTM_SOURCE_CODEC_H264 => Codec::H264,
        RTM_SOURCE_CODEC_OPAQUE => Codec::Opaque,
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    let invalid = c.clock_rate == 0
        || c.history_packets == 0
        || c.history_packets > RTM_SIMULCAST_MAX_HISTORY
        || !(12..=RTM_MAX_PACKET_BYTES_LIMIT).contains(&c.max_packet_bytes)
        || !(1..=RTM_TRACK_MAX_SUBSCRIBERS).contains(&c.max_subscribers)
        || !(1..=RTM_TRACK_MAX_QUEUE).contains(&c.queue_packets)
        || !(1..=RTM_TRACK_MAX_QUEUE).contains(&c.nack_queue);
    if invalid {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    Ok(TrackConfig {
        source: SourceConfig {
            codec,
            clock_rate: c.clock_rate,
            history_packets: c.history_packets as usize,
            inactive_after_us: c.inactive_after_us,
            keyframe_retry_min_us: c.keyframe_retry_min_us,
        },
        max_subscribers: c.max_subscribers,
        queue_packets: c.queue_packets,
        nack_queue: c.nack_queue,
        max_history_start_us: c.max_history_start_us,
    })
}

fn track_status(e: TrackError) -> rtm_status {
    match e {
        TrackError::Source(SourceError::UnknownSsrc(_)) | TrackError::UnknownSubscriber => {
            rtm_status::RTM_ERR_NOT_FOUND
        }
        TrackError::Source(SourceError::Malformed(p)) => p.into(),
        TrackError::Source(SourceError::BadLayers) | TrackError::DuplicateSubscriber => {
            rtm_status::RTM_ERR_INVALID_ARGUMENT
        }
        TrackError::Source(SourceError::TooLarge(_)) => rtm_status::RTM_ERR_TOO_LARGE,
        TrackError::TooManySubscribers => rtm_status::RTM_ERR_FULL,
        TrackError::QueueFull => rtm_status::RTM_ERR_QUEUE_FULL,
        TrackError::BufferTooSmall { .. } => rtm_status::RTM_ERR_BUFFER_TOO_SMALL,
    }
}

/// Creates a track whose spatial layers have the SSRCs `ssrcs[0..n]`,
/// lowest resolution first (layer i is `ssrcs[i]`; the array is copied).
/// `config` may be NULL for the defaults. Its tables and queues are
/// reserved here; each subscriber's forwarder is allocated when it is
/// added. On success `*out` owns the track. RTM_ERR_NULL_POINTER (`out`,
/// or `ssrcs` with `n` > 0); RTM_ERR_INVALID_ARGUMENT for a bad
/// `struct_size`, a field out of its documented range, `n` of 0 or above
/// RTM_SIMULCAST_MAX_SPATIAL, or an SSRC given twice; RTM_ERR_UNSUPPORTED
/// for fields of a newer header set. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_new(
    config: *const rtm_track_config,
    ssrcs: *const u32,
    n: usize,
    out: *mut *mut rtm_track_t,
) -> rtm_status {
    guard(|| {
        let c = if config.is_null() {
            default_config()
        } else {
            args::read(config, default_config())?
        };
        let ssrcs = args::slice(ssrcs, n)?;
        let out = args::out(out)?;
        if n == 0 || n > MAX_SPATIAL {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let config = track_config(&c)?;
        let mut track = Track::new(config, ssrcs).map_err(track_status)?;
        track.source_mut().set_max_packet_len(c.max_packet_bytes);
        let issued_limit = (c.history_packets as usize).next_power_of_two() + c.queue_packets + 8;
        *out = handle::into_raw(rtm_track {
            track,
            codec: config.source.codec,
            rtcp_ssrc: c.rtcp_ssrc,
            pool: BufferPool::new(64, shared_buffer),
            issued: core::array::from_fn(|s| {
                VecDeque::with_capacity(if s < n { issued_limit + 1 } else { 0 })
            }),
            issued_limit,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a track and its subscribers; packets it still holds are released
/// (the release callbacks of zero-copy pushes run now, on this thread).
/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_free(track: *mut rtm_track_t) {
    handle::free(track)
}

fn subscriber_config(c: &rtm_track_subscriber_config) -> Result<SubscriberConfig, rtm_status> {
    let forwarder = forwarder_config(&rtm_forwarder_config {
        struct_size: core::mem::size_of::<rtm_forwarder_config>(),
        ssrc: c.ssrc,
        payload_type: c.payload_type,
        max_layer: c.max_layer,
        clock_rate: c.clock_rate,
        history_packets: c.history_packets,
        max_timestamp_skew_us: c.max_timestamp_skew_us,
    })?;
    let rtx = match c.rtx_payload_type {
        RTM_TRACK_NO_RTX => None,
        pt @ 0..=127 => Some(RtxConfig {
            ssrc: c.rtx_ssrc,
            payload_type: pt as u8,
        }),
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    Ok(SubscriberConfig { forwarder, rtx })
}

/// Adds subscriber `id` (any value the host chooses, unique in the track)
/// at `now_us`. It heads for `config->target`, or follows
/// `config->initial_bitrate_bps`; when the track's history holds its
/// layer's last keyframe (at most `max_history_start_us` old) and every
/// packet since, it starts from there at once (the replay comes out of
/// `rtm_track_poll_output`), else at the next keyframe, which is asked for.
/// `config` may be NULL for the defaults (then its SSRC is 0).
/// RTM_ERR_NULL_POINTER (`track`); RTM_ERR_INVALID_ARGUMENT for a bad
/// `struct_size`, a field out of its documented range, an id already in
/// the track, or an SSRC (media or RTX) already in use by a subscriber of
/// this track; RTM_ERR_FULL at `max_subscribers`; RTM_ERR_UNSUPPORTED for
/// fields of a newer header set. Nothing changes on an error. Allocates
/// the subscriber's forwarder.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_add_subscriber(
    track: *mut rtm_track_t,
    id: u64,
    config: *const rtm_track_subscriber_config,
    now_us: u64,
) -> rtm_status {
    handle::with(track, |h| {
        let c = if config.is_null() {
            default_subscriber_config()
        } else {
            args::read(config, default_subscriber_config())?
        };
        let sc = subscriber_config(&c)?;
        let result = if c.initial_bitrate_bps == RTM_TRACK_NO_BITRATE {
            let target = layer(c.target.spatial, c.target.temporal)?;
            h.track.add_subscriber(id, sc, target, now_us)
        } else {
            h.track
                .add_subscriber_with_bitrate(id, sc, c.initial_bitrate_bps, now_us)
        };
        result.map_err(track_status)
    })
}

/// Removes subscriber `id`: its forwarder, its queued NACK answers and
/// history replay go; outputs already taken stay valid. RTM_ERR_NOT_FOUND
/// when the track has no such subscriber; RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_remove_subscriber(
    track: *mut rtm_track_t,
    id: u64,
) -> rtm_status {
    handle::with(track, |h| {
        if h.track.remove_subscriber(id) {
            Ok(())
        } else {
            Err(rtm_status::RTM_ERR_NOT_FOUND)
        }
    })
}

mod control;
mod input;
mod output;
mod padding;
mod stats;

pub use control::*;
pub use input::*;
pub use output::*;
pub use padding::*;
pub use stats::*;
