//! The measuring and printing behind `examples/report`, shared with
//! `tests/report_json.rs`.
//!
//! Every stage row times rtmedia and, when there is one, a baseline doing
//! the same work in the same run, in alternating samples, so that a noisy
//! shared machine slows both alike; the ratio is what to quote. Times are
//! wall time (`Instant`) and each figure is the median of several short
//! samples. The scaling table runs whole rooms (SRTP unprotect → jitter
//! buffer → SRTP protect) sharded over 1..N worker threads fed by one
//! dispatcher thread through bounded crossbeam channels.
//!
//! To add a row, write a function returning a [`Stage`] and list it in
//! [`stages`].

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use crossbeam::channel;
use rtmedia::audio::level::{level_dbov, AudioLevel};
use rtmedia::audio::mixer::{Mixer, MixerConfig, ParticipantInput, MAX_PAYLOAD};
use rtmedia::audio::FRAME_SAMPLES;
use rtmedia::jitter::{DelayConfig, Event, JitterBuffer, JitterConfig};
use rtmedia::packet::{RtpBuilder, RtpPacket, SeqUnwrapper, TimestampUnwrapper};
use rtmedia::sim::Rng;
use rtmedia::srtp::{Config, Profile, Srtp};
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile;
use webrtc_util::{Marshal, MarshalSize, Unmarshal};

// ---------------------------------------------------------------- options

/// Command-line options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One JSON object per line instead of the table.
    pub json: bool,
    /// A few seconds in all, with tiny samples: for tests, not for quoting.
    pub quick: bool,
    /// Most worker threads in the scaling table (default: the logical cores,
    /// at least 2).
    pub threads: Option<usize>,
}

impl Options {
    /// Parses `--json`, `--quick` and `--threads N`.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Options::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--json" => options.json = true,
                "--quick" => options.quick = true,
                "--threads" => {
                    let n = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
                    options.threads = Some(n.ok_or("--threads needs a positive number")?);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }

    /// Target length of one timed sample.
    fn sample_time(&self) -> Duration {
        if self.quick {
            Duration::from_millis(1)
        } else {
            Duration::from_millis(40)
        }
    }

    /// Samples per side; the median is reported.
    fn samples(&self) -> usize {
        if self.quick {
            3
        } else {
            9
        }
    }
}

// ----------------------------------------------------------------- stages

/// Processes `n` iterations and returns the time they took, excluding any
/// untimed preparation it did (e.g. making packets to unprotect).
pub type RunFn = Box<dyn FnMut(u64) -> Duration>;

/// One row of the report: a stage of the media path and its baseline.
pub struct Stage {
    /// Stable name, the `stage` field of the JSON.
    pub name: &'static str,
    /// Profile or room shape; empty when the stage has one variant.
    pub variant: String,
    /// RTP packet size (header + payload, before SRTP) the stage handles.
    pub bytes: usize,
    /// Packets handled per iteration of `run` (1, or a room's participants
    /// per mixer tick).
    pub packets_per_iter: u64,
    pub run: RunFn,
    /// The same work done by a common alternative, measured in the same run.
    pub baseline: Option<Baseline>,
}

pub struct Baseline {
    /// Stable name, the `baseline` field of the JSON.
    pub name: &'static str,
    pub run: RunFn,
}

/// Every row, in print order. The forwarder and full SFU-leg rows go here
/// (one constructor each, like the ones below).
fn stages(options: &Options) -> Vec<Stage> {
    let mut rows = vec![rtp_parse_rewrite()];
    for profile in Profile::ALL {
        rows.push(srtp_protect(profile));
    }
    rows.push(srtp_unprotect(Profile::AeadAes128Gcm));
    rows.push(srtp_unprotect(Profile::AeadAes256Gcm));
    rows.push(jitter_push_pop(options));
    rows.push(mixer_tick(options));
    rows
}

/// The size of every packet in the packet and SRTP rows.
const PACKET_BYTES: usize = 1200;
const HEADER_LEN: usize = 12;
const CAP: usize = 1536;
const SSRC: u32 = 0x1122_3344;

