//! One published video track as the SFU receives it: its simulcast SSRCs,
//! each packet parsed once for every subscriber, layer measurements, the
//! shared retransmission history, sender-report clocks and keyframe
//! requests.

use bytes::Bytes;

use super::history::History;
use super::keyframe::KeyframeRequest;
use super::layers::{LayerBitrates, SpatialMeter};
use super::{DEFAULT_MAX_PACKET_LEN, MAX_HISTORY_PACKETS, MAX_SPATIAL};
use crate::codec::{self, vp8::Descriptor, Codec};
use crate::packet::rtcp::{self, RtcpPacket};
use crate::packet::seq::Unwrapper;
use crate::packet::{ParseError, RtpLayout, SeqUnwrapper};

/// Options of a [`Source`]. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceConfig {
    /// Codec of the payloads (VP8 gives temporal layers and PictureIDs).
    /// Default VP8.
    pub codec: Codec,
    /// RTP clock rate. Default 90 000.
    pub clock_rate: u32,
    /// Most packets kept per spatial layer to answer NACKs and start joins
    /// (rounded up to a power of two; 0 counts as 1, more than
    /// [`MAX_HISTORY_PACKETS`] as that). The history is sized by time and
    /// bitrate under this cap: it starts at 64 packets per layer and doubles
    /// whenever it would drop a packet younger than two seconds (a thumbnail
    /// layer keeps 64, a 720p layer at 2.5 Mbit/s 1024). Default 1024 (about
    /// 1 s of 720p at 8 Mbit/s).
    pub history_packets: usize,
    /// A spatial layer with no media for this long is not alive (padding
    /// does not count). Default 1 s.
    pub inactive_after_us: u64,
    /// Least time between two keyframe requests for one SSRC (unanswered
    /// ones back off further: see [`Source::poll_keyframe_request`]).
    /// Default 300 ms.
    pub keyframe_retry_min_us: u64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            codec: Codec::Vp8,
            clock_rate: 90_000,
            history_packets: 1024,
            inactive_after_us: 1_000_000,
            keyframe_retry_min_us: 300_000,
        }
    }
}

impl SourceConfig {
    /// Whether every setting is in its documented range; `Err` names the
    /// first that is not. [`Source::new`] brings settings into range
    /// instead of failing; a host that wants to refuse bad settings calls
    /// this.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.clock_rate == 0 {
            return Err("clock_rate must be at least 1");
        }
        if !(1..=MAX_HISTORY_PACKETS).contains(&self.history_packets) {
            return Err("history_packets must be 1..=MAX_HISTORY_PACKETS");
        }
        Ok(())
    }
}

/// Why a packet or a configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceError {
    /// No layer of this source has the packet's SSRC.
    UnknownSsrc(u32),
    /// The RTP header (or the VP8 descriptor) is malformed.
    Malformed(ParseError),
    /// No SSRC, more than [`MAX_SPATIAL`], or one twice.
    BadLayers,
    /// Longer than [`Source::set_max_packet_len`] allows.
    TooLarge(usize),
}

impl core::fmt::Display for SourceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownSsrc(ssrc) => write!(f, "SSRC {ssrc:#010x} is not a layer of this source"),
            Self::Malformed(e) => write!(f, "malformed packet: {e}"),
            Self::BadLayers => write!(f, "a source has 1 to {MAX_SPATIAL} distinct SSRCs"),
            Self::TooLarge(len) => write!(f, "a {len}-byte packet is above the source's limit"),
        }
    }
}

impl std::error::Error for SourceError {}

/// One received packet, parsed once and shared by every subscriber's
/// forwarder. Holds the packet (`Bytes`, shared) and where things are in it.
#[derive(Debug, Clone)]
pub struct SourcePacket {
    pub bytes: Bytes,
    pub layout: RtpLayout,
    /// Spatial layer (index of the SSRC in the source's list).
    pub spatial: u8,
    /// Sequence number extended to 64 bits, per layer.
    pub ext_seq: u64,
    pub timestamp: u32,
    pub marker: bool,
    /// VP8 temporal layer (TID), when the descriptor carries one.
    pub temporal: Option<u8>,
    /// VP8 Y bit: the frame depends only on TL0 frames.
    pub layer_sync: bool,
    /// First packet of a keyframe.
    pub keyframe: bool,
    /// First packet of a frame (VP8: S=1 and PID=0), or `None` when the
    /// codec does not say.
    pub frame_start: Option<bool>,
    /// The VP8 descriptor, when the codec is VP8.
    pub vp8: Option<Descriptor>,
    /// PictureID extended to 64 bits (7- or 15-bit, per layer).
    pub ext_picture_id: Option<u64>,
    /// Capture time of this frame in microseconds of the sender's NTP clock,
    /// from the layer's last sender report; `None` before the first one.
    pub capture_us: Option<i64>,
    /// No payload (a padding-only bandwidth probe).
    pub padding_only: bool,
}

