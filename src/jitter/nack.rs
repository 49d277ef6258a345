//! NACK scheduling: which missing packets to request now, retried every RTT
//! up to a limit, and only while a retransmission could still be played.

use super::JitterBuffer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackConfig {
    pub enabled: bool,
    /// Requests per missing packet.
    pub max_retries: u8,
    /// Wait this long after noticing a gap before the first request, so that
    /// mere reordering does not trigger retransmissions.
    pub reorder_wait_us: u64,
}

impl Default for NackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_retries: 10,
            reorder_wait_us: 5_000,
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
    pub fn nack_list(&mut self, now: u64, out: &mut [u16]) -> usize {
        let Some(head) = self.head else { return 0 };
        if !self.config.nack.enabled || out.is_empty() {
            return 0;
        }
        let mut n = 0;
        // Walk from the newest down so each gap knows the next held packet,
        // which bounds its deadline; the output is reversed at the end.
        let mut next_held_ts: Option<i64> = None;
        let mut seq = self.highest;
        while seq >= head && n < out.len() {
            match self.ring.get(seq) {
                Some(slot) if slot.packet.is_some() => next_held_ts = Some(slot.ts),
                Some(slot) => {
                    let due = self.nack_due(slot.missing_since, slot.nack_last, slot.nack_retries);
                    let deadline = next_held_ts.and_then(|ts| self.delay.playout_time(ts));
                    let playable = deadline.is_some_and(|d| now + self.rtt_us <= d);
                    if due.is_some_and(|d| d <= now) && playable {
                        let slot = self.ring.get_mut(seq).expect("slot just read");
                        slot.nack_retries += 1;
                        slot.nack_last = Some(now);
                        out[n] = seq as u16;
                        n += 1;
                    }
                }
                None => {}
            }
            seq -= 1;
        }
        out[..n].reverse();
        if n > 0 {
            self.stats.nack_count += 1;
        }
        n
    }

    /// When a missing packet may be requested, if it has retries left.
    fn nack_due(&self, missing_since: u64, last: Option<u64>, retries: u8) -> Option<u64> {
        if retries >= self.config.nack.max_retries {
            return None;
        }
        Some(match last {
            None => missing_since + self.config.nack.reorder_wait_us,
            Some(t) => t + self.rtt_us,
        })
    }

    /// Earliest time a NACK could be due (for `next_wakeup`).
    pub(super) fn next_nack_time(&self) -> Option<u64> {
        let head = self.head?;
        if !self.config.nack.enabled {
            return None;
        }
        (head..self.highest)
            .filter_map(|s| self.ring.get(s).filter(|slot| slot.packet.is_none()))
            .filter_map(|slot| self.nack_due(slot.missing_since, slot.nack_last, slot.nack_retries))
            .min()
    }
}
