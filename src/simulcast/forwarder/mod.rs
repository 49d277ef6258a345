//! One subscriber's view of one source: which layer it gets, and the
//! rewriting that makes the layers one continuous stream. Frame-level
//! bookkeeping is in `frames`, NACK answers in `nack`.

mod bitrate;
mod frames;
mod nack;
mod switch;

use super::rewrite::{self, OutFields};
use super::seqmap::DropMap;
use super::source::{Source, SourcePacket};
use super::{Layer, MAX_HISTORY_PACKETS, MAX_SPATIAL, MAX_TEMPORAL};
use crate::packet::WriteError;
pub use bitrate::{UPGRADE_HOLD_US, UPGRADE_MARGIN_PERCENT};
use frames::{FrameDecisions, FrameOut};
use nack::SentRecord;
use switch::{KeyframeUse, SwitchPoint};

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
    /// Most sent packets remembered for NACKs (rounded up to a power of
    /// two), 24 bytes each (the payloads are the source's, shared). The
    /// record ring starts at 64 and grows, up to this, on control calls:
    /// [`Forwarder::set_target`] sizes it for the target's spatial layer
    /// (64 / 256 / 1024 records for layers 0 / 1 / 2), a
    /// [`Track`](crate::simulcast::Track) for the layer's measured packet
    /// rate over [`NACK_WINDOW_US`] ([`Forwarder::reserve_nack_records`]).
    /// A thumbnail's forwarder stays at 64 (1.5 KB). Never grown per packet.
    /// 0 counts as 1, more than [`MAX_HISTORY_PACKETS`] as that. Default
    /// 1024.
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

impl ForwarderConfig {
    /// Whether every setting is in its documented range; `Err` names the
    /// first that is not. [`Forwarder::new`] brings settings into range
    /// instead of failing; a host that wants to refuse bad settings calls
    /// this.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.clock_rate == 0 {
            return Err("clock_rate must be at least 1");
        }
        if !(1..=MAX_HISTORY_PACKETS).contains(&self.history_packets) {
            return Err("history_packets must be 1..=MAX_HISTORY_PACKETS");
        }
        if self.max_layer.spatial as usize >= MAX_SPATIAL
            || self.max_layer.temporal as usize >= MAX_TEMPORAL
        {
            return Err("max_layer must be below MAX_SPATIAL and MAX_TEMPORAL");
        }
        Ok(())
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

/// How long a sent packet should stay answerable to a NACK (when
/// `history_packets` allows; see [`Forwarder::reserve_nack_records`]): a
/// NACK comes a round trip plus a reorder wait after the loss, and a
/// retransmission later than this is too late to play.
pub const NACK_WINDOW_US: u64 = 1_000_000;
/// Records a forwarder starts with.
const INITIAL_NACK_RECORDS: usize = 64;

/// A spatial layer with no media for this long that sends again "came
/// alive" ([`Forwarder::poll_layers_changed`]); the source's default
/// inactivity timeout.
const LAYER_SILENT_US: u64 = 1_000_000;

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
    /// From before the keyframe of a later switch to a lower spatial layer
    /// (see [`Forwarder::retransmit`]).
    BeforeKeyframe,
    /// Sent again less than a round trip ago (see
    /// [`Forwarder::retransmit_at`]): that copy is still on its way.
    InFlight,
    BufferTooSmall {
        needed: usize,
    },
}

impl core::fmt::Display for RetransmitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFound => f.write_str("packet not sent to this subscriber or no longer kept"),
            Self::BeforeKeyframe => f.write_str("packet is from before a switch to a lower layer"),
            Self::InFlight => f.write_str("packet was sent again less than a round trip ago"),
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
    /// Keyframe requests the host took with
    /// [`Forwarder::poll_keyframe_request`] (one per switch decision; a
    /// request withdrawn before it was polled is not counted).
    pub keyframe_requests: u64,
    pub retransmitted: u64,
    /// NACKs refused as [`RetransmitError::BeforeKeyframe`].
    pub nacks_before_keyframe: u64,
    pub nacks_not_found: u64,
    /// NACKs not answered as [`RetransmitError::InFlight`].
    pub nacks_in_flight: u64,
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

