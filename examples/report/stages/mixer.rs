//! The audio mixer row.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtmedia::audio::level::{level_dbov, AudioLevel};
use rtmedia::audio::mixer::{Mixer, MixerConfig, ParticipantInput, MAX_PAYLOAD};
use rtmedia::audio::FRAME_SAMPLES;
use rtmedia::packet::{RtpBuilder, RtpPacket};
use rtmedia::sim::Rng;

use super::{Baseline, Options, RunFn, Stage, HEADER_LEN};

const TICK_US: u64 = 20_000;
const LEVEL_EXT_ID: u8 = 1;

/// Pre-encoded Opus frames with their RFC 6464 level byte.
struct Source {
    frames: Vec<(Vec<u8>, u8)>,
}

fn opus_encoder() -> opus::Encoder {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
    enc.set_inband_fec(true).unwrap();
    enc.set_packet_loss_perc(10).unwrap();
    enc
}

/// A talker (harmonics of a gliding f0 under a syllable envelope, as in
/// `benches/mixer.rs`) or room noise at -80 dBov, `frames` frames long.
fn source(seed: u64, voice: bool, frames: usize) -> Source {
    let mut rng = Rng::new(0x7a1c_0000 + seed);
    let n = frames * FRAME_SAMPLES;
    let tau = 2.0 * std::f64::consts::PI;
    let f0_base = 110.0 + 25.0 * seed as f64;
    let mut phase = 0.0f64;
    let mut y = 0.0f64;
    let pcm: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f64 / 48_000.0;
            if voice {
                let f0 = f0_base * (1.0 + 0.15 * (tau * 0.8 * t).sin());
                phase += tau * f0 / 48_000.0;
                let mut s = 0.0;
                let mut k = 1.0;
                while k * f0 < 8_000.0 {
                    s += (k * phase).sin() / k;
                    k += 1.0;
                }
                let envelope = 0.55 + 0.45 * (tau * 3.3 * t + seed as f64).sin();
                (0.08 * envelope * s) as f32
            } else {
                y = 0.9 * y + 0.1 * rng.normal();
                (y * 1e-4) as f32
            }
        })
        .collect();
    let mut enc = opus_encoder();
    let frames = pcm
        .chunks_exact(FRAME_SAMPLES)
        .map(|frame| {
            let mut payload = [0u8; MAX_PAYLOAD];
            let n = enc.encode_float(frame, &mut payload).unwrap();
            let level = AudioLevel {
                voice,
                level: level_dbov(frame),
            };
            (payload[..n].to_vec(), level.to_byte())
        })
        .collect();
    Source { frames }
}

/// A room's participants and the packets of its ticks.
struct Room {
    /// Packets carry the RFC 6464 level.
    levels: bool,
    /// Source of each participant and where in it they start.
    sources: Vec<(std::sync::Arc<Source>, usize)>,
    offsets: Vec<u64>,
    tick: usize,
    now: u64,
    packets: Vec<Bytes>,
}

impl Room {
    fn new(participants: usize, talkers: usize, frames: usize, levels: bool) -> Self {
        let voices: Vec<_> = (0..talkers as u64)
            .map(|s| std::sync::Arc::new(source(s, true, frames)))
            .collect();
        let noises: Vec<_> = (0..4)
            .map(|s| std::sync::Arc::new(source(100 + s, false, frames)))
            .collect();
        let sources = (0..participants)
            .map(|i| {
                let s = if i < talkers {
                    voices[i].clone()
                } else {
                    noises[i % noises.len()].clone()
                };
                (s, i * 7 % frames)
            })
            .collect();
        Self {
            levels,
            sources,
            offsets: (0..participants as u64)
                .map(|i| (i * 7_919) % TICK_US)
                .collect(),
            tick: 0,
            now: 1_000_000,
            packets: Vec::with_capacity(participants),
        }
    }

