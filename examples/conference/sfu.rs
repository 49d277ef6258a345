//! The SFU: one [`Source`] per published video, one [`Forwarder`] per
//! (subscriber, source), one [`Allocator`] per subscriber. It owns the legs
//! it sends on (to subscribers: media; to publishers: PLIs and their mix),
//! so that a forwarded packet is written once into the subscriber's buffer
//! and protected there in place, as the library intends.
//!
//! It also checks its own output before it reaches any network: every
//! forwarder's sequence numbers must be gapless (except the one-number gap
//! the forwarder leaves on purpose when a switch cuts a frame short) and its
//! timestamps must increase from frame to frame.

use bytes::Bytes;
use rtmedia::packet::rtcp::{self, PliBuilder, RtcpPacket};
use rtmedia::simulcast::{
    Allocator, AllocatorConfig, Forwarded, Forwarder, ForwarderConfig, Layer, Source, SourceConfig,
    TrackDemand,
};

use crate::audio::RoomAudio;
use crate::leg::Leg;

/// The speaker on stage may get every layer.
pub const STAGE: Layer = Layer::new(2, 2);
/// Everyone else is a thumbnail: the lowest spatial layer only.
pub const THUMBNAIL: Layer = Layer::new(0, 2);
/// SSRC the SFU sends RTCP with.
const SFU_SSRC: u32 = 0x5f0_0001;

/// The output of a forwarder as it leaves the SFU.
#[derive(Debug, Default, Clone)]
pub struct OutputCheck {
    last_seq: Option<u16>,
    last_ts: Option<u32>,
    pub packets: u64,
    pub frames: u64,
    /// Missing sequence numbers not explained by a cut frame.
    pub unexplained_gaps: u64,
    /// One-number gaps left deliberately by a switch that cut a frame.
    pub cut_gaps: u64,
    /// Packets numbered at or below one already sent.
    pub out_of_order: u64,
    /// New frames whose timestamp is not after the previous frame's.
    pub timestamp_regressions: u64,
}

impl OutputCheck {
    fn on_packet(&mut self, seq: u16, ts: u32, cut: bool) {
        self.packets += 1;
        if let Some(last) = self.last_seq {
            match seq.wrapping_sub(last) as i16 {
                1 => {}
                2 if cut => self.cut_gaps += 1,
                d if d > 1 => self.unexplained_gaps += (d - 1) as u64,
                _ => self.out_of_order += 1,
            }
        }
        if self
            .last_seq
            .is_none_or(|l| (seq.wrapping_sub(l) as i16) > 0)
        {
            self.last_seq = Some(seq);
        }
        if self.last_ts != Some(ts) {
            self.frames += 1;
            if self
                .last_ts
                .is_some_and(|l| (ts.wrapping_sub(l) as i32) <= 0)
            {
                self.timestamp_regressions += 1;
            }
            self.last_ts = Some(ts);
        }
    }

    pub fn passes(&self) -> bool {
        self.unexplained_gaps == 0 && self.out_of_order == 0 && self.timestamp_regressions == 0
    }
}

/// One subscriber's view of one source.
pub struct Subscription {
    pub forwarder: Forwarder,
    pub check: OutputCheck,
    /// When a new spatial target was set on a forwarder that had one.
    pub decided_us: Vec<u64>,
    /// When the forwarder actually moved to another spatial layer.
    pub switched_us: Vec<u64>,
}

/// A published video and what the SFU did for it.
pub struct Track {
    pub source: Source,
    /// Keyframe requests the forwarders made (one per spatial decision).
    pub switch_requests: u64,
    /// PLIs from subscribers whose jitter buffer lost a frame.
    pub recovery_requests: u64,
    /// PLIs sent to the publisher after merging.
    pub plis_sent: u64,
}

pub struct SubscriberState {
    pub subs: Vec<Subscription>,
    allocator: Allocator,
    pub estimate_bps: u64,
    pub allocated_bps: u64,
    pub retransmitted: u64,
    pub nacked: u64,
}

