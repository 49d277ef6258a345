//! Acknowledged bitrate: what the receiver got, from arrival times and sizes
//! of packets feedback reports received. Two readings:
//! - the plain receive rate over a recent window (caps how far the estimate
//!   may climb above what was actually carried: libwebrtc's 1.5 × acked);
//! - the *saturated* rate: the rate over the latest run of packets that
//!   arrived while the bottleneck queue was non-empty (queuing delay above
//!   a few ms). A busy bottleneck serves at its capacity, so this run measures
//!   the capacity (or this flow's share of it) without the older, pre-queue
//!   arrivals a plain window mixes in. GCC backs off to 0.85 × a 150 ms
//!   window, which after a capacity drop still holds pre-drop arrivals.
//!
//! A fixed ring of [`ACKED_LEN`] arrivals; no allocation.

const ACKED_LEN: usize = 2048;
/// Queuing delay above which a packet counts as served by a busy queue.
pub const QUEUED_US: u64 = 4_000;
/// The short reading of [`AckedRate::saturated_rate`] (at least 4 packets).
const SHORT_WINDOW_US: i64 = 30_000;
/// The short reading counts only when this many bytes arrived in it (the
/// first packet's excluded, as in the rate): a few
/// small packets (audio) 20 ms apart measure their own cadence, not a busy
/// bottleneck (four audio packets in the last 28 ms read 145 kbit/s on a
/// 400 kbit/s link, the back-off went to 73 kbit/s and video stopped for
/// 5 s). Five full packets: at a few hundred kbit/s the short reading
/// never counts, and the long one (100 ms) measures.
const SHORT_MIN_BYTES: u64 = 6_000;

#[derive(Debug, Clone, Copy, Default)]
struct Arrival {
    at: i64,
    /// Bytes of every arrival up to and including this one.
    cum: u64,
    /// Absolute index where the run of queued arrivals this one belongs to
    /// began (`u64::MAX` when this one did not queue).
    run_start: u64,
}

/// Ring of recent arrivals with prefix sums (see the module comment): a
/// rate over any window is two look-ups and a binary search, so a feedback
/// costs the same at 10 Mbit/s as at 100 kbit/s.
#[derive(Debug)]
pub struct AckedRate {
    ring: Box<[Arrival]>,
    /// Arrivals recorded so far (absolute index of the next one).
    total: u64,
}

impl Default for AckedRate {
    fn default() -> Self {
        Self::new()
    }
}

impl AckedRate {
    pub fn new() -> Self {
        Self {
            ring: vec![Arrival::default(); ACKED_LEN].into_boxed_slice(),
            total: 0,
        }
    }

    fn get(&self, abs: u64) -> &Arrival {
        &self.ring[(abs % ACKED_LEN as u64) as usize]
    }

    /// One received packet, in arrival order, with its queuing delay.
    pub fn on_packet(&mut self, arrival_us: i64, size: u32, queue_delay_us: u64) {
        let prev = (self.total > 0).then(|| *self.get(self.total - 1));
        let queued = queue_delay_us >= QUEUED_US;
        let run_start = match prev {
            _ if !queued => u64::MAX,
            Some(p) if p.run_start != u64::MAX => p.run_start,
            _ => self.total,
        };
        let a = Arrival {
            at: arrival_us,
            cum: prev.map_or(0, |p| p.cum) + u64::from(size),
            run_start,
        };
        let i = (self.total % ACKED_LEN as u64) as usize;
        self.ring[i] = a;
        self.total += 1;
    }

    /// Rate (bit/s) over packets that arrived in the last `window_us` of
    /// arrival time (the oldest one's bytes excluded: it opens the span).
    pub fn rate(&self, window_us: i64) -> Option<u64> {
        let oldest = self.total.saturating_sub(ACKED_LEN as u64);
        self.rate_from(oldest, window_us, 0)
    }

