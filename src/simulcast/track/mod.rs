//! One published video track at the SFU, sans-IO: its [`Source`], one
//! [`Forwarder`] per subscriber, keyframe requests merged across them,
//! feedback from subscribers routed by SSRC (NACKs answered from the
//! source's history, with RFC 4588 RTX where negotiated; PLIs turned into a
//! request on the layer that subscriber gets), and one drain contract:
//!
//! ```text
//! push_rtp / push_publisher_rtcp / push_subscriber_rtcp / add_subscriber …
//! loop { match track.poll_output(now, &mut buf)? {
//!     Output::Rtp { subscriber, len, .. } => protect buf[..len], send to subscriber,
//!     Output::KeyframeRequest { ssrc }    => send a PLI for ssrc to the publisher,
//!     Output::Timeout(at)                 => break (call again at `at`, or after the next input),
//! } }
//! ```
//!
//! as str0m and gst-plugins-rs' rtpbin2 do. Every packet is written into the
//! caller's buffer; nothing is allocated per packet (tables and queues are
//! sized at creation; adding a subscriber allocates its forwarder).
//!
//! A subscriber that joins while the source's history still holds the last
//! keyframe of its layer (at most [`TrackConfig::max_history_start_us`] old)
//! and every packet since starts from that history at once: no keyframe
//! request reaches the publisher ([`Forwarder::start_from_history`]). A
//! subscriber resuming after a pause does not: the burst would land on a
//! link that was just too small.
//!
//! `Source` and `Forwarder` stay usable on their own; the track is the glue
//! every host would otherwise write.

mod feedback;
mod padding;
mod rtx;

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::{
    Forwarded, Forwarder, ForwarderConfig, Layer, PauseReason, Source, SourceConfig, SourceError,
    SourcePacket, NACK_WINDOW_US,
};
use crate::packet::WriteError;
pub use rtx::RtxConfig;
use rtx::RtxStream;

/// A subscriber's identity, chosen by the host.
pub type SubscriberId = u64;

/// Options of a [`Track`]. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackConfig {
    pub source: SourceConfig,
    /// Most subscribers. Default 1024.
    pub max_subscribers: usize,
    /// Packets pushed and not yet drained (a host drains after every push;
    /// more is a host bug, refused with [`TrackError::QueueFull`]). Default 16.
    pub queue_packets: usize,
    /// NACKed packets waiting to be answered, all subscribers together;
    /// more are counted and dropped. Default 512.
    pub nack_queue: usize,
    /// A join starts from the history only when the layer's last
    /// keyframe is at most this old (everything since goes out at once).
    /// 0: never. Default 1 s.
    pub max_history_start_us: u64,
}

impl Default for TrackConfig {
    fn default() -> Self {
        Self {
            source: SourceConfig::default(),
            max_subscribers: 1024,
            queue_packets: 16,
            nack_queue: 512,
            max_history_start_us: 1_000_000,
        }
    }
}

/// One subscriber's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriberConfig {
    pub forwarder: ForwarderConfig,
    /// RFC 4588 RTX, when the subscriber negotiated it: retransmissions go
    /// on this SSRC and payload type with the OSN in front of the payload.
    pub rtx: Option<RtxConfig>,
}

/// What a packet written by [`Track::poll_output`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpKind {
    /// Forwarded media (also replayed history after a switch or a join).
    Media,
    /// A NACKed packet sent again on the media SSRC.
    Retransmission,
    /// A NACKed packet sent again as RFC 4588 RTX.
    Rtx,
}

/// The next thing the host must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `buf[..len]` is an RTP packet for `subscriber`: protect it there and
    /// send it.
    Rtp {
        subscriber: SubscriberId,
        len: usize,
        kind: RtpKind,
    },
    /// Send a PLI for this SSRC to the publisher (merged and backed off per
    /// layer, see [`Source::poll_keyframe_request`]).
    KeyframeRequest { ssrc: u32 },
    /// Nothing more now: call again at this time, or after the next input
    /// (`u64::MAX`: no timer).
    Timeout(u64),
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackError {
    Source(SourceError),
    UnknownSubscriber,
    /// The id, or the forwarder's (or RTX) SSRC, is already in use.
    DuplicateSubscriber,
    /// `max_subscribers` reached.
    TooManySubscribers,
    /// `queue_packets` pushed and not drained: call `poll_output` first.
    QueueFull,
    /// The output buffer is too small; nothing was lost, retry with this many
    /// bytes.
    BufferTooSmall {
        needed: usize,
    },
}