pub struct Sfu {
    pub tracks: Vec<Track>,
    audio_ssrcs: Vec<u32>,
    pub subscribers: Vec<SubscriberState>,
    pub to_subscribers: Vec<Leg>,
    pub to_publishers: Vec<Leg>,
    buf: Vec<u8>,
    pub source_errors: u64,
}

/// The SSRC subscriber `sub` receives publisher `track`'s video on.
pub fn out_ssrc(sub: usize, track: usize) -> u32 {
    0x7e00_0000 + (sub as u32) * 64 + track as u32
}

impl Sfu {
    /// `video_ssrcs[p]`: publisher `p`'s simulcast SSRCs, lowest first.
    pub fn new(
        video_ssrcs: &[Vec<u32>],
        audio_ssrcs: Vec<u32>,
        to_subscribers: Vec<Leg>,
        to_publishers: Vec<Leg>,
    ) -> Self {
        let tracks = video_ssrcs
            .iter()
            .map(|ssrcs| Track {
                source: Source::new(SourceConfig::default(), ssrcs).expect("1 to 3 distinct SSRCs"),
                switch_requests: 0,
                recovery_requests: 0,
                plis_sent: 0,
            })
            .collect::<Vec<_>>();
        let subscribers = (0..to_subscribers.len())
            .map(|i| SubscriberState {
                subs: (0..tracks.len())
                    .map(|j| Subscription {
                        forwarder: Forwarder::new(ForwarderConfig {
                            ssrc: out_ssrc(i, j),
                            ..ForwarderConfig::default()
                        }),
                        check: OutputCheck::default(),
                        decided_us: Vec::new(),
                        switched_us: Vec::new(),
                    })
                    .collect(),
                allocator: Allocator::new(AllocatorConfig::default(), tracks.len()),
                estimate_bps: 0,
                allocated_bps: 0,
                retransmitted: 0,
                nacked: 0,
            })
            .collect();
        Self {
            tracks,
            audio_ssrcs,
            subscribers,
            to_subscribers,
            to_publishers,
            buf: vec![0; 2048],
            source_errors: 0,
        }
    }

    /// A decrypted RTP packet from publisher `p`: audio to the mixer, video
    /// through the source to every subscriber's forwarder.
    pub fn on_publisher_rtp(&mut self, p: usize, packet: Bytes, now: u64, room: &mut RoomAudio) {
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if ssrc == self.audio_ssrcs[p] {
            room.push(p, packet, now);
            return;
        }
        let Ok(pkt) = self.tracks[p].source.on_rtp(packet, now) else {
            self.source_errors += 1;
            return;
        };
        for (state, leg) in self.subscribers.iter_mut().zip(&mut self.to_subscribers) {
            let sub = &mut state.subs[p];
            let before = *sub.forwarder.stats();
            let Ok(Forwarded::Sent(len)) = sub.forwarder.forward(&pkt, &mut self.buf, now) else {
                continue;
            };
            let after = sub.forwarder.stats();
            if after.spatial_switches > before.spatial_switches {
                sub.switched_us.push(now);
            }
            let b = &self.buf;
            let seq = u16::from_be_bytes([b[2], b[3]]);
            let ts = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            sub.check
                .on_packet(seq, ts, after.cut_frames > before.cut_frames);
            leg.send_rtp_in_place(now, &mut self.buf, len);
        }
    }

    /// A decrypted RTCP packet from publisher `p` (its sender reports).
    pub fn on_publisher_rtcp(&mut self, p: usize, packet: &[u8]) {
        self.tracks[p].source.on_rtcp(packet);
    }

