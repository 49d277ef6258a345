//! One subscriber's view of one source: which layer it gets, and the
//! rewriting that makes the layers one continuous stream.

use super::rewrite::{self, OutFields};
use super::select::select_layer;
use super::seqmap::DropMap;
use super::source::{Source, SourcePacket};
use super::{Layer, LayerBitrates, MAX_SPATIAL, MAX_TEMPORAL};
use crate::codec::{vp8::Descriptor, Codec};
use crate::packet::{RtpLayout, WriteError};

/// Options of a [`Forwarder`]. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwarderConfig {
    /// SSRC the subscriber sees. Default 0 (set it).
    pub ssrc: u32,
    /// Payload type to write, or `None` to keep the source's. Default `None`.
    pub payload_type: Option<u8>,
    /// Highest layer this subscriber wants (e.g. from its window size).
    /// Default: everything.
    pub max_layer: Layer,
    /// RTP clock rate, for timestamps across a switch. Default 90 000.
    pub clock_rate: u32,
    /// Sent packets remembered for NACKs (rounded up to a power of two), 24
    /// bytes each (the payloads are the source's, shared). Default 1024.
    pub history_packets: usize,
    /// Largest disagreement allowed between the sender-report timeline and
    /// the arrival clock at a switch before falling back to the arrival
    /// clock. Default 500 ms.
    pub max_timestamp_skew_us: u64,
}

impl Default for ForwarderConfig {
    fn default() -> Self {
        Self {
            ssrc: 0,
            payload_type: None,
            max_layer: Layer::new(MAX_SPATIAL as u8 - 1, MAX_TEMPORAL as u8 - 1),
            clock_rate: 90_000,
            history_packets: 1024,
            max_timestamp_skew_us: 500_000,
        }
    }
}

/// Why a forwarder sends nothing (values fixed: they are in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PauseReason {
    /// No layer fits the subscriber's bandwidth.
    Bandwidth = 1,
    /// Paused by the host (the subscriber muted or hid the video).
    Muted = 2,
    /// The source has no alive layer.
    NoFeed = 3,
}

/// Why a packet was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    Paused = 1,
    /// A spatial layer this subscriber is not on.
    OtherLayer = 2,
    /// A temporal layer above the one this subscriber gets.
    TemporalLayer = 3,
    /// Nothing forwarded yet: waiting for a keyframe to start from.
    WaitingForKeyframe = 4,
    /// From before the last switch, or too old to number.
    Late = 5,
    /// Padding only (a bandwidth probe of the publisher's link).
    Padding = 6,
}

const DROP_REASONS: usize = 7;

/// Result of [`Forwarder::forward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// This many bytes were written to the output buffer.
    Sent(usize),
    Dropped(DropReason),
}

/// Why a NACKed packet cannot be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetransmitError {
    /// Never sent to this subscriber, or forgotten (history too short).
    NotFound,
    /// From before the keyframe the subscriber's decoder restarted at.
    BeforeKeyframe,
    BufferTooSmall {
        needed: usize,
    },
}

impl core::fmt::Display for RetransmitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFound => f.write_str("packet not sent to this subscriber or no longer kept"),
            Self::BeforeKeyframe => {
                f.write_str("packet is from before the subscriber's last keyframe")
            }
            Self::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
        }
    }
}

impl std::error::Error for RetransmitError {}

/// Counters since the forwarder was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwarderStats {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Frames started (first packets sent).
    pub frames_sent: u64,
    pub keyframes_sent: u64,
    /// Dropped packets, indexed by [`DropReason`] as `u8`.
    pub dropped: [u64; DROP_REASONS],
    pub spatial_switches: u64,
    pub temporal_switches: u64,
    /// Keyframe requests this forwarder asked for (one per switch decision).
    pub keyframe_requests: u64,
    pub retransmitted: u64,
    pub nacks_before_keyframe: u64,
    pub nacks_not_found: u64,
    /// Switches where the last frame of the old layer was cut (a deliberate
    /// sequence gap was left).
    pub cut_frames: u64,
}

