//! The media clock: where a packet's timestamp puts it on the receiver's
//! timeline, guarded against timestamps that do not fit.
//!
//! A packet whose transit (arrival minus media time) lies far outside what
//! the stream has shown (earlier than its fastest packet by more than
//! [`EARLY_US`], or later by more than the most delay the buffer may hold
//! plus [`LATE_SLACK_US`]) is a suspect: it is placed as if it had arrived
//! on time and does not feed the delay estimate, so one bad timestamp
//! costs at most its own packet. When [`CONFIRM`] suspects in a row agree on
//! a new transit, the timestamps really jumped (a sender restart, a
//! clock step): the clock takes up the new offset at once, and the packets
//! before and after keep one continuous timeline. A new talk spurt after a
//! pause moves timestamps and arrivals together and is no suspect at all.

/// Most a packet may arrive earlier than the fastest recent packet.
pub(crate) const EARLY_US: i64 = 150_000;
/// Most a packet may arrive later than the maximum delay allows.
pub(crate) const LATE_SLACK_US: i64 = 150_000;
/// Suspects in a row with one transit that make a jump.
pub(crate) const CONFIRM: u8 = 3;
/// How close suspects' transits must be to count as one jump.
const AGREE_US: i64 = 100_000;

/// Where a packet goes on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placed {
    /// Its media time, corrected by any earlier jump.
    Normal(i64),
    /// Suspect timestamp: placed at its arrival, not to be measured.
    Suspect(i64),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MediaClock {
    /// Added to every media time (the jumps taken up so far).
    offset_us: i64,
    /// Transit of the suspects in a row so far, and how many.
    pending: Option<(i64, u8)>,
}

impl MediaClock {
    /// Places a packet of media time `media_us` arriving at `now`, given the
    /// fastest recent transit (`None` before any) and the most delay held.
    #[cfg(test)]
    pub fn place(
        &mut self,
        media_us: i64,
        now: u64,
        base_transit: Option<i64>,
        max_delay_us: u64,
    ) -> Placed {
        self.place_timed(media_us, now, base_transit, max_delay_us)
            .0
    }

    /// [`place`](Self::place), and the transit of the packet as placed
    /// (its arrival, at most `i64::MAX`, minus the media time it was
    /// placed at): the guard computes it, and the delay estimate needs it.
    #[inline]
    pub fn place_timed(
        &mut self,
        media_us: i64,
        now: u64,
        base_transit: Option<i64>,
        max_delay_us: u64,
    ) -> (Placed, i64) {
        // No jump taken up (the usual case): no offset to add.
        let media = if self.offset_us == 0 {
            media_us
        } else {
            media_us.saturating_add(self.offset_us)
        };
        let now = now.min(i64::MAX as u64) as i64;
        let transit = now.saturating_sub(media);
        let Some(base) = base_transit else {
            return (Placed::Normal(media), transit);
        };
        let relative = transit.saturating_sub(base);
        let late = (max_delay_us.min(i64::MAX as u64 / 2) as i64).saturating_add(LATE_SLACK_US);
        if (-EARLY_US..=late).contains(&relative) {
            self.pending = None;
            return (Placed::Normal(media), transit);
        }
        let placed = self.place_suspect(media, now, base, transit);
        let (Placed::Normal(m) | Placed::Suspect(m)) = placed;
        (placed, now.saturating_sub(m))
    }

    /// A packet whose transit does not fit: a suspect, or the one that
    /// confirms a jump. Out of line: rare, and the common path stays short.
    #[cold]
    #[inline(never)]
    fn place_suspect(&mut self, media: i64, now: i64, base: i64, transit: i64) -> Placed {
        let count = match self.pending {
            Some((t, n)) if transit.saturating_sub(t).unsigned_abs() <= AGREE_US.unsigned_abs() => {
                n + 1
            }
            _ => 1,
        };
        self.pending = Some((transit, count));
        // As if it arrived as fast as the fastest packet.
        let on_time = now.saturating_sub(base);
        if count >= CONFIRM {
            self.offset_us = self.offset_us.saturating_add(on_time.saturating_sub(media));
            self.pending = None;
            return Placed::Normal(on_time);
        }
        Placed::Suspect(on_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outlier_is_placed_on_time_and_a_jump_taken_up_after_three() {
        let mut c = MediaClock::default();
        let base = Some(50_000);
        // On time: media 1 s arriving at 1.05 s.
        assert_eq!(
            c.place(1_000_000, 1_050_000, base, 500_000),
            Placed::Normal(1_000_000)
        );
        // 5 s ahead: suspect, placed as if on time.
        assert_eq!(
            c.place(6_020_000, 1_070_000, base, 500_000),
            Placed::Suspect(1_020_000)
        );
        assert_eq!(
            c.place(1_040_000, 1_090_000, base, 500_000),
            Placed::Normal(1_040_000)
        );
        // A lasting step 2 s back: the third suspect confirms it.
        for (i, expect_suspect) in [(3, true), (4, true), (5, false)] {
            let media = 1_000_000 + i * 20_000 - 2_000_000;
            let placed = c.place(media, 1_050_000 + i as u64 * 20_000, base, 500_000);
            assert_eq!(matches!(placed, Placed::Suspect(_)), expect_suspect);
        }
        // Continuous afterwards.
        assert_eq!(
            c.place(1_120_000 - 2_000_000, 1_170_000, base, 500_000),
            Placed::Normal(1_120_000)
        );
    }
}