impl SourcePacket {
    /// Bytes [`Forwarder::forward`](super::Forwarder::forward) needs in its
    /// output buffer for this packet: its length, plus one when a 7-bit
    /// PictureID is widened to 15 bits.
    pub fn forwarded_len(&self) -> usize {
        super::rewrite::rewritten_len(self.bytes.len(), self.vp8.as_ref())
    }
}

/// Counters since the source was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub packets: u64,
    pub bytes: u64,
    pub padding_packets: u64,
    pub unknown_ssrc: u64,
    pub malformed: u64,
    /// Packets refused for being longer than
    /// [`max_packet_len`](Source::set_max_packet_len) (also in `malformed`).
    pub oversize: u64,
    pub keyframes: [u64; MAX_SPATIAL],
    /// Keyframe requests the host was told to send (after merging).
    pub keyframe_requests_sent: [u64; MAX_SPATIAL],
    pub sender_reports: u64,
}

#[derive(Debug, Clone, Copy)]
struct SenderClock {
    ntp_us: i64,
    rtp: u32,
}

#[derive(Debug)]
struct SpatialLayer {
    ssrc: u32,
    seq: SeqUnwrapper,
    pid15: Unwrapper<15>,
    pid7: Unwrapper<7>,
    meter: SpatialMeter,
    history: History,
    keyframe: KeyframeRequest,
    clock: Option<SenderClock>,
    /// Extended sequence number of the last keyframe's first packet, and
    /// when it arrived.
    last_keyframe: Option<(u64, u64)>,
}

/// A published video track: up to three simulcast SSRCs, lowest resolution
/// first. `Send`; owned by one thread (the room's).
#[derive(Debug)]
pub struct Source {
    config: SourceConfig,
    layers: Vec<SpatialLayer>,
    rtt_us: u64,
    max_packet_len: usize,
    stats: SourceStats,
    /// Rate limit of the "keyframe requests repeat" warning.
    repeated_keyframe_requests: crate::log::Throttle,
}

fn ntp_to_us(ntp: u64) -> i64 {
    ((u128::from(ntp) * 1_000_000) >> 32) as i64
}

impl Source {
    /// A source whose spatial layers have these SSRCs, lowest first.
    /// Settings out of their documented ranges are brought into them (see
    /// [`SourceConfig`]); [`config`](Self::config) returns what is used.
    pub fn new(mut config: SourceConfig, ssrcs: &[u32]) -> Result<Self, SourceError> {
        config.history_packets = config.history_packets.clamp(1, MAX_HISTORY_PACKETS);
        config.clock_rate = config.clock_rate.max(1);
        // The length first: the duplicate scan is quadratic.
        if ssrcs.is_empty() || ssrcs.len() > MAX_SPATIAL {
            return Err(SourceError::BadLayers);
        }
        let distinct = ssrcs
            .iter()
            .enumerate()
            .all(|(i, s)| !ssrcs[..i].contains(s));
        if !distinct {
            return Err(SourceError::BadLayers);
        }
        let layers = ssrcs
            .iter()
            .map(|&ssrc| SpatialLayer {
                ssrc,
                seq: SeqUnwrapper::new(),
                pid15: Unwrapper::new(),
                pid7: Unwrapper::new(),
                meter: SpatialMeter::default(),
                history: History::new(config.history_packets),
                keyframe: KeyframeRequest::default(),
                clock: None,
                last_keyframe: None,
            })
            .collect();
        Ok(Self {
            config,
            layers,
            rtt_us: 100_000,
            max_packet_len: DEFAULT_MAX_PACKET_LEN,
            stats: SourceStats::default(),
            repeated_keyframe_requests: Default::default(),
        })
    }

    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Number of spatial layers.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// SSRC of a spatial layer.
    pub fn ssrc(&self, spatial: u8) -> Option<u32> {
        self.layers.get(usize::from(spatial)).map(|l| l.ssrc)
    }