/// What was last sent, for continuity across switches.
#[derive(Debug, Clone, Copy)]
struct LastSent {
    ext_seq: u64,
    timestamp: u32,
    ext_picture_id: u64,
    tl0_pic_idx: u8,
    key_idx: u8,
    marker: bool,
    capture_us: Option<i64>,
    at_us: u64,
}

/// Whether each of the last few frames (by source timestamp) is sent, so
/// that every packet of a frame gets the same answer.
#[derive(Debug, Clone, Copy, Default)]
struct FrameDecisions {
    recent: [Option<(u32, bool)>; 4],
    next: usize,
}

impl FrameDecisions {
    fn decision(&self, timestamp: u32) -> Option<bool> {
        self.recent
            .iter()
            .flatten()
            .find(|(ts, _)| *ts == timestamp)
            .map(|&(_, send)| send)
    }

    fn record(&mut self, timestamp: u32, send: bool) {
        self.recent[self.next] = Some((timestamp, send));
        self.next = (self.next + 1) % self.recent.len();
    }
}

/// The output numbers of the frame being sent, to tell at a switch whether
/// the subscriber got all of it.
#[derive(Debug, Clone, Copy, Default)]
struct FrameOut {
    /// First packet's number, when the codec marks it (VP8), else the lowest.
    first: Option<u64>,
    first_marked: bool,
    /// The codec marks frame starts: without the marked one, incomplete.
    starts_known: bool,
    marker: Option<u64>,
    sent: u64,
}

impl FrameOut {
    fn add(&mut self, ext_seq: u64, frame_start: Option<bool>, marker: bool) {
        self.sent += 1;
        self.starts_known |= frame_start.is_some();
        match frame_start {
            Some(true) => {
                self.first = Some(ext_seq);
                self.first_marked = true;
            }
            _ if !self.first_marked => {
                self.first = Some(self.first.map_or(ext_seq, |f| f.min(ext_seq)));
            }
            _ => {}
        }
        if marker {
            self.marker = Some(ext_seq);
        }
    }

    fn is_complete(&self) -> bool {
        match (self.first, self.marker) {
            _ if self.starts_known && !self.first_marked => self.sent == 0,
            (Some(first), Some(last)) => last >= first && self.sent == last - first + 1,
            _ => self.sent == 0,
        }
    }
}

/// A packet about to be sent: its output values and numbers.
#[derive(Debug, Clone, Copy)]
struct Sending {
    fields: OutFields,
    ext_seq: u64,
    ext_picture_id: Option<u64>,
}

/// A sent packet's rewrite, to send it again on a NACK. 24 bytes: a
/// 1000-person room runs some 10,000 forwarders, each with a history.
#[derive(Debug, Clone, Copy)]
struct SentRecord {
    src_ext_seq: u64,
    /// Low 32 bits of the output's extended sequence number (checks the slot).
    ext_seq_low: u32,
    timestamp: u32,
    picture_id: u16,
    tl0_pic_idx: u8,
    /// KEYIDX (low 5 bits) and which VP8 fields are present (`HAS_*`).
    key_idx_and_flags: u8,
    /// `EMPTY` for a slot never written.
    spatial: u8,
}

impl SentRecord {
    const EMPTY: u8 = u8::MAX;
    const HAS_PICTURE_ID: u8 = 0x20;
    const HAS_TL0: u8 = 0x40;
    const HAS_KEY_IDX: u8 = 0x80;

    fn new(ext_seq: u64, spatial: u8, src_ext_seq: u64, fields: &OutFields) -> Self {
        let mut flags = fields.key_idx.unwrap_or(0) & 0x1f;
        flags |= if fields.picture_id.is_some() {
            Self::HAS_PICTURE_ID
        } else {
            0
        };
        flags |= if fields.tl0_pic_idx.is_some() {
            Self::HAS_TL0
        } else {
            0
        };
        flags |= if fields.key_idx.is_some() {
            Self::HAS_KEY_IDX
        } else {
            0
        };
        Self {
            src_ext_seq,
            ext_seq_low: ext_seq as u32,
            timestamp: fields.timestamp,
            picture_id: fields.picture_id.unwrap_or(0),
            tl0_pic_idx: fields.tl0_pic_idx.unwrap_or(0),
            key_idx_and_flags: flags,
            spatial,
        }
    }

