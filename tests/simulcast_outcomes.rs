//! Outcome tests of simulcast forwarding with real VP8 (libvpx L1T3
//! simulcast from `sim::SimulcastPublisher`): one publisher, an SFU
//! (`Source` + one `Forwarder` and `Allocator` per subscriber) and three
//! subscribers on different, changing bandwidth traces with loss, each with
//! a video jitter buffer (NACK answered from the SFU's shared history, PLIs)
//! and libvpx decoding what it releases.
//!
//! Goals (issue #5): every forwarded stream decodes without error; no switch
//! freezes the picture for more than 200 ms; at most one keyframe request
//! per switch; sequence numbers gapless and timestamps strictly increasing
//! at the SFU's output; no oscillation under a steady estimate. Run twice:
//! on the link's capacity × 0.7, and on rtmedia's own estimate (transport-cc
//! feedback, a pacer, probe-confirmed upgrades), where the 3 → 0.7 Mbit/s
//! collapse's freezes are printed (issue 17 wants ≤ 200 ms), not asserted:
//! none around its downgrade (the top layer keeps flowing at temporal layer
//! 0 until layer 1's keyframe), 262 ms anywhere (at the collapse itself: a
//! retransmission behind the queue the old rate built before the estimate
//! fell); the climbing subscriber's longest is 217 ms. On capacity × 0.7
//! (no pacer, a fixed 490 kbit/s on 700) the dropping subscriber stays on
//! the top layer's base and freezes 2.5 s at 8 s: an unpaced keyframe
//! reaches it reordered by 110 ms (the SFU forwards in the order the
//! publisher's link delivered), past its 107 ms reorder wait, and the
//! retransmissions of packets that were only reordered overflow the link's
//! queue. The climbing one freezes 373 ms at its 3 M → 250 k collapse.
//! Pauses are the allocator's: a freeze that overlaps one is not a switch's.

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

#[path = "support/cc_leg.rs"]
mod cc_leg;
#[path = "support/vp8_references.rs"]
mod vp8_references;
use cc_leg::{Cc, PADDING_SSRC, TRANSPORT_SEQ_EXT};
use vp8_references::Vp8References;

const SECONDS: u64 = 16;
const STEP_US: u64 = 1_000;
const ESTIMATE_EVERY_US: u64 = 100_000;
const FREEZE_LIMIT_US: u64 = 200_000;

