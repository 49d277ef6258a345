//! Sharing one subscriber's bandwidth estimate between its video tracks.
//!
//! Tracks are served in priority order (e.g. screenshare, then the speaker
//! on stage, then thumbnails): first every track gets its lowest alive layer
//! while the budget lasts, then each track in turn climbs as high as the
//! rest of the budget allows. Hysteresis keeps layers from oscillating:
//! estimate changes smaller than `min_change` are ignored, a spatial upgrade
//! must leave `min_change` of the estimate unallocated, and after a
//! downgrade caused by bandwidth no track is upgraded for `upgrade_hold_us`.
//!
//! With `probe_confirmed_upgrades` (for an estimate from a congestion
//! controller, [`crate::cc::Bwe`]) the way back up is proved instead of
//! waited for: a downgrade caused by bandwidth, however large, takes effect
//! at once and caps later allocations at the estimate it was made for,
//! until a probe result ([`Allocator::on_probe_result`]) confirms more;
//! [`Allocator::wanted_bps`] says what the next upgrade needs, the rate to
//! probe for. `upgrade_hold_us` then only bounds how long the cap stays
//! without any probe.

use super::select::alive_layers;
use super::{Layer, LayerBitrates, MAX_SPATIAL, MAX_TEMPORAL};

/// Options of an [`Allocator`]. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllocatorConfig {
    /// Relative estimate change below which nothing is re-allocated, unless
    /// the current allocation no longer fits; also the share of the
    /// estimate a spatial upgrade must leave unallocated (a layer's rate
    /// wobbles, and an upgrade taken back costs a second keyframe).
    /// Default 0.1.
    pub min_change: f64,
    /// No upgrade for this long after a bandwidth downgrade. Default 5 s.
    pub upgrade_hold_us: u64,
    /// A track is not switched (up, or down after a collapse) to a spatial
    /// layer whose keyframe (the first thing a switch sends) would take
    /// longer than this to cross the link at what the other tracks leave of
    /// the estimate (they keep sending meanwhile): on a slow link a big
    /// keyframe is a frozen picture. Its lowest layer is exempt (where a
    /// track goes when nothing else fits), and so is staying where it is.
    /// 0: no limit. Default 150 ms (with a frame interval, under the 200 ms a
    /// viewer notices).
    pub max_keyframe_transfer_us: u64,
    /// After a bandwidth downgrade, upgrades wait for a probe that confirms
    /// them (see the module comment) instead of the `upgrade_hold_us`
    /// timer. Default false.
    pub probe_confirmed_upgrades: bool,
}

impl Default for AllocatorConfig {
    fn default() -> Self {
        Self {
            min_change: 0.1,
            upgrade_hold_us: 5_000_000,
            max_keyframe_transfer_us: 150_000,
            probe_confirmed_upgrades: false,
        }
    }
}

impl AllocatorConfig {
    /// Whether every setting is in its documented range (`min_change` a
    /// finite, non-negative fraction); `Err` names the first that is not.
    /// Out-of-range values do not make the allocator fail or overflow.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(self.min_change.is_finite() && self.min_change >= 0.0) {
            return Err("min_change must be finite and not negative");
        }
        Ok(())
    }
}

/// What one track can use, as the host knows it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackDemand {
    /// Higher is served first.
    pub priority: u8,
    /// Highest layer wanted (window size); layers above are never assigned.
    pub max_layer: Layer,
    /// The source's measured layers ([`Source::bitrates`](super::Source::bitrates)).
    pub bitrates: LayerBitrates,
    /// The subscriber does not want this track now (hidden): it gets nothing.
    pub muted: bool,
    /// Bytes of each spatial layer's last keyframe
    /// ([`Source::keyframe_bytes`](super::Source::keyframe_bytes)); 0: unknown.
    pub keyframe_bytes: [u64; MAX_SPATIAL],
}

impl TrackDemand {
    /// What `source` offers now, with priority 1, every layer wanted, not muted.
    pub fn from_source(source: &super::Source, now: u64) -> Self {
        Self {
            priority: 1,
            max_layer: Layer::new(MAX_SPATIAL as u8 - 1, MAX_TEMPORAL as u8 - 1),
            bitrates: source.bitrates(now),
            muted: false,
            keyframe_bytes: source.keyframe_bytes(),
        }
    }