    fn holds(&self, ext_seq: u64) -> bool {
        self.spatial != Self::EMPTY && self.ext_seq_low == ext_seq as u32
    }

    /// The values sent, with the forwarder's constant ones.
    fn fields(&self, config: &ForwarderConfig, ext_seq: u64) -> OutFields {
        let f = self.key_idx_and_flags;
        OutFields {
            ssrc: config.ssrc,
            payload_type: config.payload_type,
            seq: ext_seq as u16,
            timestamp: self.timestamp,
            picture_id: (f & Self::HAS_PICTURE_ID != 0).then_some(self.picture_id),
            tl0_pic_idx: (f & Self::HAS_TL0 != 0).then_some(self.tl0_pic_idx),
            key_idx: (f & Self::HAS_KEY_IDX != 0).then_some(f & 0x1f),
        }
    }
}

impl Default for SentRecord {
    fn default() -> Self {
        Self {
            src_ext_seq: 0,
            ext_seq_low: 0,
            timestamp: 0,
            picture_id: 0,
            tl0_pic_idx: 0,
            key_idx_and_flags: 0,
            spatial: Self::EMPTY,
        }
    }
}

/// One subscriber's forwarding state for one source. Sans-IO; `Send`; one
/// thread at a time.
#[derive(Debug)]
pub struct Forwarder {
    config: ForwarderConfig,
    target: Option<Layer>,
    host_pause: Option<PauseReason>,
    auto_pause: Option<PauseReason>,
    /// The layer being forwarded (`None`: waiting for a keyframe).
    current: Option<Layer>,
    keyframe_request: Option<u8>,
    seq: DropMap,
    picture_id: DropMap,
    ts_offset: u32,
    tl0_offset: u8,
    key_idx_offset: u8,
    last: Option<LastSent>,
    /// Output sequence number of the last keyframe's first packet.
    keyframe_ext_seq: u64,
    /// Output sequence number where the current layer's stretch began.
    layer_first_ext_seq: u64,
    /// After a switch: the layer and next source sequence number of packets
    /// that arrived before the keyframe that started it (see `backfill`).
    backfill: Option<(u8, u64)>,
    /// Temporal-layer decisions of the last few frames.
    frames: FrameDecisions,
    /// What of the frame being sent has gone out.
    frame_out: FrameOut,
    /// Source timestamp of the frame being forwarded, to count frames.
    frame_ts: Option<u32>,
    sent: Vec<SentRecord>,
    stats: ForwarderStats,
}

impl Forwarder {
    pub fn new(config: ForwarderConfig) -> Self {
        let history = config.history_packets.max(1).next_power_of_two();
        Self {
            config,
            target: None,
            host_pause: None,
            auto_pause: Some(PauseReason::NoFeed),
            current: None,
            keyframe_request: None,
            seq: DropMap::default(),
            picture_id: DropMap::default(),
            ts_offset: 0,
            tl0_offset: 0,
            key_idx_offset: 0,
            last: None,
            keyframe_ext_seq: 0,
            layer_first_ext_seq: u64::MAX,
            backfill: None,
            frames: FrameDecisions::default(),
            frame_out: FrameOut::default(),
            frame_ts: None,
            sent: vec![SentRecord::default(); history],
            stats: ForwarderStats::default(),
        }
    }

    pub fn config(&self) -> &ForwarderConfig {
        &self.config
    }

    pub fn stats(&self) -> &ForwarderStats {
        &self.stats
    }

    /// The layer being forwarded now (`None` while paused or waiting for a
    /// keyframe).
    pub fn current_layer(&self) -> Option<Layer> {
        self.current
    }

