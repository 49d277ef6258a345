//! A lost VP8 frame above the base temporal layer costs that frame and the
//! frames that reference it, not a keyframe: checked on real libvpx L1T3
//! output (the `sim` publisher, pattern 0-2-1-2), every released frame
//! decoded by libvpx and compared with the same frame decoded from the
//! whole stream — a frame released without its references would differ.

use bytes::Bytes;
use rtmedia::codec::Codec;
use rtmedia::jitter::{DelayConfig, Event, JitterBuffer, JitterConfig};
use rtmedia::sim::{
    vp8_depacketize, SimulcastConfig, SimulcastLayerConfig, SimulcastPublisher, Vp8Decoder,
};

const FRAMES: u64 = 48;
const ONE_WAY_US: u64 = 20_000;

struct Sent {
    send_us: u64,
    temporal_id: u8,
    keyframe: bool,
    packets: Vec<Bytes>,
}

fn publisher() -> SimulcastPublisher {
    SimulcastPublisher::new(SimulcastConfig {
        seed: 3,
        layers: vec![SimulcastLayerConfig {
            width: 320,
            height: 180,
            bitrate_kbps: 400,
        }],
        ..SimulcastConfig::default()
    })
    .unwrap()
}

fn sent(frame: rtmedia::sim::SimulcastFrame) -> Sent {
    let l = &frame.layers[0];
    Sent {
        send_us: l.send_time_us,
        temporal_id: l.temporal.temporal_id,
        keyframe: l.keyframe,
        packets: l.packets.clone(),
    }
}

/// Luma hash of every frame of the stream decoded whole.
fn reference(frames: &[Sent]) -> Vec<u64> {
    let mut decoder = Vp8Decoder::new().unwrap();
    frames
        .iter()
        .map(|f| {
            let d = decoder
                .decode(&vp8_depacketize(&f.packets).unwrap())
                .unwrap();
            assert!(!d.corrupted);
            d.luma_hash
        })
        .collect()
}

struct Run {
    /// (capture index, luma hash) of each released frame, in order.
    released: Vec<(usize, u64)>,
    keyframe_requests: usize,
    sent: Vec<Sent>,
}

/// Sends `FRAMES` frames over a fixed 20 ms link that loses every packet of
/// the frames in `lost`, answering keyframe requests at the next frame.
fn run(lost: &[usize]) -> Run {
    let mut publisher = publisher();
    let mut config = JitterConfig::video(Codec::Vp8);
    config.nack.enabled = false;
    config.delay = DelayConfig {
        fixed_delay_us: Some(40_000),
        ..DelayConfig::default()
    };
    let mut jb = JitterBuffer::new(config);
    let mut decoder = Vp8Decoder::new().unwrap();
    let mut frames: Vec<Sent> = Vec::new();
    let mut in_flight: Vec<(u64, Bytes)> = Vec::new();
    let mut released = Vec::new();
    let mut keyframe_requests = 0;
    let mut now = 0;
    while now < (FRAMES + 10) * 33_334 {
        if (frames.len() as u64) < FRAMES {
            if let Some(f) = publisher.poll(now) {
                let f = sent(f);
                if !lost.contains(&frames.len()) {
                    for p in &f.packets {
                        in_flight.push((f.send_us + ONE_WAY_US, p.clone()));
                    }
                }
                frames.push(f);
            }
        }
        for (_, p) in in_flight.iter().filter(|(at, _)| *at <= now) {
            jb.push(p.clone(), now).unwrap();
        }
        in_flight.retain(|(at, _)| *at > now);
        while let Some(e) = jb.pop(now) {
            let Event::Frame { packets, .. } = e else {
                continue;
            };
            let index = frames
                .iter()
                .position(|f| f.packets[0] == packets[0])
                .expect("a sent frame");
            let d = decoder.decode(&vp8_depacketize(packets).unwrap()).unwrap();
            assert!(!d.corrupted, "frame {index}");
            released.push((index, d.luma_hash));
        }
        if jb.take_keyframe_request() {
            keyframe_requests += 1;
            publisher.request_keyframe(0);
        }
        now += 1_000;
    }
    Run {
        released,
        keyframe_requests,
        sent: frames,
    }
}

#[test]
fn the_stream_is_l1t3() {
    let r = run(&[]);
    let tids: Vec<u8> = r.sent.iter().take(8).map(|f| f.temporal_id).collect();
    assert_eq!(tids, [0, 2, 1, 2, 0, 2, 1, 2]);
    assert_eq!(r.released.len(), FRAMES as usize);
    assert_eq!(r.keyframe_requests, 0);
}

#[test]
fn a_lost_upper_layer_frame_costs_only_the_frames_that_reference_it() {
    // 5: a TL2 frame. What it was is lost with it, so the receiver cannot
    // tell that 7 (TL2, not layer sync) does not reference it and skips 7
    // too (libwebrtc's reference finder is as careful); 6 (TL1, layer sync)
    // and 8 (TL0) decode. 14: a TL1 frame, so 15 (TL2, references GOLDEN,
    // which 14 updates) cannot decode, but 16 (TL0) can.
    let lost = [5, 14];
    let r = run(&lost);
    assert_eq!(
        r.keyframe_requests, 0,
        "no keyframe for an upper-layer loss"
    );
    let reference = reference(&r.sent);
    for &(i, hash) in &r.released {
        assert_eq!(
            hash, reference[i],
            "frame {i} decoded as in the whole stream"
        );
    }
    let indices: Vec<usize> = r.released.iter().map(|&(i, _)| i).collect();
    let expected: Vec<usize> = (0..FRAMES as usize)
        .filter(|i| ![5, 7, 14, 15].contains(i))
        .collect();
    assert_eq!(indices, expected);
}

#[test]
fn a_lost_base_layer_frame_still_waits_for_a_keyframe() {
    let r = run(&[8]);
    assert_eq!(r.keyframe_requests, 1);
    let reference = reference(&r.sent);
    let mut after_loss = false;
    for &(i, hash) in &r.released {
        if i > 8 && !after_loss {
            after_loss = true;
            assert!(
                r.sent[i].keyframe,
                "frame {i}: the first after the TL0 loss is a keyframe"
            );
        }
        assert_eq!(hash, reference[i], "frame {i}");
    }
    assert!(after_loss);
}
