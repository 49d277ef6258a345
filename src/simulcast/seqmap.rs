//! Counter mapping that skips deliberately dropped values, so that a
//! subscriber sees gapless sequence numbers (and PictureIDs) while the
//! forwarder drops packets of layers it does not send.
//!
//! `out = in - base - (drops at or below in)`. Drops are kept, sorted, in a
//! short ring so that values arriving late (reordered) are placed between
//! them. A late value may itself be dropped without a hole as long as no
//! value above it has been sent; otherwise its number was already implied
//! and the hole stays (the receiver sees a loss). Values older than the
//! ring, or from before the last rebase, are refused.

/// Recent drops remembered for placing late values.
const RECENT_DROPS: usize = 128;

#[derive(Debug, Clone)]
pub(crate) struct DropMap {
    /// `in - out` for a value with no drop at or below it.
    base_offset: u64,
    /// Lowest input accepted since the last rebase.
    first_in: u64,
    max_in: Option<u64>,
    /// Highest input given a number (sent).
    max_sent: Option<u64>,
    /// Drops since the rebase.
    drop_total: u64,
    /// Ring of the most recent drops, ascending from `start`: the low 32
    /// bits of each (a drop is within 2^32 below `max_in`), so that two maps
    /// per forwarder stay small (1 KB together).
    drops: [u32; RECENT_DROPS],
    start: usize,
    len: usize,
    /// Values at or below this may have drops the ring no longer holds.
    floor: Option<u64>,
}

impl Default for DropMap {
    fn default() -> Self {
        Self {
            base_offset: 0,
            first_in: 0,
            max_in: None,
            max_sent: None,
            drop_total: 0,
            drops: [0; RECENT_DROPS],
            start: 0,
            len: 0,
            floor: None,
        }
    }
}

impl DropMap {
    /// Starts a new mapping where input `first_in` becomes output `first_out`.
    pub fn rebase(&mut self, first_in: u64, first_out: u64) {
        *self = Self {
            base_offset: first_in.wrapping_sub(first_out),
            first_in,
            ..Self::default()
        };
    }

    fn drop_at(&self, i: usize) -> u64 {
        let low = self.drops[(self.start + i) % RECENT_DROPS];
        let anchor = self.max_in.unwrap_or(0);
        anchor - u64::from((anchor as u32).wrapping_sub(low))
    }

    /// Drops at or below `value`, and whether `value` is one; `None` when the
    /// ring no longer knows.
    fn drops_up_to(&self, value: u64) -> Option<(u64, bool)> {
        if self.floor.is_some_and(|f| value <= f) {
            return None;
        }
        let mut above = 0;
        let mut is_drop = false;
        for i in (0..self.len).rev() {
            let d = self.drop_at(i);
            if d <= value {
                is_drop = d == value;
                break;
            }
            above += 1;
        }
        Some((self.drop_total - above, is_drop))
    }

    /// The output `value` has or would have, without recording anything;
    /// `None` if it was dropped, is from before the rebase or too old.
    pub fn peek(&self, value: u64) -> Option<u64> {
        if value < self.first_in {
            return None;
        }
        let (below, is_drop) = self.drops_up_to(value)?;
        (!is_drop).then(|| value.wrapping_sub(self.base_offset).wrapping_sub(below))
    }

    /// The output for `value` (see [`peek`](Self::peek)), recording it as sent.
    pub fn forward(&mut self, value: u64) -> Option<u64> {
        let out = self.peek(value)?;
        if self.max_in.is_none_or(|m| value > m) {
            self.max_in = Some(value);
        }
        if self.max_sent.is_none_or(|m| value > m) {
            self.max_sent = Some(value);
        }
        Some(out)
    }

    /// The input that has output `out` (the inverse of `forward`), if it was
    /// seen, not dropped, and can still be placed.
    pub fn inverse(&self, out: u64) -> Option<u64> {
        let max_in = self.max_in?;
        // Each step adds the drops newly at or below the candidate.
        let mut value = out.wrapping_add(self.base_offset);
        for _ in 0..=RECENT_DROPS {
            let (below, _) = self.drops_up_to(value)?;
            let next = out.wrapping_add(self.base_offset).wrapping_add(below);
            if next == value {
                return (value <= max_in && self.peek(value) == Some(out)).then_some(value);
            }
            value = next;
        }
        None
    }

