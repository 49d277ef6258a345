//! Proves the per-packet paths allocate nothing: a counting global allocator
//! counts heap allocations made by this thread while the hot path runs.

use bytes::{Bytes, BytesMut};
use rtmedia::packet::rtp::{add_extension, remove_extension};
use rtmedia::packet::{RtpBuilder, RtpPacket, SeqUnwrapper};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

fn sample_packet(buf: &mut [u8]) -> usize {
    let payload = [0xabu8; 1200];
    RtpBuilder {
        payload_type: 96,
        sequence_number: 65_000,
        timestamp: 90_000,
        ssrc: 0x1234_5678,
        extensions: &[(1, &[0x90]), (3, &[0, 1])],
        payload: &payload,
        ..Default::default()
    }
    .write_into(buf)
    .unwrap()
}

#[test]
fn rtp_parse_and_rewrite_allocate_nothing() {
    let mut buf = vec![0u8; 1500];
    let len = sample_packet(&mut buf);
    let mut unwrapper = SeqUnwrapper::new();
    let mut checksum = 0u64;
    let n = allocations_in(|| {
        for i in 0..10_000u32 {
            let mut p = RtpPacket::parse(&mut buf[..len]).unwrap();
            checksum += u64::from(p.extension(3).unwrap()[1]) + p.payload().len() as u64;
            checksum += p.extensions().count() as u64;
            let seq = p.sequence_number().wrapping_add(1);
            checksum += unwrapper.unwrap(u64::from(seq)) as u64;
            p.set_sequence_number(seq);
            p.set_timestamp(p.timestamp().wrapping_add(960));
            p.set_ssrc(i);
            p.set_marker(i % 2 == 0);
            p.set_payload_type(111);
            p.set_extension(1, &[i as u8 & 0x7f]).unwrap();
            let grown = add_extension(&mut buf, len, 5, &[1, 2, 3, 4, 5, 6]).unwrap();
            let shrunk = remove_extension(&mut buf, grown, 5).unwrap();
            assert_eq!(shrunk, len);
        }
    });
    assert_eq!(n, 0, "allocations on the RTP hot path");
    assert!(checksum > 0);
}

#[test]
fn bytes_views_allocate_nothing_after_first_share() {
    let mut storage = vec![0u8; 1500];
    let len = sample_packet(&mut storage);
    storage.truncate(len);
    let bytes = Bytes::from(storage);
    drop(bytes.clone()); // the first clone of a Vec-backed Bytes promotes it once
    let mut mutable = BytesMut::from(&bytes[..]);
    let n = allocations_in(|| {
        for _ in 0..10_000 {
            let p = RtpPacket::parse(bytes.clone()).unwrap();
            let payload = p.payload_bytes();
            assert_eq!(payload.len(), 1200);
            let mut q = RtpPacket::parse(&mut mutable[..]).unwrap();
            q.set_sequence_number(q.sequence_number().wrapping_add(1));
        }
    });
    assert_eq!(n, 0, "allocations on the Bytes view path");
}

#[test]
fn rtcp_build_and_parse_allocate_nothing() {
    use rtmedia::packet::rtcp::{
        compound, NackBuilder, PliBuilder, RembBuilder, ReportBlock, RtcpPacket, SdesBuilder,
        SenderReportBuilder,
    };
    let mut buf = [0u8; 512];
    let lost = [100u16, 101, 103, 140, 65535, 0];
    let blocks = [ReportBlock {
        ssrc: 9,
        fraction_lost: 3,
        cumulative_lost: 12,
        extended_highest_seq: 70_000,
        jitter: 30,
        last_sr: 1,
        delay_since_last_sr: 2,
    }];
    let mut checksum = 0u64;
    let n = allocations_in(|| {
        for i in 0..10_000u32 {
            let mut at = SenderReportBuilder {
                ssrc: i,
                ntp_timestamp: u64::from(i) << 32,
                rtp_timestamp: i,
                packet_count: i,
                octet_count: i,
                report_blocks: &blocks,
            }
            .write_into(&mut buf)
            .unwrap();
            at += SdesBuilder {
                chunks: &[(i, b"cname")],
            }
            .write_into(&mut buf[at..])
            .unwrap();
            at += NackBuilder {
                sender_ssrc: 1,
                media_ssrc: 2,
                lost: &lost,
            }
            .write_into(&mut buf[at..])
            .unwrap();
            at += PliBuilder {
                sender_ssrc: 1,
                media_ssrc: 2,
            }
            .write_into(&mut buf[at..])
            .unwrap();
            at += RembBuilder {
                sender_ssrc: 1,
                bitrate_bps: 1_500_000,
                ssrcs: &[2, 3],
            }
            .write_into(&mut buf[at..])
            .unwrap();
            for packet in compound(&buf[..at]) {
                checksum += match packet.unwrap() {
                    RtcpPacket::SenderReport(sr) => {
                        sr.report_blocks().map(|b| u64::from(b.jitter)).sum()
                    }
                    RtcpPacket::Sdes(s) => s.cname().map_or(0, |(_, c)| c.len() as u64),
                    RtcpPacket::Nack(n) => n.lost_sequence_numbers().map(u64::from).sum(),
                    RtcpPacket::Pli(p) => u64::from(p.media_ssrc()),
                    RtcpPacket::Remb(r) => r.bitrate_bps(),
                    _ => 0,
                };
            }
        }
    });
    assert_eq!(n, 0, "allocations while building and parsing RTCP");
    assert!(checksum > 0);
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_in(|| {
        let v = std::hint::black_box(vec![1u8; 16]);
        drop(v);
    });
    assert!(
        n >= 1,
        "the counting allocator must observe a Vec allocation"
    );
}

