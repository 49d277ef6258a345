//! Video mode: complete frames (same timestamp, frame start to marker, no
//! holes) released in decode order; a frame that cannot complete before its
//! playout time is dropped, and decoding waits for the next keyframe, with a
//! rate-limited keyframe request to the host.

use super::store::Slot;
use super::{Event, JitterBuffer, Mode};
use crate::codec;

/// What the packets at the head make up.
enum HeadFrame {
    /// From the head to `last`, all present, ending with the marker.
    Complete {
        last: i64,
        ts: i64,
        media_us: i64,
        keyframe: bool,
        arrival: u64,
    },
    /// Missing packets; may still complete. `scan` says how far it is known
    /// to be present (none if the head itself is missing).
    Incomplete { scan: Option<FrameScan> },
    /// The head continues a frame whose start was dropped: never decodable.
    Orphan,
}

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

impl JitterBuffer {
    /// Whether keyframes of this stream's codec can be recognised.
    fn keyframe_aware(&self) -> bool {
        matches!(self.config.mode, Mode::Video(c) if codec::knows_keyframes(c))
    }

    fn is_frame_start(&self, slot: &Slot) -> bool {
        if let Some(starts) = slot.flags.starts_frame() {
            return starts;
        }
        match self.last_out {
            Some((_, ts, marker)) => marker || ts != slot.ts,
            // First frame of the stream: only a keyframe start is known to be one.
            None => slot.flags.keyframe() || !self.keyframe_aware(),
        }
    }

    /// How long past its playout time an incomplete frame is still waited
    /// for: a late frame costs a short freeze, a dropped one a keyframe round
    /// trip. One more jitter percentile for late packets (at least 30 ms),
    /// and with NACK one more retransmission.
    pub(super) fn incomplete_frame_grace(&self) -> u64 {
        let late = self.delay.percentile_us().max(30_000);
        let nack = &self.config.nack;
        if nack.enabled {
            late.saturating_add(self.rtt_us)
                .saturating_add(nack.reorder_wait_us)
        } else {
            late
        }
    }

    /// When `pop` has something to do for the frame at `head`: its playout
    /// time if complete, or when it is given up if not.
    pub(super) fn video_wakeup(&self, head: i64) -> Option<u64> {
        let deadline = self.deadline_of(head)?;
        match self.head_frame(head) {
            HeadFrame::Complete { .. } | HeadFrame::Orphan => Some(deadline),
            HeadFrame::Incomplete { scan } => Some(self.give_up_time(deadline, head, scan)),
        }
    }

