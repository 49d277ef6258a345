//! The SFU: one [`simulcast::Track`] per published video (its source, one
//! forwarder per subscriber, NACK answers, merged PLIs, joins from history),
//! one [`Allocator`] per subscriber. It owns the legs it sends on (to
//! subscribers: media; to publishers: PLIs and their mix), so that a
//! forwarded packet is written once into the subscriber's buffer and
//! protected there in place, as the library intends. Everything a track
//! wants done comes out of its `poll_output`.
//!
//! A probe subscriber joins every track late ([`LATE_JOIN_AT_US`]) to
//! measure what a late joiner gets: time to its first frame and the PLIs the
//! join caused (none when the track's history holds the layer's keyframe).
//!
//! It also checks its own output before it reaches any network: every
//! forwarder's sequence numbers must be gapless (numbers may come late, as
//! the publishers' uplinks reorder; the numbers of a frame a switch cuts
//! short are left out on purpose) and its timestamps must increase from
//! frame to frame.

use bytes::Bytes;
use rtmedia::cc::recorder::{FeedbackRecorder, RecorderConfig};
use rtmedia::cc::{PacketClass, SentPacketId};
use rtmedia::packet::rtcp::PliBuilder;
use rtmedia::packet::RtpPacket;
use rtmedia::simulcast::{
    self, Allocator, AllocatorConfig, Forwarder, ForwarderConfig, Layer, Output, RtpKind,
    RtxConfig, SubscriberConfig, TrackConfig, TrackDemand,
};

use crate::audio::RoomAudio;
use crate::egress::{Egress, TRANSPORT_SEQ_EXT};
use crate::leg::Leg;

/// The speaker on stage may get every layer.
pub const STAGE: Layer = Layer::new(2, 2);
/// Everyone else is a thumbnail: the lowest spatial layer only.
pub const THUMBNAIL: Layer = Layer::new(0, 2);
/// SSRC the SFU sends RTCP with.
const SFU_SSRC: u32 = 0x5f0_0001;
/// When the probe subscriber joins every track (as a thumbnail).
pub const LATE_JOIN_AT_US: u64 = 6_000_000;
/// An upgrade's keyframe must cross the link within this beside the other
/// tracks. Below the allocator's default (150 ms): a switch freezes the
/// picture for the keyframe's transfer plus a frame, and at 150 ms three
/// of seeds 1-40 froze 234-244 ms at a switch. (It was 80 ms while the
/// receivers' jitter buffers raised their playout delay at once, by twice
/// a keyframe's delay; they now rise at most 100 ms/s, and at 80 ms the
/// 2 Mbit/s mobile link's stage never left s0 after its dip.)
const MAX_KEYFRAME_TRANSFER_US: u64 = 120_000;
/// A keyframe is about this many seconds of its layer's bitrate (libvpx in
/// this example: 0.26–0.48 s on every layer).
const KEYFRAME_SECONDS: f64 = 0.35;
/// The probe's subscriber id in every track (real subscribers are 0..n).
const PROBE: u64 = u64::MAX;

/// The output of a forwarder as it leaves the SFU.
/// How far behind the highest number a skipped number may still come
/// (the publishers' uplinks reorder by a few ms: a few packets).
const REORDER_WINDOW: i64 = 512;

#[derive(Debug, Default, Clone)]
pub struct OutputCheck {
    /// Highest sequence number sent, extended, and its timestamp.
    highest: Option<(i64, u32)>,
    /// Numbers skipped and not sent yet (ascending, extended): a reordered
    /// publisher uplink delivers them late, and the forwarder keeps the order.
    holes: std::collections::VecDeque<i64>,
    pub packets: u64,
    pub frames: u64,
    /// Missing sequence numbers not explained by a cut frame (never sent
    /// within [`REORDER_WINDOW`]).
    pub unexplained_gaps: u64,
    /// Numbers left out deliberately: of frames a switch cut short.
    pub cut_gaps: u64,
    /// Packets that filled a skipped number (the uplink reordered them).
    pub reordered: u64,
    /// Packets numbered as one already sent, or beyond the window.
    pub out_of_order: u64,
    /// New frames (in sequence order) whose timestamp is not after the
    /// previous frame's.
    pub timestamp_regressions: u64,
}

