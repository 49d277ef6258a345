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
        }
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
            let current = self.allocations[i].layer.map(|l| l.spatial);
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
mod tests {
    use super::*;

    fn rates(scale: u64) -> LayerBitrates {
        let mut r = LayerBitrates::default();
        r.0[0] = [60_000 * scale, 90_000 * scale, 150_000 * scale, 0];
        r.0[1] = [200_000 * scale, 300_000 * scale, 500_000 * scale, 0];
        r.0[2] = [600_000 * scale, 900_000 * scale, 1_500_000 * scale, 0];
        r
    }

    fn track(priority: u8) -> TrackDemand {
        TrackDemand {
            priority,
            max_layer: Layer::new(2, 2),
            bitrates: rates(1),
            muted: false,
            keyframe_bytes: [0; MAX_SPATIAL],
        }
    }

    #[test]
    fn no_upgrade_to_a_keyframe_the_link_cannot_carry_in_time() {
        let mut a = Allocator::new(AllocatorConfig::default(), 1);
        let mut t = [track(1)];
        // 40 KB keyframes on the top layer: 320 kbit, 213 ms at 1.5 Mbit/s.
        t[0].keyframe_bytes = [4_000, 12_000, 40_000];
        assert_eq!(
            a.allocate(1_500_000, &t, 0)[0].layer,
            Some(Layer::new(1, 2))
        );
        // At 3 Mbit/s it takes 107 ms: allowed.
        assert_eq!(
            a.allocate(3_000_000, &t, 100_000)[0].layer,
            Some(Layer::new(2, 2))
        );
        // Already there: staying costs no keyframe.
        let mut b = Allocator::new(AllocatorConfig::default(), 1);
        t[0].keyframe_bytes = [0; MAX_SPATIAL];
        assert_eq!(
            b.allocate(1_200_000, &t, 0)[0].layer,
            Some(Layer::new(2, 1))
        );
        t[0].keyframe_bytes = [4_000, 12_000, 40_000];
        assert_eq!(
            b.allocate(1_000_000, &t, 100_000)[0].layer,
            Some(Layer::new(2, 1))
        );
        // No limit when switched off.
        let mut c = Allocator::new(
            AllocatorConfig {
                max_keyframe_transfer_us: 0,
                ..Default::default()
            },
            1,
        );
        assert_eq!(
            c.allocate(1_500_000, &t, 0)[0].layer,
            Some(Layer::new(2, 2))
        );
    }

    /// The other tracks keep sending while a keyframe crosses: it gets what
    /// they leave, not the whole estimate. Here the speaker's top layer
    /// (1.5 Mbit/s) leaves 2 Mbit/s of 3.5 to a thumbnail whose 40 KB
    /// keyframe then takes 160 ms (the whole estimate: 91 ms).
    #[test]
    fn a_keyframe_must_fit_in_what_the_other_tracks_leave() {
        let mut speaker = track(10);
        speaker.keyframe_bytes = [4_000, 12_000, 20_000];
        let mut thumbnail = track(1);
        thumbnail.keyframe_bytes = [4_000, 12_000, 40_000];
        let t = [speaker, thumbnail];
        let mut a = Allocator::new(AllocatorConfig::default(), 2);
        let got = a.allocate(3_500_000, &t, 0);
        assert_eq!(got[0].layer, Some(Layer::new(2, 2)));
        assert_eq!(got[1].layer, Some(Layer::new(1, 2)));
        // What the next step needs: the keyframe's 2.13 Mbit/s for 150 ms
        // beside the speaker's 1.5 Mbit/s.
        assert_eq!(a.wanted_bps(), Some(3_633_333));
        // At 4.3 Mbit/s the speaker leaves 2.8: 114 ms, allowed.
        let got = a.allocate(4_300_000, &t, 100_000);
        assert_eq!(got[1].layer, Some(Layer::new(2, 2)));
    }

    /// A collapse from the top layer to 250 kbit/s: s1's base layer (200
    /// kbit/s) fits the rate, but its 12 kB keyframe takes 384 ms to cross
    /// the link; the track goes to s0, whose keyframe is the least a switch
    /// can send (before: (1,0)).
    #[test]
    fn a_down_switch_skips_a_layer_whose_keyframe_does_not_fit_in_time() {
        let mut a = Allocator::new(AllocatorConfig::default(), 1);
        let mut t = [track(1)];
        t[0].keyframe_bytes = [4_000, 12_000, 40_000];
        assert_eq!(
            a.allocate(3_000_000, &t, 0)[0].layer,
            Some(Layer::new(2, 2))
        );
        assert_eq!(
            a.allocate(250_000, &t, 100_000)[0].layer,
            Some(Layer::new(0, 2))
        );
        // s0's own keyframe does not fit either (4 kB at 150 kbit/s, 213
        // ms): the lowest layer is where a track goes when nothing else does.
        let mut b = Allocator::new(AllocatorConfig::default(), 1);
        b.allocate(3_000_000, &t, 0);
        assert_eq!(
            b.allocate(150_000, &t, 100_000)[0].layer,
            Some(Layer::new(0, 2))
        );
    }

