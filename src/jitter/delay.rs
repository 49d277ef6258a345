//! Target delay from measured arrival variation: RFC 3550 interarrival
//! jitter for the stats, and a forgetting histogram of each packet's delay
//! above the fastest recent packet, whose percentile sets the target (as
//! NetEq does). The target rises at once on a spike and falls slowly.

/// Width of one histogram bin.
const BIN_US: u64 = 2_000;
/// Bins cover 0..1024 ms of relative delay; later packets count in the last.
const BINS: usize = 512;
/// The fastest-transit tracker keeps the minimum of this many 1 s buckets.
const MIN_BUCKETS: usize = 8;
const BUCKET_US: u64 = 1_000_000;

/// How the target delay is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayConfig {
    pub min_delay_us: u64,
    pub max_delay_us: u64,
    /// Fixed delay instead of adaptation (clamped to min/max).
    pub fixed_delay_us: Option<u64>,
    /// Share of packets that should arrive before their playout time.
    pub quantile: f64,
    /// Weight kept by the histogram per packet (0.998 forgets with a time
    /// constant of 500 packets: 10 s of 20 ms audio).
    pub forget_factor: f64,
    /// How fast the target may fall, in µs per second.
    pub shrink_us_per_s: u64,
    /// Added above the percentile.
    pub margin_us: u64,
}

impl Default for DelayConfig {
    fn default() -> Self {
        Self {
            min_delay_us: 0,
            max_delay_us: 1_000_000,
            fixed_delay_us: None,
            quantile: 0.95,
            forget_factor: 0.998,
            shrink_us_per_s: 20_000,
            margin_us: 0,
        }
    }
}

/// Arrival-time statistics of one stream and the target delay they imply.
#[derive(Debug, Clone)]
pub struct DelayEstimator {
    config: DelayConfig,
    clock_rate: u32,
    /// RFC 3550 jitter in timestamp units.
    jitter: f64,
    last_transit_us: Option<i64>,
    /// Minimum transit per 1 s bucket of arrival time.
    bucket_min: [i64; MIN_BUCKETS],
    bucket_index: u64,
    base_transit_us: i64,
    histogram: Box<[f64; BINS]>,
    weight: f64,
    total: f64,
    samples: u64,
    percentile_us: u64,
    target_us: u64,
    last_target_update: u64,
}

impl DelayEstimator {
    pub fn new(config: DelayConfig, clock_rate: u32) -> Self {
        let start = config.fixed_delay_us.unwrap_or(config.min_delay_us);
        Self {
            config,
            clock_rate: clock_rate.max(1),
            jitter: 0.0,
            last_transit_us: None,
            bucket_min: [i64::MAX; MIN_BUCKETS],
            bucket_index: 0,
            base_transit_us: i64::MAX,
            histogram: Box::new([0.0; BINS]),
            weight: 1.0,
            total: 0.0,
            samples: 0,
            percentile_us: 0,
            target_us: start.clamp(config.min_delay_us, config.max_delay_us),
            last_target_update: 0,
        }
    }