impl OutputCheck {
    fn on_packet(&mut self, seq: u16, ts: u32, cut: bool) {
        self.packets += 1;
        let Some((high, high_ts)) = self.highest else {
            self.highest = Some((i64::from(seq), ts));
            self.frames += 1;
            return;
        };
        let ext = high + i64::from(seq.wrapping_sub(high as u16) as i16);
        let step = ext - high;
        if step <= 0 {
            match self.holes.iter().position(|&h| h == ext) {
                Some(i) => {
                    self.holes.remove(i);
                    self.reordered += 1;
                }
                None => self.out_of_order += 1,
            }
        } else {
            self.holes.extend(high + 1..ext);
        }
        if cut {
            // The frame the switch cut short: its numbers not sent yet
            // never will be (one, or more when the uplink had reordered it).
            while self.holes.front().is_some_and(|&h| h < ext) {
                self.holes.pop_front();
                self.cut_gaps += 1;
            }
        }
        if step <= 0 {
            return;
        }
        while self
            .holes
            .front()
            .is_some_and(|&h| h < ext - REORDER_WINDOW)
        {
            self.holes.pop_front();
            self.unexplained_gaps += 1;
        }
        if ts != high_ts {
            self.frames += 1;
            if (ts.wrapping_sub(high_ts) as i32) <= 0 {
                self.timestamp_regressions += 1;
            }
        }
        self.highest = Some((ext, ts));
    }

    pub fn passes(&self) -> bool {
        self.unexplained_gaps == 0 && self.out_of_order == 0 && self.timestamp_regressions == 0
    }
}

/// One subscriber's view of one source (its forwarder is in the track:
/// [`Sfu::forwarder`]).
#[derive(Default)]
pub struct Subscription {
    pub check: OutputCheck,
    /// When a new spatial target was set on a forwarder that had one.
    pub decided_us: Vec<u64>,
    /// When the forwarder actually moved to another spatial layer.
    pub switched_us: Vec<u64>,
    /// The forwarder's switch and cut counts at its last packet.
    seen: (u64, u64),
}

/// What a late joiner got from one track.
#[derive(Debug, Clone, Copy, Default)]
pub struct LateJoin {
    /// Whether the track started it from its history.
    pub from_history: bool,
    /// Age of the thumbnail layer's last keyframe at the join.
    pub keyframe_age_us: Option<u64>,
    /// Until the last packet of its first frame left the SFU.
    pub first_frame_us: Option<u64>,
    /// PLIs sent to the publisher for the join (0 from history).
    pub plis: u64,
}

/// A published video and what the SFU did for it.
pub struct Track {
    pub track: simulcast::Track,
    /// Keyframe requests the forwarders made (one per spatial decision).
    pub switch_requests: u64,
    /// PLIs from subscribers whose jitter buffer lost a frame.
    pub recovery_requests: u64,
    /// PLIs sent to the publisher after merging.
    pub plis_sent: u64,
    pub late_join: LateJoin,
    /// Largest keyframe seen per spatial layer, bytes.
    largest_keyframe: [u64; 3],
}

pub struct SubscriberState {
    pub subs: Vec<Subscription>,
    allocator: Allocator,
    pub egress: Egress,
    /// rtmedia's estimate (the Bwe's target) at the last allocation.
    pub estimate_bps: u64,
    /// Its video share (estimate − audio − retransmissions).
    pub video_bps: u64,
    pub allocated_bps: u64,
    /// What the tracks would use at their maximum layers.
    pub demand_bps: u64,
    pub retransmitted: u64,
    /// Allocations made at once after a drop of a third or more.
    pub fast_downgrades: u64,
}

/// The SFU's receiving side of a publisher's transport.
pub struct Uplink {
    pub recorder: FeedbackRecorder,
    /// Packets without a transport-wide sequence number.
    pub unstamped: u64,
}

pub struct Sfu {
    pub tracks: Vec<Track>,
    audio_ssrcs: Vec<u32>,
    pub subscribers: Vec<SubscriberState>,
    pub to_subscribers: Vec<Leg>,
    pub to_publishers: Vec<Leg>,
    pub uplinks: Vec<Uplink>,
    buf: Vec<u8>,
    feedback: Vec<u8>,
    pub source_errors: u64,
    joined: bool,
    /// The speaker on stage at the last allocation.
    stage: Option<usize>,
}

