//! The simulcast outcome tests' room: one libvpx simulcast publisher, an
//! SFU (`Source`, and per subscriber a `Forwarder` and `Allocator`), and
//! subscribers on changing bandwidth traces with a video jitter buffer,
//! NACKs, PLIs and libvpx decoding, each either on the link's capacity ×
//! 0.7 or on rtmedia's estimate and pacer (`Subscriber::on_the_estimate`).
//! What the tests assert is in `tests/simulcast_outcomes.rs`.

use bytes::Bytes;
use rtmedia::cc::{PacketClass, SentPacketId};
use rtmedia::codec::vp8::Descriptor;
use rtmedia::codec::Codec;
use rtmedia::jitter::{Event, JitterBuffer, JitterConfig};
use rtmedia::packet::rtcp::{self, NackBuilder, RtcpPacket, REFERENCE_TICK_US};
use rtmedia::packet::RtpPacket;
use rtmedia::sim::{
    vp8_depacketize, Jitter, Link, LinkConfig, Loss, SimulcastConfig, SimulcastLayerConfig,
    SimulcastPublisher, Vp8Decoder,
};
use rtmedia::simulcast::{
    Allocator, AllocatorConfig, Forwarded, Forwarder, ForwarderConfig, Layer, PauseReason, Source,
    SourceConfig, TrackDemand,
};

#[path = "cc_leg.rs"]
mod cc_leg;
#[path = "vp8_references.rs"]
mod vp8_references;
use cc_leg::{Cc, PADDING_SSRC, TRANSPORT_SEQ_EXT};
use vp8_references::Vp8References;

const SECONDS: u64 = 16;
const STEP_US: u64 = 1_000;
const ESTIMATE_EVERY_US: u64 = 100_000;