#[test]
fn srtp_protect_and_unprotect_allocate_nothing() {
    use rtmedia::srtp::{Config, Profile, Srtp};
    let payload = [0x5au8; 200];
    let csrcs = [0x0102_0304, 0x0506_0708];
    let extensions: [(u8, &[u8]); 2] = [(1, &[0x90]), (3, &[0, 1])];
    // With an extension, and with CSRCs but no extension (cryptex adds an
    // empty extension block to that one).
    let mut shapes = [[0u8; 300]; 2];
    let mut lens = [0usize; 2];
    for (k, ext) in [&extensions[..], &[]].into_iter().enumerate() {
        lens[k] = RtpBuilder {
            payload_type: 96,
            sequence_number: 0,
            timestamp: 0,
            ssrc: 0xfeed_beef,
            csrcs: &csrcs,
            extensions: ext,
            payload: &payload,
            ..Default::default()
        }
        .write_into(&mut shapes[k])
        .unwrap();
    }
    let mut rtcp = [0u8; 64];
    rtcp[..8].copy_from_slice(&[0x81, 201, 0, 7, 0xfe, 0xed, 0xbe, 0xef]);
    let rtcp_len = 32;

    for profile in Profile::ALL {
        for cryptex in [false, true] {
            let key = vec![7u8; profile.key_len()];
            let salt = vec![9u8; profile.salt_len()];
            let config = Config {
                cryptex,
                ..Config::default()
            };
            let mut tx = Srtp::new(profile, &key, &salt, config).unwrap();
            let mut rx = Srtp::new(profile, &key, &salt, config).unwrap();
            let mut buf = [0u8; 1500];
            let mut seq = 60_000u16; // wraps during the run
            let mut round_trip = |buf: &mut [u8], seq: u16, k: usize| {
                buf[..lens[k]].copy_from_slice(&shapes[k][..lens[k]]);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                let n = tx.protect_rtp(buf, lens[k]).unwrap();
                let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
                assert_eq!(buf[m - payload.len()..m], payload);
                buf[..rtcp_len].copy_from_slice(&rtcp[..rtcp_len]);
                let n = tx.protect_rtcp(buf, rtcp_len).unwrap();
                let m = rx.unprotect_rtcp(&mut buf[..n]).unwrap();
                assert_eq!(buf[..m], rtcp[..rtcp_len]);
            };
            // Warm-up: the first packet of the SSRC creates its state.
            round_trip(&mut buf, seq, 0);
            let n = allocations_in(|| {
                for i in 0..10_000 {
                    seq = seq.wrapping_add(1);
                    round_trip(&mut buf, seq, i % 2);
                }
            });
            assert_eq!(n, 0, "allocations in SRTP, {profile:?}, cryptex {cryptex}");
            assert_eq!(rx.stats().rtp_unprotected, 10_001);
            assert_eq!(rx.stats().rtcp_unprotected, 10_001);
        }
    }
}