/// The SSRC subscriber `sub` receives publisher `track`'s video on.
pub fn out_ssrc(sub: usize, track: usize) -> u32 {
    0x7e00_0000 + (sub as u32) * 64 + track as u32
}

/// The SSRC of subscriber `sub`'s RTX stream for publisher `track`'s video
/// (when it negotiated RTX).
pub fn out_rtx_ssrc(sub: usize, track: usize) -> u32 {
    out_ssrc(sub, track) + 32
}

/// The payload type of the subscribers' RTX streams.
pub const RTX_PAYLOAD_TYPE: u8 = 97;

fn subscriber(ssrc: u32, rtx_ssrc: Option<u32>) -> SubscriberConfig {
    SubscriberConfig {
        forwarder: ForwarderConfig {
            ssrc,
            ..ForwarderConfig::default()
        },
        rtx: rtx_ssrc.map(|ssrc| RtxConfig {
            ssrc,
            payload_type: RTX_PAYLOAD_TYPE,
        }),
    }
}

impl Sfu {
    /// `video_ssrcs[p]`: publisher `p`'s simulcast SSRCs, lowest first.
    pub fn new(
        video_ssrcs: &[Vec<u32>],
        audio_ssrcs: Vec<u32>,
        to_subscribers: Vec<Leg>,
        to_publishers: Vec<Leg>,
        rtx: &[bool],
    ) -> Self {
        let n = to_subscribers.len();
        let tracks = video_ssrcs
            .iter()
            .enumerate()
            .map(|(j, ssrcs)| {
                let mut track = simulcast::Track::new(TrackConfig::default(), ssrcs)
                    .expect("1 to 3 distinct SSRCs");
                for (i, &rtx) in rtx.iter().enumerate().take(n) {
                    // Paused (no feed) until the allocator gives it a layer.
                    let config = subscriber(out_ssrc(i, j), rtx.then(|| out_rtx_ssrc(i, j)));
                    track
                        .add_subscriber_with_bitrate(i as u64, config, 0, 0)
                        .unwrap();
                }
                Track {
                    track,
                    switch_requests: 0,
                    recovery_requests: 0,
                    plis_sent: 0,
                    late_join: LateJoin::default(),
                    largest_keyframe: [0; 3],
                }
            })
            .collect::<Vec<_>>();
        let subscribers = (0..n)
            .map(|_| SubscriberState {
                subs: (0..tracks.len()).map(|_| Subscription::default()).collect(),
                allocator: Allocator::new(
                    AllocatorConfig {
                        probe_confirmed_upgrades: true,
                        max_keyframe_transfer_us: MAX_KEYFRAME_TRANSFER_US,
                        ..AllocatorConfig::default()
                    },
                    tracks.len(),
                ),
                egress: Egress::new(0),
                estimate_bps: 0,
                video_bps: 0,
                allocated_bps: 0,
                demand_bps: 0,
                retransmitted: 0,
                fast_downgrades: 0,
            })
            .collect();
        let uplinks = (0..video_ssrcs.len())
            .map(|p| Uplink {
                recorder: FeedbackRecorder::new(RecorderConfig {
                    sender_ssrc: SFU_SSRC,
                    media_ssrc: video_ssrcs[p][0],
                    ..RecorderConfig::default()
                })
                .expect("default recorder settings"),
                unstamped: 0,
            })
            .collect();
        Self {
            tracks,
            audio_ssrcs,
            subscribers,
            to_subscribers,
            to_publishers,
            uplinks,
            buf: vec![0; 2048],
            feedback: vec![0; 1500],
            source_errors: 0,
            joined: false,
            stage: None,
        }
    }

    /// Subscriber `i`'s forwarder of publisher `j`'s video.
    pub fn forwarder(&self, i: usize, j: usize) -> &Forwarder {
        self.tracks[j]
            .track
            .forwarder(i as u64)
            .expect("every subscriber")
    }

