//! A jitter buffer's options: what the stream carries and the product
//! defaults for audio and video.

use super::{DelayConfig, NackConfig, RtxConfig};
use crate::codec;

/// What the stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One packet per frame (Opus and the like): packets are released one by
    /// one; a gap becomes a `Lost` event for concealment.
    Audio,
    /// Frames span packets: only complete frames are released.
    Video(codec::Codec),
}

/// Options of a jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    pub mode: Mode,
    /// RTP clock rate (48 000 for Opus, 90 000 for video).
    pub clock_rate: u32,
    /// Most packets held (rounded up to a power of two). A sequence jump
    /// beyond it resets the stream instead of growing memory.
    pub capacity_packets: usize,
    pub delay: DelayConfig,
    pub nack: NackConfig,
    pub rtx: Option<RtxConfig>,
    /// Least time between two keyframe requests (video).
    pub keyframe_request_interval_us: u64,
}

impl JitterConfig {
    /// Defaults for 48 kHz conversational audio: the delay follows the
    /// jitter; losses go to FEC and concealment; NACKs only for what a
    /// retransmission can still fix at that delay (see [the module
    /// doc](super)).
    pub fn audio() -> Self {
        Self {
            mode: Mode::Audio,
            clock_rate: 48_000,
            capacity_packets: 512,
            delay: DelayConfig {
                max_delay_us: 500_000,
                ..DelayConfig::default()
            },
            nack: NackConfig::default(),
            rtx: None,
            keyframe_request_interval_us: 0,
        }
    }

    /// 48 kHz audio that waits for retransmissions: NACK with a reserve of
    /// two retransmission round trips held from the first packet (each
    /// round trip with the jitter margin its retry waits for), so that a
    /// loss whose first retransmission is lost too is still recovered.
    pub fn audio_with_nack_reserve() -> Self {
        let mut config = Self::audio();
        config.nack.delay_rtts = 2.0;
        config
    }

    /// Defaults for 90 kHz video of `codec`.
    pub fn video(codec: codec::Codec) -> Self {
        Self {
            mode: Mode::Video(codec),
            clock_rate: 90_000,
            capacity_packets: 2048,
            delay: DelayConfig::default(),
            nack: NackConfig {
                delay_rtts: 1.0,
                ..NackConfig::default()
            },
            rtx: None,
            keyframe_request_interval_us: 300_000,
        }
    }
}