    /// The layer the forwarder is heading for.
    pub fn target_layer(&self) -> Option<Layer> {
        self.target
    }

    /// Why nothing is forwarded, if so: the host's pause first.
    pub fn pause_reason(&self) -> Option<PauseReason> {
        self.host_pause.or(self.auto_pause)
    }

    /// Caps the layers (e.g. the subscriber's window shrank).
    pub fn set_max_layer(&mut self, max: Layer) {
        self.config.max_layer = max;
        if let Some(t) = self.target {
            self.set_target(t);
        }
    }

    /// Heads for `layer` (capped at the maximum). A spatial change asks for a
    /// keyframe (see [`poll_keyframe_request`](Self::poll_keyframe_request));
    /// the current layer keeps flowing until it arrives.
    pub fn set_target(&mut self, layer: Layer) {
        let max = self.config.max_layer;
        let layer = Layer::new(
            layer.spatial.min(max.spatial).min(MAX_SPATIAL as u8 - 1),
            layer.temporal.min(max.temporal).min(MAX_TEMPORAL as u8 - 1),
        );
        self.auto_pause = None;
        let spatial_change = self.target.is_none_or(|t| t.spatial != layer.spatial);
        self.target = Some(layer);
        if self.current.is_some_and(|c| c.spatial == layer.spatial) {
            self.keyframe_request = None;
        } else if spatial_change {
            self.ask_keyframe(layer.spatial);
        }
    }

    /// Picks the target from the source's measured layers and the bandwidth
    /// this subscriber has for this source; pauses (reason `Bandwidth` or
    /// `NoFeed`) when nothing fits.
    pub fn set_available_bitrate(&mut self, bitrates: &LayerBitrates, available_bps: u64) {
        match select_layer(bitrates, available_bps, self.config.max_layer) {
            Some(layer) => self.set_target(layer),
            None => {
                let any_alive = select_layer(bitrates, u64::MAX, self.config.max_layer).is_some();
                self.stop(if any_alive {
                    PauseReason::Bandwidth
                } else {
                    PauseReason::NoFeed
                });
            }
        }
    }

    /// Stops forwarding for a host reason (e.g. `Muted`); resumes with
    /// [`resume`](Self::resume) at the next keyframe.
    pub fn pause(&mut self, reason: PauseReason) {
        self.host_pause = Some(reason);
        self.current = None;
    }

    /// Undoes [`pause`](Self::pause); asks for a keyframe to restart from.
    pub fn resume(&mut self) {
        if self.host_pause.take().is_some() {
            if let Some(t) = self.target {
                self.ask_keyframe(t.spatial);
            }
        }
    }

    fn stop(&mut self, reason: PauseReason) {
        self.auto_pause = Some(reason);
        self.target = None;
        self.current = None;
        self.keyframe_request = None;
    }

    fn ask_keyframe(&mut self, spatial: u8) {
        self.keyframe_request = Some(spatial);
        self.stats.keyframe_requests += 1;
    }

    /// The spatial layer this forwarder needs a keyframe on, once per
    /// decision; pass it to [`Source::request_keyframe`], which merges the
    /// requests of all subscribers.
    pub fn poll_keyframe_request(&mut self) -> Option<u8> {
        self.keyframe_request.take()
    }

    /// Forwards `pkt` into `out` if this subscriber gets it: the rewritten
    /// packet (one copy), ready for SRTP protection in place. `out` needs
    /// [`SourcePacket::forwarded_len`] bytes (the packet's length, plus one
    /// when a 7-bit PictureID is widened), whether the packet is sent or
    /// not: a smaller buffer is refused before anything changes.
    pub fn forward(
        &mut self,
        pkt: &SourcePacket,
        out: &mut [u8],
        now: u64,
    ) -> Result<Forwarded, WriteError> {
        let needed = pkt.forwarded_len();
        if out.len() < needed {
            return Err(WriteError::BufferTooSmall { needed });
        }
        let decision = self.decide(pkt, now);
        let sending = match decision {
            Ok(sending) => sending,
            Err(reason) => {
                self.stats.dropped[reason as usize] += 1;
                return Ok(Forwarded::Dropped(reason));
            }
        };
        let len = rewrite::write_packet(pkt, &sending.fields, out)?;
        self.commit(pkt, &sending, now, len);
        Ok(Forwarded::Sent(len))
    }

