//! Arrival times of one sequence-number space (transport-wide, or one RTP
//! stream's) in a fixed ring, with the range the next feedback must cover.
//!
//! Cost and memory are bounded by the ring's capacity: a forward jump
//! clears at most `capacity` slots whatever its size, and a packet older
//! than the ring is counted and dropped.

use crate::packet::SeqUnwrapper;

/// Marks a slot whose packet has not arrived. A received slot holds
/// `arrival_us << 2 | ecn` (one array: one cache line stream per packet).
const NOT_RECEIVED: i64 = i64::MIN;

/// What [`Window::record`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Recorded {
    New,
    /// Already recorded; the first arrival is kept.
    Duplicate,
    /// More than `capacity` behind the highest sequence number: dropped.
    TooOld,
}

#[derive(Debug)]
pub(super) struct Window {
    arrivals: Box<[i64]>,
    mask: i64,
    unwrapper: SeqUnwrapper,
    /// First unwrapped sequence number the next feedback covers.
    start: i64,
    /// Highest unwrapped sequence number recorded (always a received packet).
    highest: i64,
    /// `None` until the first packet.
    started: bool,
    /// Received packets not yet (re)reported since the last feedback.
    pending: bool,
    /// Received, never reported, pushed out of the ring by newer packets.
    pub(super) evicted: u64,
}

impl Window {
    /// `capacity` must be a power of two.
    pub(super) fn new(capacity: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Window {
            arrivals: vec![NOT_RECEIVED; capacity].into_boxed_slice(),
            mask: capacity as i64 - 1,
            unwrapper: SeqUnwrapper::new(),
            start: 0,
            highest: 0,
            started: false,
            pending: false,
            evicted: 0,
        }
    }

    fn capacity(&self) -> i64 {
        self.mask + 1
    }

    fn slot(&self, ext: i64) -> usize {
        (ext & self.mask) as usize
    }

    pub(super) fn pending(&self) -> bool {
        self.pending
    }

    #[inline]
    pub(super) fn record(&mut self, seq: u16, arrival_us: i64, ecn: u8) -> Recorded {
        let ext = self.unwrapper.unwrap(u64::from(seq));
        let i = self.slot(ext);
        if !self.started {
            self.started = true;
            self.start = ext;
            self.highest = ext;
            self.clear_all();
        } else if ext > self.highest {
            // Its slot is cleared: no duplicate to look for.
            self.advance(ext);
        } else if ext <= self.highest - self.capacity() {
            return Recorded::TooOld;
        } else if self.arrivals[i] != NOT_RECEIVED {
            return Recorded::Duplicate;
        }
        // Arrivals are at most i64::MAX >> 2 µs (146 000 years).
        self.arrivals[i] = (arrival_us.min(i64::MAX >> 2) << 2) | i64::from(ecn & 3);
        // A late packet before what was reported: report again from it
        // (libwebrtc's RemoteEstimatorProxy does the same).
        self.start = self.start.min(ext);
        self.pending = true;
        Recorded::New
    }

    fn clear_all(&mut self) {
        self.arrivals.fill(NOT_RECEIVED);
    }

    /// Moves the highest sequence number to `ext`, clearing the slots it
    /// reuses (at most `capacity`) and counting unreported packets lost to it.
    fn advance(&mut self, ext: i64) {
        let cap = self.capacity();
        let first = (self.highest + 1).max(ext - cap + 1);
        // (A while loop: `RangeInclusive` iterates slower.) The slot of
        // `ext` itself is written by the caller: not cleared here.
        let mut e = first;
        while e <= ext {
            let i = self.slot(e);
            // Only a slot that could hold an unreported packet is read.
            if e - cap >= self.start && self.arrivals[i] != NOT_RECEIVED {
                self.evicted += 1;
            }
            if e < ext {
                self.arrivals[i] = NOT_RECEIVED;
            }
            e += 1;
        }
        self.highest = ext;
        self.start = self.start.max(ext - cap + 1);
    }

    /// The range the next feedback covers, as `(seq, arrival)` entries.
    pub(super) fn entries(&self) -> Entries<'_> {
        Entries {
            window: self,
            next: self.start,
            end: if self.pending {
                self.highest + 1
            } else {
                self.start
            },
        }
    }

    /// The first `n` entries were reported.
    pub(super) fn reported(&mut self, n: usize) {
        self.start += n as i64;
        if self.start > self.highest {
            self.pending = false;
        }
    }
}

/// The entries of [`Window::entries`]: the unwrapped sequence number's low
/// 16 bits and the arrival time.
#[derive(Debug, Clone)]
pub(super) struct Entries<'a> {
    window: &'a Window,
    next: i64,
    end: i64,
}

impl Entries<'_> {
    /// The next entry with its ECN bits.
    pub(super) fn next_with_ecn(&mut self) -> Option<(u16, Option<i64>, u8)> {
        if self.next >= self.end {
            return None;
        }
        let ext = self.next;
        self.next += 1;
        let a = self.window.arrivals[self.window.slot(ext)];
        Some(if a == NOT_RECEIVED {
            (ext as u16, None, 0)
        } else {
            (ext as u16, Some(a >> 2), (a & 3) as u8)
        })
    }
}

impl Iterator for Entries<'_> {
    type Item = (u16, Option<i64>);

    #[inline]
    fn next(&mut self) -> Option<(u16, Option<i64>)> {
        self.next_with_ecn().map(|(seq, a, _)| (seq, a))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize;
        (n, Some(n))
    }
}