/// RTP parse + rewrite in place (SSRC, sequence number, timestamp, payload
/// type, marker, a header extension), as an SFU does per forwarded packet;
/// baseline: the webrtc-rs `rtp` crate parsing into its owned `Packet`,
/// changing the fields and marshalling into an output buffer.
fn rtp_parse_rewrite() -> Stage {
    let extensions: &[(u8, &[u8])] = &[(1, &[0x90]), (3, &[0x00, 0x2a])];
    let build = |payload: &[u8]| {
        let mut buf = vec![0u8; CAP];
        let n = RtpBuilder {
            payload_type: 96,
            sequence_number: 1000,
            timestamp: 90_000,
            ssrc: SSRC,
            extensions,
            payload,
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        buf.truncate(n);
        buf
    };
    let overhead = build(&[]).len();
    let packet = build(&[0x5a; PACKET_BYTES][..PACKET_BYTES - overhead]);
    assert_eq!(packet.len(), PACKET_BYTES);

    let mut buf = packet.clone();
    let mut i = 0u16;
    let ours = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            i = i.wrapping_add(1);
            let mut p = RtpPacket::parse(black_box(&mut buf[..])).unwrap();
            let twcc = p.extension(3).unwrap()[1];
            p.set_ssrc(0xaabb_ccdd);
            p.set_sequence_number(i);
            p.set_timestamp(p.timestamp().wrapping_add(3000));
            p.set_payload_type(100);
            p.set_marker(true);
            p.extension_mut(3)
                .unwrap()
                .copy_from_slice(&i.to_be_bytes());
            black_box(twcc);
        }
        start.elapsed()
    };

    let bytes = Bytes::from(packet);
    let mut out = BytesMut::zeroed(CAP);
    let mut i = 0u16;
    let theirs = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            i = i.wrapping_add(1);
            let mut p = rtp::packet::Packet::unmarshal(&mut black_box(bytes.clone())).unwrap();
            let twcc = p.header.get_extension(3).unwrap()[1];
            p.header.ssrc = 0xaabb_ccdd;
            p.header.sequence_number = i;
            p.header.timestamp = p.header.timestamp.wrapping_add(3000);
            p.header.payload_type = 100;
            p.header.marker = true;
            p.header
                .set_extension(3, Bytes::copy_from_slice(&i.to_be_bytes()))
                .unwrap();
            let len = p.marshal_size();
            p.marshal_to(&mut out[..len]).unwrap();
            black_box(twcc);
        }
        start.elapsed()
    };
    Stage {
        name: "rtp_parse_rewrite",
        variant: String::new(),
        bytes: PACKET_BYTES,
        packets_per_iter: 1,
        run: Box::new(ours),
        baseline: Some(Baseline {
            name: "rtp-crate",
            run: Box::new(theirs),
        }),
    }
}

const KEY: [u8; 32] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6, 0xc1, 0x73,
];
const SALT: [u8; 14] = [
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];

/// The IANA-style name of a profile, the `variant` of the SRTP rows.
fn profile_name(profile: Profile) -> &'static str {
    match profile {
        Profile::Aes128CmHmacSha1_80 => "AES128_CM_HMAC_SHA1_80",
        Profile::Aes128CmHmacSha1_32 => "AES128_CM_HMAC_SHA1_32",
        Profile::Aes256CmHmacSha1_80 => "AES256_CM_HMAC_SHA1_80",
        Profile::Aes256CmHmacSha1_32 => "AES256_CM_HMAC_SHA1_32",
        Profile::AeadAes128Gcm => "AEAD_AES_128_GCM",
        Profile::AeadAes256Gcm => "AEAD_AES_256_GCM",
    }
}

