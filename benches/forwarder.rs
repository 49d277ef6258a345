//! Simulcast forwarding (issue #5): the per-packet work of an SFU on a real
//! VP8 simulcast stream, against a naive path built on the webrtc-rs crates
//! in the same run.
//!
//! The trace: a [`SimulcastPublisher`] (libvpx, three layers 320x180,
//! 640x360 and 1280x720 at 150, 500 and 1500 kbit/s, L1T3, packets of at
//! most 1200 bytes) encodes `FRAMES` pictures once, before anything is
//! timed. Where a bench needs a longer stream than the trace, the trace is
//! replayed with every layer's sequence numbers, timestamps, PictureIDs and
//! TL0PICIDX moved on by one trace length per pass (made untimed), so every
//! receiver sees one continuous, never-replayed stream.
//!
//! Groups (one criterion iteration = one incoming packet; dropped packets
//! count as processed packets too):
//! - `forward_select_rewrite`: the trace already parsed by a `Source`; one
//!   `Forwarder` with target (2,1) forwards each packet into an output
//!   buffer (a fresh forwarder per pass over the trace, made untimed: it
//!   starts on the first keyframe and climbs to layer 2). Goal ≥ 20 M
//!   packets/s. Baseline `rtp_crate`: copy the packet into a Vec, parse it
//!   with the `rtp` crate, select by SSRC, parse the VP8 descriptor (the
//!   crate's depacketizer) to filter temporal layers, rewrite SSRC, sequence
//!   number and timestamp, re-serialise the descriptor with the new
//!   PictureID, marshal.
//! - `forward_sfu_leg_gcm_1200B`: SRTP unprotect (AEAD_AES_128_GCM) →
//!   `Source::on_rtp` → `Forwarder::forward` into the subscriber's buffer →
//!   SRTP protect in place with the subscriber's context. Goal ≥ 1.5 M
//!   packets/s. Baseline `webrtc`: webrtc-srtp decrypt → the naive rewrite
//!   above (without the copy: decrypt already returns an owned packet) →
//!   webrtc-srtp encrypt. Packets arrive in batches of `BATCH`, protected by
//!   a separate sender untimed; every unprotect and protect result is
//!   unwrapped, so a replay or auth failure panics instead of being timed.
//!   rtmedia receives into pooled buffers (pieces of one `BytesMut` slab per
//!   batch), as a host would, and hands them to the `Source` as shared
//!   `Bytes`.
//! - `forward_fanout_100`: one source packet → `Source::on_rtp` once → 100
//!   forwarders (targets (2,2), (2,1), (1,2), (0,2) in turn), each forward +
//!   GCM protect into its own buffer. Baseline: the naive path with
//!   webrtc-srtp encrypt, once per subscriber (each parses the packet).
//!   `track`: the same 100 subscribers in one `simulcast::Track`
//!   (`push_rtp`, then `poll_output` until `Timeout`, each packet protected
//!   in the one output buffer): the cost of the track object's drain
//!   contract over bare forwarders.
//!
//! Times are this thread's CPU time (`support::cpu_now`). After criterion,
//! a table of medians and ratios, with goals, and the per-forwarded-packet
//! and per-subscriber-packet costs.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, BenchmarkGroup, Criterion, Throughput};
use rtmedia::sim::{SimulcastConfig, SimulcastTrace as Trace};
use rtmedia::simulcast::{
    Forwarded, Forwarder, ForwarderConfig, Layer, Output, Source, SourceConfig, SourcePacket,
    SubscriberConfig, Track, TrackConfig,
};
use rtmedia::srtp::{Config, Profile, Srtp};
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile;

#[path = "support/forwarding.rs"]
mod forwarding;
mod support;

use forwarding::{forwarder, gcm, slab_pieces, webrtc_gcm, Naive, OUT_SSRC};

const GROUP_SELECT: &str = "forward_select_rewrite";
const GROUP_LEG: &str = "forward_sfu_leg_gcm_1200B";
const GROUP_FANOUT: &str = "forward_fanout_100";

