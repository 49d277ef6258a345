//! A subscriber's client: per received video a jitter buffer (VP8) whose
//! complete frames are decoded by libvpx, NACKs and PLIs sent back to the
//! SFU under SRTCP, and the measurements a user would feel: freezes, which
//! layer was on screen for how long, decode errors, jitter-buffer delay.
//!
//! Freeze (printed in the report): a gap between two rendered frames of one
//! video longer than its nominal frame interval plus 200 ms, where the
//! nominal interval is the median of the previous eight gaps. A median is
//! used because the interval legitimately changes with the temporal layer
//! forwarded (30, 15 or 7.5 fps), and the receiver cannot know which one
//! the SFU picked; the median follows such a change within a few frames
//! while one long gap does not move it.

use std::collections::VecDeque;

use bytes::Bytes;
use rtmedia::cc::recorder::{FeedbackRecorder, RecorderConfig};
use rtmedia::cc::SentPacketId;
use rtmedia::codec::Codec;
use rtmedia::jitter::{Event, JitterBuffer, JitterConfig, RtxConfig};
use rtmedia::packet::rtcp::{NackBuilder, PliBuilder};
use rtmedia::packet::RtpPacket;
use rtmedia::sim::{vp8_depacketize, Vp8Decoder};

use crate::egress::{PADDING_SSRC, TRANSPORT_SEQ_EXT};
use crate::leg::Leg;
use crate::scenario::NetProfile;

/// How much longer than nominal a gap must be to count as a freeze.
pub const FREEZE_MARGIN_US: u64 = 200_000;
/// Gaps the nominal interval is the median of.
const NOMINAL_WINDOW: usize = 8;
/// NACK lists are built this often (as browsers do, every 20 ms or so).
const NACK_INTERVAL_US: u64 = 20_000;
/// Round trip assumed until a retransmission has been timed (libwebrtc's
/// NACK module assumes 100 ms too).
const INITIAL_RTT_US: u64 = 100_000;
const ARRIVAL_RING: usize = 4096;
/// The publishers' VP8 payload type (`SimulcastConfig`'s default), which
/// the SFU forwards unchanged: what an RTX packet restores to.
const VIDEO_PAYLOAD_TYPE: u8 = 96;

#[derive(Debug, Clone, Copy)]
pub struct Freeze {
    /// The last frame before the freeze and the one that ended it.
    pub start_us: u64,
    pub end_us: u64,
    pub nominal_us: u64,
}

impl Freeze {
    pub fn duration_us(&self) -> u64 {
        self.end_us - self.start_us
    }
}

/// One received video (one publisher's track, one SSRC from the SFU).
pub struct VideoTrack {
    pub ssrc: u32,
    /// Its RTX stream's SSRC, when negotiated.
    pub rtx_ssrc: Option<u32>,
    pub jitter: JitterBuffer,
    decoder: Vp8Decoder,
    /// (sequence number, arrival) by sequence number, for frame delays.
    arrivals: Vec<(u16, u64)>,
    /// Per sequence number (mod the ring): when it was first NACKed and
    /// how many times, for round-trip samples (Karn: only a packet asked
    /// for once is a sample).
    nacked: Vec<(u16, u64, u8)>,
    pub frames_decoded: u64,
    pub keyframes_decoded: u64,
    pub decode_errors: u64,
    last_render: Option<u64>,
    gaps: VecDeque<u64>,
    pub freezes: Vec<Freeze>,
    /// Time each spatial layer was on screen (until the next frame).
    pub layer_time_us: [u64; 3],
    spatial: Option<usize>,
    /// Changes of the decoded resolution.
    pub resolution_changes: u64,
    /// First packet's arrival to release, per frame.
    pub jb_delay_us: Vec<u64>,
    /// The frame complete (its last packet, or retransmission, arrived) to
    /// release, per frame: the delay the buffer adds; the difference is
    /// the frame's own transfer (a keyframe spread by the pacer) and
    /// repairs.
    pub jb_added_us: Vec<u64>,
}

