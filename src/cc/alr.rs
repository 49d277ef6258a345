//! Application-limited region (ALR) detection: is the sender sending much
//! less than the estimate allows? Then feedback says nothing about the
//! capacity above what was sent, and the estimate must neither climb on air
//! (pion/interceptor #299) nor decay. libwebrtc's `AlrDetector`: a budget
//! that fills at 65 % of the target rate and drains with bytes sent; ALR
//! starts when the budget is over 80 % full and ends under 50 %.

const USAGE_RATIO: f64 = 0.65;
const START_RATIO: f64 = 0.8;
const STOP_RATIO: f64 = 0.5;
/// The budget holds this much time at the usage rate.
const WINDOW_US: f64 = 500_000.0;

/// Time constant of the media send rate ([`AlrDetector::sent_bps`]).
const SENT_RATE_US: f64 = 250_000.0;

/// The ALR detector (see the module comment).
#[derive(Debug, Default)]
pub struct AlrDetector {
    /// Bytes the sender may still send, in [-max, max].
    budget: f64,
    last_us: Option<u64>,
    alr_since: Option<u64>,
    /// Media bytes sent, exponentially decayed with [`SENT_RATE_US`].
    sent_bytes: f64,
    /// When `sent_bytes` was last decayed. A plain number, not an `Option`:
    /// 0 decays nothing away (no bytes yet), and an `Option` read by
    /// optimised code made valgrind see `exp` branch on its unset payload.
    sent_at: u64,
}

impl AlrDetector {
    fn advance(&mut self, now: u64, target_bps: u64) -> f64 {
        let max = target_bps as f64 * USAGE_RATIO / 8.0 * WINDOW_US / 1e6;
        let dt = self.last_us.map_or(0, |l| now.saturating_sub(l)) as f64;
        self.last_us = Some(now);
        self.budget =
            (self.budget + target_bps as f64 * USAGE_RATIO / 8.0 * dt / 1e6).clamp(-max, max);
        max
    }

    fn decide(&mut self, now: u64, max: f64) {
        let ratio = if max > 0.0 { self.budget / max } else { 0.0 };
        if self.alr_since.is_none() && ratio > START_RATIO {
            self.alr_since = Some(now);
        } else if self.alr_since.is_some() && ratio < STOP_RATIO {
            self.alr_since = None;
        }
    }

    fn decay_sent(&mut self, now: u64) {
        let dt = now.saturating_sub(self.sent_at) as f64;
        self.sent_at = now.max(self.sent_at);
        self.sent_bytes *= (-dt / SENT_RATE_US).exp();
    }

    /// The media send rate (bit/s, smoothed over about 250 ms): what the
    /// sender really puts out, which an application-limited one keeps well
    /// under the estimate.
    pub fn sent_bps(&mut self, now: u64) -> u64 {
        self.decay_sent(now);
        (self.sent_bytes * 8.0 * 1e6 / SENT_RATE_US) as u64
    }

    /// Bytes of media (not probe padding) left the sender.
    pub fn on_sent(&mut self, now: u64, bytes: usize, target_bps: u64) {
        self.decay_sent(now);
        self.sent_bytes += bytes as f64;
        let max = self.advance(now, target_bps);
        self.budget = (self.budget - bytes as f64).max(-max);
        self.decide(now, max);
    }

    /// Time passes without sending.
    pub fn update(&mut self, now: u64, target_bps: u64) {
        let max = self.advance(now, target_bps);
        self.decide(now, max);
    }

    /// Since when the sender has been application-limited.
    pub fn alr_since(&self) -> Option<u64> {
        self.alr_since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_at_a_fifth_of_the_target_is_alr_and_full_rate_is_not() {
        let mut a = AlrDetector::default();
        // 1 Mbit/s target, 1,250 bytes every 10 ms = 1 Mbit/s.
        for i in 0..300u64 {
            a.on_sent(i * 10_000, 1250, 1_000_000);
        }
        assert_eq!(a.alr_since(), None);
        // Then a fifth of it.
        for i in 300..600u64 {
            a.on_sent(i * 10_000, 250, 1_000_000);
        }
        let since = a.alr_since().expect("ALR");
        // From a full debt (-max) to 80 % of max at 450 kbit/s net: ~1.3 s.
        assert!(since < 4_500_000, "{since}");
        for i in 600..700u64 {
            a.on_sent(i * 10_000, 1250, 1_000_000);
        }
        assert_eq!(a.alr_since(), None);
    }
}
