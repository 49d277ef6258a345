//! The send history: what left when, how big, in which probe cluster, so
//! that feedback (which names packets only by transport-wide sequence number
//! or by SSRC + RTP sequence number) maps back to send times and sizes.
//!
//! A fixed ring of [`HISTORY_LEN`] records, allocated once. Transport-wide
//! sequence numbers are unwrapped against the newest one sent and index the
//! ring directly; RTP ids (RFC 8888) go through a fixed open-addressing
//! index. Feedback for a packet that is not in the ring (never sent, too old,
//! overwritten) is reported as unknown; a second report of an arrival for
//! the same packet as a duplicate. Neither touches the estimate.

use super::SentPacketId;

/// Records kept: at 1,000 packets/s (≈ 10 Mbit/s of 1,200-byte packets)
/// about 4 s, far longer than any feedback takes to come back.
pub const HISTORY_LEN: usize = 4096;
const MASK: u64 = HISTORY_LEN as u64 - 1;
/// Buckets of the RTP-id index (open addressing, linear probing over at most
/// [`PROBES`] buckets): at a quarter full, eight live buckets in a row (which
/// drop the oldest of them) are rare.
const INDEX_LEN: usize = HISTORY_LEN * 4;
const PROBES: usize = 8;

/// One packet as it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentRecord {
    pub id: SentPacketId,
    /// Position in send order (0, 1, 2, …), never wraps.
    pub index: u64,
    pub send_us: u64,
    pub size: u32,
    pub probe_cluster: Option<u32>,
    /// Feedback already reported it received (a later report is a duplicate).
    pub acked: bool,
    /// Feedback already reported it lost at least once.
    pub reported_lost: bool,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Found(SentRecord),
    /// Never sent, or too old to remember.
    Unknown,
    /// An arrival reported before for this packet.
    Duplicate,
}

/// The send history (see the module comment).
#[derive(Debug)]
pub struct SendHistory {
    ring: Box<[Option<SentRecord>]>,
    /// Send indices (+1; 0 = empty) of RTP-id packets, by hash bucket.
    rtp_index: Box<[u64]>,
    next_index: u64,
    /// Newest transport-wide sequence number sent, unwrapped.
    newest_transport: Option<i64>,
}

impl Default for SendHistory {
    fn default() -> Self {
        Self::new()
    }
}

fn hash(ssrc: u32, seq: u16) -> usize {
    let k = u64::from(ssrc) << 16 | u64::from(seq);
    let h = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 40) as usize % INDEX_LEN
}

impl SendHistory {
    pub fn new() -> Self {
        Self {
            ring: vec![None; HISTORY_LEN].into_boxed_slice(),
            // Allocated at the first RTP id (RFC 8888 peers only): a
            // transport-cc sender never needs it.
            rtp_index: Box::default(),
            next_index: 0,
            newest_transport: None,
        }
    }

    /// Unwraps a transport-wide sequence number against the newest sent.
    fn unwrap_transport(&self, seq: u16) -> i64 {
        match self.newest_transport {
            None => i64::from(seq),
            Some(newest) => {
                let diff = i64::from(seq.wrapping_sub(newest as u16) as i16);
                newest + diff
            }
        }
    }

    /// The ring slot of a transport-wide sequence number (unwrapped).
    fn transport_slot(ext: i64) -> usize {
        (ext as u64 & MASK) as usize
    }