    /// The next tick's packets (untimed).
    fn prepare(&mut self) {
        self.packets.clear();
        let t = self.tick;
        for (i, (source, start)) in self.sources.iter().enumerate() {
            let (payload, level) = &source.frames[(start + t) % source.frames.len()];
            let mut buf = vec![0u8; HEADER_LEN + 8 + payload.len()];
            let ext = [(LEVEL_EXT_ID, &[*level][..])];
            let n = RtpBuilder {
                payload_type: 111,
                sequence_number: t as u16,
                timestamp: (t as u32).wrapping_mul(FRAME_SAMPLES as u32),
                ssrc: 0x5000_0000 + i as u32,
                extensions: if self.levels { &ext } else { &[] },
                payload,
                ..Default::default()
            }
            .write_into(&mut buf)
            .unwrap();
            buf.truncate(n);
            self.packets.push(Bytes::from(buf));
        }
        self.tick += 1;
        self.now += TICK_US;
    }
}

/// A mixer under test: one tick's packets in, every listener's packet out.
trait MixerSide {
    fn step(&mut self, packets: &[Bytes], offsets: &[u64], now: u64) -> usize;
}

struct RtmediaMixer {
    mixer: Mixer,
    inputs: Vec<ParticipantInput>,
    out: [u8; 1500],
}

impl MixerSide for RtmediaMixer {
    fn step(&mut self, packets: &[Bytes], offsets: &[u64], now: u64) -> usize {
        for ((input, packet), &off) in self.inputs.iter().zip(packets).zip(offsets) {
            input.push(packet.clone(), now - off);
        }
        let tick = self.mixer.tick(now);
        let mut bytes = 0;
        for p in tick.packets() {
            bytes += tick.write_rtp(p, &mut self.out).unwrap();
        }
        bytes
    }
}

/// The naive bridge of `benches/mixer.rs`: decode everyone, sum, and per
/// listener subtract its own frame and encode.
struct NaiveMixer {
    participants: Vec<(opus::Decoder, opus::Encoder, [f32; FRAME_SAMPLES], u16)>,
    sum: [f32; FRAME_SAMPLES],
    mix: [f32; FRAME_SAMPLES],
    payload: [u8; MAX_PAYLOAD],
    out: [u8; 1500],
}

impl MixerSide for NaiveMixer {
    fn step(&mut self, packets: &[Bytes], _offsets: &[u64], _now: u64) -> usize {
        self.sum.fill(0.0);
        for ((dec, _, pcm, _), packet) in self.participants.iter_mut().zip(packets) {
            let ok = RtpPacket::parse(&packet[..]).is_ok_and(|rtp| {
                dec.decode_float(rtp.payload(), pcm, false)
                    .is_ok_and(|n| n == FRAME_SAMPLES)
            });
            if !ok {
                pcm.fill(0.0);
            }
            for (s, &x) in self.sum.iter_mut().zip(pcm.iter()) {
                *s += x;
            }
        }
        let mut bytes = 0;
        for (i, (_, enc, pcm, seq)) in self.participants.iter_mut().enumerate() {
            for ((m, &s), &own) in self.mix.iter_mut().zip(&self.sum).zip(pcm.iter()) {
                *m = (s - own).clamp(-1.0, 1.0);
            }
            let n = enc.encode_float(&self.mix, &mut self.payload).unwrap();
            bytes += RtpBuilder {
                payload_type: 111,
                sequence_number: *seq,
                timestamp: u32::from(*seq) * FRAME_SAMPLES as u32,
                ssrc: 0x9000_0000 + i as u32,
                payload: &self.payload[..n],
                ..Default::default()
            }
            .write_into(&mut self.out)
            .unwrap();
            *seq = seq.wrapping_add(1);
        }
        bytes
    }
}