    /// A decrypted RTCP packet from subscriber `i`: NACKs are answered from
    /// the source's history, PLIs become keyframe requests on the layer the
    /// subscriber is getting.
    pub fn on_subscriber_rtcp(&mut self, i: usize, packet: &[u8], now: u64) {
        let state = &mut self.subscribers[i];
        let leg = &mut self.to_subscribers[i];
        for p in rtcp::compound(packet).flatten() {
            let media = match &p {
                RtcpPacket::Nack(n) => n.media_ssrc(),
                RtcpPacket::Pli(pli) => pli.media_ssrc(),
                _ => continue,
            };
            let Some(j) = (0..self.tracks.len()).find(|&j| out_ssrc(i, j) == media) else {
                continue;
            };
            let track = &mut self.tracks[j];
            let fwd = &mut state.subs[j].forwarder;
            match p {
                RtcpPacket::Nack(n) => {
                    for seq in n.lost_sequence_numbers() {
                        state.nacked += 1;
                        if let Ok(len) = fwd.retransmit(&track.source, seq, &mut self.buf) {
                            state.retransmitted += 1;
                            leg.send_rtp_in_place(now, &mut self.buf, len);
                        }
                    }
                }
                RtcpPacket::Pli(_) => {
                    if let Some(layer) = fwd.current_layer().or(fwd.target_layer()) {
                        track.source.request_keyframe(layer.spatial);
                        track.recovery_requests += 1;
                    }
                }
                _ => {}
            }
        }
    }

    /// Shares each subscriber's estimate between the tracks: the stage
    /// speaker's video first and up to the top layer, the others as
    /// thumbnails. A forwarder given a new spatial layer asks for a keyframe.
    pub fn allocate(&mut self, now: u64, estimates: &[u64], stage: Option<usize>) {
        let demands: Vec<TrackDemand> = self
            .tracks
            .iter()
            .enumerate()
            .map(|(j, t)| TrackDemand {
                priority: if stage == Some(j) { 10 } else { 1 },
                max_layer: if stage == Some(j) { STAGE } else { THUMBNAIL },
                bitrates: t.source.bitrates(now),
                muted: false,
                keyframe_bytes: t.source.keyframe_bytes(),
            })
            .collect();
        for (state, &estimate) in self.subscribers.iter_mut().zip(estimates) {
            state.estimate_bps = estimate;
            let allocations = state.allocator.allocate(estimate, &demands, now);
            state.allocated_bps = allocations.iter().map(|a| a.bitrate).sum();
            for ((sub, a), demand) in state.subs.iter_mut().zip(allocations).zip(&demands) {
                let fwd = &mut sub.forwarder;
                let old = fwd.target_layer();
                match a.layer {
                    Some(layer) => fwd.set_target(layer),
                    None => fwd.set_available_bitrate(&demand.bitrates, 0),
                }
                let new = fwd.target_layer();
                if old.is_some()
                    && new.is_some()
                    && old.map(|l| l.spatial) != new.map(|l| l.spatial)
                {
                    sub.decided_us.push(now);
                }
            }
        }
    }

    /// Passes the forwarders' keyframe requests to their sources, and the
    /// sources' merged requests to the publishers as PLIs.
    pub fn poll_keyframes(&mut self, now: u64) {
        for state in &mut self.subscribers {
            for (sub, track) in state.subs.iter_mut().zip(&mut self.tracks) {
                while let Some(spatial) = sub.forwarder.poll_keyframe_request() {
                    track.source.request_keyframe(spatial);
                    track.switch_requests += 1;
                }
            }
        }
        for (track, leg) in self.tracks.iter_mut().zip(&mut self.to_publishers) {
            while let Some(ssrc) = track.source.poll_keyframe_request(now) {
                let pli = PliBuilder {
                    sender_ssrc: SFU_SSRC,
                    media_ssrc: ssrc,
                };
                let mut buf = [0u8; PliBuilder::LEN];
                pli.write_into(&mut buf).expect("12 bytes");
                leg.send_rtcp(now, &buf);
                track.plis_sent += 1;
            }
        }
    }
}