    /// Whether a switch to `spatial` (from `current`) sends a keyframe the
    /// link carries within `limit_us` at `estimate` bits/s (the track's
    /// share: what the other tracks leave). Staying needs no
    /// keyframe, and the lowest layer is where a track goes when nothing
    /// else fits. Down-switches are checked too: a keyframe too big for the
    /// new estimate freezes the picture as long as an upgrade's would (on
    /// a collapse to 250 kbit/s without a pacer, s1's keyframes did not fit
    /// the link's queue and the picture froze 3.6 s).
    fn keyframe_fits(
        &self,
        spatial: u8,
        current: Option<u8>,
        lowest: u8,
        estimate: u64,
        limit_us: u64,
    ) -> bool {
        let bytes = self
            .keyframe_bytes
            .get(usize::from(spatial))
            .copied()
            .unwrap_or(0);
        limit_us == 0
            || bytes == 0
            || current == Some(spatial)
            || spatial == lowest
            // u128: keyframe_bytes beyond 2^61 and huge limits cannot overflow.
            || u128::from(bytes) * 8 * 1_000_000 <= u128::from(limit_us) * u128::from(estimate)
    }
}

/// One track's share: its layer (`None`: paused) and that layer's bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allocation {
    pub layer: Option<Layer>,
    pub bitrate: u64,
}

/// Allocates layers across one subscriber's tracks. Holds at most
/// `max_tracks` allocations (set at creation; no allocation afterwards).
#[derive(Debug)]
pub struct Allocator {
    config: AllocatorConfig,
    allocations: Vec<Allocation>,
    order: Vec<usize>,
    scratch: Vec<Allocation>,
    /// Estimate the current allocation was made for.
    used_estimate: Option<u64>,
    last_downgrade_us: Option<u64>,
    /// The last allocation was capped by the upgrade hold.
    held: bool,
    /// What each track looked like at the last allocation (see `signature`).
    signatures: Vec<u32>,
    track_count: usize,
    /// Probe-confirmed mode: the estimate allocations are capped at since
    /// the last bandwidth downgrade (raised by probe results).
    confirmed: Option<u64>,
    /// A probe result raised the cap since the last allocation.
    confirmed_raised: bool,
    /// Total bitrate the next upgrade step needs, after the last allocation.
    wanted: Option<u64>,
    /// What each track's subscriber receives now, when the host says (see
    /// [`Allocator::set_forwarded_layer`]); `None`: the last allocation
    /// stands for it.
    forwarded: Vec<Option<Option<Layer>>>,
}

/// The parts of a demand that call for a new allocation when they change:
/// which layers are alive, the maximum, muted, priority.
fn signature(t: &TrackDemand) -> u32 {
    let mut alive = 0u32;
    for s in 0..MAX_SPATIAL {
        for tl in 0..MAX_TEMPORAL {
            if t.bitrates.0[s][tl] > 0 {
                alive |= 1 << (s * MAX_TEMPORAL + tl);
            }
        }
    }
    alive
        | u32::from(t.max_layer.spatial) << 12
        | u32::from(t.max_layer.temporal) << 14
        | u32::from(t.muted) << 16
        | u32::from(t.priority) << 17
}

impl Allocator {
    pub fn new(config: AllocatorConfig, max_tracks: usize) -> Self {
        Self {
            config,
            allocations: vec![Allocation::default(); max_tracks],
            order: Vec::with_capacity(max_tracks),
            scratch: vec![Allocation::default(); max_tracks],
            used_estimate: None,
            last_downgrade_us: None,
            held: false,
            signatures: vec![0; max_tracks],
            track_count: 0,
            confirmed: None,
            confirmed_raised: false,
            wanted: None,
            forwarded: vec![None; max_tracks],
        }
    }

    /// The layer track `track`'s subscriber receives now (the forwarder's
    /// current layer; `None`: nothing, a paused track), before the next
    /// `allocate`. The keyframe limit then counts a switch away from it as
    /// a keyframe, even to the layer the last allocation chose: a switch
    /// still waiting for its keyframe has not happened yet. Without it, a
    /// drop right after an upgrade kept the upgrade's layer as the one
    /// "already there", and its 12.7 kB keyframe crossed a 400 kbit/s link
    /// (the conference, seed 1: a 350 ms freeze). Indexes beyond
    /// `max_tracks` are ignored. Allocates nothing.
    pub fn set_forwarded_layer(&mut self, track: usize, layer: Option<Layer>) {
        if let Some(f) = self.forwarded.get_mut(track) {
            *f = Some(layer);
        }
    }

    /// The spatial layer track `i` receives now: what the host said, or
    /// else the last allocation's.
    fn current_spatial(&self, i: usize) -> Option<u8> {
        self.forwarded[i]
            .unwrap_or(self.allocations[i].layer)
            .map(|l| l.spatial)
    }

    /// A probe got `bps` through the subscriber's path (what
    /// [`crate::cc::Bwe::last_probe_result`] says): in probe-confirmed mode
    /// allocations may now go up to it. The next `allocate` re-allocates.
    pub fn on_probe_result(&mut self, bps: u64) {
        if let Some(c) = self.confirmed.as_mut() {
            if bps > *c {
                *c = bps;
                self.confirmed_raised = true;
            }
        }
    }

