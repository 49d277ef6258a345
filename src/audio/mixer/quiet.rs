//! Silence detection for participants without RFC 6464 levels (the rules
//! are stated in the [mixer's docs](super)).

use crate::audio::level::SILENCE;
use crate::audio::opus_packet::OpusPacketInfo;

/// A quiet participant without RFC 6464 levels whose packets may hold
/// sound (CELT-only ones, which have no VAD flag, or SILK ones whose VAD
/// stays on over noise) is decoded at least this often (ticks: 100 ms) to
/// refresh its level: the longest a talker's onset can go unnoticed when
/// its packets neither grow nor turn the VAD on.
pub const QUIET_REFRESH_TICKS: u32 = 5;

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
    /// The previous packet's SILK VAD flag.
    last_vad: bool,
    /// Offset of this participant's refreshes (0..QUIET_REFRESH_TICKS), so
    /// that a room that joined at once does not decode everyone together.
    phase: u32,
}

impl QuietTracker {
    /// `seed` (e.g. the participant id) spreads refreshes over the period.
    pub(super) const fn new(seed: u32) -> Self {
        Self {
            level: SILENCE,
            quiet_bytes: 0,
            since_decode: u32::MAX,
            last_vad: false,
            phase: (seed.wrapping_mul(0x9e37_79b9) >> 16) % QUIET_REFRESH_TICKS,
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
        let vad = info.and_then(|i| i.voice_activity);
        let onset = vad == Some(true) && !self.last_vad;
        self.last_vad = vad == Some(true);
        match info {
            None => Some(SILENCE),
            Some(i) if i.dtx || i.voice_activity == Some(false) => Some(SILENCE),
            // The sender's VAD just heard voice: measure it.
            Some(_) if onset => None,
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

    /// A frame of `bytes` (payload) was decoded at `level`.
    pub(super) fn decoded(&mut self, level: u8, bytes: usize, floor: u8) {
        self.level = level;
        self.since_decode = std::mem::take(&mut self.phase);
        if level > floor {
            // The envelope of quiet sizes (VBR noise varies from frame to frame).
            self.quiet_bytes = bytes.max(self.quiet_bytes - self.quiet_bytes / 8);
        }
    }
}
