//! Speech-like audio encoded with libopus and packetized as RTP.

use crate::packet::RtpBuilder;
use crate::sim::DriftClock;
use crate::sim::Rng;
use bytes::Bytes;
use std::fmt;

use super::{build, CodecError, SenderClock};

/// Speech-like test signal: a harmonic voice whose pitch glides, shaped into
/// syllables (about four a second) separated by pauses, over a faint noise
/// floor. Seeded; not meant to be intelligible, only to exercise a speech
/// codec (voiced and unvoiced parts, silences, level changes) realistically.
#[derive(Debug, Clone)]
pub struct SpeechSource {
    rng: Rng,
    sample_rate: f64,
    phase: f64,
    f0: f64,
    f0_target: f64,
    /// Samples into the current segment, and its length.
    pos: u32,
    len: u32,
    voiced: bool,
    amplitude: f64,
}

/// Relative amplitudes of the harmonics (a crude vowel spectrum).
const HARMONICS: [f64; 8] = [1.0, 0.8, 0.55, 0.45, 0.3, 0.2, 0.12, 0.08];
/// Noise floor, of full scale (about -60 dBFS).
const NOISE_FLOOR: f64 = 0.001;

impl SpeechSource {
    pub fn new(seed: u64, sample_rate: u32) -> Self {
        let mut rng = Rng::new(seed);
        let f0 = 100.0 + 120.0 * rng.unit();
        Self {
            rng,
            sample_rate: f64::from(sample_rate),
            phase: 0.0,
            f0,
            f0_target: f0,
            pos: 0,
            len: 0,
            voiced: false,
            amplitude: 0.0,
        }
    }

    fn next_segment(&mut self) {
        let ms = |rng: &mut Rng, lo: u64, hi: u64| lo + rng.below(hi - lo + 1);
        // After a syllable, a pause one time in three; pauses end in a syllable.
        let voiced = !self.voiced || !self.rng.chance(0.35);
        let dur_ms = if voiced {
            ms(&mut self.rng, 120, 320)
        } else {
            ms(&mut self.rng, 80, 500)
        };
        self.voiced = voiced;
        self.pos = 0;
        self.len = (dur_ms as f64 * self.sample_rate / 1000.0) as u32;
        self.amplitude = 0.15 + 0.35 * self.rng.unit();
        self.f0_target = 90.0 + 160.0 * self.rng.unit();
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let norm: f64 = HARMONICS.iter().sum();
        for sample in out.iter_mut() {
            if self.pos >= self.len {
                self.next_segment();
            }
            let mut v = 0.0;
            if self.voiced {
                let x = f64::from(self.pos) / f64::from(self.len);
                let envelope = 4.0 * x * (1.0 - x);
                // sin(h·φ) for every harmonic by rotating (cos φ, sin φ).
                let (s1, c1) = self.phase.sin_cos();
                let (mut s, mut c) = (s1, c1);
                let mut sum = 0.0;
                for a in HARMONICS {
                    sum += a * s;
                    (s, c) = (s * c1 + c * s1, c * c1 - s * s1);
                }
                v = self.amplitude * envelope * sum / norm;
                self.f0 += (self.f0_target - self.f0) * 2e-4;
                self.phase += core::f64::consts::TAU * self.f0 / self.sample_rate;
                if self.phase > core::f64::consts::TAU {
                    self.phase -= core::f64::consts::TAU;
                }
            }
            v += NOISE_FLOOR * (2.0 * self.rng.unit() - 1.0);
            *sample = (v * 32767.0).clamp(-32768.0, 32767.0) as i16;
            self.pos += 1;
        }
    }
}

/// RFC 6464 audio level byte of `pcm`: the V flag (voice activity, here a
/// level above -40 dBov) and the level in -dBov, 0 (loudest) to 127.
pub fn audio_level(pcm: &[i16]) -> u8 {
    if pcm.is_empty() {
        return 127;
    }
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / pcm.len() as f64).sqrt() / 32768.0;
    let level = if rms <= 0.0 {
        127
    } else {
        (-20.0 * rms.log10()).round().clamp(0.0, 127.0) as u8
    };
    let voice = if level < 40 { 0x80 } else { 0 };
    voice | level
}

/// Options of an [`OpusPublisher`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpusConfig {
    /// Seeds the signal, the SSRC and the first sequence number and timestamp.
    pub seed: u64,
    pub bitrate_bps: i32,
    /// libopus complexity 0–10.
    pub complexity: i32,
    pub inband_fec: bool,
    /// Opus DTX: during silence libopus emits tiny (1–2 byte) frames, sent
    /// here as packets (many senders send one every 400 ms instead; the
    /// receiver sees the same thing: no speech, almost no bytes).
    pub dtx: bool,
    /// The loss rate libopus plans its FEC for.
    pub packet_loss_perc: i32,
    /// RFC 6464 audio level as a one-byte extension with this id, if any.
    pub audio_level_ext_id: Option<u8>,
    pub payload_type: u8,
    /// The sender's clock.
    pub drift: DriftClock,
    /// True time of the first packet.
    pub start_us: u64,
    /// Encode only this many distinct frames, then send them again in a
    /// loop (sequence numbers and timestamps keep counting): long
    /// simulations without the encoding cost. `None`: every frame is new.
    pub distinct_frames: Option<usize>,
}

