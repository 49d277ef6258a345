//! Target delay from measured arrival variation: RFC 3550 interarrival
//! jitter for the stats, and a forgetting histogram of each packet's delay
//! above the fastest recent packet, whose percentile sets the target (as
//! NetEq does). The target rises at once on a spike (video: at most 100 ms
//! per second, `VIDEO_DELAY_RISE_US_PER_S`) and falls slowly.

/// Width of one histogram bin.
const BIN_US: u64 = 2_000;
/// Bins cover 0..1024 ms of relative delay; later packets count in the last.
const BINS: usize = 512;
/// Samples before the percentile is trusted: until then it is computed at
/// every sample, and [`DelayEstimator::jitter_us`] does not go below the
/// initial delay (a loss among the first packets needs a reserve as large as
/// a later one, when a handful of samples cannot tell the jitter yet).
const WARM_UP: u64 = 64;
/// [`DelayEstimator::playout_offset_us`] when there is none to use.
const NO_OFFSET: i64 = i64::MAX;
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
    /// Target before any measurement (clamped to min/max).
    pub initial_delay_us: u64,
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
            initial_delay_us: 40_000,
        }
    }
}

/// Arrival-time statistics of one stream and the target delay they imply.
#[derive(Debug, Clone)]
pub struct DelayEstimator {
    config: DelayConfig,
    clock_rate: u32,
    /// 1 / forget_factor, so that forgetting is a multiplication.
    grow: f64,
    /// RFC 3550 jitter, kept in µs.
    jitter_us: f64,
    last_transit_us: Option<i64>,
    /// Minimum transit per 1 s bucket of arrival time.
    bucket_min: [i64; MIN_BUCKETS],
    bucket_index: u64,
    base_transit_us: i64,
    histogram: Box<[f64; BINS]>,
    /// Highest bin ever filled: percentile scans start there.
    top_bin: usize,
    weight: f64,
    total: f64,
    samples: u64,
    percentile_us: u64,
    /// [`jitter_us`](Self::jitter_us), kept up to date where the percentile
    /// and the sample count change (it is read for every packet).
    planning_jitter_us: u64,
    /// Least target set by the owner (e.g. room for retransmissions).
    floor_us: u64,
    /// Added above the percentile by the owner (video: a round trip for
    /// retransmissions once they are needed).
    reserve_us: u64,
    /// The target the percentile and the floor ask for (set before the
    /// first target update).
    desired_us: u64,
    target_us: u64,
    /// `base_transit_us + target_us`, kept where either changes, so that a
    /// playout time (asked for several times per packet) is one addition;
    /// [`NO_OFFSET`] while the base is unknown or the sum does not fit
    /// (then the playout time is computed step by step).
    playout_offset_us: i64,
    last_target_update: u64,
    /// How fast the target may rise, µs per second (`None`: at once).
    rise_us_per_s: Option<u64>,
}

impl DelayEstimator {
    pub fn new(config: DelayConfig, clock_rate: u32) -> Self {
        let start = config.fixed_delay_us.unwrap_or(config.initial_delay_us);
        Self {
            config,
            clock_rate: clock_rate.max(1),
            grow: 1.0 / config.forget_factor.clamp(0.5, 1.0),
            jitter_us: 0.0,
            last_transit_us: None,
            bucket_min: [i64::MAX; MIN_BUCKETS],
            bucket_index: 0,
            base_transit_us: i64::MAX,
            histogram: Box::new([0.0; BINS]),
            top_bin: 0,
            weight: 1.0,
            total: 0.0,
            samples: 0,
            percentile_us: 0,
            planning_jitter_us: if config.fixed_delay_us.is_some() {
                0
            } else {
                config.initial_delay_us
            },
            floor_us: 0,
            reserve_us: 0,
            desired_us: 0,
            target_us: start.clamp(config.min_delay_us, config.max_delay_us),
            playout_offset_us: NO_OFFSET,
            last_target_update: 0,
            rise_us_per_s: None,
        }
    }

    /// Recomputes [`playout_offset_us`](Self::playout_offset_us) after the
    /// base transit or the target changed.
    #[inline]
    fn refresh_playout_offset(&mut self) {
        let target = self.target_us as i64;
        self.playout_offset_us = if self.base_transit_us == i64::MAX || target < 0 {
            NO_OFFSET
        } else {
            self.base_transit_us
                .checked_add(target)
                .unwrap_or(NO_OFFSET)
        };
    }

