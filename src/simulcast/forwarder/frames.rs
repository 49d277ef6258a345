//! Per-frame bookkeeping of a forwarder: one temporal-layer decision per
//! frame, and whether the frame being sent went out whole.

/// Whether each of the last few frames (by source timestamp) is sent, so
/// that every packet of a frame gets the same answer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FrameDecisions {
    recent: [Option<(u32, bool)>; 4],
    next: usize,
}

impl FrameDecisions {
    pub(super) fn decision(&self, timestamp: u32) -> Option<bool> {
        self.recent
            .iter()
            .flatten()
            .find(|(ts, _)| *ts == timestamp)
            .map(|&(_, send)| send)
    }

    pub(super) fn record(&mut self, timestamp: u32, send: bool) {
        self.recent[self.next] = Some((timestamp, send));
        self.next = (self.next + 1) % self.recent.len();
    }
}

/// The output numbers of the frame being sent, to tell at a switch whether
/// the subscriber got all of it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FrameOut {
    /// First packet's number, when the codec marks it (VP8), else the lowest.
    first: Option<u64>,
    first_marked: bool,
    /// The codec marks frame starts: without the marked one, incomplete.
    starts_known: bool,
    marker: Option<u64>,
    sent: u64,
}

impl FrameOut {
    pub(super) fn add(&mut self, ext_seq: u64, frame_start: Option<bool>, marker: bool) {
        self.sent += 1;
        self.starts_known |= frame_start.is_some();
        match frame_start {
            Some(true) => {
                self.first = Some(ext_seq);
                self.first_marked = true;
            }
            _ if !self.first_marked => {
                self.first = Some(self.first.map_or(ext_seq, |f| f.min(ext_seq)));
            }
            _ => {}
        }
        if marker {
            self.marker = Some(ext_seq);
        }
    }

    pub(super) fn is_complete(&self) -> bool {
        match (self.first, self.marker) {
            _ if self.starts_known && !self.first_marked => self.sent == 0,
            (Some(first), Some(last)) => last >= first && self.sent == last - first + 1,
            _ => self.sent == 0,
        }
    }
}