    /// When an incomplete head frame is given up: the grace after its
    /// playout time, or after its latest packet arrived if that is later (a
    /// big frame still arriving is not lost).
    ///
    /// When the frame's first missing packet has been requested, it also
    /// waits for that retransmission (one round trip and a jitter margin
    /// after the request), up to one such wait beyond the grace: a big
    /// keyframe that lost its tail on a slow link is worth 100 ms more, not a
    /// keyframe request and half a second of frozen picture.
    fn give_up_time(&self, deadline: u64, head: i64, scan: Option<FrameScan>) -> u64 {
        let scan = scan.filter(|s| s.head == head);
        let last_arrival = scan.map_or(0, |s| s.arrival);
        let base = deadline
            .max(last_arrival)
            .saturating_add(self.incomplete_frame_grace());
        let retransmission_wait = self.rtt_us + self.delay.percentile_us().max(30_000);
        let requested = scan
            .and_then(|s| self.ring.get(s.next))
            .filter(|slot| slot.packet.is_none() && slot.nack_retries > 0)
            .map(|slot| slot.time.saturating_add(retransmission_wait));
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
        let (mut seq, mut arrival) = match self.frame_scan {
            Some(scan) if scan.head == head => (scan.next, scan.arrival),
            _ => (head, first.time),
        };
        let complete = |last, arrival| HeadFrame::Complete {
            last,
            ts: first.ts,
            media_us: first.media_us,
            keyframe: first.flags.keyframe(),
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
            arrival = arrival.max(slot.time);
            if slot.flags.marker() {
                return complete(seq, arrival);
            }
            if seq >= self.highest {
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
        self.frame.clear();
        loop {
            let head = self.head?;
            if head > self.highest {
                return None;
            }
            if self.ring.get(head).is_some_and(|s| s.flags.padding_only()) {
                // Padding (bandwidth probing) is neither media nor loss: skip
                // it without touching the frame boundaries.
                self.ring.take(head);
                self.head = Some(head + 1);
                continue;
            }
            match self.head_frame(head) {
                HeadFrame::Complete {
                    last,
                    ts,
                    media_us,
                    keyframe,
                    arrival,
                } => {
                    let undecodable =
                        self.waiting_for_keyframe && !keyframe && self.keyframe_aware();
                    if undecodable {
                        self.drop_packets(head, last, now);
                        continue;
                    }
                    if now < self.delay.playout_time_of_media(media_us)? {
                        return None;
                    }
                    self.frame.clear();
                    for seq in head..=last {
                        match self.ring.take(seq) {
                            Some(Slot {
                                packet: Some(p),
                                flags,
                                ..
                            }) if !flags.padding_only() => self.frame.push(p),
                            _ => {}
                        }
                    }
                    self.head = Some(last + 1);
                    self.last_out = Some((last, ts, true));
                    if self.frame.is_empty() {
                        continue;
                    }
                    if keyframe {
                        self.waiting_for_keyframe = false;
                        self.stats.key_frames_decoded += 1;
                    }
                    self.stats.frames_decoded += 1;
                    self.record_emitted(arrival, now);
                    return Some(Event::Frame {
                        packets: &self.frame,
                        first_seq: head,
                        timestamp: ts,
                        keyframe,
                    });
                }
                HeadFrame::Orphan => self.drop_packets(head, head, now),
                HeadFrame::Incomplete { scan } => {
                    self.frame_scan = scan;
                    let deadline = match self.ring.held(head) {
                        Some(slot) => self.delay.playout_time_of_media(slot.media_us)?,
                        None => self.gap_deadline(head)?.0,
                    };
                    if now < self.give_up_time(deadline, head, scan) {
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
        for seq in first..=last {
            match self.ring.take(seq) {
                Some(slot) if slot.packet.is_some() => {
                    let ts = slot.ts;
                    if !slot.flags.padding_only() && self.last_dropped_ts != Some(ts) {
                        self.stats.frames_dropped += 1;
                        self.last_dropped_ts = Some(ts);
                    }
                    self.last_out = Some((seq, ts, slot.flags.marker()));
                }
                gap => {
                    // Which frame a lost packet belonged to is unknown: keep
                    // the last known timestamp, and no frame end.
                    if gap.is_some() {
                        self.forget_gap();
                    }
                    self.stats.packets_lost += 1;
                    let ts = self.last_out.map_or(i64::MIN, |(_, ts, _)| ts);
                    self.last_out = Some((seq, ts, false));
                }
            }
            self.head = Some(seq + 1);
        }
        if self.keyframe_aware() {
            self.waiting_for_keyframe = true;
            self.request_keyframe(now);
        }
    }

    fn request_keyframe(&mut self, now: u64) {
        let interval = self.config.keyframe_request_interval_us;
        if self
            .last_keyframe_request
            .is_none_or(|t| now >= t.saturating_add(interval))
        {
            self.last_keyframe_request = Some(now);
            self.keyframe_request_pending = true;
            self.stats.keyframe_requests += 1;
        }
    }

    /// Whether the host should send a keyframe request (PLI) now; clears it.
    /// Raised at most once per `keyframe_request_interval_us`.
    pub fn take_keyframe_request(&mut self) -> bool {
        core::mem::take(&mut self.keyframe_request_pending)
    }
}