fn webrtc_profile(profile: Profile) -> ProtectionProfile {
    match profile {
        Profile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        Profile::Aes256CmHmacSha1_80 => ProtectionProfile::Aes256CmHmacSha1_80,
        Profile::Aes256CmHmacSha1_32 => ProtectionProfile::Aes256CmHmacSha1_32,
        Profile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        Profile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

fn rtmedia_srtp(profile: Profile) -> Srtp {
    let key = &KEY[..profile.key_len()];
    let salt = &SALT[..profile.salt_len()];
    Srtp::new(profile, key, salt, Config::default()).unwrap()
}

fn webrtc_srtp(profile: Profile, receiver: bool) -> WebrtcContext {
    let key = &KEY[..profile.key_len()];
    let salt = &SALT[..profile.salt_len()];
    let replay = receiver.then(|| srtp_replay_protection(Config::default().replay_window));
    WebrtcContext::new(key, salt, webrtc_profile(profile), replay, None).unwrap()
}

/// A plain RTP packet of `PACKET_BYTES` in a buffer of `CAP`.
fn plain_packet() -> Box<[u8; CAP]> {
    let mut p = Box::new([0u8; CAP]);
    p[0] = 0x80;
    p[1] = 96;
    p[4..8].copy_from_slice(&90_000u32.to_be_bytes());
    p[8..12].copy_from_slice(&SSRC.to_be_bytes());
    p[HEADER_LEN..PACKET_BYTES].fill(0x5a);
    p
}

/// SRTP protect in place, one stream, the next sequence number each time;
/// baseline: webrtc-srtp's `encrypt_rtp` (which returns a new buffer: its
/// API) on the same packet.
fn srtp_protect(profile: Profile) -> Stage {
    let mut ctx = rtmedia_srtp(profile);
    let mut p = plain_packet();
    let mut seq = 0u16;
    let ours = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            seq = seq.wrapping_add(1);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(
                ctx.protect_rtp(black_box(&mut p[..]), PACKET_BYTES)
                    .unwrap(),
            );
        }
        start.elapsed()
    };
    let mut ctx = webrtc_srtp(profile, false);
    let mut p = plain_packet();
    let mut seq = 0u16;
    let theirs = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            seq = seq.wrapping_add(1);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(ctx.encrypt_rtp(black_box(&p[..PACKET_BYTES])).unwrap());
        }
        start.elapsed()
    };
    Stage {
        name: "srtp_protect",
        variant: profile_name(profile).to_string(),
        bytes: PACKET_BYTES,
        packets_per_iter: 1,
        run: Box::new(ours),
        baseline: Some(Baseline {
            name: "webrtc-srtp",
            run: Box::new(theirs),
        }),
    }
}

/// Packets protected per untimed refill of the unprotect rows.
const BATCH: usize = 32;

/// Unprotects `n` packets: batches of `BATCH` consecutive packets are made
/// by an rtmedia sender (untimed), then `receive` unprotects each in place
/// (timed). Every packet is new, as replay protection requires.
fn batched_unprotect(
    profile: Profile,
    mut receive: impl FnMut(&mut [u8]) + 'static,
) -> impl FnMut(u64) -> Duration {
    let mut sender = rtmedia_srtp(profile);
    let template = plain_packet();
    let mut batch: Vec<Box<[u8; CAP]>> = (0..BATCH).map(|_| plain_packet()).collect();
    let mut lens = [0usize; BATCH];
    let mut seq = 0u16;
    move |n: u64| {
        let mut timed = Duration::ZERO;
        let mut left = n;
        while left > 0 {
            let k = left.min(BATCH as u64) as usize;
            for (p, len) in batch[..k].iter_mut().zip(&mut lens) {
                seq = seq.wrapping_add(1);
                p[..PACKET_BYTES].copy_from_slice(&template[..PACKET_BYTES]);
                p[2..4].copy_from_slice(&seq.to_be_bytes());
                *len = sender.protect_rtp(&mut p[..], PACKET_BYTES).unwrap();
            }
            let start = Instant::now();
            for (p, &len) in batch[..k].iter_mut().zip(&lens) {
                receive(black_box(&mut p[..len]));
            }
            timed += start.elapsed();
            left -= k as u64;
        }
        timed
    }
}

/// SRTP unprotect in place with replay protection (window 1024); baseline:
/// webrtc-srtp's `decrypt_rtp` with the same window.
fn srtp_unprotect(profile: Profile) -> Stage {
    let mut ctx = rtmedia_srtp(profile);
    let ours = batched_unprotect(profile, move |p| {
        black_box(ctx.unprotect_rtp(p).unwrap());
    });
    let mut ctx = webrtc_srtp(profile, true);
    let theirs = batched_unprotect(profile, move |p| {
        black_box(ctx.decrypt_rtp(p).unwrap());
    });
    Stage {
        name: "srtp_unprotect",
        variant: profile_name(profile).to_string(),
        bytes: PACKET_BYTES,
        packets_per_iter: 1,
        run: Box::new(ours),
        baseline: Some(Baseline {
            name: "webrtc-srtp",
            run: Box::new(theirs),
        }),
    }
}

// ----------------------------------------------------------------- jitter

/// The seeded audio trace of `benches/jitter.rs`: 20 ms Opus-sized packets,
/// 5 % held back behind the next 1–3 packets, 2 % lost; played with the
/// same fixed delay on both sides.
const JITTER_PAYLOAD: usize = 60;
const JITTER_PTIME_US: u64 = 20_000;
const JITTER_DELAY_US: u64 = 80_000;

struct Arrival {
    at: u64,
    packet: Bytes,
}

