//! The simulcast forwarder from C (`rtm_forwarder_*`): one per subscriber
//! and source.

use crate::simulcast::{
    Forwarded, Forwarder, ForwarderConfig, ForwarderStats, PauseReason, RetransmitError,
};

use super::handle;
use super::simulcast::*;
use super::{args, guard, rtm_status};

/// One subscriber's forwarding state for one source (opaque): which layer it
/// gets, and the rewriting that makes the layers one continuous stream (one
/// SSRC, gapless sequence numbers, continuous timestamps and VP8
/// PictureID/TL0PICIDX/KEYIDX). Holds no pointer to the source: pass the
/// same source to every call that takes one. Create with
/// `rtm_forwarder_new`, free with `rtm_forwarder_free`. Calls on one
/// forwarder must not overlap; it may move between threads.
pub struct rtm_forwarder {
    fwd: Forwarder,
    poisoned: bool,
}

/// The C name of the forwarder handle.
pub type rtm_forwarder_t = rtm_forwarder;

handle::poison_flag!(rtm_forwarder);

/// Options of a forwarder (a growable struct): fill with
/// `rtm_forwarder_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_forwarder_config {
    /// `sizeof` the caller's struct, set by `rtm_forwarder_config_init`.
    pub struct_size: usize,
    /// SSRC the subscriber sees. Default 0 (set it).
    pub ssrc: u32,
    /// Payload type to write, 0..=127, or -1 to keep the source's.
    /// Default -1.
    pub payload_type: i16,
    /// Highest layer this subscriber wants (e.g. from its window size).
    /// Default {2, 3}: everything.
    pub max_layer: rtm_layer,
    /// RTP clock rate, > 0, for timestamps across a switch. Default 90000.
    pub clock_rate: u32,
    /// Sent packets remembered for NACKs, 1..=RTM_SIMULCAST_MAX_HISTORY
    /// (rounded up to a power of two). Reserved by `rtm_forwarder_new`.
    /// Default 1024.
    pub history_packets: u32,
    /// Largest disagreement between the sender-report timeline and the
    /// arrival clock at a switch before the arrival clock is used, µs.
    /// Default 500000.
    pub max_timestamp_skew_us: u64,
}

args::versioned!(rtm_forwarder_config);
args::versioned_grown!(rtm_forwarder_stats, first_new_field: nacks_in_flight);

