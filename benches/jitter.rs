//! Jitter buffer insert + pop on a seeded audio trace (20 ms Opus-sized
//! packets, 5 % reordered by 1–3 positions, 2 % lost), against a
//! straightforward `BTreeMap` jitter buffer in the same run, on the same
//! trace with the same fixed delay. Goals: at least as fast as the baseline,
//! and ≥ 20 M packets/s on one core.
//!
//! One criterion iteration is one arriving packet: it is pushed at its
//! arrival time and everything due then is popped (timed in this thread's
//! CPU time on Linux, see `cpu_now`). "Reordered" packets are held back
//! behind the next 1–3 packets (behind one: a swap). Variants:
//! - `rtmedia` / `btreemap`: push + pop (NACK enabled in rtmedia's config,
//!   no NACK list asked for; the baseline keeps no NACK state);
//! - `rtmedia_nack` / `btreemap_nack`: the same plus a NACK list every 20 ms
//!   (rtmedia: `poll_nacks` + `on_nack_sent`)
//!   of simulated time (the baseline keeps its gaps in a second `BTreeMap`,
//!   as libwebrtc's `NackRequester` keeps a `std::map`);
//! - `rtmedia_adaptive`: rtmedia with its default adaptive delay
//!   (`JitterConfig::audio()`), against `btreemap` (fixed delay).
//!
//! Before timing, both sides replay the whole trace once and must produce
//! the same packets and losses (the trace has no jitter besides the
//! reordering, so a fixed delay gives both the same playout times), and
//! rtmedia no more NACKs (it learns the reordering; the baseline waits a
//! fixed 5 ms).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, Criterion, Throughput};
use rtmedia::jitter::{DelayConfig, Event, JitterBuffer, JitterConfig};
use rtmedia::packet::{RtpBuilder, RtpPacket, SeqUnwrapper, TimestampUnwrapper};
use rtmedia::sim::Rng;

mod support;

const GROUP: &str = "jitter_audio_reorder5_loss2";

/// Packets sent (the trace holds the ~98 % that arrive): 164 s of audio.
/// Small enough that the trace (packets, their shared headers) stays in a
/// core's L2 cache, as a packet the host has just received would be; with
/// 64 Ki packets every `Bytes` refcount touch is a cache miss, which costs
/// both sides the same ~25 ns and hides the buffers' own work.
const SENT: usize = 8_192;
const PTIME_US: u64 = 20_000;
const TS_STEP: u32 = 960;
const CLOCK_RATE: u32 = 48_000;
const PAYLOAD_LEN: usize = 60;
const LOSS: f64 = 0.02;
const REORDER: f64 = 0.05;
/// One-way transit of a packet that is not held back.
const TRANSIT_US: u64 = 40_000;
/// Fixed playout delay, both sides: covers the latest reordering (3 × 20 ms + 1 ms).
const DELAY_US: u64 = 80_000;
/// RTT for NACK timing, both sides (short enough that gaps are requested).
const RTT_US: u64 = 30_000;
const NACK_INTERVAL_US: u64 = 20_000;
/// rtmedia's `NackConfig::default()`, mirrored by the baseline.
const NACK_REORDER_WAIT_US: u64 = 5_000;
const NACK_MAX_RETRIES: u8 = 10;

struct Arrival {
    at: u64,
    packet: Bytes,
}

/// The seeded trace, in arrival order. Each packet is its own shared `Bytes`
/// (promoted by one clone here), so a clone in the timed loop is a refcount
/// increment, never an allocation.
fn trace(seed: u64) -> Vec<Arrival> {
    let mut rng = Rng::new(seed);
    let seq0: u16 = 65_000; // the sequence number wraps early in the trace
    let ts0: u32 = u32::MAX - 100 * TS_STEP; // and so does the timestamp
    let start_us = 1_000_000;
    let mut out = Vec::with_capacity(SENT);
    let mut payload = [0u8; PAYLOAD_LEN];
    for i in 0..SENT {
        // The first packet always arrives on time (the baseline's time origin).
        if i > 0 && rng.chance(LOSS) {
            continue;
        }
        let mut at = start_us + i as u64 * PTIME_US + TRANSIT_US;
        if i > 0 && rng.chance(REORDER) {
            // Held back behind the next 1–3 packets.
            at += (1 + rng.below(3)) * PTIME_US + 1_000;
        }
        for b in payload.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let mut buf = vec![0u8; 12 + PAYLOAD_LEN];
        let n = RtpBuilder {
            payload_type: 111,
            sequence_number: seq0.wrapping_add(i as u16),
            timestamp: ts0.wrapping_add(i as u32 * TS_STEP),
            ssrc: 0x5eed_0001,
            payload: &payload,
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        assert_eq!(n, buf.len());
        let packet = Bytes::from(buf);
        drop(packet.clone()); // promote to shared storage now, not in the timed loop
        out.push(Arrival { at, packet });
    }
    out.sort_by_key(|a| a.at); // stable: equal times keep sending order
    out
}

/// What a replay produced, to check that both sides did the same work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    packets: u64,
    lost: u64,
    nacked: u64,
    sink: u64,
}

