//! How long a missing packet may still be merely reordered: a forgetting
//! histogram of how late reordered packets came after their gap was
//! noticed, whose high quantile is the wait before a first NACK. libwebrtc's
//! `NackRequester` keeps the same kind of histogram, in packets; a time is
//! what a NACK wait needs (video packets come in bursts, audio every 20 ms).
//! The latest reordering seen, slowly forgotten, bounds the wait from below.

const BIN_US: u64 = 1_000;
const BINS: usize = 256;
/// Share of reordered packets that may still be requested (the rest wait).
const QUANTILE: f32 = 0.999;
/// Weight kept per sample (a time constant of 500 reordered packets).
const FORGET: f32 = 0.998;
/// How fast the latest reordering seen is forgotten, per sample: 10 ms
/// over 1,000 reordered packets. Reordering has a hard edge (the spread of
/// the path's delays) that a quantile of a few hundred samples misses.
const PEAK_DECAY_US: u64 = 10;
/// Until this many samples the configured wait is a floor.
const WARM_UP: u32 = 20;

#[derive(Debug, Clone)]
pub(crate) struct ReorderEstimator {
    histogram: [f32; BINS],
    total: f32,
    samples: u32,
    initial_us: u64,
    /// Latest reordering seen, decaying.
    peak_us: u64,
    wait_us: u64,
}

impl ReorderEstimator {
    pub fn new(initial_us: u64) -> Self {
        Self {
            histogram: [0.0; BINS],
            total: 0.0,
            samples: 0,
            initial_us,
            peak_us: 0,
            wait_us: initial_us,
        }
    }

    /// A gap was filled by the original packet `late_us` after it was noticed.
    pub fn on_reordered(&mut self, late_us: u64) {
        for b in &mut self.histogram {
            *b *= FORGET;
        }
        self.total = self.total * FORGET + 1.0;
        let bin = ((late_us / BIN_US) as usize).min(BINS - 1);
        self.histogram[bin] += 1.0;
        self.samples = self.samples.saturating_add(1);
        let late_us = late_us.min(BINS as u64 * BIN_US);
        self.peak_us = self.peak_us.saturating_sub(PEAK_DECAY_US).max(late_us);
        let allowed = (1.0 - QUANTILE) * self.total;
        let mut above = 0.0;
        let mut wait = BIN_US;
        for i in (0..BINS).rev() {
            above += self.histogram[i];
            if above > allowed {
                // The bin's upper edge and one more: the tail is sparse.
                wait = (i as u64 + 2) * BIN_US;
                break;
            }
        }
        let wait = wait.max(self.peak_us + BIN_US);
        self.wait_us = if self.samples < WARM_UP {
            wait.max(self.initial_us)
        } else {
            wait
        };
    }

    /// Wait before a first request: the configured one until reordering
    /// has been seen.
    pub fn wait_us(&self) -> u64 {
        self.wait_us
    }

    /// Whether enough reordering has been seen to trust the wait.
    pub fn warmed_up(&self) -> bool {
        self.samples >= WARM_UP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_tail_of_reordering_and_forgets_it() {
        let mut r = ReorderEstimator::new(5_000);
        assert_eq!(r.wait_us(), 5_000);
        r.on_reordered(1_000);
        assert_eq!(r.wait_us(), 5_000, "the configured wait until warmed up");
        for i in 0..400u64 {
            r.on_reordered((i % 30) * 1_000);
        }
        assert_eq!(r.wait_us(), 31_000);
        for _ in 0..6_000 {
            r.on_reordered(2_500);
        }
        assert_eq!(r.wait_us(), 4_000);
    }
}
