//! The send-side estimator's per-packet (`on_sent`) and per-feedback
//! (`on_feedback`, 100 results) cost, against a named baseline in the same
//! run: `naive`, a straightforward GCC that recomputes everything — a
//! `HashMap` send history, each feedback collected into a `Vec` and sorted,
//! the trendline refitted over a freshly copied window, the acknowledged
//! bitrate re-summed over every acknowledgement of the last second. Same
//! constants (5 ms groups, 20-group trendline, adaptive threshold), same
//! trace.
//!
//! Timed in this thread's CPU time (`support::cpu_now`); medians, ratios
//! printed at the end.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use rtmedia::cc::{Bwe, BweConfig, PacketResult, SentPacketId};

mod support;

const GROUP_SENT: &str = "cc_on_sent";
const GROUP_FEEDBACK: &str = "cc_on_feedback_100";
const PER_FEEDBACK: usize = 100;
/// 1,000-byte packets every 1 ms (8 Mbit/s) into 10 Mbit/s, 40 ms one way,
/// with a slow sinusoidal queue so the detector has work to do.
fn arrival(seq: u32, send_us: u64) -> i64 {
    let wobble = ((f64::from(seq) / 500.0).sin() * 5_000.0) as i64;
    send_us as i64 + 40_000 + wobble.abs() + i64::from(seq % 7) * 100
}

/// The baseline (see the module comment).
struct NaiveGcc {
    history: HashMap<u16, (u64, u32)>,
    points: Vec<(f64, f64)>,
    acked: Vec<(i64, u32)>,
    group: Option<(u64, u64, i64)>,
    prev_group: Option<(u64, i64)>,
    accumulated: f64,
    smoothed: f64,
    first_arrival: Option<f64>,
    threshold: f64,
    last_threshold: Option<f64>,
    estimate: f64,
}

impl NaiveGcc {
    fn new() -> Self {
        Self {
            history: HashMap::new(),
            points: Vec::new(),
            acked: Vec::new(),
            group: None,
            prev_group: None,
            accumulated: 0.0,
            smoothed: 0.0,
            first_arrival: None,
            threshold: 12.5,
            last_threshold: None,
            estimate: 1_000_000.0,
        }
    }

    fn on_sent(&mut self, now: u64, seq: u16, size: u32) {
        self.history.insert(seq, (now, size));
        self.history.remove(&seq.wrapping_sub(4096));
    }

    fn on_feedback(&mut self, results: &[PacketResult]) -> f64 {
        let mut got: Vec<(i64, u64, u32)> = results
            .iter()
            .filter_map(|r| {
                let SentPacketId::TransportSeq(seq) = r.id else {
                    return None;
                };
                let (send, size) = self.history.remove(&seq)?;
                Some((r.arrival_us?, send, size))
            })
            .collect();
        got.sort();
        for &(arr, send, size) in &got {
            self.acked.push((arr, size));
            match self.group {
                Some((first, last, _)) if send - first <= 5_000 => {
                    self.group = Some((first, last.max(send), arr));
                }
                Some((_, last, complete)) => {
                    if let Some((psend, parr)) = self.prev_group {
                        let d = ((complete - parr) - (last as i64 - psend as i64)) as f64 / 1e3;
                        self.accumulated += d;
                        self.smoothed = 0.9 * self.smoothed + 0.1 * self.accumulated;
                        let a = complete as f64 / 1e3;
                        let first = *self.first_arrival.get_or_insert(a);
                        self.points.push((a - first, self.smoothed));
                        // Refit over a fresh copy of the last 20 points.
                        let window: Vec<(f64, f64)> =
                            self.points.iter().rev().take(20).copied().collect();
                        let n = window.len() as f64;
                        let mx = window.iter().map(|p| p.0).sum::<f64>() / n;
                        let my = window.iter().map(|p| p.1).sum::<f64>() / n;
                        let num: f64 = window.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
                        let den: f64 = window.iter().map(|p| (p.0 - mx).powi(2)).sum();
                        let trend = if den > 0.0 { num / den } else { 0.0 };
                        let modified = self.points.len().min(60) as f64 * trend * 4.0;
                        let last_t = *self.last_threshold.get_or_insert(a);
                        let k = if modified.abs() < self.threshold {
                            0.039
                        } else {
                            0.0087
                        };
                        self.threshold +=
                            k * (modified.abs() - self.threshold) * (a - last_t).min(100.0);
                        self.threshold = self.threshold.clamp(6.0, 600.0);
                        self.last_threshold = Some(a);
                        if modified > self.threshold {
                            self.estimate *= 0.85;
                        } else {
                            self.estimate *= 1.001;
                        }
                    }
                    self.prev_group = Some((last, complete));
                    self.group = Some((send, send, arr));
                }
                None => self.group = Some((send, send, arr)),
            }
        }
        // Acknowledged bitrate over the last second, re-summed.
        if let Some(&(newest, _)) = self.acked.last() {
            self.acked.retain(|a| newest - a.0 <= 1_000_000);
            let bytes: u64 = self.acked.iter().map(|a| u64::from(a.1)).sum();
            let span = (newest - self.acked[0].0).max(1) as f64;
            let acked = bytes as f64 * 8e6 / span;
            self.estimate = self.estimate.min(1.5 * acked + 10_000.0);
        }
        self.estimate
    }
}