    /// Records that `value` is not sent, so later values close up behind it.
    pub fn drop_value(&mut self, value: u64) {
        if value < self.first_in || self.max_sent.is_some_and(|m| value <= m) {
            return; // its number is implied by what was sent: a hole stays
        }
        if self.floor.is_some_and(|f| value <= f) {
            return;
        }
        // Position from the back (late drops are near the head).
        let mut at = self.len;
        while at > 0 && self.drop_at(at - 1) >= value {
            if self.drop_at(at - 1) == value {
                return;
            }
            at -= 1;
        }
        if self.len == RECENT_DROPS {
            if at == 0 {
                self.floor = Some(value);
                self.drop_total += 1;
                return;
            }
            self.floor = Some(self.drop_at(0));
            self.start = (self.start + 1) % RECENT_DROPS;
            self.len -= 1;
            at -= 1;
        }
        if self.max_in.is_none_or(|m| value > m) {
            self.max_in = Some(value);
        }
        let mut i = self.len;
        while i > at {
            self.drops[(self.start + i) % RECENT_DROPS] =
                self.drops[(self.start + i - 1) % RECENT_DROPS];
            i -= 1;
        }
        self.drops[(self.start + at) % RECENT_DROPS] = value as u32;
        self.len += 1;
        self.drop_total += 1;
    }

    /// The output the next new head value would get.
    #[cfg(test)]
    pub fn next_out(&self) -> u64 {
        let next = self.max_in.map_or(self.first_in, |m| m + 1);
        next.wrapping_sub(self.base_offset)
            .wrapping_sub(self.drop_total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_at_the_head_leave_no_gap() {
        let mut m = DropMap::default();
        m.rebase(100, 1000);
        assert_eq!(m.forward(100), Some(1000));
        m.drop_value(101);
        m.drop_value(102);
        assert_eq!(m.forward(103), Some(1001));
        assert_eq!(m.forward(103), Some(1001), "same value, same output");
        assert_eq!(m.next_out(), 1002);
    }

    #[test]
    fn upstream_losses_stay_visible() {
        let mut m = DropMap::default();
        m.rebase(10, 0);
        assert_eq!(m.forward(10), Some(0));
        // 11 lost before the SFU: a hole the receiver must see and NACK.
        assert_eq!(m.forward(12), Some(2));
        assert_eq!(m.forward(11), Some(1));
    }

    #[test]
    fn late_values_are_placed_between_drops() {
        let mut m = DropMap::default();
        m.rebase(0, 0);
        assert_eq!(m.forward(0), Some(0));
        // 1 arrives late; 2 dropped, 3 sent.
        m.drop_value(2);
        assert_eq!(m.forward(3), Some(2));
        assert_eq!(m.forward(1), Some(1));
        assert_eq!(m.forward(2), None, "a dropped value is never sent");
        assert_eq!(m.forward(u64::MAX / 2), Some(u64::MAX / 2 - 1));
    }

    #[test]
    fn inverse_finds_the_input_of_every_output() {
        let mut m = DropMap::default();
        m.rebase(1000, 10);
        let mut sent = Vec::new();
        for v in 1000..1100u64 {
            if v % 3 == 1 {
                m.drop_value(v);
            } else {
                sent.push((v, m.forward(v).unwrap()));
            }
        }
        for (v, out) in sent {
            assert_eq!(m.inverse(out), Some(v));
            assert_eq!(m.peek(v), Some(out));
        }
        assert_eq!(
            m.peek(1100),
            Some(m.next_out()),
            "what the next value would get"
        );
        assert_eq!(m.inverse(m.next_out()), None, "not seen yet");
        assert_eq!(m.inverse(9), None, "before the rebase");
    }

    #[test]
    fn a_late_drop_closes_up_when_nothing_above_it_was_sent() {
        let mut m = DropMap::default();
        m.rebase(0, 0);
        assert_eq!(m.forward(0), Some(0));
        // A dropped frame of three packets arrives 3, 1, 2.
        m.drop_value(3);
        m.drop_value(1);
        m.drop_value(2);
        assert_eq!(m.forward(4), Some(1), "no hole");
        // Once 6 is sent, a late 5 cannot be dropped without a hole.
        assert_eq!(m.forward(6), Some(3));
        m.drop_value(5);
        assert_eq!(m.forward(7), Some(4));
        assert_eq!(m.forward(5), Some(2), "still placed; it was not dropped");
    }

    #[test]
    fn values_before_the_rebase_are_refused() {
        let mut m = DropMap::default();
        m.rebase(500, 7);
        assert_eq!(m.forward(499), None);
        assert_eq!(m.forward(500), Some(7));
    }

    #[test]
    fn too_old_to_place_is_refused() {
        let mut m = DropMap::default();
        m.rebase(0, 0);
        for v in 0..(2 * RECENT_DROPS as u64) {
            m.drop_value(2 * v + 1);
            assert_eq!(m.forward(2 * v + 2), Some(v + 1));
        }
        assert_eq!(m.forward(2), None, "below the remembered drops");
        let recent = 4 * RECENT_DROPS as u64 - 2;
        assert_eq!(m.forward(recent), Some(recent / 2));
    }
}