impl core::fmt::Display for TrackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Source(e) => e.fmt(f),
            Self::UnknownSubscriber => f.write_str("no such subscriber"),
            Self::DuplicateSubscriber => f.write_str("subscriber id or SSRC already in use"),
            Self::TooManySubscribers => f.write_str("too many subscribers"),
            Self::QueueFull => f.write_str("packets pushed without draining poll_output"),
            Self::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
        }
    }
}

impl std::error::Error for TrackError {}

impl From<WriteError> for TrackError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::BufferTooSmall { needed } => Self::BufferTooSmall { needed },
            // A packet the source parsed always rewrites.
            _ => Self::Source(SourceError::Malformed(crate::packet::ParseError::Truncated)),
        }
    }
}

/// Counters since the track was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackStats {
    pub packets_in: u64,
    /// Pushes refused because the host had not drained.
    pub queue_full: u64,
    /// Sequence numbers subscribers NACKed.
    pub nacked: u64,
    /// NACKed numbers dropped because the NACK queue was full.
    pub nack_queue_full: u64,
    pub retransmitted: u64,
    pub rtx_sent: u64,
    /// PLIs (and FIRs) from subscribers.
    pub subscriber_plis: u64,
    /// Joins that started from the history (no keyframe asked).
    pub starts_from_history: u64,
    /// Joins that had to ask the publisher for a keyframe.
    pub starts_with_request: u64,
    /// PLIs handed to the host for the publisher.
    pub keyframe_requests_sent: u64,
    /// RTX re-sends written as probe padding
    /// ([`Track::write_probe_padding`]).
    pub probe_padding_sent: u64,
}

struct Subscriber {
    id: SubscriberId,
    fwd: Forwarder,
    rtx: Option<RtxStream>,
    /// The bandwidth for this track, when the track picks the layer itself.
    available_bps: Option<u64>,
    /// What the last probe padding sent again.
    padded: padding::RecentPadding,
}

/// One published track and its subscribers. `Send`; one thread at a time.
pub struct Track {
    config: TrackConfig,
    source: Source,
    subs: Vec<Subscriber>,
    by_id: HashMap<SubscriberId, usize>,
    /// Forwarder SSRC → subscriber index (what feedback names).
    by_ssrc: HashMap<u32, usize>,
    /// Pushed packets not yet given to every forwarder.
    queue: VecDeque<SourcePacket>,
    /// Next subscriber to give the front packet.
    cursor: usize,
    /// Subscriber whose backfill runs (after its forward, or a join).
    draining: Option<usize>,
    /// Subscribers that joined or resumed from history, to drain.
    starting: Vec<SubscriberId>,
    /// NACKed (subscriber, sequence number) to answer.
    nacks: VecDeque<(SubscriberId, u16)>,
    /// A forwarder was handed out mutably: collect its keyframe request.
    scan_requests: bool,
    stats: TrackStats,
}

