//! Video mode: complete frames (same timestamp, frame start to marker, no
//! holes) released in decode order; a frame that cannot complete in time
//! is dropped, and decoding waits for the next keyframe, with a
//! rate-limited keyframe request to the host.
//!
//! [`FrameAssembler`] owns the frame state (how far the head frame is known
//! to be present, the keyframe wait, the request rate limit, the released
//! frame's packets); the release logic reads the ring and the delay.

use bytes::Bytes;

use super::ring::Slot;
use super::temporal::LayerChain;
use super::{Event, JitterBuffer, LastOut};
use crate::codec::{self, TemporalLayer};

/// How many frames behind a gap are looked at for one decodable without
/// the missing packets (an L1T3 stream has its next TL0 frame within 4);
/// beyond them only a keyframe is looked for, which needs nothing before
/// it (on a link whose queue makes the round trip long, incomplete frames
/// before it would each be waited for a retransmission: a complete
/// keyframe twelve frames behind a loss burst was held 1.2 s).
const FRAMES_BEHIND_GAP: usize = 8;
/// How many packets that look may walk (a big keyframe fits).
const PACKETS_BEHIND_GAP: usize = 512;

/// How far the head frame is known to be present: packets `head..next` are
/// all here, of the head's timestamp, none with the marker; `arrival` is
/// the latest of their arrivals. While the head stays, those packets stay,
/// so the next look at the head frame resumes at `next`: a big keyframe
/// arriving packet by packet is walked once, not once per `pop`.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameScan {
    pub(super) head: i64,
    pub(super) next: i64,
    pub(super) arrival: u64,
}

/// Frame state of a video buffer.
#[derive(Debug)]
pub(super) struct FrameAssembler {
    /// Whether keyframes of this codec can be recognised.
    keyframe_aware: bool,
    pub(super) scan: Option<FrameScan>,
    waiting_for_keyframe: bool,
    request_pending: bool,
    last_request: Option<u64>,
    request_interval_us: u64,
    /// Which frames the decoder can use without a keyframe.
    chain: LayerChain,
    /// Timestamp of the last frame counted in `frames_dropped`.
    last_dropped_ts: Option<i64>,
    /// The released frame's packets (reused).
    frame: Vec<Bytes>,
}

impl FrameAssembler {
    pub fn new(codec: codec::Codec, request_interval_us: u64, capacity: usize) -> Self {
        Self {
            keyframe_aware: codec::knows_keyframes(codec),
            scan: None,
            waiting_for_keyframe: true,
            request_pending: false,
            last_request: None,
            request_interval_us,
            chain: LayerChain::default(),
            last_dropped_ts: None,
            frame: Vec::with_capacity(capacity),
        }
    }

    /// The head moved back: what was known of the head frame no longer is.
    pub fn forget_scan(&mut self) {
        self.scan = None;
    }

    pub fn on_reset(&mut self) {
        self.scan = None;
        self.waiting_for_keyframe = true;
        self.chain.forget();
    }

    /// Raises a keyframe request unless one was raised within the interval.
    fn request_keyframe(&mut self, now: u64) -> bool {
        let due = self
            .last_request
            .is_none_or(|t| now >= t.saturating_add(self.request_interval_us));
        if due {
            self.last_request = Some(now);
            self.request_pending = true;
        }
        due
    }
}

/// How far a frame behind the head is here.
enum Extent {
    /// All present, up to this last packet.
    Complete(i64),
    /// This packet of it is missing.
    Missing(i64),
}

/// What the packets at the head make up.
enum HeadFrame {
    /// From the head to `last`, all present, ending with the marker.
    Complete {
        last: i64,
        ts: i64,
        media_us: i64,
        keyframe: bool,
        layer: Option<TemporalLayer>,
        arrival: u64,
    },
    /// Missing packets; may still complete. `scan` says how far it is known
    /// to be present (none if the head itself is missing).
    Incomplete { scan: Option<FrameScan> },
    /// The head continues a frame whose start was dropped: never decodable.
    Orphan,
}

impl JitterBuffer {
    fn frames(&self) -> &FrameAssembler {
        self.frames.as_ref().expect("video mode")
    }

    fn frames_mut(&mut self) -> &mut FrameAssembler {
        self.frames.as_mut().expect("video mode")
    }

