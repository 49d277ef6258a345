//! Tests of the simulcast publisher and its L1T3 encoder against libvpx.
use super::*;
use crate::codec::vp8::Descriptor;
use crate::codec::{is_keyframe_start, Codec};
use crate::packet::rtcp::{compound, RtcpPacket};
use crate::packet::RtpPacket;

/// Small layers and the fastest libvpx speed keep a test to a few seconds.
fn small(seed: u64) -> SimulcastConfig {
    let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
        width,
        height,
        bitrate_kbps,
    };
    SimulcastConfig {
        seed,
        layers: vec![
            layer(160, 90, 100),
            layer(320, 180, 300),
            layer(640, 360, 800),
        ],
        cpu_used: 16,
        mtu: 600,
        ..SimulcastConfig::default()
    }
}

/// Frames of one layer as a receiver sees them.
struct Received {
    temporal: TemporalInfo,
    keyframe: bool,
    data: Vec<u8>,
}

fn frames_of(frames: &[SimulcastFrame], layer: usize) -> Vec<Received> {
    frames
        .iter()
        .flat_map(|f| f.layers.iter().filter(|l| l.layer == layer))
        .map(|l| Received {
            temporal: l.temporal,
            keyframe: l.keyframe,
            data: vp8_depacketize(&l.packets).unwrap(),
        })
        .collect()
}

/// Decodes the frames `take` selects with a fresh decoder; the luma hash of
/// each decoded frame by position, `None` where skipped.
fn decode(
    frames: &[Received],
    size: (u32, u32),
    take: impl Fn(usize, &Received) -> bool,
) -> Vec<Option<u64>> {
    let mut decoder = Vp8Decoder::new().unwrap();
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            take(i, f).then(|| {
                let d = decoder
                    .decode(&f.data)
                    .unwrap_or_else(|e| panic!("frame {i}: {e}"));
                assert_eq!((d.width, d.height), size, "frame {i}");
                assert!(!d.corrupted, "frame {i}");
                d.luma_hash
            })
        })
        .collect()
}

