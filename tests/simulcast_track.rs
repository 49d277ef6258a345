//! `simulcast::Track` end to end on real libvpx simulcast (keyframes on all
//! layers at once, periodic every 2 s, sender reports): one publisher over
//! a link, the track, and subscribers over lossy links with a video jitter
//! buffer (NACKs; RTX for one of them, restored by the jitter buffer) and
//! libvpx decoding what they release. Everything the SFU does goes through
//! `Track::push_*` and `Track::poll_output`.
//!
//! Goals: every subscriber decodes without error; NACKs are answered (RTX
//! where negotiated); a subscriber joining while the history holds its
//! layer's last keyframe starts from it at once, with no PLI to the
//! publisher; a bitrate-driven subscriber starts on its own when the layers
//! come alive.

#[path = "support/vp8_references.rs"]
mod vp8_references;

use bytes::Bytes;
use rtmedia::codec::vp8::Descriptor;
use rtmedia::codec::Codec;
use rtmedia::jitter::{Event, JitterBuffer, JitterConfig, RtxConfig as JitterRtx};
use rtmedia::packet::rtcp::{self, NackBuilder};
use rtmedia::packet::RtpPacket;
use rtmedia::sim::{
    vp8_depacketize, Link, LinkConfig, Loss, SimulcastConfig, SimulcastLayerConfig,
    SimulcastPublisher, Vp8Decoder,
};
use rtmedia::simulcast::{
    ForwarderConfig, Layer, Output, RtpKind, RtxConfig, SubscriberConfig, Track, TrackConfig,
};
use vp8_references::Vp8References;

const STEP_US: u64 = 1_000;

struct Viewer {
    id: u64,
    ssrc: u32,
    rtx: Option<RtxConfig>,
    down: Link,
    up: Link,
    jb: JitterBuffer,
    decoder: Vp8Decoder,
    /// Whether the decoder holds each frame's references.
    references: Vp8References,
    frames: Vec<u64>,
    errors: Vec<String>,
    rtx_received: u64,
    joined_at: Option<u64>,
}

impl Viewer {
    fn new(id: u64, rtx: bool, loss: f64) -> Self {
        let ssrc = 0x7000 + id as u32;
        let rtx = rtx.then_some(RtxConfig {
            ssrc: 0x7100 + id as u32,
            payload_type: 97,
        });
        let link = |seed, loss| {
            Link::new(
                LinkConfig {
                    base_delay_us: 20_000,
                    loss,
                    ..LinkConfig::default()
                },
                seed,
            )
        };
        let mut config = JitterConfig::video(Codec::Vp8);
        config.nack.enabled = true;
        config.rtx = rtx.map(|r| JitterRtx {
            rtx_ssrc: r.ssrc,
            media_ssrc: ssrc,
            media_payload_type: 96,
        });
        let mut jb = JitterBuffer::new(config);
        jb.set_rtt(40_000);
        Self {
            id,
            ssrc,
            rtx,
            down: link(id * 7 + 1, Loss::Random { p: loss }),
            up: link(id * 7 + 2, Loss::None),
            jb,
            decoder: Vp8Decoder::new().unwrap(),
            references: Vp8References::default(),
            frames: Vec::new(),
            errors: Vec::new(),
            rtx_received: 0,
            joined_at: None,
        }
    }

    fn config(&self) -> SubscriberConfig {
        SubscriberConfig {
            forwarder: ForwarderConfig {
                ssrc: self.ssrc,
                ..ForwarderConfig::default()
            },
            rtx: self.rtx,
        }
    }

