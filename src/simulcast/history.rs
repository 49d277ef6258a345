//! The packets of one source kept for retransmission: a ring per spatial
//! layer, indexed by extended sequence number, holding shared `Bytes` (a
//! reference count, never a copy).

use bytes::Bytes;

#[derive(Debug)]
pub(crate) struct History {
    slots: Vec<Option<(u64, Bytes)>>,
    mask: u64,
}

impl History {
    /// A history of `capacity` packets (rounded up to a power of two).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1).next_power_of_two();
        Self {
            slots: vec![None; capacity],
            mask: capacity as u64 - 1,
        }
    }

    pub fn insert(&mut self, ext_seq: u64, packet: &Bytes) {
        let slot = &mut self.slots[(ext_seq & self.mask) as usize];
        match slot {
            Some((seq, _)) if *seq > ext_seq => {} // newer packet already there
            _ => *slot = Some((ext_seq, packet.clone())),
        }
    }

    pub fn get(&self, ext_seq: u64) -> Option<&Bytes> {
        match &self.slots[(ext_seq & self.mask) as usize] {
            Some((seq, bytes)) if *seq == ext_seq => Some(bytes),
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
        for seq in 0..6u64 {
            h.insert(seq, &Bytes::from(vec![seq as u8]));
        }
        assert!(h.get(1).is_none());
        assert_eq!(h.get(5).map(|b| b[0]), Some(5));
        h.insert(1, &Bytes::from_static(b"late"));
        assert_eq!(
            h.get(5).map(|b| b[0]),
            Some(5),
            "a late packet does not evict a newer one"
        );
    }
}
