//! 48 kHz → 16 kHz decimation for the transcription taps.
//!
//! One linear-phase FIR low-pass (Kaiser-windowed sinc, designed once in
//! [`Decimator3::new`]), evaluated only at every third input position: the
//! cost of the polyphase form (`TAPS` multiply-adds per output) without its
//! bookkeeping, because a 20 ms frame is exactly 3 × 320 samples and the
//! phase never drifts.

use super::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};

/// Filter length. `TAPS - 1` is a multiple of 6 so that the group delay,
/// `(TAPS - 1) / 2` input samples, is a whole number of 16 kHz samples; 103
/// fills the 104-tap SIMD padding (97 would cost the same and reach −64 dB).
const TAPS: usize = 103;
/// `TAPS` rounded up to the SIMD chunk, padded with zero taps.
const PADDED: usize = TAPS.next_multiple_of(LANES);
/// Accumulator lanes of the dot product: independent sums that LLVM turns
/// into vector registers (a single f32 sum would stay scalar).
const LANES: usize = 8;
/// Input samples kept from the previous frame.
const HISTORY: usize = PADDED - 1;
/// −6 dB point of the low-pass. With the transition band 6–8 kHz, 1 kHz each
/// side of it, everything that would alias (≥ 8 kHz) is in the stopband.
const CUTOFF_HZ: f64 = 7_000.0;
/// Kaiser β: the best stopband for 103 taps (−67.8 dB worst case from 8 kHz
/// up, measured with f32 coefficients; 60 dB required). Larger β widens the
/// transition past 8 kHz, smaller raises the sidelobes.
const KAISER_BETA: f64 = 6.6;

/// Stateful 3:1 decimator, 48 kHz → 16 kHz, one 20 ms frame at a time.
///
/// Memory is fixed (about 4 KiB, inline); no allocation after `new`.
#[derive(Clone)]
pub struct Decimator3 {
    /// Coefficients reversed and front-padded with zeros, so that output `m`
    /// is the dot product of `coef` with `buf[3m..3m + PADDED]`.
    coef: [f32; PADDED],
    /// `HISTORY` samples of the previous frames, then the current frame.
    buf: [f32; HISTORY + FRAME_SAMPLES],
}

impl Default for Decimator3 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Decimator3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decimator3")
            .field("taps", &TAPS)
            .field("delay_samples", &self.delay_samples())
            .finish()
    }
}

impl Decimator3 {
    /// A decimator with silent history.
    pub fn new() -> Self {
        let h = design_lowpass();
        let mut coef = [0.0f32; PADDED];
        // Symmetric filter: reversing is a no-op, but keep it explicit.
        for (k, &c) in h.iter().enumerate() {
            coef[PADDED - 1 - k] = c as f32;
        }
        Self {
            coef,
            buf: [0.0; HISTORY + FRAME_SAMPLES],
        }
    }

    /// Forget the history (after a gap in the stream, to avoid smearing old
    /// audio into new).
    pub fn reset(&mut self) {
        self.buf = [0.0; HISTORY + FRAME_SAMPLES];
    }

    /// Group delay in 16 kHz samples: output `m` is centred on input sample
    /// `3 * (m - delay_samples())`. The mixer subtracts it when stamping tap
    /// frames with media time.
    pub const fn delay_samples(&self) -> usize {
        (TAPS - 1) / 2 / 3
    }

    /// Decimates one 20 ms frame. Continuous across calls.
    pub fn process(&mut self, input: &[f32; FRAME_SAMPLES], out: &mut [f32; TAP_FRAME_SAMPLES]) {
        self.buf[HISTORY..].copy_from_slice(input);
        let coef = &self.coef;
        for (m, y) in out.iter_mut().enumerate() {
            let start = 3 * m;
            // One bounds check per output; the inner loop has none.
            let window: &[f32; PADDED] = self.buf[start..start + PADDED]
                .try_into()
                .expect("window inside buffer");
            *y = dot(coef, window);
        }
        self.buf.copy_within(FRAME_SAMPLES.., 0);
    }
}

/// Dot product over `LANES` independent partial sums (vectorizable).
#[inline(always)]
fn dot(a: &[f32; PADDED], b: &[f32; PADDED]) -> f32 {
    let mut acc = [0.0f32; LANES];
    for (ca, cb) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += ca[i] * cb[i];
        }
    }
    acc.iter().sum()
}

/// Kaiser-windowed sinc low-pass, unity gain at DC.
fn design_lowpass() -> [f64; TAPS] {
    let fc = CUTOFF_HZ / f64::from(super::SAMPLE_RATE); // cycles per sample
    let mid = (TAPS - 1) as f64 / 2.0;
    let i0_beta = bessel_i0(KAISER_BETA);
    let mut h = [0.0f64; TAPS];
    for (k, v) in h.iter_mut().enumerate() {
        let t = k as f64 - mid;
        let sinc = if t == 0.0 {
            2.0 * fc
        } else {
            (2.0 * std::f64::consts::PI * fc * t).sin() / (std::f64::consts::PI * t)
        };
        let r = t / mid;
        let w = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
        *v = sinc * w;
    }
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v /= sum;
    }
    h
}

