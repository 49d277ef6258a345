//! The mixer bench's rooms: pre-encoded talker and noise sources (real
//! libopus) and the packets of each participant, tick after tick (see the
//! bench's docs in `benches/mixer.rs`).

use super::*;

// ---------------------------------------------------------------- sources

/// One pre-encoded source: `LOOP_FRAMES` Opus payloads, each with the RFC
/// 6464 byte of the frame it encodes.
pub(super) struct Source {
    pub(super) frames: Vec<(Vec<u8>, u8)>,
    /// Mean RFC 6464 level, for the printout.
    pub(super) mean_level: f64,
}

/// A browser-like Opus encoder: 48 kHz mono VoIP, 32 kbit/s, FEC for 10 %.
pub(super) fn opus_encoder() -> opus::Encoder {
    encoder_for(opus::Application::Voip)
}

fn encoder_for(application: opus::Application) -> opus::Encoder {
    let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, application).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(BITRATE)).unwrap();
    enc.set_inband_fec(true).unwrap();
    enc.set_packet_loss_perc(LOSS_PERCENT).unwrap();
    enc
}

/// Encodes `pcm`; `celt_only`: as a low-delay client (libopus
/// `RESTRICTED_LOWDELAY`: CELT-only packets, which carry no VAD flag).
pub(super) fn encode_source(pcm: &[f32], voice: bool, celt_only: bool) -> Source {
    assert_eq!(pcm.len(), LOOP_FRAMES * FRAME_SAMPLES);
    let mut enc = encoder_for(if celt_only {
        opus::Application::LowDelay
    } else {
        opus::Application::Voip
    });
    let mut frames = Vec::with_capacity(LOOP_FRAMES);
    let mut level_sum = 0.0;
    for frame in pcm.chunks_exact(FRAME_SAMPLES) {
        let mut payload = [0u8; MAX_PAYLOAD];
        let n = enc.encode_float(frame, &mut payload).unwrap();
        let level = level_dbov(frame);
        level_sum += f64::from(level);
        frames.push((payload[..n].to_vec(), AudioLevel { voice, level }.to_byte()));
    }
    Source {
        frames,
        mean_level: level_sum / LOOP_FRAMES as f64,
    }
}

/// A synthetic voice: harmonics of a gliding f0 (1/k amplitudes, up to
/// 8 kHz) under a syllable-rate envelope, with a little breath noise.
/// `voice` picks f0, glide and syllable rate, so talkers differ and their
/// loudness rises and falls out of step.
pub(super) fn talker_source(voice: usize) -> Source {
    let f0_base = [110.0, 190.0, 140.0, 210.0, 125.0][voice % 5];
    let glide_hz = [0.9, 0.7, 1.1, 0.6, 0.8][voice % 5];
    let syllable_hz = [3.1, 3.7, 4.3, 2.9, 3.3][voice % 5];
    let mut rng = Rng::new(0x7a1c_0000 + voice as u64);
    let mut phase = 0.0f64;
    let n = LOOP_FRAMES * FRAME_SAMPLES;
    let mut pcm = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / SAMPLE_RATE;
        let f0 = f0_base * (1.0 + 0.15 * (2.0 * std::f64::consts::PI * glide_hz * t).sin());
        phase += 2.0 * std::f64::consts::PI * f0 / SAMPLE_RATE;
        let mut s = 0.0;
        let mut k = 1.0;
        while k * f0 < 8_000.0 {
            s += (k * phase).sin() / k;
            k += 1.0;
        }
        let envelope =
            0.55 + 0.45 * (2.0 * std::f64::consts::PI * syllable_hz * t + voice as f64).sin();
        pcm.push((0.08 * envelope * s + 0.001 * rng.normal()) as f32);
    }
    encode_source(&pcm, true, false)
}