impl Default for OpusConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            bitrate_bps: 32_000,
            complexity: 5,
            inband_fec: true,
            dtx: false,
            packet_loss_perc: 10,
            audio_level_ext_id: Some(1),
            payload_type: 111,
            drift: DriftClock { ppm: 0.0 },
            start_us: 0,
            distinct_frames: None,
        }
    }
}

/// Opus 20 ms frames at 48 kHz mono.
pub const OPUS_FRAME_SAMPLES: usize = 960;
const OPUS_FRAME_US: u64 = 20_000;
const OPUS_MAX_PACKET: usize = 1275;

/// A speech source encoded with libopus and sent as RTP, one packet per
/// 20 ms of the sender's clock.
pub struct OpusPublisher {
    config: OpusConfig,
    encoder: opus::Encoder,
    source: SpeechSource,
    clock: SenderClock,
    ssrc: u32,
    first_seq: u16,
    first_ts: u32,
    frames: u64,
    pcm: Vec<i16>,
    scratch: Vec<u8>,
    /// Encoded frames and their levels, when looping.
    cache: Vec<(Bytes, u8)>,
}

impl fmt::Debug for OpusPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpusPublisher")
            .field("config", &self.config)
            .field("ssrc", &self.ssrc)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl OpusPublisher {
    pub fn new(config: OpusConfig) -> Result<Self, CodecError> {
        let mut encoder =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)?;
        encoder.set_bitrate(opus::Bitrate::Bits(config.bitrate_bps))?;
        encoder.set_complexity(config.complexity)?;
        encoder.set_inband_fec(config.inband_fec)?;
        encoder.set_packet_loss_perc(config.packet_loss_perc)?;
        encoder.set_dtx(config.dtx)?;
        let mut rng = Rng::new(config.seed ^ 0x000a_0d10);
        let ssrc = rng.next_u64() as u32;
        let first_seq = rng.next_u64() as u16;
        let first_ts = rng.next_u64() as u32;
        Ok(Self {
            encoder,
            source: SpeechSource::new(rng.next_u64(), 48_000),
            clock: SenderClock::new(config.drift, config.start_us),
            ssrc,
            first_seq,
            first_ts,
            frames: 0,
            pcm: vec![0; OPUS_FRAME_SAMPLES],
            scratch: vec![0; OPUS_MAX_PACKET],
            cache: Vec::with_capacity(config.distinct_frames.unwrap_or(0)),
            config,
        })
    }

    pub fn config(&self) -> &OpusConfig {
        &self.config
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn payload_type(&self) -> u8 {
        self.config.payload_type
    }

    /// Sequence number and RTP timestamp of the first packet.
    pub fn first_sequence_number(&self) -> u16 {
        self.first_seq
    }

    pub fn first_timestamp(&self) -> u32 {
        self.first_ts
    }

    /// Packets produced so far.
    pub fn packets_sent(&self) -> u64 {
        self.frames
    }

    /// True time at which the next packet is sent.
    pub fn next_send_time(&self) -> u64 {
        self.clock.true_time(self.frames * OPUS_FRAME_US)
    }

    /// The next packet if it is due at `now`.
    pub fn poll(&mut self, now: u64) -> Option<Bytes> {
        (self.next_send_time() <= now).then(|| self.next_packet().1)
    }

    /// The next packet and the true time it is sent.
    ///
    /// # Panics
    /// If libopus fails to encode a frame (it does not, for valid settings).
    pub fn next_packet(&mut self) -> (u64, Bytes) {
        let at = self.next_send_time();
        let (payload, level) = self.next_payload();
        let seq = self.first_seq.wrapping_add(self.frames as u16);
        let ts = self
            .first_ts
            .wrapping_add((self.frames as u32).wrapping_mul(OPUS_FRAME_SAMPLES as u32));
        let level_byte = [level];
        let ext = self
            .config
            .audio_level_ext_id
            .map(|id| (id, &level_byte[..]));
        let exts = ext.as_slice();
        let builder = RtpBuilder {
            // First packet of the (only) talkspurt (RFC 3551 §4.1).
            marker: self.frames == 0,
            payload_type: self.config.payload_type,
            sequence_number: seq,
            timestamp: ts,
            ssrc: self.ssrc,
            extensions: exts,
            payload: &payload,
            ..Default::default()
        };
        self.frames += 1;
        (at, build(&builder))
    }

    fn next_payload(&mut self) -> (Bytes, u8) {
        if let Some(n) = self.config.distinct_frames.filter(|n| *n > 0) {
            if self.cache.len() == n {
                return self.cache[(self.frames % n as u64) as usize].clone();
            }
        }
        self.source.fill(&mut self.pcm);
        let len = self
            .encoder
            .encode(&self.pcm, &mut self.scratch)
            .expect("libopus encodes a 20 ms frame");
        let entry = (
            Bytes::copy_from_slice(&self.scratch[..len]),
            audio_level(&self.pcm),
        );
        if self.config.distinct_frames.is_some() {
            self.cache.push(entry.clone());
        }
        entry
    }
}