    /// Chooses what to do with `pkt` and, if it is sent, its output values.
    fn decide(&mut self, pkt: &SourcePacket, now: u64) -> Result<Sending, DropReason> {
        let on_current = self.current.is_some_and(|c| c.spatial == pkt.spatial);
        if self.pause_reason().is_some() || self.target.is_none() {
            if on_current {
                self.current = None;
            }
            return Err(DropReason::Paused);
        }
        if pkt.padding_only {
            if on_current {
                self.seq.drop_value(pkt.ext_seq);
            }
            return Err(DropReason::Padding);
        }
        if !on_current {
            if !(pkt.keyframe && self.may_switch_to(pkt.spatial)) {
                return Err(if self.current.is_some() {
                    DropReason::OtherLayer
                } else {
                    DropReason::WaitingForKeyframe
                });
            }
            self.switch_to(pkt, now);
        }
        let current = self.current.as_mut().expect("set above");
        if let Some(tid) = pkt.temporal {
            let target = self.target.expect("checked above").temporal;
            // One decision per frame, made at its first packet to arrive (the
            // network may reorder a frame's packets; TID and Y are on each):
            // the switches happen between frames, down at any frame, up only
            // at a frame that depends on TL0 alone.
            let send = match self.frames.decision(pkt.timestamp) {
                Some(send) => send,
                None => {
                    if target < current.temporal {
                        current.temporal = target;
                        self.stats.temporal_switches += 1;
                    } else if tid > current.temporal
                        && tid <= target
                        && (pkt.layer_sync || pkt.keyframe)
                    {
                        current.temporal = tid;
                        self.stats.temporal_switches += 1;
                    }
                    let send = tid <= current.temporal;
                    self.frames.record(pkt.timestamp, send);
                    send
                }
            };
            if !send {
                self.seq.drop_value(pkt.ext_seq);
                if let Some(pid) = pkt.ext_picture_id {
                    self.picture_id.drop_value(pid);
                }
                return Err(DropReason::TemporalLayer);
            }
        }
        let seq = self.seq.forward(pkt.ext_seq).ok_or(DropReason::Late)?;
        let picture_id = match pkt.ext_picture_id {
            Some(pid) => Some(self.picture_id.forward(pid).ok_or(DropReason::Late)?),
            None => None,
        };
        let vp8 = pkt.vp8.as_ref();
        let fields = OutFields {
            ssrc: self.config.ssrc,
            payload_type: self.config.payload_type,
            seq: seq as u16,
            timestamp: pkt.timestamp.wrapping_add(self.ts_offset),
            picture_id: picture_id.map(|p| (p & 0x7fff) as u16),
            tl0_pic_idx: vp8
                .and_then(|d| d.tl0_pic_idx)
                .map(|t| t.wrapping_sub(self.tl0_offset)),
            key_idx: vp8
                .and_then(|d| d.key_idx)
                .map(|k| k.wrapping_sub(self.key_idx_offset) & 0x1f),
        };
        Ok(Sending {
            fields,
            ext_seq: seq,
            ext_picture_id: picture_id,
        })
    }

    /// Whether a keyframe of `spatial` may become the forwarded layer: any
    /// layer up to the target to start with; otherwise one between the
    /// current and the target layer (taken on the way).
    fn may_switch_to(&self, spatial: u8) -> bool {
        let Some(target) = self.target else {
            return false;
        };
        if spatial > target.spatial {
            return false;
        }
        match self.current {
            None => true,
            Some(c) if target.spatial > c.spatial => spatial > c.spatial,
            Some(c) if target.spatial < c.spatial => spatial < c.spatial,
            Some(_) => false,
        }
    }