#[test]
fn jitter_buffer_steady_state_allocates_nothing() {
    use rtmedia::codec::Codec;
    use rtmedia::jitter::{Event, JitterBuffer, JitterConfig};
    use rtmedia::sim::Rng;

    /// A packet as sent: send time (µs), sequence number, timestamp, marker, payload.
    type Sent = (u64, u16, u32, bool, Vec<u8>);

    /// Arrival order after 2 % loss, 5 % reordering (held back behind the
    /// next 1–3 packets) and 0–2 ms of jitter; every packet is its own
    /// shared `Bytes`, promoted here so that clones in the loop are refcount
    /// bumps.
    fn arrivals(rng: &mut Rng, sent: &[Sent]) -> Vec<(u64, Bytes)> {
        const TRANSIT_US: u64 = 30_000;
        let mut out = Vec::with_capacity(sent.len());
        for (i, (send, seq, ts, marker, payload)) in sent.iter().enumerate() {
            if i > 0 && rng.chance(0.02) {
                continue;
            }
            let mut at = send + TRANSIT_US + rng.below(2_000);
            if i > 0 && i + 3 < sent.len() && rng.chance(0.05) {
                at = sent[i + 1 + rng.below(3) as usize].0 + TRANSIT_US + 2_500;
            }
            let mut buf = vec![0u8; 12 + payload.len()];
            let n = RtpBuilder {
                payload_type: 96,
                sequence_number: *seq,
                timestamp: *ts,
                ssrc: 0x0bad_cafe,
                marker: *marker,
                payload,
                ..Default::default()
            }
            .write_into(&mut buf)
            .unwrap();
            buf.truncate(n);
            let packet = Bytes::from(buf);
            drop(packet.clone());
            out.push((at, packet));
        }
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// What a host does per arriving packet: push, pop everything due, a
    /// NACK list every 20 ms, stats, the keyframe-request flag, the next
    /// wake-up time.
    fn drive(jb: &mut JitterBuffer, arrivals: &[(u64, Bytes)], next_nack: &mut u64) -> u64 {
        let mut nacks = [0u16; 32];
        let mut sink = 0u64;
        for (at, packet) in arrivals {
            let at = *at;
            jb.push(packet.clone(), at).unwrap();
            while let Some(event) = jb.pop(at) {
                sink += match event {
                    Event::Packet { packet, seq, .. } => packet.len() as u64 + seq as u64,
                    Event::Lost { seq, .. } => seq as u64,
                    Event::Frame { packets, .. } => packets.iter().map(|p| p.len() as u64).sum(),
                };
            }
            if at >= *next_nack {
                let n = jb.nack_list(at, &mut nacks);
                sink += nacks[..n].iter().map(|&s| u64::from(s)).sum::<u64>();
                *next_nack = at + 20_000;
            }
            let stats = jb.stats();
            sink += stats.packets_received + stats.jitter_buffer_emitted_count;
            sink += u64::from(jb.take_keyframe_request());
            sink += jb.next_wakeup().unwrap_or(0);
        }
        sink
    }

    /// Warm-up on the first second, then 10 000 packets counted.
    fn check(name: &str, mut config: JitterConfig, arrivals: &[(u64, Bytes)]) -> JitterBuffer {
        // A delay that covers the reordering and the learned reorder wait,
        // and an RTT short enough that gaps are NACKed (the buffer asks only
        // when a retransmission could still be played).
        config.delay.min_delay_us = 120_000;
        let mut jb = JitterBuffer::new(config);
        jb.set_rtt(20_000);
        let warm = arrivals
            .iter()
            .take_while(|(at, _)| *at < arrivals[0].0 + 1_000_000)
            .count();
        let (warm_up, counted) = arrivals.split_at(warm);
        let counted = &counted[..10_000];
        let mut next_nack = 0;
        let mut sink = drive(&mut jb, warm_up, &mut next_nack);
        let n = allocations_in(|| sink += drive(&mut jb, counted, &mut next_nack));
        assert_eq!(
            n, 0,
            "allocations in the {name} jitter buffer's steady state"
        );
        assert!(sink > 0);
        jb
    }

    let mut rng = Rng::new(0x000a_110c);

    // Audio: 20 ms packets, 60-byte payloads; sequence number and timestamp wrap.
    let sent: Vec<Sent> = (0..10_300u32)
        .map(|i| {
            (
                u64::from(i) * 20_000,
                65_000u16.wrapping_add(i as u16),
                (u32::MAX - 50 * 960).wrapping_add(i * 960),
                false,
                vec![i as u8; 60],
            )
        })
        .collect();
    let audio = arrivals(&mut rng, &sent);
    let jb = check("audio", JitterConfig::audio(), &audio);
    let s = jb.stats();
    assert!(s.packets_lost > 0 && s.nack_count > 0, "{s:?}");
    assert!(s.jitter_buffer_emitted_count > 9_000, "{s:?}");

    // VP8 video at 30 fps: a keyframe of 8 packets every 30 frames, delta
    // frames of 2–4 packets sent 1 ms apart, marker on each frame's last.
    let mut sent: Vec<Sent> = Vec::new();
    let mut seq = 65_400u16;
    let mut frame = 0u32;
    while sent.len() < 10_600 {
        let keyframe = frame % 30 == 0;
        let packets = if keyframe {
            8
        } else {
            2 + rng.below(3) as usize
        };
        for k in 0..packets {
            let mut payload = vec![0x5a; 200];
            payload[0] = if k == 0 { 0x10 } else { 0x00 }; // S bit, partition 0
            payload[1] = if keyframe { 0x00 } else { 0x01 }; // VP8 header: P bit
            sent.push((
                u64::from(frame) * 33_333 + k as u64 * 1_000,
                seq,
                frame.wrapping_mul(3_000),
                k + 1 == packets,
                payload,
            ));
            seq = seq.wrapping_add(1);
        }
        frame += 1;
    }
    let video = arrivals(&mut rng, &sent);
    let jb = check("VP8 video", JitterConfig::video(Codec::Vp8), &video);
    let s = jb.stats();
    assert!(
        s.frames_decoded > 1_000 && s.key_frames_decoded > 10,
        "{s:?}"
    );
    assert!(s.frames_dropped > 0 && s.keyframe_requests > 0, "{s:?}");
    assert!(s.packets_lost > 0 && s.nack_count > 0, "{s:?}");
}

#[test]
fn audio_building_blocks_allocate_nothing_per_frame() {
    use rtmedia::audio::level::{level_dbov, write_csrc_levels, LevelMeter};
    use rtmedia::audio::limiter::{to_i16, Limiter};
    use rtmedia::audio::mixdown::{select_loudest, MixBus};
    use rtmedia::audio::resample::Decimator3;
    use rtmedia::audio::speaker::{DominantSpeaker, Vad};
    use rtmedia::audio::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};

    const ROOM: u32 = 100;
    let mut speakers = DominantSpeaker::new(ROOM as usize);
    for id in 0..ROOM {
        speakers.add(id).unwrap();
    }
    let mut bus = MixBus::new();
    let mut limiter = Limiter::new();
    let mut decimator = Decimator3::new();
    let mut meter = LevelMeter::new();
    let mut vad = Vad::new();
    let mut levels = [90u8; ROOM as usize];
    let mut loudest = [0usize; 3];
    let mut out = [0f32; FRAME_SAMPLES];
    let mut tap = [0f32; TAP_FRAME_SAMPLES];
    let mut pcm16 = [0i16; FRAME_SAMPLES];
    let mut csrc_levels = [0u8; 15];
    let mut rng = rtmedia::sim::Rng::new(3);
    let mut changes = 0;
    let n = allocations_in(|| {
        for frame in 0..10_000usize {
            // One talker at a time, switching every 3 s.
            let talker = (frame / 150) % ROOM as usize;
            let pcm: [f32; FRAME_SAMPLES] = core::array::from_fn(|i| {
                let x = (frame * FRAME_SAMPLES + i) as f32 * 0.05;
                0.5 * x.sin() + 0.01 * (rng.unit() as f32 - 0.5)
            });
            for (i, l) in levels.iter_mut().enumerate() {
                *l = if i == talker {
                    level_dbov(&pcm)
                } else {
                    85 + (rng.below(6) as u8)
                };
            }
            meter.update(levels[talker]);
            vad.update(levels[talker]);
            speakers.update(
                frame as u64 * 20_000,
                levels.iter().enumerate().map(|(i, l)| (i as u32, *l)),
            );
            changes += usize::from(speakers.take_change().is_some());
            let picked = select_loudest(&levels, 3, &mut loudest);
            bus.clear();
            for _ in 0..picked {
                bus.add(&pcm, 1.0);
            }
            bus.mix_minus(&pcm, 1.0, &mut out);
            limiter.process(&mut out);
            to_i16(&out, &mut pcm16);
            decimator.process(&pcm, &mut tap);
            write_csrc_levels(&levels[..picked], &mut csrc_levels);
        }
    });
    assert_eq!(n, 0, "allocations in the audio building blocks");
    assert!(changes > 10, "the scripted turns were detected ({changes})");
}

