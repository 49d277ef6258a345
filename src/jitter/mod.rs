//! Jitter buffer: reorders packets by sequence number, holds each until its
//! playout time (an adaptive target delay above the fastest recent packet),
//! declares gaps lost when their time passes, schedules NACKs, restores RTX
//! packets, and in video mode releases only complete frames in decode order,
//! skipping to the next keyframe when a frame cannot be completed.
//!
//! Sans-IO: [`JitterBuffer::push`] packets as they arrive, call
//! [`JitterBuffer::pop`] until it returns `None`, and come back at
//! [`JitterBuffer::next_wakeup`]. Packets are kept as `Bytes` (no copy);
//! memory is fixed at construction.
//!
//! The parts, each owning its invariants and tested alone:
//! - [`ring`]: the packets of the window and the bitmap of which are held
//!   (the gap index);
//! - [`nack`]: which gaps to request when, what was requested (so that a
//!   retransmission, RTX or not, is known as one), with [`reorder`]'s
//!   measured reordering;
//! - [`delay`]: the target delay from per-packet (audio) or per-frame
//!   (video) delays, which retransmissions never feed;
//! - [`reserve`]: video's opt-in round trip for retransmissions in that
//!   delay, once NACKs are needed;
//! - [`clock`]: timestamps to local media time, an outlier costing at most
//!   its packet;
//! - [`frame`]: video frame assembly, keyframe waits and requests, with
//!   [`temporal`]'s record of which frames the decoder can still use (a
//!   lost frame above VP8's base temporal layer is skipped at the next
//!   decodable frame's playout time, without a keyframe);
//! - [`audio`]: audio release, one packet per frame, a gap as `Lost`
//!   with the next packet for its in-band FEC;
//! - this module: the push path, which ties them together.
//!
//! Product defaults. Audio ([`JitterConfig::audio`]) is conversational:
//! the delay follows the jitter only, losses are left to Opus in-band FEC
//! (each `Lost` event offers the next packet) and concealment, and NACKs
//! are sent only for packets whose retransmission can still arrive in time
//! at that delay (short round trips). [`JitterConfig::audio_with_nack_reserve`]
//! keeps two retransmission round trips in the delay instead (for
//! recording or transcription, where completeness beats latency). Video
//! keeps no reserve: an incomplete frame waits for its retransmission.

mod audio;
mod clock;
mod config;
mod delay;
mod frame;
mod nack;
mod reorder;
mod reserve;
mod ring;
mod rtx;
mod temporal;

use bytes::Bytes;

pub use config::{JitterConfig, Mode};
pub use delay::{DelayConfig, DelayEstimator};
pub use nack::NackConfig;
pub use rtx::{restore_rtx, RtxConfig};

use crate::codec;
use crate::packet::{ParseError, RtpPacket, SeqUnwrapper, TimestampUnwrapper};
use clock::{MediaClock, Placed};
use frame::FrameAssembler;
use nack::{Filled, NackScheduler};
use reserve::RetransmissionReserve;
use ring::{Flags, Inserted, PacketRing, Slot};

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Stored,
    /// Already held (a packet already released counts as `TooLate`).
    Duplicate,
    /// Its playout time passed (or it was declared lost) before it arrived.
    TooLate,
    /// Stored after a sequence jump too large for the window reset the stream.
    Reset,
    /// A padding-only RTX packet (bandwidth probing): nothing to store.
    Ignored,
}

/// Something for the consumer, in playout order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// Audio: the next packet to decode.
    Packet {
        packet: Bytes,
        seq: i64,
        timestamp: i64,
    },
    /// Audio: this packet will not come; conceal it. `fec` is the next
    /// packet when it is already here: decode its in-band FEC (Opus) for this
    /// one now; the packet itself still comes as its own event later.
    Lost {
        seq: i64,
        timestamp: i64,
        fec: Option<Bytes>,
    },
    /// Video: a complete frame, packets in order.
    Frame {
        packets: &'a [Bytes],
        first_seq: i64,
        timestamp: i64,
        keyframe: bool,
    },
}

/// How fast a video buffer's target delay may rise, µs per second. At once,
/// a rise holds every later frame back by all of it at one moment (a
/// render gap as long as the rise: the frames queued behind a big keyframe
/// raised it by twice their own delay); libwebrtc's timing moves its
/// playout delay by at most 100 ms per second.
pub(crate) const VIDEO_DELAY_RISE_US_PER_S: u64 = 100_000;

