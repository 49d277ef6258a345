//! Per-SSRC state: rollover counters, SRTCP indexes and replay windows, in a
//! table with a hard cap and O(1) lookup.

use std::collections::HashMap;

use super::replay::ReplayWindow;

/// Estimates the 48-bit packet index (ROC << 16 | SEQ) of `seq` relative to
/// the highest index seen, exactly as RFC 3711 Appendix A (and libsrtp) do.
/// `None` when the guess would leave the 32-bit ROC range (before the
/// stream's start, or after 2^48 packets: time to rekey).
#[inline]
pub(crate) fn estimate_index(highest: Option<u64>, seq: u16, initial_roc: u32) -> Option<u64> {
    let Some(highest) = highest else {
        return Some((u64::from(initial_roc) << 16) | u64::from(seq));
    };
    let roc = (highest >> 16) as i64;
    let s_l = (highest & 0xffff) as i64;
    let s = i64::from(seq);
    let v = if s_l < 32_768 {
        if s - s_l > 32_768 {
            roc - 1
        } else {
            roc
        }
    } else if s_l - 32_768 > s {
        roc + 1
    } else {
        roc
    };
    (0..=i64::from(u32::MAX))
        .contains(&v)
        .then(|| ((v as u64) << 16) | u64::from(seq))
}

/// The state SRTP keeps for one SSRC.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    /// Highest RTP index protected (sender side).
    pub rtp_tx_highest: Option<u64>,
    /// RTP indexes received (receiver side); its highest gives the ROC.
    pub rtp_rx: ReplayWindow,
    /// Next SRTCP index to send (31 bits).
    pub rtcp_tx_next: u32,
    /// SRTCP indexes received.
    pub rtcp_rx: ReplayWindow,
}

impl Stream {
    fn new(window: usize) -> Self {
        Self {
            rtp_tx_highest: None,
            rtp_rx: ReplayWindow::new(window),
            rtcp_tx_next: 0,
            rtcp_rx: ReplayWindow::new(window),
        }
    }
}

/// SSRC → stream, capped. Lookups hash the SSRC with SipHash (random keys, so
/// hostile SSRC choices cannot degrade it), after a check of the last SSRC
/// used, which is the common case on a media path.
#[derive(Debug)]
pub(crate) struct StreamTable {
    index: HashMap<u32, usize>,
    streams: Vec<Stream>,
    last: Option<(u32, usize)>,
    max_streams: usize,
    window: usize,
}

impl StreamTable {
    pub fn new(max_streams: usize, window: usize) -> Self {
        Self {
            index: HashMap::new(),
            streams: Vec::new(),
            last: None,
            max_streams,
            window,
        }
    }

    /// The stream for `ssrc`, if tracked.
    #[inline]
    pub fn get(&mut self, ssrc: u32) -> Option<&mut Stream> {
        let slot = match self.last {
            Some((last, slot)) if last == ssrc => slot,
            _ => {
                let slot = *self.index.get(&ssrc)?;
                self.last = Some((ssrc, slot));
                slot
            }
        };
        Some(&mut self.streams[slot])
    }

    /// Whether a new SSRC could be added.
    pub fn has_room(&self) -> bool {
        self.streams.len() < self.max_streams
    }

    /// The stream for `ssrc`, created if there is room; `None` at the cap.
    #[inline]
    pub fn get_or_insert(&mut self, ssrc: u32) -> Option<&mut Stream> {
        if let Some((last, slot)) = self.last {
            if last == ssrc {
                return Some(&mut self.streams[slot]);
            }
        }
        if let Some(&slot) = self.index.get(&ssrc) {
            self.last = Some((ssrc, slot));
            return Some(&mut self.streams[slot]);
        }
        if !self.has_room() {
            return None;
        }
        let slot = self.streams.len();
        self.streams.push(Stream::new(self.window));
        self.index.insert(ssrc, slot);
        self.last = Some((ssrc, slot));
        Some(&mut self.streams[slot])
    }

    /// Forgets `ssrc`; `false` if it was not tracked.
    pub fn remove(&mut self, ssrc: u32) -> bool {
        let Some(slot) = self.index.remove(&ssrc) else {
            return false;
        };
        self.streams.swap_remove(slot);
        if slot < self.streams.len() {
            // The last stream moved into `slot`: repoint its SSRC.
            if let Some(moved) = self.index.values_mut().find(|s| **s == self.streams.len()) {
                *moved = slot;
            }
        }
        self.last = None;
        true
    }