/// Real Opus packets with RFC 6464 levels (id 1) for `participants` (SSRC
/// 0x100 + i) over `ticks` frames, made before anything is counted: three
/// talkers, the rest silent.
fn mixer_packets(participants: u32, ticks: usize) -> Vec<Vec<Bytes>> {
    use rtmedia::audio::level::{level_dbov, AudioLevel};
    use rtmedia::audio::FRAME_SAMPLES;
    let mut packets: Vec<Vec<Bytes>> = Vec::new();
    for i in 0..participants {
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let amplitude = if i < 3 { 0.3 } else { 0.0 };
        let mut list = Vec::new();
        for t in 0..ticks {
            let pcm: [f32; FRAME_SAMPLES] = core::array::from_fn(|k| {
                let n = (t * FRAME_SAMPLES + k) as f32;
                amplitude * (n * 0.02 * (i + 1) as f32).sin()
            });
            let mut payload = [0u8; 400];
            let n = enc.encode_float(&pcm, &mut payload).unwrap();
            let level = AudioLevel {
                voice: amplitude > 0.0,
                level: level_dbov(&pcm),
            }
            .to_byte();
            let mut buf = vec![0u8; 1500];
            let len = RtpBuilder {
                payload_type: 111,
                sequence_number: t as u16,
                timestamp: (t * FRAME_SAMPLES) as u32,
                ssrc: 0x100 + i,
                extensions: &[(1, &[level])],
                payload: &payload[..n],
                ..Default::default()
            }
            .write_into(&mut buf)
            .unwrap();
            buf.truncate(len);
            list.push(Bytes::from(buf));
        }
        packets.push(list);
    }
    packets
}

#[test]
fn mixer_tick_allocates_nothing_in_steady_state() {
    use rtmedia::audio::mixer::{Mixer, MixerConfig};

    const PARTICIPANTS: u32 = 10;
    const TICKS: usize = 600;
    let mut mixer = Mixer::new(MixerConfig {
        max_participants: 16,
        ..MixerConfig::default()
    })
    .unwrap();
    let inputs: Vec<_> = (0..PARTICIPANTS)
        .map(|i| {
            mixer
                .add_participant(i, 0x100 + i, 0x900 + i, i == 0)
                .unwrap()
        })
        .collect();
    let packets = mixer_packets(PARTICIPANTS, TICKS);
    let mut out = [0u8; 1500];
    let mut run = |range: std::ops::Range<usize>, mixer: &mut Mixer| {
        let mut bytes = 0;
        for t in range {
            let now = t as u64 * 20_000;
            for (i, input) in inputs.iter().enumerate() {
                assert!(input.push(packets[i][t].clone(), now));
            }
            let tick = mixer.tick(now + 5_000);
            for p in tick.packets() {
                bytes += tick.write_rtp(p, &mut out).unwrap();
            }
            while mixer.take_tap_frame(0).is_some() {}
        }
        bytes
    };
    run(0..100, &mut mixer);
    let mut bytes = 0;
    let n = allocations_in(|| bytes = run(100..TICKS, &mut mixer));
    assert_eq!(n, 0, "allocations per mixer tick");
    assert!(bytes > 0 && mixer.stats().encodes > 0);
}