/// Low-pass (one-pole) Gaussian noise scaled to `NOISE_DBOV` RMS.
pub(super) fn noise_source(seed: u64) -> Source {
    let mut rng = Rng::new(0x0015_e000 + seed);
    let n = LOOP_FRAMES * FRAME_SAMPLES;
    let mut y = 0.0f64;
    let raw: Vec<f64> = (0..n)
        .map(|_| {
            y = 0.9 * y + 0.1 * rng.normal();
            y
        })
        .collect();
    let rms = (raw.iter().map(|x| x * x).sum::<f64>() / n as f64).sqrt();
    let scale = 10f64.powf(-NOISE_DBOV / 20.0) / rms;
    let pcm: Vec<f32> = raw.iter().map(|x| (x * scale) as f32).collect();
    // Every other noise source from a low-delay (CELT-only) client: no VAD
    // flag, so a mixer without levels must judge them otherwise.
    encode_source(&pcm, false, seed % 2 == 1)
}

// ------------------------------------------------------------------ room

/// One participant's stream: its `LOOP_FRAMES` packets, reused every loop
/// with the header rewritten (see `Room::prepare`).
pub(super) struct Stream {
    pub(super) ring: Vec<Bytes>,
    seq0: u16,
    ts0: u32,
}

/// The packets of a room, tick after tick.
pub(super) struct Room {
    pub(super) streams: Vec<Stream>,
    /// Arrival time of each participant's packet, before the tick (µs).
    pub(super) arrival_offsets: Vec<u64>,
    /// Packets of the current tick, one per participant.
    pub(super) current: Vec<Bytes>,
    /// Ticks prepared so far.
    pub(super) tick: usize,
    /// Packets that were still referenced when reused and had to be copied
    /// (should stay 0: the mixer releases them long before).
    pub(super) copies: u64,
    pub(super) talkers: Vec<usize>,
}

impl Room {
    /// `n` participants; `talkers` of them (spread over the room) speak;
    /// packets carry the RFC 6464 level if `levels`.
    pub(super) fn new(
        n: usize,
        talkers: usize,
        voices: &[Source],
        noises: &[Source],
        levels: bool,
    ) -> Self {
        let talker_index: Vec<usize> = (0..talkers).map(|k| k * n / talkers).collect();
        let mut streams = Vec::with_capacity(n);
        let mut voice_no = 0;
        for i in 0..n {
            let ssrc = 0x5000_0000 + i as u32;
            let seq0 = (i as u16).wrapping_mul(7_919).wrapping_add(60_000);
            let ts0 = (i as u32).wrapping_mul(0x0123_4567);
            let (source, offset) = if talker_index.contains(&i) {
                voice_no += 1;
                (&voices[voice_no - 1], 0)
            } else {
                (&noises[i % noises.len()], (i * 37) % LOOP_FRAMES)
            };
            let ring = (0..LOOP_FRAMES)
                .map(|k| {
                    let (payload, level) = &source.frames[(k + offset) % LOOP_FRAMES];
                    let b = opus_rtp(
                        seq0.wrapping_add(k as u16),
                        ts0.wrapping_add(k as u32 * TS_STEP),
                        ssrc,
                        levels.then_some(*level),
                        payload,
                    );
                    drop(b.clone()); // promote to shared storage now
                    b
                })
                .collect();
            streams.push(Stream { ring, seq0, ts0 });
        }
        Self {
            streams,
            arrival_offsets: (0..n as u64).map(|i| (i * 7_919) % TICK_US).collect(),
            current: Vec::with_capacity(n),
            tick: 0,
            copies: 0,
            talkers: talker_index,
        }
    }

    /// Makes `current` the packets of the next tick (untimed): each comes
    /// back from its ring slot with its sequence number and timestamp moved
    /// on by the ticks sent so far.
    pub(super) fn prepare(&mut self) {
        self.current.clear();
        let t = self.tick;
        let slot = t % LOOP_FRAMES;
        for s in &mut self.streams {
            let b = std::mem::take(&mut s.ring[slot]);
            let mut m = match b.try_into_mut() {
                Ok(m) => m,
                Err(b) => {
                    self.copies += 1;
                    BytesMut::from(&b[..])
                }
            };
            {
                let mut rtp = RtpPacket::parse(&mut m[..]).unwrap();
                rtp.set_sequence_number(s.seq0.wrapping_add(t as u16));
                rtp.set_timestamp(s.ts0.wrapping_add((t as u32).wrapping_mul(TS_STEP)));
            }
            let b = m.freeze();
            drop(b.clone()); // shared storage again: clones are refcounts
            self.current.push(b.clone());
            s.ring[slot] = b;
        }
        self.tick += 1;
    }
}