/// One side of the comparison: handles one arrival (push, pop everything
/// due, maybe a NACK list).
trait Side {
    fn step(&mut self, at: u64, packet: &Bytes);
    fn tally(&self) -> Tally;
}

// ---------------------------------------------------------------- rtmedia

struct Rtmedia {
    jb: JitterBuffer,
    nack_every: Option<u64>,
    next_nack: u64,
    nack_out: [i64; 64],
    tally: Tally,
}

impl Rtmedia {
    fn new(fixed_delay: bool, nack_every: Option<u64>) -> Self {
        let mut config = JitterConfig::audio();
        assert!(config.nack.enabled);
        assert_eq!(config.nack.reorder_wait_us, NACK_REORDER_WAIT_US);
        assert_eq!(config.nack.max_retries, NACK_MAX_RETRIES);
        if fixed_delay {
            config.delay = DelayConfig {
                fixed_delay_us: Some(DELAY_US),
                ..config.delay
            };
        }
        let mut jb = JitterBuffer::new(config);
        jb.set_rtt(RTT_US);
        Self {
            jb,
            nack_every,
            next_nack: 0,
            nack_out: [0; 64],
            tally: Tally::default(),
        }
    }
}

impl Side for Rtmedia {
    #[inline]
    fn step(&mut self, at: u64, packet: &Bytes) {
        let _ = self.jb.push(packet.clone(), at);
        while let Some(event) = self.jb.pop(at) {
            match event {
                Event::Packet { packet, seq, .. } => {
                    self.tally.packets += 1;
                    self.tally.sink = self
                        .tally
                        .sink
                        .wrapping_add(packet.len() as u64 ^ seq as u64);
                }
                Event::Lost { seq, timestamp, .. } => {
                    self.tally.lost += 1;
                    self.tally.sink = self.tally.sink.wrapping_add(seq as u64 ^ timestamp as u64);
                }
                Event::Frame { .. } => unreachable!("audio mode"),
            }
        }
        if let Some(every) = self.nack_every {
            if at >= self.next_nack {
                let n = self.jb.poll_nacks(at, &mut self.nack_out);
                self.jb.on_nack_sent(at, &self.nack_out[..n]);
                self.tally.nacked += n as u64;
                for &s in &self.nack_out[..n] {
                    self.tally.sink = self.tally.sink.wrapping_add(s as u64);
                }
                self.next_nack = at - at % every + every;
            }
        }
    }

    fn tally(&self) -> Tally {
        self.tally
    }
}

// --------------------------------------------------------------- baseline

/// The jitter buffer most code bases start with: packets in a `BTreeMap`
/// keyed by unwrapped sequence number; the first entry is released when its
/// playout time (fixed delay after the first packet's arrival, by
/// timestamp) has passed; a gap before it is declared lost at the same
/// moment; duplicates and packets older than the release point are dropped.
/// With NACK, missing sequence numbers live in a second `BTreeMap`.
struct BTreeJitter {
    seq_unwrap: SeqUnwrapper,
    ts_unwrap: TimestampUnwrapper,
    packets: BTreeMap<i64, Held>,
    /// Next sequence number to release.
    next: Option<i64>,
    highest: i64,
    /// First arrival time and its (unwrapped) timestamp: the time origin.
    origin: (u64, i64),
    /// Last released or lost: sequence number and timestamp.
    last_out: Option<(i64, i64)>,
    delay_us: u64,
    clock_rate: i64,
    late: u64,
    duplicates: u64,
    nack: Option<Nack>,
    tally: Tally,
}

struct Held {
    packet: Bytes,
    ts: i64,
}

struct Nack {
    missing: BTreeMap<i64, NackState>,
    every: u64,
    next_at: u64,
    out: [u16; 64],
}

struct NackState {
    since: u64,
    last: Option<u64>,
    retries: u8,
}

enum Out {
    Packet {
        packet: Bytes,
        seq: i64,
    },
    Lost {
        seq: i64,
        ts: i64,
        _fec_in_next: bool,
    },
}