    /// Largest packet [`on_rtp`](Self::on_rtp) accepts (default
    /// [`DEFAULT_MAX_PACKET_LEN`]). The history then holds at most
    /// `layers × history_packets × max_packet_len` bytes of packets (a
    /// `Bytes` that is a slice of a larger buffer keeps all of that buffer:
    /// hand in packet-sized buffers).
    pub fn set_max_packet_len(&mut self, len: usize) {
        self.max_packet_len = len;
    }

    /// Whether a packet of `len` bytes is within the limit; a refusal is
    /// counted in [`SourceStats::oversize`]. A host that copies packets
    /// checks this first, so that an oversized packet is never copied.
    pub fn admits(&mut self, len: usize) -> bool {
        if len > self.max_packet_len {
            self.stats.oversize += 1;
            return false;
        }
        true
    }

    /// Round-trip time to the publisher, for keyframe request retries.
    pub fn set_rtt(&mut self, rtt_us: u64) {
        self.rtt_us = rtt_us;
    }

    fn layer_of(&self, ssrc: u32) -> Option<usize> {
        self.layers.iter().position(|l| l.ssrc == ssrc)
    }

    /// Parses a received (already decrypted) RTP packet of this source,
    /// measures it and keeps it for retransmissions. A packet longer than
    /// [`max_packet_len`](Self::set_max_packet_len) is refused as
    /// [`SourceError::TooLarge`] and counted in [`SourceStats::oversize`].
    pub fn on_rtp(&mut self, bytes: Bytes, now: u64) -> Result<SourcePacket, SourceError> {
        if !self.admits(bytes.len()) {
            return Err(SourceError::TooLarge(bytes.len()));
        }
        let layout = match RtpLayout::parse(&bytes) {
            Ok(l) => l,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(SourceError::Malformed(e));
            }
        };
        let ssrc = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let Some(index) = self.layer_of(ssrc) else {
            self.stats.unknown_ssrc += 1;
            return Err(SourceError::UnknownSsrc(ssrc));
        };
        // Sequence numbers start at 2^16 so that a packet reordered ahead of
        // the first one still has a non-negative extended number.
        let seq = u16::from_be_bytes([bytes[2], bytes[3]]);
        let ext_seq = (self.layers[index].seq.peek(u64::from(seq)) + (1 << 16)) as u64;
        let pkt = match self.describe(index, bytes, layout, ext_seq) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(SourceError::Malformed(e));
            }
        };
        let layer = &mut self.layers[index];
        layer.seq.unwrap(u64::from(seq));
        if let Some(d) = &pkt.vp8 {
            if let Some(pid) = d.picture_id {
                if d.picture_id_15bit {
                    layer.pid15.unwrap(u64::from(pid));
                } else {
                    layer.pid7.unwrap(u64::from(pid));
                }
            }
        }
        if !pkt.padding_only {
            let len = pkt.bytes.len();
            layer.meter.on_media(
                now,
                pkt.temporal.unwrap_or(0),
                len,
                pkt.timestamp,
                pkt.keyframe,
            );
        }
        if pkt.keyframe {
            if layer.last_keyframe.is_none_or(|(k, _)| k < ext_seq) {
                layer.last_keyframe = Some((ext_seq, now));
            }
            layer.keyframe.satisfied();
            self.stats.keyframes[index] += 1;
        }
        layer.history.insert(ext_seq, &pkt.bytes, now);
        self.stats.packets += 1;
        self.stats.bytes += pkt.bytes.len() as u64;
        self.stats.padding_packets += u64::from(pkt.padding_only);
        Ok(pkt)
    }

    /// A kept packet of `spatial` described again (as [`on_rtp`](Self::on_rtp)
    /// did, without measuring it), e.g. to forward packets that arrived
    /// before the keyframe that starts a layer switch.
    pub fn kept_packet(&self, spatial: u8, ext_seq: u64) -> Option<SourcePacket> {
        let bytes = self.packet(spatial, ext_seq)?.clone();
        let layout = RtpLayout::parse(&bytes).ok()?;
        self.describe(usize::from(spatial), bytes, layout, ext_seq)
            .ok()
    }

    /// The last keyframe of `spatial` (its first packet's extended sequence
    /// number) when it arrived at most `max_age_us` before `now` and the
    /// history still holds it and every packet since: a subscriber can start
    /// from there without asking the publisher.
    pub fn keyframe_in_history(&self, spatial: u8, max_age_us: u64, now: u64) -> Option<u64> {
        let layer = self.layers.get(usize::from(spatial))?;
        let (first, at) = layer.last_keyframe?;
        if now.saturating_sub(at) > max_age_us {
            return None;
        }
        let highest = self.highest_ext_seq(spatial)?;
        (first..=highest)
            .all(|seq| layer.history.get(seq).is_some())
            .then_some(first)
    }

    /// When the last keyframe of `spatial` arrived (`None` before one).
    pub fn last_keyframe_us(&self, spatial: u8) -> Option<u64> {
        self.layers
            .get(usize::from(spatial))?
            .last_keyframe
            .map(|(_, at)| at)
    }

    /// Highest extended sequence number received on `spatial`.
    pub fn highest_ext_seq(&self, spatial: u8) -> Option<u64> {
        let layer = self.layers.get(usize::from(spatial))?;
        layer.seq.highest().map(|h| (h + (1 << 16)) as u64)
    }

    /// Describes a packet of layer `index` without changing any state.
    fn describe(
        &self,
        index: usize,
        bytes: Bytes,
        layout: RtpLayout,
        ext_seq: u64,
    ) -> Result<SourcePacket, ParseError> {
        let payload = &bytes[layout.payload_start..layout.payload_end];
        let padding_only = payload.is_empty();
        let vp8 = match (self.config.codec, padding_only) {
            (Codec::Vp8, false) => Some(Descriptor::parse(payload)?),
            _ => None,
        };
        let timestamp = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let layer = &self.layers[index];
        let keyframe = !padding_only
            && match &vp8 {
                Some(d) => d.keyframe,
                None => codec::is_keyframe_start(self.config.codec, payload),
            };
        let ext_picture_id = vp8.and_then(|d| {
            let pid = u64::from(d.picture_id?);
            let ext = if d.picture_id_15bit {
                layer.pid15.peek(pid)
            } else {
                layer.pid7.peek(pid)
            };
            Some((ext + (1 << 15)) as u64)
        });
        let clock_rate = i64::from(self.config.clock_rate.max(1));
        let capture_us = layer.clock.map(|c| {
            let ticks = i64::from(timestamp.wrapping_sub(c.rtp) as i32);
            c.ntp_us + ticks * 1_000_000 / clock_rate
        });
        Ok(SourcePacket {
            layout,
            spatial: index as u8,
            ext_seq,
            timestamp,
            marker: bytes[1] & 0x80 != 0,
            temporal: vp8.and_then(|d| d.temporal_id),
            layer_sync: vp8.is_some_and(|d| d.layer_sync),
            keyframe,
            frame_start: vp8.map(|d| d.start_of_partition && d.partition_index == 0),
            vp8,
            ext_picture_id,
            capture_us,
            padding_only,
            bytes,
        })
    }

    /// Records a sender report's NTP/RTP pair for the layer with `ssrc`
    /// (what aligns timestamps across layers). `false` if no layer has it.
    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, rtp_timestamp: u32) -> bool {
        let Some(index) = self.layer_of(ssrc) else {
            return false;
        };
        self.layers[index].clock = Some(SenderClock {
            ntp_us: ntp_to_us(ntp),
            rtp: rtp_timestamp,
        });
        self.stats.sender_reports += 1;
        true
    }

    /// Takes the sender reports of this source's SSRCs from a (decrypted)
    /// compound RTCP packet; returns how many it used.
    pub fn on_rtcp(&mut self, compound: &[u8]) -> usize {
        let mut used = 0;
        for packet in rtcp::compound(compound).flatten() {
            if let RtcpPacket::SenderReport(sr) = packet {
                used += usize::from(self.on_sender_report(
                    sr.ssrc(),
                    sr.ntp_timestamp(),
                    sr.rtp_timestamp(),
                ));
            }
        }
        used
    }

    /// Bitrates of the alive layers, measured over the last second.
    pub fn bitrates(&self, now: u64) -> LayerBitrates {
        let mut out = LayerBitrates::default();
        for (s, layer) in self.layers.iter().enumerate() {
            if layer.meter.is_alive(now, self.config.inactive_after_us) {
                out.0[s] = layer.meter.bitrates(now);
            }
        }
        out
    }

    /// Media packets per second of a spatial layer over the last second (0
    /// when not alive): what a forwarder on it must remember for NACKs.
    pub fn packet_rate(&self, spatial: u8, now: u64) -> u64 {
        self.layers
            .get(usize::from(spatial))
            .filter(|l| l.meter.is_alive(now, self.config.inactive_after_us))
            .map_or(0, |l| l.meter.packet_rate(now))
    }

    /// Whether a spatial layer has sent media within the inactivity timeout.
    pub fn is_alive(&self, spatial: u8, now: u64) -> bool {
        self.layers
            .get(usize::from(spatial))
            .is_some_and(|l| l.meter.is_alive(now, self.config.inactive_after_us))
    }

    /// Smoothed frame interval of a spatial layer (0 before two frames).
    pub fn frame_interval_us(&self, spatial: u8) -> u64 {
        self.layers
            .get(usize::from(spatial))
            .map_or(0, |l| l.meter.frame_interval_us)
    }

    /// The extended PictureID of a VP8 payload of `spatial`, placed near the
    /// layer's latest (for rebuilding a packet received earlier).
    pub fn extended_picture_id(&self, spatial: u8, payload: &[u8]) -> Option<u64> {
        let layer = self.layers.get(usize::from(spatial))?;
        let d = Descriptor::parse(payload).ok()?;
        let pid = u64::from(d.picture_id?);
        let ext = if d.picture_id_15bit {
            layer.pid15.peek(pid)
        } else {
            layer.pid7.peek(pid)
        };
        Some((ext + (1 << 15)) as u64)
    }

    /// Bytes of each spatial layer's last complete keyframe (0 before one was
    /// seen): what a switch to that layer costs the subscriber's link at once.
    pub fn keyframe_bytes(&self) -> [u64; MAX_SPATIAL] {
        let mut out = [0; MAX_SPATIAL];
        for (o, layer) in out.iter_mut().zip(&self.layers) {
            *o = layer.meter.keyframe_bytes;
        }
        out
    }

    /// A kept packet, for a retransmission.
    pub fn packet(&self, spatial: u8, ext_seq: u64) -> Option<&Bytes> {
        self.layers.get(usize::from(spatial))?.history.get(ext_seq)
    }

    /// A subscriber needs a keyframe on `spatial`. Requests are merged: see
    /// [`poll_keyframe_request`](Self::poll_keyframe_request).
    pub fn request_keyframe(&mut self, spatial: u8) {
        if let Some(layer) = self.layers.get_mut(usize::from(spatial)) {
            layer.keyframe.want();
        }
    }

    fn retry_us(&self, layer: &SpatialLayer) -> u64 {
        let frame = match layer.meter.frame_interval_us {
            0 => 100_000,
            f => f,
        };
        self.rtt_us
            .saturating_add(frame.saturating_mul(2))
            .max(self.config.keyframe_retry_min_us)
    }

    /// The SSRC to send a PLI for now, if any: once per wanted keyframe,
    /// again while it has not arrived. The first repeat comes after the
    /// retry interval (a round trip plus two frame intervals, at least
    /// `keyframe_retry_min_us`); from then on the wait doubles per
    /// unanswered request, at least [`KEYFRAME_BACKOFF_MIN_US`](super::KEYFRAME_BACKOFF_MIN_US)
    /// (1 s) and at most [`KEYFRAME_BACKOFF_MAX_US`](super::KEYFRAME_BACKOFF_MAX_US)
    /// (2 s); a keyframe on the layer resets it. Call until `None`.
    pub fn poll_keyframe_request(&mut self, now: u64) -> Option<u32> {
        for i in 0..self.layers.len() {
            let retry = self.retry_us(&self.layers[i]);
            let layer = &mut self.layers[i];
            if layer.keyframe.poll(now, retry) {
                self.stats.keyframe_requests_sent[i] += 1;
                if layer.keyframe.unanswered() > 1 {
                    crate::log::log_throttled!(
                        crate::log::Level::Warn,
                        self.repeated_keyframe_requests,
                        "keyframe request to SSRC {:#010x} repeated {} times without a keyframe",
                        layer.ssrc,
                        layer.keyframe.unanswered() - 1
                    );
                }
                return Some(layer.ssrc);
            }
        }
        None
    }

    /// When [`poll_keyframe_request`](Self::poll_keyframe_request) may next
    /// return something.
    pub fn next_keyframe_request_at(&self) -> Option<u64> {
        self.layers
            .iter()
            .filter_map(|l| l.keyframe.due_at(self.retry_us(l)))
            .min()
    }

    /// Whether a keyframe request for `spatial` is outstanding.
    pub fn keyframe_pending(&self, spatial: u8) -> bool {
        self.layers
            .get(usize::from(spatial))
            .is_some_and(|l| l.keyframe.is_wanted())
    }
}
