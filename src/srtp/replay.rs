//! Sliding replay window over packet indexes (RFC 3711 §3.3.2).

/// Why an index was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Already received.
    Duplicate,
    /// Older than the window.
    TooOld,
}

/// Remembers which of the last `size` indexes below the highest one were
/// received. A circular bitmap: bit `index % size` stands for `index`, so
/// advancing clears bits instead of shifting the whole window. The size is a
/// power of two, so that `%` is a mask.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    bits: Box<[u64]>,
    /// Highest index accepted so far; `None` before the first.
    highest: Option<u64>,
}

impl ReplayWindow {
    /// A window of `size` packets, rounded up to a power of two (minimum 64).
    pub fn new(size: usize) -> Self {
        let words = size.max(64).next_power_of_two() / 64;
        Self {
            bits: vec![0; words].into_boxed_slice(),
            highest: None,
        }
    }

    /// Window size in packets.
    pub fn size(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    /// Highest index accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    #[inline]
    fn bit(&self, index: u64) -> (usize, u64) {
        let pos = index & (self.size() - 1);
        ((pos / 64) as usize, 1u64 << (pos % 64))
    }

    /// Whether `index` may be accepted. Does not record it: call [`accept`]
    /// only after the packet authenticated.
    ///
    /// [`accept`]: Self::accept
    pub fn check(&self, index: u64) -> Result<(), Replay> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if index > highest {
            return Ok(());
        }
        if highest - index >= self.size() {
            return Err(Replay::TooOld);
        }
        let (word, mask) = self.bit(index);
        if self.bits[word] & mask != 0 {
            Err(Replay::Duplicate)
        } else {
            Ok(())
        }
    }

    /// Records `index` as received (it passed [`check`](Self::check)).
    pub fn accept(&mut self, index: u64) {
        self.advance_to(index);
        let (word, mask) = self.bit(index);
        self.bits[word] |= mask;
    }

    /// Moves the highest index up to `index` without recording it as
    /// received; indexes skipped over become unreceived.
    pub fn advance_to(&mut self, index: u64) {
        match self.highest {
            Some(highest) if index <= highest => {}
            Some(highest) => {
                if index - highest >= self.size() {
                    self.bits.fill(0);
                } else {
                    for i in highest + 1..=index {
                        let (word, mask) = self.bit(i);
                        self.bits[word] &= !mask;
                    }
                }
                self.highest = Some(index);
            }
            None => {
                self.bits.fill(0);
                self.highest = Some(index);
            }
        }
    }

    /// Forgets everything and starts over with `index` as the highest,
    /// not received.
    pub fn restart_at(&mut self, index: u64) {
        self.highest = None;
        self.advance_to(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_index_is_accepted_then_duplicate() {
        let mut w = ReplayWindow::new(128);
        assert_eq!(w.check(1000), Ok(()));
        w.accept(1000);
        assert_eq!(w.check(1000), Err(Replay::Duplicate));
        assert_eq!(w.check(1001), Ok(()));
    }

    #[test]
    fn reordered_within_window_accepted_once() {
        let mut w = ReplayWindow::new(64);
        w.accept(100);
        w.accept(103);
        assert_eq!(w.check(101), Ok(()));
        w.accept(101);
        assert_eq!(w.check(101), Err(Replay::Duplicate));
        assert_eq!(w.check(102), Ok(()));
        assert_eq!(w.check(103), Err(Replay::Duplicate));
    }

    #[test]
    fn too_old_is_outside_the_window() {
        let mut w = ReplayWindow::new(64);
        w.accept(1000);
        assert_eq!(w.check(1000 - 63), Ok(()));
        assert_eq!(w.check(1000 - 64), Err(Replay::TooOld));
    }

    #[test]
    fn advancing_clears_stale_bits() {
        let mut w = ReplayWindow::new(64);
        for i in 0..64 {
            w.accept(i);
        }
        // Bits for 64..=127 alias 0..=63; advancing to 127 must clear them.
        w.accept(127);
        for i in 64..127 {
            assert_eq!(w.check(i), Ok(()), "index {i}");
        }
        w.accept(10_000);
        assert_eq!(w.check(9_999), Ok(()));
        assert_eq!(w.check(127), Err(Replay::TooOld));
    }

    #[test]
    fn size_rounds_up() {
        assert_eq!(ReplayWindow::new(1).size(), 64);
        assert_eq!(ReplayWindow::new(1024).size(), 1024);
        assert_eq!(ReplayWindow::new(1025).size(), 2048);
    }
}
