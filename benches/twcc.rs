//! Transport-wide congestion control feedback, against webrtc-rs (the `rtcp`
//! crate's `TransportLayerCc`, the `interceptor` crate's twcc `Recorder`) in
//! the same run, timed in this thread's CPU time.
//!
//! - `twcc_parse_100`: one 100-packet feedback (1 ms spacing with jitter,
//!   2 % loss) from bytes to per-packet arrival times. Ours: validate the
//!   view and iterate its results. Baseline: `TransportLayerCc::unmarshal`
//!   (owned chunk and delta vectors) and a walk summing its deltas.
//! - `twcc_record_build_per_100`: 100 packets recorded and one feedback
//!   written (the recorder's steady state at 1000 packets/s and a 100 ms
//!   interval); divide by 100 for the per-packet cost. Ours:
//!   `FeedbackRecorder::on_packet` ×100 and `poll_feedback`. Baseline
//!   `interceptor`: webrtc-rs's `interceptor::twcc::Recorder` (`record` ×100,
//!   `build_feedback_packet`, each packet marshalled into a buffer), the
//!   same job (it keeps no window, drops nothing and sorts per feedback).
//!   Second baseline `rtcp_crate_no_chunking`: the arrivals pushed into a
//!   `Vec`, a `TransportLayerCc` filled with chunks cloned from a
//!   precomputed list (no chunk choice at all, so less work than ours) and
//!   marshalled: a floor, not the same job.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, Criterion, Throughput};
use rtcp::transport_feedbacks::transport_layer_cc::{RecvDelta, SymbolTypeTcc, TransportLayerCc};
use rtmedia::cc::recorder::{FeedbackRecorder, RecorderConfig};
use rtmedia::cc::SentPacketId;
use rtmedia::packet::rtcp::{compound, RtcpPacket, TransportFeedbackBuilder};
use webrtc_util::{Marshal, Unmarshal};

mod support;

/// Times `f` in this thread's CPU time (`support::cpu_now`): the bench
/// machines are shared, and wall time counts whatever preempts the bench.
fn cpu_timed<R>(b: &mut criterion::Bencher<'_>, mut f: impl FnMut() -> R) {
    b.iter_custom(|iters| {
        let t = support::cpu_now();
        for _ in 0..iters {
            black_box(f());
        }
        support::cpu_now() - t
    })
}

const PARSE: &str = "twcc_parse_100";
const RECORD: &str = "twcc_record_build_per_100";

/// 100 entries from `first`: 1 ms apart ± jitter, every 50th lost.
fn entries(first: u16, t0: i64) -> impl Iterator<Item = (u16, Option<i64>)> + Clone {
    (0..100u16).map(move |i| {
        let jitter = i64::from((i * 37) % 11) * 150;
        let lost = (first.wrapping_add(i)) % 50 == 17;
        (
            first.wrapping_add(i),
            (!lost).then_some(t0 + i64::from(i) * 1000 + jitter),
        )
    })
}

fn message() -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let w = TransportFeedbackBuilder::default()
        .write_iter(&mut buf, entries(1000, 5_000_000))
        .unwrap();
    assert_eq!(w.entries, 100);
    buf.truncate(w.len);
    buf
}

