//! Unwrapping RTP's wrapping counters (16-bit sequence numbers, 32-bit
//! timestamps) into monotonic 64-bit values.

/// Unwraps a `BITS`-bit wrapping counter into an `i64`.
///
/// Each value is placed at the unwrapped position closest to the highest value
/// seen so far, so reordering within half the counter range, across a wrap in
/// either direction, lands in the right place. Values from before the first
/// one seen may be negative (a packet reordered ahead of the first one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unwrapper<const BITS: u32> {
    highest: Option<i64>,
}

/// Unwraps RTP sequence numbers.
pub type SeqUnwrapper = Unwrapper<16>;
/// Unwraps RTP timestamps.
pub type TimestampUnwrapper = Unwrapper<32>;

impl<const BITS: u32> Unwrapper<BITS> {
    const MODULUS: i64 = 1 << BITS;
    const HALF: i64 = 1 << (BITS - 1);

    pub const fn new() -> Self {
        Self { highest: None }
    }

    /// Unwraps `value` without recording it.
    pub fn peek(&self, value: u64) -> i64 {
        let value = (value as i64) & (Self::MODULUS - 1);
        match self.highest {
            None => value,
            Some(highest) => {
                let low = highest & (Self::MODULUS - 1);
                // Signed distance in (-HALF, HALF]; exactly HALF counts as forward.
                let mut delta = (value - low) & (Self::MODULUS - 1);
                if delta > Self::HALF {
                    delta -= Self::MODULUS;
                }
                highest + delta
            }
        }
    }

    /// Unwraps `value` and records it (the highest value seen moves forward only).
    pub fn unwrap(&mut self, value: u64) -> i64 {
        let unwrapped = self.peek(value);
        if self.highest.is_none_or(|h| unwrapped > h) {
            self.highest = Some(unwrapped);
        }
        unwrapped
    }

    /// The highest unwrapped value seen, if any.
    pub fn highest(&self) -> Option<i64> {
        self.highest
    }

    /// Forgets everything (a new stream).
    pub fn reset(&mut self) {
        self.highest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_in_order_across_wrap() {
        let mut u = SeqUnwrapper::new();
        assert_eq!(u.unwrap(65534), 65534);
        assert_eq!(u.unwrap(65535), 65535);
        assert_eq!(u.unwrap(0), 65536);
        assert_eq!(u.unwrap(1), 65537);
    }

    #[test]
    fn sequence_reordered_across_wrap() {
        let mut u = SeqUnwrapper::new();
        assert_eq!(u.unwrap(65534), 65534);
        assert_eq!(u.unwrap(1), 65537);
        // Late packets from before the wrap keep their place.
        assert_eq!(u.unwrap(65535), 65535);
        assert_eq!(u.unwrap(0), 65536);
        assert_eq!(u.highest(), Some(65537));
    }

    #[test]
    fn packet_older_than_first_is_negative() {
        let mut u = SeqUnwrapper::new();
        assert_eq!(u.unwrap(0), 0);
        assert_eq!(u.unwrap(65535), -1);
        assert_eq!(u.unwrap(2), 2);
    }

    #[test]
    fn many_wraps() {
        let mut u = SeqUnwrapper::new();
        let mut expected = 100i64;
        u.unwrap(100);
        for _ in 0..5 * 65536 / 1000 {
            expected += 1000;
            assert_eq!(u.unwrap((expected as u64) & 0xffff), expected);
        }
    }

    #[test]
    fn timestamp_wrap_both_directions() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap(0xffff_ff00), 0xffff_ff00);
        assert_eq!(u.unwrap(0x0000_0100), 0x1_0000_0100);
        assert_eq!(u.unwrap(0xffff_fff0), 0xffff_fff0);
        assert_eq!(u.peek(0x8000_0100), 0x1_8000_0100);
    }

    #[test]
    fn peek_does_not_record() {
        let mut u = SeqUnwrapper::new();
        u.unwrap(10);
        assert_eq!(u.peek(20), 20);
        assert_eq!(u.highest(), Some(10));
        u.reset();
        assert_eq!(u.highest(), None);
    }
}
