//! The packet ring and its gap index: which sequence numbers of the window
//! `head..=highest` are held, in O(1) per packet, with memory fixed at
//! construction.
//!
//! A slot holds `seq` exactly while its bit in `held` is set: a released
//! slot's `seq` is set to [`VACANT_SEQ`], so that looking a packet up is one
//! load and one comparison. Nothing else ever has to be cleared: a reset
//! costs the packets it drops plus one pass over the bitmap (capacity / 64
//! words), never a pass over the slots. The bitmap is the gap index: the
//! next held packet after a run of gaps is found 64 sequence numbers per
//! step.

use bytes::Bytes;

use crate::codec::TemporalLayer;

/// A held packet.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub seq: i64,
    pub packet: Option<Bytes>,
    /// Extended RTP timestamp, as sent.
    pub ts: i64,
    /// Media time in µs used for playout (the timestamp's, corrected by the
    /// media clock for outliers and jumps).
    pub media_us: i64,
    pub arrival: u64,
    pub flags: Flags,
    /// VP8 temporal layer (video, when the descriptor carries one).
    pub layer: Option<TemporalLayer>,
}

/// The `seq` of a slot that holds no packet (no packet has it: sequence
/// numbers are unwrapped from 16 bits).
const VACANT_SEQ: i64 = i64::MIN;

impl Slot {
    const VACANT: Slot = Slot {
        seq: VACANT_SEQ,
        packet: None,
        ts: 0,
        media_us: 0,
        arrival: 0,
        flags: Flags::NONE,
        layer: None,
    };
}

/// A packet's boolean properties, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flags(u8);

impl Flags {
    const NONE: Flags = Flags(0);
    const MARKER: u8 = 1;
    const KEYFRAME: u8 = 2;
    const PADDING_ONLY: u8 = 4;
    /// The codec could tell whether the packet starts a frame ...
    const START_KNOWN: u8 = 8;
    /// ... and it does.
    const STARTS_FRAME: u8 = 16;

    #[inline]
    pub fn new(
        marker: bool,
        keyframe: bool,
        padding_only: bool,
        starts_frame: Option<bool>,
    ) -> Self {
        let bit = |on: bool, bit: u8| if on { bit } else { 0 };
        Flags(
            bit(marker, Self::MARKER)
                | bit(keyframe, Self::KEYFRAME)
                | bit(padding_only, Self::PADDING_ONLY)
                | bit(starts_frame.is_some(), Self::START_KNOWN)
                | bit(starts_frame == Some(true), Self::STARTS_FRAME),
        )
    }

    #[inline]
    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// The packet ends a frame (RTP marker bit).
    #[inline]
    pub fn marker(self) -> bool {
        self.has(Self::MARKER)
    }

    /// The first packet of a frame that starts a keyframe (video).
    #[inline]
    pub fn keyframe(self) -> bool {
        self.has(Self::KEYFRAME)
    }

    /// The payload is only padding (no media), e.g. bandwidth probing.
    #[inline]
    pub fn padding_only(self) -> bool {
        self.has(Self::PADDING_ONLY)
    }

    /// Whether the codec says the packet starts a frame (video), if it can tell.
    #[inline]
    pub fn starts_frame(self) -> Option<bool> {
        self.has(Self::START_KNOWN)
            .then(|| self.has(Self::STARTS_FRAME))
    }
}

/// What [`PacketRing::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Stored; the sequence numbers `first_gap..seq` are new gaps (none
    /// when equal), and `filled_gap` says whether it filled one.
    Stored {
        first_gap: i64,
        filled_gap: bool,
    },
    Duplicate,
}

/// Fixed-capacity ring of packets over the window `head..=highest`.
///
/// Invariants: a bit of `held` is set iff its slot holds a packet whose
/// `seq` lies in the window, and a slot whose bit is clear has the `seq`
/// [`VACANT_SEQ`]; `present` counts those bits; the window is
/// never longer than the capacity.
#[derive(Debug)]
pub(crate) struct PacketRing {
    slots: Box<[Slot]>,
    held: Box<[u64]>,
    mask: i64,
    /// Next sequence number to release; `None` before the first packet.
    head: Option<i64>,
    /// Highest sequence number seen (`head - 1` when the window is empty).
    highest: i64,
    present: usize,
}