/// Added to every seed: 10 × `RTM_OUTCOME_SEEDS` (default 0, the run
/// whose figures `tests/simulcast_outcomes.rs` states). Other values
/// replay the room with other loss, jitter and encoder randomness (a check
/// of how far the figures hold).
fn seed_offset() -> u64 {
    std::env::var("RTM_OUTCOME_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |k| k * 10)
}

/// Bandwidth over time: (from, bits/s) steps.
pub type Trace = &'static [(u64, u64)];

pub fn rate_at(trace: Trace, now: u64) -> u64 {
    trace
        .iter()
        .rev()
        .find(|(from, _)| *from <= now)
        .map_or(trace[0].1, |s| s.1)
}

pub struct Subscriber {
    pub name: &'static str,
    pub trace: Trace,
    pub down: Link,
    pub up: Link,
    pub fwd: Forwarder,
    pub alloc: Allocator,
    pub jb: JitterBuffer,
    pub decoder: Vp8Decoder,
    /// SFU output: (time, seq, timestamp), first sends and retransmissions.
    pub sent: Vec<(u64, u16, u32)>,
    pub resent: Vec<(u64, u16, u32)>,
    pub rendered: Vec<u64>,
    pub decode_errors: Vec<String>,
    /// Whether the decoder holds each rendered frame's references.
    pub references: Vp8References,
    /// Times the forwarded spatial layer changed, and the layer.
    pub switches: Vec<(u64, Option<Layer>)>,
    /// Times the allocator changed the target.
    pub target_changes: Vec<(u64, Option<Layer>)>,
    pub plis: u64,
    pub nacks: u64,
    /// On rtmedia's estimate and pacer, not the link's capacity × 0.7.
    pub cc: Option<Cc>,
}

impl Subscriber {
    pub fn new(name: &'static str, trace: Trace, loss: Loss, jitter_us: u64, seed: u64) -> Self {
        let seed = seed + seed_offset();
        let down = Link::new(
            LinkConfig {
                base_delay_us: 25_000,
                jitter: Jitter::Uniform { max_us: jitter_us },
                loss,
                bandwidth_bps: Some(trace[0].1),
                queue_limit_us: 500_000,
                ..LinkConfig::default()
            },
            seed,
        );
        let up = Link::new(
            LinkConfig {
                base_delay_us: 25_000,
                ..LinkConfig::default()
            },
            seed + 1,
        );
        let mut config = JitterConfig::video(Codec::Vp8);
        config.nack.enabled = true;
        // The buffer's reorder wait is fixed (not learned): set it to the
        // link's jitter so that reordering is not taken for loss.
        config.nack.reorder_wait_us = jitter_us.max(5_000);
        let mut jb = JitterBuffer::new(config);
        jb.set_rtt(50_000);
        Self {
            name,
            trace,
            down,
            up,
            fwd: Forwarder::new(ForwarderConfig {
                ssrc: 0x5000 + seed as u32,
                ..ForwarderConfig::default()
            }),
            alloc: Allocator::new(AllocatorConfig::default(), 1),
            jb,
            decoder: Vp8Decoder::new().unwrap(),
            sent: Vec::new(),
            resent: Vec::new(),
            rendered: Vec::new(),
            decode_errors: Vec::new(),
            references: Vp8References::default(),
            switches: Vec::new(),
            target_changes: Vec::new(),
            plis: 0,
            nacks: 0,
            cc: None,
        }
    }

    /// The same subscriber on rtmedia's estimate (transport-cc feedback,
    /// probe-confirmed upgrades) and a pacer.
    pub fn on_the_estimate(mut self) -> Self {
        self.cc = Some(Cc::new());
        self.alloc = Allocator::new(
            AllocatorConfig {
                probe_confirmed_upgrades: true,
                ..AllocatorConfig::default()
            },
            1,
        );
        self
    }

    /// Sends an SFU packet to this subscriber: through the pacer when it
    /// runs on the estimate.
    pub fn send_down(&mut self, now: u64, packet: Bytes, class: PacketClass) {
        match &mut self.cc {
            Some(cc) => {
                let ssrc = self.fwd.config().ssrc;
                cc.pacer.push(now, ssrc, class, packet, false).unwrap();
            }
            None => self.down.send(now, packet),
        }
    }

    /// Decodes a released frame, checking that the decoder holds its
    /// references (frames the jitter buffer skipped it does not need).
    pub fn render(&mut self, packets: &[Bytes], keyframe: bool, now: u64) {
        let first = RtpPacket::parse(&packets[0][..]).unwrap();
        let d = Descriptor::parse(first.payload()).unwrap();
        let pid = d.picture_id.unwrap();
        if let Some(e) = self.references.check(&d, keyframe) {
            self.decode_errors.push(e);
        }
        match self.decoder.decode(&vp8_depacketize(packets).unwrap()) {
            Ok(d) if !d.corrupted => self.rendered.push(now),
            Ok(_) => self.decode_errors.push(format!("frame {pid}: corrupted")),
            Err(e) => self.decode_errors.push(format!("frame {pid}: {e}")),
        }
    }
}

pub struct Room {
    pub now: u64,
    pub publisher: SimulcastPublisher,
    pub up: Link,
    pub source: Source,
    pub subs: Vec<Subscriber>,
    /// PLIs on their way to the publisher: (arrival, SSRC).
    pub plis_to_publisher: Vec<(u64, u32)>,
    pub buf: Vec<u8>,
}

impl Room {
    pub fn new(subs: Vec<Subscriber>) -> Self {
        let publisher = SimulcastPublisher::new(SimulcastConfig {
            seed: 5 + seed_offset(),
            layers: vec![
                SimulcastLayerConfig {
                    width: 160,
                    height: 96,
                    bitrate_kbps: 120,
                },
                SimulcastLayerConfig {
                    width: 320,
                    height: 192,
                    bitrate_kbps: 350,
                },
                SimulcastLayerConfig {
                    width: 640,
                    height: 384,
                    bitrate_kbps: 900,
                },
            ],
            fps: 30,
            cpu_used: 16,
            ..SimulcastConfig::default()
        })
        .unwrap();
        let source = Source::new(SourceConfig::default(), &publisher.ssrcs()).unwrap();
        let up = Link::new(
            LinkConfig {
                base_delay_us: 15_000,
                jitter: Jitter::Uniform { max_us: 3_000 },
                ..LinkConfig::default()
            },
            77,
        );
        Self {
            now: 0,
            publisher,
            up,
            source,
            subs,
            plis_to_publisher: Vec::new(),
            buf: vec![0; 1600],
        }
    }

    pub fn run(&mut self) {
        while self.now < SECONDS * 1_000_000 {
            self.step();
            self.now += STEP_US;
        }
    }

    pub fn step(&mut self) {
        let now = self.now;
        // Publisher: frames, sender reports every second, PLIs arriving.
        while let Some(frame) = self.publisher.poll(now) {
            for layer in &frame.layers {
                for p in &layer.packets {
                    self.up.send(now, p.clone());
                }
            }
        }
        if now % 1_000_000 == 500_000 {
            for l in 0..self.publisher.layer_count() {
                self.up.send(now, self.publisher.sender_report(l, now));
            }
        }
        let publisher = &mut self.publisher;
        self.plis_to_publisher.retain(|&(at, ssrc)| {
            if at <= now {
                assert!(publisher.request_keyframe_for_ssrc(ssrc));
            }
            at > now
        });
        // SFU: what the publisher sent, fanned out.
        while let Some(packet) = self.up.poll(now) {
            if (200..=206).contains(&packet[1]) {
                self.source.on_rtcp(&packet);
                continue;
            }
            let pkt = self.source.on_rtp(packet, now).unwrap();
            for sub in &mut self.subs {
                let mut sent = sub.fwd.forward(&pkt, &mut self.buf, now).unwrap();
                while let Forwarded::Sent(n) = sent {
                    let out = Bytes::copy_from_slice(&self.buf[..n]);
                    let rtp = RtpPacket::parse(&out[..]).unwrap();
                    sub.sent.push((now, rtp.sequence_number(), rtp.timestamp()));
                    sub.send_down(now, out, PacketClass::Video);
                    sent = match sub.fwd.backfill(&self.source, &mut self.buf, now).unwrap() {
                        Some(n) => Forwarded::Sent(n),
                        None => break,
                    };
                }
                let current = sub.fwd.current_layer();
                if sub.switches.last().map(|s| s.1.map(|l| l.spatial))
                    != Some(current.map(|l| l.spatial))
                {
                    sub.switches.push((now, current));
                }
            }
        }
        // SFU: feedback from subscribers, bandwidth allocation.
        for sub in &mut self.subs {
            while let Some(feedback) = sub.up.poll(now) {
                for packet in rtcp::compound(&feedback) {
                    match packet.unwrap() {
                        RtcpPacket::Nack(nack) => {
                            for seq in nack.lost_sequence_numbers() {
                                if let Ok(n) = sub.fwd.retransmit(&self.source, seq, &mut self.buf)
                                {
                                    let out = Bytes::copy_from_slice(&self.buf[..n]);
                                    let ts = RtpPacket::parse(&out[..]).unwrap().timestamp();
                                    sub.resent.push((now, seq, ts));
                                    sub.send_down(now, out, PacketClass::Retransmission);
                                }
                            }
                        }
                        RtcpPacket::Pli(_) => {
                            if let Some(l) = sub.fwd.current_layer() {
                                self.source.request_keyframe(l.spatial);
                            }
                        }
                        RtcpPacket::TransportCc(fb) => {
                            let cc = sub.cc.as_mut().expect("only estimate runs send it");
                            let base = cc
                                .reference
                                .unwrap(fb.reference_time_raw().into())
                                .saturating_mul(REFERENCE_TICK_US);
                            cc.bwe.on_feedback(now, fb.results_from(base));
                            let result = cc.bwe.last_probe_result();
                            if result != cc.last_probe {
                                cc.last_probe = result;
                                if let Some((_, bps)) = result {
                                    sub.alloc.on_probe_result(cc.budget.video_bps(now, bps));
                                }
                            }
                        }
                        other => panic!("unexpected feedback {other:?}"),
                    }
                }
            }
            if now % ESTIMATE_EVERY_US == 0 {
                let capacity = rate_at(sub.trace, now);
                let mut config = *sub.down.config();
                config.bandwidth_bps = Some(capacity);
                sub.down.set_config(config);
                let demand = TrackDemand {
                    priority: 1,
                    max_layer: Layer::new(2, 2),
                    bitrates: self.source.bitrates(now),
                    muted: false,
                    keyframe_bytes: self.source.keyframe_bytes(),
                };
                // The "estimate": the capacity with a margin for keyframe
                // bursts, or rtmedia's own (less retransmissions) with a pacer.
                let estimate = match &sub.cc {
                    Some(cc) => cc.budget.video_bps(now, cc.bwe.target_bps()),
                    None => capacity * 7 / 10,
                };
                sub.alloc.set_forwarded_layer(0, sub.fwd.current_layer());
                let target = sub.alloc.allocate(estimate, &[demand], now)[0].layer;
                if let (Some(cc), Some(wanted)) = (&mut sub.cc, sub.alloc.wanted_bps()) {
                    if cc
                        .last_upgrade_probe
                        .is_none_or(|t| now.saturating_sub(t) >= 1_500_000)
                    {
                        let target = cc.bwe.target_bps();
                        cc.bwe
                            .request_probe(now, cc.budget.probe_bps(now, wanted, target));
                        cc.last_upgrade_probe = Some(now);
                    }
                }
                if sub.target_changes.last().map(|c| c.1) != Some(target) {
                    sub.target_changes.push((now, target));
                    match target {
                        Some(layer) => {
                            sub.fwd.resume();
                            sub.fwd.set_target(layer);
                        }
                        None => sub.fwd.pause(PauseReason::Bandwidth),
                    }
                }
            }
            if let Some(spatial) = sub.fwd.poll_keyframe_request() {
                self.source.request_keyframe(spatial);
            }
        }
        while let Some(ssrc) = self.source.poll_keyframe_request(now) {
            self.plis_to_publisher.push((now + 15_000, ssrc));
        }
        for sub in &mut self.subs {
            if let Some(cc) = &mut sub.cc {
                cc.pace(now, &mut sub.down);
            }
        }
        // Subscribers: receive, release, decode, feed back.
        for sub in &mut self.subs {
            while let Some(packet) = sub.down.poll(now) {
                if let Some(cc) = &mut sub.cc {
                    let rtp = RtpPacket::parse(&packet[..]).unwrap();
                    if let Some(seq) = rtp.transport_seq(TRANSPORT_SEQ_EXT) {
                        let id = SentPacketId::TransportSeq(seq);
                        cc.recorder.on_packet(id, packet.len(), now);
                    }
                    if rtp.ssrc() == PADDING_SSRC {
                        continue;
                    }
                }
                sub.jb.push(packet, now).unwrap();
            }
            if let Some(cc) = &mut sub.cc {
                let mut buf = [0u8; 1200];
                while let Some(n) = cc.recorder.poll_feedback(now, &mut buf).unwrap() {
                    sub.up.send(now, Bytes::copy_from_slice(&buf[..n]));
                }
            }
            let mut frames = Vec::new();
            while let Some(event) = sub.jb.pop(now) {
                if let Event::Frame {
                    packets, keyframe, ..
                } = event
                {
                    frames.push((packets.to_vec(), keyframe));
                }
            }
            for (packets, keyframe) in frames {
                sub.render(&packets, keyframe, now);
            }
            let mut lost = [0u16; 64];
            let n = sub.jb.nack_list(now, &mut lost);
            let media_ssrc = sub.fwd.config().ssrc;
            if n > 0 {
                let mut buf = [0u8; 512];
                let len = NackBuilder {
                    sender_ssrc: 1,
                    media_ssrc,
                    lost: &lost[..n],
                }
                .write_into(&mut buf)
                .unwrap();
                sub.nacks += 1;
                sub.up.send(now, Bytes::copy_from_slice(&buf[..len]));
            }
            if sub.jb.take_keyframe_request() {
                let mut buf = [0u8; rtcp::PliBuilder::LEN];
                rtcp::PliBuilder {
                    sender_ssrc: 1,
                    media_ssrc,
                }
                .write_into(&mut buf)
                .unwrap();
                sub.plis += 1;
                sub.up.send(now, Bytes::copy_from_slice(&buf));
            }
        }
    }
}
