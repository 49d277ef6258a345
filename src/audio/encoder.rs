//! An Opus encoder whose state can be copied, so that a listener moving from
//! the shared mix to a personal one continues the very stream it was
//! receiving (see `mixer`). libopus keeps its encoder state in one
//! contiguous block that refers to its parts by offsets, not pointers, so a
//! byte copy is a complete, independent duplicate.

use std::os::raw::c_int;

use audiopus_sys as ffi;

use super::{FRAME_SAMPLES, SAMPLE_RATE};

/// Why libopus refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusError(pub i32);

impl core::fmt::Display for OpusError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "libopus error {}", self.0)
    }
}

impl std::error::Error for OpusError {}

fn check(ret: c_int) -> Result<c_int, OpusError> {
    if ret < 0 {
        Err(OpusError(ret))
    } else {
        Ok(ret)
    }
}

/// A 48 kHz mono Opus encoder (VoIP application) with copyable state.
pub struct Encoder {
    /// The libopus state, in 8-byte aligned storage of `opus_encoder_get_size` bytes.
    state: Box<[u64]>,
}

// The state is plain memory owned by this value.
unsafe impl Send for Encoder {}

impl Encoder {
    /// A new encoder at `bitrate` bit/s with in-band FEC planned for
    /// `expected_loss_percent`.
    pub fn new(bitrate: i32, expected_loss_percent: i32) -> Result<Self, OpusError> {
        // SAFETY: plain size query.
        let size = check(unsafe { ffi::opus_encoder_get_size(1) })? as usize;
        let mut enc = Self {
            state: vec![0u64; size.div_ceil(8)].into_boxed_slice(),
        };
        // SAFETY: `state` holds at least `size` bytes, suitably aligned.
        check(unsafe {
            ffi::opus_encoder_init(enc.ptr(), SAMPLE_RATE as i32, 1, ffi::OPUS_APPLICATION_VOIP)
        })?;
        enc.ctl(ffi::OPUS_SET_BITRATE_REQUEST, bitrate)?;
        enc.ctl(
            ffi::OPUS_SET_INBAND_FEC_REQUEST,
            i32::from(expected_loss_percent > 0),
        )?;
        enc.ctl(
            ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST,
            expected_loss_percent,
        )?;
        Ok(enc)
    }

    fn ptr(&mut self) -> *mut ffi::OpusEncoder {
        self.state.as_mut_ptr().cast()
    }

    fn ctl(&mut self, request: i32, value: i32) -> Result<(), OpusError> {
        // SAFETY: a setter request taking one opus_int32.
        check(unsafe { ffi::opus_encoder_ctl(self.ptr(), request, value) }).map(|_| ())
    }

    /// Encodes one 20 ms frame into `out`; returns the packet length.
    pub fn encode(
        &mut self,
        pcm: &[f32; FRAME_SAMPLES],
        out: &mut [u8],
    ) -> Result<usize, OpusError> {
        let max = out.len().min(i32::MAX as usize) as i32;
        // SAFETY: `pcm` holds one frame of mono samples; `out` has `max` bytes.
        let n = unsafe {
            ffi::opus_encode_float(
                self.ptr(),
                pcm.as_ptr(),
                FRAME_SAMPLES as c_int,
                out.as_mut_ptr(),
                max,
            )
        };
        check(n).map(|n| n as usize)
    }

    /// Makes this encoder an exact continuation of `other`'s stream.
    pub fn copy_state_from(&mut self, other: &Encoder) {
        self.state.copy_from_slice(&other.state);
    }
}

impl Clone for Encoder {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frame: usize, hz: f32) -> [f32; FRAME_SAMPLES] {
        core::array::from_fn(|i| {
            let t = (frame * FRAME_SAMPLES + i) as f32 / SAMPLE_RATE as f32;
            0.3 * (2.0 * core::f32::consts::PI * hz * t).sin()
        })
    }

    #[test]
    fn a_copied_state_continues_the_stream_bit_exactly() {
        let mut a = Encoder::new(32_000, 10).unwrap();
        let mut out_a = [0u8; 1500];
        let mut out_b = [0u8; 1500];
        for f in 0..50 {
            a.encode(&tone(f, 440.0), &mut out_a).unwrap();
        }
        let mut b = Encoder::new(64_000, 0).unwrap();
        b.encode(&tone(0, 1000.0), &mut out_b).unwrap();
        b.copy_state_from(&a);
        let mut c = a.clone();
        for f in 50..100 {
            let pcm = tone(f, 440.0 + f as f32);
            let na = a.encode(&pcm, &mut out_a).unwrap();
            let nb = b.encode(&pcm, &mut out_b).unwrap();
            assert_eq!(&out_a[..na], &out_b[..nb], "frame {f}");
            let nc = c.encode(&pcm, &mut out_b).unwrap();
            assert_eq!(&out_a[..na], &out_b[..nc], "clone, frame {f}");
        }
    }

    #[test]
    fn packets_decode_with_libopus() {
        let mut enc = Encoder::new(32_000, 0).unwrap();
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut packet = [0u8; 1500];
        let mut pcm = [0f32; FRAME_SAMPLES];
        for f in 0..10 {
            let n = enc.encode(&tone(f, 300.0), &mut packet).unwrap();
            assert_eq!(
                dec.decode_float(&packet[..n], &mut pcm, false).unwrap(),
                FRAME_SAMPLES
            );
        }
        assert!(pcm.iter().any(|s| s.abs() > 0.1));
        assert!(matches!(
            enc.encode(&tone(0, 300.0), &mut packet[..0]),
            Err(OpusError(_))
        ));
    }
}
