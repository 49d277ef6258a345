//! From the estimator's target to what a subscriber's video may use: the
//! target minus the audio and the retransmissions the transport carries
//! (measured, not guessed), so that an allocator sharing the rest between
//! video tracks does not plan on bytes that are already spoken for.
//!
//! One per transport, next to its [`Pacer`](super::Pacer) and
//! [`Bwe`](super::Bwe): the host reports every packet that leaves
//! ([`VideoBudget::on_sent`]) and asks for [`VideoBudget::video_bps`] when
//! it allocates. [`VideoBudget::probe_bps`] turns "the allocator's next
//! upgrade needs this much video" into the probe rate to ask the estimator
//! for, so that the upgrade waits for a probe that confirms it.
//!
//! Rates are measured over a sliding window of ten buckets (default 1 s):
//! fixed memory, nothing allocated.

use super::PacketClass;

const BUCKETS: usize = 10;

/// Options of a [`VideoBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoBudgetConfig {
    /// Audio reserved even when less was measured (a room whose speakers
    /// are silent still sends comfort noise and will speak). Default
    /// 50 kbit/s: 32 kbit/s Opus with its RTP, SRTP and IP overhead.
    pub audio_reserve_bps: u64,
    /// Window the audio and retransmission rates are measured over, µs.
    /// Default 1 s.
    pub window_us: u64,
    /// A probe for an upgrade goes this many percent above what it must
    /// confirm (the wanted rate, at least the target): a probe at the
    /// target proves nothing new, and one at exactly the wanted rate reads
    /// a little under it. Default 15.
    pub probe_margin_percent: u64,
}

impl Default for VideoBudgetConfig {
    fn default() -> Self {
        Self {
            audio_reserve_bps: 50_000,
            window_us: 1_000_000,
            probe_margin_percent: 15,
        }
    }
}

/// Bytes per class in a ring of time buckets.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Index of the bucket period this holds (now / bucket_us).
    period: u64,
    audio: u64,
    retransmission: u64,
}

/// See the module comment.
#[derive(Debug, Clone)]
pub struct VideoBudget {
    config: VideoBudgetConfig,
    bucket_us: u64,
    buckets: [Bucket; BUCKETS],
}

impl VideoBudget {
    pub fn new(config: VideoBudgetConfig) -> Self {
        let bucket_us = (config.window_us / BUCKETS as u64).max(1);
        Self {
            config,
            bucket_us,
            buckets: [Bucket {
                period: u64::MAX,
                ..Bucket::default()
            }; BUCKETS],
        }
    }

    pub fn config(&self) -> &VideoBudgetConfig {
        &self.config
    }

    /// A packet of `bytes` (as counted by the estimator) left at `now`.
    pub fn on_sent(&mut self, now: u64, class: PacketClass, bytes: usize) {
        let period = now / self.bucket_us;
        let b = &mut self.buckets[(period % BUCKETS as u64) as usize];
        if b.period != period {
            *b = Bucket {
                period,
                ..Bucket::default()
            };
        }
        // Saturating: absurd sizes (from a C caller) must not overflow.
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        match class {
            PacketClass::Audio => b.audio = b.audio.saturating_add(bytes),
            PacketClass::Retransmission => {
                b.retransmission = b.retransmission.saturating_add(bytes)
            }
            PacketClass::Video | PacketClass::Padding => {}
        }
    }

    /// Bits per second of one class over the window ending at `now`.
    fn rate(&self, now: u64, pick: impl Fn(&Bucket) -> u64) -> u64 {
        let newest = now / self.bucket_us;
        let oldest = newest.saturating_sub(BUCKETS as u64 - 1);
        let bytes = self
            .buckets
            .iter()
            .filter(|b| b.period != u64::MAX && (oldest..=newest).contains(&b.period))
            .map(pick)
            .fold(0u64, u64::saturating_add);
        // The window is the full ten buckets (the newest one is partly
        // over): a slight underestimate, never a spike from a short window.
        let window = self.bucket_us * BUCKETS as u64;
        (u128::from(bytes) * 8 * 1_000_000 / u128::from(window)).min(u128::from(u64::MAX)) as u64
    }