/// Pictures in the trace (8 s at 30 fps).
const FRAMES: usize = 240;
/// Packet buffer capacity: the largest packet, a widened PictureID, a tag.
const CAP: usize = 1536;
/// Incoming packets per untimed refill (a batch stays in L2).
const BATCH: usize = 128;
/// Source packets per refill in the fan-out bench.
const FANOUT_BATCH: usize = 16;
const SUBSCRIBERS: usize = 100;
/// The single-subscriber benches' target.
const TARGET: Layer = Layer::new(2, 1);
/// Fan-out targets, subscriber `i` gets `FANOUT_TARGETS[i % 4]`.
const FANOUT_TARGETS: [Layer; 4] = [
    Layer::new(2, 2),
    Layer::new(2, 1),
    Layer::new(1, 2),
    Layer::new(0, 2),
];
const PUBLISHER_KEY: [u8; 16] = [0x3c; 16];
const PUBLISHER_SALT: [u8; 12] = [0xa5; 12];

// ---------------------------------------------------------------------------
// The trace.

/// The publisher's run, encoded once ([`Trace::record`]).
fn make_trace() -> Trace {
    let config = SimulcastConfig {
        seed: 5,
        ..SimulcastConfig::default()
    };
    Trace::record(config, FRAMES).expect("libvpx encoder")
}

// ---------------------------------------------------------------------------
// Shared by the groups.

/// Counts of processed and forwarded packets (per subscriber), to turn the
/// per-packet medians into per-forwarded-packet costs.
#[derive(Default, Clone, Copy, Debug)]
struct Tally {
    processed: u64,
    sent: u64,
}

impl Tally {
    fn sent_share(&self) -> f64 {
        self.sent as f64 / self.processed.max(1) as f64
    }
}

fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
}

/// This thread's CPU time spent in [`time`](Self::time).
#[derive(Default)]
struct Stopwatch(Duration);

impl Stopwatch {
    #[inline(always)]
    fn time<T>(&mut self, timed: impl FnOnce() -> T) -> T {
        let t = support::cpu_now();
        let out = timed();
        self.0 += support::cpu_now() - t;
        out
    }
}

/// One criterion sample of `iters` iterations in batches of at most
/// `batch`: `run(n, stopwatch)` prepares up to `n` iterations untimed, does
/// them inside `stopwatch.time`, and returns how many it did (at least one).
/// Returns the time measured.
fn batched(
    iters: u64,
    batch: usize,
    mut run: impl FnMut(usize, &mut Stopwatch) -> usize,
) -> Duration {
    let mut left = iters as usize;
    let mut stopwatch = Stopwatch::default();
    while left > 0 {
        left -= run(left.min(batch), &mut stopwatch);
    }
    stopwatch.0
}

// ---------------------------------------------------------------------------
// select + rewrite.

fn parse_trace(trace: &Trace) -> Vec<SourcePacket> {
    let mut source = Source::new(SourceConfig::default(), trace.ssrcs()).unwrap();
    trace
        .packets()
        .iter()
        .zip(trace.arrivals_us())
        .map(|(p, &at)| source.on_rtp(p.clone(), at).unwrap())
        .collect()
}

