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

mod delay;
mod nack;
mod rtx;
mod store;

use bytes::Bytes;

pub use delay::{DelayConfig, DelayEstimator};
pub use nack::NackConfig;
pub use rtx::{restore_rtx, RtxConfig};

use crate::codec;
use crate::packet::{ParseError, RtpPacket, SeqUnwrapper, TimestampUnwrapper};
use store::{Flags, Ring, Slot};
use video::FrameScan;

/// What the stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One packet per frame (Opus and the like): packets are released one by
    /// one; a gap becomes a `Lost` event for concealment.
    Audio,
    /// Frames span packets: only complete frames are released.
    Video(codec::Codec),
}

/// Options of a jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    pub mode: Mode,
    /// RTP clock rate (48 000 for Opus, 90 000 for video).
    pub clock_rate: u32,
    /// Most packets held (rounded up to a power of two). A sequence jump
    /// beyond it resets the stream instead of growing memory.
    pub capacity_packets: usize,
    pub delay: DelayConfig,
    pub nack: NackConfig,
    pub rtx: Option<RtxConfig>,
    /// Least time between two keyframe requests (video).
    pub keyframe_request_interval_us: u64,
}

impl JitterConfig {
    /// Defaults for 48 kHz audio.
    pub fn audio() -> Self {
        Self {
            mode: Mode::Audio,
            clock_rate: 48_000,
            capacity_packets: 512,
            delay: DelayConfig {
                max_delay_us: 500_000,
                ..DelayConfig::default()
            },
            nack: NackConfig::default(),
            rtx: None,
            keyframe_request_interval_us: 0,
        }
    }

    /// Defaults for 90 kHz video of `codec`.
    pub fn video(codec: codec::Codec) -> Self {
        Self {
            mode: Mode::Video(codec),
            clock_rate: 90_000,
            capacity_packets: 2048,
            delay: DelayConfig::default(),
            nack: NackConfig {
                delay_rtts: 1.0,
                ..NackConfig::default()
            },
            rtx: None,
            keyframe_request_interval_us: 300_000,
        }
    }
}

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

/// Counters with their webrtc-stats meanings (times in seconds, as there).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    pub packets_received: u64,
    /// Packets declared lost at playout (after any retransmission).
    pub packets_lost: u64,
    /// Packets dropped because they arrived after their playout time.
    pub packets_discarded: u64,
    pub packets_duplicated: u64,
    pub retransmitted_packets_received: u64,
    /// RFC 3550 interarrival jitter, seconds.
    pub jitter: f64,
    /// Sum over emitted packets/frames of the time each spent in the buffer, s.
    pub jitter_buffer_delay: f64,
    /// Sum over emitted packets/frames of the target delay when emitted, s.
    pub jitter_buffer_target_delay: f64,
    pub jitter_buffer_emitted_count: u64,
    pub concealment_events: u64,
    /// NACK lists produced by `nack_list`.
    pub nack_count: u64,
    pub frames_dropped: u64,
    pub frames_decoded: u64,
    pub key_frames_decoded: u64,
    /// Keyframe requests raised (video).
    pub keyframe_requests: u64,
    /// Stream resets after a sequence jump or a run of stale packets.
    pub resets: u64,
}

/// After this many consecutive too-late packets the sender is assumed to
/// have restarted its sequence numbers.
const STALE_RUN_RESET: u32 = 64;

/// The longest delay, wait or round trip the buffer works with, µs (60 s):
/// larger settings are brought down to it.
pub const MAX_DELAY_US: u64 = 60_000_000;