/// The simulcast layers' SSRCs and the packets with their arrival times.
type SimulcastTrace = (Vec<u32>, Vec<(u64, Bytes)>);

/// A real VP8 L1T3 simulcast trace (libvpx, three small layers, a keyframe
/// every 30 frames on each): the layers' SSRCs and every packet with its
/// arrival time, made once for the simulcast tests below.
///
/// Every packet is shared before it is handed out
/// (`rtmedia::sim::SimulcastTrace` clones each once). The publisher builds
/// packets as Vec-backed `Bytes` (`BytesMut::freeze`), and the first clone
/// of such a `Bytes` allocates its shared header (the `bytes` crate
/// promotes it). `Source::on_rtp`
/// keeps a clone of each packet for NACKs, so a Vec-backed packet costs
/// that one promotion there (measured: exactly one allocation per packet
/// without that first clone). A host that receives into pooled buffers
/// hands the source pieces split off a pooled `BytesMut`, which are already
/// shared (see `bytes_views_allocate_nothing_after_first_share`, and the
/// SFU-leg test below, which receives that way): their clones only bump a
/// reference count. The trace's packets look the same.
fn simulcast_trace() -> &'static SimulcastTrace {
    use rtmedia::sim::{SimulcastConfig, SimulcastLayerConfig};
    use std::sync::OnceLock;
    static TRACE: OnceLock<SimulcastTrace> = OnceLock::new();
    TRACE.get_or_init(|| {
        let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
            width,
            height,
            bitrate_kbps,
        };
        let config = SimulcastConfig {
            seed: 0x0a11_0c5c,
            layers: vec![
                layer(160, 90, 100),
                layer(320, 180, 300),
                layer(640, 360, 800),
            ],
            keyframe_interval: Some(30),
            cpu_used: 16,
            mtu: 600,
            ..SimulcastConfig::default()
        };
        let trace = rtmedia::sim::SimulcastTrace::record(config, 360).unwrap();
        let packets = (trace.arrivals_us().iter().copied())
            .zip(trace.packets().iter().cloned())
            .collect();
        (trace.ssrcs().to_vec(), packets)
    })
}

/// Packets of the trace used to warm up (state created, first switches
/// made, each layer's history grown to hold two seconds of it: about 5 s
/// of the 12 s trace); the rest are counted.
const SIMULCAST_WARM_UP: usize = 1200;

/// Targets the simulcast tests cycle through, one every 200 packets: down
/// and up in both dimensions.
fn simulcast_target(i: usize) -> rtmedia::simulcast::Layer {
    use rtmedia::simulcast::Layer;
    const TARGETS: [Layer; 6] = [
        Layer::new(2, 2),
        Layer::new(0, 1),
        Layer::new(1, 2),
        Layer::new(2, 0),
        Layer::new(1, 0),
        Layer::new(2, 1),
    ];
    TARGETS[(i / 200) % TARGETS.len()]
}

fn simulcast_forwarder() -> rtmedia::simulcast::Forwarder {
    use rtmedia::simulcast::{Forwarder, ForwarderConfig};
    let mut f = Forwarder::new(ForwarderConfig {
        ssrc: 0x5eb5_c41b,
        ..ForwarderConfig::default()
    });
    f.set_target(simulcast_target(0));
    f
}

#[test]
fn simulcast_source_on_rtp_allocates_nothing() {
    use rtmedia::simulcast::{Source, SourceConfig};
    let (ssrcs, trace) = simulcast_trace();
    let mut source = Source::new(SourceConfig::default(), ssrcs).unwrap();
    let (warm_up, counted) = trace.split_at(SIMULCAST_WARM_UP);
    let mut sink = 0u64;
    for (at, p) in warm_up {
        sink += source.on_rtp(p.clone(), *at).unwrap().ext_seq;
    }
    let n = allocations_in(|| {
        for (at, p) in counted {
            let pkt = source.on_rtp(p.clone(), *at).unwrap();
            sink += pkt.ext_seq + u64::from(pkt.keyframe);
            sink += source.bitrates(*at).0[2][0];
            source.request_keyframe(pkt.spatial);
            sink += u64::from(source.poll_keyframe_request(*at).is_some());
        }
    });
    assert_eq!(n, 0, "allocations in Source::on_rtp");
    assert_eq!(source.stats().packets, trace.len() as u64);
    assert!(
        source.stats().keyframes.iter().all(|&k| k >= 10),
        "{:?}",
        source.stats()
    );
    assert!(sink > 0);
}

