//! Replays every seed of the checked-in fuzz corpora (`fuzz/corpus/<target>/`)
//! through the fuzz target bodies (`fuzz/src/targets.rs`) on stable Rust, so
//! CI keeps the targets compiling and their contracts holding without
//! libFuzzer. The seeds are real captures: libvpx VP8 simulcast and libopus
//! packets from the `sim` publishers, SRTP/SRTCP packets protected from them
//! with every profile, and RTCP compounds from the builders. Regenerate them
//! with `cargo test --test fuzz_corpus -- --ignored regenerate_seed_corpora`;
//! files named `regress-*` are inputs a fuzzer once failed on, kept as
//! regression tests.

use std::path::{Path, PathBuf};

#[path = "../fuzz/src/targets.rs"]
mod targets;

use bytes::Bytes;
use rtmedia::packet::rtcp::{
    write_compound, ByeBuilder, FirBuilder, NackBuilder, PliBuilder, ReceiverReportBuilder,
    RembBuilder, ReportBlock, RtcpWrite, SdesBuilder, SenderReportBuilder,
};
use rtmedia::sim::{OpusConfig, OpusPublisher, SimulcastConfig, SimulcastPublisher};
use rtmedia::srtp::{Config, Profile, Srtp, MAX_TRAILER_LEN};
use targets::{write_record, TARGETS};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn every_seed_of_every_target_passes() {
    for (name, target) in TARGETS {
        let dir = corpus_dir(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        seeds.sort();
        assert!(seeds.len() >= 5, "{name}: only {} seeds", seeds.len());
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", seed.display());
        }
    }
}

/// Real packets: libvpx VP8 simulcast (3 layers, keyframes and deltas),
/// libopus speech with RFC 6464 levels.
fn captures() -> (Vec<(u8, Bytes)>, Vec<Bytes>) {
    let mut vp8 = Vec::new();
    let mut publisher = SimulcastPublisher::new(SimulcastConfig {
        seed: 7,
        keyframe_interval: Some(8),
        ..SimulcastConfig::default()
    })
    .unwrap();
    for _ in 0..10 {
        for layer in publisher.next_frame().layers {
            vp8.extend(layer.packets.into_iter().map(|p| (layer.layer as u8, p)));
        }
    }
    let mut opus = Vec::new();
    let mut publisher = OpusPublisher::new(OpusConfig {
        seed: 3,
        ..OpusConfig::default()
    })
    .unwrap();
    for _ in 0..40 {
        opus.push(publisher.next_packet().1);
    }
    (vp8, opus)
}

fn rtcp_compounds() -> Vec<Vec<u8>> {
    let blocks = [ReportBlock {
        ssrc: targets::SSRCS[0],
        fraction_lost: 12,
        cumulative_lost: 40,
        extended_highest_seq: 70_000,
        jitter: 300,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 6_553,
    }];
    let sets: Vec<Vec<Box<dyn RtcpWrite>>> = vec![
        vec![
            Box::new(SenderReportBuilder {
                ssrc: targets::SSRCS[0],
                ntp_timestamp: 0xe000_0000_8000_0000,
                rtp_timestamp: 90_000,
                packet_count: 100,
                octet_count: 100_000,
                report_blocks: &blocks,
            }),
            Box::new(SdesBuilder {
                chunks: &[(targets::SSRCS[0], b"publisher@example")],
            }),
        ],
        vec![
            Box::new(ReceiverReportBuilder {
                ssrc: 9,
                report_blocks: &blocks,
            }),
            Box::new(NackBuilder {
                sender_ssrc: 9,
                media_ssrc: targets::SSRCS[1],
                lost: &[10, 11, 13, 40, 41],
            }),
        ],
        vec![
            Box::new(PliBuilder {
                sender_ssrc: 9,
                media_ssrc: targets::SSRCS[2],
            }),
            Box::new(FirBuilder {
                sender_ssrc: 9,
                entries: &[(targets::SSRCS[2], 4)],
            }),
        ],
        vec![
            Box::new(RembBuilder {
                sender_ssrc: 9,
                bitrate_bps: 1_500_000,
                ssrcs: &targets::SSRCS,
            }),
            Box::new(ByeBuilder {
                ssrcs: &[targets::SSRCS[0]],
                reason: Some(b"left"),
            }),
        ],
    ];
    sets.iter()
        .map(|set| {
            let refs: Vec<&dyn RtcpWrite> = set.iter().map(|b| b.as_ref()).collect();
            let mut buf = vec![0u8; 1500];
            let n = write_compound(&mut buf, &refs).unwrap();
            buf.truncate(n);
            buf
        })
        .collect()
}

fn write(target: &str, name: &str, data: &[u8]) {
    std::fs::write(corpus_dir(target).join(name), data).unwrap();
}

