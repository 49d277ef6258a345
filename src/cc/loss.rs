//! Loss-based control that tolerates random loss. libwebrtc's v1 cuts the
//! rate whenever loss exceeds 10 %, so a lossy radio link with spare
//! capacity collapses the estimate (mediasoup #962, pion/interceptor #156).
//! Here the path's *inherent* loss is learned from intervals when the
//! bottleneck queue was short (loss there is not ours: a full drop-tail
//! queue is), and only loss above it counts: more than 10 points above cuts
//! the cap by half the excess (v1's rule on the excess), under 2 points lets
//! it grow 8 %/s until it no longer binds.

const MIN_PACKETS: u32 = 20;
const MIN_INTERVAL_US: u64 = 300_000;
/// Queuing delay under which loss is taken as inherent to the path.
const SHORT_QUEUE_US: u64 = 20_000;
const DECREASE_EXCESS: f64 = 0.10;
const INCREASE_EXCESS: f64 = 0.02;
const POLICER_EXCESS: f64 = 0.3;

/// The loss-based part (see the module comment).
#[derive(Debug, Default)]
pub struct LossControl {
    received: u32,
    lost: u32,
    interval_start: Option<u64>,
    queue_max_us: u64,
    inherent: f64,
    last_ratio: f64,
    cap_bps: Option<u64>,
    last_change: u64,
}

impl LossControl {
    /// One feedback's counts; `queue_delay_us` the newest queuing delay,
    /// `target_bps` the current target (the rate losses are measured at);
    /// `delay_reacted`: the delay-based part cut the rate within the last
    /// second, so the loss that came with the queue is already answered (a
    /// second cut for the same overflow would compound).
    #[allow(clippy::too_many_arguments)]
    pub fn on_feedback(
        &mut self,
        now: u64,
        received: u32,
        lost: u32,
        recovered: u32,
        queue_delay_us: u64,
        target_bps: u64,
        delay_reacted: bool,
    ) {
        let start = *self.interval_start.get_or_insert(now);
        self.received += received;
        // Late arrivals of packets reported lost earlier (in this interval
        // or the one before) take their loss back.
        self.lost = (self.lost + lost).saturating_sub(recovered);
        self.queue_max_us = self.queue_max_us.max(queue_delay_us);
        let total = self.received + self.lost;
        if total < MIN_PACKETS || now - start < MIN_INTERVAL_US {
            return;
        }
        let ratio = f64::from(self.lost) / f64::from(total);
        self.last_ratio = ratio;
        if self.queue_max_us < SHORT_QUEUE_US {
            let alpha = if ratio < self.inherent { 0.3 } else { 0.1 };
            self.inherent += alpha * (ratio - self.inherent);
        }
        let excess = ratio - self.inherent;
        let dt = now.saturating_sub(self.last_change.max(start)) as f64 / 1e6;
        // Loss above the inherent level counts when a queue stood with it
        // (a drop-tail queue overflowing), or when it is so far above that
        // nothing else explains it (a policer drops without queuing).
        let congested = self.queue_max_us >= SHORT_QUEUE_US || excess > POLICER_EXCESS;
        if excess > DECREASE_EXCESS && congested && !delay_reacted {
            let base = self.cap_bps.unwrap_or(target_bps).min(target_bps);
            self.cap_bps = Some((base as f64 * (1.0 - 0.5 * excess)) as u64);
            self.last_change = now;
        } else if excess < INCREASE_EXCESS {
            if let Some(cap) = self.cap_bps {
                let grown = (cap as f64 * 1.08f64.powf(dt.min(1.0))) as u64 + 1000;
                self.cap_bps = (grown < target_bps * 3 / 2).then_some(grown);
                self.last_change = now;
            }
        }
        self.received = 0;
        self.lost = 0;
        self.queue_max_us = 0;
        self.interval_start = Some(now);
    }

    /// A probe got `bps` through: a ceiling below it no longer holds.
    pub fn on_probe_result(&mut self, bps: u64) {
        if self.cap_bps.is_some_and(|c| c < bps) {
            self.cap_bps = None;
        }
    }

    /// The loss-based ceiling, if loss currently limits the rate.
    pub fn cap_bps(&self) -> Option<u64> {
        self.cap_bps
    }

    /// Loss ratio over the last complete interval.
    pub fn loss_ratio(&self) -> f64 {
        self.last_ratio
    }

    /// The learned random (non-congestion) loss ratio.
    pub fn inherent(&self) -> f64 {
        self.inherent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_random_loss_is_learned_and_a_jump_above_it_cuts() {
        let mut l = LossControl::default();
        let mut now = 0;
        for _ in 0..100 {
            now += 100_000;
            l.on_feedback(now, 80, 20, 0, 2_000, 1_000_000, false);
        }
        assert!((l.inherent() - 0.2).abs() < 0.02, "{}", l.inherent());
        assert_eq!(l.cap_bps(), None);
        for _ in 0..4 {
            now += 100_000;
            l.on_feedback(now, 50, 50, 0, 150_000, 1_000_000, false);
        }
        assert!(l.cap_bps().is_some_and(|c| c < 1_000_000));
    }

    #[test]
    fn losses_that_arrive_late_are_taken_back() {
        let mut l = LossControl::default();
        // 100 packets, 20 reported lost, 18 of them then arrive (reordered
        // past the previous feedback): 2 % loss, not 20 %.
        l.on_feedback(0, 80, 20, 0, 0, 1_000_000, false);
        l.on_feedback(400_000, 18, 0, 18, 0, 1_000_000, false);
        assert!((l.loss_ratio() - 0.02).abs() < 1e-9, "{}", l.loss_ratio());
    }
}
