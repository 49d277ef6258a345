//! The buffer's NACK interface: which sequence numbers to request now,
//! recording which were sent, and when the next request falls due. The
//! scheduling itself is [`nack`](super::nack)'s; this adds what only the
//! buffer knows (playout deadlines, the video frame grace).

use super::nack::Waits;
use super::ring::Slot;
use super::JitterBuffer;

impl JitterBuffer {
    /// The waits of a gap between the held packets `prev` and `next`: inside
    /// a keyframe when either is of it (`prev` not its last). Elsewhere: the
    /// reorder wait, then one round trip and a retry margin of twice the
    /// measured delay percentile (the jitter of the request's way and of
    /// the retransmission's; 0 with a fixed delay, which measures none).
    /// Inside a keyframe, where a request that comes too early costs one
    /// duplicate packet and one that comes too late (after its frame is
    /// given up) a keyframe request and a frozen picture for a keyframe
    /// round trip: three quarters of the reordering measured (not the
    /// delay spread, which a filling queue inflates without reordering
    /// anything: seen, a first NACK 100 ms after its gap on a congested
    /// link; and not all of it: on a path that reorders by 100 ms an
    /// upgrade's keyframe that lost its last packet froze 279 ms, most of
    /// it that wait), and one percentile of retry margin.
    pub(super) fn request_waits(&self, prev: Option<&Slot>, next: Option<&Slot>) -> Waits {
        let jitter = self.delay.jitter_us();
        let of_keyframe = |s: &Slot| Some(s.ts) == self.keyframe_ts;
        let in_keyframe = next.is_some_and(of_keyframe)
            || prev.is_some_and(|p| of_keyframe(p) && !p.flags.marker());
        let mut waits = if in_keyframe {
            Waits {
                first_us: self.nack.measured_reorder_wait_us() * 3 / 4,
                retry_margin_us: jitter,
            }
        } else {
            Waits {
                first_us: self.nack.reorder_wait_us(),
                retry_margin_us: jitter.saturating_mul(2),
            }
        };
        if self.whole_frames_missing(prev, next) {
            waits.first_us = waits.first_us.min(self.nack.frame_reorder_wait_us());
        }
        waits
    }

    /// Whether a gap is of whole video frames: the packet before it (held,
    /// or else the last released) ends a frame, and `next` starts a later
    /// one.
    fn whole_frames_missing(&self, prev: Option<&Slot>, next: Option<&Slot>) -> bool {
        let Some(next) = next else { return false };
        let before = match prev {
            Some(p) => Some((p.ts, p.flags.marker())),
            None => self.last_out.map(|l| (l.ts, l.marker)),
        };
        self.frames.is_some()
            && next.flags.starts_frame() == Some(true)
            && before.is_some_and(|(ts, ends_frame)| ends_frame && next.ts > ts)
    }

    /// Until when a retransmission of a gap is useful, given the next held
    /// packet after it and when the gap was noticed: audio, that packet's
    /// playout time; video, the longest an incomplete frame is waited for
    /// (the grace, and one more retransmission once requested), counted
    /// from the later of the two (a frame still arriving when its tail went
    /// missing is waited for).
    fn request_limit(&self, next: &Slot, noticed: u64) -> Option<u64> {
        let deadline = self.delay.playout_time_of_media(next.media_us)?;
        Some(match self.frames {
            None => deadline,
            Some(_) => self.frame_request_limit(deadline, noticed),
        })
    }

    /// [`request_limit`](Self::request_limit) in video mode. Out of line:
    /// inlined, the frame waits were computed ahead of every NACK walk,
    /// audio's too (a third of a walk's instructions).
    #[inline(never)]
    fn frame_request_limit(&self, deadline: u64, noticed: u64) -> u64 {
        deadline
            .max(noticed)
            .saturating_add(self.incomplete_frame_grace())
            .saturating_add(self.retransmission_wait_us())
    }

    /// The gaps due for a request now, oldest first, converted by `conv`;
    /// when `out` is too short the oldest (most urgent) are kept.
    fn collect_due<T: Copy>(&self, now: u64, out: &mut [T], conv: impl Fn(i64) -> T) -> usize {
        if out.is_empty() || !self.nack.enabled() || self.ring.missing() == 0 {
            return 0;
        }
        let (len, rtt) = (out.len(), self.nack.rtt_us());
        let mut found = 0usize;
        // Newest first, into `out` used as a ring (`at` is `found % len`).
        let mut at = 0usize;
        self.nack.walk(
            &self.ring,
            now,
            |prev, next| self.request_waits(prev, Some(next)),
            |next, noticed| self.request_limit(next, noticed),
            |seq, due, limit| {
                if due <= now && now.saturating_add(rtt) <= limit {
                    out[at] = conv(seq);
                    found += 1;
                    at = if at + 1 == len { 0 } else { at + 1 };
                }
                true
            },
        );
        let n = found.min(len);
        if found > len {
            out.rotate_left(found % len);
        }
        out[..n].reverse();
        n
    }