    /// Makes `pkt`'s layer the forwarded one from this keyframe on, numbering
    /// it to continue what the subscriber has seen.
    fn switch_to(&mut self, pkt: &SourcePacket, now: u64) {
        let target = self.target.expect("switch only with a target");
        if self.current.is_some() {
            self.stats.spatial_switches += 1;
        }
        self.current = Some(Layer::new(pkt.spatial, target.temporal));
        self.frame_ts = None;
        self.frames = FrameDecisions::default();
        self.backfill = Some((pkt.spatial, pkt.ext_seq + 1));
        let d = pkt.vp8.as_ref();
        match self.last {
            None => {
                // The first layer keeps its own numbering.
                self.seq.rebase(pkt.ext_seq, pkt.ext_seq);
                self.layer_first_ext_seq = pkt.ext_seq;
                if let Some(pid) = pkt.ext_picture_id {
                    self.picture_id.rebase(pid, pid);
                }
                self.ts_offset = 0;
                self.tl0_offset = 0;
                self.key_idx_offset = 0;
            }
            Some(last) => {
                // A frame cut short by the switch gets a one-number gap, so
                // the receiver sees a loss rather than a complete frame.
                // (A frame missing an earlier packet already shows a hole.)
                let cut = !last.marker;
                self.stats.cut_frames += u64::from(cut || !self.frame_out.is_complete());
                let first_out = last.ext_seq + 1 + u64::from(cut);
                self.seq.rebase(pkt.ext_seq, first_out);
                self.layer_first_ext_seq = first_out;
                if let Some(pid) = pkt.ext_picture_id {
                    self.picture_id.rebase(pid, last.ext_picture_id + 1);
                }
                let out_ts = self.timestamp_after_switch(&last, pkt, now);
                self.ts_offset = out_ts.wrapping_sub(pkt.timestamp);
                if let Some(tl0) = d.and_then(|d| d.tl0_pic_idx) {
                    self.tl0_offset = tl0.wrapping_sub(last.tl0_pic_idx.wrapping_add(1));
                }
                if let Some(k) = d.and_then(|d| d.key_idx) {
                    self.key_idx_offset = k.wrapping_sub(last.key_idx.wrapping_add(1)) & 0x1f;
                }
            }
        }
        if target.spatial == pkt.spatial {
            self.keyframe_request = None;
        }
    }

    /// The output timestamp for the first frame of a new layer: the old
    /// layer's timeline moved by the capture-time difference from the sender
    /// reports, or by the arrival-time difference when there are none or they
    /// disagree with it by more than the allowed skew; always later than the
    /// last one sent.
    fn timestamp_after_switch(&self, last: &LastSent, pkt: &SourcePacket, now: u64) -> u32 {
        let rate = i64::from(self.config.clock_rate.max(1));
        let arrival_us = now.saturating_sub(last.at_us) as i64;
        let elapsed_us = match (last.capture_us, pkt.capture_us) {
            (Some(a), Some(b))
                if (b - a - arrival_us).unsigned_abs() <= self.config.max_timestamp_skew_us =>
            {
                b - a
            }
            _ => arrival_us,
        };
        let ticks = (elapsed_us * rate / 1_000_000).max(1);
        last.timestamp
            .wrapping_add(ticks.min(i64::from(i32::MAX)) as u32)
    }