fn default_config() -> rtm_forwarder_config {
    let d = ForwarderConfig::default();
    rtm_forwarder_config {
        struct_size: core::mem::size_of::<rtm_forwarder_config>(),
        ssrc: d.ssrc,
        payload_type: d.payload_type.map_or(-1, i16::from),
        max_layer: c_layer(d.max_layer),
        clock_rate: d.clock_rate,
        history_packets: d.history_packets as u32,
        max_timestamp_skew_us: d.max_timestamp_skew_us,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_INVALID_ARGUMENT when `size` is
/// that is not the sizeof of a released layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_config_init(
    config: *mut rtm_forwarder_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

pub(super) fn forwarder_config(c: &rtm_forwarder_config) -> Result<ForwarderConfig, rtm_status> {
    let payload_type = match c.payload_type {
        -1 => None,
        pt @ 0..=127 => Some(pt as u8),
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    if c.clock_rate == 0 || c.history_packets == 0 || c.history_packets > RTM_SIMULCAST_MAX_HISTORY
    {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    Ok(ForwarderConfig {
        ssrc: c.ssrc,
        payload_type,
        max_layer: layer(c.max_layer.spatial, c.max_layer.temporal)?,
        clock_rate: c.clock_rate,
        history_packets: c.history_packets as usize,
        max_timestamp_skew_us: c.max_timestamp_skew_us,
    })
}

/// Creates a forwarder. It starts paused (RTM_PAUSE_NO_FEED) with no
/// target: give it one with `rtm_forwarder_set_target` or
/// `rtm_forwarder_set_available_bitrate`. `config` may be NULL for the
/// defaults (then the SSRC is 0). On success `*out` owns it.
/// RTM_ERR_INVALID_ARGUMENT for a config field out of range; RTM_ERR_UNSUPPORTED
/// for fields of a newer header this library does not know. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_new(
    config: *const rtm_forwarder_config,
    out: *mut *mut rtm_forwarder_t,
) -> rtm_status {
    guard(|| {
        let c = if config.is_null() {
            default_config()
        } else {
            args::read(config, default_config())?
        };
        let out = args::out(out)?;
        let config = forwarder_config(&c)?;
        *out = handle::into_raw(rtm_forwarder {
            fwd: Forwarder::new(config),
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a forwarder. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_free(fwd: *mut rtm_forwarder_t) {
    handle::free(fwd)
}

/// Forwards the current packet of `src` (the last successful push) if this
/// subscriber gets it: the packet rewritten with this subscriber's values is
/// written to `out[0..*out_len]` (one copy, ready for SRTP protection in
/// place), and `*dropped` (may be NULL) is RTM_DROP_NONE. A packet this
/// subscriber does not get gives RTM_OK with `*out_len` 0 and the reason in
/// `*dropped`.
///
/// `out_cap` must be at least the packet's `forwarded_len` (its length + 1
/// is always enough), whether the packet is sent or dropped: otherwise
/// RTM_ERR_BUFFER_TOO_SMALL and nothing changes. To protect in place
/// afterwards, give it `len + 1 + RTM_SRTP_MAX_TRAILER_LEN`.
/// RTM_ERR_NOT_FOUND when the source has no current packet (nothing pushed,
/// or the last push failed). `src` is only read. Forward each packet to a
/// forwarder once, in the order pushed.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_forward(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    out: *mut u8,
    out_cap: usize,
    now_us: u64,
    out_len: *mut usize,
    dropped: *mut rtm_drop_reason,
) -> rtm_status {
    handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let buf = args::slice_mut(out, out_cap)?;
        let out_len = args::out(out_len)?;
        let packet = s.current.as_ref().ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        let (len, reason) = match h.fwd.forward(packet, buf, now_us)? {
            Forwarded::Sent(len) => (len, RTM_DROP_NONE),
            Forwarded::Dropped(reason) => (0, drop_code(reason)),
        };
        *out_len = len;
        if let Some(d) = dropped.as_mut() {
            *d = reason;
        }
        Ok(())
    })
}

/// Packets this subscriber is due from `src`'s history, one per call,
/// written to `out[0..*out_len]` as `rtm_forwarder_forward` would: when a
/// switch starts from a keyframe the forwarder held back for a frame (in
/// case the target layer's keyframe of the same capture followed), that
/// keyframe and what followed it; after a join or resume started from the
/// history (`rtm_track_*` only), the kept keyframe and what followed; and
/// packets of the new layer that reached `src` before the keyframe that
/// started a switch (the network reordered them).
///
/// Call it after every `rtm_forwarder_forward` on this forwarder, whether
/// that forward sent the packet or dropped it, until it returns
/// RTM_NOTHING_DUE (with `*out_len` 0; a cheap check when nothing is due):
/// a held switch is entered by a packet the forward then drops, so a host
/// that calls it only after sent packets gets those packets late (at its
/// next sent packet; never twice), and one that never calls it leaves them
/// for the subscriber to NACK. `out_cap`: as for `rtm_forwarder_forward`
/// (RTM_ERR_BUFFER_TOO_SMALL, nothing changes). `src` is only read.
/// RTM_ERR_NULL_POINTER for a NULL `fwd`, `src`, `out` or `out_len`.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_backfill(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    out: *mut u8,
    out_cap: usize,
    now_us: u64,
    out_len: *mut usize,
) -> rtm_status {
    let mut sent = false;
    let status = handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let buf = args::slice_mut(out, out_cap)?;
        let out_len = args::out(out_len)?;
        let len = h.fwd.backfill(&s.source, buf, now_us)?;
        sent = len.is_some();
        *out_len = len.unwrap_or(0);
        Ok(())
    });
    match status {
        rtm_status::RTM_OK if !sent => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// Heads for the layer {`spatial`, `temporal`} (capped at the maximum
/// layer) and ends an automatic pause (a host pause stays). A spatial
/// change asks for a keyframe (see `rtm_forwarder_poll_keyframe_request`);
/// the current layer keeps flowing until it arrives. RTM_ERR_INVALID_ARGUMENT
/// for `spatial` >= RTM_SIMULCAST_MAX_SPATIAL or `temporal` >=
/// RTM_SIMULCAST_MAX_TEMPORAL.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_set_target(
    fwd: *mut rtm_forwarder_t,
    spatial: u8,
    temporal: u8,
) -> rtm_status {
    handle::with(fwd, |h| {
        h.fwd.set_target(layer(spatial, temporal)?);
        Ok(())
    })
}

/// Picks the target from the layers `src` measures at `now_us` and the
/// bandwidth this subscriber has for it (`available_bps`): the highest alive
/// layer up to the maximum that fits. When none fits it pauses with
/// RTM_PAUSE_BANDWIDTH (some layer is alive) or RTM_PAUSE_NO_FEED (none
/// is). `src` is only read.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_set_available_bitrate(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    now_us: u64,
    available_bps: u64,
) -> rtm_status {
    handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let rates = s.source.bitrates(now_us);
        h.fwd.set_available_bitrate(&rates, available_bps);
        Ok(())
    })
}

