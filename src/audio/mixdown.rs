//! Room mixing: loudest-N selection and a mix bus with mix-minus.
//!
//! A room mixes only its N loudest talkers. Everyone who is not one of them
//! hears the same bus (one shared encode); each contributor hears the bus
//! minus their own voice. Summing once and subtracting per contributor keeps a
//! room O(N) in participants instead of O(N²).

use super::FRAME_SAMPLES;

/// The RFC 6464 level that means silence (−127 dBov).
pub const SILENT_LEVEL: u8 = 127;

/// Indexes of the `n` loudest participants, written to `out` loudest first;
/// returns how many were written (at most `n` and `out.len()`).
///
/// `levels` are RFC 6464 levels (−dBov: 0 is loudest, 127 silent). Silent
/// participants are never selected. Equal levels go to the lower index, so
/// the selection is stable from tick to tick. Same as
/// [`select_loudest_with_floor`] with no extra floor.
pub fn select_loudest(levels: &[u8], n: usize, out: &mut [usize]) -> usize {
    select_loudest_with_floor(levels, n, SILENT_LEVEL - 1, out)
}

/// As [`select_loudest`], but also skips anyone quieter than `-max_level`
/// dBov (level > `max_level`), so that background hiss never takes a slot.
///
/// O(N + 128): a histogram of the 128 possible levels finds the cut-off
/// level, then one pass places each selected index in its level's bucket,
/// in index order. No sort, no allocation.
pub fn select_loudest_with_floor(
    levels: &[u8],
    n: usize,
    max_level: u8,
    out: &mut [usize],
) -> usize {
    let n = n.min(out.len());
    if n == 0 {
        return 0;
    }
    let max_level = usize::from(max_level.min(SILENT_LEVEL - 1));
    let mut hist = [0usize; 128];
    for &l in levels {
        // Levels above 127 (the top bit is RFC 6464's V flag) count as silent.
        hist[usize::from(l.min(SILENT_LEVEL))] += 1;
    }
    // Cut-off: the level at which the running count reaches n. Buckets below
    // it are taken whole, the cut-off bucket only up to `room`.
    let mut taken = 0;
    let mut cut = max_level + 1;
    for (level, &count) in hist.iter().enumerate().take(max_level + 1) {
        if taken + count >= n {
            cut = level;
            break;
        }
        taken += count;
    }
    let total = if cut <= max_level { n } else { taken };
    // Turn the histogram into write offsets (loudest first).
    // `cut` ≤ 127, so every bucket it indexes exists.
    let mut offset = [0usize; 128];
    let mut acc = 0;
    for (o, &count) in offset.iter_mut().zip(&hist).take(cut) {
        *o = acc;
        acc += count;
    }
    offset[cut] = acc;
    let mut room = total - acc; // slots left for the cut-off level
    let out = &mut out[..total];
    for (i, &l) in levels.iter().enumerate() {
        let l = usize::from(l);
        if l < cut {
            out[offset[l]] = i;
            offset[l] += 1;
        } else if l == cut && room > 0 {
            out[offset[l]] = i;
            offset[l] += 1;
            room -= 1;
        }
    }
    total
}

/// One tick's mix: the sum of the selected contributors, each with a gain.
///
/// `mix_minus` subtracts a contributor's own (gained) frame from the sum. In
/// f32 `(a + b + c) - a` is not exactly `b + c`: a residue of the order of
/// 2⁻²⁴ times the bus level remains (about −140 dB), far below audibility
/// and below 16-bit quantisation, so no per-listener re-summing is needed.
/// The caller must pass the same frame and gain it gave to [`MixBus::add`].
#[derive(Clone)]
pub struct MixBus {
    sum: [f32; FRAME_SAMPLES],
    contributors: usize,
}

impl Default for MixBus {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MixBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MixBus")
            .field("contributors", &self.contributors)
            .finish_non_exhaustive()
    }
}

