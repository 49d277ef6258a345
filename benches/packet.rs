//! Parse + rewrite of a 1200-byte RTP packet with two header extensions,
//! against the webrtc-rs `rtp` crate (the parser webrtc-srtp uses) in the
//! same run. Goals: ≥ 10× the baseline, ≥ 50 M packets/s on one core.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, Criterion, Throughput};
use rtmedia::packet::{RtpBuilder, RtpPacket};
use webrtc_util::Unmarshal;

#[path = "support/rewrite.rs"]
mod rewrite;
mod support;

use rewrite::{rewrite_rtmedia, rewrite_rtp_crate};

const GROUP: &str = "rtp_parse_rewrite_1200B";

fn sample() -> Vec<u8> {
    let payload = [0x5au8; 1200];
    let mut buf = vec![0u8; 1500];
    let n = RtpBuilder {
        payload_type: 96,
        sequence_number: 1000,
        timestamp: 90_000,
        ssrc: 0x1122_3344,
        extensions: &[(1, &[0x90]), (3, &[0x00, 0x2a])],
        payload: &payload,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    buf.truncate(n);
    buf
}

fn bench(c: &mut Criterion) {
    let packet = sample();
    let mut g = c.benchmark_group(GROUP);
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));

    // Ours: validate, read an extension, rewrite SSRC/seq/ts/PT/marker and the
    // transport-wide sequence extension, all in place.
    let mut buf = packet.clone();
    let mut i = 0u16;
    g.bench_function("rtmedia", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(rewrite_rtmedia(black_box(&mut buf[..]), i));
        })
    });

    // Baseline: the `rtp` crate parses into an owned Packet (header fields in
    // Vecs, payload as a Bytes slice), fields are changed, and the packet is
    // marshalled into an output buffer: what rewriting takes with that crate.
    let bytes = Bytes::from(packet.clone());
    let mut out = BytesMut::zeroed(1500);
    g.bench_function("rtp_crate", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(rewrite_rtp_crate(black_box(bytes.clone()), i, &mut out));
        })
    });

    // Parse alone, both sides, to show where the difference comes from.
    g.bench_function("rtmedia_parse_only", |b| {
        b.iter(|| {
            black_box(
                RtpPacket::parse(black_box(&packet[..]))
                    .unwrap()
                    .extension(3)
                    .is_some(),
            )
        })
    });
    g.bench_function("rtp_crate_parse_only", |b| {
        b.iter(|| {
            let p = rtp::packet::Packet::unmarshal(&mut black_box(bytes.clone())).unwrap();
            black_box(p.header.get_extension(3).is_some())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let met = support::report(&[
        support::Comparison {
            group: GROUP,
            candidate: "rtmedia",
            baseline: "rtp_crate",
            min_speedup: 10.0,
            min_packets_per_sec: Some(50e6),
        },
        support::Comparison {
            group: GROUP,
            candidate: "rtmedia_parse_only",
            baseline: "rtp_crate_parse_only",
            min_speedup: 1.0,
            min_packets_per_sec: None,
        },
    ]);
    if !met {
        println!("packet bench: a goal was missed (see MISSED above)");
    }
}