/// Caps the layers this subscriber gets (e.g. its window shrank); the
/// target is capped at once. RTM_ERR_INVALID_ARGUMENT as for
/// `rtm_forwarder_set_target`.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_set_max_layer(
    fwd: *mut rtm_forwarder_t,
    spatial: u8,
    temporal: u8,
) -> rtm_status {
    handle::with(fwd, |h| {
        h.fwd.set_max_layer(layer(spatial, temporal)?);
        Ok(())
    })
}

/// Stops forwarding for a host reason (an `rtm_pause_reason` other than
/// RTM_PAUSE_NONE, usually RTM_PAUSE_MUTED) until `rtm_forwarder_resume`.
/// RTM_ERR_INVALID_ARGUMENT for another value.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_pause(
    fwd: *mut rtm_forwarder_t,
    reason: rtm_pause_reason,
) -> rtm_status {
    handle::with(fwd, |h| {
        let reason = match reason {
            RTM_PAUSE_BANDWIDTH => PauseReason::Bandwidth,
            RTM_PAUSE_MUTED => PauseReason::Muted,
            RTM_PAUSE_NO_FEED => PauseReason::NoFeed,
            _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
        };
        h.fwd.pause(reason);
        Ok(())
    })
}

/// Undoes `rtm_forwarder_pause` and asks for a keyframe to restart from
/// (see `rtm_forwarder_poll_keyframe_request`); forwarding restarts at
/// that keyframe. No effect when not paused by the host.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_resume(fwd: *mut rtm_forwarder_t) -> rtm_status {
    handle::with(fwd, |h| {
        h.fwd.resume();
        Ok(())
    })
}

/// RTM_OK with `*spatial` set when this forwarder needs a keyframe on that
/// layer (once per decision): pass it to `rtm_source_request_keyframe`,
/// which merges the requests of all subscribers. RTM_NOTHING_DUE when none
/// is wanted.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_poll_keyframe_request(
    fwd: *mut rtm_forwarder_t,
    spatial: *mut u8,
) -> rtm_status {
    handle::poll_out(fwd, spatial, |h| Ok(h.fwd.poll_keyframe_request()))
}

/// Writes again into `out[0..*out_len]` the packet this subscriber received
/// with sequence number `seq` (from its NACK), rebuilt from the source's
/// history: the same bytes as first sent, also when a keyframe was sent
/// after it (the NACK may have crossed that keyframe, and a jitter buffer
/// plays the frames before it first). RTM_ERR_NOT_FOUND if it was never
/// sent to this subscriber or is forgotten (by the forwarder or the
/// source); RTM_ERR_BEFORE_KEYFRAME if it is from before a later switch to
/// a lower spatial layer (the link could not carry the old layer: drop the
/// NACK); RTM_ERR_BUFFER_TOO_SMALL if `out_cap` is below its length (the
/// original packet's length + 1 always suffices). `src` must be the source this
/// forwarder forwards; it is only read.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_retransmit(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    seq: u16,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> rtm_status {
    retransmit_into(fwd, src, seq, None, out, out_cap, out_len)
}

/// Both retransmit calls: `*out_len` is written on RTM_OK (the length) and
/// on RTM_NOTHING_DUE (0), left as it was on an error.
unsafe fn retransmit_into(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    seq: u16,
    now_us: Option<u64>,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> rtm_status {
    handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let buf = args::slice_mut(out, out_cap)?;
        let out_len = args::out(out_len)?;
        let result = match now_us {
            Some(now) => h.fwd.retransmit_at(&s.source, seq, now, buf),
            None => h.fwd.retransmit(&s.source, seq, buf),
        };
        match result {
            Ok(n) => {
                *out_len = n;
                Ok(())
            }
            Err(RetransmitError::InFlight) => {
                *out_len = 0;
                Err(rtm_status::RTM_NOTHING_DUE)
            }
            Err(RetransmitError::NotFound) => Err(rtm_status::RTM_ERR_NOT_FOUND),
            Err(RetransmitError::BeforeKeyframe) => Err(rtm_status::RTM_ERR_BEFORE_KEYFRAME),
            Err(RetransmitError::BufferTooSmall { .. }) => {
                Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL)
            }
        }
    })
}

/// `rtm_forwarder_retransmit` at `now_us`, except for a packet this
/// forwarder sent again less than a round trip (`rtm_forwarder_set_rtt`)
/// before: RTM_NOTHING_DUE, nothing written (`*out_len` 0), since that copy
/// has not had the time to arrive. A receiver whose RTT estimate misses a
/// congested link's queue asks again sooner and would otherwise get every
/// lost packet several times, on the link that lost it (libwebrtc's and
/// mediasoup's senders skip such NACKs too). Counted in the stats'
/// `nacks_in_flight`.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_retransmit_at(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    seq: u16,
    now_us: u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> rtm_status {
    retransmit_into(fwd, src, seq, Some(now_us), out, out_cap, out_len)
}

