//! The bandwidth allocator from C (`rtm_allocator_*`): one per subscriber.

use crate::simulcast::{Allocation, Allocator, AllocatorConfig, LayerBitrates, TrackDemand};

use super::handle;
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

handle::poison_flag!(rtm_allocator);

/// Options of an allocator (a growable struct): fill with
/// `rtm_allocator_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_allocator_config {
    /// `sizeof` the caller's struct, set by `rtm_allocator_config_init`.
    pub struct_size: usize,
    /// Relative estimate change (finite, >= 0) below which nothing is
    /// re-allocated, unless the current allocation no longer fits; also
    /// the share of the estimate a spatial upgrade must leave unallocated
    /// (a layer's rate wobbles, and an upgrade taken back costs a second
    /// keyframe). Default 0.1.
    pub min_change: f64,
    /// No upgrade for this long after a bandwidth downgrade, µs.
    /// Default 5000000.
    pub upgrade_hold_us: u64,
    /// A track is not switched (up, or down after a collapse) to a spatial
    /// layer whose last keyframe would take longer than this to cross the
    /// link at what the other tracks leave of the estimate (they keep
    /// sending meanwhile), µs (on a slow link a big keyframe is a frozen
    /// picture); its lowest layer and the layer it is on are exempt; 0: no
    /// limit.
    /// Default 150000.
    pub max_keyframe_transfer_us: u64,
    /// For an estimate from the congestion controller (`rtm_bwe`): after a
    /// downgrade caused by bandwidth, which takes effect at once however
    /// large, allocations stay capped at the estimate it was made for until
    /// a probe confirms more (`rtm_allocator_on_probe_result`);
    /// `rtm_allocator_wanted_bps` says what to probe for.
    /// `upgrade_hold_us` then only bounds how long the cap lasts without a
    /// probe. Default false: upgrades wait for `upgrade_hold_us`.
    /// (Appended after 0.2.0: a caller compiled without it gets the
    /// default.)
    pub probe_confirmed_upgrades: bool,
}

/// `rtm_allocator_config` with its bool as a byte (same layout): a
/// caller's garbage byte is not undefined behaviour.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawConfig {
    struct_size: usize,
    min_change: f64,
    upgrade_hold_us: u64,
    max_keyframe_transfer_us: u64,
    probe_confirmed_upgrades: u8,
}
const _: () =
    assert!(core::mem::size_of::<RawConfig>() == core::mem::size_of::<rtm_allocator_config>());
const _: () = assert!(
    core::mem::offset_of!(RawConfig, probe_confirmed_upgrades)
        == core::mem::offset_of!(rtm_allocator_config, probe_confirmed_upgrades)
);

args::versioned_grown!(rtm_allocator_config, first_new_field: probe_confirmed_upgrades);
args::versioned_grown!(RawConfig, first_new_field: probe_confirmed_upgrades);
args::versioned!(rtm_track_demand, rtm_allocation);

fn default_raw() -> RawConfig {
    let d = AllocatorConfig::default();
    RawConfig {
        struct_size: core::mem::size_of::<rtm_allocator_config>(),
        min_change: d.min_change,
        upgrade_hold_us: d.upgrade_hold_us,
        max_keyframe_transfer_us: d.max_keyframe_transfer_us,
        probe_confirmed_upgrades: d.probe_confirmed_upgrades.into(),
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_INVALID_ARGUMENT when `size` is
/// that is not the sizeof of a released layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_config_init(
    config: *mut rtm_allocator_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config.cast::<RawConfig>(), size, default_raw()))
}

/// Creates an allocator for up to `max_tracks` tracks
/// (1..=RTM_ALLOCATOR_MAX_TRACKS; memory for them is reserved here). On
/// success `*out` owns it. `config` may be NULL for the defaults.
/// RTM_ERR_INVALID_ARGUMENT for `max_tracks` or a config field out of
/// range. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_new(
    config: *const rtm_allocator_config,
    max_tracks: usize,
    out: *mut *mut rtm_allocator_t,
) -> rtm_status {
    guard(|| {
        let c = if config.is_null() {
            default_raw()
        } else {
            args::read(config.cast::<RawConfig>(), default_raw())?
        };
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
            probe_confirmed_upgrades: c.probe_confirmed_upgrades != 0,
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

/// What one track can use, as the host knows it now (a growable struct:
/// fill each with `rtm_track_demand_init(&t, sizeof t)`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_track_demand {
    /// `sizeof` the caller's struct, set by `rtm_track_demand_init`.
    pub struct_size: usize,
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

/// Fills `*track` with a demand that wants nothing yet (priority 0, not
/// muted, every layer allowed, no measured layer, keyframe sizes unknown)
/// and sets `track->struct_size` to `size` (pass `sizeof *track`).
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_demand_init(
    track: *mut rtm_track_demand,
    size: usize,
) -> rtm_status {
    guard(|| args::init(track, size, default_demand()))
}

fn default_demand() -> rtm_track_demand {
    rtm_track_demand {
        struct_size: core::mem::size_of::<rtm_track_demand>(),
        priority: 0,
        muted: false,
        max_layer: rtm_layer {
            spatial: (RTM_SIMULCAST_MAX_SPATIAL - 1) as u8,
            temporal: (RTM_SIMULCAST_MAX_TEMPORAL - 1) as u8,
        },
        bitrates: rtm_layer_bitrates::default(),
        keyframe_bytes: [0; RTM_SIMULCAST_MAX_SPATIAL],
    }
}

/// One track's share (a growable struct: set `struct_size = sizeof` in the
/// first element of the output array; the library writes every element
/// with that size).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_allocation {
    pub struct_size: usize,
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
        struct_size: 0,
        has_layer: a.layer.is_some(),
        layer: a.layer.map(c_layer).unwrap_or_default(),
        bitrate: a.bitrate,
    }
}

/// Shares `estimate_bps` between the tracks `tracks[0..n]` at `now_us`:
/// first every track gets its lowest alive layer by priority while the
/// budget lasts, then each in turn climbs as high as the rest allows.
/// Writes one allocation per track to `out[0..n]` (set `out[0].struct_size`
/// first; the array's stride is that size). Pass the same tracks in
/// the same order on every call (the hysteresis compares with the last
/// call). The tracks' stride is `tracks[0].struct_size`; every element must
/// state the same size. RTM_ERR_INVALID_ARGUMENT for `n` above the
/// allocator's `max_tracks`, a `max_layer` out of range or an element whose
/// `struct_size` differs; RTM_ERR_BUFFER_TOO_SMALL
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
        let tracks = args::read_array(tracks, n, default_demand())?;
        let mut out = args::OutArray::new(out, out_cap)?;
        if n > h.max_tracks {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        if out.capacity() < n {
            return Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL);
        }
        h.tracks.clear();
        for t in tracks {
            let t = t?;
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
        for (i, a) in got.iter().enumerate() {
            out.set(i, c_allocation(a));
        }
        Ok(())
    })
}