pub struct Subscriber {
    pub profile: NetProfile,
    pub tracks: Vec<VideoTrack>,
    /// Subscriber→SFU: NACKs, PLIs and transport-cc feedback.
    pub up: Leg,
    /// Arrivals by transport-wide sequence number, for the SFU's estimator.
    pub recorder: FeedbackRecorder,
    feedback: Vec<u8>,
    /// Bytes received (decrypted), probe padding apart.
    pub media_bytes: u64,
    pub padding_packets: u64,
    /// Packets on the RTX streams (repairs and probe padding).
    pub rtx_packets: u64,
    ssrc: u32,
    widths: Vec<u32>,
    nominal_default_us: u64,
    next_nack_us: u64,
    pub audio_packets: u64,
    pub nacks_sent: u64,
    /// Smoothed round trip from this subscriber's NACKs to their
    /// retransmissions (none yet: [`INITIAL_RTT_US`]), as a browser
    /// measures its path's, and whether the tracks still need it.
    rtt_us: Option<u64>,
    rtt_changed: bool,
    pub plis_sent: u64,
}

impl Subscriber {
    /// `ssrcs[j]`: the SSRC publisher `j`'s video arrives on, `rtx[j]` its
    /// RTX stream's (RFC 4588) when negotiated; `widths`: the layers'
    /// widths, lowest first, to tell which layer a frame is.
    pub fn new(
        profile: NetProfile,
        up: Leg,
        ssrcs: &[u32],
        rtx: Option<&[u32]>,
        widths: Vec<u32>,
        fps: u32,
    ) -> Self {
        let rtt = INITIAL_RTT_US;
        let tracks = ssrcs
            .iter()
            .enumerate()
            .map(|(j, &ssrc)| {
                let rtx_ssrc = rtx.map(|r| r[j]);
                let mut config = JitterConfig::video(Codec::Vp8);
                config.rtx = rtx_ssrc.map(|rtx_ssrc| RtxConfig {
                    rtx_ssrc,
                    media_ssrc: ssrc,
                    media_payload_type: VIDEO_PAYLOAD_TYPE,
                });
                let mut jitter = JitterBuffer::new(config);
                jitter.set_rtt(rtt);
                // As a browser does: once losses need NACKs, a round trip
                // of delay for their retransmissions (mobile, seeds 1-40:
                // freezes > 200 ms 204 -> 140 for ~45 ms more delay).
                jitter.set_retransmission_reserve(true);
                VideoTrack {
                    ssrc,
                    rtx_ssrc,
                    jitter,
                    decoder: Vp8Decoder::new().expect("libvpx decoder"),
                    arrivals: vec![(0, 0); ARRIVAL_RING],
                    nacked: vec![(0, 0, 0); ARRIVAL_RING],
                    frames_decoded: 0,
                    keyframes_decoded: 0,
                    decode_errors: 0,
                    last_render: None,
                    gaps: VecDeque::with_capacity(NOMINAL_WINDOW),
                    freezes: Vec::new(),
                    layer_time_us: [0; 3],
                    spatial: None,
                    resolution_changes: 0,
                    jb_delay_us: Vec::new(),
                    jb_added_us: Vec::new(),
                }
            })
            .collect();
        let ssrc = 0x5b00_0000 ^ ssrcs.first().copied().unwrap_or(0);
        let recorder = FeedbackRecorder::new(RecorderConfig {
            sender_ssrc: ssrc,
            ..RecorderConfig::default()
        })
        .expect("default recorder settings");
        Self {
            ssrc,
            recorder,
            feedback: vec![0; 1500],
            media_bytes: 0,
            padding_packets: 0,
            rtx_packets: 0,
            profile,
            tracks,
            up,
            widths,
            nominal_default_us: 1_000_000 / u64::from(fps.max(1)),
            next_nack_us: 0,
            audio_packets: 0,
            nacks_sent: 0,
            rtt_us: None,
            rtt_changed: false,
            plis_sent: 0,
        }
    }

