//! What a track says about itself from C: layer bitrates and keyframe
//! sizes, its counters, its source's and forwarders' stats, and one
//! subscriber's state.

use super::*;

/// The measured bitrates of the track's alive layers over the last second
/// at `now_us`, into `*out` (e.g. for `rtm_track_demand`). Only reads the
/// track. RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_bitrates(
    track: *const rtm_track_t,
    now_us: u64,
    out: *mut rtm_layer_bitrates,
) -> rtm_status {
    handle::with_shared(track, |h| {
        let out = args::out(out)?;
        out.bps = h.track.source().bitrates(now_us).0;
        Ok(())
    })
}

/// Writes the bytes of each spatial layer's last complete keyframe into
/// `out[0..RTM_SIMULCAST_MAX_SPATIAL]` (0 for a layer without one yet), for
/// `rtm_track_demand.keyframe_bytes`. Only reads the track.
/// RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_keyframe_bytes(
    track: *const rtm_track_t,
    out: *mut u64,
) -> rtm_status {
    handle::with_shared(track, |h| {
        if out.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let out = args::slice_mut(out, RTM_SIMULCAST_MAX_SPATIAL)?;
        out.copy_from_slice(&h.track.source().keyframe_bytes());
        Ok(())
    })
}

/// Copies the track's counters into `*out`, at most `out->struct_size`
/// bytes (set it to `sizeof *out` first). Only reads the track.
/// RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for a bad `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_get_stats(
    track: *const rtm_track_t,
    out: *mut rtm_track_stats,
) -> rtm_status {
    handle::with_shared(track, |h| {
        let s = h.track.stats();
        args::write(
            out,
            rtm_track_stats {
                struct_size: 0,
                subscribers: h.track.subscriber_count() as u64,
                packets_in: s.packets_in,
                queue_full: s.queue_full,
                nacked: s.nacked,
                nack_queue_full: s.nack_queue_full,
                retransmitted: s.retransmitted,
                rtx_sent: s.rtx_sent,
                subscriber_plis: s.subscriber_plis,
                starts_from_history: s.starts_from_history,
                starts_with_request: s.starts_with_request,
                keyframe_requests_sent: s.keyframe_requests_sent,
                probe_padding_sent: s.probe_padding_sent,
            },
        )
    })
}

/// Copies the counters of the track's source (what was received from the
/// publisher) into `*out` (set `out->struct_size = sizeof *out` first).
/// Only reads the track. RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT
/// for a bad `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_get_source_stats(
    track: *const rtm_track_t,
    out: *mut rtm_source_stats,
) -> rtm_status {
    handle::with_shared(track, |h| {
        args::write(out, source_stats(h.track.source().stats()))
    })
}

/// Copies the forwarding counters of subscriber `id` into `*out` (set
/// `out->struct_size = sizeof *out` first). Only reads the track.
/// RTM_ERR_NOT_FOUND for an unknown `id`; RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT for a bad `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_get_forwarder_stats(
    track: *const rtm_track_t,
    id: u64,
    out: *mut rtm_forwarder_stats,
) -> rtm_status {
    handle::with_shared(track, |h| {
        args::check_out(out)?;
        let fwd = h.track.forwarder(id).ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        args::write(out, forwarder_stats(fwd.stats()))
    })
}

/// The layers and pause reason of subscriber `id` into `*out` (set
/// `out->struct_size = sizeof *out` first). Only reads the track.
/// RTM_ERR_NOT_FOUND for an unknown `id`; RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT for a bad `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_get_subscriber(
    track: *const rtm_track_t,
    id: u64,
    out: *mut rtm_track_subscriber_state,
) -> rtm_status {
    handle::with_shared(track, |h| {
        args::check_out(out)?;
        let fwd = h.track.forwarder(id).ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        let current = fwd.current_layer();
        let target = fwd.target_layer();
        args::write(
            out,
            rtm_track_subscriber_state {
                struct_size: 0,
                has_current: current.is_some(),
                current: current.map(c_layer).unwrap_or_default(),
                has_target: target.is_some(),
                target: target.map(c_layer).unwrap_or_default(),
                pause_reason: match fwd.pause_reason() {
                    None => RTM_PAUSE_NONE,
                    Some(PauseReason::Bandwidth) => RTM_PAUSE_BANDWIDTH,
                    Some(PauseReason::Muted) => RTM_PAUSE_MUTED,
                    Some(PauseReason::NoFeed) => RTM_PAUSE_NO_FEED,
                },
            },
        )
    })
}
