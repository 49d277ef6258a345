//! Proves `simulcast::Track`'s per-packet paths allocate nothing in steady
//! state: push → poll_output fan-out to three subscribers (one with RTX),
//! target changes, subscriber NACKs answered (RTX and plain), PLIs and
//! probe padding written as RTX re-sends, on
//! a real libvpx simulcast trace. A counting global allocator (the pattern
//! of `tests/alloc_free.rs`) counts this thread's allocations.

use bytes::BytesMut;
use rtmedia::packet::rtcp::{NackBuilder, PliBuilder};
use rtmedia::sim::{SimulcastConfig, SimulcastLayerConfig, SimulcastTrace};
use rtmedia::simulcast::{
    ForwarderConfig, Layer, Output, RtpKind, RtxConfig, SubscriberConfig, Track, TrackConfig,
};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

const TARGETS: [Layer; 4] = [
    Layer::new(2, 2),
    Layer::new(0, 1),
    Layer::new(1, 2),
    Layer::new(2, 0),
];

#[test]
fn track_push_poll_nack_and_switches_allocate_nothing() {
    let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
        width,
        height,
        bitrate_kbps,
    };
    let trace = SimulcastTrace::record(
        SimulcastConfig {
            seed: 0x7ac4,
            layers: vec![
                layer(160, 90, 100),
                layer(320, 180, 300),
                layer(640, 360, 800),
            ],
            keyframe_interval: Some(30),
            keyframes_on_all_layers: true,
            cpu_used: 16,
            mtu: 600,
            ..SimulcastConfig::default()
        },
        240,
    )
    .unwrap();
    const CAP: usize = 1500;
    const WARM_UP: usize = 1500;
    let total = trace.len() * 4;
    // Received packets in pooled pieces of one slab: freezing one gives a
    // shared `Bytes` whose clones only count references (a host receiving
    // into pooled buffers does the same).
    let mut slab = BytesMut::zeroed(total * CAP);
    let mut received: Vec<(u64, BytesMut)> = (0..total as u64)
        .map(|k| {
            let mut piece = slab.split_to(CAP);
            let (len, at) = trace.write(k, &mut piece);
            piece.truncate(len);
            (at, piece)
        })
        .collect();
    let mut track = Track::new(TrackConfig::default(), trace.ssrcs()).unwrap();
    for id in 0..3u64 {
        let config = SubscriberConfig {
            forwarder: ForwarderConfig {
                ssrc: 0x100 + id as u32,
                ..ForwarderConfig::default()
            },
            rtx: (id == 0).then_some(RtxConfig {
                ssrc: 0x200,
                payload_type: 97,
            }),
        };
        // Sized once for the top layer (the NACK record ring grows on
        // control calls, at most a few times per forwarder: part of the
        // warm-up, not of the steady state counted below).
        track
            .add_subscriber(id, config, Layer::new(2, 2), 0)
            .unwrap();
        track.set_target(id, TARGETS[id as usize], 0).unwrap();
    }
    let mut out = [0u8; CAP];
    let mut last_seq = [None::<u16>; 3];
    let counted = received.split_off(WARM_UP);
    // Returns media, retransmissions, RTX, keyframe requests, probe padding.
    let mut run = |packets: Vec<(u64, BytesMut)>, first: usize| {
        let mut counts = [0u64; 5];
        for (i, (at, p)) in packets.into_iter().enumerate() {
            let k = first + i;
            if k % 300 == 0 {
                let sub = (k / 300) as u64 % 3;
                track
                    .set_target(sub, TARGETS[(k / 300) % TARGETS.len()], at)
                    .unwrap();
            }
            track.push_rtp(p.freeze(), at).unwrap();
            if k % 40 == 0 {
                let mut fb = [0u8; 64];
                for (sub, seq) in last_seq.iter().enumerate() {
                    if let Some(seq) = seq {
                        let lost = [seq.wrapping_sub(2), seq.wrapping_sub(1)];
                        let n = NackBuilder {
                            sender_ssrc: 9,
                            media_ssrc: 0x100 + sub as u32,
                            lost: &lost,
                        }
                        .write_into(&mut fb)
                        .unwrap();
                        track.push_subscriber_rtcp(&fb[..n]);
                    }
                }
            }
            if k % 20 == 10 {
                let padding = track.write_probe_padding(0, 1000, &mut out).unwrap();
                counts[4] += u64::from(padding.is_some());
            }
            if k % 500 == 250 {
                let mut fb = [0u8; PliBuilder::LEN];
                PliBuilder {
                    sender_ssrc: 9,
                    media_ssrc: 0x101,
                }
                .write_into(&mut fb)
                .unwrap();
                track.push_subscriber_rtcp(&fb);
            }
            loop {
                match track.poll_output(at, &mut out).unwrap() {
                    Output::Rtp {
                        subscriber, kind, ..
                    } => {
                        let seq = u16::from_be_bytes([out[2], out[3]]);
                        match kind {
                            RtpKind::Media => {
                                last_seq[subscriber as usize] = Some(seq);
                                counts[0] += 1;
                            }
                            RtpKind::Retransmission => counts[1] += 1,
                            RtpKind::Rtx => counts[2] += 1,
                        }
                    }
                    Output::KeyframeRequest { .. } => counts[3] += 1,
                    Output::Timeout(_) => break,
                }
            }
        }
        counts
    };
    run(received, 0);
    let mut c = [0; 5];
    let n = allocations_in(|| c = run(counted, WARM_UP));
    eprintln!(
        "counted: media {}, retransmitted {}, rtx {}, keyframe requests {}, probe padding {}",
        c[0], c[1], c[2], c[3], c[4]
    );
    assert_eq!(n, 0, "allocations in Track push/poll_output/feedback");
    assert!(c[0] > 3000, "forwarded");
    assert!(c[1] > 0 && c[2] > 0, "NACKs answered, plain and RTX");
    assert!(c[4] > 100, "probe padding written");
}

#[test]
fn the_counter_sees_allocations() {
    assert_eq!(allocations_in(|| drop(std::hint::black_box(vec![1u8]))), 1);
}
