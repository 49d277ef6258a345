//! Soft limiter for mixed audio, and saturating conversion to 16-bit PCM.
//!
//! A sum of talkers can exceed full scale (ten at full scale peak at 10.0).
//! Hard clipping sounds harsh and a plain `as` cast to i16 would wrap, so the
//! mix goes through a gain computer driven by a peak envelope:
//!
//! - envelope: instant attack (it jumps to any larger |x|), held for
//!   [`HOLD_MS`] so the gain does not ripple within a pitch period, then
//!   exponential release with time constant [`RELEASE_MS`];
//! - static curve: unity gain while the envelope is below [`KNEE`]
//!   (−6 dBFS); above it the output level bends smoothly (slope 1 at the
//!   knee) towards [`CEILING`] and never reaches it:
//!   `f(e) = K + W·u / (1 + u)`, `u = (e − K) / W`, `W = CEILING − K`;
//! - gain `g = f(e) / e`. Since `|x| ≤ e`, `|x·g| ≤ f(e) < CEILING` for any
//!   input, without look-ahead (zero latency). A final clamp catches only
//!   f32 rounding.
//!
//! From a burst of peak P the gain is back to unity `HOLD_MS + RELEASE_MS ·
//! ln(P / KNEE)` after it ends: 80 ms for +6 dBFS, 160 ms for ten talkers.
//! Frames whose peak and starting envelope are below the knee are left
//! untouched (bit-exact) after one vectorized peak scan.

use super::{FRAME_SAMPLES, SAMPLE_RATE};

/// Highest output magnitude (−0.26 dBFS): headroom for the Opus encoder's
/// own overshoot.
pub const CEILING: f32 = 0.97;
/// Envelope level where gain reduction starts (−6 dBFS).
pub const KNEE: f32 = 0.5;
/// How long the envelope holds a peak before releasing: covers pitch
/// periods down to 100 Hz.
pub const HOLD_MS: u32 = 10;
/// Release time constant of the envelope.
pub const RELEASE_MS: u32 = 50;

const HOLD_SAMPLES: u32 = SAMPLE_RATE / 1000 * HOLD_MS;
/// Width of the soft region between the knee and the ceiling.
const WIDTH: f32 = CEILING - KNEE;

/// Soft limiter state for one output stream (one per mix that is encoded).
#[derive(Clone)]
pub struct Limiter {
    /// Per-sample envelope decay during release.
    release: f32,
    /// `release` over a whole frame (for the pass-through path).
    release_frame: f32,
    env: f32,
    hold: u32,
    /// Gain applied to the last sample.
    gain: f32,
    /// Scratch for the per-sample envelope (sized here, not per frame).
    env_buf: [f32; FRAME_SAMPLES],
}

impl Default for Limiter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("env", &self.env)
            .field("hold", &self.hold)
            .field("gain", &self.gain)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter at rest (unity gain).
    pub fn new() -> Self {
        let samples = f64::from(SAMPLE_RATE) * f64::from(RELEASE_MS) / 1000.0;
        let release = (-1.0 / samples).exp();
        Self {
            release: release as f32,
            release_frame: release.powi(FRAME_SAMPLES as i32) as f32,
            env: 0.0,
            hold: 0,
            gain: 1.0,
            env_buf: [0.0; FRAME_SAMPLES],
        }
    }

    /// Gain applied to the most recent sample (1.0 = no reduction); for
    /// stats and tests.
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Limits one frame in place. A non-finite sample does not touch the
    /// envelope: ±inf comes out as ±`CEILING`, NaN as NaN (0 after
    /// [`to_i16`]).
    pub fn process(&mut self, frame: &mut [f32; FRAME_SAMPLES]) {
        let peak = peak_abs(frame);
        if peak <= KNEE && self.env <= KNEE {
            // Unity gain throughout. The exact envelope does not matter while
            // it stays below the knee: the next sample above the knee resets
            // it to that sample either way.
            self.env = peak.max(self.env * self.release_frame);
            self.hold = 0;
            self.gain = 1.0;
            return;
        }

        // Pass 1 (serial): envelope per sample, always ≥ |x|.
        let (mut env, mut hold) = (self.env, self.hold);
        for (e, &x) in self.env_buf.iter_mut().zip(frame.iter()) {
            // Non-finite samples are left out of the envelope (an infinite
            // one would stick there); the final clamp bounds them instead.
            let a = x.abs();
            let a = if a < f32::INFINITY { a } else { 0.0 };
            if a >= env {
                env = a;
                hold = HOLD_SAMPLES;
            } else if hold > 0 {
                hold -= 1;
            } else {
                // Keeps env ≥ |x|.
                env = (env * self.release).max(a);
            }
            *e = env;
        }
        self.env = env;
        self.hold = hold;

        // Pass 2 (vectorizable): gain from the static curve, applied.
        let mut g = 1.0;
        for (x, &e) in frame.iter_mut().zip(self.env_buf.iter()) {
            let u = (e - KNEE).max(0.0) * (1.0 / WIDTH);
            let f = KNEE + WIDTH * u / (1.0 + u);
            // Below the knee f = KNEE ≥ e, so the min gives 1 (also for e = 0,
            // where f / e is +inf).
            g = (f / e).min(1.0);
            *x = (*x * g).clamp(-CEILING, CEILING);
        }
        self.gain = g;
    }
}