    /// Lets the target rise at most `us_per_s` per second (video: a rise
    /// at once holds every frame back by all of it at one moment, a
    /// render gap as long as the rise; libwebrtc's timing moves its
    /// playout delay by at most 100 ms per second).
    pub fn limit_rise(&mut self, us_per_s: u64) {
        self.rise_us_per_s = Some(us_per_s);
    }

    /// Media time of an unwrapped RTP timestamp, in µs.
    #[inline]
    pub fn media_us(&self, ext_ts: i64) -> i64 {
        match ext_ts.checked_mul(1_000_000) {
            Some(scaled) => scaled / i64::from(self.clock_rate),
            None => {
                let us = (i128::from(ext_ts) * 1_000_000) / i128::from(self.clock_rate);
                us.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            }
        }
    }

    /// Records the arrival at `now` of a packet of media time `media_us`
    /// (see [`media_us`](Self::media_us)). Retransmitted packets should not
    /// be recorded: their lateness is the sender's reaction time, not the
    /// network's variation.
    #[inline]
    pub fn on_arrival(&mut self, media_us: i64, now: u64) {
        let transit = self.update_jitter(media_us, now);
        self.sample(transit, now);
    }

    /// [`on_arrival`](Self::on_arrival) of a packet whose transit (arrival
    /// minus media time, as [`update_jitter`](Self::update_jitter) returns
    /// it) is already known.
    #[inline]
    pub(crate) fn on_transit(&mut self, transit: i64, now: u64) {
        self.note_transit(transit);
        self.sample(transit, now);
    }

    /// Updates the RFC 3550 interarrival jitter (every packet counts) and
    /// returns the packet's transit time, without feeding the delay
    /// estimate: video feeds it once per frame ([`sample_transit`]).
    ///
    /// [`sample_transit`]: Self::sample_transit
    #[inline]
    pub fn update_jitter(&mut self, media_us: i64, now: u64) -> i64 {
        let transit = (now.min(i64::MAX as u64) as i64).saturating_sub(media_us);
        self.note_transit(transit);
        transit
    }

    /// [`update_jitter`](Self::update_jitter) from the packet's transit.
    #[inline]
    pub(crate) fn note_transit(&mut self, transit: i64) {
        if let Some(last) = self.last_transit_us {
            // Signed to float, then abs: the same value as `unsigned_abs() as
            // f64` (rounding is symmetric), in one conversion instruction.
            let d = (transit.saturating_sub(last) as f64).abs();
            self.jitter_us += (d - self.jitter_us) * (1.0 / 16.0);
        }
        self.last_transit_us = Some(transit);
    }

    /// Feeds the delay estimate with one transit time (from
    /// [`update_jitter`](Self::update_jitter)).
    #[inline]
    pub fn sample_transit(&mut self, transit: i64, now: u64) {
        self.sample(transit, now);
    }

    #[inline]
    fn sample(&mut self, transit: i64, now: u64) {
        self.track_base_transit(transit, now);
        if self.config.fixed_delay_us.is_none() {
            self.sample_relative(transit, now);
        }
    }

    /// Keeps the fastest transit of the last [`MIN_BUCKETS`] seconds.
    #[inline]
    fn track_base_transit(&mut self, transit: i64, now: u64) {
        let bucket = now / BUCKET_US;
        let slot = (bucket % MIN_BUCKETS as u64) as usize;
        if bucket != self.bucket_index {
            self.next_bucket(bucket, transit);
        } else if transit < self.bucket_min[slot] {
            self.bucket_min[slot] = transit;
            if transit < self.base_transit_us {
                self.base_transit_us = transit;
                self.refresh_playout_offset();
            }
        }
    }

    /// The clock moved into a new bucket (once a second): `transit` is its
    /// first sample.
    #[inline(never)]
    fn next_bucket(&mut self, bucket: u64, transit: i64) {
        let slot = (bucket % MIN_BUCKETS as u64) as usize;
        // Clear the buckets the clock moved past (all of them after a long pause).
        let steps = bucket
            .saturating_sub(self.bucket_index)
            .min(MIN_BUCKETS as u64);
        for i in 1..=steps {
            self.bucket_min[((self.bucket_index + i) % MIN_BUCKETS as u64) as usize] = i64::MAX;
        }
        self.bucket_index = bucket;
        self.bucket_min[slot] = transit;
        self.base_transit_us = self.bucket_min.iter().copied().min().unwrap_or(transit);
        self.refresh_playout_offset();
    }

