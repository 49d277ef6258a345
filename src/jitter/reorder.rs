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

/// The sample weight past which every weight is scaled back (f64 holds
/// 500 times it with room to spare): once per ~200,000 samples.
const RENORMALIZE_AT: f64 = 1e150;

/// The histogram forgets by giving each new sample `1 / FORGET` times the
/// weight of the previous one (the same shares as scaling every bin by
/// `FORGET` per sample, without touching them), and its quantile bin is
/// kept with the weight at and above it, moved a bin at a time: a sample
/// costs O(1) amortised, not two passes over 256 bins.
#[derive(Debug, Clone)]
pub(crate) struct ReorderEstimator {
    histogram: [f64; BINS],
    total: f64,
    /// Weight of the latest sample.
    weight: f64,
    /// The quantile bin: the highest whose weight and that of the bins
    /// above it exceed the share allowed to wait longer ...
    quantile_bin: usize,
    /// ... and that weight.
    tail: f64,
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
            weight: 1.0,
            quantile_bin: 0,
            tail: 0.0,
            samples: 0,
            initial_us,
            peak_us: 0,
            wait_us: initial_us,
        }
    }

    /// A gap was filled by the original packet `late_us` after it was noticed.
    pub fn on_reordered(&mut self, late_us: u64) {
        if self.samples > 0 {
            self.weight /= f64::from(FORGET);
        }
        if self.weight > RENORMALIZE_AT {
            let scale = 1.0 / self.weight;
            for b in &mut self.histogram {
                *b *= scale;
            }
            self.total *= scale;
            self.tail *= scale;
            self.weight = 1.0;
        }
        let bin = ((late_us / BIN_US) as usize).min(BINS - 1);
        self.histogram[bin] += self.weight;
        self.total += self.weight;
        if bin >= self.quantile_bin {
            self.tail += self.weight;
        }
        self.samples = self.samples.saturating_add(1);
        let late_us = late_us.min(BINS as u64 * BIN_US);
        self.peak_us = self.peak_us.saturating_sub(PEAK_DECAY_US).max(late_us);
        let allowed = (1.0 - f64::from(QUANTILE)) * self.total;
        let mut q = self.quantile_bin;
        while q + 1 < BINS && self.tail - self.histogram[q] > allowed {
            self.tail -= self.histogram[q];
            q += 1;
        }
        while q > 0 && self.tail <= allowed {
            q -= 1;
            self.tail += self.histogram[q];
        }
        self.quantile_bin = q;
        // The bin's upper edge and one more: the tail is sparse.
        let wait = ((q as u64 + 2) * BIN_US).max(self.peak_us + BIN_US);
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

    /// The estimator as first written: every bin scaled per sample, the
    /// quantile found by a walk from the top.
    fn reference_waits(samples: &[u64], initial_us: u64) -> Vec<u64> {
        let mut histogram = [0.0f64; BINS];
        let (mut total, mut peak, mut waits) = (0.0f64, 0u64, vec![]);
        for (n, &late_us) in samples.iter().enumerate() {
            for b in &mut histogram {
                *b *= f64::from(FORGET);
            }
            total = total * f64::from(FORGET) + 1.0;
            histogram[((late_us / BIN_US) as usize).min(BINS - 1)] += 1.0;
            peak = peak
                .saturating_sub(PEAK_DECAY_US)
                .max(late_us.min(BINS as u64 * BIN_US));
            let allowed = (1.0 - f64::from(QUANTILE)) * total;
            let (mut above, mut wait) = (0.0, BIN_US);
            for i in (0..BINS).rev() {
                above += histogram[i];
                if above > allowed {
                    wait = (i as u64 + 2) * BIN_US;
                    break;
                }
            }
            let wait = wait.max(peak + BIN_US);
            waits.push(if n + 1 < WARM_UP as usize {
                wait.max(initial_us)
            } else {
                wait
            });
        }
        waits
    }

    #[test]
    fn gives_what_the_full_walk_gives() {
        let mut rng = crate::sim::Rng::new(9);
        // Phases of different reordering, with rare far outliers; long
        // enough for the weights to be scaled back (~173,000 samples).
        let samples: Vec<u64> = (0..200_000u64)
            .map(|i| {
                let spread = [3_000, 40_000, 8_000, 300_000][(i / 7_000 % 4) as usize];
                if rng.below(1_000) == 0 {
                    rng.below(400_000)
                } else {
                    rng.below(spread)
                }
            })
            .collect();
        let expected = reference_waits(&samples, 5_000);
        let mut r = ReorderEstimator::new(5_000);
        let mut differ = 0;
        for (i, &s) in samples.iter().enumerate() {
            r.on_reordered(s);
            differ += usize::from(r.wait_us() != expected[i]);
        }
        assert_eq!(differ, 0, "of {}", samples.len());
    }

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
