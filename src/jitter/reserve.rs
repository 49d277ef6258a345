//! Video's round-trip reserve for retransmissions (opt-in, see
//! [`JitterBuffer::set_retransmission_reserve`](super::JitterBuffer::set_retransmission_reserve)):
//! once NACKs are needed, the target delay keeps one round trip above the
//! jitter so that a retransmission comes before its frame is due.
//! libwebrtc's jitter estimator adds the RTT after 3 NACKed frames within
//! 60 s; this counts NACKs sent, the same signal one step earlier.

/// NACKs, each less than [`LASTS_US`] after the previous, that turn the
/// reserve on.
const NACKS: u8 = 3;
/// How long the reserve lasts after the last NACK.
const LASTS_US: u64 = 60_000_000;

/// Whether the reserve is wanted, from the NACKs sent.
#[derive(Debug, Clone, Default)]
pub(super) struct RetransmissionReserve {
    enabled: bool,
    /// NACKs counted (at most [`NACKS`]) and when the last was sent.
    recent: u8,
    last_us: u64,
}

impl RetransmissionReserve {
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.recent = 0;
        }
    }

    pub fn is_on(&self) -> bool {
        self.recent >= NACKS
    }

    /// A NACK was sent at `now`. True when the reserve is (still) on.
    pub fn on_nack(&mut self, now: u64) -> bool {
        if !self.enabled {
            return false;
        }
        self.expire(now);
        self.last_us = now;
        self.recent = (self.recent + 1).min(NACKS);
        self.is_on()
    }

    /// Whether the count has something to forget (checked per packet,
    /// before the rarer [`expire`](Self::expire)).
    #[inline]
    pub fn counting(&self) -> bool {
        self.recent > 0
    }

    /// Forgets the NACKs once the last is [`LASTS_US`] old. True when the
    /// reserve went off now.
    pub fn expire(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.last_us) < LASTS_US {
            return false;
        }
        let was_on = self.is_on();
        self.recent = 0;
        was_on
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_at_the_third_nack_within_a_minute_of_each_other_off_a_minute_after_the_last() {
        let mut r = RetransmissionReserve::default();
        assert!(!r.on_nack(0), "disabled: never on");
        r.set_enabled(true);
        assert!(!r.on_nack(0));
        assert!(!r.on_nack(59_000_000));
        assert!(r.on_nack(118_000_000));
        assert!(!r.expire(177_999_999));
        assert!(r.expire(178_000_000));
        assert!(!r.is_on() && !r.counting());
        // NACKs a minute apart never add up.
        for k in 0..5 {
            assert!(!r.on_nack(200_000_000 + k * LASTS_US));
        }
    }
}