    #[test]
    fn priority_first_then_the_rest() {
        let mut a = Allocator::new(AllocatorConfig::default(), 4);
        let tracks = [track(1), track(9), track(1)];
        let got = a.allocate(2_000_000, &tracks, 0).to_vec();
        // Everyone gets 60 kbit/s first; the stage track climbs to what is left.
        assert_eq!(got[1].layer, Some(Layer::new(2, 2)), "{got:?}");
        // Then the others in turn, with what is left: 1.5 M + 300 k + 200 k.
        assert_eq!(got[0].layer, Some(Layer::new(1, 1)), "{got:?}");
        assert_eq!(got[2].layer, Some(Layer::new(1, 0)), "{got:?}");
        assert_eq!(got.iter().map(|a| a.bitrate).sum::<u64>(), 2_000_000);
    }

    #[test]
    fn too_little_pauses_the_lowest_priority() {
        let mut a = Allocator::new(AllocatorConfig::default(), 4);
        let got = a.allocate(100_000, &[track(1), track(5)], 0).to_vec();
        assert_eq!(got[1].layer, Some(Layer::new(0, 1)));
        assert_eq!(got[0].layer, None);
    }

    #[test]
    fn hysteresis_no_oscillation() {
        let mut a = Allocator::new(AllocatorConfig::default(), 2);
        let t = [track(1)];
        assert_eq!(
            a.allocate(1_000_000, &t, 0)[0].layer,
            Some(Layer::new(2, 1))
        );
        // Small wobble: nothing changes.
        for (i, e) in [960_000, 1_050_000, 940_000, 1_080_000]
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                a.allocate(e, &t, 100_000 * (i as u64 + 1))[0].layer,
                Some(Layer::new(2, 1))
            );
        }
        // A real drop: downgrade now.
        assert_eq!(
            a.allocate(600_000, &t, 1_000_000)[0].layer,
            Some(Layer::new(2, 0))
        );
        // Back up at once: held for 5 s.
        assert_eq!(
            a.allocate(2_000_000, &t, 2_000_000)[0].layer,
            Some(Layer::new(2, 0))
        );
        assert_eq!(
            a.allocate(2_000_000, &t, 6_100_000)[0].layer,
            Some(Layer::new(2, 2))
        );
    }

    #[test]
    fn a_spatial_upgrade_needs_headroom_so_the_layers_wobble_does_not_take_it_back() {
        // The allocation is 0/2 (150 k); the estimate, 205 k, barely covers
        // 1/0 (200 k). Upgrading would cost a keyframe and be taken back at
        // the next allocation when 1/0 sends 210 k (encoders overshoot).
        let mut a = Allocator::new(AllocatorConfig::default(), 1);
        let mut t = [track(1)];
        t[0].max_layer = Layer::new(1, 2);
        assert_eq!(a.allocate(180_000, &t, 0)[0].layer, Some(Layer::new(0, 2)));
        let layers: Vec<_> = [205_000, 205_000]
            .into_iter()
            .zip([200_000, 210_000])
            .enumerate()
            .map(|(i, (estimate, rate))| {
                t[0].bitrates.0[1][0] = rate;
                a.allocate(estimate, &t, 200_000 * (i as u64 + 1))[0].layer
            })
            .collect();
        assert_eq!(layers, [Some(Layer::new(0, 2)); 2], "no up-and-down");
        // With min_change (10 %) to spare it goes up, and a wobble of the
        // layer's rate within that keeps it there.
        t[0].bitrates.0[1][0] = 200_000;
        assert_eq!(
            a.allocate(230_000, &t, 600_000)[0].layer,
            Some(Layer::new(1, 0))
        );
        t[0].bitrates.0[1][0] = 215_000;
        assert_eq!(
            a.allocate(225_000, &t, 800_000)[0].layer,
            Some(Layer::new(1, 0))
        );
    }

    #[test]
    fn a_paused_track_resumes_when_its_layers_get_cheaper() {
        let mut a = Allocator::new(AllocatorConfig::default(), 1);
        let mut t = [track(1)];
        t[0].bitrates = rates(10); // a keyframe burst at the start
        assert_eq!(a.allocate(300_000, &t, 0)[0].layer, None);
        t[0].bitrates = rates(1);
        assert_eq!(
            a.allocate(300_000, &t, 100_000)[0].layer,
            Some(Layer::new(1, 1))
        );
    }

    #[test]
    fn a_stopped_layer_is_left_at_once_and_does_not_hold() {
        let mut a = Allocator::new(AllocatorConfig::default(), 1);
        let mut t = [track(1)];
        assert_eq!(
            a.allocate(5_000_000, &t, 0)[0].layer,
            Some(Layer::new(2, 2))
        );
        t[0].bitrates.0[2] = [0; 4];
        assert_eq!(
            a.allocate(5_000_000, &t, 10)[0].layer,
            Some(Layer::new(1, 2))
        );
        t[0].bitrates = rates(1);
        assert_eq!(
            a.allocate(5_000_000, &t, 20)[0].layer,
            Some(Layer::new(2, 2))
        );
        t[0].muted = true;
        assert_eq!(a.allocate(5_000_000, &t, 30)[0].layer, None);
    }

    fn probe_mode() -> Allocator {
        Allocator::new(
            AllocatorConfig {
                probe_confirmed_upgrades: true,
                ..AllocatorConfig::default()
            },
            2,
        )
    }

    #[test]
    fn probe_mode_downgrades_at_once_and_upgrades_only_when_a_probe_confirms() {
        let mut a = probe_mode();
        let t = [track(1)];
        assert_eq!(
            a.allocate(1_600_000, &t, 0)[0].layer,
            Some(Layer::new(2, 2))
        );
        // Nothing left to upgrade: nothing to probe for.
        assert_eq!(a.wanted_bps(), None);
        // A drop of a third: the next call downgrades.
        assert_eq!(
            a.allocate(1_000_000, &t, 100_000)[0].layer,
            Some(Layer::new(2, 1))
        );
        assert_eq!(a.confirmed_bps(), Some(1_000_000));
        // The next step (2/2, 1.5 M) is what to probe for.
        assert_eq!(a.wanted_bps(), Some(1_500_000));
        // The estimate climbs back without a probe: capped.
        assert_eq!(
            a.allocate(1_700_000, &t, 200_000)[0].layer,
            Some(Layer::new(2, 1))
        );
        // A probe that gets only 1.2 M through confirms nothing new.
        a.on_probe_result(1_200_000);
        assert_eq!(
            a.allocate(1_700_000, &t, 300_000)[0].layer,
            Some(Layer::new(2, 1))
        );
        // One at 1.6 M does, long before the 5 s timer hold would end.
        a.on_probe_result(1_600_000);
        assert_eq!(
            a.allocate(1_700_000, &t, 400_000)[0].layer,
            Some(Layer::new(2, 2))
        );
    }

    #[test]
    fn probe_mode_cap_ends_with_the_hold_when_no_probe_comes() {
        let mut a = probe_mode();
        let t = [track(1)];
        a.allocate(1_600_000, &t, 0);
        a.allocate(700_000, &t, 100_000);
        assert_eq!(a.allocations()[0].layer, Some(Layer::new(2, 0)));
        assert_eq!(
            a.allocate(1_600_000, &t, 5_000_000)[0].layer,
            Some(Layer::new(2, 0))
        );
        assert_eq!(
            a.allocate(1_600_000, &t, 5_200_000)[0].layer,
            Some(Layer::new(2, 2))
        );
        assert_eq!(a.confirmed_bps(), None);
    }

    #[test]
    fn without_probe_mode_probe_results_change_nothing() {
        let mut a = Allocator::new(AllocatorConfig::default(), 1);
        let t = [track(1)];
        a.allocate(1_600_000, &t, 0);
        a.allocate(1_000_000, &t, 100_000);
        a.on_probe_result(5_000_000);
        assert_eq!(a.confirmed_bps(), None);
        assert_eq!(
            a.allocate(1_700_000, &t, 200_000)[0].layer,
            Some(Layer::new(2, 1)),
            "the timer hold still applies"
        );
    }

    #[test]
    fn wanted_covers_the_next_keyframe_too() {
        let mut a = probe_mode();
        let mut t = [track(1)];
        // 40 KB top-layer keyframes: the step to 2/x needs 320 kbit in
        // 150 ms, 2.13 Mbit/s, more than its bitrate.
        t[0].keyframe_bytes = [4_000, 12_000, 40_000];
        assert_eq!(
            a.allocate(1_000_000, &t, 0)[0].layer,
            Some(Layer::new(1, 2))
        );
        assert_eq!(a.wanted_bps(), Some(2_133_333));
    }
}
