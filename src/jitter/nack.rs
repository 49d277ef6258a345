//! NACK scheduling: which missing packets to request now, retried every RTT
//! up to a limit, and only while a retransmission could still be played.

use super::{JitterBuffer, Mode};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NackConfig {
    pub enabled: bool,
    /// Requests per missing packet.
    pub max_retries: u8,
    /// Wait this long after noticing a gap before the first request, so that
    /// mere reordering does not trigger retransmissions.
    pub reorder_wait_us: u64,
    /// Round trips of extra delay to hold while losses are being seen, so
    /// that retransmissions arrive before playout (0: none; NACKs are then
    /// sent only when the existing delay happens to allow a retransmission).
    /// Two round trips recover a loss whose first retransmission is lost too.
    pub delay_rtts: f64,
}

impl Default for NackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_retries: 10,
            reorder_wait_us: 5_000,
            delay_rtts: 0.0,
        }
    }
}

impl JitterBuffer {
    /// Writes into `out` the (wire) sequence numbers to NACK now, oldest
    /// first, and returns how many; marks them requested. Build the RTCP
    /// packet with `packet::rtcp::NackBuilder`. A packet is requested when
    /// its first wait or one RTT since the last request has passed, it has
    /// retries left, and a retransmission (one RTT away) would arrive before
    /// its playout time.
    ///
    /// Inline up to the check for gaps: hosts call it every 10–20 ms, and
    /// most of the time there are none.
    #[inline]
    pub fn nack_list(&mut self, now: u64, out: &mut [u16]) -> usize {
        match self.head {
            Some(head) if self.config.nack.enabled && !out.is_empty() && self.missing > 0 => {
                self.nack_gaps(head, now, out)
            }
            _ => 0,
        }
    }

    /// [`nack_list`](Self::nack_list) when there are gaps.
    #[inline(never)]
    fn nack_gaps(&mut self, head: i64, now: u64, out: &mut [u16]) -> usize {
        // Walk from the newest down so each gap knows the next held packet,
        // which bounds its deadline. `out` is used as a ring so that, when it
        // is too small, the oldest gaps (the most urgent) are the ones kept.
        let ring = out.len();
        let mut found = 0usize;
        let mut next_held_media_us: Option<i64> = None;
        for seq in self.gap_walk(head) {
            match self.ring.get(seq) {
                Some(slot) if slot.packet.is_some() => next_held_media_us = Some(slot.media_us),
                Some(slot) => {
                    let due = self.nack_due(slot.time, slot.nack_retries);
                    let deadline = next_held_media_us
                        .and_then(|m| self.delay.playout_time_of_media(m))
                        .map(|d| self.request_limit(d, slot.time));
                    let playable = deadline.is_some_and(|d| now.saturating_add(self.rtt_us) <= d);
                    if due.is_some_and(|d| d <= now) && playable {
                        out[found % ring] = seq as u16;
                        found += 1;
                    }
                }
                None => {}
            }
        }
        let n = found.min(ring);
        // Entries were written newest first; when the ring wrapped, the
        // oldest kept entry is just before position `found % ring`.
        if found > ring {
            out.rotate_left(found % ring);
        }
        out[..n].reverse();
        for &wire in &out[..n] {
            let seq = self.extended_in_window(wire, head);
            if let Some(slot) = self.ring.get_mut(seq) {
                slot.nack_retries += 1;
                slot.time = now;
            }
        }
        if n > 0 {
            self.stats.nack_count += 1;
        }
        n
    }

    /// The extended sequence number in the window `head..=highest` whose
    /// low 16 bits are `wire` (the window is shorter than 2^16).
    fn extended_in_window(&self, wire: u16, head: i64) -> i64 {
        head + i64::from(wire.wrapping_sub(head as u16))
    }

    /// The sequence numbers a NACK walk visits, newest first: the span
    /// holding every gap and the packet just after it (which bounds the
    /// newest gap's deadline), within the window. Walking the whole window
    /// would give the same result, slower when gaps are few and the window
    /// long (video). Every slot in the window is a gap or a packet, so the
    /// slot after the newest gap holds a packet.
    fn gap_walk(&self, head: i64) -> impl Iterator<Item = i64> {
        let (lo, hi) = self.gap_span;
        (lo.max(head)..=hi.saturating_add(1).min(self.highest)).rev()
    }

    /// Until when a retransmission of a missing packet is still useful, given
    /// the playout time `deadline` that bounds it and when the gap was seen
    /// (or last requested): audio, the playout time (concealed then); video,
    /// the grace an incomplete frame gets, counted from the later of the two
    /// (a frame still arriving when its tail went missing is waited for).
    fn request_limit(&self, deadline: u64, noticed: u64) -> u64 {
        match self.config.mode {
            Mode::Audio => deadline,
            Mode::Video(_) => deadline
                .max(noticed)
                .saturating_add(self.incomplete_frame_grace()),
        }
    }

    /// When a missing packet may be requested, if it has retries left: the
    /// reorder wait after it was noticed, then one RTT after each request
    /// (`time` is when it was noticed, then when it was last requested).
    fn nack_due(&self, time: u64, retries: u8) -> Option<u64> {
        if retries >= self.config.nack.max_retries {
            return None;
        }
        Some(if retries == 0 {
            time.saturating_add(self.config.nack.reorder_wait_us)
        } else {
            time.saturating_add(self.rtt_us)
        })
    }

    /// Earliest time a NACK that could still help is due (for
    /// `next_wakeup`): requests that would come back after their packet's
    /// playout time never become due.
    pub(super) fn next_nack_time(&self) -> Option<u64> {
        let head = self.head?;
        if !self.config.nack.enabled || self.missing == 0 {
            return None;
        }
        let mut next_held_media_us: Option<i64> = None;
        let mut earliest: Option<u64> = None;
        for seq in self.gap_walk(head) {
            match self.ring.get(seq) {
                Some(slot) if slot.packet.is_some() => next_held_media_us = Some(slot.media_us),
                Some(slot) => {
                    let due = self.nack_due(slot.time, slot.nack_retries);
                    let deadline = next_held_media_us
                        .and_then(|m| self.delay.playout_time_of_media(m))
                        .map(|d| self.request_limit(d, slot.time));
                    if let (Some(due), Some(deadline)) = (due, deadline) {
                        if due.saturating_add(self.rtt_us) <= deadline {
                            earliest = Some(earliest.map_or(due, |e| e.min(due)));
                        }
                    }
                }
                None => {}
            }
        }
        earliest
    }
}