#[test]
fn simulcast_forward_with_switches_allocates_nothing() {
    use rtmedia::simulcast::{DropReason, Forwarded, Source, SourceConfig};
    let (ssrcs, trace) = simulcast_trace();
    // Parsed before counting: this test counts the forwarder alone.
    let mut source = Source::new(SourceConfig::default(), ssrcs).unwrap();
    let parsed: Vec<_> = trace
        .iter()
        .map(|(at, p)| (*at, source.on_rtp(p.clone(), *at).unwrap()))
        .collect();
    let mut fwd = simulcast_forwarder();
    let mut out = [0u8; 1500];
    let mut sent = 0u64;
    let mut run = |fwd: &mut rtmedia::simulcast::Forwarder, range: std::ops::Range<usize>| {
        for i in range {
            let (at, pkt) = &parsed[i];
            if i % 200 == 0 {
                fwd.set_target(simulcast_target(i));
            }
            if let Forwarded::Sent(_) = fwd.forward(pkt, &mut out, *at).unwrap() {
                sent += 1;
            }
            std::hint::black_box(fwd.poll_keyframe_request());
        }
    };
    run(&mut fwd, 0..SIMULCAST_WARM_UP);
    let before = *fwd.stats();
    let n = allocations_in(|| run(&mut fwd, SIMULCAST_WARM_UP..parsed.len()));
    assert_eq!(n, 0, "allocations in Forwarder::forward");
    // The counted part switched layers both ways and filtered temporal layers.
    let s = fwd.stats();
    assert!(s.spatial_switches - before.spatial_switches >= 4, "{s:?}");
    assert!(s.temporal_switches - before.temporal_switches >= 2, "{s:?}");
    let dropped = |r: DropReason| s.dropped[r as usize] - before.dropped[r as usize];
    assert!(
        dropped(DropReason::TemporalLayer) > 0 && dropped(DropReason::OtherLayer) > 0,
        "{s:?}"
    );
    assert!(sent > 0);
}

#[test]
fn simulcast_retransmit_allocates_nothing() {
    use rtmedia::simulcast::{Forwarded, Source, SourceConfig};
    let (ssrcs, trace) = simulcast_trace();
    let mut source = Source::new(SourceConfig::default(), ssrcs).unwrap();
    let mut fwd = simulcast_forwarder();
    let mut out = [0u8; 1500];
    let mut again = [0u8; 1500];
    let mut n = 0;
    let mut resent = 0u64;
    for (i, (at, p)) in trace.iter().enumerate() {
        if i % 200 == 0 {
            fwd.set_target(simulcast_target(i));
        }
        let pkt = source.on_rtp(p.clone(), *at).unwrap();
        if let Forwarded::Sent(_) = fwd.forward(&pkt, &mut out, *at).unwrap() {
            // NACKs for this packet, one a few back, and one never sent.
            let seq = u16::from_be_bytes([out[2], out[3]]);
            let nacks = [seq, seq.wrapping_sub(3), seq.wrapping_add(5)];
            let count = allocations_in(|| {
                for s in nacks {
                    if let Ok(len) = fwd.retransmit(&source, s, &mut again) {
                        resent += 1;
                        std::hint::black_box(&again[..len]);
                    }
                }
            });
            if i >= SIMULCAST_WARM_UP {
                n += count;
            }
        }
    }
    assert_eq!(n, 0, "allocations in Forwarder::retransmit");
    let s = fwd.stats();
    assert!(resent > 1000 && s.nacks_not_found > 0, "{s:?}");
}

#[test]
fn simulcast_allocator_allocates_nothing_after_creation() {
    use rtmedia::simulcast::{Allocator, AllocatorConfig, Layer, LayerBitrates, TrackDemand};
    let mut rates = LayerBitrates::default();
    rates.0[0] = [60_000, 90_000, 150_000, 0];
    rates.0[1] = [200_000, 300_000, 500_000, 0];
    rates.0[2] = [600_000, 900_000, 1_500_000, 0];
    let mut tracks: Vec<TrackDemand> = (0..24u8)
        .map(|i| TrackDemand {
            priority: i % 5,
            max_layer: Layer::new(2 - i % 3, 2),
            bitrates: rates,
            muted: false,
            keyframe_bytes: [4_000, 12_000, u64::from(i) * 2_000],
        })
        .collect();
    let mut allocator = Allocator::new(AllocatorConfig::default(), 32);
    allocator.allocate(5_000_000, &tracks, 0);
    let mut rng = rtmedia::sim::Rng::new(0xa110c);
    let mut paused = 0;
    let n = allocations_in(|| {
        for step in 1..10_000u64 {
            // An estimate that wanders, with real drops and recoveries;
            // tracks muted, layers stopping and resuming, track counts changing.
            let estimate = 1_000_000 + rng.below(8_000_000) * (step % 7);
            let k = rng.below(tracks.len() as u64) as usize;
            match step % 4 {
                0 => tracks[k].muted = !tracks[k].muted,
                1 => {
                    tracks[k].bitrates.0[2] = if tracks[k].bitrates.0[2][0] == 0 {
                        rates.0[2]
                    } else {
                        [0; 4]
                    }
                }
                2 => tracks[k].priority = rng.below(10) as u8,
                _ => {}
            }
            let count = tracks.len() - (step % 3) as usize;
            let got = allocator.allocate(estimate, &tracks[..count], step * 100_000);
            paused += got.iter().filter(|a| a.layer.is_none()).count();
        }
    });
    assert_eq!(n, 0, "allocations in Allocator::allocate");
    assert!(paused > 0);
}