    /// Receives, releases, decodes, sends NACKs and PLIs.
    fn step(&mut self, now: u64) {
        while let Some(p) = self.down.poll(now) {
            let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
            self.rtx_received += u64::from(self.rtx.is_some_and(|r| r.ssrc == ssrc));
            self.jb.push(p, now).unwrap();
        }
        let mut released = Vec::new();
        while let Some(event) = self.jb.pop(now) {
            if let Event::Frame {
                packets, keyframe, ..
            } = event
            {
                released.push((packets.to_vec(), keyframe));
            }
        }
        for (packets, keyframe) in released {
            let first = RtpPacket::parse(&packets[0][..]).unwrap();
            let d = Descriptor::parse(first.payload()).unwrap();
            let pid = d.picture_id.unwrap();
            if let Some(e) = self.references.check(&d, keyframe) {
                self.errors.push(e);
            }
            match self.decoder.decode(&vp8_depacketize(&packets).unwrap()) {
                Ok(d) if !d.corrupted => self.frames.push(now),
                Ok(_) => self.errors.push(format!("frame {pid} corrupted")),
                Err(e) => self.errors.push(format!("frame {pid}: {e}")),
            }
        }
        let mut lost = [0u16; 64];
        let n = self.jb.nack_list(now, &mut lost);
        let mut buf = [0u8; 512];
        if n > 0 {
            let len = NackBuilder {
                sender_ssrc: 1,
                media_ssrc: self.ssrc,
                lost: &lost[..n],
            }
            .write_into(&mut buf)
            .unwrap();
            self.up.send(now, Bytes::copy_from_slice(&buf[..len]));
        }
        if self.jb.take_keyframe_request() {
            let len = rtcp::PliBuilder {
                sender_ssrc: 1,
                media_ssrc: self.ssrc,
            }
            .write_into(&mut buf)
            .unwrap();
            self.up.send(now, Bytes::copy_from_slice(&buf[..len]));
        }
    }
}

struct Room {
    publisher: SimulcastPublisher,
    up: Link,
    track: Track,
    viewers: Vec<Viewer>,
    buf: Vec<u8>,
    /// PLIs the track asked for: (time, SSRC).
    plis: Vec<(u64, u32)>,
}

impl Room {
    fn new() -> Self {
        let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
            width,
            height,
            bitrate_kbps,
        };
        let publisher = SimulcastPublisher::new(SimulcastConfig {
            seed: 21,
            layers: vec![
                layer(160, 96, 120),
                layer(320, 192, 350),
                layer(640, 384, 900),
            ],
            keyframe_interval: Some(60),
            keyframes_on_all_layers: true,
            cpu_used: 16,
            ..SimulcastConfig::default()
        })
        .unwrap();
        let track = Track::new(TrackConfig::default(), &publisher.ssrcs()).unwrap();
        Self {
            up: Link::new(
                LinkConfig {
                    base_delay_us: 10_000,
                    ..LinkConfig::default()
                },
                3,
            ),
            publisher,
            track,
            viewers: Vec::new(),
            buf: vec![0; 1500],
            plis: Vec::new(),
        }
    }

    fn drain(&mut self, now: u64) {
        loop {
            match self.track.poll_output(now, &mut self.buf).unwrap() {
                Output::Rtp {
                    subscriber,
                    len,
                    kind,
                } => {
                    let v = self
                        .viewers
                        .iter_mut()
                        .find(|v| v.id == subscriber)
                        .unwrap();
                    let ssrc = u32::from_be_bytes(self.buf[8..12].try_into().unwrap());
                    match kind {
                        RtpKind::Rtx => assert_eq!(Some(ssrc), v.rtx.map(|r| r.ssrc)),
                        _ => assert_eq!(ssrc, v.ssrc),
                    }
                    v.down.send(now, Bytes::copy_from_slice(&self.buf[..len]));
                }
                Output::KeyframeRequest { ssrc } => {
                    self.plis.push((now, ssrc));
                    self.publisher.request_keyframe_for_ssrc(ssrc);
                }
                Output::Timeout(at) => {
                    assert!(at > now);
                    break;
                }
            }
        }
    }

    fn step(&mut self, now: u64) {
        while let Some(frame) = self.publisher.poll(now) {
            for layer in &frame.layers {
                for p in &layer.packets {
                    self.up.send(now, p.clone());
                }
            }
        }
        if now % 500_000 == 0 {
            for l in 0..self.publisher.layer_count() {
                self.up.send(now, self.publisher.sender_report(l, now));
            }
        }
        while let Some(p) = self.up.poll(now) {
            if (200..=206).contains(&p[1]) {
                self.track.push_publisher_rtcp(&p);
            } else {
                self.track.push_rtp(p, now).unwrap();
                self.drain(now);
            }
        }
        for i in 0..self.viewers.len() {
            while let Some(fb) = self.viewers[i].up.poll(now) {
                assert!(self.track.push_subscriber_rtcp(&fb) > 0);
            }
        }
        self.drain(now);
        for v in &mut self.viewers {
            v.step(now);
        }
    }
}

