//! Audio release: one packet per frame, in sequence order at its playout
//! time; a missing packet becomes `Lost` once its expected playout time
//! has come, with the next packet (if held) for its in-band FEC.

use super::{Event, JitterBuffer, LastOut};

impl JitterBuffer {
    #[inline]
    pub(super) fn pop_audio(&mut self, now: u64) -> Option<Event<'_>> {
        loop {
            let head = self.ring.head()?;
            if head > self.ring.highest() {
                return None;
            }
            let Some(slot) = self.ring.held(head) else {
                return self.pop_gap(head, now);
            };
            if now < self.delay.playout_time_of_media(slot.media_us)? {
                return None;
            }
            let (ts, media_us, arrival, flags) = (slot.ts, slot.media_us, slot.arrival, slot.flags);
            let packet = self.ring.pop_held_head();
            self.nack.advance(head + 1);
            self.last_out = Some(LastOut {
                seq: head,
                ts,
                media_us,
                marker: flags.marker(),
            });
            let Some(packet) = packet.filter(|_| !flags.padding_only()) else {
                continue;
            };
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
        let (ts, media_us) = self.expected(head)?;
        if now < self.delay.playout_time_of_media(media_us)? {
            return None;
        }
        self.ring.pop_head();
        self.nack.advance(head + 1);
        self.last_out = Some(LastOut {
            seq: head,
            ts,
            media_us,
            marker: false,
        });
        self.stats.packets_lost += 1;
        if !self.in_concealment {
            self.stats.concealment_events += 1;
            self.in_concealment = true;
        }
        let fec = self.ring.held(head + 1).and_then(|s| s.packet.clone());
        Some(Event::Lost {
            seq: head,
            timestamp: ts,
            fec,
        })
    }
}