    fn is_frame_start(&self, slot: &Slot) -> bool {
        if let Some(starts) = slot.flags.starts_frame() {
            return starts;
        }
        match self.last_out {
            Some(last) => last.marker || last.ts != slot.ts,
            // First frame of the stream: only a keyframe start is known to be one.
            None => slot.flags.keyframe() || !self.frames().keyframe_aware,
        }
    }

    /// How long past its playout time an incomplete frame is still waited
    /// for: a late frame costs a short freeze, a dropped one a keyframe round
    /// trip. One more jitter percentile for late packets (at least 30 ms),
    /// and with NACK one more retransmission: the reorder wait, a round
    /// trip and the jitter of both ways.
    pub(super) fn incomplete_frame_grace(&self) -> u64 {
        let late = self.delay.percentile_us().max(30_000);
        if self.nack.enabled() {
            late.saturating_add(self.retransmission_wait_us())
                .saturating_add(self.nack.reorder_wait_us())
        } else {
            late
        }
    }

    /// How long a retransmission takes after its request: a round trip
    /// and the jitter of both ways (at least 15 ms each).
    pub(super) fn retransmission_wait_us(&self) -> u64 {
        (self.nack.rtt_us())
            .saturating_add(self.delay.percentile_us().max(15_000).saturating_mul(2))
    }

    /// When `pop` has something to do for the frame at `head`: its playout
    /// time if complete, or when it is given up if not.
    pub(super) fn video_wakeup(&self, head: i64) -> Option<u64> {
        let deadline = self.deadline_of(head)?;
        match self.head_frame(head) {
            HeadFrame::Complete { .. } | HeadFrame::Orphan => Some(deadline),
            HeadFrame::Incomplete { scan } => {
                let give_up = self.give_up_time(deadline, head, scan);
                Some(match self.decodable_behind_gap(head, scan) {
                    Some((_, due)) => due.min(give_up),
                    None => give_up,
                })
            }
        }
    }

    /// The first frame behind the head's missing packets that the decoder
    /// can use without them (see [`temporal`](super::temporal); a keyframe
    /// when waiting for one), with its playout time. `None` while the head
    /// frame is only still arriving, or when no such frame is complete.
    fn decodable_behind_gap(&self, head: i64, scan: Option<FrameScan>) -> Option<(i64, u64)> {
        let first_missing = match self.ring.held(head) {
            None => head,
            Some(_) => {
                let scan = scan.filter(|s| s.head == head)?;
                if scan.next > self.ring.highest() {
                    return None;
                }
                scan.next
            }
        };
        let f = self.frames();
        let mut seq = self.ring.next_held(first_missing)?;
        let mut frames = 0;
        let mut budget = PACKETS_BEHIND_GAP;
        while budget > 0 {
            let keyframes_only = frames >= FRAMES_BEHIND_GAP;
            let slot = self.ring.held(seq)?;
            match slot.flags.starts_frame() {
                Some(true) => {}
                // The rest of a frame whose start is missing.
                Some(false) => {
                    budget -= 1;
                    seq = self.ring.next_held(seq + 1)?;
                    continue;
                }
                None => return None,
            }
            let last = match self.frame_from(seq, &mut budget)? {
                Extent::Complete(last) => last,
                // Look on behind it: a frame after it may not need it.
                Extent::Missing(at) => {
                    frames += 1;
                    seq = self.ring.next_held(at)?;
                    continue;
                }
            };
            let keyframe = slot.flags.keyframe();
            let usable = if f.waiting_for_keyframe || keyframes_only {
                keyframe
            } else {
                f.chain.decodable_after_skip(keyframe, slot.layer)
            };
            if usable {
                // Not before the missing packet could still be only
                // reordered (as measured: a queue's delay spread reorders
                // nothing).
                let lost_by = self
                    .nack
                    .noticed(first_missing)
                    .saturating_add(self.nack.measured_reorder_wait_us());
                let due = self.delay.playout_time_of_media(slot.media_us)?;
                return Some((seq, due.max(lost_by)));
            }
            frames += 1;
            seq = self.ring.next_held(last + 1)?;
        }
        None
    }