impl core::fmt::Debug for Track {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Track")
            .field("subscribers", &self.subs.len())
            .field("queued", &self.queue.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Track {
    /// A track whose simulcast layers have these SSRCs, lowest first.
    pub fn new(config: TrackConfig, ssrcs: &[u32]) -> Result<Self, TrackError> {
        let source = Source::new(config.source, ssrcs).map_err(TrackError::Source)?;
        let n = config.max_subscribers;
        Ok(Self {
            source,
            subs: Vec::with_capacity(n),
            by_id: HashMap::with_capacity(n),
            by_ssrc: HashMap::with_capacity(2 * n),
            queue: VecDeque::with_capacity(config.queue_packets.max(1)),
            cursor: 0,
            draining: None,
            starting: Vec::with_capacity(n),
            nacks: VecDeque::with_capacity(config.nack_queue.max(1)),
            scan_requests: false,
            stats: TrackStats::default(),
            config,
        })
    }

    pub fn config(&self) -> &TrackConfig {
        &self.config
    }

    pub fn stats(&self) -> &TrackStats {
        &self.stats
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The source, e.g. for [`Source::set_rtt`].
    pub fn source_mut(&mut self) -> &mut Source {
        &mut self.source
    }

    pub fn subscriber_count(&self) -> usize {
        self.subs.len()
    }

    pub fn forwarder(&self, id: SubscriberId) -> Option<&Forwarder> {
        self.by_id.get(&id).map(|&i| &self.subs[i].fwd)
    }

    /// The forwarder itself, for what the track has no verb for; keyframe
    /// requests it makes are collected at the next `poll_output`.
    pub fn forwarder_mut(&mut self, id: SubscriberId) -> Option<&mut Forwarder> {
        self.scan_requests = true;
        let i = *self.by_id.get(&id)?;
        Some(&mut self.subs[i].fwd)
    }

    /// Adds a subscriber heading for `target` (capped at its maximum); it
    /// starts from the source's history when it can, else at the next
    /// keyframe (asked for).
    pub fn add_subscriber(
        &mut self,
        id: SubscriberId,
        config: SubscriberConfig,
        target: Layer,
        now: u64,
    ) -> Result<(), TrackError> {
        self.insert(id, config)?;
        self.with_sub(id, now, true, |fwd| fwd.set_target(target))
    }

    /// Adds a subscriber whose layer follows its bandwidth for this track
    /// ([`set_available_bitrate`](Self::set_available_bitrate)).
    pub fn add_subscriber_with_bitrate(
        &mut self,
        id: SubscriberId,
        config: SubscriberConfig,
        available_bps: u64,
        now: u64,
    ) -> Result<(), TrackError> {
        self.insert(id, config)?;
        if let Some(sub) = self.subs.last_mut() {
            sub.available_bps = Some(available_bps);
        }
        let bitrates = self.source.bitrates(now);
        self.with_sub(id, now, true, |fwd| {
            fwd.set_available_bitrate_at(&bitrates, available_bps, now)
        })
    }

    fn insert(&mut self, id: SubscriberId, config: SubscriberConfig) -> Result<(), TrackError> {
        let ssrc = config.forwarder.ssrc;
        let rtx_ssrc = config.rtx.map(|r| r.ssrc);
        if self.by_id.contains_key(&id)
            || self.by_ssrc.contains_key(&ssrc)
            || rtx_ssrc.is_some_and(|r| r == ssrc || self.by_ssrc.contains_key(&r))
        {
            return Err(TrackError::DuplicateSubscriber);
        }
        if self.subs.len() >= self.config.max_subscribers {
            return Err(TrackError::TooManySubscribers);
        }
        let i = self.subs.len();
        self.subs.push(Subscriber {
            id,
            fwd: Forwarder::new(config.forwarder),
            rtx: config.rtx.map(|config| RtxStream {
                config,
                next_seq: (id as u16) ^ 0x5a5a,
            }),
            available_bps: None,
            padded: padding::RecentPadding::default(),
        });
        self.by_id.insert(id, i);
        self.by_ssrc.insert(ssrc, i);
        if let Some(r) = rtx_ssrc {
            self.by_ssrc.insert(r, i);
        }
        Ok(())
    }

    /// Removes a subscriber; `false` if there was none with this id.
    pub fn remove_subscriber(&mut self, id: SubscriberId) -> bool {
        let Some(i) = self.by_id.remove(&id) else {
            return false;
        };
        let sub = self.subs.remove(i);
        self.by_ssrc.remove(&sub.fwd.config().ssrc);
        if let Some(r) = sub.rtx {
            self.by_ssrc.remove(&r.config.ssrc);
        }
        // Indices above `i` moved down by one (rare: O(subscribers)).
        for v in self.by_id.values_mut().chain(self.by_ssrc.values_mut()) {
            if *v > i {
                *v -= 1;
            }
        }
        if self.cursor > i {
            self.cursor -= 1;
        }
        self.draining = match self.draining {
            Some(d) if d == i => None,
            Some(d) if d > i => Some(d - 1),
            d => d,
        };
        self.starting.retain(|&s| s != id);
        self.nacks.retain(|&(s, _)| s != id);
        true
    }

    /// Runs `f` on a subscriber's forwarder, then (for a `join`) starts it
    /// from the history if it can, and hands its keyframe request to the
    /// source.
    ///
    /// Only a join starts from the history, not a later first target nor a
    /// resume: the replay is a burst on a link that may just have proved too
    /// small, and starting every subscriber of a meeting that begins
    /// together from the first keyframe (instead of the fresh one their
    /// requests bring) froze DSL subscribers in the conference example.
    fn with_sub(
        &mut self,
        id: SubscriberId,
        now: u64,
        join: bool,
        f: impl FnOnce(&mut Forwarder),
    ) -> Result<(), TrackError> {
        let &i = self.by_id.get(&id).ok_or(TrackError::UnknownSubscriber)?;
        let sub = &mut self.subs[i];
        f(&mut sub.fwd);
        if join && sub.fwd.target_layer().is_some() && sub.fwd.pause_reason().is_none() {
            let max_age = self.config.max_history_start_us;
            if max_age > 0 && sub.fwd.start_from_history(&self.source, max_age, now) {
                self.stats.starts_from_history += 1;
                self.starting.push(id);
            } else {
                self.stats.starts_with_request += 1;
            }
        }
        if let Some(target) = sub.fwd.target_layer() {
            // NACK records for the window at this layer's packet rate, with
            // a quarter more for its keyframes' bursts.
            let rate = self.source.packet_rate(target.spatial, now);
            let window = (rate * NACK_WINDOW_US / 1_000_000) as usize;
            sub.fwd.reserve_nack_records(window + window / 4);
        }
        if let Some(spatial) = sub.fwd.poll_keyframe_request() {
            self.source.request_keyframe(spatial);
        }
        Ok(())
    }

    /// Heads a subscriber for `layer` (see [`Forwarder::set_target`]); it no
    /// longer follows a bitrate.
    pub fn set_target(
        &mut self,
        id: SubscriberId,
        layer: Layer,
        now: u64,
    ) -> Result<(), TrackError> {
        if let Some(&i) = self.by_id.get(&id) {
            self.subs[i].available_bps = None;
        }
        self.with_sub(id, now, false, |fwd| fwd.set_target(layer))
    }

    pub fn set_max_layer(
        &mut self,
        id: SubscriberId,
        max: Layer,
        now: u64,
    ) -> Result<(), TrackError> {
        self.with_sub(id, now, false, |fwd| fwd.set_max_layer(max))
    }

    /// The subscriber's bandwidth for this track: the track picks its layer
    /// (with [`Forwarder::set_available_bitrate_at`]'s hysteresis), again
    /// whenever a layer comes alive.
    pub fn set_available_bitrate(
        &mut self,
        id: SubscriberId,
        available_bps: u64,
        now: u64,
    ) -> Result<(), TrackError> {
        let &i = self.by_id.get(&id).ok_or(TrackError::UnknownSubscriber)?;
        self.subs[i].available_bps = Some(available_bps);
        let bitrates = self.source.bitrates(now);
        self.with_sub(id, now, false, |fwd| {
            fwd.set_available_bitrate_at(&bitrates, available_bps, now)
        })
    }

    /// The round trip to the subscriber, µs (e.g. its transport's
    /// [`Bwe::rtt_us`](crate::cc::Bwe::rtt_us)): a NACK for a packet sent
    /// again less than this ago is not answered (see
    /// [`Forwarder::retransmit_at`]). 0 (the default): every NACK is.
    pub fn set_subscriber_rtt(&mut self, id: SubscriberId, rtt_us: u64) -> Result<(), TrackError> {
        let &i = self.by_id.get(&id).ok_or(TrackError::UnknownSubscriber)?;
        self.subs[i].fwd.set_rtt(rtt_us);
        Ok(())
    }

    pub fn pause(&mut self, id: SubscriberId, reason: PauseReason) -> Result<(), TrackError> {
        self.with_sub(id, 0, false, |fwd| fwd.pause(reason))
    }

    /// Resumes a paused subscriber at the next keyframe (asked for).
    pub fn resume(&mut self, id: SubscriberId, now: u64) -> Result<(), TrackError> {
        self.with_sub(id, now, false, |fwd| fwd.resume())
    }

    /// A decrypted RTP packet from the publisher; drain with `poll_output`.
    pub fn push_rtp(&mut self, packet: Bytes, now: u64) -> Result<(), TrackError> {
        if self.queue.len() >= self.queue.capacity() {
            self.stats.queue_full += 1;
            return Err(TrackError::QueueFull);
        }
        let pkt = self
            .source
            .on_rtp(packet, now)
            .map_err(TrackError::Source)?;
        self.stats.packets_in += 1;
        self.queue.push_back(pkt);
        Ok(())
    }

    /// The packet the last successful [`push_rtp`](Self::push_rtp) queued,
    /// parsed, until `poll_output` has given it to every subscriber (what
    /// the C API reports about a push).
    pub fn last_pushed(&self) -> Option<&SourcePacket> {
        self.queue.back()
    }

    /// A decrypted RTCP compound packet from the publisher (its sender
    /// reports); returns how many reports were used.
    pub fn push_publisher_rtcp(&mut self, compound: &[u8]) -> usize {
        self.source.on_rtcp(compound)
    }

    /// The next thing to do (module docs). A too-small buffer is refused
    /// before anything moves.
    pub fn poll_output(&mut self, now: u64, buf: &mut [u8]) -> Result<Output, TrackError> {
        if let Some(out) = self.poll_nack(now, buf)? {
            return Ok(out);
        }
        if let Some(out) = self.poll_starting(now, buf)? {
            return Ok(out);
        }
        if let Some(out) = self.poll_fanout(now, buf)? {
            return Ok(out);
        }
        if core::mem::take(&mut self.scan_requests) {
            for sub in &mut self.subs {
                if let Some(spatial) = sub.fwd.poll_keyframe_request() {
                    self.source.request_keyframe(spatial);
                }
            }
        }
        if let Some(ssrc) = self.source.poll_keyframe_request(now) {
            self.stats.keyframe_requests_sent += 1;
            return Ok(Output::KeyframeRequest { ssrc });
        }
        Ok(Output::Timeout(
            self.source.next_keyframe_request_at().unwrap_or(u64::MAX),
        ))
    }

    /// History replays of joins and resumes.
    fn poll_starting(&mut self, now: u64, buf: &mut [u8]) -> Result<Option<Output>, TrackError> {
        while let Some(&id) = self.starting.last() {
            let Some(&i) = self.by_id.get(&id) else {
                self.starting.pop();
                continue;
            };
            match self.subs[i].fwd.backfill(&self.source, buf, now)? {
                Some(len) => {
                    return Ok(Some(Output::Rtp {
                        subscriber: id,
                        len,
                        kind: RtpKind::Media,
                    }))
                }
                None => {
                    self.starting.pop();
                }
            }
        }
        Ok(None)
    }

    /// The queued packets, to every subscriber in turn (each forward
    /// followed by that forwarder's backfill).
    fn poll_fanout(&mut self, now: u64, buf: &mut [u8]) -> Result<Option<Output>, TrackError> {
        loop {
            if let Some(i) = self.draining {
                let sub = &mut self.subs[i];
                if let Some(len) = sub.fwd.backfill(&self.source, buf, now)? {
                    return Ok(Some(Output::Rtp {
                        subscriber: sub.id,
                        len,
                        kind: RtpKind::Media,
                    }));
                }
                self.draining = None;
                self.cursor = i + 1;
            }
            let Some(pkt) = self.queue.front() else {
                return Ok(None);
            };
            let Some(sub) = self.subs.get_mut(self.cursor) else {
                self.queue.pop_front();
                self.cursor = 0;
                continue;
            };
            let sent = sub.fwd.forward(pkt, buf, now)?;
            if sub.fwd.poll_layers_changed() {
                if let Some(bps) = sub.available_bps {
                    let bitrates = self.source.bitrates(now);
                    sub.fwd.set_available_bitrate_at(&bitrates, bps, now);
                    if let Some(spatial) = sub.fwd.poll_keyframe_request() {
                        self.source.request_keyframe(spatial);
                    }
                }
            }
            self.draining = Some(self.cursor);
            if let Forwarded::Sent(len) = sent {
                return Ok(Some(Output::Rtp {
                    subscriber: sub.id,
                    len,
                    kind: RtpKind::Media,
                }));
            }
        }
    }
}

const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Track>();
};