#[test]
#[ignore = "writes fuzz/corpus/; run by hand to regenerate the seeds"]
fn regenerate_seed_corpora() {
    let (vp8, opus) = captures();
    let rtcp = rtcp_compounds();
    for (name, _) in TARGETS {
        // Generated seeds are replaced; `regress-*` files (inputs that once
        // failed, kept as regression tests) stay.
        let dir = corpus_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let keep = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("regress-"));
            if !keep {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    // Single packets: every 7th VP8 packet, every 8th Opus packet.
    for (i, (_, p)) in vp8.iter().step_by(7).take(8).enumerate() {
        // rtp_parse: id, value length, value, spare capacity, packet.
        let mut seed = vec![3, 2, 0xab, 0xcd, 8];
        seed.extend_from_slice(p);
        write("rtp_parse", &format!("vp8-{i:02}"), &seed);
        let payload_at = rtmedia::packet::RtpPacket::parse(&p[..])
            .unwrap()
            .payload_range()
            .start;
        write("codec", &format!("vp8-{i:02}"), &p[payload_at..]);
    }
    for (i, p) in opus.iter().step_by(8).take(5).enumerate() {
        let mut seed = vec![1, 1, 0x7f, 0];
        seed.extend_from_slice(p);
        write("rtp_parse", &format!("opus-{i:02}"), &seed);
    }
    for (i, c) in rtcp.iter().enumerate() {
        write("rtcp_compound", &format!("compound-{i:02}"), c);
    }
    write("rtcp_compound", "compound-all", &rtcp.concat());
    // H.264: STAP-A with SPS, PPS and an IDR; an FU-A start of an IDR.
    write(
        "codec",
        "h264-stap-a",
        &[24, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce, 0, 2, 0x65, 0x88],
    );
    write("codec", "h264-fu-a", &[28, 0x85, 0x88, 0x84, 0x21]);
    // SRTP: every profile, RTP (Opus and VP8) and RTCP, protected with the
    // targets' key (mode 0/1: unprotect) and plain (mode 2/3: round trip).
    for (pi, profile) in Profile::ALL.into_iter().enumerate() {
        let key = [0x3cu8; 32];
        let salt = [0x5au8; 14];
        let mut tx = Srtp::new(
            profile,
            &key[..profile.key_len()],
            &salt[..profile.salt_len()],
            Config::default(),
        )
        .unwrap();
        let packets: [(&[u8], bool); 3] = [
            (&opus[pi][..], false),
            (&vp8[pi].1[..], false),
            (&rtcp[pi % 4][..], true),
        ];
        for (k, (plain, is_rtcp)) in packets.into_iter().enumerate() {
            let mut buf = plain.to_vec();
            buf.resize(plain.len() + MAX_TRAILER_LEN, 0);
            let n = if is_rtcp {
                tx.protect_rtcp(&mut buf, plain.len()).unwrap()
            } else {
                tx.protect_rtp(&mut buf, plain.len()).unwrap()
            };
            let mut seed = vec![pi as u8, u8::from(is_rtcp), 0];
            seed.extend_from_slice(&buf[..n]);
            write("srtp", &format!("{profile:?}-{k}-protected"), &seed);
            let mut seed = vec![pi as u8 | 0x40, 2 + u8::from(is_rtcp), 0];
            seed.extend_from_slice(plain);
            write("srtp", &format!("{profile:?}-{k}-plain"), &seed);
        }
    }
    // Multi-packet targets: records of real packets, 20 ms (audio) or one
    // frame (video) apart, some reordered, one sender report.
    for (mode, name) in [(0u8, "audio"), (0x10, "audio-nack")] {
        let mut seed = vec![mode, 0, 1];
        for i in 0..opus.len() {
            // Packets 4 and 5 of every 9 swapped: reordering.
            let order = match i % 9 {
                4 => i + 1,
                5 => i - 1,
                _ => i,
            };
            write_record(&mut seed, 0xa0, 20_000, &opus[order.min(opus.len() - 1)]);
        }
        write("jitter", name, &seed);
    }
    let mut seed = vec![1, 0, 1];
    for (_, p) in vp8.iter().filter(|(layer, _)| *layer == 0).take(120) {
        write_record(&mut seed, 0xa0, 3_000, p);
    }
    write("jitter", "vp8", &seed);
    for target_layer in 0..3u8 {
        let mut seed = vec![target_layer * 3];
        write_record(&mut seed, 0x20, 0, &rtcp[0]);
        for (layer, p) in vp8.iter().take(60) {
            // Control = layer: the target writes SSRCS[layer] into it.
            write_record(&mut seed, *layer, 1_000, p);
        }
        write_record(&mut seed, 0x40, 0, &[0, 5]);
        write("source", &format!("vp8-target-{target_layer}"), &seed);
    }
    for (mode, name) in [
        (0u8, "levels-none"),
        (0x10, "levels-6464"),
        (0x32, "levels-6465"),
    ] {
        let mut seed = vec![mode];
        for p in &opus {
            for participant in 0..3u8 {
                let step = if participant == 0 { 20_000 } else { 0 };
                write_record(&mut seed, participant, step, p);
            }
        }
        write("mixer", name, &seed);
    }
    // A few more per multi-packet target: shorter prefixes of the above.
    for target in ["jitter", "source", "mixer"] {
        let dir = corpus_dir(target);
        let first = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let data = std::fs::read(first).unwrap();
        for cut in [64usize, 512, 2048] {
            write(
                target,
                &format!("prefix-{cut}"),
                &data[..cut.min(data.len())],
            );
        }
    }
}