#[test]
fn descriptors_say_what_the_publisher_says() {
    let mut publisher = SimulcastPublisher::new(small(3)).unwrap();
    let n = publisher.layer_count();
    let mut last: Vec<Option<SimulcastLayerFrame>> = vec![None; n];
    let mut next_seq: Vec<Option<u16>> = vec![None; n];
    // Frames since each layer's last keyframe: the position in the period.
    let mut since_key = vec![0usize; n];
    for i in 0..22u64 {
        if i == 9 {
            publisher.request_keyframe(1);
        }
        let frame = publisher.next_frame();
        assert_eq!(frame.capture_index, i);
        assert_eq!(frame.layers.len(), n);
        let timestamps: Vec<u32> = frame.layers.iter().map(|l| l.timestamp).collect();
        assert!(timestamps[0] != timestamps[1] && timestamps[1] != timestamps[2]);
        for l in &frame.layers {
            let s = l.layer;
            assert_eq!(l.ssrc, publisher.ssrc(s));
            assert_eq!(l.timestamp, publisher.timestamp(s, i));
            assert_eq!(
                l.timestamp.wrapping_sub(publisher.timestamp(s, 0)),
                i as u32 * 3000
            );
            assert_eq!(
                l.keyframe,
                i == 0 || (i == 9 && s == 1),
                "frame {i} layer {s}"
            );
            if l.keyframe {
                since_key[s] = 0;
            }
            let pos = since_key[s] % 4;
            since_key[s] += 1;
            let tid = L1T3_PATTERN[pos];
            assert_eq!(l.temporal.temporal_id, tid, "frame {i} layer {s}");
            assert_eq!(l.temporal.non_reference, tid == 2);
            // Keyframes, the first TL2 and the TL1 reference TL0 only; the
            // second TL2 references the TL1 frame.
            let sync = l.keyframe || pos == 1 || pos == 2;
            assert_eq!(l.temporal.layer_sync, sync, "frame {i} layer {s}");
            if let Some(prev) = &last[s] {
                assert_eq!(l.picture_id, (prev.picture_id + 1) & 0x7fff);
                let tl0_step = u8::from(tid == 0);
                assert_eq!(l.tl0_pic_idx, prev.tl0_pic_idx.wrapping_add(tl0_step));
                let key_step = u8::from(l.keyframe);
                assert_eq!(l.key_idx, (prev.key_idx + key_step) & 0x1f);
            }
            for (k, packet) in l.packets.iter().enumerate() {
                assert!(packet.len() <= 600);
                let p = RtpPacket::parse(&packet[..]).unwrap();
                assert_eq!(
                    (p.ssrc(), p.timestamp(), p.payload_type()),
                    (l.ssrc, l.timestamp, 96)
                );
                assert_eq!(p.marker(), k + 1 == l.packets.len());
                if let Some(seq) = next_seq[s] {
                    assert_eq!(p.sequence_number(), seq);
                }
                next_seq[s] = Some(p.sequence_number().wrapping_add(1));
                let d = Descriptor::parse(p.payload()).unwrap();
                assert_eq!(d.len, VP8_TEMPORAL_DESCRIPTOR_LEN);
                assert_eq!(
                    (d.picture_id, d.picture_id_15bit),
                    (Some(l.picture_id), true)
                );
                assert_eq!(d.tl0_pic_idx, Some(l.tl0_pic_idx));
                assert_eq!(d.temporal_id, Some(tid));
                assert_eq!(d.layer_sync, sync);
                assert_eq!(d.key_idx, Some(l.key_idx));
                assert_eq!(d.non_reference, tid == 2);
                assert_eq!((d.start_of_partition, d.partition_index), (k == 0, 0));
                assert_eq!(d.keyframe, k == 0 && l.keyframe);
                assert_eq!(
                    is_keyframe_start(Codec::Vp8, p.payload()),
                    k == 0 && l.keyframe
                );
            }
            last[s] = Some(l.clone());
        }
    }
    for s in 0..n {
        assert_eq!(publisher.frames_sent(s), 22);
        let packets: u32 = publisher.packets_sent(s);
        assert!(packets >= 22);
    }
}

#[test]
fn layers_and_temporal_subsets_decode() {
    let config = small(5);
    let mut publisher = SimulcastPublisher::new(config.clone()).unwrap();
    let frames: Vec<SimulcastFrame> = (0..40).map(|_| publisher.next_frame()).collect();
    for (s, size) in config.layers.iter().enumerate() {
        let size = (size.width, size.height);
        let received = frames_of(&frames, s);
        assert_eq!(received.len(), 40);
        let full = decode(&received, size, |_, _| true);
        // TL0 and TL0+TL1 decode on their own, to exactly the pictures the
        // full stream gives: they reference nothing above their layer.
        for max_tid in 0..2 {
            let subset = decode(&received, size, |_, f| f.temporal.temporal_id <= max_tid);
            for (i, (sub, all)) in subset.iter().zip(&full).enumerate() {
                if let Some(hash) = sub {
                    assert_eq!(Some(*hash), *all, "layer {s} TL0-{max_tid} frame {i}");
                }
            }
            assert_eq!(
                subset.iter().flatten().count(),
                if max_tid == 0 { 10 } else { 20 }
            );
        }
        // A receiver on TL0 switching up at a sync frame of each layer
        // decodes from there exactly as one that had everything.
        for tid in 1..=2u8 {
            let switch = received
                .iter()
                .enumerate()
                .position(|(i, f)| i > 10 && f.temporal.temporal_id == tid && f.temporal.layer_sync)
                .unwrap();
            let switched = decode(&received, size, |i, f| {
                i >= switch || f.temporal.temporal_id == 0
            });
            for i in switch..received.len() {
                assert_eq!(
                    switched[i], full[i],
                    "layer {s} up to TL{tid} at {switch}, frame {i}"
                );
            }
        }
        assert!(received[0].keyframe);
        assert!(received[1..].iter().all(|f| !f.keyframe));
    }
}