fn bench_select(c: &mut Criterion, trace: &Trace) -> (Tally, Tally) {
    let parsed = parse_trace(trace);
    let mut out = [0u8; CAP];

    // Both sides forward the same packets of layer 2 (ours also the first
    // keyframes of layers 0 and 1 on its way up): checked once, untimed.
    let mut ours = Tally::default();
    let mut fwd = forwarder(TARGET);
    let mut last_seq = None::<u16>;
    let mut ours_on_target = 0;
    for (p, &at) in parsed.iter().zip(trace.arrivals_us()) {
        ours.processed += 1;
        if let Forwarded::Sent(n) = fwd.forward(p, &mut out, at).unwrap() {
            ours.sent += 1;
            let seq = u16::from_be_bytes([out[2], out[3]]);
            if p.spatial == TARGET.spatial {
                ours_on_target += 1;
                if let Some(prev) = last_seq {
                    assert_eq!(seq, prev.wrapping_add(1), "gapless output");
                }
                last_seq = Some(seq);
            }
            assert!(n <= CAP && out[8..12] == OUT_SSRC.to_be_bytes());
        }
    }
    let mut base = Tally::default();
    let mut naive = Naive::new(trace, TARGET);
    for p in trace.packets() {
        base.processed += 1;
        base.sent += u64::from(naive.rewrite(p.clone(), &mut out).is_some());
    }
    assert_eq!(ours_on_target, base.sent, "{ours:?} vs {base:?}");
    let max_len = trace.packets().iter().map(|p| p.len()).max().unwrap();
    println!(
        "trace: {} packets of {FRAMES} pictures on 3 layers (largest {max_len} B); \
         target {TARGET:?} forwards {} ({} of layer {}; baseline {})",
        trace.len(),
        ours.sent,
        ours_on_target,
        TARGET.spatial,
        base.sent
    );

    // Each side goes over the trace in chunks up to the end of the pass,
    // with a fresh subscriber per pass.
    let mut g = c.benchmark_group(GROUP_SELECT);
    configure(&mut g);
    let mut fwd = forwarder(TARGET);
    let mut pos = 0;
    g.bench_function("rtmedia", |b| {
        b.iter_custom(|iters| {
            batched(iters, trace.len(), |n, stopwatch| {
                if pos == parsed.len() {
                    fwd = forwarder(TARGET);
                    pos = 0;
                }
                let n = n.min(parsed.len() - pos);
                let (chunk, at) = (&parsed[pos..pos + n], &trace.arrivals_us()[pos..pos + n]);
                stopwatch.time(|| {
                    for (p, &at) in chunk.iter().zip(at) {
                        black_box(fwd.forward(black_box(p), &mut out, at).unwrap());
                    }
                });
                pos += n;
                n
            })
        })
    });
    let mut naive = Naive::new(trace, TARGET);
    let mut pos = 0;
    g.bench_function("rtp_crate", |b| {
        b.iter_custom(|iters| {
            batched(iters, trace.len(), |n, stopwatch| {
                if pos == trace.len() {
                    naive = Naive::new(trace, TARGET);
                    pos = 0;
                }
                let n = n.min(trace.len() - pos);
                let chunk = &trace.packets()[pos..pos + n];
                stopwatch.time(|| {
                    for p in chunk {
                        let copy = Bytes::from(black_box(&p[..]).to_vec());
                        black_box(naive.rewrite(copy, &mut out));
                    }
                });
                pos += n;
                n
            })
        })
    });
    g.finish();
    (ours, base)
}

// ---------------------------------------------------------------------------
// The full SFU leg.

/// The publisher side: the endless stream, protected with the publisher's
/// key, into pieces of one slab per batch (pooled receive buffers).
struct Publisher<'a> {
    trace: &'a Trace,
    next: u64,
    ctx: Srtp,
}

/// An SRTP context with the publisher's key.
fn publisher_gcm() -> Srtp {
    Srtp::new(
        Profile::AeadAes128Gcm,
        &PUBLISHER_KEY,
        &PUBLISHER_SALT,
        Config::default(),
    )
    .unwrap()
}

impl<'a> Publisher<'a> {
    fn new(trace: &'a Trace) -> Self {
        Self {
            trace,
            next: 0,
            ctx: publisher_gcm(),
        }
    }

    /// `n` protected packets, each a `BytesMut` piece of one shared slab.
    fn batch(&mut self, n: usize, out: &mut Vec<(BytesMut, u64)>) {
        for (mut piece, len, at) in slab_pieces(self.trace, &mut self.next, n, CAP) {
            let len = self.ctx.protect_rtp(&mut piece, len).unwrap();
            piece.truncate(len);
            out.push((piece, at));
        }
    }
}

fn bench_leg(c: &mut Criterion, trace: &Trace) -> (Tally, Tally) {
    let mut g = c.benchmark_group(GROUP_LEG);
    configure(&mut g);
    let mut batch = Vec::with_capacity(BATCH);
    let mut out = [0u8; CAP];

    let mut ours = Tally::default();
    let mut publisher = Publisher::new(trace);
    let mut rx = publisher_gcm();
    let mut source = Source::new(SourceConfig::default(), trace.ssrcs()).unwrap();
    let mut fwd = forwarder(TARGET);
    let mut tx = gcm(1);
    g.bench_function("rtmedia", |b| {
        b.iter_custom(|iters| {
            batched(iters, BATCH, |n, stopwatch| {
                publisher.batch(n, &mut batch);
                stopwatch.time(|| {
                    for (mut p, at) in batch.drain(..) {
                        let len = rx.unprotect_rtp(&mut p).unwrap();
                        p.truncate(len);
                        let pkt = source.on_rtp(p.freeze(), at).unwrap();
                        if let Forwarded::Sent(len) = fwd.forward(&pkt, &mut out, at).unwrap() {
                            black_box(tx.protect_rtp(&mut out, len).unwrap());
                            ours.sent += 1;
                        }
                    }
                });
                ours.processed += n as u64;
                n
            })
        })
    });
    assert_eq!(rx.stats().rtp_unprotected, ours.processed);

    let mut base = Tally::default();
    let mut publisher = Publisher::new(trace);
    let mut rx = WebrtcContext::new(
        &PUBLISHER_KEY,
        &PUBLISHER_SALT,
        ProtectionProfile::AeadAes128Gcm,
        Some(srtp_replay_protection(1024)),
        None,
    )
    .unwrap();
    let mut naive = Naive::new(trace, TARGET);
    let mut tx = webrtc_gcm(1, false);
    g.bench_function("webrtc", |b| {
        b.iter_custom(|iters| {
            batched(iters, BATCH, |n, stopwatch| {
                publisher.batch(n, &mut batch);
                stopwatch.time(|| {
                    for (p, _) in batch.drain(..) {
                        let plain = rx.decrypt_rtp(&p).unwrap();
                        if let Some(len) = naive.rewrite(plain, &mut out) {
                            black_box(tx.encrypt_rtp(&out[..len]).unwrap());
                            base.sent += 1;
                        }
                    }
                });
                base.processed += n as u64;
                n
            })
        })
    });
    g.finish();
    (ours, base)
}