    /// A decrypted RTP packet from the SFU: video into its jitter buffer,
    /// the room's audio counted.
    pub fn on_rtp(&mut self, packet: Bytes, now: u64) {
        if let Some(seq) = RtpPacket::parse(&packet[..])
            .ok()
            .and_then(|p| p.transport_seq(TRANSPORT_SEQ_EXT))
        {
            let id = SentPacketId::TransportSeq(seq);
            self.recorder.on_packet(id, packet.len(), now);
        }
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if ssrc == PADDING_SSRC {
            self.padding_packets += 1;
            return;
        }
        let len = packet.len() as u64;
        let Some(track) = self
            .tracks
            .iter_mut()
            .find(|t| t.ssrc == ssrc || t.rtx_ssrc == Some(ssrc))
        else {
            self.audio_packets += 1;
            self.media_bytes += len;
            return;
        };
        if ssrc == track.ssrc {
            self.media_bytes += len;
            let seq = u16::from_be_bytes([packet[2], packet[3]]);
            track.arrivals[usize::from(seq) % ARRIVAL_RING] = (seq, now);
        } else if let Some(osn) = RtpPacket::parse(&packet[..]).ok().and_then(|p| {
            p.payload()
                .get(..2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        }) {
            // A repair (or probe padding) on the RTX stream: its arrival
            // and bytes count for the original only if that never came
            // (a probe's copy of a packet that did is padding).
            let slot = &mut track.arrivals[usize::from(osn) % ARRIVAL_RING];
            if slot.0 != osn {
                *slot = (osn, now);
                self.media_bytes += len;
            }
            self.rtx_packets += 1;
            let asked = &mut track.nacked[usize::from(osn) % ARRIVAL_RING];
            if asked.0 == osn && asked.2 == 1 {
                let sample = now.saturating_sub(asked.1);
                self.rtt_us = Some(self.rtt_us.map_or(sample, |r| (r * 7 + sample) / 8));
                asked.2 = 0;
                self.rtt_changed = true;
            }
        }
        let _ = track.jitter.push(packet, now);
    }

    /// The meeting is over at `now` (see [`VideoTrack::finish`]).
    pub fn finish(&mut self, now: u64) {
        for track in &mut self.tracks {
            track.finish(now, self.nominal_default_us);
        }
    }

    /// Releases and decodes what is due, and sends transport-cc feedback,
    /// NACKs and PLIs.
    pub fn tick(&mut self, now: u64) {
        if core::mem::take(&mut self.rtt_changed) {
            let rtt = self.rtt_us.unwrap_or(INITIAL_RTT_US);
            for track in &mut self.tracks {
                track.jitter.set_rtt(rtt);
            }
        }
        while let Ok(Some(n)) = self.recorder.poll_feedback(now, &mut self.feedback) {
            self.up.send_rtcp(now, &self.feedback[..n]);
        }
        for track in &mut self.tracks {
            track.release(now, &self.widths, self.nominal_default_us);
            if track.jitter.take_keyframe_request() {
                let mut buf = [0u8; PliBuilder::LEN];
                PliBuilder {
                    sender_ssrc: self.ssrc,
                    media_ssrc: track.ssrc,
                }
                .write_into(&mut buf)
                .expect("12 bytes");
                self.up.send_rtcp(now, &buf);
                self.plis_sent += 1;
            }
        }
        if now < self.next_nack_us {
            return;
        }
        self.next_nack_us = now + NACK_INTERVAL_US;
        let mut lost = [0u16; 64];
        for track in &mut self.tracks {
            let n = track.jitter.nack_list(now, &mut lost);
            if n == 0 {
                continue;
            }
            for &seq in &lost[..n] {
                let asked = &mut track.nacked[usize::from(seq) % ARRIVAL_RING];
                if asked.0 == seq && asked.2 > 0 {
                    asked.2 = asked.2.saturating_add(1);
                } else {
                    *asked = (seq, now, 1);
                }
            }
            let nack = NackBuilder {
                sender_ssrc: self.ssrc,
                media_ssrc: track.ssrc,
                lost: &lost[..n],
            };
            let mut buf = vec![0u8; nack.encoded_len()];
            nack.write_into(&mut buf).expect("sized above");
            self.up.send_rtcp(now, &buf);
            self.nacks_sent += n as u64;
        }
    }
}

impl VideoTrack {
    fn release(&mut self, now: u64, widths: &[u32], nominal_default_us: u64) {
        while let Some(event) = self.jitter.pop(now) {
            let Event::Frame {
                packets,
                first_seq,
                keyframe,
                ..
            } = event
            else {
                continue;
            };
            let first = first_seq as u16;
            let (seq, arrived) = self.arrivals[usize::from(first) % ARRIVAL_RING];
            if seq == first {
                self.jb_delay_us.push(now.saturating_sub(arrived));
            }
            let complete = (0..packets.len() as u16)
                .map(|k| {
                    let s = first.wrapping_add(k);
                    let (seq, at) = self.arrivals[usize::from(s) % ARRIVAL_RING];
                    (seq == s).then_some(at)
                })
                .try_fold(0u64, |latest, at| at.map(|at| latest.max(at)));
            if let Some(complete) = complete {
                self.jb_added_us.push(now.saturating_sub(complete));
            }
            let decoded = vp8_depacketize(packets)
                .ok()
                .and_then(|frame| self.decoder.decode(&frame).ok())
                .filter(|d| !d.corrupted);
            let Some(decoded) = decoded else {
                self.decode_errors += 1;
                continue;
            };
            self.frames_decoded += 1;
            self.keyframes_decoded += u64::from(keyframe);
            let spatial = widths.iter().position(|&w| w == decoded.width);
            self.render(now, spatial, nominal_default_us);
        }
    }