    /// Number of SSRCs tracked.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Sets the receive-side ROC of `ssrc` (e.g. learned from signalling):
    /// index `roc << 16 | seq` becomes the highest seen, not received, so
    /// the packet it names is still accepted. Moving forward keeps the replay
    /// history; moving back starts a new window. Creates the stream if needed.
    pub fn set_rx_roc(&mut self, ssrc: u32, roc: u32, seq: u16) -> bool {
        let index = (u64::from(roc) << 16) | u64::from(seq);
        match self.get_or_insert(ssrc) {
            Some(stream) => {
                if stream.rtp_rx.highest().is_some_and(|h| index < h) {
                    stream.rtp_rx.restart_at(index);
                } else {
                    stream.rtp_rx.advance_to(index);
                }
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(roc: u64, seq: u16) -> u64 {
        (roc << 16) | u64::from(seq)
    }

    #[test]
    fn first_packet_uses_initial_roc() {
        assert_eq!(estimate_index(None, 7, 0), Some(7));
        assert_eq!(estimate_index(None, 7, 3), Some(idx(3, 7)));
    }

    #[test]
    fn forward_across_wrap() {
        assert_eq!(estimate_index(Some(idx(0, 65_535)), 0, 0), Some(idx(1, 0)));
        assert_eq!(
            estimate_index(Some(idx(4, 60_000)), 100, 0),
            Some(idx(5, 100))
        );
    }

    #[test]
    fn late_packet_from_before_wrap() {
        assert_eq!(
            estimate_index(Some(idx(1, 2)), 65_534, 0),
            Some(idx(0, 65_534))
        );
        assert_eq!(estimate_index(Some(idx(1, 2)), 3, 0), Some(idx(1, 3)));
    }

    #[test]
    fn boundaries_match_rfc_3711_appendix_a() {
        // s_l < 2^15: a distance of exactly 2^15 forward stays in this ROC.
        assert_eq!(
            estimate_index(Some(idx(2, 100)), 32_868, 0),
            Some(idx(2, 32_868))
        );
        assert_eq!(
            estimate_index(Some(idx(2, 100)), 32_869, 0),
            Some(idx(1, 32_869))
        );
        // s_l >= 2^15: seq == s_l - 2^15 stays in this ROC.
        assert_eq!(
            estimate_index(Some(idx(2, 40_000)), 7_232, 0),
            Some(idx(2, 7_232))
        );
        assert_eq!(
            estimate_index(Some(idx(2, 40_000)), 7_231, 0),
            Some(idx(3, 7_231))
        );
    }

    #[test]
    fn roc_cannot_go_below_zero_or_past_32_bits() {
        assert_eq!(estimate_index(Some(idx(0, 10)), 60_000, 0), None);
        assert_eq!(
            estimate_index(Some(idx(u64::from(u32::MAX), 65_000)), 5, 0),
            None
        );
    }

    #[test]
    fn table_caps_streams() {
        let mut t = StreamTable::new(2, 64);
        assert!(t.get_or_insert(1).is_some());
        assert!(t.get_or_insert(2).is_some());
        assert!(t.get_or_insert(3).is_none());
        assert!(t.get_or_insert(1).is_some());
        assert!(t.get(3).is_none());
        assert_eq!(t.len(), 2);
        t.get(2).unwrap().rtcp_tx_next = 9;
        t.get(1).unwrap().rtcp_tx_next = 4;
        assert_eq!(t.get(2).unwrap().rtcp_tx_next, 9);
    }

    #[test]
    fn remove_keeps_the_other_streams() {
        let mut t = StreamTable::new(3, 64);
        for ssrc in [10, 20, 30] {
            t.get_or_insert(ssrc).unwrap().rtcp_tx_next = ssrc;
        }
        assert!(t.remove(10));
        assert!(!t.remove(10));
        assert_eq!(t.len(), 2);
        assert!(t.get(10).is_none());
        assert_eq!(t.get(20).unwrap().rtcp_tx_next, 20);
        assert_eq!(t.get(30).unwrap().rtcp_tx_next, 30);
        assert!(t.remove(30));
        assert_eq!(t.get(20).unwrap().rtcp_tx_next, 20);
        assert_eq!(t.get_or_insert(40).unwrap().rtcp_tx_next, 0);
    }
}