    /// Writes into `out` the extended sequence numbers to request now,
    /// oldest first, and returns how many. Nothing is recorded: call
    /// [`on_nack_sent`](Self::on_nack_sent) with those actually sent. A gap
    /// is due after the reorder wait (see
    /// [`reorder_wait_us`](Self::reorder_wait_us)), then one round trip
    /// plus a jitter margin after each request, up to `max_retries`, while
    /// a retransmission could still arrive in time.
    #[inline]
    pub fn poll_nacks(&self, now: u64, out: &mut [i64]) -> usize {
        // Inline: usually nothing is missing.
        if self.ring.missing() == 0 {
            return 0;
        }
        self.poll_due_nacks(now, out)
    }

    #[inline(never)]
    fn poll_due_nacks(&self, now: u64, out: &mut [i64]) -> usize {
        self.collect_due(now, out, |seq| seq)
    }

    /// Records that a NACK naming `seqs` (extended, as from
    /// [`poll_nacks`](Self::poll_nacks)) was sent at `now`. Sequence numbers
    /// no longer missing are ignored.
    #[inline]
    pub fn on_nack_sent(&mut self, now: u64, seqs: &[i64]) {
        self.now_hint = self.now_hint.max(now);
        // Inline: usually nothing was due.
        if !seqs.is_empty() {
            self.mark_sent(now, seqs);
        }
    }

    #[inline(never)]
    fn mark_sent(&mut self, now: u64, seqs: &[i64]) {
        let Some(head) = self.ring.head() else { return };
        let mut any = false;
        for &seq in seqs {
            if (head..=self.ring.highest()).contains(&seq) && self.ring.held(seq).is_none() {
                self.nack.mark(seq, now);
                self.stats.nacked_packets += 1;
                any = true;
            }
        }
        self.stats.nack_count += u64::from(any);
        if any {
            self.note_nack(now);
        }
    }

    /// [`poll_nacks`](Self::poll_nacks) and
    /// [`on_nack_sent`](Self::on_nack_sent) in one call, with wire (16-bit)
    /// sequence numbers, assuming the NACK is sent. Kept for the C layer of
    /// ABI 0; new code should use the two calls.
    #[doc(hidden)]
    #[inline]
    pub fn nack_list(&mut self, now: u64, out: &mut [u16]) -> usize {
        self.now_hint = self.now_hint.max(now);
        let Some(head) = self.ring.head() else {
            return 0;
        };
        if self.ring.missing() == 0 {
            return 0;
        }
        let n = self.collect_due(now, out, |seq| seq as u16);
        for &wire in &out[..n] {
            // The window is shorter than 2^16: the low bits name one seq.
            let seq = head + i64::from(wire.wrapping_sub(head as u16));
            self.nack.mark(seq, now);
        }
        self.stats.nacked_packets += n as u64;
        self.stats.nack_count += u64::from(n > 0);
        if n > 0 {
            self.note_nack(now);
        }
        n
    }

    /// Whether the packet with RTP sequence number `seq` is one this buffer
    /// requested and still misses: if it arrives now, it is a
    /// retransmission. For a host that feeds the same stream to a second
    /// buffer that does not request anything (the mixer's taps wait for
    /// retransmissions, its mix does not), so that the second buffer can
    /// take it with [`push_retransmission`](Self::push_retransmission) and
    /// not read its lateness as network delay.
    pub fn awaits_retransmission(&self, seq: u16) -> bool {
        let Some(head) = self.ring.head() else {
            return false;
        };
        let seq = self.seq_unwrap.peek(u64::from(seq));
        (head..=self.ring.highest()).contains(&seq)
            && self.ring.held(seq).is_none()
            && self.nack.requested(seq).0 > 0
    }

    /// Earliest time a request that could still help is due (for
    /// `next_wakeup`): requests that would come back after their packet's
    /// playout time never become due.
    pub(super) fn next_nack_time(&self) -> Option<u64> {
        if !self.nack.enabled() || self.ring.missing() == 0 {
            return None;
        }
        let rtt = self.nack.rtt_us();
        let now = self.now_hint;
        // A plain minimum and a flag, not an `Option` folded with
        // `map_or`: inlined into the walk, the optimiser compared the
        // `None`'s undefined payload before testing the tag (harmless, but
        // valgrind reports it as a jump on an uninitialised value).
        let (mut earliest, mut found) = (u64::MAX, false);
        self.nack.walk(
            &self.ring,
            now,
            |prev, next| self.request_waits(prev, Some(next)),
            |next, noticed| self.request_limit(next, noticed),
            |_, due, limit| {
                if due.max(now).saturating_add(rtt) <= limit {
                    earliest = earliest.min(due);
                    found = true;
                }
                true
            },
        );
        found.then_some(earliest)
    }
}