    /// Does what track `j` says until it has nothing more now: packets to
    /// subscribers (checked, then protected in place and sent), PLIs to the
    /// publisher.
    fn drain(&mut self, j: usize, now: u64) {
        let t = &mut self.tracks[j];
        loop {
            match t
                .track
                .poll_output(now, &mut self.buf)
                .expect("2048-byte buffer")
            {
                Output::Rtp {
                    subscriber: PROBE, ..
                } => {
                    // The probe receives nothing; its first frame is done at
                    // the first marker.
                    let marker = self.buf[1] & 0x80 != 0;
                    if marker && t.late_join.first_frame_us.is_none() {
                        t.late_join.first_frame_us = Some(now - LATE_JOIN_AT_US);
                    }
                }
                Output::Rtp {
                    subscriber,
                    len,
                    kind,
                } => {
                    let i = subscriber as usize;
                    let packet = Bytes::copy_from_slice(&self.buf[..len]);
                    if kind != RtpKind::Media {
                        self.subscribers[i].retransmitted += 1;
                        let egress = &mut self.subscribers[i].egress;
                        egress.push(now, PacketClass::Retransmission, packet, false);
                    } else {
                        let fwd = t.track.forwarder(subscriber).expect("routed");
                        let stats = fwd.stats();
                        let sub = &mut self.subscribers[i].subs[j];
                        let (switches, cuts) = (stats.spatial_switches, stats.cut_frames);
                        if switches > sub.seen.0 {
                            sub.switched_us.push(now);
                        }
                        let b = &self.buf;
                        let seq = u16::from_be_bytes([b[2], b[3]]);
                        let ts = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                        sub.check.on_packet(seq, ts, cuts > sub.seen.1);
                        sub.seen = (switches, cuts);
                        // Not marked as a keyframe start: the pacer would drop
                        // the frames queued before it, whose sequence numbers
                        // the forwarder has already given out; the receiver
                        // then NACKs the gap and its jitter buffer waits on
                        // it (measured: 6 freezes of 280–760 ms at switches
                        // on DSL and Wi-Fi with the drop, 1 without).
                        let egress = &mut self.subscribers[i].egress;
                        egress.push(now, PacketClass::Video, packet, false);
                    }
                }
                Output::KeyframeRequest { ssrc } => {
                    let pli = PliBuilder {
                        sender_ssrc: SFU_SSRC,
                        media_ssrc: ssrc,
                    };
                    let mut buf = [0u8; PliBuilder::LEN];
                    pli.write_into(&mut buf).expect("12 bytes");
                    self.to_publishers[j].send_rtcp(now, &buf);
                    t.plis_sent += 1;
                    if self.joined && t.late_join.first_frame_us.is_none() {
                        t.late_join.plis += 1;
                    }
                }
                Output::Timeout(_) => break,
            }
        }
    }

    fn drain_all(&mut self, now: u64) {
        for j in 0..self.tracks.len() {
            self.drain(j, now);
        }
    }

    /// A decrypted RTP packet from publisher `p`: audio to the mixer, video
    /// to its track.
    pub fn on_publisher_rtp(&mut self, p: usize, packet: Bytes, now: u64, room: &mut RoomAudio) {
        let tseq = RtpPacket::parse(&packet[..])
            .ok()
            .and_then(|r| r.transport_seq(TRANSPORT_SEQ_EXT));
        match tseq {
            Some(seq) => self.uplinks[p].recorder.on_packet(
                SentPacketId::TransportSeq(seq),
                packet.len(),
                now,
            ),
            None => self.uplinks[p].unstamped += 1,
        }
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if ssrc == self.audio_ssrcs[p] {
            room.push(p, packet, now);
            return;
        }
        if self.tracks[p].track.push_rtp(packet, now).is_err() {
            self.source_errors += 1;
            return;
        }
        self.drain(p, now);
    }

    /// A decrypted RTCP packet from publisher `p` (its sender reports).
    pub fn on_publisher_rtcp(&mut self, p: usize, packet: &[u8]) {
        self.tracks[p].track.push_publisher_rtcp(packet);
    }

