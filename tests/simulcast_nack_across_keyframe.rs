//! A NACK that crosses a keyframe in flight is still answered (unless the
//! keyframe started a lower spatial layer: `tests/simulcast.rs`
//! `retransmissions_from_before_a_down_switch_are_refused`).
//!
//! A subscriber loses a packet; before its NACK reaches the SFU, the SFU
//! forwards it a keyframe (an up-switch it was heading for, or a
//! keyframe another subscriber asked for). The subscriber's jitter buffer
//! plays the frames before that keyframe first, so it still needs the lost
//! packet: the NACK is its word for that. The track must send it again
//! (RTX), and every frame must play complete.
//!
//! Found by `examples/c/sfu_loop.c` under CPU contention (valgrind, several
//! runs at once on two cores): its subscriber's NACKs reached the SFU
//! 100–300 ms after the loss, after the switch's keyframe, and the
//! forwarder refused them as "from before the last keyframe", so the frame
//! never completed (`nacks_before_keyframe` > 0 in every failing run with a
//! 1 s playout delay).
//!
//! Sans-IO with a simulated clock: a hand-built VP8 simulcast publisher
//! (three SSRCs, sender reports), a `Track`, a down link that loses one
//! chosen packet and an up link with a long delay, and a VP8 jitter buffer
//! with NACK and RTX.

use std::collections::VecDeque;

use bytes::Bytes;
use rtmedia::codec::Codec;
use rtmedia::jitter::{Event, JitterBuffer, JitterConfig, RtxConfig as JitterRtx};
use rtmedia::packet::rtcp::{NackBuilder, SenderReportBuilder};
use rtmedia::packet::{RtpBuilder, RtpPacket};
use rtmedia::simulcast::{
    ForwarderConfig, Layer, Output, RtpKind, RtxConfig, SubscriberConfig, Track, TrackConfig,
};

const LAYERS: usize = 3;
const SSRCS: [u32; LAYERS] = [0x1a1a_0000, 0x2b2b_0000, 0x3c3c_0000];
const FWD_SSRC: u32 = 0x5eed_1234;
const RTX_SSRC: u32 = 0x5eed_5678;
const SUB: u64 = 1;
const FRAME_US: u64 = 10_000;
const TS_STEP: u32 = 900;
const FRAMES: u32 = 120;
/// Track -> subscriber.
const DOWN_DELAY_US: u64 = 5_000;
/// Subscriber -> track: a NACK arrives long after the loss (a slow path, or
/// a starved receiver or SFU).
const UP_DELAY_US: u64 = 150_000;
const PLAYOUT_DELAY_US: u64 = 400_000;
const NTP_BASE: u64 = 3_900_000_000 << 32;

/// Packets of frame `f` on layer `l` (3 for a keyframe).
fn packet_count(l: usize, f: u32, key: bool) -> u8 {
    if key {
        3
    } else {
        1 + ((f as usize + l) % 2) as u8
    }
}

struct Publisher {
    seq: [u16; LAYERS],
    ts: [u32; LAYERS],
    pid: [u16; LAYERS],
    tl0: [u8; LAYERS],
    key_wanted: [bool; LAYERS],
    keyframes: [u32; LAYERS],
}

impl Publisher {
    fn new() -> Self {
        Self {
            // Unrelated bases per layer, about to wrap.
            seq: [65_400, 65_437, 65_474],
            ts: [0xfffe_0000, 0xfffe_3039, 0xfffe_6072],
            pid: [0x7fc0, 0x7fc5, 0x7fca],
            tl0: [250, 251, 252],
            key_wanted: [false; LAYERS],
            keyframes: [0; LAYERS],
        }
    }

