//! A forwarder driven by its own bandwidth share (no [`Allocator`]): the
//! target follows the estimate with the allocator's kind of hysteresis, so
//! that a constant estimate between two layers' fluctuating rates (real
//! encoder output overlaps) does not flip the target and ask for a keyframe
//! at every call.
//!
//! - Down at once when the target no longer fits (or stopped).
//! - Up only to a layer whose highest rate seen over the last
//!   [`UPGRADE_HOLD_US`] (two half windows) fits with [`UPGRADE_MARGIN_PERCENT`]
//!   to spare — a layer that fitted only for a moment is not taken — and not
//!   within [`UPGRADE_HOLD_US`] of a downgrade caused by bandwidth (the
//!   allocator's `upgrade_hold_us` default).
//! - From a pause (nothing fitted, or no feed) by the same rule, without
//!   waiting for the hold.
//!
//! [`Allocator`]: crate::simulcast::Allocator

use super::{Forwarder, PauseReason};
use crate::simulcast::select::{alive_layers, select_layer};
use crate::simulcast::{Layer, LayerBitrates, MAX_SPATIAL, MAX_TEMPORAL};

/// An upgrade needs the new layer's rate plus this share of it to fit.
pub const UPGRADE_MARGIN_PERCENT: u64 = 10;
/// No upgrade for this long after a downgrade caused by bandwidth.
pub const UPGRADE_HOLD_US: u64 = 5_000_000;

/// Highest rate of each layer seen in the current and the previous half
/// of the hold window (bits/s, saturating at `u32::MAX`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RatePeaks {
    halves: [[[u32; MAX_TEMPORAL]; MAX_SPATIAL]; 2],
    current_since_us: u64,
}

impl RatePeaks {
    fn update(&mut self, bitrates: &LayerBitrates, now: u64) {
        if now.saturating_sub(self.current_since_us) >= UPGRADE_HOLD_US / 2 {
            self.halves[1] = self.halves[0];
            self.halves[0] = Default::default();
            self.current_since_us = now;
        }
        for (peaks, rates) in self.halves[0].iter_mut().zip(&bitrates.0) {
            for (p, &r) in peaks.iter_mut().zip(rates) {
                *p = (*p).max(r.min(u64::from(u32::MAX)) as u32);
            }
        }
    }

    fn peak(&self, l: Layer) -> u64 {
        let (s, t) = (usize::from(l.spatial), usize::from(l.temporal));
        u64::from(self.halves[0][s][t].max(self.halves[1][s][t]))
    }

    /// The highest alive layer up to `max` whose peak fits `available` with
    /// the margin.
    fn best(&self, bitrates: &LayerBitrates, available: u64, max: Layer) -> Option<Layer> {
        alive_layers(bitrates, max)
            .filter(|&l| self.peak(l) * (100 + UPGRADE_MARGIN_PERCENT) / 100 <= available)
            .last()
    }
}

impl Forwarder {
    /// Picks the target from the source's measured layers and the bandwidth
    /// this subscriber has for this source, with hysteresis (module docs);
    /// pauses (reason `Bandwidth` or `NoFeed`) when nothing fits. The hold
    /// runs on the latest `now` given to [`forward`](Self::forward); use
    /// [`set_available_bitrate_at`](Self::set_available_bitrate_at) to give
    /// the time.
    pub fn set_available_bitrate(&mut self, bitrates: &LayerBitrates, available_bps: u64) {
        self.set_available_bitrate_at(bitrates, available_bps, self.clock_us);
    }

    /// [`set_available_bitrate`](Self::set_available_bitrate) at `now`.
    pub fn set_available_bitrate_at(
        &mut self,
        bitrates: &LayerBitrates,
        available_bps: u64,
        now: u64,
    ) {
        self.clock_us = self.clock_us.max(now);
        self.rate_peaks.update(bitrates, now);
        let max = self.config.max_layer;
        let Some(fits) = select_layer(bitrates, available_bps, max) else {
            let any_alive = select_layer(bitrates, u64::MAX, max).is_some();
            if any_alive && self.target.is_some() {
                self.last_downgrade_us = Some(now);
            }
            self.stop(if any_alive {
                PauseReason::Bandwidth
            } else {
                PauseReason::NoFeed
            });
            return;
        };
        let cautious = self.rate_peaks.best(bitrates, available_bps, max);
        let Some(target) = self.target else {
            // Paused: resume where the margin allows (else wait).
            if let Some(layer) = cautious {
                self.set_target(layer);
            }
            return;
        };
        let rate = bitrates.get(target);
        if rate == 0 || rate > available_bps || target > max {
            // Must go down (or the layer stopped: not a bandwidth downgrade).
            if rate > 0 && fits < target {
                self.last_downgrade_us = Some(now);
            }
            self.set_target(fits);
            return;
        }
        let held = self
            .last_downgrade_us
            .is_some_and(|t| now.saturating_sub(t) < UPGRADE_HOLD_US);
        if let Some(up) = cautious.filter(|&l| l > target && !held) {
            self.set_target(up);
        }
    }
}