#[test]
fn simulcast_sfu_leg_allocates_nothing() {
    use rtmedia::simulcast::{Forwarded, Source, SourceConfig};
    use rtmedia::srtp::{Config, Profile, Srtp};
    let (ssrcs, trace) = simulcast_trace();
    let ctx = |k: u8| {
        Srtp::new(
            Profile::AeadAes128Gcm,
            &[k; 16],
            &[k; 12],
            Config::default(),
        )
        .unwrap()
    };
    // The publisher's packets, protected and waiting in pooled receive
    // buffers: pieces of one slab, so that freezing one gives a shared
    // `Bytes` (see simulcast_trace).
    const CAP: usize = 1500;
    let mut publisher = ctx(1);
    let mut slab = BytesMut::zeroed(trace.len() * CAP);
    let mut received: Vec<(u64, BytesMut)> = trace
        .iter()
        .map(|(at, p)| {
            let mut piece = slab.split_to(CAP);
            piece[..p.len()].copy_from_slice(p);
            let n = publisher.protect_rtp(&mut piece, p.len()).unwrap();
            piece.truncate(n);
            (*at, piece)
        })
        .collect();
    let mut rx = ctx(1);
    let mut tx = ctx(2);
    let mut source = Source::new(SourceConfig::default(), ssrcs).unwrap();
    let mut fwd = simulcast_forwarder();
    let mut out = [0u8; CAP];
    let mut sent = 0u64;
    let counted = received.split_off(SIMULCAST_WARM_UP);
    let mut leg = |packets: Vec<(u64, BytesMut)>, first: usize| {
        for (i, (at, mut p)) in packets.into_iter().enumerate() {
            if (first + i) % 200 == 0 {
                fwd.set_target(simulcast_target(first + i));
            }
            let len = rx.unprotect_rtp(&mut p).unwrap();
            p.truncate(len);
            let pkt = source.on_rtp(p.freeze(), at).unwrap();
            if let Some(spatial) = fwd.poll_keyframe_request() {
                source.request_keyframe(spatial);
            }
            if let Forwarded::Sent(len) = fwd.forward(&pkt, &mut out, at).unwrap() {
                let n = tx.protect_rtp(&mut out, len).unwrap();
                std::hint::black_box(&out[..n]);
                sent += 1;
            }
        }
    };
    leg(received, 0);
    let n = allocations_in(|| leg(counted, SIMULCAST_WARM_UP));
    assert_eq!(
        n, 0,
        "allocations in unprotect → source → forward → protect"
    );
    assert_eq!(rx.stats().rtp_unprotected, trace.len() as u64);
    assert!(sent > 500 && tx.stats().rtp_protected == sent);
}

#[test]
fn simulcast_copying_push_and_forward_allocate_nothing_in_steady_state() {
    use rtmedia::ffi::simulcast::*;
    use rtmedia::ffi::status::rtm_status;

    /// Three layers, two packets per frame, L1T3 TIDs: packets pushed through
    /// the C copying push (pooled buffers) and forwarded to two subscribers.
    const SSRCS: [u32; 3] = [11, 22, 33];
    fn packet(layer: usize, frame: u32, second: bool, out: &mut Vec<u8>) {
        let seq = (frame * 2 + u32::from(second)) as u16;
        let tid = [0u8, 2, 1, 2][frame as usize % 4];
        let pid = (frame & 0x7fff) as u16;
        out.clear();
        out.extend_from_slice(&[0x80, if second { 0xe0 } else { 0x60 }]);
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&(frame * 3000).to_be_bytes());
        out.extend_from_slice(&SSRCS[layer].to_be_bytes());
        let s_bit = if second { 0 } else { 0x10 };
        out.extend_from_slice(&[0x80 | s_bit, 0xe0, 0x80 | (pid >> 8) as u8, pid as u8]);
        out.extend_from_slice(&[(frame / 4) as u8, tid << 6 | 0x20]);
        if !second {
            out.push(if frame == 0 { 0x00 } else { 0x01 });
        }
        out.resize(out.len() + 300 * (layer + 1), 0x5a);
    }

    let mut src = core::ptr::null_mut();
    let mut fwds = [core::ptr::null_mut(); 2];
    let mut pkt = Vec::with_capacity(1500);
    let mut out = [0u8; 1500];
    unsafe {
        assert_eq!(
            rtm_source_new(core::ptr::null(), SSRCS.as_ptr(), 3, &mut src),
            rtm_status::RTM_OK
        );
        for (f, fwd) in fwds.iter_mut().enumerate() {
            let mut c = core::mem::MaybeUninit::<rtm_forwarder_config>::uninit();
            let size = core::mem::size_of::<rtm_forwarder_config>();
            assert_eq!(
                rtm_forwarder_config_init(c.as_mut_ptr(), size),
                rtm_status::RTM_OK
            );
            assert_eq!(rtm_forwarder_new(c.as_ptr(), fwd), rtm_status::RTM_OK);
            assert_eq!(
                rtm_forwarder_set_target(*fwd, f as u8 * 2, 1 + f as u8),
                rtm_status::RTM_OK
            );
        }
    }
    let mut run = |frames: std::ops::Range<u32>| {
        let mut sent = 0;
        for frame in frames {
            for layer in 0..3 {
                for second in [false, true] {
                    packet(layer, frame, second, &mut pkt);
                    let now = u64::from(frame) * 33_333;
                    let mut info = rtm_source_packet_info {
                        struct_size: core::mem::size_of::<rtm_source_packet_info>(),
                        ..Default::default()
                    };
                    unsafe {
                        let st = rtm_source_push_copy(src, pkt.as_ptr(), pkt.len(), now, &mut info);
                        assert_eq!(st, rtm_status::RTM_OK);
                        for &fwd in &fwds {
                            let mut n = 0;
                            let st = rtm_forwarder_forward(
                                fwd,
                                src,
                                out.as_mut_ptr(),
                                out.len(),
                                now,
                                &mut n,
                                core::ptr::null_mut(),
                            );
                            assert_eq!(st, rtm_status::RTM_OK);
                            sent += usize::from(n > 0);
                        }
                    }
                }
            }
        }
        sent
    };
    // Past the source's history (1024 packets per layer): buffers recycle.
    run(0..1_200);
    let mut sent = 0;
    let n = allocations_in(|| sent = run(1_200..1_700));
    assert_eq!(n, 0, "allocations per pushed and forwarded packet");
    assert!(sent > 1_000, "{sent}");
    unsafe {
        for fwd in fwds {
            rtm_forwarder_free(fwd);
        }
        rtm_source_free(src);
    }
}