fn jitter_trace(sent: usize) -> Vec<Arrival> {
    let mut rng = Rng::new(0x06a1_77e5);
    let mut out = Vec::with_capacity(sent);
    let mut payload = [0u8; JITTER_PAYLOAD];
    for i in 0..sent {
        if i > 0 && rng.chance(0.02) {
            continue;
        }
        let mut at = 1_000_000 + i as u64 * JITTER_PTIME_US + 40_000;
        if i > 0 && rng.chance(0.05) {
            at += (1 + rng.below(3)) * JITTER_PTIME_US + 1_000;
        }
        for b in payload.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let mut buf = vec![0u8; HEADER_LEN + JITTER_PAYLOAD];
        RtpBuilder {
            payload_type: 111,
            sequence_number: 65_000u16.wrapping_add(i as u16),
            timestamp: (u32::MAX - 96_000).wrapping_add(i as u32 * 960),
            ssrc: 0x5eed_0001,
            payload: &payload,
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        let packet = Bytes::from(buf);
        drop(packet.clone()); // shared storage now: clones are refcounts
        out.push(Arrival { at, packet });
    }
    out.sort_by_key(|a| a.at);
    out
}

/// One jitter buffer under test: push an arrival, pop everything due.
trait JitterSide {
    fn step(&mut self, at: u64, packet: &Bytes) -> u64;
}

impl JitterSide for JitterBuffer {
    #[inline]
    fn step(&mut self, at: u64, packet: &Bytes) -> u64 {
        let _ = self.push(packet.clone(), at);
        let mut sink = 0;
        while let Some(event) = self.pop(at) {
            sink += match event {
                Event::Packet { packet, seq, .. } => packet.len() as u64 ^ seq as u64,
                Event::Lost { seq, .. } => seq as u64,
                Event::Frame { .. } => unreachable!("audio mode"),
            };
        }
        sink
    }
}

fn rtmedia_jitter() -> JitterBuffer {
    let mut config = JitterConfig::audio();
    config.delay = DelayConfig {
        fixed_delay_us: Some(JITTER_DELAY_US),
        ..config.delay
    };
    JitterBuffer::new(config)
}

/// The jitter buffer most code bases start with (the baseline of
/// `benches/jitter.rs`, without its NACK part): packets in a `BTreeMap` by
/// unwrapped sequence number, the first released at its playout time, a
/// gap before a due packet declared lost.
#[derive(Default)]
struct BTreeJitter {
    seq_unwrap: SeqUnwrapper,
    ts_unwrap: TimestampUnwrapper,
    packets: BTreeMap<i64, (Bytes, i64)>,
    next: Option<i64>,
    /// First arrival time and its unwrapped timestamp.
    origin: (u64, i64),
}

/// Playout time of timestamp `ts`: the fixed delay after the first
/// packet's arrival, plus its media time since then.
fn btree_playout(origin: (u64, i64), ts: i64) -> u64 {
    let media_us = (ts - origin.1) * 1_000_000 / 48_000;
    (origin.0 as i64 + media_us + JITTER_DELAY_US as i64).max(0) as u64
}

impl JitterSide for BTreeJitter {
    #[inline]
    fn step(&mut self, at: u64, packet: &Bytes) -> u64 {
        if let Ok(p) = RtpPacket::parse(&packet[..]) {
            let seq = self.seq_unwrap.unwrap(u64::from(p.sequence_number()));
            let ts = self.ts_unwrap.unwrap(u64::from(p.timestamp()));
            let next = *self.next.get_or_insert_with(|| {
                self.origin = (at, ts);
                seq
            });
            if seq >= next {
                if let Entry::Vacant(v) = self.packets.entry(seq) {
                    v.insert((packet.clone(), ts));
                }
            }
        }
        let origin = self.origin;
        let mut sink = 0;
        while let Some(next) = self.next {
            let Some(first) = self.packets.first_entry() else {
                break;
            };
            let seq = *first.key();
            if at < btree_playout(origin, first.get().1) {
                break;
            }
            if seq == next {
                let (packet, _) = first.remove();
                sink += packet.len() as u64 ^ seq as u64;
            } else {
                sink += next as u64; // a gap before a due packet: lost
            }
            self.next = Some(next + 1);
        }
        sink
    }
}

/// Replays `trace` one arrival per iteration, from a fresh buffer whenever
/// it runs out (untimed).
fn jitter_run<S: JitterSide + 'static>(
    trace: std::sync::Arc<Vec<Arrival>>,
    make: impl Fn() -> S + 'static,
) -> RunFn {
    let mut side = make();
    let mut pos = 0;
    Box::new(move |n: u64| {
        let mut left = n as usize;
        let mut timed = Duration::ZERO;
        let mut sink = 0;
        while left > 0 {
            if pos == trace.len() {
                side = make();
                pos = 0;
            }
            let k = left.min(trace.len() - pos);
            let start = Instant::now();
            for a in &trace[pos..pos + k] {
                sink += side.step(black_box(a.at), &a.packet);
            }
            timed += start.elapsed();
            pos += k;
            left -= k;
        }
        black_box(sink);
        timed
    })
}

