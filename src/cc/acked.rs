//! Acknowledged bitrate: what the receiver got, from arrival times and sizes
//! of packets feedback reports received. Two readings:
//! - the plain receive rate over a recent window (caps how far the estimate
//!   may climb above what was actually carried: libwebrtc's 1.5 × acked);
//! - the *saturated* rate: the rate over the latest run of packets that
//!   arrived while the bottleneck queue was non-empty (queuing delay above
//!   a few ms; one jittery packet between two queued ones does not end the
//!   run, and a run that ended in the last 100 ms still counts). A busy bottleneck serves at its capacity, so this run measures
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
/// A queued run that ended this recently (arrival time, before the newest
/// arrival) still measures the bottleneck: a keyframe burst's queue drains
/// before the feedback that reports it ends, and the plain window instead
/// reads what an application-limited sender sent on average.
const RECENT_RUN_US: i64 = 100_000;
/// A single unqueued arrival between two queued ones this close (arrival
/// time) does not end their run (consecutive queued arrivals always share
/// one, however slow the bottleneck): on a jittery path a packet of a busy
/// period reads under [`QUEUED_US`] when its jitter was below the floor
/// the detector takes off, and that broke the run into pieces too short to
/// measure (DSL, 0-20 ms jitter: a keyframe's 35 ms queue left no reading,
/// and the back-off fell to 0.9 x what the application-limited sender sent
/// on average, a third of the capacity). Only one, and only this close: an
/// idle gap between two bursts (a forwarded frame arriving late) must
/// still end a run, or the rate counts the idle time and reads low.
const RUN_GAP_US: i64 = 10_000;