fn config() -> BweConfig {
    BweConfig {
        start_bps: 8_000_000,
        max_bps: 20_000_000,
        ..BweConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    {
        let mut g = c.benchmark_group(GROUP_SENT);
        g.measurement_time(Duration::from_secs(3));
        g.bench_function("rtmedia", |b| {
            let mut bwe = Bwe::new(config(), 0);
            let mut seq = 0u32;
            b.iter(|| {
                seq = seq.wrapping_add(1);
                bwe.on_sent(
                    u64::from(seq) * 1000,
                    SentPacketId::TransportSeq(seq as u16),
                    black_box(1000),
                    None,
                );
            });
        });
        g.bench_function("naive", |b| {
            let mut naive = NaiveGcc::new();
            let mut seq = 0u32;
            b.iter(|| {
                seq = seq.wrapping_add(1);
                naive.on_sent(u64::from(seq) * 1000, seq as u16, black_box(1000));
            });
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group(GROUP_FEEDBACK);
        g.measurement_time(Duration::from_secs(3));
        let mut results = vec![
            PacketResult {
                id: SentPacketId::TransportSeq(0),
                arrival_us: None,
                ecn: None,
            };
            PER_FEEDBACK
        ];
        let fill = |seq0: u32, results: &mut Vec<PacketResult>| {
            for (i, r) in results.iter_mut().enumerate() {
                let seq = seq0 + i as u32;
                *r = PacketResult {
                    id: SentPacketId::TransportSeq(seq as u16),
                    arrival_us: (seq % 50 != 0).then(|| arrival(seq, u64::from(seq) * 1000)),
                    ecn: None,
                };
            }
        };
        g.bench_function("rtmedia", |b| {
            let mut bwe = Bwe::new(config(), 0);
            let mut seq = 0u32;
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let seq0 = seq;
                    for _ in 0..PER_FEEDBACK {
                        let now = u64::from(seq) * 1000;
                        bwe.on_sent(now, SentPacketId::TransportSeq(seq as u16), 1000, None);
                        seq += 1;
                    }
                    fill(seq0, &mut results);
                    let now = u64::from(seq) * 1000 + 50_000;
                    let t0 = support::cpu_now();
                    bwe.on_feedback(now, results.iter().copied());
                    total += support::cpu_now() - t0;
                    black_box(bwe.target_bps());
                }
                total
            });
        });
        g.bench_function("naive", |b| {
            let mut naive = NaiveGcc::new();
            let mut seq = 0u32;
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let seq0 = seq;
                    for _ in 0..PER_FEEDBACK {
                        naive.on_sent(u64::from(seq) * 1000, seq as u16, 1000);
                        seq += 1;
                    }
                    fill(seq0, &mut results);
                    let t0 = support::cpu_now();
                    black_box(naive.on_feedback(&results));
                    total += support::cpu_now() - t0;
                }
                total
            });
        });
        g.finish();
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    support::report(&[
        support::Comparison {
            group: GROUP_SENT,
            candidate: "rtmedia",
            baseline: "naive",
            min_speedup: 1.0,
            min_packets_per_sec: None,
        },
        support::Comparison {
            group: GROUP_FEEDBACK,
            candidate: "rtmedia",
            baseline: "naive",
            min_speedup: 1.0,
            min_packets_per_sec: None,
        },
    ]);
}
