//! A ring of packet slots indexed by extended sequence number: O(1) insert
//! and lookup, memory fixed at construction.

use bytes::Bytes;

/// One sequence number's state: a packet, or a known gap with its NACK history.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    /// The extended sequence number this slot holds; `EMPTY` if none.
    pub seq: i64,
    pub packet: Option<Bytes>,
    pub ts: i64,
    /// `ts` in µs of media time, computed once at arrival.
    pub media_us: i64,
    pub arrival: u64,
    pub marker: bool,
    /// The first packet of a frame that starts a keyframe (video).
    pub keyframe: bool,
    /// The payload is only padding (no media), e.g. bandwidth probing.
    pub padding_only: bool,
    /// Whether the codec says this packet starts a frame (video), if it can tell.
    pub starts_frame: Option<bool>,
    /// When the gap was first noticed.
    pub missing_since: u64,
    pub nack_retries: u8,
    pub nack_last: Option<u64>,
}

pub(crate) const EMPTY: i64 = i64::MIN;

impl Slot {
    const VACANT: Slot = Slot {
        seq: EMPTY,
        packet: None,
        ts: 0,
        media_us: 0,
        arrival: 0,
        marker: false,
        keyframe: false,
        padding_only: false,
        starts_frame: None,
        missing_since: 0,
        nack_retries: 0,
        nack_last: None,
    };

    /// A gap at `seq` noticed at `now`.
    pub fn missing(seq: i64, now: u64) -> Self {
        Slot {
            seq,
            missing_since: now,
            ..Self::VACANT
        }
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

    /// Empties the slot of `seq` and returns its packet.
    #[inline]
    pub fn take(&mut self, seq: i64) -> Option<Slot> {
        let i = self.index(seq);
        if self.slots[i].seq != seq {
            return None;
        }
        Some(core::mem::replace(&mut self.slots[i], Slot::VACANT))
    }

    /// Drops every packet.
    pub fn clear(&mut self) {
        self.slots.fill(Slot::VACANT);
    }
}