    /// How far the frame starting at `start` is here: complete up to its
    /// last packet, or missing a packet; `None` when it is still arriving
    /// (its end is beyond the newest packet) or the walk's budget runs out.
    fn frame_from(&self, start: i64, budget: &mut usize) -> Option<Extent> {
        let ts = self.ring.held(start)?.ts;
        let mut seq = start;
        loop {
            *budget = budget.checked_sub(1)?;
            let Some(slot) = self.ring.held(seq) else {
                return Some(Extent::Missing(seq));
            };
            if slot.ts != ts {
                return Some(Extent::Complete(seq - 1));
            }
            if slot.flags.marker() {
                return Some(Extent::Complete(seq));
            }
            if seq >= self.ring.highest() {
                return None;
            }
            seq += 1;
        }
    }

    /// When an incomplete head frame is given up: the grace after its
    /// playout time, or after its latest packet arrived if that is later (a
    /// big frame still arriving is not lost).
    ///
    /// When the frame's first missing packet (its first packet included) has
    /// been requested, it also
    /// waits for that retransmission (one round trip and a jitter margin
    /// after the request), or for the retry's when one is still to come (a
    /// retransmission can be lost too), up to one such wait beyond the
    /// grace — the same limit the NACK scheduler requests within: a big
    /// keyframe that lost its tail on a slow link is worth 100 ms more, not a
    /// keyframe request and half a second of frozen picture.
    fn give_up_time(&self, deadline: u64, head: i64, scan: Option<FrameScan>) -> u64 {
        let scan = scan.filter(|s| s.head == head);
        let last_arrival = scan.map_or(0, |s| s.arrival);
        let base = deadline
            .max(last_arrival)
            .saturating_add(self.incomplete_frame_grace());
        let retransmission_wait = self.retransmission_wait_us();
        // The first missing packet: after the scanned part, or the head
        // itself (a frame whose first packet was lost).
        let missing = match scan {
            Some(s) => self.ring.held(s.next).is_none().then_some(s.next),
            None => self.ring.held(head).is_none().then_some(head),
        };
        let requested = missing
            .map(|m| self.nack.requested(m))
            .filter(|&(retries, _)| retries > 0)
            .map(|(retries, at)| {
                let waits = self.request_waits(self.ring.held(head), None);
                let retry = self.nack.due(retries, at, waits);
                at.max(retry.unwrap_or(0))
                    .saturating_add(retransmission_wait)
            });
        match requested {
            Some(at) => base.max(at.min(base.saturating_add(retransmission_wait))),
            None => base,
        }
    }

    fn head_frame(&self, head: i64) -> HeadFrame {
        let Some(first) = self.ring.held(head) else {
            return HeadFrame::Incomplete { scan: None };
        };
        if !self.is_frame_start(first) {
            return HeadFrame::Orphan;
        }
        let (mut seq, mut arrival) = match self.frames().scan {
            Some(scan) if scan.head == head => (scan.next, scan.arrival),
            _ => (head, first.arrival),
        };
        let complete = |last, arrival| HeadFrame::Complete {
            last,
            ts: first.ts,
            media_us: first.media_us,
            keyframe: first.flags.keyframe(),
            layer: first.layer,
            arrival,
        };
        loop {
            let Some(slot) = self.ring.held(seq) else {
                let scan = FrameScan {
                    head,
                    next: seq,
                    arrival,
                };
                return HeadFrame::Incomplete { scan: Some(scan) };
            };
            if slot.ts != first.ts {
                // The previous packet ended the frame without a marker.
                return complete(seq - 1, arrival);
            }
            arrival = arrival.max(slot.arrival);
            if slot.flags.marker() {
                return complete(seq, arrival);
            }
            if seq >= self.ring.highest() {
                let scan = FrameScan {
                    head,
                    next: seq + 1,
                    arrival,
                };
                return HeadFrame::Incomplete { scan: Some(scan) };
            }
            seq += 1;
        }
    }