impl MixBus {
    /// An empty (silent) bus.
    pub fn new() -> Self {
        Self {
            sum: [0.0; FRAME_SAMPLES],
            contributors: 0,
        }
    }

    /// Starts a new tick.
    pub fn clear(&mut self) {
        self.sum = [0.0; FRAME_SAMPLES];
        self.contributors = 0;
    }

    /// Adds one contributor's frame scaled by `gain`.
    #[inline]
    pub fn add(&mut self, pcm: &[f32; FRAME_SAMPLES], gain: f32) {
        for (s, &x) in self.sum.iter_mut().zip(pcm) {
            *s += x * gain;
        }
        self.contributors += 1;
    }

    /// The mix everyone who is not a contributor hears (before limiting).
    #[inline]
    pub fn sum(&self) -> &[f32; FRAME_SAMPLES] {
        &self.sum
    }

    /// How many frames were added since the last `clear`.
    #[inline]
    pub fn contributors(&self) -> usize {
        self.contributors
    }

    /// The mix for a contributor: the bus minus their own `own * own_gain`.
    #[inline]
    pub fn mix_minus(
        &self,
        own: &[f32; FRAME_SAMPLES],
        own_gain: f32,
        out: &mut [f32; FRAME_SAMPLES],
    ) {
        for ((o, &s), &x) in out.iter_mut().zip(&self.sum).zip(own) {
            *o = s - x * own_gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Power of `x` at `freq` Hz (Goertzel), normalised so that a sine of
    /// amplitude A gives A² (for bin-centred frequencies).
    fn goertzel(x: &[f32], freq: f64) -> f64 {
        let w = 2.0 * PI * freq / 48_000.0;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s0 = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        let n = x.len() as f64;
        4.0 * p / (n * n)
    }

    fn db(p: f64) -> f64 {
        10.0 * p.max(1e-300).log10()
    }

    /// Tones on 50 Hz bins, so that one 960-sample frame separates them.
    fn tone(freq: f64, amp: f32, phase: f64) -> [f32; FRAME_SAMPLES] {
        std::array::from_fn(|i| amp * (2.0 * PI * freq * i as f64 / 48_000.0 + phase).sin() as f32)
    }

    #[test]
    fn mix_minus_holds_the_others_and_not_oneself() {
        let freqs = [300.0, 500.0, 700.0];
        let amps = [0.4f32, 0.3, 0.2];
        let gains = [1.0f32, 0.8, 0.5];
        let pcm: Vec<_> = (0..3)
            .map(|i| tone(freqs[i], amps[i], 0.3 * i as f64))
            .collect();
        let mut bus = MixBus::new();
        for i in 0..3 {
            bus.add(&pcm[i], gains[i]);
        }
        assert_eq!(bus.contributors(), 3);
        let mut out = [0.0; FRAME_SAMPLES];
        for me in 0..3 {
            bus.mix_minus(&pcm[me], gains[me], &mut out);
            for other in 0..3 {
                let expected = f64::from(amps[other] * gains[other]).powi(2);
                let got = goertzel(&out, freqs[other]);
                if other == me {
                    // Own voice: > 100 dB below what it was in the bus.
                    let atten = db(expected) - db(got);
                    assert!(
                        atten > 100.0,
                        "listener {me}: own tone only {atten:.1} dB down"
                    );
                } else {
                    let err = (db(got) - db(expected)).abs();
                    assert!(err < 0.01, "listener {me} hears {other} off by {err} dB");
                }
            }
        }
        // Everyone else hears all three.
        for i in 0..3 {
            let expected = f64::from(amps[i] * gains[i]).powi(2);
            assert!((db(goertzel(bus.sum(), freqs[i])) - db(expected)).abs() < 0.01);
        }
    }

    #[test]
    fn mix_minus_residue_is_below_100_db() {
        // Broadband: the residue against an exact f64 sum of the others.
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut noise = || -> [f32; FRAME_SAMPLES] {
            std::array::from_fn(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
        };
        let pcm: Vec<_> = (0..8).map(|_| noise()).collect();
        let mut bus = MixBus::new();
        for p in &pcm {
            bus.add(p, 0.7);
        }
        let mut out = [0.0; FRAME_SAMPLES];
        bus.mix_minus(&pcm[3], 0.7, &mut out);
        let (mut err, mut own) = (0.0f64, 0.0f64);
        for i in 0..FRAME_SAMPLES {
            let exact: f64 = (0..8)
                .filter(|&j| j != 3)
                .map(|j| 0.7 * f64::from(pcm[j][i]))
                .sum();
            err += (f64::from(out[i]) - exact).powi(2);
            own += (0.7 * f64::from(pcm[3][i])).powi(2);
        }
        let atten = db(own) - db(err);
        assert!(atten > 100.0, "residue only {atten:.1} dB below own signal");
    }

    #[test]
    fn clear_starts_a_new_tick() {
        let mut bus = MixBus::new();
        bus.add(&[0.5; FRAME_SAMPLES], 1.0);
        bus.clear();
        assert_eq!(bus.contributors(), 0);
        assert!(bus.sum().iter().all(|&v| v == 0.0));
    }

    fn loudest(levels: &[u8], n: usize) -> Vec<usize> {
        let mut out = vec![usize::MAX; n];
        let k = select_loudest(levels, n, &mut out);
        out.truncate(k);
        out
    }

    #[test]
    fn loudest_n_picks_lowest_levels_loudest_first() {
        let levels = [40, 10, 127, 30, 20, 90];
        assert_eq!(loudest(&levels, 3), vec![1, 4, 3]);
        assert_eq!(loudest(&levels, 1), vec![1]);
        assert_eq!(loudest(&levels, 0), Vec::<usize>::new());
    }

    #[test]
    fn loudest_n_breaks_ties_by_index() {
        let levels = [30, 20, 30, 20, 30, 127, 30];
        assert_eq!(loudest(&levels, 3), vec![1, 3, 0]);
        assert_eq!(loudest(&levels, 4), vec![1, 3, 0, 2]);
        assert_eq!(loudest(&levels, 6), vec![1, 3, 0, 2, 4, 6]);
    }

    #[test]
    fn loudest_n_skips_silent_and_stops_at_the_active() {
        let levels = [127, 50, 127, 60, 127];
        assert_eq!(loudest(&levels, 5), vec![1, 3]);
        assert_eq!(loudest(&[127; 4], 3), Vec::<usize>::new());
        assert_eq!(loudest(&[], 3), Vec::<usize>::new());
        // Values above 127 (a set V bit) are treated as silent.
        assert_eq!(loudest(&[200, 5], 2), vec![1]);
    }

    #[test]
    fn loudest_n_honours_the_floor_and_out_len() {
        let levels = [70, 10, 55, 60, 127];
        let mut out = [0usize; 8];
        let k = select_loudest_with_floor(&levels, 8, 60, &mut out);
        assert_eq!(&out[..k], &[1, 2, 3]);
        // n larger than out: bounded by out.
        let mut small = [0usize; 2];
        assert_eq!(select_loudest(&levels, 8, &mut small), 2);
        assert_eq!(small, [1, 2]);
    }

    #[test]
    fn loudest_n_matches_a_sort_on_a_large_room() {
        let mut s = 12345u32;
        let levels: Vec<u8> = (0..1000)
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((s >> 16) % 140) as u8 // some silent, some > 127
            })
            .collect();
        let mut reference: Vec<usize> = (0..levels.len()).filter(|&i| levels[i] < 127).collect();
        reference.sort_by_key(|&i| (levels[i], i));
        for n in [1, 5, 17, 100, 999, 2000] {
            let want: Vec<usize> = reference.iter().copied().take(n).collect();
            assert_eq!(loudest(&levels, n), want, "n = {n}");
        }
    }
}