/// The same room through the C functions: the copying input push (into
/// recycled buffers), the tick, the packets and the taps read in one call.
#[test]
fn mixer_through_the_c_api_allocates_nothing_in_steady_state() {
    use rtmedia::ffi::mixer::*;
    use rtmedia::ffi::status::rtm_status;

    const PARTICIPANTS: u32 = 6;
    const TICKS: usize = 400;
    let packets = mixer_packets(PARTICIPANTS, TICKS);
    let mut mixer = core::ptr::null_mut();
    let mut inputs = vec![core::ptr::null_mut(); PARTICIPANTS as usize];
    unsafe {
        assert_eq!(
            rtm_mixer_new(core::ptr::null(), &mut mixer),
            rtm_status::RTM_OK
        );
        for (i, input) in inputs.iter_mut().enumerate() {
            let i = i as u32;
            let st = rtm_mixer_add_participant(mixer, i, 0x100 + i, 0x900 + i, i == 0, input);
            assert_eq!(st, rtm_status::RTM_OK);
        }
    }
    let mut frames: Vec<rtm_mixer_tap_frame> = (0..8)
        .map(|_| rtm_mixer_tap_frame {
            struct_size: core::mem::size_of::<rtm_mixer_tap_frame>(),
            participant: 0,
            media_time: 0,
            pcm: [0.0; RTM_MIXER_TAP_FRAME_SAMPLES],
            ssrc: 0,
            rtp_timestamp: 0,
            has_rtp_timestamp: false,
            voice_activity: false,
            content: 0,
            level_dbov: 0,
        })
        .collect();
    let mut out = [0u8; 1500];
    let mut run = |range: std::ops::Range<usize>| {
        let mut bytes = 0;
        for t in range {
            let now = t as u64 * 20_000;
            for (i, &input) in inputs.iter().enumerate() {
                let p = &packets[i][t];
                let st = unsafe { rtm_mixer_input_push(input, p.as_ptr(), p.len(), now) };
                assert_eq!(st, rtm_status::RTM_OK);
            }
            let mut count = 0;
            unsafe {
                assert_eq!(
                    rtm_mixer_tick(mixer, now + 5_000, &mut count),
                    rtm_status::RTM_OK
                );
                for k in 0..count {
                    let mut len = 0;
                    let st = rtm_mixer_write_rtp(mixer, k, out.as_mut_ptr(), out.len(), &mut len);
                    assert_eq!(st, rtm_status::RTM_OK);
                    bytes += len;
                }
                let (mut got, mut lost) = (0, 0);
                let st = rtm_mixer_take_taps(
                    mixer,
                    frames.as_mut_ptr(),
                    frames.len(),
                    &mut got,
                    &mut lost,
                );
                assert!(st == rtm_status::RTM_OK || st == rtm_status::RTM_NOTHING_DUE);
            }
        }
        bytes
    };
    run(0..150);
    let mut bytes = 0;
    let n = allocations_in(|| bytes = run(150..TICKS));
    assert_eq!(n, 0, "allocations per C input push and tick");
    assert!(bytes > 0);
    unsafe {
        for input in inputs {
            rtm_mixer_input_free(input);
        }
        rtm_mixer_free(mixer);
    }
}