/// Modified Bessel function of the first kind, order 0 (power series; 30
/// terms are far beyond f64 precision for β ≤ 10).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..30 {
        term *= q / (k * k) as f64;
        sum += term;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// The designed filter's magnitude response in dB at `f` Hz.
    fn response_db(f: f64) -> f64 {
        let h = design_lowpass();
        let w = 2.0 * PI * f / f64::from(crate::audio::SAMPLE_RATE);
        let (mut re, mut im) = (0.0, 0.0);
        for (k, &c) in h.iter().enumerate() {
            // f32 coefficients, as used.
            let c = f64::from(c as f32);
            re += c * (w * k as f64).cos();
            im -= c * (w * k as f64).sin();
        }
        10.0 * (re * re + im * im).log10()
    }

    fn run(signal: &[f32]) -> Vec<f32> {
        let mut d = Decimator3::new();
        let mut out = Vec::new();
        let mut y = [0.0; TAP_FRAME_SAMPLES];
        for frame in signal.chunks_exact(FRAME_SAMPLES) {
            d.process(frame.try_into().unwrap(), &mut y);
            out.extend_from_slice(&y);
        }
        out
    }

    fn sine(freq: f64, amp: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / 48_000.0).sin()) as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn frequency_response_meets_the_spec() {
        // Stopband: everything that would alias, 8 kHz to 24 kHz, ≥ 60 dB down.
        let mut worst_stop = f64::MIN;
        for i in 0..=1600 {
            let f = 8_000.0 + 10.0 * i as f64;
            worst_stop = worst_stop.max(response_db(f));
        }
        // 60 dB is the requirement; the design reaches 67.8 (catch regressions).
        assert!(worst_stop <= -65.0, "stopband {worst_stop:.1} dB");
        // Passband: flat within 0.01 dB up to 6 kHz.
        for i in 0..=600 {
            let f = 10.0 * i as f64;
            let db = response_db(f);
            assert!(db.abs() < 0.01, "{f} Hz: {db:.4} dB");
        }
    }

    #[test]
    fn one_khz_sine_comes_out_as_one_khz_at_16k() {
        let frames = 20;
        let out = run(&sine(1_000.0, 0.5, frames * FRAME_SAMPLES));
        let d = Decimator3::new().delay_samples();
        // Skip the first frame: the filter is filling.
        let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for (m, &y) in out.iter().enumerate().skip(TAP_FRAME_SAMPLES) {
            let ideal = 0.5 * (2.0 * PI * 1_000.0 * (m as f64 - d as f64) / 16_000.0).sin();
            let y = f64::from(y);
            xy += ideal * y;
            xx += ideal * ideal;
            yy += y * y;
        }
        let corr = xy / (xx * yy).sqrt();
        assert!(corr > 0.999, "correlation {corr}");
        let gain_db = 10.0 * (yy / xx).log10();
        assert!(gain_db.abs() < 0.01, "gain {gain_db} dB");
    }

    #[test]
    fn ten_khz_is_attenuated_50_db() {
        let out = run(&sine(10_000.0, 1.0, 20 * FRAME_SAMPLES));
        let ratio = rms(&out[TAP_FRAME_SAMPLES..]) / (1.0 / 2f64.sqrt());
        let db = 20.0 * ratio.log10();
        assert!(db <= -50.0, "10 kHz at {db:.1} dB");
    }

    #[test]
    fn delay_matches_an_impulse() {
        let mut x = vec![0.0f32; 3 * FRAME_SAMPLES];
        let q = 400; // straddles the frame boundary once delayed
        x[3 * q] = 1.0;
        let out = run(&x);
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert_eq!(peak, q + Decimator3::new().delay_samples());
    }

    #[test]
    fn framewise_equals_direct_convolution() {
        // White noise from a small xorshift, 50 frames (1 s).
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let x: Vec<f32> = (0..50 * FRAME_SAMPLES)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        let out = run(&x);
        let h: Vec<f64> = design_lowpass()
            .iter()
            .map(|&c| f64::from(c as f32))
            .collect();
        assert_eq!(out.len(), x.len() / 3);
        for (m, &y) in out.iter().enumerate() {
            let n = 3 * m;
            let direct: f64 = (0..TAPS)
                .filter(|&k| k <= n)
                .map(|k| h[k] * f64::from(x[n - k]))
                .sum();
            assert!(
                (f64::from(y) - direct).abs() < 1e-5,
                "output {m}: {y} vs {direct}"
            );
        }
    }

    #[test]
    fn reset_clears_history() {
        let mut d = Decimator3::new();
        let mut y = [0.0; TAP_FRAME_SAMPLES];
        d.process(&[1.0; FRAME_SAMPLES], &mut y);
        d.reset();
        d.process(&[0.0; FRAME_SAMPLES], &mut y);
        assert!(y.iter().all(|&v| v == 0.0));
    }
}
