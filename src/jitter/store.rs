//! A ring of packet slots indexed by extended sequence number: O(1) insert
//! and lookup, memory fixed at construction.

use bytes::Bytes;

/// One sequence number's state: a packet, or a known gap with its NACK
/// history. 72 bytes (was 96; the 512-slot audio ring is 36 KiB): a gap's
/// NACK times share `time` with a packet's arrival, and the flags are bits.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    /// The extended sequence number this slot holds; `EMPTY` if none.
    pub seq: i64,
    pub packet: Option<Bytes>,
    pub ts: i64,
    /// `ts` in µs of media time, computed once at arrival.
    pub media_us: i64,
    /// A packet: when it arrived. A gap: when it was noticed, and once it
    /// has been requested (`nack_retries > 0`), when it was last requested.
    pub time: u64,
    pub flags: Flags,
    pub nack_retries: u8,
}

pub(crate) const EMPTY: i64 = i64::MIN;

impl Slot {
    const VACANT: Slot = Slot {
        seq: EMPTY,
        packet: None,
        ts: 0,
        media_us: 0,
        time: 0,
        flags: Flags::NONE,
        nack_retries: 0,
    };

    /// A gap at `seq` noticed at `now`.
    #[inline]
    pub fn missing(seq: i64, now: u64) -> Self {
        Slot {
            seq,
            time: now,
            ..Self::VACANT
        }
    }
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

/// Fixed-capacity ring of slots.
#[derive(Debug)]
pub(crate) struct Ring {
    slots: Box<[Slot]>,
    mask: i64,
}

impl Ring {
    /// `capacity` is rounded up to a power of two.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_power_of_two();
        Self {
            slots: vec![Slot::VACANT; capacity].into_boxed_slice(),
            mask: capacity as i64 - 1,
        }
    }

    pub fn capacity(&self) -> i64 {
        self.slots.len() as i64
    }

    #[inline]
    fn index(&self, seq: i64) -> usize {
        (seq & self.mask) as usize
    }

    /// The slot for `seq`, if it holds that sequence number.
    #[inline]
    pub fn get(&self, seq: i64) -> Option<&Slot> {
        let s = &self.slots[self.index(seq)];
        (s.seq == seq).then_some(s)
    }

    /// The slot for `seq` if it holds a packet.
    #[inline]
    pub fn held(&self, seq: i64) -> Option<&Slot> {
        self.get(seq).filter(|s| s.packet.is_some())
    }

    #[inline]
    pub fn get_mut(&mut self, seq: i64) -> Option<&mut Slot> {
        let i = self.index(seq);
        let s = &mut self.slots[i];
        (s.seq == seq).then_some(s)
    }

    /// Stores `slot` at its sequence number, replacing whatever was there.
    #[inline]
    pub fn put(&mut self, slot: Slot) {
        let i = self.index(slot.seq);
        self.slots[i] = slot;
    }

    /// Empties the slot of `seq` and returns what it held. Only the packet
    /// is moved out and the sequence number cleared: the rest of a vacant
    /// slot is never read, and `put` overwrites it whole.
    #[inline]
    pub fn take(&mut self, seq: i64) -> Option<Slot> {
        let s = self.get_mut(seq)?;
        s.seq = EMPTY;
        Some(Slot {
            seq,
            packet: s.packet.take(),
            ts: s.ts,
            media_us: s.media_us,
            time: s.time,
            flags: s.flags,
            nack_retries: s.nack_retries,
        })
    }

    /// Empties the slot of `seq` and returns its packet, if it held one.
    #[inline]
    pub fn take_packet(&mut self, seq: i64) -> Option<Bytes> {
        let s = self.get_mut(seq)?;
        s.seq = EMPTY;
        s.packet.take()
    }

    /// Drops every packet.
    pub fn clear(&mut self) {
        self.slots.fill(Slot::VACANT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn take_empties_the_slot() {
        let mut ring = Ring::new(4);
        ring.put(Slot {
            seq: 5,
            packet: Some(Bytes::from_static(b"x")),
            ..Slot::VACANT
        });
        let slot = ring.take(5).unwrap();
        assert_eq!(slot.packet.as_deref(), Some(&b"x"[..]));
        assert!(ring.get(5).is_none());
        assert!(ring.take(5).is_none());
    }
}