// ---------------------------------------------------------------------------
// Fan-out.

fn bench_fanout(c: &mut Criterion, trace: &Trace) -> (Tally, Tally) {
    let mut g = c.benchmark_group(GROUP_FANOUT);
    configure(&mut g);
    g.sample_size(30);
    let mut outs = vec![[0u8; CAP]; SUBSCRIBERS];
    let targets = |i: usize| FANOUT_TARGETS[i % FANOUT_TARGETS.len()];

    // Source packets: the endless stream in shared pieces of a slab.
    let make = |next: &mut u64, n: usize, batch: &mut Vec<(Bytes, u64)>| {
        for (mut piece, len, at) in slab_pieces(trace, next, n, CAP) {
            piece.truncate(len);
            batch.push((piece.freeze(), at));
        }
    };
    let mut batch = Vec::with_capacity(FANOUT_BATCH);

    let mut ours = Tally::default();
    let mut next = 0;
    let mut source = Source::new(SourceConfig::default(), trace.ssrcs()).unwrap();
    let mut subs: Vec<(Forwarder, Srtp)> = (0..SUBSCRIBERS)
        .map(|i| (forwarder(targets(i)), gcm(i as u8)))
        .collect();
    g.bench_function("rtmedia", |b| {
        b.iter_custom(|iters| {
            batched(iters, FANOUT_BATCH, |n, stopwatch| {
                make(&mut next, n, &mut batch);
                stopwatch.time(|| {
                    for (p, at) in batch.drain(..) {
                        let pkt = source.on_rtp(p, at).unwrap();
                        for ((fwd, tx), out) in subs.iter_mut().zip(&mut outs) {
                            if let Forwarded::Sent(len) = fwd.forward(&pkt, out, at).unwrap() {
                                black_box(tx.protect_rtp(out, len).unwrap());
                                ours.sent += 1;
                            }
                        }
                    }
                });
                ours.processed += (n * SUBSCRIBERS) as u64;
                n
            })
        })
    });

    let mut next = 0;
    let mut track = Track::new(TrackConfig::default(), trace.ssrcs()).unwrap();
    let mut txs: Vec<Srtp> = (0..SUBSCRIBERS).map(|i| gcm(i as u8)).collect();
    for i in 0..SUBSCRIBERS {
        let config = SubscriberConfig {
            forwarder: ForwarderConfig {
                ssrc: OUT_SSRC + i as u32,
                ..ForwarderConfig::default()
            },
            rtx: None,
        };
        track
            .add_subscriber(i as u64, config, targets(i), 0)
            .unwrap();
    }
    let mut out = [0u8; CAP];
    g.bench_function("track", |b| {
        b.iter_custom(|iters| {
            batched(iters, FANOUT_BATCH, |n, stopwatch| {
                make(&mut next, n, &mut batch);
                stopwatch.time(|| {
                    for (p, at) in batch.drain(..) {
                        track.push_rtp(p, at).unwrap();
                        loop {
                            match track.poll_output(at, &mut out).unwrap() {
                                Output::Rtp {
                                    subscriber, len, ..
                                } => {
                                    let tx = &mut txs[subscriber as usize];
                                    black_box(tx.protect_rtp(&mut out, len).unwrap());
                                }
                                Output::KeyframeRequest { ssrc } => {
                                    black_box(ssrc);
                                }
                                Output::Timeout(_) => break,
                            }
                        }
                    }
                });
                n
            })
        })
    });

    let mut base = Tally::default();
    let mut next = 0;
    let mut subs: Vec<(Naive, WebrtcContext)> = (0..SUBSCRIBERS)
        .map(|i| (Naive::new(trace, targets(i)), webrtc_gcm(i as u8, false)))
        .collect();
    g.bench_function("webrtc", |b| {
        b.iter_custom(|iters| {
            batched(iters, FANOUT_BATCH, |n, stopwatch| {
                make(&mut next, n, &mut batch);
                stopwatch.time(|| {
                    for (p, _) in batch.drain(..) {
                        for ((naive, tx), out) in subs.iter_mut().zip(&mut outs) {
                            let copy = Bytes::from(p.to_vec());
                            if let Some(len) = naive.rewrite(copy, out) {
                                black_box(tx.encrypt_rtp(&out[..len]).unwrap());
                                base.sent += 1;
                            }
                        }
                    }
                });
                base.processed += (n * SUBSCRIBERS) as u64;
                n
            })
        })
    });
    g.finish();
    (ours, base)
}

