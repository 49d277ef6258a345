//! Silence detection for participants without RFC 6464 levels (the rules
//! are stated in the [mixer's docs](super)).

use crate::audio::level::SILENCE;
use crate::audio::opus_packet::OpusPacketInfo;

/// A quiet participant without RFC 6464 levels is decoded at least this
/// often (ticks: 500 ms) to refresh its level.
pub const QUIET_REFRESH_TICKS: u32 = 25;

/// Without RFC 6464 levels: what a participant's last decode said, so that
/// a quiet participant is not decoded every tick (rule 3 of the module docs).
#[derive(Debug, Clone, Copy)]
pub struct QuietTracker {
    /// Level of the last decoded frame, -dBov.
    level: u8,
    /// Payload size of the last decoded quiet frame.
    quiet_bytes: usize,
    /// Ticks since the last decode.
    since_decode: u32,
}

impl QuietTracker {
    pub(super) const fn new() -> Self {
        Self {
            level: SILENCE,
            quiet_bytes: 0,
            since_decode: u32::MAX,
        }
    }

    /// The level of a packet known without decoding it, if the rules allow.
    pub(super) fn level_without_decoding(
        &mut self,
        info: Option<OpusPacketInfo>,
        bytes: usize,
        floor: u8,
    ) -> Option<u8> {
        self.since_decode = self.since_decode.saturating_add(1);
        match info {
            None => Some(SILENCE),
            Some(i) if i.dtx || i.voice_activity == Some(false) => Some(SILENCE),
            Some(_)
                if self.level > floor
                    && self.since_decode < QUIET_REFRESH_TICKS
                    && bytes <= self.quiet_bytes + self.quiet_bytes / 2 + 8 =>
            {
                Some(self.level)
            }
            Some(_) => None,
        }
    }

    pub(super) fn decoded(&mut self, level: u8, bytes: usize, floor: u8) {
        self.level = level;
        self.since_decode = 0;
        if level > floor {
            self.quiet_bytes = bytes;
        }
    }
}
