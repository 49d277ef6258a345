//! Hostile sequence numbers (issue 19, item 4): a push that resets the
//! jitter buffer or opens a far gap must cost time in proportion to the
//! packets held, not to the capacity (the old cost, a walk over every slot,
//! was 246 µs per reset and 150 µs per far gap at capacity 65,536, against
//! ~0.1 µs for a clean push). Measured against clean pushes on a buffer of
//! the same capacity in the same run; NACK and wakeup queries over a far
//! gap at capacity 65,536 against the same at 2,048.
//!
//! Resets run at capacity 16,384 (a 30,000 jump is beyond that window),
//! clean and far-gap pushes at 65,536.
//!
//! Goals (ratios, the machines are shared): a reset and a far-gap push each
//! at most 20 clean pushes (speed-up ≥ 0.05); queries at capacity 65,536 at
//! most 3× those at 2,048 (speed-up ≥ 0.33).

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, Criterion};
use rtmedia::jitter::{JitterBuffer, JitterConfig, Pushed};
use rtmedia::packet::RtpBuilder;

mod support;

const GROUP: &str = "jitter_hostile";
/// Capacity for clean and far-gap pushes; resets need a jump beyond the
/// window, so they run at [`RESET_CAPACITY`] (a 30,000 jump).
const CAPACITY: usize = 65_536;
const RESET_CAPACITY: usize = 16_384;

fn rtp(seq: u16, ts: u32) -> Bytes {
    let mut buf = vec![0u8; 13];
    RtpBuilder {
        payload_type: 111,
        sequence_number: seq,
        timestamp: ts,
        ssrc: 7,
        payload: b"a",
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    Bytes::from(buf)
}

fn buffer(capacity: usize) -> JitterBuffer {
    let mut config = JitterConfig::audio();
    config.capacity_packets = capacity;
    let mut jb = JitterBuffer::new(config);
    jb.set_rtt(20_000);
    jb
}

/// A buffer holding 100 packets of a steady stream, and the time after
/// them.
fn warmed(capacity: usize) -> (JitterBuffer, u64) {
    let mut jb = buffer(capacity);
    let mut now = 1_000_000;
    for seq in 0..100u16 {
        jb.push(rtp(seq, u32::from(seq) * 960), now).unwrap();
        now += 20_000;
    }
    (jb, now)
}

/// Times pushes of packets `jump` sequence numbers apart into a buffer of
/// `capacity` (made beforehand: not timed), popping what is due after
/// each when `pop`.
fn bench_pushes(c: &mut Criterion, name: &str, capacity: usize, jump: u16, pop: bool) {
    let mut g = c.benchmark_group(GROUP);
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(300));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let (mut jb, mut now) = warmed(capacity);
            let mut seq = 100u16;
            let packets: Vec<Bytes> = (0..iters)
                .map(|_| {
                    seq = seq.wrapping_add(jump);
                    rtp(seq, u32::from(seq) * 960)
                })
                .collect();
            let t = support::cpu_now();
            for p in packets {
                now += 20_000;
                black_box(jb.push(p, now).unwrap());
                if pop {
                    while jb.pop(now + 1_000_000).is_some() {}
                }
            }
            support::cpu_now() - t
        })
    });
    g.finish();
}

fn bench_queries(c: &mut Criterion, name: &str, capacity: usize, jump: u16) {
    let mut g = c.benchmark_group(GROUP);
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(300));
    let (mut jb, mut now) = warmed(capacity);
    let seq = 99u16.wrapping_add(jump);
    let pushed = jb.push(rtp(seq, u32::from(seq) * 960), now).unwrap();
    assert_eq!(pushed, Pushed::Stored, "the gap is opened");
    let mut out = [0u16; 64];
    g.bench_function(name, |b| {
        b.iter(|| {
            now += 10_000;
            black_box(jb.nack_list(now, &mut out));
            black_box(jb.next_wakeup())
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    // What the timed pushes do, checked once.
    let (mut jb, now) = warmed(RESET_CAPACITY);
    assert_eq!(
        jb.push(rtp(100u16.wrapping_add(30_000), 0), now).unwrap(),
        Pushed::Reset,
        "a 30,000 jump resets"
    );
    let (mut jb, now) = warmed(CAPACITY);
    assert_eq!(
        jb.push(rtp(100u16.wrapping_add(20_001), 0), now).unwrap(),
        Pushed::Stored,
        "a 20,001 jump opens a gap"
    );
    bench_pushes(c, "clean_push", CAPACITY, 1, true);
    bench_pushes(c, "reset_push", RESET_CAPACITY, 30_000, false);
    bench_pushes(c, "far_gap_push", CAPACITY, 20_001, false);
    // The same 1,400-packet gap at both capacities.
    bench_queries(c, "queries_capacity_65536", CAPACITY, 1_500);
    bench_queries(c, "queries_capacity_2048", 2_048, 1_500);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let comparison = |candidate, baseline, min_speedup| support::Comparison {
        group: GROUP,
        candidate,
        baseline,
        min_speedup,
        min_packets_per_sec: None,
    };
    let met = support::report(&[
        comparison("reset_push", "clean_push", 0.05),
        comparison("far_gap_push", "clean_push", 0.05),
        comparison("queries_capacity_65536", "queries_capacity_2048", 0.33),
    ]);
    if !met {
        println!("jitter_hostile bench: a goal was missed (see MISSED above)");
    }
}