    /// A decrypted RTCP packet from subscriber `i`: each track takes the
    /// NACKs and PLIs for its SSRCs.
    pub fn on_subscriber_rtcp(&mut self, i: usize, packet: &[u8], now: u64) {
        let state = &mut self.subscribers[i];
        if let Some(bps) = state.egress.on_rtcp(now, packet) {
            let video = state.egress.budget.video_bps(now, bps);
            state.allocator.on_probe_result(video);
        }
        self.downgrade_on_a_drop(i, now);
        // The path's round trip (queue included) for the tracks' NACK
        // answers: a packet sent again less than this ago is on its way.
        let rtt = self.subscribers[i].egress.bwe.rtt_us().unwrap_or(0);
        for j in 0..self.tracks.len() {
            let _ = self.tracks[j].track.set_subscriber_rtt(i as u64, rtt);
            if self.tracks[j].track.push_subscriber_rtcp(packet) > 0 {
                self.drain(j, now);
            }
        }
    }

    /// A drop of a third or more since the last allocation: re-allocate
    /// now, not at the next period.
    fn downgrade_on_a_drop(&mut self, i: usize, now: u64) {
        let state = &mut self.subscribers[i];
        if state.egress.target_bps() * 3 < state.estimate_bps * 2 {
            state.fast_downgrades += 1;
            let demands = self.demands(now, self.stage);
            self.allocate_one(i, now, &demands);
            self.drain_all(now);
        }
    }

    /// `--oracle`: subscriber `i`'s estimate is at most `cap`.
    pub fn cap_estimate(&mut self, i: usize, now: u64, cap: u64) {
        if self.subscribers[i].egress.set_estimate_cap(cap) {
            self.downgrade_on_a_drop(i, now);
        }
    }

    fn demands(&mut self, now: u64, stage: Option<usize>) -> Vec<TrackDemand> {
        self.tracks
            .iter_mut()
            .enumerate()
            .map(|(j, t)| {
                let bitrates = t.track.source().bitrates(now);
                let last = t.track.source().keyframe_bytes();
                let mut keyframe_bytes = [0; 3];
                for (s, bytes) in keyframe_bytes.iter_mut().enumerate() {
                    // Plan with the largest keyframe the layer has sent (the
                    // size varies: 20–37 KB on the top layer here, and a
                    // switch that meets a big one freezes the picture), and
                    // at least what the layer sends in KEYFRAME_SECONDS: the
                    // encoder's first keyframe, of a still picture, may be
                    // all there is so far (7 KB on the top layer).
                    t.largest_keyframe[s] = t.largest_keyframe[s].max(last[s]);
                    let rate = bitrates
                        .top_temporal(s as u8)
                        .map_or(0, |tl| bitrates.get(Layer::new(s as u8, tl)));
                    let from_rate = (rate as f64 * KEYFRAME_SECONDS / 8.0) as u64;
                    *bytes = t.largest_keyframe[s].max(from_rate);
                }
                TrackDemand {
                    priority: if stage == Some(j) { 10 } else { 1 },
                    max_layer: if stage == Some(j) { STAGE } else { THUMBNAIL },
                    bitrates,
                    muted: false,
                    keyframe_bytes,
                }
            })
            .collect()
    }

