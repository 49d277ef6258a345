//! Audio levels: the RFC 6464 client-to-mixer header extension, the RFC 6465
//! mixer-to-client CSRC levels, the level of a PCM frame, and a smoothed
//! level meter for what a mixer reports per participant.
//!
//! Levels are in -dBov as both RFCs carry them: 0 is the loudest a stream can
//! encode, 127 is digital silence (or anything quieter than -127 dBov).

/// The level of digital silence, -dBov.
pub const SILENCE: u8 = 127;

/// The one-byte value of the RFC 6464 audio level header extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AudioLevel {
    /// The V flag: the sender's own voice activity decision.
    pub voice: bool,
    /// -dBov, 0..=127.
    pub level: u8,
}

impl AudioLevel {
    /// The extension byte. A level above 127 is written as 127 (silence)
    /// rather than spilling into the V bit.
    pub fn to_byte(self) -> u8 {
        (u8::from(self.voice) << 7) | self.level.min(SILENCE)
    }
}

/// Parses the RFC 6464 extension value (the data after the RFC 8285 element
/// header). `None` when empty; bytes after the first are ignored, so a
/// two-byte-header element with a longer length still yields its level.
pub fn parse_audio_level(value: &[u8]) -> Option<AudioLevel> {
    let &b = value.first()?;
    Some(AudioLevel {
        voice: b & 0x80 != 0,
        level: b & 0x7f,
    })
}

/// The RFC 6464 §4 level of `pcm` (samples relative to full scale 1.0): the
/// RMS in dB relative to the overload point, negated and rounded, clamped
/// to 0..=127. A full-scale square wave is 0, a full-scale sine 3; digital
/// silence (or an empty slice) is 127. NaN samples count as zero.
pub fn level_dbov(pcm: &[f32]) -> u8 {
    if pcm.is_empty() {
        return SILENCE;
    }
    // f64 so that long slices of quiet samples keep their precision.
    let energy: f64 = pcm
        .iter()
        .map(|&s| {
            let s = if s.is_nan() { 0.0 } else { f64::from(s) };
            s * s
        })
        .sum();
    let mean = energy / pcm.len() as f64;
    // mean 0 gives +inf (→ 127); an infinite sample gives -inf (→ 0).
    let minus_dbov = -10.0 * mean.log10();
    minus_dbov.round().clamp(0.0, f64::from(SILENCE)) as u8
}

/// Writes RFC 6465 mixer-to-client levels, one byte per CSRC in the order of
/// the CSRC list (high bit 0, 7-bit -dBov; above 127 written as 127).
/// Returns the bytes written: `min(levels.len(), out.len())`, so a short
/// `out` is visible to the caller rather than overrun.
pub fn write_csrc_levels(levels: &[u8], out: &mut [u8]) -> usize {
    let n = levels.len().min(out.len());
    for (o, &l) in out[..n].iter_mut().zip(levels) {
        *o = l.min(SILENCE);
    }
    n
}

/// A level meter per participant, for the RFC 6465 levels a mixer sends and
/// for ranking loudness. Raw 20 ms levels swing by 30 dB between a syllable
/// and the gap after it; a client drawing them would flicker. The meter
/// rises fast (half the distance per frame) and falls at a fixed rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelMeter {
    /// -dBov, smoothed.
    value: f32,
}

impl LevelMeter {
    /// Fraction of the distance to a louder level covered per frame: a
    /// syllable shows within 40–60 ms.
    pub const ATTACK: f32 = 0.5;
    /// dB per 20 ms frame the meter falls by (25 dB/s): the gaps between
    /// words (≤ 250 ms) dip it by a few dB, a finished sentence empties it
    /// within a couple of seconds.
    pub const RELEASE_DB: f32 = 0.5;

    pub const fn new() -> Self {
        Self {
            value: SILENCE as f32,
        }
    }

    /// Feeds one frame's level (-dBov) and returns the smoothed level.
    pub fn update(&mut self, level: u8) -> u8 {
        let level = f32::from(level.min(SILENCE));
        if level < self.value {
            self.value += (level - self.value) * Self::ATTACK;
        } else {
            self.value = (self.value + Self::RELEASE_DB).min(level);
        }
        self.level()
    }