    /// Media time of an unwrapped RTP timestamp, in µs.
    #[inline]
    pub fn media_us(&self, ext_ts: i64) -> i64 {
        let us = (i128::from(ext_ts) * 1_000_000) / i128::from(self.clock_rate);
        us.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Records the arrival at `now` of a packet stamped `ext_ts`. Retransmitted
    /// packets should not be recorded: their lateness is the sender's
    /// reaction time, not the network's variation.
    pub fn on_arrival(&mut self, ext_ts: i64, now: u64) {
        let transit = (now.min(i64::MAX as u64) as i64).saturating_sub(self.media_us(ext_ts));
        if let Some(last) = self.last_transit_us {
            let d = transit.saturating_sub(last).unsigned_abs() as f64 * f64::from(self.clock_rate)
                / 1e6;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit_us = Some(transit);

        let bucket = now / BUCKET_US;
        if bucket != self.bucket_index {
            // Clear the buckets the clock moved past (all of them after a long pause).
            let steps = (bucket.saturating_sub(self.bucket_index)).min(MIN_BUCKETS as u64);
            for i in 1..=steps {
                self.bucket_min[((self.bucket_index + i) % MIN_BUCKETS as u64) as usize] = i64::MAX;
            }
            self.bucket_index = bucket;
        }
        let slot = &mut self.bucket_min[(bucket % MIN_BUCKETS as u64) as usize];
        *slot = (*slot).min(transit);
        self.base_transit_us = self.bucket_min.iter().copied().min().unwrap_or(transit);

        let relative = transit.saturating_sub(self.base_transit_us).max(0) as u64;
        let bin = ((relative / BIN_US) as usize).min(BINS - 1);
        // Forgetting by growing the weight of new samples; renormalise rarely.
        self.weight /= self.config.forget_factor;
        self.histogram[bin] += self.weight;
        self.total += self.weight;
        if self.weight > 1e12 {
            for b in self.histogram.iter_mut() {
                *b /= self.weight;
            }
            self.total /= self.weight;
            self.weight = 1.0;
        }
        self.samples += 1;
        if self.samples % 8 == 1 {
            self.percentile_us = self.percentile();
        }
        self.update_target(now);
    }

    fn percentile(&self) -> u64 {
        let want = self.config.quantile * self.total;
        let mut sum = 0.0;
        for (i, w) in self.histogram.iter().enumerate() {
            sum += w;
            if sum >= want {
                return (i as u64 + 1) * BIN_US;
            }
        }
        BINS as u64 * BIN_US
    }

    fn update_target(&mut self, now: u64) {
        let c = &self.config;
        let desired = match c.fixed_delay_us {
            Some(fixed) => fixed,
            None => self.percentile_us + c.margin_us,
        }
        .clamp(c.min_delay_us, c.max_delay_us);
        if desired >= self.target_us || c.fixed_delay_us.is_some() {
            self.target_us = desired;
        } else {
            let elapsed = now.saturating_sub(self.last_target_update);
            let step = elapsed.saturating_mul(c.shrink_us_per_s) / 1_000_000;
            self.target_us = self.target_us.saturating_sub(step).max(desired);
        }
        self.last_target_update = now;
    }

    /// When a packet stamped `ext_ts` should be played, in local µs. `None`
    /// before the first arrival.
    #[inline]
    pub fn playout_time(&self, ext_ts: i64) -> Option<u64> {
        if self.base_transit_us == i64::MAX {
            return None;
        }
        let t = self
            .media_us(ext_ts)
            .saturating_add(self.base_transit_us)
            .saturating_add(self.target_us as i64);
        Some(t.max(0) as u64)
    }

    pub fn target_us(&self) -> u64 {
        self.target_us
    }

    /// RFC 3550 interarrival jitter in seconds (webrtc-stats `jitter`).
    pub fn jitter_seconds(&self) -> f64 {
        self.jitter / f64::from(self.clock_rate)
    }

    /// Forgets the timing (a stream reset); keeps the current target.
    pub fn reset_timing(&mut self) {
        self.last_transit_us = None;
        self.bucket_min = [i64::MAX; MIN_BUCKETS];
        self.base_transit_us = i64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;

    const RATE: u32 = 48_000;

    fn feed(
        est: &mut DelayEstimator,
        rng: &mut Rng,
        start_pkt: u64,
        n: u64,
        jitter_ms: u64,
    ) -> u64 {
        let mut now = 0;
        for i in start_pkt..start_pkt + n {
            let send = i * 20_000;
            now = send + 50_000 + rng.below(jitter_ms * 1000 + 1);
            est.on_arrival((i * 960) as i64, now);
        }
        now
    }

    #[test]
    fn target_follows_the_percentile_of_jitter() {
        let mut est = DelayEstimator::new(DelayConfig::default(), RATE);
        let mut rng = Rng::new(1);
        feed(&mut est, &mut rng, 0, 3000, 40);
        // Uniform 0..40 ms: the 95th percentile is 38 ms.
        let t = est.target_us();
        assert!((36_000..=44_000).contains(&t), "target {t}");
        // RFC 3550 jitter of uniform(0, 40 ms) delays is ~13 ms.
        let j = est.jitter_seconds();
        assert!((0.010..0.017).contains(&j), "jitter {j}");
    }

    #[test]
    fn grows_at_once_and_comes_back_down_slowly() {
        let mut est = DelayEstimator::new(DelayConfig::default(), RATE);
        let mut rng = Rng::new(2);
        feed(&mut est, &mut rng, 0, 1000, 10);
        let calm = est.target_us();
        feed(&mut est, &mut rng, 1000, 100, 200);
        let spiked = est.target_us();
        assert!(spiked > calm + 100_000, "calm {calm} spiked {spiked}");
        feed(&mut est, &mut rng, 1100, 250, 10);
        let soon_after = est.target_us();
        assert!(
            soon_after > calm + 50_000,
            "must not drop at once: {soon_after}"
        );
        feed(&mut est, &mut rng, 1350, 3000, 10);
        let later = est.target_us();
        assert!(
            later < calm + 10_000,
            "must come back down: calm {calm} later {later}"
        );
    }

    #[test]
    fn fixed_and_bounds() {
        let cfg = DelayConfig {
            fixed_delay_us: Some(80_000),
            ..DelayConfig::default()
        };
        let mut est = DelayEstimator::new(cfg, RATE);
        let mut rng = Rng::new(3);
        feed(&mut est, &mut rng, 0, 500, 300);
        assert_eq!(est.target_us(), 80_000);
        let cfg = DelayConfig {
            min_delay_us: 30_000,
            max_delay_us: 60_000,
            ..DelayConfig::default()
        };
        let mut est = DelayEstimator::new(cfg, RATE);
        feed(&mut est, &mut rng, 0, 500, 0);
        assert_eq!(est.target_us(), 30_000);
        feed(&mut est, &mut rng, 500, 500, 300);
        assert_eq!(est.target_us(), 60_000);
    }

    #[test]
    fn playout_time_tracks_the_fastest_packet() {
        let mut est = DelayEstimator::new(
            DelayConfig {
                fixed_delay_us: Some(40_000),
                ..DelayConfig::default()
            },
            RATE,
        );
        est.on_arrival(0, 100_000);
        est.on_arrival(960, 125_000); // 5 ms late
        est.on_arrival(1920, 140_000); // fastest: transit 100 ms
                                       // media time of ts 2880 is 60 ms; base transit 100 ms; + 40 ms target.
        assert_eq!(est.playout_time(2880), Some(200_000));
    }
}