/// The longest delay, wait or round trip the buffer works with, µs (60 s):
/// larger settings are brought down to it.
pub const MAX_DELAY_US: u64 = 60_000_000;

/// Counters with their webrtc-stats meanings (times in seconds, as there).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    pub packets_received: u64,
    /// Packets declared lost at playout (after any retransmission).
    pub packets_lost: u64,
    /// Packets dropped because they arrived after their playout time.
    pub packets_discarded: u64,
    pub packets_duplicated: u64,
    /// Retransmissions received: RTX packets, packets pushed with
    /// [`JitterBuffer::push_retransmission`], and packets filling a gap
    /// this buffer had requested.
    pub retransmitted_packets_received: u64,
    /// RFC 3550 interarrival jitter, seconds.
    pub jitter: f64,
    /// Sum over emitted packets/frames of the time each spent in the buffer, s.
    pub jitter_buffer_delay: f64,
    /// Sum over emitted packets/frames of the target delay when emitted, s.
    pub jitter_buffer_target_delay: f64,
    pub jitter_buffer_emitted_count: u64,
    pub concealment_events: u64,
    /// NACK lists produced (`nack_list`, or `on_nack_sent` calls).
    pub nack_count: u64,
    /// Sequence numbers requested, counting each request.
    pub nacked_packets: u64,
    /// Packets whose timestamp did not fit the stream (placed at their
    /// arrival, not measured), and timestamp jumps taken up.
    pub timestamp_outliers: u64,
    pub timestamp_jumps: u64,
    pub frames_dropped: u64,
    pub frames_decoded: u64,
    pub key_frames_decoded: u64,
    /// Keyframe requests raised (video).
    pub keyframe_requests: u64,
    /// Stream resets after a sequence jump or a run of stale packets.
    pub resets: u64,
}

/// After this many consecutive too-late packets (RTX retransmissions not
/// counted) the sender is assumed to have restarted its sequence numbers.
const STALE_RUN_RESET: u32 = 64;

/// The last packet released or declared lost.
#[derive(Debug, Clone, Copy)]
struct LastOut {
    seq: i64,
    ts: i64,
    media_us: i64,
    marker: bool,
}