fn bench(c: &mut Criterion) {
    let msg = message();

    let mut g = c.benchmark_group(PARSE);
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("rtmedia", |b| {
        cpu_timed(b, || {
            // Header, padding and body validated, as unmarshal does.
            let Some(Ok(RtcpPacket::TransportCc(fb))) = compound(black_box(&msg[..])).next() else {
                unreachable!()
            };
            let mut sum = 0i64;
            for r in fb.results() {
                sum = sum.wrapping_add(r.arrival_us.unwrap_or(0));
            }
            black_box(sum)
        })
    });
    let bytes = Bytes::from(msg.clone());
    g.bench_function("rtcp_crate", |b| {
        cpu_timed(b, || {
            let fb = TransportLayerCc::unmarshal(&mut black_box(bytes.clone())).unwrap();
            let mut sum = 0i64;
            for d in &fb.recv_deltas {
                sum = sum.wrapping_add(d.delta);
            }
            black_box((sum, fb.packet_chunks.len()))
        })
    });
    g.finish();

    let mut g = c.benchmark_group(RECORD);
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    let cfg = RecorderConfig::default();
    let mut rec = FeedbackRecorder::new(cfg).unwrap();
    let mut out = [0u8; 1500];
    let (mut seq, mut now) = (0u16, 0u64);
    g.bench_function("rtmedia", |b| {
        cpu_timed(b, || {
            let mut written = 0;
            for (s, arrival) in entries(seq, now as i64) {
                if let Some(at) = arrival {
                    rec.on_packet(SentPacketId::TransportSeq(s), 1200, at as u64);
                }
            }
            seq = seq.wrapping_add(100);
            now += 100_000;
            while let Some(n) = rec.poll_feedback(now, &mut out).unwrap() {
                written += n;
            }
            black_box(written)
        })
    });
    let mut twcc = interceptor::twcc::Recorder::new(1);
    let mut out = vec![0u8; 1500];
    let (mut seq, mut now) = (0u16, 0i64);
    g.bench_function("interceptor", |b| {
        cpu_timed(b, || {
            for (s, arrival) in entries(seq, now) {
                if let Some(at) = arrival {
                    twcc.record(2, s, at);
                }
            }
            seq = seq.wrapping_add(100);
            now += 100_000;
            let mut written = 0;
            for p in twcc.build_feedback_packet() {
                written += p.marshal_to(&mut out).unwrap();
            }
            black_box(written)
        })
    });
    // The baseline's chunks for a 100-entry message (same loss pattern).
    let template = TransportLayerCc::unmarshal(&mut Bytes::from(msg.clone())).unwrap();
    let mut arrivals: Vec<(u16, i64)> = Vec::new();
    let mut out = vec![0u8; 1500];
    let (mut seq, mut now) = (0u16, 0i64);
    g.bench_function("rtcp_crate_no_chunking", |b| {
        cpu_timed(b, || {
            arrivals.clear();
            for (s, arrival) in entries(seq, now) {
                if let Some(at) = arrival {
                    arrivals.push((s, at));
                }
            }
            seq = seq.wrapping_add(100);
            now += 100_000;
            let reference = arrivals[0].1 / 64_000;
            let mut prev = reference * 64_000;
            let recv_deltas = arrivals
                .iter()
                .map(|&(_, at)| {
                    let d = (at - prev) / 250 * 250;
                    prev += d;
                    RecvDelta {
                        type_tcc_packet: if (0..=63_750).contains(&d) {
                            SymbolTypeTcc::PacketReceivedSmallDelta
                        } else {
                            SymbolTypeTcc::PacketReceivedLargeDelta
                        },
                        delta: d,
                    }
                })
                .collect();
            let fb = TransportLayerCc {
                sender_ssrc: 1,
                media_ssrc: 2,
                base_sequence_number: arrivals[0].0,
                packet_status_count: 100,
                reference_time: reference as u32 & 0xff_ffff,
                fb_pkt_count: 0,
                packet_chunks: template.packet_chunks.clone(),
                recv_deltas,
            };
            black_box(fb.marshal_to(&mut out).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    support::report(&[
        support::Comparison {
            group: PARSE,
            candidate: "rtmedia",
            baseline: "rtcp_crate",
            min_speedup: 1.0,
            min_packets_per_sec: None,
        },
        support::Comparison {
            group: RECORD,
            candidate: "rtmedia",
            baseline: "interceptor",
            min_speedup: 1.0,
            min_packets_per_sec: None,
        },
        support::Comparison {
            group: RECORD,
            candidate: "rtmedia",
            baseline: "rtcp_crate_no_chunking",
            min_speedup: 0.0,
            min_packets_per_sec: None,
        },
    ]);
}