impl BTreeJitter {
    fn new(nack_every: Option<u64>) -> Self {
        Self {
            seq_unwrap: SeqUnwrapper::new(),
            ts_unwrap: TimestampUnwrapper::new(),
            packets: BTreeMap::new(),
            next: None,
            highest: 0,
            origin: (0, 0),
            last_out: None,
            delay_us: DELAY_US,
            clock_rate: i64::from(CLOCK_RATE),
            late: 0,
            duplicates: 0,
            nack: nack_every.map(|every| Nack {
                missing: BTreeMap::new(),
                every,
                next_at: 0,
                out: [0; 64],
            }),
            tally: Tally::default(),
        }
    }

    #[inline]
    fn playout(origin: (u64, i64), delay_us: u64, clock_rate: i64, ts: i64) -> u64 {
        let media_us = (ts - origin.1) * 1_000_000 / clock_rate;
        (origin.0 as i64 + media_us + delay_us as i64).max(0) as u64
    }

    fn push(&mut self, packet: Bytes, now: u64) {
        let Ok(p) = RtpPacket::parse(&packet[..]) else {
            return;
        };
        let seq = self.seq_unwrap.unwrap(u64::from(p.sequence_number()));
        let ts = self.ts_unwrap.unwrap(u64::from(p.timestamp()));
        let next = match self.next {
            Some(next) => next,
            None => {
                self.next = Some(seq);
                self.highest = seq - 1;
                self.origin = (now, ts);
                seq
            }
        };
        if seq < next {
            self.late += 1;
            return;
        }
        match self.packets.entry(seq) {
            Entry::Occupied(_) => {
                self.duplicates += 1;
                return;
            }
            Entry::Vacant(v) => {
                v.insert(Held { packet, ts });
            }
        }
        if seq > self.highest {
            if let Some(nack) = &mut self.nack {
                for missing in self.highest + 1..seq {
                    nack.missing.insert(
                        missing,
                        NackState {
                            since: now,
                            last: None,
                            retries: 0,
                        },
                    );
                }
            }
            self.highest = seq;
        } else if let Some(nack) = &mut self.nack {
            nack.missing.remove(&seq);
        }
    }

    fn pop(&mut self, now: u64) -> Option<Out> {
        let next = self.next?;
        let first = self.packets.first_entry()?;
        let seq = *first.key();
        let ts = first.get().ts;
        if now < Self::playout(self.origin, self.delay_us, self.clock_rate, ts) {
            return None;
        }
        if seq == next {
            let held = first.remove();
            self.next = Some(seq + 1);
            self.last_out = Some((seq, ts));
            return Some(Out::Packet {
                packet: held.packet,
                seq,
            });
        }
        // A gap before a packet that is due: the gap is lost.
        let lost_ts = match self.last_out {
            Some((ls, lts)) if seq > ls => lts + (ts - lts) * (next - ls) / (seq - ls),
            _ => ts,
        };
        self.next = Some(next + 1);
        self.last_out = Some((next, lost_ts));
        if let Some(nack) = &mut self.nack {
            nack.missing.remove(&next);
        }
        Some(Out::Lost {
            seq: next,
            ts: lost_ts,
            _fec_in_next: seq == next + 1,
        })
    }

    /// Missing sequence numbers to request now, oldest first (same rules as
    /// rtmedia: after the reorder wait, then every RTT, up to the retry
    /// limit, while a retransmission could still be played).
    fn nack_list(&mut self, now: u64) -> usize {
        let Some(nack) = &mut self.nack else { return 0 };
        let mut n = 0;
        for (&seq, state) in nack.missing.iter_mut() {
            if n == nack.out.len() {
                break;
            }
            if state.retries >= NACK_MAX_RETRIES {
                continue;
            }
            let due = match state.last {
                None => state.since + NACK_REORDER_WAIT_US,
                Some(t) => t + RTT_US,
            };
            if due > now {
                continue;
            }
            let deadline = self
                .packets
                .range(seq..)
                .next()
                .map(|(_, h)| Self::playout(self.origin, self.delay_us, self.clock_rate, h.ts));
            if deadline.is_none_or(|d| now + RTT_US > d) {
                continue;
            }
            state.retries += 1;
            state.last = Some(now);
            nack.out[n] = seq as u16;
            n += 1;
        }
        n
    }
}

