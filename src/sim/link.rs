//! A one-way network link with seeded impairments: loss (random or bursty
//! Gilbert–Elliott), delay with jitter, reordering, duplication, and a
//! bandwidth cap with a drop-tail queue. Sans-IO: `send(now, packet)`, then
//! `poll(now)` until it returns `None`; `next_delivery()` says when to poll.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use bytes::Bytes;

use super::rng::Rng;

/// How packets are lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    None,
    /// Each packet independently with probability `p`.
    Random {
        p: f64,
    },
    /// Gilbert–Elliott two-state model: the link moves Good→Bad with
    /// probability `good_to_bad` per packet and Bad→Good with `bad_to_good`,
    /// losing packets with `loss_in_good` / `loss_in_bad`.
    GilbertElliott {
        good_to_bad: f64,
        bad_to_good: f64,
        loss_in_good: f64,
        loss_in_bad: f64,
    },
}

impl Loss {
    /// Bursty loss with average rate `rate` and mean burst length
    /// `mean_burst` packets (loss_in_bad = 1, loss_in_good = 0).
    pub fn bursty(rate: f64, mean_burst: f64) -> Self {
        let bad_to_good = 1.0 / mean_burst.max(1.0);
        // Stationary P(bad) = g2b / (g2b + b2g) = rate.
        let good_to_bad = rate * bad_to_good / (1.0 - rate).max(1e-9);
        Loss::GilbertElliott {
            good_to_bad,
            bad_to_good,
            loss_in_good: 0.0,
            loss_in_bad: 1.0,
        }
    }
}

/// Extra delay drawn per packet on top of the base delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    None,
    /// Uniform in [0, max_us].
    Uniform {
        max_us: u64,
    },
    /// |Normal(0, std_us)|, a half-normal: most packets near the base delay,
    /// a tail of late ones.
    HalfNormal {
        std_us: u64,
    },
    /// Exponential with mean `mean_us`: a long tail of late packets.
    Exponential {
        mean_us: u64,
    },
}

/// Everything a link does to packets. `Default` is a perfect 20 ms link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Propagation delay every packet gets.
    pub base_delay_us: u64,
    pub jitter: Jitter,
    pub loss: Loss,
    /// When false, a packet never overtakes an earlier one (FIFO): jitter
    /// then shows as bunching, not reordering.
    pub allow_reordering: bool,
    /// Probability that a packet is delivered twice (the copy gets its own delay).
    pub duplicate: f64,
    /// Bottleneck rate; packets wait in a queue behind it.
    pub bandwidth_bps: Option<u64>,
    /// Most queueing delay the bottleneck holds before dropping (drop-tail).
    pub queue_limit_us: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            base_delay_us: 20_000,
            jitter: Jitter::None,
            loss: Loss::None,
            allow_reordering: true,
            duplicate: 0.0,
            bandwidth_bps: None,
            queue_limit_us: 200_000,
        }
    }
}

/// What a link did, for assertions and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub lost: u64,
    pub queue_drops: u64,
    pub duplicated: u64,
    pub delivered: u64,
}

/// A packet in flight, ordered by delivery time then by send order.
#[derive(Debug)]
struct InFlight {
    at: u64,
    order: u64,
    packet: Bytes,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// One direction of a network path.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: Rng,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    in_bad_state: bool,
    bottleneck_free_at: u64,
    last_delivery: u64,
    stats: LinkStats,
}