/// The layer track `track` (its index in `rtm_allocator_allocate`'s
/// array) is forwarded at now, from `rtm_forwarder_current_layer`; NULL:
/// nothing is (a paused track). Call before each `rtm_allocator_allocate`.
/// The keyframe limit (`max_keyframe_transfer_us`) then counts a switch
/// away from it as a keyframe, even to the layer the last allocation
/// chose: a switch still waiting for its keyframe has not happened, and a
/// drop of the estimate meanwhile must not keep it as the layer "already
/// there". Without this call the last allocation stands for the forwarded
/// layer. RTM_ERR_NULL_POINTER for `alloc`; RTM_ERR_INVALID_ARGUMENT for
/// `track` at or above `max_tracks` or a layer out of range (nothing
/// changes). Allocates nothing; `layer` is read during the call only.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_set_forwarded_layer(
    alloc: *mut rtm_allocator_t,
    track: usize,
    forwarded: *const rtm_layer,
) -> rtm_status {
    handle::with(alloc, |h| {
        if track >= h.max_tracks {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let forwarded = if forwarded.is_null() {
            None
        } else {
            let l = &*forwarded;
            Some(layer(l.spatial, l.temporal)?)
        };
        h.alloc.set_forwarded_layer(track, forwarded);
        Ok(())
    })
}

/// A probe got `bps` through the subscriber's path (`*bps` of
/// `rtm_bwe_last_probe_result`, given once per new result): with
/// `probe_confirmed_upgrades`, after a bandwidth downgrade, allocations may
/// now go up to it, and the next `rtm_allocator_allocate` re-allocates.
/// Without a downgrade to confirm (or without the option) it changes
/// nothing. RTM_ERR_NULL_POINTER. Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_on_probe_result(
    alloc: *mut rtm_allocator_t,
    bps: u64,
) -> rtm_status {
    handle::with(alloc, |h| {
        h.alloc.on_probe_result(bps);
        Ok(())
    })
}

/// The estimate the cheapest next upgrade step of any (not muted) track
/// needs after the last `rtm_allocator_allocate`, bits/s, into `*bps`: the
/// allocation's total plus the step (divided by 1 - `min_change` for a
/// spatial step, the headroom it must leave), or what carries the step's keyframe
/// within `max_keyframe_transfer_us` beside the other tracks' rates, if more
/// (a paused track's lowest layer
/// counts as a step). What to probe for: give it to
/// `rtm_video_budget_probe_bps`, then `rtm_bwe_request_probe`. RTM_OK;
/// RTM_NOTHING_DUE when every track is at its maximum or nothing was
/// allocated yet (nothing to probe for; `*bps` untouched);
/// RTM_ERR_NULL_POINTER. Only reads the allocator.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_wanted_bps(
    alloc: *const rtm_allocator_t,
    bps: *mut u64,
) -> rtm_status {
    optional_out(alloc, bps, |h| h.alloc.wanted_bps())
}

/// The estimate allocations are capped at until a probe confirms more,
/// bits/s, into `*bps` (`probe_confirmed_upgrades`, after a bandwidth
/// downgrade, until a probe result or `upgrade_hold_us` lifts it). RTM_OK;
/// RTM_NOTHING_DUE when no cap holds (`*bps` untouched);
/// RTM_ERR_NULL_POINTER. Only reads the allocator.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_confirmed_bps(
    alloc: *const rtm_allocator_t,
    bps: *mut u64,
) -> rtm_status {
    optional_out(alloc, bps, |h| h.alloc.confirmed_bps())
}

/// A read of an optional value: `Some` written to `out` (RTM_OK), `None`
/// gives RTM_NOTHING_DUE with `out` untouched.
unsafe fn optional_out(
    alloc: *const rtm_allocator_t,
    out: *mut u64,
    get: impl FnOnce(&rtm_allocator) -> Option<u64>,
) -> rtm_status {
    let mut due = true;
    let status = handle::with_shared(alloc, |h| {
        let out = args::out(out)?;
        match get(h) {
            Some(v) => *out = v,
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