/// A packet about to be sent: its output values and numbers.
#[derive(Debug, Clone, Copy)]
struct Sending {
    fields: OutFields,
    ext_seq: u64,
    ext_picture_id: Option<u64>,
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
    /// Output sequence number where the current layer's stretch began.
    layer_first_ext_seq: u64,
    /// Output sequence number of the keyframe that started the last
    /// down-switch: retransmissions of packets before it are refused.
    down_switch_ext_seq: u64,
    /// After a switch: the layer and next source sequence number of packets
    /// that arrived before the keyframe that started it (see `backfill`).
    backfill: Option<(u8, u64)>,
    /// Last source packet `backfill` may send (a deferred switch or a start
    /// from history replays what had arrived then; later packets are
    /// forwarded as they come, so a host that drains backfill late gets
    /// them reordered, not twice).
    backfill_until: Option<u64>,
    /// Highest source sequence number seen per spatial layer.
    seen_ext_seq: [u64; MAX_SPATIAL],
    /// Highest source packet of the current layer `backfill` sent: a host
    /// that forwards packets later than they reached the source (a queue,
    /// as [`Track`](crate::simulcast::Track) keeps) does not send it twice.
    /// Only a gapless run counts: a packet backfill skipped (not arrived)
    /// may come later and must then be forwarded.
    backfilled_through: Option<(u8, u64)>,
    /// Backfill skipped a packet since the switch: `backfilled_through`
    /// stays where it was.
    backfill_gap: bool,
    /// A start from the source's history: the kept keyframe to begin at.
    history_start: Option<(u8, u64)>,
    /// A keyframe of a layer on the way to the target, held back for one
    /// frame in case the target's keyframe of the same capture follows.
    candidate: Option<SwitchPoint>,
    /// Last media packet seen per spatial layer (0: never), to tell the
    /// host when a layer comes alive.
    last_media_us: [u64; MAX_SPATIAL],
    /// A layer came alive since the host last asked.
    layers_changed: bool,
    /// Latest `now` seen (the clock of `set_available_bitrate`).
    clock_us: u64,
    /// Round trip to the subscriber ([`Forwarder::set_rtt`]); 0: unknown.
    rtt_us: u64,
    /// When `set_available_bitrate` last moved down for bandwidth.
    last_downgrade_us: Option<u64>,
    /// Recent peak rate of each layer (upgrade decisions).
    rate_peaks: bitrate::RatePeaks,
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
    /// Settings out of their documented ranges are brought into them (see
    /// [`ForwarderConfig`]); [`config`](Self::config) returns what is used.
    pub fn new(mut config: ForwarderConfig) -> Self {
        config.history_packets = config.history_packets.clamp(1, MAX_HISTORY_PACKETS);
        config.clock_rate = config.clock_rate.max(1);
        let history = config
            .history_packets
            .next_power_of_two()
            .min(INITIAL_NACK_RECORDS);
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
            layer_first_ext_seq: u64::MAX,
            down_switch_ext_seq: 0,
            backfill: None,
            backfill_until: None,
            seen_ext_seq: [0; MAX_SPATIAL],
            backfilled_through: None,
            backfill_gap: false,
            history_start: None,
            candidate: None,
            last_media_us: [0; MAX_SPATIAL],
            layers_changed: false,
            clock_us: 0,
            rtt_us: 0,
            last_downgrade_us: None,
            rate_peaks: Default::default(),
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
    /// the current layer keeps flowing until it arrives (on a way down, at
    /// no higher a temporal layer than it had: it is left for not fitting).
    pub fn set_target(&mut self, layer: Layer) {
        let max = self.config.max_layer;
        let layer = Layer::new(
            layer.spatial.min(max.spatial).min(MAX_SPATIAL as u8 - 1),
            layer.temporal.min(max.temporal).min(MAX_TEMPORAL as u8 - 1),
        );
        self.auto_pause = None;
        let spatial_change = self.target.is_none_or(|t| t.spatial != layer.spatial);
        self.target = Some(layer);
        if spatial_change {
            self.candidate = None;
            self.reserve_nack_records(INITIAL_NACK_RECORDS << (2 * layer.spatial));
        }
        if self.current.is_some_and(|c| c.spatial == layer.spatial) {
            self.keyframe_request = None;
        } else if spatial_change {
            self.ask_keyframe(layer.spatial);
        }
    }

    /// Stops forwarding for a host reason (e.g. `Muted`); resumes with
    /// [`resume`](Self::resume) at the next keyframe.
    pub fn pause(&mut self, reason: PauseReason) {
        self.host_pause = Some(reason);
        self.current = None;
        self.candidate = None;
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
        self.candidate = None;
        self.keyframe_request = None;
    }

    fn ask_keyframe(&mut self, spatial: u8) {
        self.keyframe_request = Some(spatial);
    }

    /// Whether a spatial layer of the source came alive (its first media,
    /// or media again after a second of silence) since the last call: a
    /// forwarder driven by [`set_available_bitrate`](Self::set_available_bitrate)
    /// starts paused (`NoFeed`) and needs the host to run it again then.
    pub fn poll_layers_changed(&mut self) -> bool {
        core::mem::take(&mut self.layers_changed)
    }

    /// The spatial layer this forwarder needs a keyframe on, once per
    /// decision; pass it to [`Source::request_keyframe`], which merges the
    /// requests of all subscribers.
    pub fn poll_keyframe_request(&mut self) -> Option<u8> {
        let spatial = self.keyframe_request.take();
        self.stats.keyframe_requests += u64::from(spatial.is_some());
        spatial
    }

    /// Forwards `pkt` into `out` if this subscriber gets it: the rewritten
    /// packet (one copy), ready for SRTP protection in place. `out` needs
    /// [`SourcePacket::forwarded_len`] bytes (the packet's length, plus one
    /// when a 7-bit PictureID is widened), whether the packet is sent or
    /// not: a smaller buffer is refused before anything changes.
    ///
    /// Call [`backfill`](Self::backfill) after every `forward`, sent or
    /// dropped: a switch may start from packets the source already holds.
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
        self.clock_us = self.clock_us.max(now);
        if let Some(seen) = self.seen_ext_seq.get_mut(usize::from(pkt.spatial)) {
            *seen = (*seen).max(pkt.ext_seq);
        }
        if !pkt.padding_only {
            self.note_media(pkt.spatial, now);
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
        if self.candidate_expired(pkt) {
            self.take_candidate();
            if pkt.spatial == self.current.map_or(u8::MAX, |c| c.spatial) {
                // Sent by `backfill`, after the keyframe it follows.
                return Err(DropReason::OtherLayer);
            }
        }
        let on_current = self.current.is_some_and(|c| c.spatial == pkt.spatial);
        if on_current
            && self
                .backfilled_through
                .is_some_and(|(s, t)| s == pkt.spatial && pkt.ext_seq <= t)
        {
            return Err(DropReason::Late);
        }
        if !on_current {
            let not_now = if self.current.is_some() {
                DropReason::OtherLayer
            } else {
                DropReason::WaitingForKeyframe
            };
            if !pkt.keyframe {
                return Err(not_now);
            }
            match self.keyframe_use(pkt.spatial) {
                KeyframeUse::Switch => self.switch_to(&SwitchPoint::of(pkt, now)),
                KeyframeUse::Candidate => {
                    self.hold_candidate(pkt, now);
                    return Err(not_now);
                }
                KeyframeUse::Ignore => return Err(not_now),
            }
        }
        let target_spatial = self.target.expect("checked above").spatial;
        let current = self.current.as_mut().expect("set above");
        // Waiting for a lower layer's keyframe: the old layer does not fit
        // (that is why it is being left), so it never climbs meanwhile.
        let down_switch_pending = current.spatial > target_spatial;
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
                        && !down_switch_pending
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

    /// Notes a media packet of `spatial`; a layer silent for a second (or
    /// never seen) coming alive is news for the host.
    fn note_media(&mut self, spatial: u8, now: u64) {
        if let Some(last) = self.last_media_us.get_mut(usize::from(spatial)) {
            if *last == 0 || now.saturating_sub(*last) >= LAYER_SILENT_US {
                self.layers_changed = true;
            }
            *last = now.max(1);
        }
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
        let record = SentRecord::new(ext_seq, pkt.spatial, pkt.ext_seq, &fields);
        self.remember(record, ext_seq);
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += len as u64;
    }

    /// The next packet due from the source's history, written into `out` as
    /// [`forward`](Self::forward) would: a held switch's keyframe and what
    /// followed it, a start from the history
    /// ([`start_from_history`](Self::start_from_history)), or a packet of
    /// the new layer that reached the source before the keyframe that
    /// started a switch (the network reordered them). Call after every
    /// `forward`, whether it sent the packet or dropped it, until it returns
    /// `None` (a cheap check when nothing is due): a held switch is entered
    /// by a packet `forward` then drops, so calling it only after sent
    /// packets delivers those packets late (never twice).
    pub fn backfill(
        &mut self,
        source: &Source,
        out: &mut [u8],
        now: u64,
    ) -> Result<Option<usize>, WriteError> {
        if let Some((spatial, first)) = self.history_start {
            // Checked before anything moves (see below).
            if let Some(pkt) = source.kept_packet(spatial, first) {
                if out.len() < pkt.forwarded_len() {
                    return Err(WriteError::BufferTooSmall {
                        needed: pkt.forwarded_len(),
                    });
                }
            }
            self.history_start = None;
            if let Some(n) = self.start_at_kept_keyframe(source, spatial, first, out, now)? {
                return Ok(Some(n));
            }
        }
        while let Some((spatial, next)) = self.backfill {
            let highest = source
                .highest_ext_seq(spatial)
                .unwrap_or(0)
                .min(self.backfill_until.unwrap_or(u64::MAX));
            if next > highest || self.current.is_none_or(|c| c.spatial != spatial) {
                self.backfill = None;
                break;
            }
            let Some(pkt) = source.kept_packet(spatial, next) else {
                // Not arrived yet: it will be forwarded when it does.
                self.backfill = Some((spatial, next + 1));
                self.backfill_gap = true;
                continue;
            };
            // Checked before anything moves, so a too-small buffer can be
            // retried with a bigger one.
            let sent = self.forward(&pkt, out, now)?;
            if self.backfill == Some((spatial, next)) {
                self.backfill = Some((spatial, next + 1));
            }
            if let Forwarded::Sent(n) = sent {
                if !self.backfill_gap && self.current.is_some_and(|c| c.spatial == spatial) {
                    self.backfilled_through = Some((spatial, next));
                }
                return Ok(Some(n));
            }
        }
        Ok(None)
    }
}