impl Link {
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        Self {
            config,
            rng: Rng::new(seed),
            in_flight: BinaryHeap::new(),
            order: 0,
            in_bad_state: false,
            bottleneck_free_at: 0,
            last_delivery: 0,
            stats: LinkStats::default(),
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Changes the impairments from now on (e.g. a bandwidth trace).
    pub fn set_config(&mut self, config: LinkConfig) {
        self.config = config;
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// How long a packet handed over at `now` would wait behind the
    /// bottleneck before it starts to leave (µs; 0 without a bandwidth cap).
    pub fn queue_delay_us(&self, now: u64) -> u64 {
        if self.config.bandwidth_bps.is_some_and(|b| b > 0) {
            self.bottleneck_free_at.saturating_sub(now)
        } else {
            0
        }
    }

    /// Packets in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn lose(&mut self) -> bool {
        match self.config.loss {
            Loss::None => false,
            Loss::Random { p } => self.rng.chance(p),
            Loss::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                let flip = if self.in_bad_state {
                    bad_to_good
                } else {
                    good_to_bad
                };
                if self.rng.chance(flip) {
                    self.in_bad_state = !self.in_bad_state;
                }
                self.rng.chance(if self.in_bad_state {
                    loss_in_bad
                } else {
                    loss_in_good
                })
            }
        }
    }

    fn jitter_us(&mut self) -> u64 {
        match self.config.jitter {
            Jitter::None => 0,
            Jitter::Uniform { max_us } => self.rng.below(max_us + 1),
            Jitter::HalfNormal { std_us } => (self.rng.normal().abs() * std_us as f64) as u64,
            Jitter::Exponential { mean_us } => self.rng.exponential(mean_us as f64) as u64,
        }
    }

    /// Hands `packet` to the link at time `now` (µs).
    pub fn send(&mut self, now: u64, packet: Bytes) {
        self.stats.sent += 1;
        if self.lose() {
            self.stats.lost += 1;
            return;
        }
        let mut depart = now;
        if let Some(bps) = self.config.bandwidth_bps.filter(|b| *b > 0) {
            let start = self.bottleneck_free_at.max(now);
            if start - now > self.config.queue_limit_us {
                self.stats.queue_drops += 1;
                return;
            }
            let serialization = (packet.len() as u64 * 8 * 1_000_000).div_ceil(bps);
            self.bottleneck_free_at = start + serialization;
            depart = self.bottleneck_free_at;
        }
        let copies = if self.rng.chance(self.config.duplicate) {
            2
        } else {
            1
        };
        self.stats.duplicated += copies - 1;
        for _ in 0..copies {
            let mut at = depart + self.config.base_delay_us + self.jitter_us();
            if !self.config.allow_reordering {
                at = at.max(self.last_delivery);
                self.last_delivery = at;
            }
            self.order += 1;
            self.in_flight.push(Reverse(InFlight {
                at,
                order: self.order,
                packet: packet.clone(),
            }));
        }
    }

    /// The next packet due at or before `now`, in delivery order.
    pub fn poll(&mut self, now: u64) -> Option<Bytes> {
        if self.in_flight.peek()?.0.at > now {
            return None;
        }
        self.stats.delivered += 1;
        self.in_flight.pop().map(|Reverse(p)| p.packet)
    }

    /// When the next packet arrives, if any is in flight.
    pub fn next_delivery(&self) -> Option<u64> {
        self.in_flight.peek().map(|p| p.0.at)
    }
}

/// A sender's clock that runs `ppm` parts per million fast (positive) or
/// slow, mapping true time to the sender's idea of it; used to stamp RTP
/// timestamps as a drifting sender would.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftClock {
    pub ppm: f64,
}