    /// Rate over the latest run of packets that queued at the bottleneck,
    /// at most `window_us` long (or over its last [`SHORT_WINDOW_US`], if
    /// lower); `None` when the run is too short to measure.
    pub fn saturated_rate(&self, window_us: i64) -> Option<u64> {
        let newest = self.get(self.total.checked_sub(1)?);
        if newest.run_start == u64::MAX {
            return None;
        }
        let oldest = newest
            .run_start
            .max(self.total.saturating_sub(ACKED_LEN as u64));
        // At a few hundred kbit/s the window holds a handful of packets, and
        // a loss burst among them reads as a fraction of the capacity:
        // widen it (within the run) until it holds SHORT_MIN_BYTES.
        let long = [1, 2, 4, 8]
            .iter()
            .find_map(|&k| self.rate_from(oldest, window_us.saturating_mul(k), SHORT_MIN_BYTES))?;
        // The newest few packets alone see a capacity drop first; the
        // lower reading wins (backing off too little costs a second cut a
        // round trip later, with the queue full meanwhile).
        let short = self.rate_from(oldest, SHORT_WINDOW_US, SHORT_MIN_BYTES);
        Some(short.map_or(long, |s| s.min(long)))
    }

    /// Rate over arrivals with absolute index ≥ `oldest` that arrived within
    /// `window_us` of the newest, when at least `min_bytes` are counted
    /// (binary search: arrival times are sorted within a feedback and
    /// nearly so across feedbacks).
    fn rate_from(&self, oldest: u64, window_us: i64, min_bytes: u64) -> Option<u64> {
        let last = self.total.checked_sub(1)?;
        let newest = *self.get(last);
        let (mut lo, mut hi) = (oldest, last);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if newest.at - self.get(mid).at > window_us {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let first = *self.get(lo);
        let count = last - lo + 1;
        let span = newest.at - first.at;
        let bytes = newest.cum - first.cum;
        (count >= 4 && span >= 10_000 && bytes >= min_bytes)
            .then(|| bytes * 8 * 1_000_000 / span as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_rate_ignores_pre_queue_arrivals() {
        let mut r = AckedRate::new();
        // 1,000 bytes every 4 ms (2 Mbit/s) unqueued, then every 10 ms queued.
        let mut t = 0;
        for _ in 0..50 {
            r.on_packet(t, 1000, 0);
            t += 4_000;
        }
        for q in 0..20 {
            t += 10_000;
            r.on_packet(t, 1000, 5_000 + q * 1000);
        }
        assert_eq!(r.saturated_rate(250_000), Some(800_000));
        let plain = r.rate(250_000).unwrap();
        assert!(plain > 800_000 && plain < 2_000_000, "{plain}");
    }

    #[test]
    fn a_few_small_packets_at_the_end_do_not_read_as_the_capacity() {
        let mut r = AckedRate::new();
        // Video through a busy queue at 800 kbit/s, then four audio packets
        // 7 ms apart (the video queue drained): the last 30 ms hold 480
        // bytes, which would read as 137 kbit/s.
        let mut t = 0;
        for _ in 0..20 {
            t += 10_000;
            r.on_packet(t, 1000, 20_000);
        }
        for _ in 0..4 {
            t += 7_000;
            r.on_packet(t, 120, 20_000);
        }
        let rate = r.saturated_rate(100_000).unwrap();
        assert!(rate > 500_000, "{rate}");
    }

    /// A queued run at 400 kbit/s (a 100-byte packet every 10 ms and a
    /// 1,000-byte one every 25 ms) whose last 100 ms lost every large
    /// packet (a loss burst on a mobile link): that window alone read
    /// 160 kbit/s; in the conference example such a reading (115 of 400
    /// kbit/s) sent the back-off (with the queue extrapolated from it) to a
    /// seventh of the capacity, and all video paused for 4.5 s (mobile,
    /// seed 3, with upgrade probes 15 % above their need).
    #[test]
    fn a_loss_burst_at_the_end_of_a_slow_run_does_not_read_as_the_capacity() {
        let mut r = AckedRate::new();
        for ms in (10..=1_000i64).step_by(5) {
            let burst = ms > 900;
            if ms % 10 == 0 {
                r.on_packet(ms * 1000, 100, 20_000);
            }
            if ms % 25 == 0 && !burst {
                r.on_packet(ms * 1000, 1000, 20_000);
            }
        }
        let rate = r.saturated_rate(100_000).unwrap();
        assert!((250_000..=400_000).contains(&rate), "{rate}");
    }
}
