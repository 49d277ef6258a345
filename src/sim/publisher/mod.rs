//! Synthetic publishers: real Opus (libopus) and real VP8 (libvpx) encoded
//! from seeded synthetic sources and packetized as RTP, sans-IO, so a
//! simulation feeds the jitter buffer, the forwarder or the mixer what a
//! browser would send.
//!
//! - [`OpusPublisher`]: speech-like 48 kHz mono audio, 20 ms Opus frames with
//!   in-band FEC, RTP (RFC 7587) with an optional RFC 6464 audio level.
//! - [`Vp8Publisher`]: a moving test pattern, VP8 through libvpx in real-time
//!   mode, RFC 7741 packetization with a 15-bit PictureID; `force_keyframe`
//!   answers a PLI.
//! - [`SimulcastPublisher`]: the same pattern at several resolutions, each
//!   layer its own SSRC, random RTP timestamp offset and PictureID space,
//!   with three temporal layers ([`Vp8TemporalEncoder`], L1T3 0-2-1-2) whose
//!   TID, Y, TL0PICIDX and KEYIDX the descriptor carries
//!   ([`Vp8TemporalPacketizer`]); layers stop and resume, PLIs are answered
//!   per layer, and RTCP sender reports map one wall clock to every layer's
//!   timestamps.
//! - [`SimulcastTrace`]: a simulcast publisher's packets recorded once and
//!   replayed as an endless stream (every layer's counters moved on per
//!   pass), for benches and tests.
//! - [`RtxSender`] and [`make_rtx`]: RFC 4588 retransmissions from a history.
//! - [`Vp8Decoder`] and [`vp8_depacketize`]: libvpx's decoder, to check that
//!   what a receiver released is decodable.
//!
//! A sender's clock may drift ([`DriftClock`]): frames are captured every
//! frame interval of the *sender's* clock, so RTP timestamps advance by
//! exactly one frame per frame while the true send times stretch or shrink.
//! The same seed gives the same packets.
//!
//! The VP8 side is split in three types (encoder, packetizer, pattern) so that
//! a simulcast publisher can own one encoder and packetizer per layer.
//! libvpx is used through `env-libvpx-sys` directly: `vpx-encode` takes no
//! per-frame flags (so no forced keyframe) and fixes the encoder settings.

mod audio;
mod rtx;
mod simulcast;
mod temporal;
mod trace;
mod vp8;

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::link::DriftClock;
use crate::packet::RtpBuilder;

pub use audio::{audio_level, OpusConfig, OpusPublisher, SpeechSource, OPUS_FRAME_SAMPLES};
pub use rtx::{make_rtx, RtxSender};
pub use simulcast::{
    SimulcastConfig, SimulcastFrame, SimulcastLayerConfig, SimulcastLayerFrame, SimulcastPublisher,
};
pub use temporal::{
    TemporalInfo, Vp8TemporalEncoder, Vp8TemporalPacketizer, L1T3_PATTERN,
    VP8_TEMPORAL_DESCRIPTOR_LEN,
};
pub use trace::SimulcastTrace;
pub use vp8::{
    vp8_depacketize, DecodedFrame, EncodedFrame, TestPattern, Vp8Config, Vp8Decoder, Vp8Encoder,
    Vp8EncoderConfig, Vp8Frame, Vp8Packetizer, Vp8Publisher, VP8_DESCRIPTOR_LEN,
};

/// A libopus or libvpx call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub codec: &'static str,
    pub message: String,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.codec, self.message)
    }
}

impl std::error::Error for CodecError {}

impl From<opus::Error> for CodecError {
    fn from(e: opus::Error) -> Self {
        CodecError {
            codec: "opus",
            message: e.to_string(),
        }
    }
}

/// When a sender with a drifting clock sends frame `k`: the true time at
/// which its own clock reads `local(start) + k * interval`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SenderClock {
    drift: DriftClock,
    local_start: u64,
}

impl SenderClock {
    pub(crate) fn new(drift: DriftClock, start_us: u64) -> Self {
        Self {
            drift,
            local_start: drift.local(start_us),
        }
    }

    /// True time of local offset `local_us` after the start.
    pub(crate) fn true_time(&self, local_us: u64) -> u64 {
        let local = (self.local_start + local_us) as f64;
        (local / (1.0 + self.drift.ppm * 1e-6)).round() as u64
    }

    /// True time of video frame `frame` (from 0) captured at `fps` frames
    /// per second of the sender's clock (0 counts as 1).
    pub(crate) fn frame_time(&self, frame: u64, fps: u32) -> u64 {
        let fps = u64::from(fps.max(1));
        self.true_time(frame * 1_000_000 / fps)
    }
}

pub(crate) fn build(builder: &RtpBuilder<'_>) -> Bytes {
    let len = builder.encoded_len().expect("valid RTP header");
    let mut buf = BytesMut::zeroed(len);
    builder.write_into(&mut buf).expect("buffer sized above");
    buf.freeze()
}

#[cfg(test)]
mod simulcast_tests;
#[cfg(test)]
mod tests;