impl Side for BTreeJitter {
    #[inline]
    fn step(&mut self, at: u64, packet: &Bytes) {
        self.push(packet.clone(), at);
        while let Some(out) = self.pop(at) {
            match out {
                Out::Packet { packet, seq } => {
                    self.tally.packets += 1;
                    self.tally.sink = self
                        .tally
                        .sink
                        .wrapping_add(packet.len() as u64 ^ seq as u64);
                }
                Out::Lost { seq, ts, .. } => {
                    self.tally.lost += 1;
                    self.tally.sink = self.tally.sink.wrapping_add(seq as u64 ^ ts as u64);
                }
            }
        }
        let Some(nack) = &self.nack else { return };
        if at >= nack.next_at {
            let every = nack.every;
            let n = self.nack_list(at);
            self.tally.nacked += n as u64;
            let nack = self.nack.as_mut().unwrap();
            for &s in &nack.out[..n] {
                self.tally.sink = self.tally.sink.wrapping_add(u64::from(s));
            }
            nack.next_at = at - at % every + every;
        }
    }

    fn tally(&self) -> Tally {
        self.tally
    }
}

// ------------------------------------------------------------------ bench

fn replay(side: &mut impl Side, trace: &[Arrival]) -> Tally {
    for a in trace {
        side.step(a.at, &a.packet);
    }
    side.tally()
}

/// Times one arriving packet per criterion iteration, replaying the trace
/// from a fresh buffer whenever it runs out (building and dropping buffers
/// is not timed). Time is this thread's CPU time (see `support::cpu_now`).
fn bench_side<S: Side>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    trace: &[Arrival],
    make: impl Fn() -> S,
) {
    let mut side = make();
    let mut pos = 0;
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut left = iters as usize;
            let mut total = Duration::ZERO;
            while left > 0 {
                if pos == trace.len() {
                    black_box(side.tally());
                    side = make();
                    pos = 0;
                }
                let n = left.min(trace.len() - pos);
                let chunk = &trace[pos..pos + n];
                let t = support::cpu_now();
                for a in chunk {
                    side.step(black_box(a.at), &a.packet);
                }
                total += support::cpu_now() - t;
                pos += n;
                left -= n;
            }
            total
        })
    });
    black_box(side.tally());
}

fn bench(c: &mut Criterion) {
    let trace = trace(0x06a1_77e5);

    // Same work on both sides, checked once before timing.
    let ours = replay(&mut Rtmedia::new(true, None), &trace);
    let base = replay(&mut BTreeJitter::new(None), &trace);
    assert_eq!(ours, base, "rtmedia and the baseline disagree on the trace");
    let ours_nack = replay(&mut Rtmedia::new(true, Some(NACK_INTERVAL_US)), &trace);
    let base_nack = replay(&mut BTreeJitter::new(Some(NACK_INTERVAL_US)), &trace);
    // The baseline waits a fixed 5 ms before requesting a gap; rtmedia
    // learns the trace's reordering (packets held back by up to 3 packet
    // times) and does not request packets that are only reordered: fewer
    // NACKs, never more. Same packets and losses.
    assert_eq!(
        (ours_nack.packets, ours_nack.lost),
        (base_nack.packets, base_nack.lost)
    );
    assert!(
        ours_nack.nacked > 0 && ours_nack.nacked <= base_nack.nacked,
        "NACK lists: {ours_nack:?} vs {base_nack:?}"
    );
    assert!(ours_nack.nacked > 0 && ours.lost > 0);
    let adaptive = replay(&mut Rtmedia::new(false, None), &trace);
    println!(
        "trace: {} arrivals of {} sent; fixed {} ms: {} released, {} lost, {} NACKed \
         (baseline {}) with NACK every 20 ms; adaptive: {} released, {} lost",
        trace.len(),
        SENT,
        DELAY_US / 1000,
        ours.packets,
        ours.lost,
        ours_nack.nacked,
        base_nack.nacked,
        adaptive.packets,
        adaptive.lost,
    );

    let mut g = c.benchmark_group(GROUP);
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    bench_side(&mut g, "rtmedia", &trace, || Rtmedia::new(true, None));
    bench_side(&mut g, "btreemap", &trace, || BTreeJitter::new(None));
    bench_side(&mut g, "rtmedia_nack", &trace, || {
        Rtmedia::new(true, Some(NACK_INTERVAL_US))
    });
    bench_side(&mut g, "btreemap_nack", &trace, || {
        BTreeJitter::new(Some(NACK_INTERVAL_US))
    });
    bench_side(&mut g, "rtmedia_adaptive", &trace, || {
        Rtmedia::new(false, None)
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let comparison = |candidate, baseline| support::Comparison {
        group: GROUP,
        candidate,
        baseline,
        min_speedup: 1.0,
        min_packets_per_sec: Some(20e6),
    };
    let met = support::report(&[
        comparison("rtmedia", "btreemap"),
        comparison("rtmedia_nack", "btreemap_nack"),
        comparison("rtmedia_adaptive", "btreemap"),
    ]);
    if !met {
        println!("jitter bench: a goal was missed (see MISSED above)");
    }
}