#[test]
fn keyframe_request_hits_only_that_layer_at_its_next_frame() {
    let mut publisher = SimulcastPublisher::new(small(7)).unwrap();
    for _ in 0..5 {
        publisher.next_frame();
    }
    let ssrc = publisher.ssrc(2);
    assert!(publisher.request_keyframe_for_ssrc(ssrc));
    assert!(!publisher.request_keyframe_for_ssrc(ssrc ^ 1));
    let frame = publisher.next_frame();
    let keys: Vec<bool> = frame.layers.iter().map(|l| l.keyframe).collect();
    assert_eq!(keys, [false, false, true]);
    let top = &frame.layers[2];
    assert_eq!(
        (top.temporal.temporal_id, top.temporal.layer_sync),
        (0, true)
    );
    // Only once, and the period restarts: the next frame is a sync TL2.
    let frame = publisher.next_frame();
    assert!(frame.layers.iter().all(|l| !l.keyframe));
    assert_eq!(frame.layers[2].temporal.temporal_id, 2);
    assert!(frame.layers[2].temporal.layer_sync);
}

#[test]
fn sender_reports_map_one_clock_to_each_layers_timestamps() {
    let mut config = small(11);
    config.drift = DriftClock { ppm: 80.0 };
    config.start_us = 2_000_000;
    config.layers.truncate(2);
    let mut publisher = SimulcastPublisher::new(config).unwrap();
    let mut frames = Vec::new();
    let mut now = 0;
    while frames.len() < 8 {
        let due = publisher.next_send_time();
        if let Some(f) = publisher.poll(now) {
            assert!(due <= now && now < due + 1000);
            assert_eq!(f.send_time_us, due);
            frames.push(f);
        }
        now += 1000;
    }
    // 30 fps of a clock 80 ppm fast, from 2 s on.
    assert_eq!(frames[3].send_time_us, 2_099_992);
    assert!(publisher.poll(frames[7].send_time_us).is_none());
    let at = frames[7].send_time_us + 5_000;
    let report = |layer: usize| {
        let bytes = publisher.sender_report(layer, at);
        match compound(&bytes).next().unwrap().unwrap() {
            RtcpPacket::SenderReport(sr) => (
                sr.ssrc(),
                sr.ntp_timestamp(),
                sr.rtp_timestamp(),
                sr.packet_count(),
                sr.octet_count(),
            ),
            other => panic!("{other:?}"),
        }
    };
    let (a, b) = (report(0), report(1));
    assert_eq!((a.0, b.0), (publisher.ssrc(0), publisher.ssrc(1)));
    // Same instant, same wall clock; each layer's own RTP offset.
    assert_eq!(a.1, b.1);
    assert_ne!(a.2, b.2);
    let frame = &frames[7].layers;
    let lead = |ts: u32, sr_rtp: u32| sr_rtp.wrapping_sub(ts) as i32;
    assert_eq!(lead(frame[0].timestamp, a.2), lead(frame[1].timestamp, b.2));
    // 5 ms after the capture is 450 ticks later (the capture instant rounds
    // to whole microseconds).
    assert!((449..=452).contains(&lead(frame[0].timestamp, a.2)));
    for (layer, r) in [a, b].iter().enumerate() {
        assert_eq!(r.3, publisher.packets_sent(layer));
        assert_eq!(r.4, publisher.octets_sent(layer));
        let payload: usize = frames
            .iter()
            .flat_map(|f| &f.layers[layer].packets)
            .map(|p| p.len() - 12)
            .sum();
        assert_eq!(r.4 as usize, payload);
    }
    // One second of the sender's clock later: NTP one second on, RTP 90000.
    let later = at + 1_000_000;
    let ntp = publisher.ntp_timestamp(later);
    let rtp = publisher.rtp_timestamp_at(0, later);
    let seconds = (ntp - a.1) as f64 / 2f64.powi(32);
    let ticks = rtp.wrapping_sub(a.2);
    assert!((seconds - 1.000_08).abs() < 2e-6, "{seconds}");
    assert!((90_006..=90_008).contains(&ticks), "{ticks}");
}