/// Runs `side` in its own room, one tick per iteration, after `preroll`
/// untimed ticks (jitter buffers fill, speakers settle).
fn mixer_run<S: MixerSide + 'static>(mut side: S, mut room: Room, preroll: usize) -> RunFn {
    for _ in 0..preroll {
        room.prepare();
        side.step(&room.packets, &room.offsets, room.now);
    }
    Box::new(move |n: u64| {
        let mut timed = Duration::ZERO;
        let mut bytes = 0;
        for _ in 0..n {
            room.prepare();
            let start = Instant::now();
            bytes += side.step(black_box(&room.packets), &room.offsets, room.now);
            timed += start.elapsed();
        }
        black_box(bytes);
        timed
    })
}

/// The mixer rows: one 20 ms tick of a room on real Opus packets, a
/// "packet" being one participant's packet in and its mix out (ns per
/// packet × participants = CPU time per tick).
///
/// - 100 participants, mix-minus, 3 talkers (the others send room noise
///   below the speech floor), packets with RFC 6464 levels; baseline: the
///   naive bridge of `benches/mixer.rs` (decode all, encode per listener).
/// - The same room without RFC 6464 levels (SIP and other non-browser
///   clients), against the same naive bridge: the ratio issue 15 asks for.
/// - 1,000 participants without levels, loudest 3, 3 talkers: the room size
///   a government meeting reaches (no baseline: the naive bridge would take
///   most of a second per tick).
pub(super) fn mixer_ticks(options: &Options) -> Vec<Stage> {
    let (small, large, frames, preroll) = if options.quick {
        (8, 40, 25, 10)
    } else {
        (100, 1000, 100, 60)
    };
    vec![
        mixer_tick(small, usize::MAX, true, frames, preroll, true),
        mixer_tick(small, usize::MAX, false, frames, preroll, true),
        mixer_tick(large, 3, false, frames, preroll, false),
    ]
}

/// One mixer row: `participants` of whom 3 talk, mixing the `loudest`.
fn mixer_tick(
    participants: usize,
    loudest: usize,
    levels: bool,
    frames: usize,
    preroll: usize,
    with_baseline: bool,
) -> Stage {
    let talkers = 3;
    let config = MixerConfig {
        loudest,
        audio_level_ext_id: levels.then_some(LEVEL_EXT_ID),
        max_participants: participants.max(MixerConfig::default().max_participants),
        ..MixerConfig::default()
    };
    let mut mixer = Mixer::new(config).unwrap();
    let inputs = (0..participants as u32)
        .map(|i| {
            mixer
                .add_participant(i, 0x5000_0000 + i, 0x9000_0000 + i, false)
                .unwrap()
        })
        .collect();
    let ours = RtmediaMixer {
        mixer,
        inputs,
        out: [0; 1500],
    };
    let room = || Room::new(participants, talkers, frames, levels);
    let mean_bytes = {
        let mut r = room();
        r.prepare();
        r.packets.iter().map(Bytes::len).sum::<usize>() / participants
    };
    let baseline = with_baseline.then(|| {
        let naive = NaiveMixer {
            participants: (0..participants)
                .map(|_| {
                    let dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
                    (dec, opus_encoder(), [0.0; FRAME_SAMPLES], 0)
                })
                .collect(),
            sum: [0.0; FRAME_SAMPLES],
            mix: [0.0; FRAME_SAMPLES],
            payload: [0; MAX_PAYLOAD],
            out: [0; 1500],
        };
        Baseline {
            name: "naive",
            run: mixer_run(naive, room(), preroll),
        }
    });
    let mix = if loudest == usize::MAX {
        "mix_minus".to_string()
    } else {
        format!("loudest{loudest}")
    };
    let levels = if levels { "" } else { "_no_levels" };
    Stage {
        name: "mixer_tick",
        variant: format!("{participants}_participants{levels}_{mix}_{talkers}_talkers"),
        bytes: mean_bytes,
        packets_per_iter: participants as u64,
        run: mixer_run(ours, room(), preroll),
        baseline,
    }
}