impl PacketRing {
    /// `capacity` is rounded up to a power of two (at least 64).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(64, 1 << 30).next_power_of_two();
        Self {
            slots: vec![Slot::VACANT; capacity].into_boxed_slice(),
            held: vec![0; capacity / 64].into_boxed_slice(),
            mask: capacity as i64 - 1,
            head: None,
            highest: 0,
            present: 0,
        }
    }

    #[inline]
    pub fn capacity(&self) -> i64 {
        self.slots.len() as i64
    }

    #[inline]
    pub fn head(&self) -> Option<i64> {
        self.head
    }

    #[inline]
    pub fn highest(&self) -> i64 {
        self.highest
    }

    /// Sequence numbers missing in the window.
    #[inline]
    pub fn missing(&self) -> usize {
        match self.head {
            Some(h) if self.highest >= h => (self.highest - h + 1) as usize - self.present,
            _ => 0,
        }
    }

    /// Length of the window (held and missing).
    pub fn window_len(&self) -> usize {
        match self.head {
            Some(h) if self.highest >= h => (self.highest - h + 1) as usize,
            _ => 0,
        }
    }

    #[inline]
    fn index(&self, seq: i64) -> usize {
        (seq & self.mask) as usize
    }

    #[inline]
    fn bit(&self, i: usize) -> bool {
        self.held[i >> 6] & (1 << (i & 63)) != 0
    }

    /// The packet at `seq`, if held.
    #[inline]
    pub fn held(&self, seq: i64) -> Option<&Slot> {
        let i = self.index(seq);
        let s = &self.slots[i];
        debug_assert!(s.seq == VACANT_SEQ || self.bit(i));
        (s.seq == seq).then_some(s)
    }

    /// Starts the window at `seq` (the first packet, or after a reset).
    pub fn start_at(&mut self, seq: i64) {
        self.head = Some(seq);
        self.highest = seq - 1;
    }

    /// Moves the head back to `seq` (a packet older than the first to
    /// arrive, before anything was released): `seq + 1..old head` become gaps.
    pub fn move_head_back(&mut self, seq: i64) {
        self.head = Some(seq);
    }

    /// Stores `slot` (its `seq` must lie in `head..head + capacity`).
    #[inline]
    pub fn insert(&mut self, slot: Slot) -> Inserted {
        let seq = slot.seq;
        debug_assert!(self
            .head
            .is_some_and(|h| seq >= h && seq < h + self.capacity()));
        let i = self.index(seq);
        if self.bit(i) {
            return Inserted::Duplicate;
        }
        let (first_gap, filled_gap) = if seq > self.highest {
            let first = self.highest + 1;
            self.highest = seq;
            (first, false)
        } else {
            (seq, true)
        };
        self.slots[i] = slot;
        self.held[i >> 6] |= 1 << (i & 63);
        self.present += 1;
        Inserted::Stored {
            first_gap,
            filled_gap,
        }
    }

    /// Releases the head: its packet if held (`None` for a gap), and the
    /// head moves on by one.
    #[inline]
    pub fn pop_head(&mut self) -> Option<Slot> {
        let head = self.head?;
        self.head = Some(head + 1);
        let i = self.index(head);
        if !self.bit(i) {
            return None;
        }
        self.held[i >> 6] &= !(1 << (i & 63));
        self.present -= 1;
        let s = &mut self.slots[i];
        Some(Slot {
            seq: core::mem::replace(&mut s.seq, VACANT_SEQ),
            packet: s.packet.take(),
            ts: s.ts,
            media_us: s.media_us,
            arrival: s.arrival,
            flags: s.flags,
            layer: s.layer,
        })
    }

    /// Releases the head, which the caller found held: its packet (taken
    /// in place, the rest of the slot is not copied), and the head moves on.
    #[inline]
    pub fn pop_held_head(&mut self) -> Option<Bytes> {
        let head = self.head?;
        debug_assert!(self.held(head).is_some());
        self.head = Some(head + 1);
        let i = self.index(head);
        self.held[i >> 6] &= !(1 << (i & 63));
        self.present -= 1;
        let s = &mut self.slots[i];
        s.seq = VACANT_SEQ;
        s.packet.take()
    }

    /// The first held sequence number in `from..=highest`, scanning the
    /// bitmap a word at a time.
    pub fn next_held(&self, from: i64) -> Option<i64> {
        let mut seq = from;
        while seq <= self.highest {
            let i = self.index(seq);
            let word = self.held[i >> 6] >> (i & 63);
            if word != 0 {
                let found = seq + i64::from(word.trailing_zeros());
                return (found <= self.highest).then_some(found);
            }
            seq += 64 - (i & 63) as i64;
        }
        None
    }

    /// The last held sequence number in `head..=from`, scanning down.
    pub fn prev_held(&self, from: i64) -> Option<i64> {
        let head = self.head?;
        let mut seq = from.min(self.highest);
        while seq >= head {
            let i = self.index(seq);
            let word = self.held[i >> 6] << (63 - (i & 63));
            if word != 0 {
                let found = seq - i64::from(word.leading_zeros());
                return (found >= head).then_some(found);
            }
            seq -= (i & 63) as i64 + 1;
        }
        None
    }

    /// Drops every packet: O(packets held + capacity / 64).
    pub fn clear(&mut self) {
        if let Some(head) = self.head {
            let mut seq = head;
            while let Some(s) = self.next_held(seq) {
                let i = self.index(s);
                self.slots[i].packet = None;
                self.slots[i].seq = VACANT_SEQ;
                seq = s + 1;
            }
        }
        self.held.fill(0);
        self.present = 0;
        self.head = None;
        self.highest = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(seq: i64) -> Slot {
        Slot {
            seq,
            packet: Some(Bytes::from_static(b"x")),
            ..Slot::VACANT
        }
    }

    #[test]
    fn slot_stays_small() {
        assert!(core::mem::size_of::<Slot>() <= 72);
    }

    #[test]
    fn flags_round_trip() {
        for bits in 0..32u8 {
            let (m, k, p) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
            let starts = [None, Some(false), Some(true)][usize::from(bits >> 3) % 3];
            let flags = Flags::new(m, k, p, starts);
            assert_eq!(
                (flags.marker(), flags.keyframe(), flags.padding_only()),
                (m, k, p)
            );
            assert_eq!(flags.starts_frame(), starts);
        }
    }

    #[test]
    fn gaps_are_counted_and_found_across_words() {
        let mut ring = PacketRing::new(256);
        ring.start_at(1000);
        for seq in [1000, 1001, 1130, 1200] {
            assert!(matches!(ring.insert(slot(seq)), Inserted::Stored { .. }));
        }
        assert_eq!(ring.insert(slot(1130)), Inserted::Duplicate);
        assert_eq!(ring.window_len(), 201);
        assert_eq!(ring.missing(), 197);
        assert_eq!(ring.next_held(1002), Some(1130));
        assert_eq!(ring.next_held(1131), Some(1200));
        assert_eq!(ring.next_held(1201), None);
        assert_eq!(ring.prev_held(1199), Some(1130));
        assert_eq!(ring.prev_held(1129), Some(1001));
        assert_eq!(
            ring.insert(slot(1100)),
            Inserted::Stored {
                first_gap: 1100,
                filled_gap: true
            }
        );
        assert_eq!(ring.missing(), 196);
        assert_eq!(ring.pop_head().map(|s| s.seq), Some(1000));
        assert_eq!(ring.pop_head().map(|s| s.seq), Some(1001));
        assert!(ring.pop_head().is_none(), "1002 is a gap");
        assert_eq!(ring.head(), Some(1003));
        assert_eq!(ring.prev_held(1050), None);
    }

    #[test]
    fn clear_drops_only_what_is_held_and_stale_slots_never_reappear() {
        let mut ring = PacketRing::new(64);
        ring.start_at(0);
        let packet = Bytes::from(b"shared".to_vec());
        for seq in [0, 5, 63] {
            ring.insert(Slot {
                packet: Some(packet.clone()),
                ..slot(seq)
            });
        }
        ring.clear();
        assert_eq!(ring.missing(), 0);
        // Same slots, same sequence numbers: nothing held after the clear.
        ring.start_at(0);
        assert!(ring.held(5).is_none());
        assert_eq!(ring.next_held(0), None);
        // The packets were let go (only this handle is left).
        assert!(packet.is_unique());
    }
}