    /// Feeds the histogram of delays above the fastest packet and moves
    /// the target (adaptive delay only).
    fn sample_relative(&mut self, transit: i64, now: u64) {
        let relative = transit.saturating_sub(self.base_transit_us).max(0) as u64;
        let bin = ((relative / BIN_US) as usize).min(BINS - 1);
        // Forgetting by growing the weight of new samples; renormalise rarely.
        self.weight *= self.grow;
        self.histogram[bin] += self.weight;
        self.total += self.weight;
        self.top_bin = self.top_bin.max(bin);
        if self.weight > 1e12 {
            let scale = 1.0 / self.weight;
            for b in self.histogram.iter_mut() {
                *b *= scale;
            }
            self.total *= scale;
            self.weight = 1.0;
        }
        self.samples += 1;
        // The planning jitter and the desired target follow the percentile
        // (the warm-up ends at sample 65, where it is recomputed).
        if self.samples <= WARM_UP || self.samples % 16 == 1 {
            self.percentile_us = self.percentile();
            self.planning_jitter_us = if self.samples > WARM_UP {
                self.percentile_us
            } else {
                self.percentile_us.max(self.config.initial_delay_us)
            };
            self.refresh_desired();
        }
        self.update_target(now);
    }

    /// Smallest delay below which `quantile` of the (weighted) samples fall,
    /// scanning down from the top, where the quantile of interest lies.
    fn percentile(&self) -> u64 {
        let above_allowed = (1.0 - self.config.quantile) * self.total;
        let mut above = 0.0;
        for i in (0..=self.top_bin).rev() {
            above += self.histogram[i];
            if above > above_allowed {
                return (i as u64 + 1) * BIN_US;
            }
        }
        BIN_US
    }

    /// Recomputes the target the percentile and the floor ask for, where
    /// either changes (before the [`update_target`](Self::update_target)
    /// that follows).
    fn refresh_desired(&mut self) {
        let c = &self.config;
        self.desired_us = self
            .percentile_us
            .saturating_add(c.margin_us)
            .saturating_add(self.reserve_us)
            .max(self.floor_us)
            .clamp(c.min_delay_us, c.max_delay_us);
    }

    /// Moves the target toward the desired one (called per sample).
    fn update_target(&mut self, now: u64) {
        let desired = self.desired_us;
        let elapsed = now.saturating_sub(self.last_target_update);
        let target = if desired >= self.target_us {
            match self.rise_us_per_s {
                Some(rate) => desired.min(
                    self.target_us
                        .saturating_add(elapsed.saturating_mul(rate) / 1_000_000),
                ),
                None => desired,
            }
        } else {
            let step = elapsed.saturating_mul(self.config.shrink_us_per_s) / 1_000_000;
            self.target_us.saturating_sub(step).max(desired)
        };
        self.last_target_update = now;
        if target != self.target_us {
            self.target_us = target;
            self.refresh_playout_offset();
        }
    }

    /// When a packet stamped `ext_ts` should be played, in local µs. `None`
    /// before the first arrival.
    #[inline]
    pub fn playout_time(&self, ext_ts: i64) -> Option<u64> {
        self.playout_time_of_media(self.media_us(ext_ts))
    }

    /// [`playout_time`](Self::playout_time) from a media time in µs.
    #[inline]
    pub fn playout_time_of_media(&self, media_us: i64) -> Option<u64> {
        if self.playout_offset_us != NO_OFFSET {
            // The same time as the step-by-step sum below: with a target
            // of at least 0 the sums differ only when `media_us + base`
            // is below i64::MIN, and then both are negative, hence 0.
            return Some(media_us.saturating_add(self.playout_offset_us).max(0) as u64);
        }
        self.playout_time_by_steps(media_us)
    }