    /// Records a packet that has just left. Returns its send index.
    pub fn on_sent(
        &mut self,
        now: u64,
        id: SentPacketId,
        size: usize,
        probe_cluster: Option<u32>,
    ) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        let record = SentRecord {
            id,
            index,
            send_us: now,
            size: size.min(u32::MAX as usize) as u32,
            probe_cluster,
            acked: false,
            reported_lost: false,
        };
        let slot = match id {
            SentPacketId::TransportSeq(seq) => {
                let ext = self.unwrap_transport(seq);
                if self.newest_transport.is_none_or(|n| ext > n) {
                    self.newest_transport = Some(ext);
                }
                Self::transport_slot(ext)
            }
            SentPacketId::Rtp { ssrc, seq } => {
                if self.rtp_index.is_empty() {
                    self.rtp_index = vec![0; INDEX_LEN].into_boxed_slice();
                }
                let slot = (index & MASK) as usize;
                let h = hash(ssrc, seq);
                let live = |i: u64| i != 0 && i - 1 + HISTORY_LEN as u64 > index;
                let mut bucket = h;
                for k in 0..PROBES {
                    let b = (h + k) % INDEX_LEN;
                    if !live(self.rtp_index[b]) {
                        bucket = b;
                        break;
                    }
                    if self.rtp_index[b] < self.rtp_index[bucket] {
                        bucket = b;
                    }
                }
                self.rtp_index[bucket] = index + 1;
                slot
            }
        };
        self.ring[slot] = Some(record);
        index
    }

    fn find_slot(&self, id: SentPacketId) -> Option<usize> {
        let slot = match id {
            SentPacketId::TransportSeq(seq) => {
                self.newest_transport?;
                Self::transport_slot(self.unwrap_transport(seq))
            }
            SentPacketId::Rtp { ssrc, seq } => {
                if self.rtp_index.is_empty() {
                    return None;
                }
                let h = hash(ssrc, seq);
                (0..PROBES).find_map(|k| {
                    let i = self.rtp_index[(h + k) % INDEX_LEN];
                    let slot = ((i.checked_sub(1)?) & MASK) as usize;
                    self.ring[slot].filter(|r| r.id == id).map(|_| slot)
                })?
            }
        };
        let r = self.ring[slot]?;
        // The slot may hold a different packet (too old, never sent).
        (r.id == id && r.index + HISTORY_LEN as u64 >= self.next_index).then_some(slot)
    }

    /// Looks a feedback entry up; an arrival marks the record acked.
    pub fn on_feedback(&mut self, id: SentPacketId, received: bool) -> Lookup {
        let Some(slot) = self.find_slot(id) else {
            return Lookup::Unknown;
        };
        let Some(r) = self.ring[slot].as_mut() else {
            return Lookup::Unknown;
        };
        if r.acked {
            return Lookup::Duplicate;
        }
        if received {
            r.acked = true;
        } else if r.reported_lost {
            return Lookup::Duplicate;
        } else {
            r.reported_lost = true;
        }
        Lookup::Found(*r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_seq_round_trip_with_wrap() {
        let mut h = SendHistory::new();
        for i in 0..10_000u32 {
            let seq = (65_000u32 + i) as u16;
            h.on_sent(
                u64::from(i) * 1000,
                SentPacketId::TransportSeq(seq),
                1000,
                None,
            );
        }
        let newest = (65_000u32 + 9_999) as u16;
        match h.on_feedback(SentPacketId::TransportSeq(newest), true) {
            Lookup::Found(r) => assert_eq!(r.send_us, 9_999_000),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            h.on_feedback(SentPacketId::TransportSeq(newest), true),
            Lookup::Duplicate
        );
        // Too old: overwritten.
        assert_eq!(
            h.on_feedback(SentPacketId::TransportSeq(65_000), true),
            Lookup::Unknown
        );
        // Never sent (ahead of the newest).
        assert_eq!(
            h.on_feedback(SentPacketId::TransportSeq(newest.wrapping_add(5)), true),
            Lookup::Unknown
        );
    }

    #[test]
    fn rtp_ids_found_unknown_and_lost_then_received() {
        let mut h = SendHistory::new();
        for i in 0..6000u32 {
            let ssrc = 1000 + i % 3;
            h.on_sent(
                u64::from(i),
                SentPacketId::Rtp {
                    ssrc,
                    seq: (i / 3) as u16,
                },
                500,
                None,
            );
        }
        let mut found = 0;
        for i in 3000..6000u32 {
            let id = SentPacketId::Rtp {
                ssrc: 1000 + i % 3,
                seq: (i / 3) as u16,
            };
            assert!(matches!(h.on_feedback(id, false), Lookup::Found(_)));
            if let Lookup::Found(r) = h.on_feedback(id, true) {
                assert_eq!(r.send_us, u64::from(i));
                found += 1;
            }
        }
        assert_eq!(found, 3000);
        let never = SentPacketId::Rtp { ssrc: 7, seq: 1 };
        assert_eq!(h.on_feedback(never, true), Lookup::Unknown);
    }

    #[test]
    fn record_size() {
        // Memory per estimator is dominated by this ring.
        assert!(std::mem::size_of::<Option<SentRecord>>() <= 48);
    }
}
