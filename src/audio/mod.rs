//! Conference audio: levels, voice activity, dominant speaker, mixing
//! (mix-minus and loudest-N), a soft limiter, and 16 kHz taps for
//! transcription. Samples are `f32` in [-1, 1], 48 kHz mono, 20 ms frames.

pub mod encoder;
mod input;
pub mod level;
pub mod limiter;
pub mod mixdown;
pub mod mixer;
pub mod opus_packet;
pub mod resample;
pub mod selection;
pub mod speaker;

/// Samples per channel in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// Sample rate of the mix.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms frame at the 16 kHz tap rate.
pub const TAP_FRAME_SAMPLES: usize = 320;