/// A jitter buffer for one RTP stream (one SSRC).
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    ring: PacketRing,
    nack: NackScheduler,
    delay: DelayEstimator,
    clock: MediaClock,
    /// Video only.
    frames: Option<FrameAssembler>,
    seq_unwrap: SeqUnwrapper,
    ts_unwrap: TimestampUnwrapper,
    last_out: Option<LastOut>,
    in_concealment: bool,
    /// Audio keeps a retransmission reserve in its delay (NACK enabled,
    /// `delay_rtts` > 0, adaptive delay): fixed by the configuration.
    reserve_rtts: bool,
    stale_run: u32,
    /// Video: timestamp of the newest keyframe seen.
    keyframe_ts: Option<i64>,
    /// Video: timestamp of the newest frame that fed the delay estimate.
    newest_sampled_ts: Option<i64>,
    /// Video: whether the target keeps a round trip for retransmissions.
    reserve: RetransmissionReserve,
    /// The latest `now` seen (push, pop, NACK calls): `next_wakeup` takes
    /// no time and must not point at a request that can no longer help.
    now_hint: u64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// Settings out of range are brought into it (absurd values must not
    /// overflow the time arithmetic): delays and waits at most
    /// [`MAX_DELAY_US`], a minimum delay at most the maximum, the initial
    /// delay between them, `delay_rtts` in 0..=16 (NaN: 0).
    pub fn new(mut config: JitterConfig) -> Self {
        let d = &mut config.delay;
        d.max_delay_us = d.max_delay_us.min(MAX_DELAY_US);
        d.min_delay_us = d.min_delay_us.min(d.max_delay_us);
        d.initial_delay_us = d.initial_delay_us.clamp(d.min_delay_us, d.max_delay_us);
        d.margin_us = d.margin_us.min(MAX_DELAY_US);
        d.fixed_delay_us = d.fixed_delay_us.map(|f| f.min(MAX_DELAY_US));
        let n = &mut config.nack;
        n.reorder_wait_us = n.reorder_wait_us.min(MAX_DELAY_US);
        n.delay_rtts = if n.delay_rtts.is_nan() {
            0.0
        } else {
            n.delay_rtts.clamp(0.0, 16.0)
        };
        let reserve_rtts = config.nack.enabled
            && config.nack.delay_rtts > 0.0
            && config.delay.fixed_delay_us.is_none();
        let ring = PacketRing::new(config.capacity_packets);
        let capacity = ring.capacity() as usize;
        let mut delay = DelayEstimator::new(config.delay, config.clock_rate);
        if matches!(config.mode, Mode::Video(_)) {
            delay.limit_rise(VIDEO_DELAY_RISE_US_PER_S);
        }
        Self {
            delay,
            nack: NackScheduler::new(config.nack, capacity),
            frames: match config.mode {
                Mode::Video(codec) => Some(FrameAssembler::new(
                    codec,
                    config.keyframe_request_interval_us,
                    capacity,
                )),
                Mode::Audio => None,
            },
            ring,
            config,
            clock: MediaClock::default(),
            seq_unwrap: SeqUnwrapper::new(),
            ts_unwrap: TimestampUnwrapper::new(),
            last_out: None,
            in_concealment: false,
            reserve_rtts,
            stale_run: 0,
            keyframe_ts: None,
            newest_sampled_ts: None,
            reserve: RetransmissionReserve::default(),
            now_hint: 0,
            stats: JitterStats::default(),
        }
    }

    pub fn config(&self) -> &JitterConfig {
        &self.config
    }

    pub fn stats(&self) -> JitterStats {
        JitterStats {
            jitter: self.delay.jitter_seconds(),
            ..self.stats
        }
    }

    /// Current target delay (webrtc-stats' jitterBufferTargetDelay per packet).
    pub fn target_delay_us(&self) -> u64 {
        self.delay.target_us()
    }

    /// Round-trip time to the sender, for NACK timing. Default 100 ms.
    /// (At most [`MAX_DELAY_US`]: a longer round trip is no round trip.)
    pub fn set_rtt(&mut self, rtt_us: u64) {
        self.nack.set_rtt(rtt_us.min(MAX_DELAY_US));
        if self.reserve.is_on() {
            self.delay.set_reserve(self.nack.rtt_us(), self.now_hint);
        }
    }

    /// Video with NACK: whether the target delay keeps one round trip
    /// (see [`set_rtt`](Self::set_rtt)) above the jitter once
    /// retransmissions are needed (3 NACKs, each within 60 s of the
    /// previous; off again 60 s after the last), so that a lost packet's
    /// retransmission comes before its frame is due instead of freezing
    /// the picture for a round trip. libwebrtc's receivers do this. Costs
    /// that round trip of latency on a lossy path; off by default (the
    /// delay follows the jitter only). Ignored for audio, whose reserve is
    /// [`NackConfig::delay_rtts`].
    pub fn set_retransmission_reserve(&mut self, on: bool) {
        if !matches!(self.config.mode, Mode::Video(_)) {
            return;
        }
        self.reserve.set_enabled(on);
        if !on {
            self.delay.set_reserve(0, self.now_hint);
        }
    }

    /// Wait before a gap is first requested: until reordering has been
    /// measured (20 packets came reordered; video: or 128 packets came),
    /// the configured `reorder_wait_us` or the delay jitter if longer; then
    /// a high quantile of how late reordered packets came (video: at least
    /// three times the RFC 3550 jitter, at most the delay jitter). Video
    /// gaps of whole frames wait the shorter reordering of frames' first
    /// packets, once 20 of them have come reordered.
    pub fn reorder_wait_us(&self) -> u64 {
        self.nack.reorder_wait_us()
    }

    /// Packets held or awaited between the head and the highest received.
    pub fn len(&self) -> usize {
        self.ring.window_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores an RTP packet that arrived at `now` (µs). An RTX packet (see
    /// [`JitterConfig::rtx`]) is restored to its original form first and
    /// counts as a retransmission; so does a packet filling a gap this
    /// buffer requested.
    ///
    /// Inline: the push path is short enough that a call, its register
    /// saves and the `Result` through memory are a measurable share of it.
    #[inline]
    pub fn push(&mut self, packet: Bytes, now: u64) -> Result<Pushed, ParseError> {
        match self.config.rtx {
            Some(rtx) if is_rtx(&packet, &rtx) => self.push_rtx(packet, &rtx, now),
            _ => self.store(packet, now, false),
        }
    }

    /// [`push`](Self::push) of a packet the host knows to be a
    /// retransmission (restored from RTX by the host, or retransmitted on
    /// the media SSRC): it fills its gap but never feeds the delay estimate.
    pub fn push_retransmission(&mut self, packet: Bytes, now: u64) -> Result<Pushed, ParseError> {
        match self.config.rtx {
            Some(rtx) if is_rtx(&packet, &rtx) => self.push_rtx(packet, &rtx, now),
            _ => self.store_retransmission(packet, now),
        }
    }

    /// An RTX packet: restored, then stored as a retransmission.
    #[inline(never)]
    fn push_rtx(&mut self, packet: Bytes, rtx: &RtxConfig, now: u64) -> Result<Pushed, ParseError> {
        if RtpPacket::parse(&packet[..])?.payload().is_empty() {
            return Ok(Pushed::Ignored);
        }
        self.store_retransmission(restore_rtx(packet, rtx)?, now)
    }

    /// [`store`](Self::store) of a known retransmission: out of line, so
    /// that only [`push`](Self::push) carries an inlined copy.
    #[inline(never)]
    fn store_retransmission(&mut self, packet: Bytes, now: u64) -> Result<Pushed, ParseError> {
        self.store(packet, now, true)
    }

    #[inline(always)]
    fn store(
        &mut self,
        packet: Bytes,
        now: u64,
        mut retransmitted: bool,
    ) -> Result<Pushed, ParseError> {
        let p = RtpPacket::parse(&packet[..])?;
        self.now_hint = self.now_hint.max(now);
        let seq = self.seq_unwrap.unwrap(u64::from(p.sequence_number()));
        let ts = self.ts_unwrap.unwrap(u64::from(p.timestamp()));
        let padding_only = p.payload().is_empty();
        let (flags, layer) = match self.config.mode {
            Mode::Video(codec) => {
                let info = codec::inspect(codec, p.payload());
                let flags = Flags::new(p.marker(), info.keyframe, padding_only, info.starts_frame);
                (flags, info.layer)
            }
            Mode::Audio => (Flags::new(p.marker(), false, padding_only, None), None),
        };
        if flags.keyframe() {
            self.keyframe_ts = Some(ts);
        }
        self.stats.packets_received += 1;
        // Known retransmissions count as received even when duplicates
        // (webrtc-stats' retransmittedPacketsReceived); inferred ones below.
        self.stats.retransmitted_packets_received += u64::from(retransmitted);

        let mut outcome = Pushed::Stored;
        let head = match self.ring.head() {
            None => {
                self.ring.start_at(seq);
                seq
            }
            Some(head) if seq < head && self.may_move_head_back(seq) => {
                // Nothing released yet: a packet sent before the first one to
                // arrive still belongs to the stream.
                self.ring.move_head_back(seq);
                self.nack.on_gaps(seq + 1, head - 1, now);
                if let Some(f) = &mut self.frames {
                    f.forget_scan();
                }
                seq
            }
            Some(head) if seq < head => {
                // A known retransmission (RTX) of a played packet is no sign
                // of a restarted sender: probe clusters are filled with them.
                self.stale_run += u32::from(!retransmitted);
                if self.stale_run < STALE_RUN_RESET {
                    self.stats.packets_discarded += 1;
                    return Ok(Pushed::TooLate);
                }
                self.reset(seq);
                outcome = Pushed::Reset;
                seq
            }
            Some(head) if seq >= head + self.ring.capacity() => {
                self.reset(seq);
                outcome = Pushed::Reset;
                seq
            }
            Some(head) => head,
        };
        self.stale_run = 0;
        if self.ring.held(seq).is_some() {
            self.stats.packets_duplicated += 1;
            return Ok(Pushed::Duplicate);
        }

        let (placed, transit) = self.clock.place_timed(
            self.delay.media_us(ts),
            now,
            self.delay.base_transit_us(),
            self.delay.max_delay_us(),
        );
        let (media_us, suspect) = match placed {
            Placed::Normal(m) => (m, false),
            Placed::Suspect(m) => (m, true),
        };
        self.stats.timestamp_outliers += u64::from(suspect);
        let slot = Slot {
            seq,
            packet: Some(packet),
            ts,
            media_us,
            arrival: now,
            flags,
            layer,
        };
        if let Inserted::Stored {
            first_gap,
            filled_gap,
        } = self.ring.insert(slot)
        {
            if filled_gap {
                if !retransmitted
                    && self
                        .nack
                        .on_filled(seq, now, flags.starts_frame() == Some(true))
                        == Filled::Requested
                {
                    retransmitted = true;
                    self.stats.retransmitted_packets_received += 1;
                }
            } else if seq > first_gap {
                self.nack.on_gaps(first_gap.max(head), seq - 1, now);
            }
        }
        if retransmitted {
            // Not a network delay sample: the buffer asked for it.
        } else if !suspect {
            self.measure(seq, ts, transit, flags, now);
            // The percentile and two of its bins: the spread's edge.
            let spread = self.delay.jitter_us() + 4_000;
            // Once reordering is measured its histogram sets the wait. A
            // video frame's packets come in bursts that per-packet jitter
            // reorders with a tail too thin for the histogram (2 % loss,
            // 0-30 ms jitter: 11 % of NACKs for merely reordered packets
            // without a floor, 3 % with), so its wait stays above the
            // short-term spread: 3 x the RFC 3550 jitter (its mean |D| of
            // a uniform 0..M jitter is M / 3), capped by the percentile,
            // which also holds slow queueing that reorders nothing (60-150
            // ms on the conference's mobile link: with it as the floor, 681
            // freezes over 200 ms in 120 seeds; 565 with this one).
            let settled = self.frames.is_some().then(|| {
                let short_term = (self.delay.jitter_seconds() * 3e6) as u64 + 4_000;
                short_term.min(spread)
            });
            self.nack.set_reorder_floor(spread, settled);
        }
        Ok(outcome)
    }

    /// Feeds the delay estimate with an original packet's arrival (its
    /// transit: arrival minus media time).
    #[inline]
    fn measure(&mut self, seq: i64, ts: i64, transit: i64, flags: Flags, now: u64) {
        match self.config.mode {
            Mode::Audio => {
                self.delay.on_transit(transit, now);
                self.reserve_for_retransmissions(seq, now);
            }
            Mode::Video(_) => {
                if self.reserve.counting() {
                    self.expire_retransmission_reserve(now);
                }
                // One delay sample per frame, at its first packet: the rest
                // of a frame trails by its transmission time (a big keyframe
                // takes 100 ms or more), which is not network jitter. A
                // frame whose first packet was lost is not sampled.
                self.delay.note_transit(transit);
                let newer = self.newest_sampled_ts.is_none_or(|t| ts > t);
                if newer && flags.starts_frame() != Some(false) {
                    self.newest_sampled_ts = Some(ts);
                    self.delay.sample_transit(transit, now);
                }
            }
        }
    }

    /// A NACK was sent at `now` (see [`reserve`]).
    pub(super) fn note_nack(&mut self, now: u64) {
        if self.reserve.on_nack(now) {
            self.delay.set_reserve(self.nack.rtt_us(), now);
        }
    }

    #[inline(never)]
    fn expire_retransmission_reserve(&mut self, now: u64) {
        if self.reserve.expire(now) {
            self.delay.set_reserve(0, now);
        }
    }

    /// Whether `seq`, older than the head, can become the head: nothing has
    /// been released yet and the window still fits.
    fn may_move_head_back(&self, seq: i64) -> bool {
        self.last_out.is_none() && self.ring.highest() - seq < self.ring.capacity() / 2
    }

    /// Audio with `delay_rtts` > 0: keeps the target delay long enough for
    /// that many requests: a gap shows one packet interval and up to one
    /// jitter after the lost packet was due; the first request waits for
    /// reordering; each retransmission takes a round trip plus the jitter
    /// of both ways (which each retry waits for). Held from the first
    /// packet, since the first loss may come at any time.
    #[inline]
    fn reserve_for_retransmissions(&mut self, seq: i64, now: u64) {
        if self.reserve_rtts {
            self.keep_reserve(seq, now);
        }
    }

    /// Out of line: most configurations keep no reserve, and its body in
    /// the push path costs them register spills.
    #[inline(never)]
    fn keep_reserve(&mut self, seq: i64, now: u64) {
        let nack = self.config.nack;
        let jitter = self.delay.jitter_us();
        let round_trip = self.nack.rtt_us().saturating_add(jitter.saturating_mul(2));
        let floor = self
            .packet_interval_us(seq)
            .saturating_add(jitter)
            .saturating_add(self.nack.reorder_wait_us())
            .saturating_add((nack.delay_rtts * round_trip as f64) as u64);
        self.delay.set_floor(floor, now);
    }

    /// Media time between `seq` and the packet before it (20 ms for
    /// typical audio; used as a margin).
    fn packet_interval_us(&self, seq: i64) -> u64 {
        match (self.ring.held(seq), self.ring.held(seq - 1)) {
            (Some(a), Some(b)) => a.media_us.saturating_sub(b.media_us).clamp(0, 100_000) as u64,
            _ => 20_000,
        }
    }

    /// Forgets the stream (a sequence jump or a restart): O(packets held).
    fn reset(&mut self, seq: i64) {
        self.ring.clear();
        self.nack.reset();
        self.delay.reset_timing();
        self.newest_sampled_ts = None;
        self.stats.resets += 1;
        self.stale_run = 0;
        self.last_out = None;
        self.in_concealment = false;
        if let Some(f) = &mut self.frames {
            f.on_reset();
        }
        self.ring.start_at(seq);
    }

    /// The next event due at `now`, if any. Call until `None`.
    #[inline]
    pub fn pop(&mut self, now: u64) -> Option<Event<'_>> {
        self.now_hint = self.now_hint.max(now);
        match self.config.mode {
            Mode::Audio => self.pop_audio(now),
            Mode::Video(_) => self.pop_video(now),
        }
    }

    /// When the next event (or NACK) is due, if anything is pending.
    pub fn next_wakeup(&self) -> Option<u64> {
        let head = self.ring.head()?;
        let release = match (head <= self.ring.highest(), self.config.mode) {
            (false, _) => None,
            (true, Mode::Audio) => self.deadline_of(head),
            (true, Mode::Video(_)) => self.video_wakeup(head),
        };
        let nack = self.next_nack_time();
        match (release, nack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Playout deadline of `seq`: its own media time's, or for a gap the
    /// media time expected there.
    #[inline]
    fn deadline_of(&self, seq: i64) -> Option<u64> {
        match self.ring.held(seq) {
            Some(slot) => self.delay.playout_time_of_media(slot.media_us),
            None => self.delay.playout_time_of_media(self.expected(seq)?.1),
        }
    }

    /// Timestamp and media time a missing `seq` would have had. Audio
    /// interpolates between the last released and the next held (one
    /// packet per frame); video takes the next held packet's, since a gap
    /// may be the start of that frame.
    fn expected(&self, seq: i64) -> Option<(i64, i64)> {
        let next = self.ring.held(self.ring.next_held(seq)?)?;
        if self.frames.is_some() {
            return Some((next.ts, next.media_us));
        }
        match self.last_out {
            Some(last) if next.seq > last.seq => {
                let (k, n) = (seq - last.seq, next.seq - last.seq);
                let at = |from: i64, to: i64| {
                    // In i64 when nothing overflows (the same value), else
                    // in i128: garbage timestamps must not overflow.
                    let exact = to
                        .checked_sub(from)
                        .and_then(|step| step.checked_mul(k))
                        .and_then(|v| from.checked_add(v / n));
                    if let Some(v) = exact {
                        return v;
                    }
                    let step = i128::from(to) - i128::from(from);
                    let v = i128::from(from) + step * i128::from(k) / i128::from(n);
                    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
                };
                Some((at(last.ts, next.ts), at(last.media_us, next.media_us)))
            }
            _ => Some((next.ts, next.media_us)),
        }
    }

    #[inline]
    fn record_emitted(&mut self, arrival: u64, now: u64) {
        self.stats.jitter_buffer_delay += now.saturating_sub(arrival) as f64 * 1e-6;
        self.stats.jitter_buffer_target_delay += self.delay.target_us() as f64 * 1e-6;
        self.stats.jitter_buffer_emitted_count += 1;
    }
}

fn is_rtx(packet: &[u8], rtx: &RtxConfig) -> bool {
    packet.len() >= 12
        && u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]) == rtx.rtx_ssrc
}

mod requests;

#[cfg(test)]
mod tests;