    /// A frame is on screen at `now`: freezes and time per layer.
    fn nominal_us(&self, nominal_default_us: u64) -> u64 {
        if self.gaps.len() >= 3 {
            let mut sorted: Vec<u64> = self.gaps.iter().copied().collect();
            sorted.sort_unstable();
            sorted[sorted.len() / 2]
        } else {
            nominal_default_us
        }
    }

    /// The meeting ends at `now`: a picture that has not moved since its
    /// last frame for longer than a freeze is one (else a stream that
    /// stops for good, e.g. paused, would never count).
    fn finish(&mut self, now: u64, nominal_default_us: u64) {
        if let Some(last) = self.last_render {
            let nominal = self.nominal_us(nominal_default_us);
            if now.saturating_sub(last) > nominal + FREEZE_MARGIN_US {
                self.freezes.push(Freeze {
                    start_us: last,
                    end_us: now,
                    nominal_us: nominal,
                });
            }
        }
    }

    fn render(&mut self, now: u64, spatial: Option<usize>, nominal_default_us: u64) {
        if let Some(last) = self.last_render {
            let gap = now - last;
            let nominal = self.nominal_us(nominal_default_us);
            if gap > nominal + FREEZE_MARGIN_US {
                self.freezes.push(Freeze {
                    start_us: last,
                    end_us: now,
                    nominal_us: nominal,
                });
            }
            if self.gaps.len() == NOMINAL_WINDOW {
                self.gaps.pop_front();
            }
            self.gaps.push_back(gap);
            if let Some(s) = self.spatial {
                self.layer_time_us[s] += gap;
            }
        }
        if self.spatial.is_some() && spatial != self.spatial {
            self.resolution_changes += 1;
        }
        if spatial.is_some() {
            self.spatial = spatial;
        }
        self.last_render = Some(now);
    }
}