    /// The estimate allocations are capped at until a probe confirms more
    /// (probe-confirmed mode, after a bandwidth downgrade).
    pub fn confirmed_bps(&self) -> Option<u64> {
        self.confirmed
    }

    /// The estimate the cheapest next upgrade step of any track needs, after
    /// the last `allocate` (the allocation's total plus the step, with the
    /// headroom of a spatial upgrade, or what carries the step's keyframe in
    /// time beside the other tracks' rates, if more); `None` when every
    /// track is at its maximum (nothing to probe for).
    pub fn wanted_bps(&self) -> Option<u64> {
        self.wanted
    }

    /// The allocations of the last call, one per track.
    pub fn allocations(&self) -> &[Allocation] {
        &self.allocations[..self.track_count]
    }

    /// Allocates `estimate_bps` across `tracks` (at most `max_tracks`; the
    /// rest are paused) and returns one allocation per track.
    pub fn allocate(
        &mut self,
        estimate_bps: u64,
        tracks: &[TrackDemand],
        now: u64,
    ) -> &[Allocation] {
        let n = tracks.len().min(self.allocations.len());
        let tracks = &tracks[..n];
        let same_tracks = n == self.track_count;
        self.track_count = n;
        let hold_running = self
            .last_downgrade_us
            .is_some_and(|t| now.saturating_sub(t) < self.config.upgrade_hold_us);
        let probe_mode = self.config.probe_confirmed_upgrades;
        if probe_mode && !hold_running && self.confirmed.take().is_some() {
            // No probe came in time: the cap ends as the timer hold would.
            self.confirmed_raised = true;
        }
        let holding = hold_running && !probe_mode;
        let raised = core::mem::take(&mut self.confirmed_raised);
        // What this allocation may plan on.
        let planned = self.confirmed.map_or(estimate_bps, |c| c.min(estimate_bps));
        // Ignore small estimate changes while the tracks are as they were,
        // the allocation still fits, and no expired hold is capping it.
        let unchanged = same_tracks
            && tracks
                .iter()
                .zip(&self.signatures)
                .all(|(t, &sig)| signature(t) == sig);
        let small_change = self.used_estimate.is_some_and(|used| {
            (estimate_bps as f64 - used as f64).abs() < self.config.min_change * used as f64
        });
        if unchanged
            && small_change
            && !raised
            && self.total(tracks) <= planned
            && (holding || !self.held)
            && !self.paused_track_fits(tracks, planned)
        {
            return self.allocations();
        }
        for (sig, t) in self.signatures.iter_mut().zip(tracks) {
            *sig = signature(t);
        }
        self.held = holding && same_tracks;
        self.compute(planned, tracks, self.held);
        // A downgrade caused by bandwidth (not by a layer stopping or the
        // track being muted) starts the hold.
        let mut downgraded = false;
        for (i, t) in tracks.iter().enumerate() {
            let (old, new) = (self.allocations[i].layer, self.scratch[i].layer);
            let lower = match (old, new) {
                (Some(o), Some(n)) => n < o,
                (Some(_), None) => true,
                _ => false,
            };
            let forced = t.muted || old.is_some_and(|o| !t.bitrates.is_alive(o) || o > t.max_layer);
            downgraded |= same_tracks && lower && !forced;
        }
        if downgraded {
            self.last_downgrade_us = Some(now);
            if probe_mode {
                self.confirmed = Some(planned);
            }
        }
        self.allocations[..n].copy_from_slice(&self.scratch[..n]);
        self.used_estimate = Some(estimate_bps);
        self.wanted = self.next_step(tracks);
        self.allocations()
    }

    /// The estimate the cheapest step up of any (not muted) track needs:
    /// the allocation's total plus the step, or more when the step's
    /// keyframe needs more to cross within `max_keyframe_transfer_us`.
    /// Paused tracks' lowest layers count as steps.
    fn next_step(&self, tracks: &[TrackDemand]) -> Option<u64> {
        let total = self.total(tracks);
        let limit = self.config.max_keyframe_transfer_us;
        self.allocations[..tracks.len()]
            .iter()
            .zip(tracks)
            .filter(|(_, t)| !t.muted)
            .filter_map(|(a, t)| {
                let have = a.layer.map_or(0, |l| t.bitrates.get(l));
                // From the allocation, not the forwarded layer: a switch
                // decided has its keyframe asked for already.
                let current = a.layer.map(|l| l.spatial);
                alive_layers(&t.bitrates, t.max_layer)
                    .filter(|&l| a.layer.is_none_or(|c| l > c))
                    .find(|&l| t.bitrates.get(l) > have)
                    .map(|l| {
                        let mut step = (total - have).saturating_add(t.bitrates.get(l));
                        if current.is_some_and(|c| l.spatial > c) {
                            // The headroom a spatial upgrade leaves (see
                            // `compute`).
                            let share = (1.0 - self.config.min_change).max(0.01);
                            step = (step as f64 / share).ceil() as u64;
                        }
                        let key = if limit == 0 || current.is_some_and(|c| l.spatial <= c) {
                            0
                        } else {
                            // The keyframe's rate, on top of what the
                            // other tracks keep sending (see `compute`).
                            let bytes = t.keyframe_bytes.get(usize::from(l.spatial));
                            let bits = u128::from(bytes.copied().unwrap_or(0)) * 8 * 1_000_000;
                            let rate = (bits / u128::from(limit)).min(u128::from(u64::MAX)) as u64;
                            rate.saturating_add(total - have)
                        };
                        step.max(key)
                    })
            })
            .min()
    }