    /// Retransmissions sent over the window, bit/s.
    pub fn retransmission_bps(&self, now: u64) -> u64 {
        self.rate(now, |b| b.retransmission)
    }

    /// Audio sent over the window, bit/s, at least the reserve.
    pub fn audio_bps(&self, now: u64) -> u64 {
        self.rate(now, |b| b.audio)
            .max(self.config.audio_reserve_bps)
    }

    /// What video may use of `target_bps`: the target minus the audio and
    /// the measured retransmission rate.
    pub fn video_bps(&self, now: u64, target_bps: u64) -> u64 {
        target_bps
            .saturating_sub(self.audio_bps(now))
            .saturating_sub(self.retransmission_bps(now))
    }

    /// The probe rate that would confirm `video_wanted_bps` of video: that
    /// plus audio and retransmissions (or `target_bps`, if more: an
    /// estimator only probes above its estimate), `probe_margin_percent`
    /// above it. A probe reads a few percent under the rate it was asked
    /// for (pacing granularity), and one that reads just under what the
    /// upgrade needs confirms nothing: on the conference example's Wi-Fi
    /// link every upgrade probe sent at exactly the need failed so.
    pub fn probe_bps(&self, now: u64, video_wanted_bps: u64, target_bps: u64) -> u64 {
        let need = video_wanted_bps
            .saturating_add(self.audio_bps(now))
            .saturating_add(self.retransmission_bps(now))
            .max(target_bps);
        let percent = 100u128.saturating_add(u128::from(self.config.probe_margin_percent));
        u64::try_from(u128::from(need) * percent / 100).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_gets_the_target_minus_measured_audio_and_retransmissions() {
        let mut b = VideoBudget::new(VideoBudgetConfig::default());
        // Nothing sent yet: the audio reserve only.
        assert_eq!(b.video_bps(0, 1_000_000), 950_000);
        // One second of 100 kbit/s audio and 200 kbit/s retransmissions.
        for ms in 0..1000u64 {
            let now = ms * 1000;
            if ms % 20 == 0 {
                b.on_sent(now, PacketClass::Audio, 250);
            }
            if ms % 10 == 0 {
                b.on_sent(now, PacketClass::Retransmission, 250);
            }
            b.on_sent(now, PacketClass::Video, 1000);
        }
        let now = 999_000;
        assert_eq!(b.audio_bps(now), 100_000);
        assert_eq!(b.retransmission_bps(now), 200_000);
        assert_eq!(b.video_bps(now, 1_000_000), 700_000);
        // A second later without retransmissions the rate has decayed.
        assert_eq!(b.retransmission_bps(now + 1_000_000), 0);
        assert_eq!(b.video_bps(now + 1_000_000, 100_000), 50_000);
        assert_eq!(b.video_bps(now + 1_000_000, 10_000), 0);
    }

    #[test]
    fn absurd_sizes_saturate_instead_of_overflowing() {
        let mut b = VideoBudget::new(VideoBudgetConfig::default());
        for bucket in 0..3 {
            for _ in 0..3 {
                b.on_sent(bucket * 100_000, PacketClass::Audio, usize::MAX);
            }
        }
        assert_eq!(b.audio_bps(250_000), u64::MAX);
        assert_eq!(b.video_bps(250_000, u64::MAX), 0);
        assert_eq!(b.probe_bps(250_000, u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn a_probe_goes_above_the_wanted_video_and_above_the_target() {
        let b = VideoBudget::new(VideoBudgetConfig::default());
        // 1 Mbit/s of video and the 50 kbit/s audio reserve, 15 % above.
        assert_eq!(b.probe_bps(0, 1_000_000, 500_000), 1_207_500);
        // Wanted already under the target: still 15 % above it, or the
        // estimator would not probe at all.
        assert_eq!(b.probe_bps(0, 100_000, 1_000_000), 1_150_000);
    }
}