/// A jitter buffer for one RTP stream (one SSRC).
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    ring: Ring,
    seq_unwrap: SeqUnwrapper,
    ts_unwrap: TimestampUnwrapper,
    delay: DelayEstimator,
    /// Next sequence number to release.
    head: Option<i64>,
    /// Highest sequence number stored.
    highest: i64,
    /// Last released (or dropped) packet: sequence number, timestamp, marker.
    last_out: Option<(i64, i64, bool)>,
    in_concealment: bool,
    /// Timestamp of the last frame counted in `frames_dropped`.
    last_dropped_ts: Option<i64>,
    waiting_for_keyframe: bool,
    keyframe_request_pending: bool,
    last_keyframe_request: Option<u64>,
    rtt_us: u64,
    stale_run: u32,
    /// Gaps (missing slots) between the head and the highest: NACK work is
    /// skipped while there are none.
    missing: u32,
    /// While `missing > 0`, every gap lies in `lo..=hi`: NACK walks cover
    /// only that span (and the packet after it), not the whole window.
    gap_span: (i64, i64),
    /// `(from, to)`: no packet is held in `from..to` (empty when equal). A
    /// run of losses at the head is then scanned once for the packet after
    /// it, not once per lost packet. Cleared when a packet lands below `to`.
    gap_run: (i64, i64),
    /// Video: how far the head frame is known to be present.
    frame_scan: Option<FrameScan>,
    /// Video: timestamp of the newest frame that fed the delay estimate.
    newest_sampled_ts: Option<i64>,
    /// When a gap was last noticed (drives the retransmission reserve).
    last_gap_at: Option<u64>,
    frame: Vec<Bytes>,
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
        let ring = Ring::new(config.capacity_packets);
        let frame_capacity = ring.capacity() as usize;
        Self {
            delay: DelayEstimator::new(config.delay, config.clock_rate),
            ring,
            config,
            seq_unwrap: SeqUnwrapper::new(),
            ts_unwrap: TimestampUnwrapper::new(),
            head: None,
            highest: 0,
            last_out: None,
            in_concealment: false,
            last_dropped_ts: None,
            waiting_for_keyframe: matches!(config.mode, Mode::Video(_)),
            keyframe_request_pending: false,
            last_keyframe_request: None,
            rtt_us: 100_000,
            stale_run: 0,
            missing: 0,
            gap_span: (0, 0),
            gap_run: (0, 0),
            frame_scan: None,
            newest_sampled_ts: None,
            last_gap_at: None,
            frame: Vec::with_capacity(frame_capacity),
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
        self.rtt_us = rtt_us.min(MAX_DELAY_US);
    }

    /// Packets held or awaited between the head and the highest received.
    pub fn len(&self) -> usize {
        match self.head {
            Some(h) if self.highest >= h => (self.highest - h + 1) as usize,
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores an RTP packet that arrived at `now` (µs). An RTX packet (see
    /// [`JitterConfig::rtx`]) is restored to its original form first.
    pub fn push(&mut self, packet: Bytes, now: u64) -> Result<Pushed, ParseError> {
        match self.config.rtx {
            Some(rtx) if is_rtx(&packet, &rtx) => self.push_rtx(packet, &rtx, now),
            _ => self.store(packet, now, false),
        }
    }

    /// An RTX packet: restored, then stored as a retransmission.
    #[inline(never)]
    fn push_rtx(&mut self, packet: Bytes, rtx: &RtxConfig, now: u64) -> Result<Pushed, ParseError> {
        if RtpPacket::parse(&packet[..])?.payload().is_empty() {
            return Ok(Pushed::Ignored);
        }
        self.store(restore_rtx(packet, rtx)?, now, true)
    }

    /// [`push`](Self::push) of a media packet (a restored one if `retransmitted`).
    #[inline]
    fn store(
        &mut self,
        packet: Bytes,
        now: u64,
        retransmitted: bool,
    ) -> Result<Pushed, ParseError> {
        let p = RtpPacket::parse(&packet[..])?;
        let seq = self.seq_unwrap.unwrap(u64::from(p.sequence_number()));
        let ts = self.ts_unwrap.unwrap(u64::from(p.timestamp()));
        let marker = p.marker();
        let padding_only = p.payload().is_empty();
        let flags = match self.config.mode {
            Mode::Video(codec) => Flags::new(
                marker,
                codec::is_keyframe_start(codec, p.payload()),
                padding_only,
                codec::starts_frame(codec, p.payload()),
            ),
            Mode::Audio => Flags::new(marker, false, padding_only, None),
        };
        self.stats.packets_received += 1;
        if retransmitted {
            self.stats.retransmitted_packets_received += 1;
        }

        let mut outcome = Pushed::Stored;
        let head = match self.head {
            None => {
                self.start_at(seq);
                seq
            }
            Some(head) if seq < head && self.may_move_head_back(seq, head) => {
                // Nothing released yet: a packet sent before the first one to
                // arrive still belongs to the stream.
                for missing in seq + 1..head {
                    self.ring.put(Slot::missing(missing, now));
                }
                if head - seq > 1 {
                    self.note_gaps(seq + 1, head - 1);
                }
                self.last_gap_at = Some(now);
                self.head = Some(seq);
                self.frame_scan = None;
                seq
            }
            Some(head) if seq < head => {
                self.stale_run += 1;
                if self.stale_run >= STALE_RUN_RESET {
                    self.reset(seq);
                    outcome = Pushed::Reset;
                    seq
                } else {
                    self.stats.packets_discarded += 1;
                    return Ok(Pushed::TooLate);
                }
            }
            Some(head) if seq >= head + self.ring.capacity() => {
                self.reset(seq);
                outcome = Pushed::Reset;
                seq
            }
            Some(head) => head,
        };
        self.stale_run = 0;

        match self.ring.get(seq) {
            Some(s) if s.packet.is_some() => {
                self.stats.packets_duplicated += 1;
                return Ok(Pushed::Duplicate);
            }
            Some(_) => self.forget_gap(),
            None => {}
        }
        if seq > self.highest {
            // Everything between the old highest and this one is a gap.
            let first_gap = (self.highest + 1).max(head);
            for missing in first_gap..seq {
                self.ring.put(Slot::missing(missing, now));
            }
            if seq > first_gap {
                self.note_gaps(first_gap, seq - 1);
                self.last_gap_at = Some(now);
            }
            self.highest = seq;
        }
        if seq < self.gap_run.1 {
            // It may land in the remembered run of gaps.
            self.gap_run = (0, 0);
        }
        let media_us = self.delay.media_us(ts);
        if !retransmitted {
            match self.config.mode {
                Mode::Audio => self.delay.on_arrival(media_us, now),
                Mode::Video(_) => {
                    // One delay sample per frame, at its first packet: the
                    // rest of a frame trails by its transmission time (a
                    // big keyframe takes 100 ms or more), which is not
                    // network jitter and must not raise every frame's delay.
                    let transit = self.delay.update_jitter(media_us, now);
                    if self.newest_sampled_ts.is_none_or(|t| ts > t) {
                        self.newest_sampled_ts = Some(ts);
                        self.delay.sample_transit(transit, now);
                    }
                }
            }
            self.reserve_for_retransmissions(now);
        }
        self.ring.put(Slot {
            seq,
            packet: Some(packet),
            ts,
            media_us,
            time: now,
            flags,
            nack_retries: 0,
        });
        Ok(outcome)
    }

    /// Counts the new gaps `first..=last` and widens the span holding gaps.
    fn note_gaps(&mut self, first: i64, last: i64) {
        self.gap_span = if self.missing == 0 {
            (first, last)
        } else {
            (self.gap_span.0.min(first), self.gap_span.1.max(last))
        };
        self.missing += (last - first + 1) as u32;
    }

    /// Whether `seq`, older than the head, can become the head: nothing has
    /// been released yet and the window still fits.
    fn may_move_head_back(&self, seq: i64, head: i64) -> bool {
        self.last_out.is_none() && self.highest - seq < self.ring.capacity() / 2 && head - seq > 0
    }

    /// With NACK on and losses seen in the last 10 s, keeps the target
    /// delay long enough for a retransmission to arrive: `delay_rtts` round
    /// trips, the reorder wait, one packet interval and twice the delay
    /// percentile (the gap is noticed late by up to one jitter, and the
    /// retransmission is jittered too), as libwebrtc's video receiver does.
    fn reserve_for_retransmissions(&mut self, now: u64) {
        let nack = self.config.nack;
        if !(nack.enabled && nack.delay_rtts > 0.0) || self.config.delay.fixed_delay_us.is_some() {
            // No reserve (the audio default), or a fixed delay, which ignores
            // floors: the floor stays 0, nothing to do on each packet.
            return;
        }
        let recent_loss = self
            .last_gap_at
            .is_some_and(|t| now < t.saturating_add(10_000_000));
        let floor = if recent_loss {
            ((nack.delay_rtts * self.rtt_us as f64) as u64)
                .saturating_add(nack.reorder_wait_us)
                .saturating_add(self.packet_interval_us())
                .saturating_add(self.delay.percentile_us().saturating_mul(2))
        } else {
            0
        };
        self.delay.set_floor(floor, now);
    }

    /// Media time between consecutive packets at the highest sequence number
    /// (20 ms for typical audio; used as a margin).
    fn packet_interval_us(&self) -> u64 {
        match (
            self.ring.held(self.highest),
            self.ring.held(self.highest - 1),
        ) {
            (Some(a), Some(b)) => a.media_us.saturating_sub(b.media_us).clamp(0, 100_000) as u64,
            _ => 20_000,
        }
    }

    /// A gap slot was filled or played out.
    fn forget_gap(&mut self) {
        debug_assert!(self.missing > 0, "gap accounting");
        self.missing = self.missing.saturating_sub(1);
    }

    fn start_at(&mut self, seq: i64) {
        self.head = Some(seq);
        self.highest = seq - 1;
        self.frame_scan = None;
    }

    fn reset(&mut self, seq: i64) {
        self.ring.clear();
        self.missing = 0;
        self.gap_run = (0, 0);
        self.delay.reset_timing();
        self.newest_sampled_ts = None;
        self.stats.resets += 1;
        self.stale_run = 0;
        self.last_out = None;
        self.in_concealment = false;
        if matches!(self.config.mode, Mode::Video(_)) {
            self.waiting_for_keyframe = true;
        }
        self.start_at(seq);
    }

    /// The next event due at `now`, if any. Call until `None`.
    ///
    /// Inline (with audio's common path): it runs at least twice per packet,
    /// and a call costs as much as the work when nothing is due.
    #[inline]
    pub fn pop(&mut self, now: u64) -> Option<Event<'_>> {
        match self.config.mode {
            Mode::Audio => self.pop_audio(now),
            Mode::Video(_) => self.pop_video(now),
        }
    }

    /// When the next event (or NACK retry) is due, if anything is pending.
    pub fn next_wakeup(&self) -> Option<u64> {
        let head = self.head?;
        let release = match (head <= self.highest, self.config.mode) {
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

    /// Playout deadline of `seq`: its own timestamp's, or for a gap the
    /// timestamp interpolated between the last released and the next held.
    #[inline]
    fn deadline_of(&self, seq: i64) -> Option<u64> {
        match self.ring.held(seq) {
            Some(slot) => self.delay.playout_time_of_media(slot.media_us),
            None => self.delay.playout_time(self.expected_ts(seq)?),
        }
    }

    /// [`deadline_of`](Self::deadline_of) a gap, with its expected
    /// timestamp; remembers the run of gaps it starts (see `gap_run`).
    fn gap_deadline(&mut self, seq: i64) -> Option<(u64, i64)> {
        let next = self.next_held(seq)?.seq;
        self.gap_run = (seq, next);
        let ts = self.expected_ts(seq)?;
        Some((self.delay.playout_time(ts)?, ts))
    }

    /// The first packet held at or after `from`.
    fn next_held(&self, from: i64) -> Option<&Slot> {
        let (run_from, run_to) = self.gap_run;
        let start = if run_from <= from && from < run_to {
            run_to
        } else {
            from
        };
        (start..=self.highest).find_map(|s| self.ring.held(s))
    }

    /// Timestamp a missing `seq` would have had. Audio interpolates (one
    /// packet per frame); video takes the next held packet's, since a gap may
    /// be the start of that frame.
    fn expected_ts(&self, seq: i64) -> Option<i64> {
        let next = self.next_held(seq)?;
        if matches!(self.config.mode, Mode::Video(_)) {
            return Some(next.ts);
        }
        match self.last_out {
            Some((last_seq, last_ts, _)) if next.seq > last_seq && last_ts != i64::MIN => {
                let (span, k) = (next.seq - last_seq, seq - last_seq);
                let interpolated = next
                    .ts
                    .checked_sub(last_ts)
                    .and_then(|step| step.checked_mul(k))
                    .and_then(|x| last_ts.checked_add(x / span));
                if interpolated.is_some() {
                    return interpolated;
                }
                // i128: garbage timestamps must not overflow.
                let span = i128::from(next.seq - last_seq);
                let step = i128::from(next.ts) - i128::from(last_ts);
                let ts = i128::from(last_ts) + step * i128::from(seq - last_seq) / span;
                Some(ts.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
            }
            _ => Some(next.ts),
        }
    }

    #[inline]
    fn record_emitted(&mut self, arrival: u64, now: u64) {
        self.stats.jitter_buffer_delay += now.saturating_sub(arrival) as f64 * 1e-6;
        self.stats.jitter_buffer_target_delay += self.delay.target_us() as f64 * 1e-6;
        self.stats.jitter_buffer_emitted_count += 1;
    }

    #[inline]
    fn pop_audio(&mut self, now: u64) -> Option<Event<'_>> {
        loop {
            let head = self.head?;
            if head > self.highest {
                return None;
            }
            // The common case, a packet at the head, without leaving this
            // function: one ring lookup for its deadline, one to move it out.
            let Some(slot) = self.ring.held(head) else {
                return self.pop_gap(head, now);
            };
            if now < self.delay.playout_time_of_media(slot.media_us)? {
                return None;
            }
            let (ts, arrival) = (slot.ts, slot.time);
            let (marker, padding_only) = (slot.flags.marker(), slot.flags.padding_only());
            let packet = self.ring.take_packet(head)?;
            self.head = Some(head + 1);
            self.last_out = Some((head, ts, marker));
            if padding_only {
                continue;
            }
            self.in_concealment = false;
            self.record_emitted(arrival, now);
            return Some(Event::Packet {
                packet,
                seq: head,
                timestamp: ts,
            });
        }
    }

    /// A gap at the head: `Lost` once its expected playout time has come.
    #[inline(never)]
    fn pop_gap(&mut self, head: i64, now: u64) -> Option<Event<'_>> {
        let (deadline, ts) = self.gap_deadline(head)?;
        if now < deadline {
            return None;
        }
        self.head = Some(head + 1);
        if self.ring.take(head).is_some() {
            self.forget_gap();
        }
        self.last_out = Some((head, ts, false));
        self.stats.packets_lost += 1;
        if !self.in_concealment {
            self.stats.concealment_events += 1;
            self.in_concealment = true;
        }
        let fec = self.ring.get(head + 1).and_then(|s| s.packet.clone());
        Some(Event::Lost {
            seq: head,
            timestamp: ts,
            fec,
        })
    }
}

fn is_rtx(packet: &[u8], rtx: &RtxConfig) -> bool {
    packet.len() >= 12
        && u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]) == rtx.rtx_ssrc
}