/// The round trip to this forwarder's subscriber, µs (e.g.
/// `rtm_bwe_estimate.rtt_us` of its transport), for
/// `rtm_forwarder_retransmit_at`.
/// 0 (the default): every NACK is answered. RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_set_rtt(
    fwd: *mut rtm_forwarder_t,
    rtt_us: u64,
) -> rtm_status {
    handle::with(fwd, |h| {
        h.fwd.set_rtt(rtt_us);
        Ok(())
    })
}

/// The layer being forwarded now into `*out`; RTM_ERR_NOT_FOUND while
/// paused or waiting for a keyframe.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_current_layer(
    fwd: *const rtm_forwarder_t,
    out: *mut rtm_layer,
) -> rtm_status {
    handle::with_shared_out(fwd, out, |h| {
        h.fwd
            .current_layer()
            .map(c_layer)
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)
    })
}

/// The layer the forwarder is heading for into `*out`; RTM_ERR_NOT_FOUND
/// when it has none (before the first target, or paused for bandwidth or
/// no feed).
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_target_layer(
    fwd: *const rtm_forwarder_t,
    out: *mut rtm_layer,
) -> rtm_status {
    handle::with_shared_out(fwd, out, |h| {
        h.fwd
            .target_layer()
            .map(c_layer)
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)
    })
}

/// Why nothing is forwarded into `*out` (the host's pause first), or
/// RTM_PAUSE_NONE.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_pause_reason(
    fwd: *const rtm_forwarder_t,
    out: *mut rtm_pause_reason,
) -> rtm_status {
    handle::with_shared_out(fwd, out, |h| {
        Ok(match h.fwd.pause_reason() {
            None => RTM_PAUSE_NONE,
            Some(PauseReason::Bandwidth) => RTM_PAUSE_BANDWIDTH,
            Some(PauseReason::Muted) => RTM_PAUSE_MUTED,
            Some(PauseReason::NoFeed) => RTM_PAUSE_NO_FEED,
        })
    })
}

/// Counters since the forwarder was created (a growable struct: set
/// `struct_size = sizeof` before `rtm_forwarder_get_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_forwarder_stats {
    pub struct_size: usize,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Frames started (first packets sent).
    pub frames_sent: u64,
    pub keyframes_sent: u64,
    /// Dropped packets, indexed by `rtm_drop_reason` (index 0 unused).
    pub dropped: [u64; RTM_DROP_REASONS],
    pub spatial_switches: u64,
    pub temporal_switches: u64,
    /// Keyframe requests this forwarder asked for (one per decision).
    pub keyframe_requests: u64,
    pub retransmitted: u64,
    /// NACKs answered RTM_ERR_BEFORE_KEYFRAME.
    pub nacks_before_keyframe: u64,
    /// NACKs answered RTM_ERR_NOT_FOUND.
    pub nacks_not_found: u64,
    /// Switches where the last frame of the old layer was cut (a deliberate
    /// one-number sequence gap was left).
    pub cut_frames: u64,
    /// NACKs `rtm_forwarder_retransmit_at` left unanswered (RTM_NOTHING_DUE:
    /// the packet went out again less than a round trip before).
    /// (Appended after 0.2.0: not written for a caller compiled without
    /// it.)
    pub nacks_in_flight: u64,
}

/// Copies the counters into `*out`, at most `out->struct_size` bytes (set
/// it to `sizeof *out` first).
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_get_stats(
    fwd: *const rtm_forwarder_t,
    out: *mut rtm_forwarder_stats,
) -> rtm_status {
    handle::with_shared(fwd, |h| args::write(out, forwarder_stats(h.fwd.stats())))
}

/// The C form of a forwarder's counters.
pub(super) fn forwarder_stats(s: &ForwarderStats) -> rtm_forwarder_stats {
    rtm_forwarder_stats {
        struct_size: 0,
        packets_sent: s.packets_sent,
        bytes_sent: s.bytes_sent,
        frames_sent: s.frames_sent,
        keyframes_sent: s.keyframes_sent,
        dropped: s.dropped,
        spatial_switches: s.spatial_switches,
        temporal_switches: s.temporal_switches,
        keyframe_requests: s.keyframe_requests,
        retransmitted: s.retransmitted,
        nacks_before_keyframe: s.nacks_before_keyframe,
        nacks_not_found: s.nacks_not_found,
        cut_frames: s.cut_frames,
        nacks_in_flight: s.nacks_in_flight,
    }
}