#[derive(Debug, Clone, Copy, Default)]
struct Arrival {
    at: i64,
    /// Bytes of every arrival up to and including this one.
    cum: u64,
    /// Absolute index where the run of queued arrivals this one belongs to
    /// began (`u64::MAX` when this one did not queue; the run may hold
    /// single arrivals that did not, see [`RUN_GAP_US`]).
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
    /// The newest queued arrival: its time, its run's start and its
    /// absolute index.
    last_queued: Option<(i64, u64, u64)>,
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
            last_queued: None,
        }
    }

    fn get(&self, abs: u64) -> &Arrival {
        &self.ring[(abs % ACKED_LEN as u64) as usize]
    }

    /// One received packet, in arrival order, with its queuing delay.
    pub fn on_packet(&mut self, arrival_us: i64, size: u32, queue_delay_us: u64) {
        let prev = (self.total > 0).then(|| *self.get(self.total - 1));
        let queued = queue_delay_us >= QUEUED_US;
        let run_start = match (prev, self.last_queued) {
            _ if !queued => u64::MAX,
            (Some(p), _) if p.run_start != u64::MAX => p.run_start,
            (_, Some((at, start, idx)))
                if arrival_us - at <= RUN_GAP_US
                    && self.total - idx == 2
                    && start >= self.total.saturating_sub(ACKED_LEN as u64) =>
            {
                start
            }
            _ => self.total,
        };
        if queued {
            self.last_queued = Some((arrival_us, run_start, self.total));
        }
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
        let last = self.total.checked_sub(1)?;
        let oldest = self.total.saturating_sub(ACKED_LEN as u64);
        self.rate_between(oldest, last, window_us, 0)
    }

    /// Rate over the latest run of packets that queued at the bottleneck,
    /// at most `window_us` long (or over its last [`SHORT_WINDOW_US`], if
    /// lower); `None` when the run is too short to measure, or ended more
    /// than [`RECENT_RUN_US`] before the newest arrival.
    pub fn saturated_rate(&self, window_us: i64) -> Option<u64> {
        let last = self.total.checked_sub(1)?;
        let floor = self.total.saturating_sub(ACKED_LEN as u64);
        let newest_at = self.get(last).at;
        let mut end = last;
        while self.get(end).run_start == u64::MAX {
            if end == floor || newest_at - self.get(end).at > RECENT_RUN_US {
                return None;
            }
            end -= 1;
        }
        if newest_at - self.get(end).at > RECENT_RUN_US {
            return None;
        }
        let oldest = self.get(end).run_start.max(floor);
        // At a few hundred kbit/s the window holds a handful of packets, and
        // a loss burst among them reads as a fraction of the capacity:
        // widen it (within the run) until it holds SHORT_MIN_BYTES.
        let long = [1, 2, 4, 8].iter().find_map(|&k| {
            self.rate_between(oldest, end, window_us.saturating_mul(k), SHORT_MIN_BYTES)
        })?;
        // The newest few packets alone see a capacity drop first; the
        // lower reading wins (backing off too little costs a second cut a
        // round trip later, with the queue full meanwhile).
        let short = self.rate_between(oldest, end, SHORT_WINDOW_US, SHORT_MIN_BYTES);
        Some(short.map_or(long, |s| s.min(long)))
    }

    /// Rate over arrivals with absolute index in `oldest..=last` that
    /// arrived within `window_us` of the one at `last`, when at least
    /// `min_bytes` are counted (binary search: arrival times are sorted
    /// within a feedback and nearly so across feedbacks).
    fn rate_between(&self, oldest: u64, last: u64, window_us: i64, min_bytes: u64) -> Option<u64> {
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

    /// A keyframe through a busy 1.5 Mbit/s bottleneck on a path with 0-20
    /// ms of jitter: every third packet's jitter was under the floor the
    /// detector takes off, so it reads unqueued. Those used to end the run,
    /// leaving runs of two packets and no reading at all (the DSL link of
    /// the conference, seed 17: the back-off fell to 0.9 x the average of
    /// an application-limited sender, 538 kbit/s on 1.5 Mbit/s).
    #[test]
    fn a_jittery_packet_does_not_end_a_busy_run() {
        let mut r = AckedRate::new();
        let mut t = 0;
        for i in 0..60 {
            t += 3_200;
            let queue = if i % 3 == 2 { 0 } else { 20_000 };
            r.on_packet(t, 600, queue);
        }
        let rate = r.saturated_rate(100_000).expect("one run");
        assert!((1_400_000..=1_600_000).contains(&rate), "{rate}");
    }

    /// The keyframe's queue drained before the feedback ended: the run
    /// still measures the bottleneck for 100 ms after its last packet, then
    /// no longer.
    #[test]
    fn a_run_that_just_drained_reads_for_a_while() {
        let mut r = AckedRate::new();
        let mut t = 0;
        for _ in 0..20 {
            t += 5_333;
            r.on_packet(t, 1000, 20_000);
        }
        for _ in 0..4 {
            t += 20_000;
            r.on_packet(t, 150, 0);
        }
        let rate = r.saturated_rate(100_000).expect("recent run");
        assert!((1_400_000..=1_600_000).contains(&rate), "{rate}");
        for _ in 0..2 {
            t += 20_000;
            r.on_packet(t, 150, 0);
        }
        assert_eq!(r.saturated_rate(100_000), None);
    }

    /// Two bursts through a 2.4 Mbit/s bottleneck 30 ms apart (forwarded
    /// frames that arrived late): the second burst's first packet found
    /// the queue empty. The idle time between them is not the
    /// bottleneck's: the reading is the second burst's alone.
    #[test]
    fn an_idle_gap_between_bursts_ends_the_run() {
        let mut r = AckedRate::new();
        let mut t = 0;
        for burst in 0..2 {
            for i in 0..15 {
                t += 4_000;
                let queue = if i == 0 { 0 } else { 10_000 + burst };
                r.on_packet(t, 1200, queue);
            }
            t += 30_000;
        }
        let rate = r.saturated_rate(100_000).expect("second burst");
        assert!((2_300_000..=2_500_000).contains(&rate), "{rate}");
    }
}