impl DriftClock {
    /// The sender-local time at true time `now_us`.
    pub fn local(&self, now_us: u64) -> u64 {
        (now_us as f64 * (1.0 + self.ppm * 1e-6)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        config: LinkConfig,
        seed: u64,
        n: u64,
        interval_us: u64,
    ) -> (Vec<(u64, u64)>, LinkStats) {
        let mut link = Link::new(config, seed);
        let mut out = Vec::new();
        let mut now = 0;
        for i in 0..n {
            link.send(now, Bytes::copy_from_slice(&i.to_be_bytes()));
            now += interval_us;
            while let Some(p) = link.poll(now) {
                out.push((u64::from_be_bytes(p[..8].try_into().unwrap()), now));
            }
        }
        while let Some(t) = link.next_delivery() {
            while let Some(p) = link.poll(t) {
                out.push((u64::from_be_bytes(p[..8].try_into().unwrap()), t));
            }
        }
        (out, *link.stats())
    }

    #[test]
    fn perfect_link_delivers_everything_in_order_after_the_delay() {
        let (out, stats) = run(LinkConfig::default(), 1, 100, 20_000);
        assert_eq!(out.len(), 100);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(stats.delivered, 100);
    }

    #[test]
    fn same_seed_same_run() {
        let config = LinkConfig {
            jitter: Jitter::HalfNormal { std_us: 30_000 },
            loss: Loss::bursty(0.05, 3.0),
            duplicate: 0.01,
            ..LinkConfig::default()
        };
        assert_eq!(run(config, 9, 2000, 20_000), run(config, 9, 2000, 20_000));
        assert_ne!(
            run(config, 9, 2000, 20_000).0,
            run(config, 10, 2000, 20_000).0
        );
    }

    #[test]
    fn random_loss_rate_is_close_to_configured() {
        let config = LinkConfig {
            loss: Loss::Random { p: 0.05 },
            ..LinkConfig::default()
        };
        let (_, stats) = run(config, 3, 20_000, 1000);
        let rate = stats.lost as f64 / stats.sent as f64;
        assert!((rate - 0.05).abs() < 0.006, "rate {rate}");
    }

    #[test]
    fn bursty_loss_has_the_configured_rate_and_bursts() {
        let config = LinkConfig {
            loss: Loss::bursty(0.05, 4.0),
            ..LinkConfig::default()
        };
        let (out, stats) = run(config, 4, 40_000, 1000);
        let rate = stats.lost as f64 / stats.sent as f64;
        assert!((rate - 0.05).abs() < 0.015, "rate {rate}");
        // Mean run of consecutive losses near 4.
        let got: Vec<u64> = out.iter().map(|p| p.0).collect();
        let gaps: Vec<u64> = got
            .windows(2)
            .map(|w| w[1] - w[0] - 1)
            .filter(|g| *g > 0)
            .collect();
        let mean_burst = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
        assert!((mean_burst - 4.0).abs() < 0.8, "mean burst {mean_burst}");
    }

    #[test]
    fn jitter_reorders_unless_fifo() {
        let mut config = LinkConfig {
            jitter: Jitter::Uniform { max_us: 60_000 },
            ..LinkConfig::default()
        };
        let (out, _) = run(config, 5, 1000, 20_000);
        assert!(out.windows(2).any(|w| w[0].0 > w[1].0));
        config.allow_reordering = false;
        let (out, _) = run(config, 5, 1000, 20_000);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn bandwidth_cap_queues_then_drops() {
        // 1000-byte packets every 1 ms = 8 Mbit/s into a 4 Mbit/s link.
        let config = LinkConfig {
            base_delay_us: 0,
            bandwidth_bps: Some(4_000_000),
            queue_limit_us: 50_000,
            ..LinkConfig::default()
        };
        let mut link = Link::new(config, 6);
        for i in 0..1000u64 {
            link.send(i * 1000, Bytes::from(vec![0u8; 1000]));
        }
        let s = *link.stats();
        assert!(s.queue_drops > 400 && s.queue_drops < 600, "{s:?}");
    }

    #[test]
    fn duplicates_are_counted_and_delivered() {
        let config = LinkConfig {
            duplicate: 0.1,
            ..LinkConfig::default()
        };
        let (out, stats) = run(config, 8, 5000, 1000);
        assert_eq!(out.len() as u64, 5000 + stats.duplicated);
        assert!(stats.duplicated > 400 && stats.duplicated < 600);
    }

    #[test]
    fn drift_clock_scales_time() {
        let fast = DriftClock { ppm: 200.0 };
        assert_eq!(fast.local(600_000_000), 600_120_000);
        assert_eq!(DriftClock { ppm: -100.0 }.local(1_000_000), 999_900);
    }
}