#[test]
fn same_seed_same_packets() {
    let run = |seed| {
        let mut publisher = SimulcastPublisher::new(small(seed)).unwrap();
        (0..6).map(|_| publisher.next_frame()).collect::<Vec<_>>()
    };
    let (a, b) = (run(13), run(13));
    assert_eq!(a, b);
    let c = run(14);
    assert_ne!(a[0].layers[0].ssrc, c[0].layers[0].ssrc);
}

#[test]
fn a_stopped_layer_sends_nothing_and_resumes_with_a_keyframe() {
    let config = small(17);
    let top = (config.layers[2].width, config.layers[2].height);
    let mut publisher = SimulcastPublisher::new(config).unwrap();
    let mut frames: Vec<SimulcastFrame> = (0..3).map(|_| publisher.next_frame()).collect();
    let packets = publisher.packets_sent(2);
    publisher.set_layer_active(2, false);
    assert!(!publisher.is_layer_active(2));
    for _ in 0..5 {
        let f = publisher.next_frame();
        assert_eq!(f.layers.iter().map(|l| l.layer).collect::<Vec<_>>(), [0, 1]);
        assert!(f.layers.iter().all(|l| !l.keyframe));
        frames.push(f);
    }
    assert_eq!(publisher.packets_sent(2), packets);
    publisher.set_layer_active(2, true);
    let f = publisher.next_frame();
    let resumed = &f.layers[2];
    assert!(resumed.keyframe && !f.layers[0].keyframe && !f.layers[1].keyframe);
    assert_eq!(resumed.timestamp, publisher.timestamp(2, 8));
    assert_eq!(
        resumed.picture_id,
        (frames[2].layers[2].picture_id + 1) & 0x7fff
    );
    frames.push(f);
    frames.push(publisher.next_frame());
    let received = frames_of(&frames, 2);
    assert_eq!(received.len(), 5);
    decode(&received, top, |_, _| true);
}

#[test]
fn keyframe_interval_forces_tl0_keyframes_on_every_layer() {
    let mut config = small(19);
    config.keyframe_interval = Some(6);
    config.layers.truncate(2);
    let mut publisher = SimulcastPublisher::new(config).unwrap();
    for i in 0..14 {
        let frame = publisher.next_frame();
        for l in &frame.layers {
            assert_eq!(l.keyframe, i % 6 == 0, "frame {i}");
            // The period restarts on each keyframe, and two frames after a
            // keyframe is the TL1.
            let tid = L1T3_PATTERN[(i % 6) as usize % 4];
            assert_eq!(l.temporal.temporal_id, tid, "frame {i}");
        }
    }
}

#[test]
fn default_config_is_browser_like() {
    let config = SimulcastConfig::default();
    let sizes: Vec<_> = config.layers.iter().map(|l| (l.width, l.height)).collect();
    assert_eq!(sizes, [(320, 180), (640, 360), (1280, 720)]);
    assert_eq!(config.fps, 30);
    let mut publisher = SimulcastPublisher::new(config).unwrap();
    assert_eq!(publisher.ssrcs().len(), 3);
    let frame = publisher.next_frame();
    let mut decoder = Vp8Decoder::new().unwrap();
    let top = vp8_depacketize(&frame.layers[2].packets).unwrap();
    let d = decoder.decode(&top).unwrap();
    assert_eq!((d.width, d.height), (1280, 720));
    assert_eq!(publisher.next_send_time(), 33_333);
    assert!(SimulcastPublisher::new(SimulcastConfig {
        layers: Vec::new(),
        ..SimulcastConfig::default()
    })
    .is_err());
}