    pub(super) fn pop_video(&mut self, now: u64) -> Option<Event<'_>> {
        // The previous frame's packets are the caller's no longer.
        self.frames_mut().frame.clear();
        loop {
            let head = self.ring.head()?;
            if head > self.ring.highest() {
                return None;
            }
            if self.ring.held(head).is_some_and(|s| s.flags.padding_only()) {
                // Padding (bandwidth probing) is neither media nor loss: skip
                // it without touching the frame boundaries.
                self.ring.pop_head();
                continue;
            }
            match self.head_frame(head) {
                HeadFrame::Complete {
                    last,
                    ts,
                    media_us,
                    keyframe,
                    layer,
                    arrival,
                } => {
                    let f = self.frames();
                    if f.waiting_for_keyframe && !keyframe && f.keyframe_aware {
                        self.drop_packets(head, last, now);
                        continue;
                    }
                    if !f.chain.decodable(layer) {
                        // It references a frame skipped before it.
                        self.discard(head, last);
                        continue;
                    }
                    if now < self.delay.playout_time_of_media(media_us)? {
                        return None;
                    }
                    let mut frame = core::mem::take(&mut self.frames_mut().frame);
                    for _ in head..=last {
                        if let Some(Slot {
                            packet: Some(p),
                            flags,
                            ..
                        }) = self.ring.pop_head()
                        {
                            if !flags.padding_only() {
                                frame.push(p);
                            }
                        }
                    }
                    self.nack.advance(last + 1);
                    self.last_out = Some(LastOut {
                        seq: last,
                        ts,
                        media_us,
                        marker: true,
                    });
                    self.frames_mut().frame = frame;
                    if self.frames().frame.is_empty() {
                        continue;
                    }
                    if keyframe {
                        self.frames_mut().waiting_for_keyframe = false;
                        self.stats.key_frames_decoded += 1;
                    }
                    self.frames_mut().chain.on_released(keyframe, layer);
                    self.stats.frames_decoded += 1;
                    self.record_emitted(arrival, now);
                    return Some(Event::Frame {
                        packets: &self.frames().frame,
                        first_seq: head,
                        timestamp: ts,
                        keyframe,
                    });
                }
                HeadFrame::Orphan => self.drop_packets(head, head, now),
                HeadFrame::Incomplete { scan } => {
                    self.frames_mut().scan = scan;
                    let deadline = self.deadline_of(head)?;
                    let give_up = self.give_up_time(deadline, head, scan);
                    if let Some((start, due)) = self.decodable_behind_gap(head, scan) {
                        // The missing packets are not needed: skip them
                        // when the frame behind is due, or when they are
                        // given up anyway.
                        if now >= due.min(give_up) {
                            self.discard(head, start - 1);
                            self.frames_mut().chain.on_skip();
                            continue;
                        }
                    }
                    if now < give_up {
                        return None;
                    }
                    self.drop_packets(head, head, now);
                }
            }
        }
    }

    /// Drops packets `first..=last` at the head (missing ones count as
    /// lost), counts the frames they belonged to, and waits for a keyframe.
    fn drop_packets(&mut self, first: i64, last: i64, now: u64) {
        self.discard(first, last);
        if self.frames().keyframe_aware {
            let f = self.frames_mut();
            f.waiting_for_keyframe = true;
            f.chain.forget();
            if f.request_keyframe(now) {
                self.stats.keyframe_requests += 1;
            }
        }
    }

    /// Drops packets `first..=last` at the head (missing ones count as
    /// lost) and counts the frames they belonged to.
    fn discard(&mut self, first: i64, last: i64) {
        for seq in first..=last {
            match self.ring.pop_head() {
                Some(slot) => {
                    let f = self.frames_mut();
                    let counted = f.last_dropped_ts == Some(slot.ts);
                    if !slot.flags.padding_only() && !counted {
                        f.last_dropped_ts = Some(slot.ts);
                        self.stats.frames_dropped += 1;
                    }
                    self.last_out = Some(LastOut {
                        seq,
                        ts: slot.ts,
                        media_us: slot.media_us,
                        marker: slot.flags.marker(),
                    });
                }
                None => {
                    // Which frame a lost packet belonged to is unknown: keep
                    // the last known timestamp, and no frame end.
                    self.stats.packets_lost += 1;
                    let (ts, media_us) =
                        self.last_out.map_or((i64::MIN, 0), |l| (l.ts, l.media_us));
                    self.last_out = Some(LastOut {
                        seq,
                        ts,
                        media_us,
                        marker: false,
                    });
                }
            }
        }
        self.nack.advance(last + 1);
    }

    /// Whether the host should send a keyframe request (PLI) now; clears it.
    /// Raised at most once per `keyframe_request_interval_us`.
    pub fn take_keyframe_request(&mut self) -> bool {
        self.frames
            .as_mut()
            .is_some_and(|f| core::mem::take(&mut f.request_pending))
    }
}