/// Largest |x| of a frame, over independent lanes so that it vectorizes
/// (`f32::max` would not: its NaN rule blocks it).
fn peak_abs(frame: &[f32; FRAME_SAMPLES]) -> f32 {
    const LANES: usize = 32;
    let mut acc = [0.0f32; LANES];
    for c in frame.chunks_exact(LANES) {
        for i in 0..LANES {
            let a = c[i].abs();
            acc[i] = if a > acc[i] { a } else { acc[i] };
        }
    }
    acc.iter().fold(0.0f32, |m, &v| m.max(v))
}

/// Converts samples to 16-bit PCM (×32768, rounded to nearest), saturating
/// at the extremes: a sample beyond full scale becomes 32767 or −32768, never
/// a wrapped value of the opposite sign. NaN becomes 0. Converts
/// `min(frame.len(), out.len())` samples.
pub fn to_i16(frame: &[f32], out: &mut [i16]) {
    // Adding 1.5·2²³ leaves round(v) in the low mantissa bits: rounding and
    // conversion without a float→int instruction, which LLVM will not
    // vectorize for i16 (a saturating `as i16` runs ~4× slower).
    const MAGIC: f32 = 12_582_912.0;
    debug_assert_eq!(frame.len(), out.len());
    for (o, &x) in out.iter_mut().zip(frame) {
        let v = (x * 32768.0).clamp(-32768.0, 32767.0);
        let v = if v.is_nan() { 0.0 } else { v };
        *o = ((v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn tone(freq: f64, amp: f64, start: usize) -> [f32; FRAME_SAMPLES] {
        std::array::from_fn(|i| {
            (amp * (2.0 * PI * freq * (start + i) as f64 / 48_000.0).sin()) as f32
        })
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn ten_full_scale_talkers_stay_under_the_ceiling_without_wrap() {
        let mut lim = Limiter::new();
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut max_in = 0.0f32;
        let mut wraps_if_cast = 0;
        for f in 0..50 {
            // Ten cosines at full scale, all in phase every 10 ms: peaks of 10.
            let mut sum = [0.0f32; FRAME_SAMPLES];
            for k in 0..10 {
                let freq = 200.0 + 100.0 * k as f64;
                for (i, s) in sum.iter_mut().enumerate() {
                    let t = (f * FRAME_SAMPLES + i) as f64 / 48_000.0;
                    *s += (2.0 * PI * freq * t).cos() as f32;
                }
            }
            max_in = sum.iter().fold(max_in, |m, &v| m.max(v.abs()));
            let input = sum;
            lim.process(&mut sum);
            for &y in &sum {
                assert!(y.abs() <= CEILING, "output {y} above the ceiling");
            }
            to_i16(&sum, &mut pcm);
            for ((&x, &y), &p) in input.iter().zip(&sum).zip(&pcm) {
                // Gain only: the sign survives limiting and conversion.
                assert!(x * y >= 0.0);
                assert!(
                    (x > 0.0 && p >= 0) || (x < 0.0 && p <= 0) || x == 0.0,
                    "{x} became {p}"
                );
                if ((x * 32768.0) as i32 as i16 >= 0) != (x >= 0.0) {
                    wraps_if_cast += 1;
                }
            }
        }
        assert!(max_in > 9.9, "test signal peaks at {max_in}");
        // The naive cast would have wrapped: the test signal is hot enough.
        assert!(wraps_if_cast > 0);
    }

    #[test]
    fn quiet_signal_is_untouched() {
        let mut lim = Limiter::new();
        for f in 0..20 {
            // −7 dBFS peak speech-band mix, just under the knee.
            let a = tone(220.0, 0.25, f * FRAME_SAMPLES);
            let b = tone(1_300.0, 0.2, f * FRAME_SAMPLES);
            let input: [f32; FRAME_SAMPLES] = std::array::from_fn(|i| a[i] + b[i]);
            let mut y = input;
            lim.process(&mut y);
            assert_eq!(y, input);
            assert_eq!(lim.gain(), 1.0);
            let db = 20.0 * (rms(&y) / rms(&input)).log10();
            assert!(db.abs() < 0.1);
        }
    }

    #[test]
    fn gain_recovers_after_a_burst_within_the_release() {
        let mut lim = Limiter::new();
        let mut t = 0;
        let mut frame_db = |lim: &mut Limiter, amp: f64| {
            let input = tone(440.0, amp, t);
            t += FRAME_SAMPLES;
            let mut y = input;
            lim.process(&mut y);
            20.0 * (rms(&y) / rms(&input)).log10()
        };
        for _ in 0..5 {
            assert_eq!(frame_db(&mut lim, 0.1), 0.0);
        }
        // 100 ms at +6 dBFS: limited hard, below the ceiling.
        for _ in 0..5 {
            let db = frame_db(&mut lim, 2.0);
            assert!(db < -6.0, "burst only {db} dB down");
        }
        // Back to −20 dBFS. Not instant: still reduced in the first 20 ms...
        let first = frame_db(&mut lim, 0.1);
        assert!(first < -1.0, "released too fast: {first} dB");
        // ...back within 0.1 dB from HOLD + RELEASE·ln(2/0.5) ≈ 80 ms on.
        let mut recovered_at = None;
        for k in 1..10 {
            let db = frame_db(&mut lim, 0.1);
            if db > -0.1 && recovered_at.is_none() {
                recovered_at = Some(20 * (k + 1));
            }
            if k >= 4 {
                assert!(db > -0.1, "{} ms after the burst: {db} dB", 20 * (k + 1));
                assert_eq!(lim.gain(), 1.0);
            }
        }
        let ms = recovered_at.unwrap();
        assert!((60..=100).contains(&ms), "recovered after {ms} ms");
    }

    #[test]
    fn soft_curve_is_continuous_and_monotonic() {
        // Steady input at each level: output level rises with input, is
        // unity below the knee and approaches (never reaches) the ceiling.
        let mut last = 0.0f32;
        for i in 1..=400 {
            let level = i as f32 * 0.025; // up to 10.0
            let mut lim = Limiter::new();
            let mut frame = [level; FRAME_SAMPLES];
            lim.process(&mut frame);
            let out = frame[FRAME_SAMPLES - 1];
            if level <= KNEE {
                assert_eq!(out, level);
            }
            assert!(out >= last && out < CEILING, "{level} -> {out}");
            // Slope ≤ 1: no step at the knee.
            assert!(out - last <= 0.025 + 1e-6);
            last = out;
        }
        assert!(last > 0.9);
    }

    #[test]
    fn non_finite_samples_do_not_stick() {
        let mut lim = Limiter::new();
        let quiet = tone(300.0, 0.1, 0);
        let mut y = quiet;
        y[10] = f32::INFINITY;
        y[20] = f32::NEG_INFINITY;
        y[30] = f32::NAN;
        lim.process(&mut y);
        assert_eq!((y[10], y[20]), (CEILING, -CEILING));
        assert!(y[30].is_nan());
        for i in (0..FRAME_SAMPLES).filter(|i| ![10, 20, 30].contains(i)) {
            assert_eq!(y[i], quiet[i]);
        }
        let mut y = quiet;
        lim.process(&mut y);
        assert_eq!(y, quiet);
        assert_eq!(lim.gain(), 1.0);
    }

    #[test]
    fn to_i16_saturates_and_rounds() {
        let x = [
            0.0,
            1.0,
            -1.0,
            10.0,
            -10.0,
            0.5,
            -0.5,
            0.75 / 32768.0,
            -1.25 / 32768.0,
            32766.6 / 32768.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        let mut out = [123i16; 13];
        to_i16(&x, &mut out);
        assert_eq!(
            out,
            [0, 32767, -32768, 32767, -32768, 16384, -16384, 1, -1, 32767, 0, 32767, -32768]
        );
    }
}