    /// [`playout_time_of_media`](Self::playout_time_of_media) without the
    /// precomputed offset (the base is unknown, or the sum would overflow).
    #[cold]
    fn playout_time_by_steps(&self, media_us: i64) -> Option<u64> {
        if self.base_transit_us == i64::MAX {
            return None;
        }
        let t = media_us
            .saturating_add(self.base_transit_us)
            .saturating_add(self.target_us as i64);
        Some(t.max(0) as u64)
    }

    #[inline]
    pub fn target_us(&self) -> u64 {
        self.target_us
    }

    /// The delay percentile measured so far (µs above the fastest packet).
    pub fn percentile_us(&self) -> u64 {
        self.percentile_us
    }

    /// The jitter to plan margins with (NACK retries, the retransmission
    /// reserve): the percentile, and while it is still being learnt at
    /// least the initial delay (0 with a fixed delay, which measures none).
    #[inline]
    pub fn jitter_us(&self) -> u64 {
        self.planning_jitter_us
    }

    /// Transit of the fastest recent packet (arrival minus media time), µs.
    pub fn base_transit_us(&self) -> Option<i64> {
        (self.base_transit_us != i64::MAX).then_some(self.base_transit_us)
    }

    /// Most delay the target may reach.
    pub fn max_delay_us(&self) -> u64 {
        self.config.max_delay_us
    }

    /// Sets a least target delay (0 for none): the target rises to it at
    /// once and falls back at the usual rate when it is lowered. Ignored with
    /// a fixed delay.
    pub fn set_floor(&mut self, floor_us: u64, now: u64) {
        if self.config.fixed_delay_us.is_none() && floor_us != self.floor_us {
            self.floor_us = floor_us;
            self.refresh_desired();
            self.update_target(now);
        }
    }

    /// Sets the delay kept above the percentile (besides `margin_us`).
    pub fn set_reserve(&mut self, reserve_us: u64, now: u64) {
        if self.config.fixed_delay_us.is_none() && reserve_us != self.reserve_us {
            self.reserve_us = reserve_us;
            self.refresh_desired();
            self.update_target(now);
        }
    }

    /// RFC 3550 interarrival jitter in seconds (webrtc-stats `jitter`).
    pub fn jitter_seconds(&self) -> f64 {
        self.jitter_us * 1e-6
    }

    /// Forgets the timing (a stream reset); keeps the current target.
    pub fn reset_timing(&mut self) {
        self.last_transit_us = None;
        self.bucket_min = [i64::MAX; MIN_BUCKETS];
        self.base_transit_us = i64::MAX;
        self.refresh_playout_offset();
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
            est.on_arrival(est.media_us((i * 960) as i64), now);
        }
        now
    }

    #[test]
    fn a_limited_rise_spreads_a_spike_over_time() {
        // Returns, per packet of a 2 s step of 300 ms, how far the target
        // rose above the calm one and how long the step had lasted.
        let run = |limit: Option<u64>| {
            let mut est = DelayEstimator::new(DelayConfig::default(), RATE);
            if let Some(rate) = limit {
                est.limit_rise(rate);
            }
            let mut rng = Rng::new(2);
            let start = feed(&mut est, &mut rng, 0, 1000, 10);
            let calm = est.target_us();
            // Every packet now 300 ms later than the calm ones.
            (1000..1100u64)
                .map(|i| {
                    let now = i * 20_000 + 350_000;
                    est.on_arrival(est.media_us((i * 960) as i64), now);
                    (est.target_us().saturating_sub(calm), now - start)
                })
                .collect::<Vec<_>>()
        };
        let rise_over_limit = |points: &[(u64, u64)]| {
            points
                .iter()
                .any(|&(rise, elapsed)| rise > elapsed / 10 + 20_000)
        };
        let at_once = run(None);
        assert!(rise_over_limit(&at_once), "{at_once:?}");
        let limited = run(Some(100_000));
        assert!(!rise_over_limit(&limited), "{limited:?}");
        assert!(
            limited.last().unwrap().0 > 100_000,
            "it still rises: {limited:?}"
        );
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
        est.on_arrival(20_000, 125_000); // 5 ms late
        est.on_arrival(40_000, 140_000); // fastest: transit 100 ms
                                         // media time of ts 2880 is 60 ms; base transit 100 ms; + 40 ms target.
        assert_eq!(est.playout_time(2880), Some(200_000));
    }
}
