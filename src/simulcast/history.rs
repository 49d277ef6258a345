//! The packets of one source kept for retransmission and joins: a ring per
//! spatial layer, indexed by extended sequence number, holding shared
//! `Bytes` (a reference count, never a copy).
//!
//! Sized by time and bitrate, not by a fixed packet count: the ring starts
//! at [`INITIAL_SLOTS`] and doubles, up to its configured maximum, whenever
//! an insert would push out a packet younger than [`KEEP_US`]. A thumbnail
//! layer (20–30 packets/s) stays at 64 packets; a top layer grows to what
//! two seconds of it take. Growth allocates, a handful of times per layer
//! in its life (when its rate rises), never in steady state.

use bytes::Bytes;

/// How long a packet should stay answerable: twice the forwarders' NACK
/// window ([`NACK_WINDOW_US`](super::NACK_WINDOW_US)), which also covers a
/// join from the history (a keyframe at most a second old and everything
/// since).
pub(crate) const KEEP_US: u64 = 2_000_000;

/// Slots a layer's ring starts with.
pub(crate) const INITIAL_SLOTS: usize = 64;

#[derive(Debug, Clone)]
struct Slot {
    ext_seq: u64,
    /// When it was inserted.
    at_us: u64,
    bytes: Bytes,
}

#[derive(Debug)]
pub(crate) struct History {
    slots: Vec<Option<Slot>>,
    mask: u64,
    /// Most slots (a power of two).
    max_slots: usize,
}

impl History {
    /// A history of at most `capacity` packets (rounded up to a power of
    /// two); [`INITIAL_SLOTS`] of them (or fewer) reserved now.
    pub fn new(capacity: usize) -> Self {
        let max_slots = capacity.max(1).next_power_of_two();
        let n = max_slots.min(INITIAL_SLOTS);
        Self {
            slots: vec![None; n],
            mask: n as u64 - 1,
            max_slots,
        }
    }

    /// Slots now.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn insert(&mut self, ext_seq: u64, packet: &Bytes, now: u64) {
        let at = (ext_seq & self.mask) as usize;
        if let Some(old) = &self.slots[at] {
            if old.ext_seq > ext_seq {
                return; // a newer packet is already there
            }
            let young = now.saturating_sub(old.at_us) < KEEP_US;
            if young && old.ext_seq != ext_seq && self.slots.len() < self.max_slots {
                self.grow();
                return self.insert(ext_seq, packet, now);
            }
        }
        self.slots[at] = Some(Slot {
            ext_seq,
            at_us: now,
            bytes: packet.clone(),
        });
    }

    /// Doubles the ring, keeping every packet.
    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = core::mem::replace(&mut self.slots, vec![None; n]);
        self.mask = n as u64 - 1;
        for slot in old.into_iter().flatten() {
            let at = (slot.ext_seq & self.mask) as usize;
            self.slots[at] = Some(slot);
        }
    }

    pub fn get(&self, ext_seq: u64) -> Option<&Bytes> {
        match &self.slots[(ext_seq & self.mask) as usize] {
            Some(slot) if slot.ext_seq == ext_seq => Some(&slot.bytes),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_packet_per_slot() {
        let mut h = History::new(3);
        // Old packets (inserted long ago) make room without growing.
        for seq in 0..6u64 {
            h.insert(seq, &Bytes::from(vec![seq as u8]), seq * KEEP_US);
        }
        assert_eq!(h.capacity(), 4);
        assert!(h.get(1).is_none());
        assert_eq!(h.get(5).map(|b| b[0]), Some(5));
        h.insert(1, &Bytes::from_static(b"late"), 6 * KEEP_US);
        assert_eq!(
            h.get(5).map(|b| b[0]),
            Some(5),
            "a late packet does not evict a newer one"
        );
    }

    #[test]
    fn grows_by_rate_to_keep_two_seconds_up_to_its_maximum() {
        // 20 packets/s (a thumbnail): 64 slots hold more than two seconds.
        let mut thumb = History::new(1024);
        for seq in 0..2_000u64 {
            thumb.insert(seq, &Bytes::from_static(b"t"), seq * 50_000);
        }
        assert_eq!(thumb.capacity(), INITIAL_SLOTS);
        assert!(thumb.get(1_999 - 40).is_some(), "two seconds back");
        // 300 packets/s: two seconds are 600 packets, in 1024 slots.
        let mut top = History::new(1024);
        for seq in 0..3_000u64 {
            top.insert(seq, &Bytes::from_static(b"p"), seq * 3_333);
        }
        assert_eq!(top.capacity(), 1024);
        assert!((2_400..3_000).all(|s| top.get(s).is_some()));
        // 1,000 packets/s: capped at the maximum, the oldest go.
        let mut capped = History::new(512);
        for seq in 0..5_000u64 {
            capped.insert(seq, &Bytes::from_static(b"c"), seq * 1_000);
        }
        assert_eq!(capped.capacity(), 512);
        assert!(capped.get(4_999 - 511).is_some() && capped.get(4_999 - 512).is_none());
    }
}