    /// Whether a paused (not muted) track's lowest layer now fits in what the
    /// others leave: layer rates move even when the estimate does not.
    fn paused_track_fits(&self, tracks: &[TrackDemand], estimate: u64) -> bool {
        let left = estimate.saturating_sub(self.total(tracks));
        self.allocations[..tracks.len()]
            .iter()
            .zip(tracks)
            .any(|(a, t)| {
                a.layer.is_none()
                    && !t.muted
                    && alive_layers(&t.bitrates, t.max_layer)
                        .next()
                        .is_some_and(|l| t.bitrates.get(l) <= left)
            })
    }

    fn total(&self, tracks: &[TrackDemand]) -> u64 {
        self.allocations[..tracks.len()]
            .iter()
            .zip(tracks)
            .map(|(a, t)| a.layer.map_or(0, |l| t.bitrates.get(l)))
            .sum()
    }

    /// Fills `scratch` with a new allocation. While `hold` is on, no track
    /// goes above its current layer.
    fn compute(&mut self, estimate: u64, tracks: &[TrackDemand], hold: bool) {
        let n = tracks.len();
        self.order.clear();
        self.order.extend(0..n);
        // Stable: equal priorities keep the host's order.
        self.order
            .sort_by_key(|&i| core::cmp::Reverse(tracks[i].priority));
        let mut budget = estimate;
        for a in &mut self.scratch[..n] {
            *a = Allocation::default();
        }
        let cap = |i: usize, alloc: &[Allocation]| {
            let t = &tracks[i];
            let mut max = t.max_layer;
            if hold {
                if let Some(cur) = alloc[i].layer {
                    max = max.min(cur);
                }
            }
            max
        };
        // Pass 1: the lowest alive layer of every track, by priority.
        for &i in &self.order {
            let t = &tracks[i];
            if t.muted {
                continue;
            }
            let max = cap(i, &self.allocations);
            if let Some(lowest) = alive_layers(&t.bitrates, max).next() {
                let rate = t.bitrates.get(lowest);
                if rate <= budget {
                    budget -= rate;
                    self.scratch[i] = Allocation {
                        layer: Some(lowest),
                        bitrate: rate,
                    };
                }
            }
        }
        // Pass 2: each track, by priority, climbs as far as the budget goes.
        // A spatial upgrade of a track that has a layer costs a keyframe: it
        // must leave `min_change` of the estimate unallocated, or the new
        // layer's own rate wobble (encoders overshoot by 5-10 %) takes it
        // back at the next allocation, a second keyframe on a link that
        // had no room for the first.
        let headroom = (estimate as f64 * self.config.min_change) as u64;
        for &i in &self.order {
            let t = &tracks[i];
            let Some(mut have) = self.scratch[i].layer else {
                continue;
            };
            let max = cap(i, &self.allocations);
            let current = self.current_spatial(i);
            let limit = self.config.max_keyframe_transfer_us;
            let lowest = have.spatial;
            // The rate this track's keyframe crosses the link at: what the
            // other tracks leave (their lowest layers, and the climbs of
            // those served first), since they keep sending meanwhile. The
            // sum stays the same as this track climbs.
            let share = budget + self.scratch[i].bitrate;
            for step in alive_layers(&t.bitrates, max)
                .filter(|l| t.keyframe_fits(l.spatial, current, lowest, share, limit))
            {
                let rate = t.bitrates.get(step);
                let extra = rate.saturating_sub(self.scratch[i].bitrate);
                let spare = if current.is_some_and(|c| step.spatial > c) {
                    headroom
                } else {
                    0
                };
                if step > have
                    && extra.saturating_add(spare) <= budget
                    && rate >= self.scratch[i].bitrate
                {
                    budget -= extra;
                    have = step;
                    self.scratch[i] = Allocation {
                        layer: Some(step),
                        bitrate: rate,
                    };
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "allocator_tests.rs"]
mod tests;