#[test]
fn a_track_serves_subscribers_with_nack_rtx_and_joins_from_history() {
    let mut room = Room::new();
    // Stage viewer with RTX, thumbnail viewer without, both lossy.
    let stage = Viewer::new(1, true, 0.03);
    let thumb = Viewer::new(2, false, 0.03);
    room.track
        .add_subscriber(1, stage.config(), Layer::new(2, 2), 0)
        .unwrap();
    room.track
        .add_subscriber(2, thumb.config(), Layer::new(0, 2), 0)
        .unwrap();
    room.viewers.push(stage);
    room.viewers.push(thumb);
    // Bitrate-driven viewer: starts paused, the track starts it.
    let driven = Viewer::new(3, false, 0.0);
    room.track
        .add_subscriber_with_bitrate(3, driven.config(), 300_000, 0)
        .unwrap();
    room.viewers.push(driven);

    let mut now = 0;
    let mut late_joins = Vec::new();
    while now < 8_000_000 {
        // Late joiners at 2.6 s and 4.8 s (the last keyframes were at 2 s and
        // 4 s: in the history, younger than the 1 s bound), and at 5.5 s
        // (1.5 s old: it asks).
        for (at, id, layer) in [
            (2_600_000, 4, Layer::new(0, 2)),
            (4_800_000, 5, Layer::new(1, 2)),
            (5_500_000, 6, Layer::new(0, 2)),
        ] {
            if now == at {
                let mut v = Viewer::new(id, false, 0.0);
                v.joined_at = Some(now);
                let plis_before = room.plis.len();
                room.track
                    .add_subscriber(id, v.config(), layer, now)
                    .unwrap();
                room.viewers.push(v);
                room.drain(now);
                late_joins.push((id, plis_before));
            }
        }
        room.step(now);
        now += STEP_US;
    }
    let stats = *room.track.stats();
    eprintln!("track stats: {stats:?}");
    for v in &room.viewers {
        let f = room.track.forwarder(v.id).unwrap();
        eprintln!(
            "viewer {}: {} frames, first at {:?}, layer {:?}, {} RTX received, fwd {:?}",
            v.id,
            v.frames.len(),
            v.frames.first(),
            f.current_layer(),
            v.rtx_received,
            f.stats()
        );
        assert!(v.errors.is_empty(), "viewer {}: {:?}", v.id, v.errors);
        assert!(v.frames.len() >= 50, "viewer {} got frames", v.id);
    }
    assert!(stats.retransmitted > 0 && stats.rtx_sent > 0, "{stats:?}");
    assert!(room.viewers[0].rtx_received > 0);
    assert_eq!(
        stats.starts_from_history, 2,
        "the two recent-keyframe joiners"
    );
    for (id, plis_before) in late_joins {
        let from_history = id != 6;
        let v = room.viewers.iter().find(|v| v.id == id).unwrap();
        let joined = v.joined_at.unwrap();
        let first = v.frames[0];
        eprintln!(
            "late joiner {id}: first frame after {} ms",
            (first - joined) / 1000
        );
        let caused = room
            .plis
            .iter()
            .skip(plis_before)
            .filter(|(t, _)| *t < joined + 100_000)
            .count();
        if from_history {
            // The link's 20 ms: everything since the keyframe went at once.
            assert!(
                first - joined <= 25_000,
                "late joiner {id}: first frame {} ms after the join",
                (first - joined) / 1000
            );
            assert_eq!(caused, 0, "no PLI for a join from history");
        } else {
            assert_eq!(caused, 1, "an old keyframe: one PLI");
            assert!(first - joined < 150_000);
        }
    }
    let driven = room.track.forwarder(3).unwrap();
    assert!(
        driven.current_layer().is_some(),
        "the bitrate-driven viewer runs"
    );
}