    fn sender_report(&self, l: usize) -> Bytes {
        let mut buf = [0u8; 64];
        let len = SenderReportBuilder {
            ssrc: SSRCS[l],
            ntp_timestamp: NTP_BASE,
            rtp_timestamp: self.ts[l],
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        Bytes::copy_from_slice(&buf[..len])
    }

    /// Frame `f` of layer `l`: VP8 with a descriptor (PictureID, TL0PICIDX,
    /// TID 0), then a tag (layer, frame, index, count) for the checks.
    fn frame(&mut self, l: usize, f: u32, force_key: bool) -> Vec<Bytes> {
        let key = f == 0 || force_key || std::mem::take(&mut self.key_wanted[l]);
        self.keyframes[l] += u32::from(key);
        self.tl0[l] = self.tl0[l].wrapping_add(1);
        let count = packet_count(l, f, key);
        let mut out = Vec::new();
        for k in 0..count {
            let mut payload = vec![
                0x80 | if k == 0 { 0x10 } else { 0 },
                0xe0, // I, L, T
                0x80 | (self.pid[l] >> 8) as u8,
                self.pid[l] as u8,
                self.tl0[l],
                0x00, // TID 0
                if k > 0 {
                    0xff
                } else if key {
                    0x00
                } else {
                    0x01
                },
                l as u8,
                (f >> 8) as u8,
                f as u8,
                k,
                count,
            ];
            payload.resize(40 + 60 * l, 0xee);
            let mut buf = [0u8; 1500];
            let len = RtpBuilder {
                marker: k + 1 == count,
                payload_type: 96,
                sequence_number: self.seq[l],
                timestamp: self.ts[l],
                ssrc: SSRCS[l],
                payload: &payload,
                ..Default::default()
            }
            .write_into(&mut buf)
            .unwrap();
            self.seq[l] = self.seq[l].wrapping_add(1);
            out.push(Bytes::copy_from_slice(&buf[..len]));
        }
        self.pid[l] = (self.pid[l] + 1) & 0x7fff;
        self.ts[l] = self.ts[l].wrapping_add(TS_STEP);
        out
    }
}

/// A frame the subscriber's jitter buffer released: (layer, frame), after
/// checking it is complete and continues the sequence numbers.
#[derive(Default)]
struct Subscriber {
    frames: Vec<(u8, u32)>,
    last_seq: Option<u16>,
    errors: Vec<String>,
    rtx_received: u64,
}

impl Subscriber {
    fn check(&mut self, packets: &[Bytes]) {
        let mut tag = None;
        for (k, p) in packets.iter().enumerate() {
            let pkt = RtpPacket::parse(p).unwrap();
            let seq = pkt.sequence_number();
            if let Some(last) = self.last_seq {
                if seq != last.wrapping_add(1) {
                    self.errors
                        .push(format!("seq {seq} after {last}: a packet missing"));
                }
            }
            self.last_seq = Some(seq);
            let d = pkt.payload();
            let (l, f, i, n) = (d[7], u32::from(d[8]) << 8 | u32::from(d[9]), d[10], d[11]);
            if usize::from(i) != k || usize::from(n) != packets.len() {
                self.errors.push(format!(
                    "frame {f}: packet {i} of {n} at {k} of {}",
                    packets.len()
                ));
            }
            tag = Some((l, f));
        }
        self.frames.push(tag.unwrap());
    }
}

/// Runs the loop; `lose_frame` is the frame whose first forwarded packet
/// the down link loses; `switch_at`/`key_at` make the keyframe that
/// follows the loss. Returns the subscriber, the track and the jitter
/// buffer's lost-packet count.
fn run(lose_frame: u32, switch_at: Option<u32>, key_at: Option<u32>) -> (Subscriber, Track, u64) {
    run_with_rtt(lose_frame, switch_at, key_at, 0)
}

/// [`run`] with the track told the subscriber's round trip
/// ([`Track::set_subscriber_rtt`]; 0: not told).
fn run_with_rtt(
    lose_frame: u32,
    switch_at: Option<u32>,
    key_at: Option<u32>,
    rtt_us: u64,
) -> (Subscriber, Track, u64) {
    let mut track = Track::new(TrackConfig::default(), &SSRCS).unwrap();
    let config = SubscriberConfig {
        forwarder: ForwarderConfig {
            ssrc: FWD_SSRC,
            ..ForwarderConfig::default()
        },
        rtx: Some(RtxConfig {
            ssrc: RTX_SSRC,
            payload_type: 97,
        }),
    };
    track
        .add_subscriber(SUB, config, Layer::new(0, 2), 0)
        .unwrap();
    track.set_subscriber_rtt(SUB, rtt_us).unwrap();
    let mut jc = JitterConfig::video(Codec::Vp8);
    jc.delay.fixed_delay_us = Some(PLAYOUT_DELAY_US);
    jc.nack.enabled = true;
    jc.rtx = Some(JitterRtx {
        rtx_ssrc: RTX_SSRC,
        media_ssrc: FWD_SSRC,
        media_payload_type: 96,
    });
    let mut jb = JitterBuffer::new(jc);
    let mut publisher = Publisher::new();
    let mut sub = Subscriber::default();
    let mut down: VecDeque<(u64, Bytes)> = VecDeque::new();
    let mut up: VecDeque<(u64, Bytes)> = VecDeque::new();
    let mut buf = vec![0u8; 1500];
    let mut lost_one = false;
    let end = u64::from(FRAMES) * FRAME_US + 2 * PLAYOUT_DELAY_US;
    for l in 0..LAYERS {
        track.push_publisher_rtcp(&publisher.sender_report(l));
    }
    let mut now = 0;
    while now <= end {
        // The publisher: a frame on every layer every FRAME_US, top first.
        if now % FRAME_US == 0 && now / FRAME_US < u64::from(FRAMES) {
            let f = (now / FRAME_US) as u32;
            if switch_at == Some(f) {
                track.set_target(SUB, Layer::new(2, 2), now).unwrap();
            }
            for l in (0..LAYERS).rev() {
                for p in publisher.frame(l, f, l == 0 && key_at == Some(f)) {
                    track.push_rtp(p, now).unwrap();
                    drain(&mut track, &mut publisher, now, &mut buf, |p, kind| {
                        // The tag's frame number, after the header and the VP8 descriptor.
                        let frame = u32::from(p[12 + 8]) << 8 | u32::from(p[12 + 9]);
                        if kind == RtpKind::Media && frame == lose_frame && !lost_one {
                            lost_one = true; // the lossy link
                        } else {
                            down.push_back((now + DOWN_DELAY_US, p));
                        }
                    });
                }
            }
        }
        while let Some((_, fb)) = up.front().filter(|(at, _)| *at <= now).cloned() {
            up.pop_front();
            track.push_subscriber_rtcp(&fb);
        }
        drain(&mut track, &mut publisher, now, &mut buf, |p, _| {
            down.push_back((now + DOWN_DELAY_US, p));
        });
        // The subscriber.
        while let Some((_, p)) = down.front().filter(|(at, _)| *at <= now).cloned() {
            down.pop_front();
            let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
            sub.rtx_received += u64::from(ssrc == RTX_SSRC);
            jb.push(p, now).unwrap();
        }
        while let Some(event) = jb.pop(now) {
            if let Event::Frame { packets, .. } = event {
                let packets = packets.to_vec();
                sub.check(&packets);
            }
        }
        let mut lost = [0u16; 64];
        let n = jb.nack_list(now, &mut lost);
        if n > 0 {
            let len = NackBuilder {
                sender_ssrc: 1,
                media_ssrc: FWD_SSRC,
                lost: &lost[..n],
            }
            .write_into(&mut buf)
            .unwrap();
            up.push_back((now + UP_DELAY_US, Bytes::copy_from_slice(&buf[..len])));
        }
        now += 1_000;
    }
    assert!(lost_one, "the link lost nothing");
    let lost = jb.stats().packets_lost;
    (sub, track, lost)
}

/// Drains the track: PLIs to the publisher, RTP to `send`.
fn drain(
    track: &mut Track,
    publisher: &mut Publisher,
    now: u64,
    buf: &mut [u8],
    mut send: impl FnMut(Bytes, RtpKind),
) {
    loop {
        match track.poll_output(now, buf).unwrap() {
            Output::Rtp { len, kind, .. } => send(Bytes::copy_from_slice(&buf[..len]), kind),
            Output::KeyframeRequest { ssrc } => {
                let l = SSRCS.iter().position(|&s| s == ssrc).unwrap();
                publisher.key_wanted[l] = true;
            }
            Output::Timeout(_) => return,
        }
    }
}

fn assert_every_frame_complete(sub: &Subscriber, track: &Track, lost: u64, top_from: u32) {
    let fs = track.forwarder(SUB).unwrap().stats();
    assert!(sub.errors.is_empty(), "{:?}", sub.errors);
    assert_eq!(lost, 0, "the jitter buffer gave up on a packet");
    let played: Vec<u32> = sub.frames.iter().map(|&(_, f)| f).collect();
    assert_eq!(played, (0..FRAMES).collect::<Vec<_>>(), "every frame once");
    for &(l, f) in &sub.frames {
        assert_eq!(l == 2, f >= top_from, "frame {f} on layer {l}");
    }
    assert!(sub.rtx_received > 0 && fs.retransmitted > 0, "{fs:?}");
    assert_eq!(fs.nacks_before_keyframe, 0, "{fs:?}");
}

#[test]
fn a_nack_that_crosses_a_spatial_switch_is_answered() {
    // Frame 40's first packet is lost; the switch to the top layer starts
    // at its keyframe (frame 51, asked for at 50) some 50 ms before the
    // NACK arrives (150 ms after the loss).
    let (sub, track, lost) = run(40, Some(50), None);
    let switch = sub.frames.iter().find(|&&(l, _)| l == 2).unwrap().1;
    assert!((51..=52).contains(&switch), "switched at {switch}");
    assert_eq!(track.forwarder(SUB).unwrap().stats().spatial_switches, 1);
    assert_every_frame_complete(&sub, &track, lost, switch);
}

#[test]
fn a_nack_that_crosses_a_keyframe_of_the_same_layer_is_answered() {
    // Frame 40's first packet is lost; the publisher sends a keyframe at
    // frame 45 (asked for by someone else), before the NACK arrives.
    let (sub, track, lost) = run(40, None, Some(45));
    assert_every_frame_complete(&sub, &track, lost, FRAMES);
}

/// The subscriber's jitter buffer assumes a 100 ms round trip, but its
/// NACKs take 150 ms to come: it asks again before the retransmission
/// can arrive. Told the real round trip (155 ms), the track sends the
/// packet once; not told, it sends it again for every NACK.
#[test]
fn a_nack_repeated_within_the_round_trip_is_not_answered_again() {
    let (sub, track, lost) = run(40, None, None);
    let fs = track.forwarder(SUB).unwrap().stats();
    assert_eq!(lost, 0);
    assert!(fs.retransmitted >= 2, "{fs:?}");
    assert_eq!(sub.rtx_received, fs.retransmitted);
    let (sub, track, lost) = run_with_rtt(40, None, None, 160_000);
    let fs = track.forwarder(SUB).unwrap().stats();
    assert_eq!(lost, 0);
    assert_eq!(fs.retransmitted, 1, "{fs:?}");
    assert!(fs.nacks_in_flight >= 1, "{fs:?}");
    assert_eq!(sub.rtx_received, 1);
    assert_every_frame_complete(&sub, &track, lost, FRAMES);
}
