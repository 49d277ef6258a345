//! Per-subscriber control from C: target and maximum layers, a bitrate to
//! follow, pause and resume, and the round trips to the publisher and to
//! each subscriber.

use super::*;

/// Heads subscriber `id` for the layer {`spatial`, `temporal`} (capped at
/// its maximum); it no longer follows a bitrate. A spatial change asks for
/// a keyframe; the current layer keeps flowing until it arrives.
/// RTM_ERR_NOT_FOUND for an unknown `id`; RTM_ERR_INVALID_ARGUMENT for
/// `spatial` >= RTM_SIMULCAST_MAX_SPATIAL or `temporal` >=
/// RTM_SIMULCAST_MAX_TEMPORAL; RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_set_target(
    track: *mut rtm_track_t,
    id: u64,
    spatial: u8,
    temporal: u8,
    now_us: u64,
) -> rtm_status {
    handle::with(track, |h| {
        let l = layer(spatial, temporal)?;
        h.track.set_target(id, l, now_us).map_err(track_status)
    })
}

/// Caps the layers subscriber `id` gets (e.g. its window shrank); its
/// target is capped at once. Statuses as `rtm_track_set_target`.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_set_max_layer(
    track: *mut rtm_track_t,
    id: u64,
    spatial: u8,
    temporal: u8,
    now_us: u64,
) -> rtm_status {
    handle::with(track, |h| {
        let l = layer(spatial, temporal)?;
        h.track.set_max_layer(id, l, now_us).map_err(track_status)
    })
}

/// The bandwidth subscriber `id` has for this track at `now_us`, bits/s
/// (e.g. its share from `rtm_allocator_allocate`, or the estimate from
/// `rtm_bwe_get_estimate` for a single track): the track picks the highest
/// alive layer up to the maximum that fits, with hysteresis against flapping
/// (see `rtm_forwarder_set_available_bitrate`), and picks again whenever a
/// layer comes alive. When none fits the subscriber pauses
/// (RTM_PAUSE_BANDWIDTH, or RTM_PAUSE_NO_FEED when no layer is alive).
/// RTM_ERR_NOT_FOUND for an unknown `id`; RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_set_available_bitrate(
    track: *mut rtm_track_t,
    id: u64,
    available_bps: u64,
    now_us: u64,
) -> rtm_status {
    handle::with(track, |h| {
        h.track
            .set_available_bitrate(id, available_bps, now_us)
            .map_err(track_status)
    })
}

/// Stops forwarding to subscriber `id` for a host reason (an
/// `rtm_pause_reason` other than RTM_PAUSE_NONE, usually RTM_PAUSE_MUTED)
/// until `rtm_track_resume`. RTM_ERR_INVALID_ARGUMENT for another value;
/// RTM_ERR_NOT_FOUND for an unknown `id`; RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_pause(
    track: *mut rtm_track_t,
    id: u64,
    reason: rtm_pause_reason,
) -> rtm_status {
    handle::with(track, |h| {
        let reason = match reason {
            RTM_PAUSE_BANDWIDTH => PauseReason::Bandwidth,
            RTM_PAUSE_MUTED => PauseReason::Muted,
            RTM_PAUSE_NO_FEED => PauseReason::NoFeed,
            _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
        };
        h.track.pause(id, reason).map_err(track_status)
    })
}

/// Undoes `rtm_track_pause` for subscriber `id` at `now_us`: it restarts at
/// the next keyframe, which is asked for (not from the history: the burst
/// would land on a link that may just have been too small).
/// RTM_ERR_NOT_FOUND for an unknown `id`; RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_resume(
    track: *mut rtm_track_t,
    id: u64,
    now_us: u64,
) -> rtm_status {
    handle::with(track, |h| h.track.resume(id, now_us).map_err(track_status))
}

/// Sets the round-trip time to the publisher, µs (spaces out repeated
/// keyframe requests). Default 100000. RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_set_rtt(track: *mut rtm_track_t, rtt_us: u64) -> rtm_status {
    handle::with(track, |h| {
        h.track.source_mut().set_rtt(rtt_us);
        Ok(())
    })
}

/// The round trip to subscriber `id`, µs (e.g. `rtm_bwe_estimate.rtt_us` of
/// its transport): a NACK for a packet sent to it again less than this
/// before is not answered (the copy is still on its way; see
/// `rtm_forwarder_retransmit_at`, counted in its forwarder stats'
/// `nacks_in_flight`). 0 (the default): every NACK is answered.
/// RTM_ERR_NOT_FOUND for an unknown subscriber; RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_set_subscriber_rtt(
    track: *mut rtm_track_t,
    id: u64,
    rtt_us: u64,
) -> rtm_status {
    handle::with(track, |h| {
        h.track.set_subscriber_rtt(id, rtt_us).map_err(track_status)
    })
}