    /// Shares subscriber `i`'s video budget (its estimate less audio and
    /// retransmissions) between the tracks, and asks for a probe when the
    /// next upgrade needs more than is confirmed.
    fn allocate_one(&mut self, i: usize, now: u64, demands: &[TrackDemand]) {
        // What the subscriber receives now: a switch still waiting for its
        // keyframe has not happened, and the keyframe limit must know.
        for j in 0..self.tracks.len() {
            let layer = self.forwarder(i, j).current_layer();
            self.subscribers[i].allocator.set_forwarded_layer(j, layer);
        }
        let state = &mut self.subscribers[i];
        state.estimate_bps = state.egress.target_bps();
        state.video_bps = state.egress.video_bps(now);
        state.demand_bps = demands.iter().map(|d| d.bitrates.get(d.max_layer)).sum();
        let allocations = state.allocator.allocate(state.video_bps, demands, now);
        state.allocated_bps = allocations.iter().map(|a| a.bitrate).sum();
        let id = i as u64;
        // A track heading down keeps sending its higher layer until the
        // lower layer's keyframe comes. Upgrades (each starting with a
        // keyframe) wait until no track is on its way down: the new speaker
        // on stage going up while the old one still sent its top layer put
        // both, and a keyframe, on the link at once. The allocator keeps
        // its answer; it is applied at the next allocation.
        let spatial = |l: Option<Layer>| l.map(|l| l.spatial);
        let leaving = allocations.iter().enumerate().any(|(j, a)| {
            let fwd = self.tracks[j].track.forwarder(id);
            let current = fwd.and_then(Forwarder::current_layer);
            current.is_some() && spatial(a.layer) < spatial(current)
        });
        for (j, (sub, a)) in state.subs.iter_mut().zip(allocations).enumerate() {
            let track = &mut self.tracks[j].track;
            let old = track.forwarder(id).and_then(Forwarder::target_layer);
            let current = track.forwarder(id).and_then(Forwarder::current_layer);
            if leaving && spatial(a.layer) > spatial(current.or(old)) && current.is_some() {
                continue;
            }
            let _ = match a.layer {
                Some(layer) => track.set_target(id, layer, now),
                None => track.set_available_bitrate(id, 0, now),
            };
            let new = track.forwarder(id).and_then(Forwarder::target_layer);
            if old.is_some() && new.is_some() && spatial(old) != spatial(new) {
                sub.decided_us.push(now);
            }
        }
        if let Some(wanted) = state.allocator.wanted_bps() {
            state.egress.want_upgrade(now, wanted);
        }
    }

    /// Shares each subscriber's estimate between the tracks: the stage
    /// speaker's video first and up to the top layer, the others as
    /// thumbnails. A forwarder given a new spatial layer asks for a keyframe
    /// (or starts from the track's history).
    pub fn allocate(&mut self, now: u64, stage: Option<usize>) {
        self.stage = stage;
        let demands = self.demands(now, stage);
        for i in 0..self.subscribers.len() {
            self.allocate_one(i, now, &demands);
        }
        if !self.joined && now >= LATE_JOIN_AT_US {
            self.joined = true;
            for t in &mut self.tracks {
                let before = t.track.stats().starts_from_history;
                let last_key = t.track.source().last_keyframe_us(THUMBNAIL.spatial);
                t.late_join.keyframe_age_us = last_key.map(|at| now - at);
                let config = subscriber(0x7f00_0000, None);
                t.track
                    .add_subscriber(PROBE, config, THUMBNAIL, now)
                    .unwrap();
                t.late_join.from_history = t.track.stats().starts_from_history > before;
            }
        }
        self.drain_all(now);
    }

    /// Sends what every subscriber's pacer lets go now.
    pub fn pace(&mut self, now: u64) {
        let tracks = &mut self.tracks;
        for (i, (state, leg)) in self
            .subscribers
            .iter_mut()
            .zip(&mut self.to_subscribers)
            .enumerate()
        {
            state.egress.poll(now, leg, &mut |turn, bytes, buf| {
                // Subscriber i's recent packets of the tracks in turn.
                let n = tracks.len();
                let t = tracks.get_mut(turn % n.max(1))?;
                t.track.write_probe_padding(i as u64, bytes, buf).ok()?
            });
        }
    }

    /// transport-cc feedback due to publishers.
    pub fn send_publisher_feedback(&mut self, now: u64) {
        for (up, leg) in self.uplinks.iter_mut().zip(&mut self.to_publishers) {
            while let Ok(Some(n)) = up.recorder.poll_feedback(now, &mut self.feedback) {
                leg.send_rtcp(now, &self.feedback[..n]);
            }
        }
    }

    /// Keyframe requests due again (merged and backed off by the tracks);
    /// the request counters the report reads.
    pub fn poll_keyframes(&mut self, now: u64) {
        self.drain_all(now);
        for t in &mut self.tracks {
            t.recovery_requests = t.track.stats().subscriber_plis;
            t.switch_requests = (0..self.subscribers.len() as u64)
                .chain(self.joined.then_some(PROBE))
                .filter_map(|i| t.track.forwarder(i))
                .map(|f| f.stats().keyframe_requests)
                .sum();
        }
    }
}