    /// Records a sent packet: continuity state, NACK record, counters.
    fn commit(&mut self, pkt: &SourcePacket, sending: &Sending, now: u64, len: usize) {
        let Sending {
            fields,
            ext_seq,
            ext_picture_id,
        } = *sending;
        let new_frame = self.frame_ts != Some(pkt.timestamp);
        if new_frame {
            self.frame_ts = Some(pkt.timestamp);
            self.stats.frames_sent += 1;
            self.frame_out = FrameOut::default();
        }
        self.frame_out.add(ext_seq, pkt.frame_start, pkt.marker);
        if pkt.keyframe {
            self.keyframe_ext_seq = ext_seq;
            self.stats.keyframes_sent += 1;
        }
        let newest = self.last.is_none_or(|l| ext_seq > l.ext_seq);
        if newest {
            self.last = Some(LastSent {
                ext_seq,
                timestamp: fields.timestamp,
                ext_picture_id: ext_picture_id.unwrap_or(0),
                tl0_pic_idx: fields.tl0_pic_idx.unwrap_or(0),
                key_idx: fields.key_idx.unwrap_or(0),
                marker: pkt.marker,
                capture_us: pkt.capture_us,
                at_us: now,
            });
        }
        let mask = self.sent.len() - 1;
        self.sent[ext_seq as usize & mask] =
            SentRecord::new(ext_seq, pkt.spatial, pkt.ext_seq, &fields);
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += len as u64;
    }