    /// The smoothed level, -dBov.
    pub fn level(&self) -> u8 {
        self.value.round() as u8
    }
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::FRAME_SAMPLES;
    use core::f32::consts::TAU;

    fn sine(amplitude: f32, freq: f32) -> Vec<f32> {
        (0..FRAME_SAMPLES)
            .map(|i| amplitude * (TAU * freq * i as f32 / 48_000.0).sin())
            .collect()
    }

    #[test]
    fn parse_and_write_round_trip() {
        assert_eq!(parse_audio_level(&[]), None);
        assert_eq!(
            parse_audio_level(&[0x80 | 42]),
            Some(AudioLevel {
                voice: true,
                level: 42
            })
        );
        assert_eq!(
            parse_audio_level(&[0x7f, 0, 0]),
            Some(AudioLevel {
                voice: false,
                level: 127
            })
        );
        for b in 0..=255u8 {
            assert_eq!(parse_audio_level(&[b]).unwrap().to_byte(), b);
        }
        let over = AudioLevel {
            voice: false,
            level: 200,
        };
        assert_eq!(over.to_byte(), 127, "an out-of-range level must not set V");
    }

    #[test]
    fn level_of_known_signals() {
        // RFC 6464 §4: full-scale square wave is 0 dBov, full-scale sine -3.
        let square: Vec<f32> = (0..FRAME_SAMPLES)
            .map(|i| if (i / 48) % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        assert_eq!(level_dbov(&square), 0);
        assert_eq!(level_dbov(&sine(1.0, 1000.0)), 3);
        assert_eq!(level_dbov(&sine(0.1, 1000.0)), 23);
        assert_eq!(level_dbov(&sine(0.01, 440.0)), 43);
        assert_eq!(level_dbov(&[0.0; FRAME_SAMPLES]), 127);
        assert_eq!(level_dbov(&[]), 127);
        // Below -127 dBov is still 127; above full scale is still 0.
        assert_eq!(level_dbov(&sine(1e-7, 1000.0)), 127);
        assert_eq!(level_dbov(&[2.0; 8]), 0);
        assert_eq!(level_dbov(&[f32::INFINITY, 0.0]), 0);
        assert_eq!(level_dbov(&[f32::NAN; 4]), 127);
        assert_eq!(
            level_dbov(&[f32::NAN, 1.0]),
            3,
            "NaN counts as a zero sample"
        );
    }

    #[test]
    fn csrc_levels() {
        let mut out = [0xffu8; 4];
        assert_eq!(write_csrc_levels(&[0, 30, 127], &mut out), 3);
        assert_eq!(out, [0, 30, 127, 0xff]);
        assert_eq!(write_csrc_levels(&[200, 255], &mut out), 2);
        assert_eq!(&out[..2], &[127, 127], "high bit stays 0");
        let mut short = [0u8; 2];
        assert_eq!(write_csrc_levels(&[1, 2, 3], &mut short), 2);
        assert_eq!(short, [1, 2]);
        assert_eq!(write_csrc_levels(&[], &mut out), 0);
    }

    #[test]
    fn meter_attacks_fast_and_releases_slowly() {
        let mut m = LevelMeter::new();
        assert_eq!(m.level(), 127);
        // Background noise, then a syllable at 30: within 3 frames of it.
        for _ in 0..10 {
            m.update(80);
        }
        assert_eq!(m.level(), 80);
        m.update(30);
        m.update(30);
        assert!(m.update(30) <= 37, "{}", m.level());
        for _ in 0..20 {
            m.update(30);
        }
        assert_eq!(m.level(), 30);
        // A 200 ms gap costs 5 dB, not a drop to the noise.
        for _ in 0..10 {
            m.update(80);
        }
        assert_eq!(m.level(), 35);
        // Back to the noise, never below (quieter than) it.
        for _ in 0..200 {
            m.update(80);
        }
        assert_eq!(m.level(), 80);
        m.update(127);
        assert_eq!(m.level(), 81);
    }
}
