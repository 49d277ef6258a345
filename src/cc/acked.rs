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

#[derive(Debug, Clone, Copy, Default)]
struct Arrival {
    at: i64,
    size: u32,
    queued: bool,
}

/// Ring of recent arrivals (see the module comment).
#[derive(Debug)]
pub struct AckedRate {
    ring: Box<[Arrival]>,
    head: usize,
    len: usize,
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
            head: 0,
            len: 0,
        }
    }

    /// One received packet, in arrival order, with its queuing delay.
    pub fn on_packet(&mut self, arrival_us: i64, size: u32, queue_delay_us: u64) {
        let a = Arrival {
            at: arrival_us,
            size,
            queued: queue_delay_us >= QUEUED_US,
        };
        if self.len < ACKED_LEN {
            self.ring[(self.head + self.len) % ACKED_LEN] = a;
            self.len += 1;
        } else {
            self.ring[self.head] = a;
            self.head = (self.head + 1) % ACKED_LEN;
        }
    }

    /// Newest first.
    fn newest(&self) -> impl Iterator<Item = &Arrival> {
        (0..self.len)
            .rev()
            .map(move |i| &self.ring[(self.head + i) % ACKED_LEN])
    }

    /// Rate (bit/s) over packets that arrived in the last `window_us` of
    /// arrival time (the oldest one's bytes excluded: it opens the span).
    pub fn rate(&self, window_us: i64) -> Option<u64> {
        self.rate_while(window_us, |_| true)
    }

    /// Rate over the latest run of packets that queued at the bottleneck,
    /// at most `window_us` long (or over its last [`SHORT_WINDOW_US`], if
    /// lower); `None` when the run is too short to measure.
    pub fn saturated_rate(&self, window_us: i64) -> Option<u64> {
        let long = self.rate_while(window_us, |a| a.queued)?;
        // The newest few packets alone see a capacity drop first; the
        // lower reading wins (backing off too little costs a second cut a
        // round trip later, with the queue full meanwhile).
        let short = self.rate_while(SHORT_WINDOW_US, |a| a.queued);
        Some(short.map_or(long, |s| s.min(long)))
    }

    fn rate_while(&self, window_us: i64, keep: impl Fn(&Arrival) -> bool) -> Option<u64> {
        let mut it = self.newest();
        let newest = it.next().filter(|a| keep(a))?;
        let (mut bytes, mut oldest, mut count) = (0u64, newest.at, 1u32);
        let mut prev_size = newest.size;
        for a in it {
            if !keep(a) || newest.at - a.at > window_us {
                break;
            }
            bytes += u64::from(prev_size);
            prev_size = a.size;
            oldest = oldest.min(a.at);
            count += 1;
        }
        let span = newest.at - oldest;
        (count >= 4 && span >= 10_000).then(|| bytes * 8 * 1_000_000 / span as u64)
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
}
