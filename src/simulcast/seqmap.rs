//! Counter mapping that skips deliberately dropped values, so that a
//! subscriber sees gapless sequence numbers (and PictureIDs) while the
//! forwarder drops packets of layers it does not send.
//!
//! `out = in - offset`, where `offset` grows by one for each value dropped
//! at the head. A value that arrives late (below the highest seen) is placed
//! by counting the drops above it, from a short ring of recent drops; one
//! older than that ring, or from before the last rebase, is refused.

/// Recent drops remembered for placing late values.
const RECENT_DROPS: usize = 128;

#[derive(Debug, Clone)]
pub(crate) struct DropMap {
    offset: u64,
    /// Lowest input accepted since the last rebase.
    first_in: u64,
    max_in: Option<u64>,
    max_in_dropped: bool,
    /// Ring of recent dropped inputs, ascending.
    drops: [u64; RECENT_DROPS],
    drop_count: usize,
    /// Values at or below this may have drops we no longer know about.
    floor: Option<u64>,
}

impl Default for DropMap {
    fn default() -> Self {
        Self {
            offset: 0,
            first_in: 0,
            max_in: None,
            max_in_dropped: false,
            drops: [0; RECENT_DROPS],
            drop_count: 0,
            floor: None,
        }
    }
}

impl DropMap {
    /// Starts a new mapping where input `first_in` becomes output `first_out`.
    pub fn rebase(&mut self, first_in: u64, first_out: u64) {
        *self = Self {
            offset: first_in.wrapping_sub(first_out),
            first_in,
            max_in: None,
            ..Self::default()
        };
    }

    /// The output for `value`, or `None` if it was dropped, is from before the
    /// rebase, or too old to place.
    pub fn forward(&mut self, value: u64) -> Option<u64> {
        if value < self.first_in {
            return None;
        }
        let Some(max_in) = self.max_in else {
            self.max_in = Some(value);
            self.max_in_dropped = false;
            return Some(value.wrapping_sub(self.offset));
        };
        if value > max_in {
            self.max_in = Some(value);
            self.max_in_dropped = false;
            return Some(value.wrapping_sub(self.offset));
        }
        if value == max_in {
            return (!self.max_in_dropped).then(|| value.wrapping_sub(self.offset));
        }
        if self.floor.is_some_and(|f| value <= f) {
            return None;
        }
        let mut above = 0u64;
        for i in (0..self.drop_count).rev() {
            let d = self.drops[i % RECENT_DROPS];
            if d < value {
                break;
            }
            if d == value {
                return None;
            }
            above += 1;
        }
        Some(value.wrapping_sub(self.offset).wrapping_add(above))
    }

    /// Records that `value` is not sent. Only drops at the head close the gap;
    /// a late value dropped below the head leaves its hole (its output number
    /// was implied by the values already sent).
    pub fn drop_value(&mut self, value: u64) {
        if value < self.first_in || self.max_in.is_some_and(|m| value <= m) {
            return;
        }
        self.max_in = Some(value);
        self.max_in_dropped = true;
        self.offset = self.offset.wrapping_add(1);
        if self.drop_count >= RECENT_DROPS {
            self.floor = Some(self.drops[self.drop_count % RECENT_DROPS]);
        }
        self.drops[self.drop_count % RECENT_DROPS] = value;
        self.drop_count += 1;
    }

    /// The output the next new head value would get.
    #[cfg(test)]
    pub fn next_out(&self) -> u64 {
        match self.max_in {
            Some(m) => m.wrapping_add(1).wrapping_sub(self.offset),
            None => self.first_in.wrapping_sub(self.offset),
        }
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
