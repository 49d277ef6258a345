//! The bandwidth allocator from C (`rtm_allocator_*`): one per subscriber.

use crate::simulcast::{Allocation, Allocator, AllocatorConfig, LayerBitrates, TrackDemand};

use super::handle::{self, Poison};
use super::simulcast::*;
use super::{args, guard, rtm_status};

/// Shares one subscriber's bandwidth estimate between its video tracks by
/// priority, with hysteresis (opaque). Create with `rtm_allocator_new`,
/// free with `rtm_allocator_free`. Calls on one allocator must not overlap;
/// it may move between threads.
pub struct rtm_allocator {
    alloc: Allocator,
    /// The demands of one call, converted (reserved at creation).
    tracks: Vec<TrackDemand>,
    max_tracks: usize,
    poisoned: bool,
}

/// The C name of the allocator handle.
pub type rtm_allocator_t = rtm_allocator;

impl Poison for rtm_allocator {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

/// Options of an allocator; fill with `rtm_allocator_config_default`, then
/// change fields. New fields are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_allocator_config {
    /// Relative estimate change (finite, >= 0) below which nothing is
    /// re-allocated, unless the current allocation no longer fits.
    /// Default 0.1.
    pub min_change: f64,
    /// No upgrade for this long after a bandwidth downgrade, µs.
    /// Default 5000000.
    pub upgrade_hold_us: u64,
    /// A track is not moved up to a spatial layer whose last keyframe would
    /// take longer than this to cross the link at the estimate, µs (on a
    /// slow link a big keyframe is a frozen picture); 0: no limit.
    /// Default 150000.
    pub max_keyframe_transfer_us: u64,
}

/// The default configuration. Thread-safe.
#[no_mangle]
pub extern "C" fn rtm_allocator_config_default() -> rtm_allocator_config {
    let d = AllocatorConfig::default();
    rtm_allocator_config {
        min_change: d.min_change,
        upgrade_hold_us: d.upgrade_hold_us,
        max_keyframe_transfer_us: d.max_keyframe_transfer_us,
    }
}

/// Creates an allocator for up to `max_tracks` tracks
/// (1..=RTM_ALLOCATOR_MAX_TRACKS; memory for them is reserved here). On
/// success `*out` owns it. RTM_ERR_INVALID_ARGUMENT for `max_tracks` or a
/// config field out of range. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_new(
    config: *const rtm_allocator_config,
    max_tracks: usize,
    out: *mut *mut rtm_allocator_t,
) -> rtm_status {
    guard(|| {
        let c = args::input(config)?;
        let out = args::out(out)?;
        let invalid = max_tracks == 0
            || max_tracks > RTM_ALLOCATOR_MAX_TRACKS
            || !c.min_change.is_finite()
            || c.min_change < 0.0;
        if invalid {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let config = AllocatorConfig {
            min_change: c.min_change,
            upgrade_hold_us: c.upgrade_hold_us,
            max_keyframe_transfer_us: c.max_keyframe_transfer_us,
        };
        *out = handle::into_raw(rtm_allocator {
            alloc: Allocator::new(config, max_tracks),
            tracks: Vec::with_capacity(max_tracks),
            max_tracks,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees an allocator. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_free(alloc: *mut rtm_allocator_t) {
    handle::free(alloc)
}

/// What one track can use, as the host knows it now.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_track_demand {
    /// Higher is served first; equal priorities keep the array's order.
    pub priority: u8,
    /// The subscriber does not want this track now (hidden): it gets
    /// nothing.
    pub muted: bool,
    /// Highest layer wanted (window size); layers above are never assigned.
    pub max_layer: rtm_layer,
    /// The source's measured layers (`rtm_source_bitrates`).
    pub bitrates: rtm_layer_bitrates,
    /// Bytes of each spatial layer's last keyframe
    /// (`rtm_source_keyframe_bytes`); 0: unknown (no keyframe limit).
    pub keyframe_bytes: [u64; RTM_SIMULCAST_MAX_SPATIAL],
}

/// One track's share.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_allocation {
    /// Whether the track gets a layer; false: pause its forwarder.
    pub has_layer: bool,
    /// The layer (give it to `rtm_forwarder_set_target`); valid when
    /// `has_layer`.
    pub layer: rtm_layer,
    /// That layer's measured bitrate, bits/s (0 without a layer).
    pub bitrate: u64,
}

fn c_allocation(a: &Allocation) -> rtm_allocation {
    rtm_allocation {
        has_layer: a.layer.is_some(),
        layer: a.layer.map(c_layer).unwrap_or_default(),
        bitrate: a.bitrate,
    }
}

/// Shares `estimate_bps` between the tracks `tracks[0..n]` at `now_us`:
/// first every track gets its lowest alive layer by priority while the
/// budget lasts, then each in turn climbs as high as the rest allows.
/// Writes one allocation per track to `out[0..n]`. Pass the same tracks in
/// the same order on every call (the hysteresis compares with the last
/// call). RTM_ERR_INVALID_ARGUMENT for `n` above the allocator's
/// `max_tracks` or a `max_layer` out of range; RTM_ERR_BUFFER_TOO_SMALL
/// for `out_cap` < `n` (nothing changes on either).
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_allocate(
    alloc: *mut rtm_allocator_t,
    estimate_bps: u64,
    tracks: *const rtm_track_demand,
    n: usize,
    now_us: u64,
    out: *mut rtm_allocation,
    out_cap: usize,
) -> rtm_status {
    handle::with(alloc, |h| {
        let tracks = args::slice(tracks, n)?;
        let out = args::slice_mut(out, out_cap)?;
        if n > h.max_tracks {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        if out_cap < n {
            return Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL);
        }
        h.tracks.clear();
        for t in tracks {
            let max_layer = layer(t.max_layer.spatial, t.max_layer.temporal)?;
            h.tracks.push(TrackDemand {
                priority: t.priority,
                max_layer,
                bitrates: LayerBitrates(t.bitrates.bps),
                muted: t.muted,
                keyframe_bytes: t.keyframe_bytes,
            });
        }
        let got = h.alloc.allocate(estimate_bps, &h.tracks, now_us);
        for (o, a) in out.iter_mut().zip(got) {
            *o = c_allocation(a);
        }
        Ok(())
    })
}
