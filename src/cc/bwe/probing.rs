//! When the estimator probes and what it makes of the answers: probes
//! asked for by the host (an upgrade to confirm), the initial and periodic
//! ones, the recovery probe after a large drop, cluster sizing for the
//! pacer, and results (read or unread).

use super::*;

impl Bwe {
    /// The allocator wants `target_bps` (an upgrade): probe for it, at most
    /// twice the estimate now, more later while results
    /// keep up.
    pub fn request_probe(&mut self, now: u64, target_bps: u64) {
        self.now = self.now.max(now);
        let estimate = self.rate.estimate();
        let want = target_bps.min(self.config.max_bps);
        if want <= estimate || self.delay.usage() == Usage::Overusing {
            return;
        }
        let rate = want.min((estimate as f64 * MAX_PROBE_FACTOR) as u64);
        self.queue_probe(now, rate);
        self.further_probe_min =
            (rate < want).then_some((rate as f64 * FURTHER_PROBE_FRACTION) as u64);
    }

    /// Queues a probe cluster at `rate_bps`; its id, or `None` when
    /// [`PENDING_PROBES`] are already waiting for the pacer.
    pub(super) fn queue_probe(&mut self, now: u64, rate_bps: u64) -> Option<u32> {
        let rate_bps = rate_bps.min(self.config.max_bps);
        let slot = self.pending.iter_mut().find(|p| p.is_none())?;
        let id = self.next_probe_id;
        self.next_probe_id = self.next_probe_id.wrapping_add(1).max(1);
        // On a jittery path a cluster lasts at least twice the jitter, so
        // that the jitter's share of its receive span stays small; four
        // times when that fits in MAX_JITTERY_DURATION_US, long enough to
        // be read from every packet (`ProbeEstimator::on_packet`). Paths
        // jittery beyond that keep twice: a probe that saturates queues
        // for its whole duration (with four times, and every cluster read
        // from its delay slope, the conference's mobile link, 0-60 ms of
        // jitter, queued up to 200 ms).
        let long = (JITTERY_DURATION_FACTOR * self.reorder_us) as u64;
        let duration = if long <= MAX_JITTERY_DURATION_US {
            PROBE_DURATION_US.max(long)
        } else {
            PROBE_DURATION_US
                .max((2.0 * self.reorder_us) as u64)
                .min(MAX_PROBE_DURATION_US)
        };
        // Long enough for a few full-size packets at its rate: the pacer
        // fills a cluster with media and RTX re-sends of ~1,200 bytes and
        // stops at its duration, so at 900 kbit/s a 20 ms cluster was two
        // packets, under the four a reading needs, and at 1.8 Mbit/s four,
        // which one random loss left unread: on a DSL link with 1 % loss
        // both initial probes read nothing and the estimate stayed near
        // its 300 kbit/s start for the whole 12 s meeting (conference
        // seeds 33 and 36).
        let carries = PROBE_FULL_PACKETS * FULL_PACKET_BITS * 1_000_000 / rate_bps.max(1);
        let duration = duration.max(carries.min(MAX_PROBE_DURATION_US));
        let min_bytes = ((rate_bps * duration / 8_000_000) as u32).max(PROBE_MIN_BYTES);
        let req = ProbeClusterRequest {
            id,
            rate_bps,
            min_bytes,
            min_packets: PROBE_MIN_PACKETS,
            duration_us: duration,
        };
        *slot = Some(req);
        self.probes.register(now, &req);
        self.last_probe_at = Some(now);
        self.stats.probes_requested += 1;
        Some(id)
    }

    /// The next probe cluster the pacer should send, if any.
    pub fn poll_probe(&mut self, now: u64) -> Option<ProbeClusterRequest> {
        self.handle_timeout(now);
        let first = self.pending.iter().position(Option::is_some)?;
        let req = self.pending[first].take();
        // Keep FIFO order.
        self.pending[first..].rotate_left(1);
        req
    }

    pub(super) fn periodic_probe(&mut self, now: u64) {
        if self.probes.pending()
            || self.pending.iter().any(Option::is_some)
            || self.delay.usage() == Usage::Overusing
            || self.delay.queue_delay_us() > PROBE_QUEUE_US
            || self.last_feedback_at.is_none()
        {
            return;
        }
        let quiet = self
            .rate
            .last_decrease()
            .is_none_or(|d| now.saturating_sub(d) >= QUIET_AFTER_DECREASE_US);
        let since_probe = now.saturating_sub(self.last_probe_at.unwrap_or(0));
        let estimate = self.rate.estimate();
        if !quiet || estimate >= self.config.max_bps {
            return;
        }
        let factor_rate = (estimate as f64 * MAX_PROBE_FACTOR) as u64;
        if let Some(rate) = self.recovery_rate.take() {
            self.recovery_probe = self
                .queue_probe(now, rate.min(factor_rate))
                .map(|id| (id, rate));
            self.further_probe_min = Some((rate as f64 * FURTHER_PROBE_FRACTION) as u64);
            return;
        }
        let interval = if self.alr.alr_since().is_some() {
            ALR_PROBE_INTERVAL_US
        } else {
            STEADY_PROBE_INTERVAL_US
        };
        if since_probe >= interval {
            let factor = if self.alr.alr_since().is_some() {
                MAX_PROBE_FACTOR
            } else {
                STEADY_PROBE_FACTOR
            };
            let rate = (estimate as f64 * factor) as u64;
            self.queue_probe(now, rate);
            self.further_probe_min = Some((rate as f64 * FURTHER_PROBE_FRACTION) as u64);
        }
    }

    /// Cluster `id` ended unread (a loss burst took too many of its
    /// packets): not an answer. A recovery probe is sent again (up to
    /// [`RECOVERY_RETRIES`] times); another probe may be repeated at the
    /// next periodic check, unless the one before it was unread too (on a
    /// path that loses a fifth of its packets every probe fails: it then
    /// waits its interval, at most one repeat per interval).
    /// Seen on the conference's mobile link: the recovery probe after its
    /// 400 kbit/s dip lost six packets in a row, and the estimate stayed
    /// under 500 kbit/s on the restored 2 Mbit/s for another 2.5 s.
    pub(super) fn on_probe_failed(&mut self, id: u32) {
        self.stats.probes_unread += 1;
        match self.recovery_probe {
            Some((probe, rate)) if probe == id => {
                self.recovery_probe = None;
                if self.recovery_retries > 0 {
                    self.recovery_retries -= 1;
                    self.recovery_rate = Some(rate);
                }
            }
            _ => {
                if self.unread_in_a_row == 0 {
                    self.last_probe_at = None;
                }
                self.unread_in_a_row = self.unread_in_a_row.saturating_add(1);
            }
        }
    }

    pub(super) fn on_probe_result(&mut self, now: u64, result: ProbeResult, usage: Usage) {
        self.stats.probe_results += 1;
        self.unread_in_a_row = 0;
        let rate = result.bps;
        if usage == Usage::Overusing {
            self.further_probe_min = None;
            return;
        }
        self.last_probe = Some((now, rate));
        if rate > self.rate.estimate() {
            self.rate.set(now, rate);
        }
        self.loss.on_probe_result(rate);
        if result.saturated {
            // The path is full: higher probes would only build a queue
            // (and, at a shared bottleneck, grab from other flows).
            self.further_probe_min = None;
        }
        if let Some(min) = self.further_probe_min {
            if rate >= min && rate < self.config.max_bps {
                let next = rate.saturating_mul(2);
                self.queue_probe(now, next);
                self.further_probe_min = Some((next as f64 * FURTHER_PROBE_FRACTION) as u64);
            }
        }
    }
}