// ---------------------------------------------------------------------------

/// Tallies of each group, for the report after criterion has finished.
static TALLIES: std::sync::Mutex<Vec<(&str, Tally, Tally)>> = std::sync::Mutex::new(Vec::new());

fn bench(c: &mut Criterion) {
    let trace = make_trace();
    let select = bench_select(c, &trace);
    let leg = bench_leg(c, &trace);
    let fanout = bench_fanout(c, &trace);
    let mut t = TALLIES.lock().unwrap();
    t.push((GROUP_SELECT, select.0, select.1));
    t.push((GROUP_LEG, leg.0, leg.1));
    t.push((GROUP_FANOUT, fanout.0, fanout.1));
}

criterion_group!(benches, bench);

/// Per forwarded packet (and, for the fan-out, per subscriber-packet) from
/// the medians and the shares of packets each side forwarded.
fn report_derived() {
    println!(
        "\n{:<28} {:<10} {:>16} {:>22} {:>12}",
        "group", "side", "ns/processed", "ns/forwarded (share)", "forwarded M/s"
    );
    for (group, ours, base) in TALLIES.lock().unwrap().iter() {
        for (side, name, tally) in [("rtmedia", "rtmedia", ours), ("baseline", "", base)] {
            let function = match (*group, side) {
                (_, "rtmedia") => "rtmedia",
                (GROUP_SELECT, _) => "rtp_crate",
                _ => "webrtc",
            };
            let Some(ns) = support::median_ns(group, function) else {
                continue;
            };
            // The fan-out's iteration is one source packet: 100 subscriber-packets.
            let per = if *group == GROUP_FANOUT {
                ns / SUBSCRIBERS as f64
            } else {
                ns
            };
            let share = tally.sent_share();
            let per_sent = per / share;
            println!(
                "{:<28} {:<10} {:>16.1} {:>14.1} ({:>4.1}%) {:>12.2}",
                group,
                if name.is_empty() { function } else { name },
                per,
                per_sent,
                share * 100.0,
                1e3 / per_sent
            );
        }
    }
    println!(
        "(fan-out: ns per subscriber-packet, i.e. the median per source packet / {SUBSCRIBERS})"
    );
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!(
        "\nGoals: select+rewrite >= 20 M packets/s; full leg >= 1.5 M packets/s; \
         every row at least as fast as its baseline"
    );
    let met = support::report(&[
        support::Comparison {
            group: GROUP_SELECT,
            candidate: "rtmedia",
            baseline: "rtp_crate",
            min_speedup: 1.0,
            min_packets_per_sec: Some(20e6),
        },
        support::Comparison {
            group: GROUP_LEG,
            candidate: "rtmedia",
            baseline: "webrtc",
            min_speedup: 1.0,
            min_packets_per_sec: Some(1.5e6),
        },
        support::Comparison {
            group: GROUP_FANOUT,
            candidate: "rtmedia",
            baseline: "webrtc",
            min_speedup: 1.0,
            min_packets_per_sec: None,
        },
        support::Comparison {
            group: GROUP_FANOUT,
            candidate: "track",
            baseline: "webrtc",
            min_speedup: 1.0,
            min_packets_per_sec: None,
        },
    ]);
    report_derived();
    if !met {
        println!("forwarder bench: a goal was missed (see MISSED above)");
    }
}