/// Added to every seed: 10 × `RTM_OUTCOME_SEEDS` (default 0, the run the
/// figures above describe). Other values replay the room with other loss,
/// jitter and encoder randomness (a check of how far the figures hold).
fn seed_offset() -> u64 {
    std::env::var("RTM_OUTCOME_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |k| k * 10)
}

/// Bandwidth over time: (from, bits/s) steps.
type Trace = &'static [(u64, u64)];

fn rate_at(trace: Trace, now: u64) -> u64 {
    trace
        .iter()
        .rev()
        .find(|(from, _)| *from <= now)
        .map_or(trace[0].1, |s| s.1)
}

struct Subscriber {
    name: &'static str,
    trace: Trace,
    down: Link,
    up: Link,
    fwd: Forwarder,
    alloc: Allocator,
    jb: JitterBuffer,
    decoder: Vp8Decoder,
    /// SFU output: (time, seq, timestamp), first sends and retransmissions.
    sent: Vec<(u64, u16, u32)>,
    resent: Vec<(u64, u16, u32)>,
    rendered: Vec<u64>,
    decode_errors: Vec<String>,
    /// Whether the decoder holds each rendered frame's references.
    references: Vp8References,
    /// Times the forwarded spatial layer changed, and the layer.
    switches: Vec<(u64, Option<Layer>)>,
    /// Times the allocator changed the target.
    target_changes: Vec<(u64, Option<Layer>)>,
    plis: u64,
    nacks: u64,
    /// On rtmedia's estimate and pacer, not the link's capacity × 0.7.
    cc: Option<Cc>,
}

impl Subscriber {
    fn new(name: &'static str, trace: Trace, loss: Loss, jitter_us: u64, seed: u64) -> Self {
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
    fn on_the_estimate(mut self) -> Self {
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
    fn send_down(&mut self, now: u64, packet: Bytes, class: PacketClass) {
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
    fn render(&mut self, packets: &[Bytes], keyframe: bool, now: u64) {
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

struct Room {
    now: u64,
    publisher: SimulcastPublisher,
    up: Link,
    source: Source,
    subs: Vec<Subscriber>,
    /// PLIs on their way to the publisher: (arrival, SSRC).
    plis_to_publisher: Vec<(u64, u32)>,
    buf: Vec<u8>,
}

impl Room {
    fn new(subs: Vec<Subscriber>) -> Self {
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

    fn run(&mut self) {
        while self.now < SECONDS * 1_000_000 {
            self.step();
            self.now += STEP_US;
        }
    }

    fn step(&mut self) {
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
                let dbg = sub.cc.is_some()
                    && sub.name.starts_with("climb")
                    && (10_000_000..11_700_000).contains(&now);
                if dbg {
                    let r = RtpPacket::parse(&packet[..]).unwrap();
                    eprintln!(
                        "A {} seq {} ts {} ssrc {:x} q {}",
                        now / 1000,
                        r.sequence_number(),
                        r.timestamp(),
                        r.ssrc(),
                        sub.down.queue_delay_us(now) / 1000
                    );
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
            let dbg = sub.cc.is_some()
                && sub.name.starts_with("climb")
                && (10_000_000..11_700_000).contains(&now);
            for (packets, keyframe) in frames {
                if dbg {
                    eprintln!(
                        "R {} key {} n {} first {}",
                        now / 1000,
                        keyframe,
                        packets.len(),
                        RtpPacket::parse(&packets[0][..]).unwrap().sequence_number()
                    );
                }
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
                if dbg {
                    eprintln!(
                        "N {} {:?} wait {}",
                        now / 1000,
                        &lost[..n],
                        sub.jb.reorder_wait_us() / 1000
                    );
                }
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
                if dbg {
                    eprintln!("P {}", now / 1000);
                }
                sub.up.send(now, Bytes::copy_from_slice(&buf));
            }
        }
    }
}

/// Freezes (webrtc-stats `freezeCount` definition: an inter-frame delay
/// longer than max(3 × mean frame duration, mean + 150 ms), the mean over the
/// previous 30 frames) that overlap the 300 ms after a spatial switch that
/// `select`s (when the new layer's keyframe reaches the subscriber), unless
/// they overlap a pause: the longest such freeze, and the longest freeze
/// anywhere.
fn freezes_around_switches(
    times: &[u64],
    switches: &[(u64, Option<Layer>)],
    select: impl Fn(u8, u8) -> bool,
) -> (u64, u64) {
    let deltas: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let freezes: Vec<(u64, u64, u64)> = deltas
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            let recent = &deltas[i.saturating_sub(30)..i];
            let mean = if recent.is_empty() {
                d
            } else {
                recent.iter().sum::<u64>() / recent.len() as u64
            };
            (d > (3 * mean).max(mean + 150_000)).then_some((times[i], times[i + 1], d))
        })
        .collect();
    // The allocator's pauses stop frames by design, whenever they come.
    let paused = |f: &(u64, u64, u64)| {
        switches.iter().enumerate().any(|(i, &(from, layer))| {
            let until = switches.get(i + 1).map_or(u64::MAX, |s| s.0);
            layer.is_none() && f.0 < until && f.1 > from
        })
    };
    let around = switches
        .windows(2)
        .filter_map(|w| Some((w[1].0, w[0].1?.spatial, w[1].1?.spatial)))
        .filter(|&(_, from, to)| select(from, to))
        .flat_map(|(at, _, _)| {
            freezes
                .iter()
                .filter(move |f| f.1 >= at && f.0 <= at + 300_000 && !paused(f))
                .map(|f| f.2)
        })
        .max()
        .unwrap_or(0);
    (around, freezes.iter().map(|f| f.2).max().unwrap_or(0))
}

/// Times at which the SFU sent the first packet of each frame.
fn frame_starts(sent: &[(u64, u16, u32)]) -> Vec<u64> {
    let mut last_ts = None;
    let mut out = Vec::new();
    for &(at, _, ts) in sent {
        if last_ts != Some(ts) {
            out.push(at);
            last_ts = Some(ts);
        }
    }
    out
}

fn three_subscribers() -> Vec<Subscriber> {
    vec![
        Subscriber::new("steady 4 Mbit/s", &[(0, 4_000_000)], Loss::None, 5_000, 1),
        Subscriber::new(
            "drop 3M->700k->3M, 2 % loss",
            &[
                (0, 3_000_000),
                (5_000_000, 700_000),
                (10_000_000, 3_000_000),
            ],
            Loss::Random { p: 0.02 },
            10_000,
            2,
        ),
        Subscriber::new(
            "climb 300k->1M->3M->250k, 3 % bursty loss",
            &[
                (0, 300_000),
                (4_000_000, 1_000_000),
                (8_000_000, 3_000_000),
                (12_000_000, 250_000),
            ],
            Loss::bursty(0.03, 2.0),
            20_000,
            4,
        ),
    ]
}

#[test]
fn three_subscribers_on_changing_bandwidth_with_loss() {
    let mut room = Room::new(three_subscribers());
    room.run();
    check(&room);
}

/// The same room with each subscriber on rtmedia's own estimate (its
/// transport-cc feedback), paced, upgrades confirmed by probes.
#[test]
fn three_subscribers_on_the_estimate() {
    let subs = three_subscribers()
        .into_iter()
        .map(Subscriber::on_the_estimate)
        .collect();
    let mut room = Room::new(subs);
    room.run();
    for sub in &room.subs {
        let cc = sub.cc.as_ref().unwrap();
        println!(
            "{:40} estimate at the end {} kbit/s, {:?}",
            sub.name,
            cc.bwe.target_bps() / 1000,
            cc.bwe.stats()
        );
    }
    check(&room);
}

fn check(room: &Room) {
    let source_plis: u64 = room.source.stats().keyframe_requests_sent.iter().sum();
    let mut requests_allowed = 0;
    for sub in &room.subs {
        let s = sub.fwd.stats();
        // The forwarder's part: frames keep leaving the SFU across every
        // switch (the old layer flows until the new layer's keyframe): no
        // freeze there at all.
        let (sfu_switch_gap, _) =
            freezes_around_switches(&frame_starts(&sub.sent), &sub.switches, |_, _| true);
        // What the subscriber sees at upgrades (its link has room; after a
        // downgrade forced by a bandwidth collapse the stills come from the
        // congested link, not the switch: reported, not asserted).
        let (up_freeze, longest) =
            freezes_around_switches(&sub.rendered, &sub.switches, |from, to| to > from);
        let (down_freeze, _) =
            freezes_around_switches(&sub.rendered, &sub.switches, |from, to| to < from);
        let spatial_targets = sub
            .target_changes
            .windows(2)
            .filter(|w| w[0].1.map(|l| l.spatial) != w[1].1.map(|l| l.spatial))
            .count()
            + 1;
        println!(
            "{:40} frames rendered {:4} decode errors {} | spatial switches {} (targets {spatial_targets}), temporal {} \
             | keyframe requests {} | longest freeze (W3C) at the SFU around a switch {} ms; rendered around an upgrade {} ms, \
             around a downgrade {} ms, anywhere {} ms | link sent {} lost {} queue drops {} \
             | NACKs {} retransmitted {} (before keyframe {}, not found {}) | PLIs {} | cut frames {}",
            sub.name,
            sub.rendered.len(),
            sub.decode_errors.len(),
            s.spatial_switches,
            s.temporal_switches,
            s.keyframe_requests,
            sfu_switch_gap / 1000,
            up_freeze / 1000,
            down_freeze / 1000,
            longest / 1000,
            sub.down.stats().sent,
            sub.down.stats().lost,
            sub.down.stats().queue_drops,
            sub.nacks,
            s.retransmitted,
            s.nacks_before_keyframe,
            s.nacks_not_found,
            sub.plis,
            s.cut_frames,
        );
        println!("    dropped by reason {:?}", s.dropped);
        let long: Vec<_> = sub
            .rendered
            .windows(2)
            .filter(|w| w[1] - w[0] > 150_000)
            .map(|w| (w[0] / 1000, (w[1] - w[0]) / 1000))
            .collect();
        println!("    render gaps > 150 ms (at ms, ms): {long:?}");
        println!(
            "    switches: {:?}",
            sub.switches
                .iter()
                .map(|(t, l)| (t / 1000, l.map(|l| l.spatial)))
                .collect::<Vec<_>>()
        );
        println!(
            "    targets: {:?}",
            sub.target_changes
                .iter()
                .map(|(t, l)| (t / 100_000, l.map(|l| (l.spatial, l.temporal))))
                .collect::<Vec<_>>()
        );
        assert!(
            sub.decode_errors.is_empty(),
            "{}: {:?}",
            sub.name,
            sub.decode_errors
        );
        assert!(sub.rendered.len() > 100, "{}: video flows", sub.name);
        assert_eq!(
            sfu_switch_gap, 0,
            "{}: a switch stopped frames at the SFU",
            sub.name
        );
        assert!(
            up_freeze <= FREEZE_LIMIT_US,
            "{}: an upgrade froze the picture {up_freeze} us",
            sub.name
        );
        assert!(
            s.keyframe_requests as usize <= spatial_targets + 1,
            "{}: at most one keyframe request per switch",
            sub.name
        );
        requests_allowed += s.keyframe_requests + sub.plis;
        // Gapless at the SFU output, in sequence order (the publisher's link
        // reorders): every number given out is sent, except where a switch
        // cut the old layer's last frame (its missing packets stay missing).
        let mut by_seq: Vec<(i64, u32, u64)> = Vec::new();
        let mut unwrap = rtmedia::packet::SeqUnwrapper::new();
        let first_sent: std::collections::HashSet<u16> = sub.sent.iter().map(|s| s.1).collect();
        let only_resent = sub
            .resent
            .iter()
            .filter(|r| !first_sent.contains(&r.1))
            .count();
        let mut all = sub.sent.clone();
        all.extend(&sub.resent);
        all.sort_by_key(|s| s.0);
        for &(at, seq, ts) in &all {
            by_seq.push((unwrap.unwrap(u64::from(seq)), ts, at));
        }
        by_seq.sort();
        by_seq.dedup_by_key(|s| s.0);
        println!("    numbers sent only on a NACK: {only_resent}");
        let mut gaps = 0;
        // Timestamp of the frame just after the last gap: a cut frame whose
        // packets went out of order (the publisher's link reorders) leaves
        // its unsent numbers in more than one run, with only its own
        // packets between them.
        let mut after_gap: Option<u32> = None;
        for w in by_seq.windows(2) {
            let d = w[1].0 - w[0].0;
            if d > 1 {
                // Only where a switch cut the old layer's last frame: a
                // gap with only the cut frame's packets since the last one
                // is the same cut (its missing packets may also be its
                // last: then the new layer's keyframe follows).
                let same_cut = after_gap == Some(w[0].1);
                gaps += u64::from(!same_cut);
                after_gap = Some(w[1].1);
                let at_switch = sub.switches.iter().any(|s| s.0.abs_diff(w[1].2) <= 50_000);
                assert!(
                    at_switch,
                    "{}: seq {} then {} at {} us",
                    sub.name, w[0].0, w[1].0, w[1].2
                );
                println!(
                    "    gap of {} after {} at {} us (a switch cut a frame)",
                    d - 1,
                    w[0].0,
                    w[1].2
                );
            }
            let dt = w[1].1.wrapping_sub(w[0].1) as i32;
            assert!(
                dt >= 0,
                "{}: timestamp went back {} -> {}",
                sub.name,
                w[0].1,
                w[1].1
            );
        }
        assert!(
            gaps <= s.cut_frames,
            "{}: gaps {gaps} > cut frames {}",
            sub.name,
            s.cut_frames
        );
    }
    assert!(
        source_plis <= requests_allowed,
        "PLIs to the publisher {source_plis} <= requests {requests_allowed} (merged, no retry storm)"
    );
    // No oscillation under a steady estimate: the steady subscriber settles
    // once; the others change only when their trace does.
    let steady = &room.subs[0];
    assert!(
        steady
            .target_changes
            .iter()
            .filter(|c| c.0 > 2_000_000)
            .count()
            == 0,
        "steady: {:?}",
        steady.target_changes
    );
    for sub in &room.subs[1..] {
        for w in sub.target_changes.windows(2) {
            let steps = sub.trace.iter().map(|s| s.0);
            let near_step = steps.clone().any(|t| w[1].0 >= t && w[1].0 < t + 6_000_000);
            assert!(
                near_step || w[1].0 < 2_000_000,
                "{}: change at {} without a trace change",
                sub.name,
                w[1].0
            );
        }
    }
}
