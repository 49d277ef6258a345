//! A shared bottleneck for congestion-control tests (RFC 8867 §4): a FIFO
//! drop-tail queue sized in milliseconds at the current capacity, served at a
//! capacity that follows a schedule, then a fixed propagation delay, with
//! optional random loss before the queue. Several flows share it; each
//! packet says which flow it belongs to. Unlike [`super::Link`] it reports
//! exact arrival and queuing times, which feedback and the RFC 8868 metrics
//! need. Sans-IO: `send(now, …)`, then `poll(now)` until `None`.

use std::collections::VecDeque;

use super::rng::Rng;

/// A packet crossing the bottleneck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetPacket {
    pub flow: u32,
    /// The flow's own sequence number (e.g. transport-wide).
    pub seq: u64,
    pub size: u32,
    pub sent_us: u64,
    /// Probe padding: carried like any packet, but no media (metrics that
    /// measure what the application got leave it out).
    pub padding: bool,
}

/// A packet out of the far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub packet: NetPacket,
    pub arrival_us: u64,
    /// Time spent waiting behind other packets (not its own serialisation).
    pub queue_us: u64,
}

/// Why `send` did not take a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Random loss on the path.
    Lost,
    /// The queue held more than its limit.
    QueueFull,
}

/// Bottleneck parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BottleneckConfig {
    /// (from µs, bit/s), sorted by time; the first entry should be at 0.
    pub capacity: Vec<(u64, u64)>,
    /// Drop-tail limit: queued bytes beyond this much time at the current
    /// capacity are dropped.
    pub queue_ms: u64,
    pub propagation_us: u64,
    /// Random loss probability before the queue.
    pub loss: f64,
}

impl BottleneckConfig {
    /// A constant capacity.
    pub fn constant(bps: u64, queue_ms: u64, propagation_us: u64) -> Self {
        Self {
            capacity: vec![(0, bps)],
            queue_ms,
            propagation_us,
            loss: 0.0,
        }
    }

    /// The capacity at time `t`.
    pub fn capacity_at(&self, t: u64) -> u64 {
        self.capacity
            .iter()
            .take_while(|(from, _)| *from <= t)
            .last()
            .or(self.capacity.first())
            .map_or(u64::MAX, |c| c.1)
            .max(1)
    }
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BottleneckStats {
    pub sent: u64,
    pub lost: u64,
    pub queue_drops: u64,
    pub delivered: u64,
    pub bytes_delivered: u64,
}

#[derive(Debug, Clone, Copy)]
struct Queued {
    packet: NetPacket,
    enqueued: u64,
}

/// The bottleneck (see the module comment).
#[derive(Debug)]
pub struct Bottleneck {
    config: BottleneckConfig,
    rng: Rng,
    queue: VecDeque<Queued>,
    queued_bytes: u64,
    /// When the link finishes serving the packet it is on.
    free_at: u64,
    in_flight: VecDeque<Delivered>,
    stats: BottleneckStats,
}

impl Bottleneck {
    pub fn new(config: BottleneckConfig, seed: u64) -> Self {
        Self {
            config,
            rng: Rng::new(seed),
            queue: VecDeque::new(),
            queued_bytes: 0,
            free_at: 0,
            in_flight: VecDeque::new(),
            stats: BottleneckStats::default(),
        }
    }

    pub fn config(&self) -> &BottleneckConfig {
        &self.config
    }

    pub fn stats(&self) -> &BottleneckStats {
        &self.stats
    }

    /// Serves queued packets whose service completes by `now`, at the
    /// capacity in force when each one's service starts.
    fn advance(&mut self, now: u64) {
        while let Some(head) = self.queue.front() {
            let start = self.free_at.max(head.enqueued);
            let bps = self.config.capacity_at(start);
            let done = start + (u64::from(head.packet.size) * 8 * 1_000_000).div_ceil(bps);
            if done > now {
                break;
            }
            let head = self.queue.pop_front().expect("front exists");
            self.queued_bytes -= u64::from(head.packet.size);
            self.free_at = done;
            self.in_flight.push_back(Delivered {
                packet: head.packet,
                arrival_us: done + self.config.propagation_us,
                queue_us: start - head.enqueued,
            });
        }
    }

    /// Queuing delay a packet sent now would see (µs).
    pub fn queue_delay_us(&self, now: u64) -> u64 {
        let bps = self.config.capacity_at(now);
        let head_left = self.free_at.saturating_sub(now);
        head_left + self.queued_bytes * 8 * 1_000_000 / bps
    }

    /// Hands a packet to the bottleneck.
    pub fn send(&mut self, now: u64, packet: NetPacket) -> Result<(), Drop> {
        self.advance(now);
        self.stats.sent += 1;
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return Err(Drop::Lost);
        }
        let bps = self.config.capacity_at(now);
        let limit_bytes = bps * self.config.queue_ms / 8_000;
        if self.queued_bytes + u64::from(packet.size) > limit_bytes.max(1500) {
            self.stats.queue_drops += 1;
            return Err(Drop::QueueFull);
        }
        self.queued_bytes += u64::from(packet.size);
        self.queue.push_back(Queued {
            packet,
            enqueued: now,
        });
        Ok(())
    }

    /// The next packet out of the far end by `now`.
    pub fn poll(&mut self, now: u64) -> Option<Delivered> {
        self.advance(now);
        if self.in_flight.front()?.arrival_us > now {
            return None;
        }
        let d = self.in_flight.pop_front()?;
        self.stats.delivered += 1;
        self.stats.bytes_delivered += u64::from(d.packet.size);
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u64, now: u64) -> NetPacket {
        NetPacket {
            flow: 0,
            seq,
            size: 1000,
            sent_us: now,
            padding: false,
        }
    }

    #[test]
    fn serves_at_capacity_and_drops_past_the_queue_limit() {
        // 1,000-byte packets every 4 ms (2 Mbit/s) into 1 Mbit/s, 100 ms queue.
        let mut b = Bottleneck::new(BottleneckConfig::constant(1_000_000, 100, 50_000), 1);
        let mut out = Vec::new();
        for i in 0..500u64 {
            let now = i * 4_000;
            let _ = b.send(now, pkt(i, now));
            while let Some(d) = b.poll(now) {
                out.push(d);
            }
        }
        // 2 s at 1 Mbit/s = 250 packets, minus what is still queued/in flight.
        assert!((230..=250).contains(&out.len()), "{}", out.len());
        let gaps: Vec<u64> = out
            .windows(2)
            .map(|w| w[1].arrival_us - w[0].arrival_us)
            .collect();
        assert!(
            gaps.iter().all(|g| *g == 8_000),
            "serialisation at 1 Mbit/s"
        );
        let q = out.last().unwrap().queue_us;
        // 12 packets of 8 ms fit in 100 ms; the last one out waited 11 or so.
        assert!((80_000..=100_000).contains(&q), "{q}");
        assert!(b.stats().queue_drops > 200);
    }

    #[test]
    fn capacity_schedule_changes_service_rate() {
        let mut config = BottleneckConfig::constant(1_000_000, 1000, 0);
        config.capacity.push((1_000_000, 4_000_000));
        let mut b = Bottleneck::new(config, 1);
        let now = 1_000_000;
        for i in 0..10 {
            b.send(now, pkt(i, now)).unwrap();
        }
        let mut last = 0;
        while let Some(d) = b.poll(u64::MAX) {
            last = d.arrival_us;
        }
        assert_eq!(last, 1_000_000 + 10 * 2_000);
    }
}