/// Jitter buffer push + pop of every due packet, per arriving packet.
fn jitter_push_pop(options: &Options) -> Stage {
    let trace = std::sync::Arc::new(jitter_trace(if options.quick { 1024 } else { 8192 }));
    Stage {
        name: "jitter_push_pop",
        variant: "audio_reorder5_loss2".to_string(),
        bytes: HEADER_LEN + JITTER_PAYLOAD,
        packets_per_iter: 1,
        run: jitter_run(trace.clone(), rtmedia_jitter),
        baseline: Some(Baseline {
            name: "btreemap",
            run: jitter_run(trace, BTreeJitter::default),
        }),
    }
}

// ------------------------------------------------------------------ mixer

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
    /// Source of each participant and where in it they start.
    sources: Vec<(std::sync::Arc<Source>, usize)>,
    offsets: Vec<u64>,
    tick: usize,
    now: u64,
    packets: Vec<Bytes>,
}

impl Room {
    fn new(participants: usize, talkers: usize, frames: usize) -> Self {
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
            let n = RtpBuilder {
                payload_type: 111,
                sequence_number: t as u16,
                timestamp: (t as u32).wrapping_mul(FRAME_SAMPLES as u32),
                ssrc: 0x5000_0000 + i as u32,
                extensions: &[(LEVEL_EXT_ID, &[*level])],
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

/// One 20 ms mixer tick of a mix-minus room with 3 talkers (the others
/// send room noise below the speech floor), on real Opus packets; baseline:
/// the naive bridge of `benches/mixer.rs` in an identical room. A "packet"
/// here is one participant's packet in and its mix out.
fn mixer_tick(options: &Options) -> Stage {
    let (participants, frames, preroll) = if options.quick {
        (8, 25, 10)
    } else {
        (100, 100, 60)
    };
    let talkers = 3;
    let config = MixerConfig {
        loudest: usize::MAX,
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
    let room = || Room::new(participants, talkers, frames);
    let mean_bytes = {
        let mut r = room();
        r.prepare();
        r.packets.iter().map(Bytes::len).sum::<usize>() / participants
    };
    Stage {
        name: "mixer_tick",
        variant: format!("{participants}_participants_mix_minus_{talkers}_talkers"),
        bytes: mean_bytes,
        packets_per_iter: participants as u64,
        run: mixer_run(ours, room(), preroll),
        baseline: Some(Baseline {
            name: "naive",
            run: mixer_run(naive, room(), preroll),
        }),
    }
}

// -------------------------------------------------------------- measuring

/// Iterations that take about `target`, found by growing a trial run (which
/// also warms the stage up).
fn calibrate(run: &mut RunFn, target: Duration) -> u64 {
    let mut n = 1u64;
    loop {
        let t = run(n);
        if t >= target / 8 || n >= 1 << 32 {
            let scale = target.as_secs_f64() / t.as_secs_f64().max(1e-9);
            return ((n as f64 * scale).ceil() as u64).clamp(1, 1 << 36);
        }
        n *= 4;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One measured row.
struct Row {
    stage: &'static str,
    variant: String,
    bytes: usize,
    ns_per_packet: f64,
    baseline: Option<(&'static str, f64)>,
}

/// Median ns per packet of the stage and its baseline, samples alternating.
fn measure(stage: &mut Stage, options: &Options) -> Row {
    let target = options.sample_time();
    let n = calibrate(&mut stage.run, target);
    let nb = stage
        .baseline
        .as_mut()
        .map(|b| calibrate(&mut b.run, target));
    let packets_per_iter = stage.packets_per_iter;
    let per_packet = |d: Duration, n: u64| d.as_secs_f64() * 1e9 / (n * packets_per_iter) as f64;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..options.samples() {
        ours.push(per_packet((stage.run)(n), n));
        if let (Some(b), Some(nb)) = (stage.baseline.as_mut(), nb) {
            theirs.push(per_packet((b.run)(nb), nb));
        }
    }
    Row {
        stage: stage.name,
        variant: stage.variant.clone(),
        bytes: stage.bytes,
        ns_per_packet: median(ours),
        baseline: stage.baseline.as_ref().map(|b| (b.name, median(theirs))),
    }
}

// ---------------------------------------------------------------- scaling

/// Packets each room's trace holds before it loops (the room's SRTP and
/// jitter state start afresh then, as a new call would).
fn scaling_trace_len(options: &Options) -> usize {
    if options.quick {
        64
    } else {
        512
    }
}

/// One room on a worker: the publisher's SRTP receive context, the jitter
/// buffer and the subscriber's SRTP send context.
struct ScalingRoom {
    rx: Srtp,
    jitter: JitterBuffer,
    tx: Srtp,
    /// Virtual time of the next packet (20 ms apart): the rooms run faster
    /// than real time, so time is an argument, not the clock.
    now: u64,
    out: Box<[u8; CAP]>,
}

const SCALING_PROFILE: Profile = Profile::AeadAes128Gcm;

impl ScalingRoom {
    fn new() -> Self {
        let mut config = JitterConfig::audio();
        config.delay = DelayConfig {
            fixed_delay_us: Some(40_000),
            ..config.delay
        };
        config.nack.enabled = false;
        Self {
            rx: rtmedia_srtp(SCALING_PROFILE),
            jitter: JitterBuffer::new(config),
            tx: Srtp::new(
                SCALING_PROFILE,
                &KEY[16..32],
                &SALT[2..14],
                Config::default(),
            )
            .unwrap(),
            now: 1_000_000,
            out: Box::new([0; CAP]),
        }
    }

    /// Unprotect → jitter push → pop what is due → protect each for the
    /// subscriber. Returns the packets sent on.
    fn handle(&mut self, mut packet: BytesMut) -> u64 {
        self.rx.unprotect_rtp_bytes(&mut packet).unwrap();
        let _ = self.jitter.push(packet.freeze(), self.now);
        let mut sent = 0;
        while let Some(event) = self.jitter.pop(self.now) {
            if let Event::Packet { packet, .. } = event {
                self.out[..packet.len()].copy_from_slice(&packet);
                black_box(
                    self.tx
                        .protect_rtp(&mut self.out[..], packet.len())
                        .unwrap(),
                );
                sent += 1;
            }
        }
        self.now += JITTER_PTIME_US;
        sent
    }
}

/// A room's protected packets, made once: `len` consecutive packets of
/// `PACKET_BYTES`, SSRC per room.
fn scaling_trace(room: usize, len: usize) -> Vec<Bytes> {
    let mut ctx = rtmedia_srtp(SCALING_PROFILE);
    let mut p = plain_packet();
    p[8..12].copy_from_slice(&(0x7000_0000 + room as u32).to_be_bytes());
    (0..len)
        .map(|i| {
            let mut q = p.clone();
            q[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            q[4..8].copy_from_slice(&(i as u32 * 960).to_be_bytes());
            let n = ctx.protect_rtp(&mut q[..], PACKET_BYTES).unwrap();
            Bytes::copy_from_slice(&q[..n])
        })
        .collect()
}

/// Packets per channel message from the dispatcher: one wake-up per batch,
/// as a network thread reading with `recvmmsg` would hand them over.
const DISPATCH_BATCH: usize = 32;

/// CPU time of the whole process so far, where it can be read: the scaling
/// rows report how many cores the run really got (a shared machine may give
/// fewer than the threads asked for).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn process_cpu_time() -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid clock id and a valid out-pointer.
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.sec as u64, ts.nsec as u32))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn process_cpu_time() -> Option<Duration> {
    None
}

/// Packets per second through `rooms` rooms sharded over `threads` workers
/// for about `duration`. The dispatcher (this thread's child) plays the
/// network thread: it copies each packet into a fresh buffer, as a socket
/// read would, and sends it to the room's worker over a bounded channel, in
/// batches of `DISPATCH_BATCH`.
/// Returns packets per second and the cores used on average (CPU time over
/// wall time, dispatcher included), if known.
fn scaling_run(traces: &[Vec<Bytes>], threads: usize, duration: Duration) -> (f64, Option<f64>) {
    let trace_len = traces[0].len();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..threads)
        .map(|_| channel::bounded::<Vec<(u32, BytesMut)>>(1024 / DISPATCH_BATCH))
        .unzip();
    let cpu_start = process_cpu_time();
    let start = Instant::now();
    let processed: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = receivers
            .into_iter()
            .map(|rx| {
                // Room r is on worker r % threads, as its (r / threads)th room.
                let mine = traces.len().div_ceil(threads);
                s.spawn(move || {
                    let mut rooms: Vec<ScalingRoom> =
                        (0..mine).map(|_| ScalingRoom::new()).collect();
                    let mut seen = vec![0usize; mine];
                    let mut handled = 0u64;
                    for (local, packet) in rx.into_iter().flatten() {
                        let local = local as usize;
                        if seen[local] == trace_len {
                            // The trace loops: a new call in this room.
                            rooms[local] = ScalingRoom::new();
                            seen[local] = 0;
                        }
                        seen[local] += 1;
                        rooms[local].handle(packet);
                        handled += 1;
                    }
                    handled
                })
            })
            .collect();
        s.spawn(move || {
            let mut pending: Vec<Vec<(u32, BytesMut)>> = vec![Vec::new(); threads];
            let mut i = 0;
            'outer: loop {
                for (room, trace) in traces.iter().enumerate() {
                    let packet = BytesMut::from(&trace[i][..]);
                    let batch = &mut pending[room % threads];
                    batch.push(((room / threads) as u32, packet));
                    if batch.len() == DISPATCH_BATCH {
                        let full = std::mem::replace(batch, Vec::with_capacity(DISPATCH_BATCH));
                        if senders[room % threads].send(full).is_err() {
                            break 'outer;
                        }
                    }
                }
                i = (i + 1) % trace_len;
                if i % 16 == 0 && start.elapsed() >= duration {
                    break;
                }
            }
        });
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let wall = start.elapsed().as_secs_f64();
    let cores = match (cpu_start, process_cpu_time()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() / wall),
        _ => None,
    };
    (processed as f64 / wall, cores)
}

/// One scaling row.
struct ScalingRow {
    threads: usize,
    rooms: usize,
    packets_per_sec: f64,
    efficiency: f64,
    /// Cores busy on average during the run (of the median run).
    cores_used: Option<f64>,
}

fn scaling(options: &Options) -> Vec<ScalingRow> {
    let max = options.threads.unwrap_or_else(|| logical_cores().max(2));
    let rooms = 4 * max;
    let traces: Vec<Vec<Bytes>> = (0..rooms)
        .map(|r| scaling_trace(r, scaling_trace_len(options)))
        .collect();
    let (duration, runs) = if options.quick {
        (Duration::from_millis(100), 1)
    } else {
        (Duration::from_millis(700), 3)
    };
    let mut rows: Vec<ScalingRow> = Vec::new();
    for threads in 1..=max {
        let mut results: Vec<(f64, Option<f64>)> = (0..runs)
            .map(|_| scaling_run(&traces, threads, duration))
            .collect();
        results.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (pps, cores_used) = results[results.len() / 2];
        let one = rows.first().map_or(pps, |r| r.packets_per_sec);
        rows.push(ScalingRow {
            threads,
            rooms,
            packets_per_sec: pps,
            efficiency: pps / (one * threads as f64),
            cores_used,
        });
    }
    rows
}

// ----------------------------------------------------------------- output

fn logical_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// A JSON value of the report: strings, numbers, booleans and null only.
enum Json<'a> {
    Str(&'a str),
    Int(u64),
    Num(f64),
    Bool(bool),
    Null,
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One JSON object on one line, fields in the given order.
fn json_line(fields: &[(&str, Json<'_>)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Json::Str(s) => json_string(s),
                Json::Int(n) => n.to_string(),
                // JSON has no NaN or infinity.
                Json::Num(x) if x.is_finite() => format!("{x:.3}"),
                Json::Num(_) | Json::Null => "null".to_string(),
                Json::Bool(b) => b.to_string(),
            };
            format!("{}:{v}", json_string(k))
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Runs everything and writes the table, or JSON lines with `--json`.
pub fn run(options: &Options, out: &mut dyn Write) -> io::Result<()> {
    let cpu = cpu_model();
    let cores = logical_cores();
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if options.json {
        writeln!(
            out,
            "{}",
            json_line(&[
                ("kind", Json::Str("machine")),
                ("cpu", Json::Str(&cpu)),
                ("logical_cores", Json::Int(cores as u64)),
                ("os", Json::Str(std::env::consts::OS)),
                ("arch", Json::Str(std::env::consts::ARCH)),
                ("rtmedia_version", Json::Str(env!("CARGO_PKG_VERSION"))),
                ("build", Json::Str(build)),
                ("quick", Json::Bool(options.quick)),
            ])
        )?;
    } else {
        writeln!(
            out,
            "rtmedia {} hardware report ({build} build{}): {cpu}, {cores} logical cores",
            env!("CARGO_PKG_VERSION"),
            if options.quick { ", --quick" } else { "" },
        )?;
        writeln!(
            out,
            "Per core; ratio = rtmedia packets/s over the baseline's, same run. Quote ratios.\n"
        )?;
        writeln!(
            out,
            "{:<18} {:<36} {:>5} {:>10} {:>9}  {:<12} {:>10} {:>7}",
            "stage", "variant", "bytes", "Mpkt/s", "ns/pkt", "baseline", "Mpkt/s", "ratio"
        )?;
    }
    out.flush()?;

    for mut stage in stages(options) {
        let row = measure(&mut stage, options);
        let pps = 1e9 / row.ns_per_packet;
        let base_pps = row.baseline.map(|(_, ns)| 1e9 / ns);
        let ratio = base_pps.map(|b| pps / b);
        if options.json {
            let num = |x: Option<f64>| x.map_or(Json::Null, Json::Num);
            writeln!(
                out,
                "{}",
                json_line(&[
                    ("kind", Json::Str("stage")),
                    ("stage", Json::Str(row.stage)),
                    ("variant", Json::Str(&row.variant)),
                    ("bytes", Json::Int(row.bytes as u64)),
                    ("packets_per_sec", Json::Num(pps)),
                    ("ns_per_packet", Json::Num(row.ns_per_packet)),
                    (
                        "baseline",
                        row.baseline.map_or(Json::Null, |(b, _)| Json::Str(b))
                    ),
                    ("baseline_packets_per_sec", num(base_pps)),
                    ("ratio", num(ratio)),
                ])
            )?;
        } else {
            let (base, base_mpps, ratio) = match (row.baseline, base_pps, ratio) {
                (Some((name, _)), Some(b), Some(r)) => {
                    (name, format!("{:.3}", b / 1e6), format!("{r:.2}x"))
                }
                _ => ("no baseline", "-".to_string(), "-".to_string()),
            };
            writeln!(
                out,
                "{:<18} {:<36} {:>5} {:>10.3} {:>9.1}  {:<12} {:>10} {:>7}",
                row.stage,
                row.variant,
                row.bytes,
                pps / 1e6,
                row.ns_per_packet,
                base,
                base_mpps,
                ratio
            )?;
        }
        out.flush()?;
    }

    let rows = scaling(options);
    if !options.json {
        writeln!(
            out,
            "\nScaling: rooms (SRTP unprotect -> jitter push/pop -> SRTP protect, {}, {} B) \
             sharded over worker threads,\nfed by one dispatcher thread through bounded \
             crossbeam channels (the dispatcher shares the cores).\n",
            profile_name(SCALING_PROFILE),
            PACKET_BYTES
        )?;
        writeln!(
            out,
            "{:>7} {:>6} {:>10} {:>14} {:>10} {:>10}",
            "threads", "rooms", "Mpkt/s", "Mpkt/s/thread", "efficiency", "cores used"
        )?;
    }
    for r in rows {
        let per_thread = r.packets_per_sec / r.threads as f64;
        if options.json {
            writeln!(
                out,
                "{}",
                json_line(&[
                    ("kind", Json::Str("scaling")),
                    ("threads", Json::Int(r.threads as u64)),
                    ("rooms", Json::Int(r.rooms as u64)),
                    ("bytes", Json::Int(PACKET_BYTES as u64)),
                    ("packets_per_sec", Json::Num(r.packets_per_sec)),
                    ("per_thread_packets_per_sec", Json::Num(per_thread)),
                    ("efficiency", Json::Num(r.efficiency)),
                    ("cpu_cores_used", r.cores_used.map_or(Json::Null, Json::Num)),
                ])
            )?;
        } else {
            writeln!(
                out,
                "{:>7} {:>6} {:>10.3} {:>14.3} {:>9.0}% {:>10}",
                r.threads,
                r.rooms,
                r.packets_per_sec / 1e6,
                per_thread / 1e6,
                r.efficiency * 100.0,
                r.cores_used.map_or("-".to_string(), |c| format!("{c:.2}"))
            )?;
        }
        out.flush()?;
    }
    Ok(())
}