mod video;

/// The shortcuts kept for speed (`gap_run`, `gap_span`, `frame_scan`) must
/// give what a full walk gives.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RtpBuilder;

    fn rtp(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Bytes {
        let mut buf = vec![0u8; 12 + payload.len()];
        RtpBuilder {
            payload_type: 96,
            sequence_number: seq,
            timestamp: ts,
            ssrc: 7,
            marker,
            payload,
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        Bytes::from(buf)
    }

    fn fixed(mut config: JitterConfig, delay_us: u64) -> JitterBuffer {
        config.delay.fixed_delay_us = Some(delay_us);
        JitterBuffer::new(config)
    }

    #[test]
    fn a_long_loss_is_reported_in_order_and_a_late_packet_inside_it_still_plays() {
        let mut jb = fixed(JitterConfig::audio(), 40_000);
        let at = |seq: u16| u64::from(seq) * 20_000;
        for seq in 0..10 {
            jb.push(rtp(seq, u32::from(seq) * 960, false, b"a"), at(seq))
                .unwrap();
        }
        // 10..300 lost; 300 arrives; then 150 arrives late but in time.
        jb.push(rtp(300, 300 * 960, false, b"a"), at(300)).unwrap();
        let mut events = vec![];
        let mut now = at(10);
        while now <= at(300) + 40_000 {
            if now == at(140) {
                jb.push(rtp(150, 150 * 960, false, b"a"), now).unwrap();
            }
            while let Some(e) = jb.pop(now) {
                events.push(match e {
                    Event::Packet { seq, timestamp, .. } => (seq, timestamp, true),
                    Event::Lost { seq, timestamp, .. } => (seq, timestamp, false),
                    Event::Frame { .. } => unreachable!(),
                });
            }
            now += 10_000;
        }
        let expected: Vec<_> = (0..=300)
            .map(|s: i64| (s, s * 960, s < 10 || s == 150 || s == 300))
            .collect();
        assert_eq!(events, expected);
        assert_eq!(jb.stats().packets_lost, 289);
    }

    #[test]
    fn nack_sees_gaps_at_both_ends_of_a_long_window() {
        let mut config = JitterConfig::audio();
        config.delay.max_delay_us = 10_000_000;
        let mut jb = fixed(config, 5_000_000);
        jb.set_rtt(10_000);
        let at = |seq: u16| u64::from(seq) * 20_000;
        for seq in (0..200u16).filter(|s| ![1, 2, 197].contains(s)) {
            jb.push(rtp(seq, u32::from(seq) * 960, false, b"a"), at(seq))
                .unwrap();
        }
        let now = at(199) + 10_000;
        let mut out = [0u16; 8];
        let n = jb.nack_list(now, &mut out);
        assert_eq!(&out[..n], &[1, 2, 197]);
        // A filled gap is not requested again; the others are, an RTT later.
        jb.push(rtp(2, 2 * 960, false, b"a"), now + 500).unwrap();
        assert_eq!(jb.next_wakeup(), Some(now + 10_000));
        let n = jb.nack_list(now + 10_000, &mut out);
        assert_eq!(&out[..n], &[1, 197]);
    }

    #[test]
    fn a_big_keyframe_arriving_packet_by_packet_is_released_whole() {
        let vp8 = |seq: u16, ts: u32, marker: bool, start: bool| {
            rtp(seq, ts, marker, &[if start { 0x10 } else { 0 }, 0x00, 0xaa])
        };
        let mut jb = fixed(JitterConfig::video(codec::Codec::Vp8), 50_000);
        let mut frames = vec![];
        for round in 0..2u16 {
            // The second keyframe comes after a far jump (a reset): the
            // head frame's progress must not carry over.
            let base = round * 10_000;
            let ts = u32::from(round) * 900_000;
            for i in 0..300u16 {
                let now = u64::from(round) * 10_000_000 + u64::from(i) * 10;
                jb.push(vp8(base + i, ts, i == 299, i == 0), now).unwrap();
                while let Some(e) = jb.pop(now + 60_000) {
                    if let Event::Frame {
                        packets, first_seq, ..
                    } = e
                    {
                        frames.push((first_seq, packets.len()));
                    }
                }
            }
        }
        assert_eq!(frames, vec![(0, 300), (10_000, 300)]);
        assert_eq!(jb.stats().resets, 1);
    }

    #[test]
    fn a_packet_landing_in_a_remembered_run_of_gaps_ends_it() {
        let mut jb = fixed(JitterConfig::audio(), 40_000);
        jb.push(rtp(0, 0, false, b"a"), 0).unwrap();
        jb.push(rtp(300, 300 * 960, false, b"a"), 1_000).unwrap();
        assert!(jb.gap_deadline(1).is_some());
        assert_eq!(jb.gap_run, (1, 300));
        assert_eq!(jb.next_held(5).map(|s| s.seq), Some(300));
        jb.push(rtp(150, 150 * 960, false, b"a"), 2_000).unwrap();
        assert_eq!(jb.next_held(5).map(|s| s.seq), Some(150));
        assert_eq!(jb.next_held(151).map(|s| s.seq), Some(300));
    }

    #[test]
    fn the_head_frame_progress_is_forgotten_on_a_reset() {
        let vp8 = |seq: u16, marker: bool, start: bool| {
            rtp(seq, 0, marker, &[if start { 0x10 } else { 0 }, 0x00, 0xaa])
        };
        let mut jb = fixed(JitterConfig::video(codec::Codec::Vp8), 50_000);
        for seq in 0..6 {
            jb.push(vp8(seq, false, seq == 0), 0).unwrap();
        }
        assert!(jb.pop(0).is_none());
        assert!(matches!(jb.frame_scan, Some(FrameScan { next: 6, .. })));
        // The same head after a reset: packets 1..=5 are gone.
        jb.reset(0);
        for seq in [0, 6, 7] {
            jb.push(vp8(seq, seq == 7, seq == 0), 0).unwrap();
        }
        // Past its playout time (50 ms) but within the wait for late packets.
        assert!(jb.pop(60_000).is_none(), "frame 0 misses packets 1..=5");
    }
}