    /// After a [`forward`](Self::forward) that switched layers: the next
    /// packet of the new layer that reached the source before the keyframe
    /// that started it (the network reordered them), written into `out` as
    /// `forward` would. Call after each sent packet until it returns `None`
    /// (a cheap check when there was no switch).
    pub fn backfill(
        &mut self,
        source: &Source,
        out: &mut [u8],
        now: u64,
    ) -> Result<Option<usize>, WriteError> {
        while let Some((spatial, next)) = self.backfill {
            let highest = source.highest_ext_seq(spatial).unwrap_or(0);
            if next > highest || self.current.is_none_or(|c| c.spatial != spatial) {
                self.backfill = None;
                break;
            }
            let Some(pkt) = source.kept_packet(spatial, next) else {
                // Not arrived yet: it will be forwarded when it does.
                self.backfill = Some((spatial, next + 1));
                continue;
            };
            // Checked before anything moves, so a too-small buffer can be
            // retried with a bigger one.
            let sent = self.forward(&pkt, out, now)?;
            if self.backfill == Some((spatial, next)) {
                self.backfill = Some((spatial, next + 1));
            }
            if let Forwarded::Sent(n) = sent {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// Sends again the packet this subscriber received as `seq` (from a
    /// NACK), rebuilt from the source's shared history with this
    /// subscriber's own values. Packets from before the last keyframe are
    /// refused: the decoder restarted there and does not need them.
    pub fn retransmit(
        &mut self,
        source: &Source,
        seq: u16,
        out: &mut [u8],
    ) -> Result<usize, RetransmitError> {
        let result = self.rebuild(source, seq, out);
        match result {
            Ok(_) => self.stats.retransmitted += 1,
            Err(RetransmitError::BeforeKeyframe) => self.stats.nacks_before_keyframe += 1,
            Err(RetransmitError::NotFound) => self.stats.nacks_not_found += 1,
            Err(RetransmitError::BufferTooSmall { .. }) => {}
        }
        result
    }

    /// The record a packet of the current layer would have had: one whose
    /// number the subscriber was given but which never went out, because it
    /// arrived (reordered) before the keyframe packet that started the layer.
    fn never_sent(&self, source: &Source, ext_seq: u64) -> Result<SentRecord, RetransmitError> {
        let current = self.current.ok_or(RetransmitError::NotFound)?;
        if ext_seq < self.layer_first_ext_seq {
            return Err(RetransmitError::NotFound);
        }
        let src_ext_seq = self.seq.inverse(ext_seq).ok_or(RetransmitError::NotFound)?;
        let bytes = source
            .packet(current.spatial, src_ext_seq)
            .ok_or(RetransmitError::NotFound)?;
        let layout = RtpLayout::parse(bytes).map_err(|_| RetransmitError::NotFound)?;
        let payload = &bytes[layout.payload_start..layout.payload_end];
        let timestamp = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let vp8 = match source.config().codec {
            Codec::Vp8 => Some(Descriptor::parse(payload).map_err(|_| RetransmitError::NotFound)?),
            _ => None,
        };
        if vp8
            .and_then(|d| d.temporal_id)
            .is_some_and(|t| t > current.temporal)
        {
            return Err(RetransmitError::NotFound);
        }
        let picture_id = match vp8.and_then(|d| d.picture_id) {
            Some(_) => {
                let ext = source
                    .extended_picture_id(current.spatial, payload)
                    .ok_or(RetransmitError::NotFound)?;
                let out = self.picture_id.peek(ext).ok_or(RetransmitError::NotFound)?;
                Some((out & 0x7fff) as u16)
            }
            None => None,
        };
        let fields = OutFields {
            ssrc: self.config.ssrc,
            payload_type: self.config.payload_type,
            seq: ext_seq as u16,
            timestamp: timestamp.wrapping_add(self.ts_offset),
            picture_id,
            tl0_pic_idx: vp8
                .and_then(|d| d.tl0_pic_idx)
                .map(|t| t.wrapping_sub(self.tl0_offset)),
            key_idx: vp8
                .and_then(|d| d.key_idx)
                .map(|k| k.wrapping_sub(self.key_idx_offset) & 0x1f),
        };
        Ok(SentRecord::new(
            ext_seq,
            current.spatial,
            src_ext_seq,
            &fields,
        ))
    }

    fn rebuild(&self, source: &Source, seq: u16, out: &mut [u8]) -> Result<usize, RetransmitError> {
        let last = self.last.ok_or(RetransmitError::NotFound)?;
        // The extended number nearest the last one sent.
        let delta = seq.wrapping_sub(last.ext_seq as u16) as i16;
        let ext_seq = last.ext_seq.wrapping_add_signed(i64::from(delta));
        if delta > 0 {
            return Err(RetransmitError::NotFound);
        }
        if ext_seq < self.keyframe_ext_seq {
            return Err(RetransmitError::BeforeKeyframe);
        }
        let record = self.sent[ext_seq as usize & (self.sent.len() - 1)];
        let record = if record.holds(ext_seq) {
            record
        } else {
            self.never_sent(source, ext_seq)?
        };
        let fields = record.fields(&self.config, ext_seq);
        let bytes = source
            .packet(record.spatial, record.src_ext_seq)
            .ok_or(RetransmitError::NotFound)?;
        let layout = RtpLayout::parse(bytes).map_err(|_| RetransmitError::NotFound)?;
        let payload = &bytes[layout.payload_start..layout.payload_end];
        let vp8 = if fields.picture_id.is_some()
            || fields.tl0_pic_idx.is_some()
            || fields.key_idx.is_some()
        {
            Descriptor::parse(payload).ok()
        } else {
            None
        };
        rewrite::write(bytes, layout.payload_start, vp8.as_ref(), &fields, out).map_err(|e| match e
        {
            WriteError::BufferTooSmall { needed } => RetransmitError::BufferTooSmall { needed },
            _ => RetransmitError::NotFound,
        })
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;

    #[test]
    fn a_sent_record_is_small_and_round_trips() {
        assert_eq!(core::mem::size_of::<SentRecord>(), 24);
        let config = ForwarderConfig {
            ssrc: 9,
            payload_type: Some(100),
            ..Default::default()
        };
        let fields = OutFields {
            ssrc: 9,
            payload_type: Some(100),
            seq: 0x2345,
            timestamp: 77,
            picture_id: Some(0x7fff),
            tl0_pic_idx: Some(0),
            key_idx: Some(31),
        };
        let r = SentRecord::new(0x1_0001_2345, 2, 55, &fields);
        assert!(r.holds(0x1_0001_2345) && !r.holds(0x1_0001_2346));
        assert_eq!(r.fields(&config, 0x1_0001_2345), fields);
        let bare = OutFields {
            picture_id: None,
            tl0_pic_idx: None,
            key_idx: None,
            ..fields
        };
        assert_eq!(
            SentRecord::new(5, 0, 1, &bare).fields(&config, 0x2345),
            bare
        );
        assert!(!SentRecord::default().holds(0));
    }
}
