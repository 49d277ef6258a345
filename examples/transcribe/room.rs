//! The meeting's audio path: each talker's packets, SRTP-protected
//! (AEAD_AES_128_GCM, the conference example's [`Leg`]), cross its
//! impaired link to the server, which unprotects them for its mixer
//! (`rtmedia::audio::mixer`, jitter buffers inside), ticking every 20 ms;
//! the server keeps each talker's 16 kHz tap with its metadata, the room
//! mix, and the sender reports it received. The taps wait for
//! retransmissions (`MixerConfig::with_retransmitted_taps`): after each
//! tick the server sends each talker a generic NACK (SRTCP, back over a
//! link like the talker's) for what its tap misses, and the talker resends
//! those packets from its history on its media SSRC (no RTX), as a browser
//! does. The mix does not wait for them.

use std::time::Instant;

use rtmedia::audio::mixer::{Mixer, MixerConfig, ParticipantInput, TapContent};
use rtmedia::audio::resample::Decimator3;
use rtmedia::audio::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};
use rtmedia::packet::rtcp::{compound, NackBuilder, RtcpPacket};
use rtmedia::packet::RtpPacket;

use crate::leg::{Leg, Received};

use crate::script::{Talker, Utterance};
use crate::talker::Device;

/// The server's mixer ticks at this phase of every 20 ms.
const TICK_PHASE_US: u64 = 7_000;
/// Packets a talker keeps for retransmission (5 s of 20 ms frames).
const HISTORY: usize = 256;
/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;

/// One tap frame's metadata, as the consumer needs it.
#[derive(Debug, Clone, Copy)]
pub struct FrameMeta {
    pub media_time: i64,
    pub rtp_timestamp: Option<u32>,
    pub voice: bool,
    pub content: TapContent,
    pub level: u8,
}

/// A sender report as received: arrival (s since the start), the NTP time
/// as Unix seconds, the RTP timestamp.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedSr {
    pub arrival_s: f64,
    pub wall_s: f64,
    pub rtp: u32,
}

/// What the server kept of one talker.
pub struct TalkerOut {
    pub participant: u32,
    pub ssrc: u32,
    pub tap: Vec<i16>,
    pub frames: Vec<FrameMeta>,
    pub reports: Vec<ReceivedSr>,
    pub original: Vec<i16>,
    /// Through Opus alone (see [`Device::codec_16k`]).
    pub codec: Vec<i16>,
    pub packets_sent: u64,
    pub packets_lost: u64,
    /// Packets the server's SRTP context refused (authentication, replay).
    pub srtp_refused: u64,
    /// Sequence numbers the server asked for, and packets the talker resent.
    pub nacked: u64,
    pub retransmitted: u64,
}

/// What a talker sent lately, for retransmission: the RTP packets by
/// sequence number.
struct History {
    packets: Vec<Option<(u16, Vec<u8>)>>,
}

impl History {
    fn new() -> Self {
        Self {
            packets: vec![None; HISTORY],
        }
    }

    fn keep(&mut self, packet: &[u8]) {
        if let Ok(rtp) = RtpPacket::parse(packet) {
            let seq = rtp.sequence_number();
            self.packets[usize::from(seq) % HISTORY] = Some((seq, packet.to_vec()));
        }
    }

    fn get(&self, seq: u16) -> Option<&[u8]> {
        match &self.packets[usize::from(seq) % HISTORY] {
            Some((s, p)) if *s == seq => Some(p),
            _ => None,
        }
    }
}

pub struct RoomOut {
    pub talkers: Vec<TalkerOut>,
    /// The room mix decoded, decimated to 16 kHz.
    pub mix: Vec<i16>,
    /// Media time (16 kHz) of the mix's first sample.
    pub mix_media_time0: i64,
    /// Ticks and the wall time the whole simulation loop took.
    pub ticks: u64,
    pub loop_seconds: f64,
    pub mixer_seconds: f64,
}

/// Protects and sends one packet of a talker's: RTCP (RFC 5761 types
/// 200..=204 where RTP has its marker and payload type) as SRTCP.
fn send(leg: &mut Leg, now: u64, packet: &[u8]) {
    if (200..=204).contains(&packet.get(1).copied().unwrap_or(0)) {
        leg.send_rtcp(now, packet);
    } else {
        let mut buf = [0u8; 1500];
        buf[..packet.len()].copy_from_slice(packet);
        leg.send_rtp_in_place(now, &mut buf, packet.len());
    }
}

/// The mixer's participant id of talker `i`.
fn inputs_id(i: usize) -> u32 {
    1 + i as u32
}

fn to_i16(x: f32) -> i16 {
    (x.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// Runs the meeting: `length_us` of true time.
pub fn run(
    talkers: &[Talker],
    script: &[Utterance],
    wall0_us: u64,
    length_us: u64,
    seed: u64,
) -> RoomOut {
    let mut mixer = Mixer::new(MixerConfig::default().with_retransmitted_taps()).expect("libopus");
    let mut devices: Vec<Device> = talkers
        .iter()
        .enumerate()
        .map(|(i, t)| Device::new(t, i, script, wall0_us, length_us, seed))
        .collect();
    let mut legs: Vec<Leg> = talkers
        .iter()
        .enumerate()
        .map(|(i, t)| Leg::new(t.link, seed.wrapping_mul(31).wrapping_add(i as u64)))
        .collect();
    // The way back, for the server's NACKs: a link like the talker's.
    let mut back: Vec<Leg> = talkers
        .iter()
        .enumerate()
        .map(|(i, t)| Leg::new(t.link, seed.wrapping_mul(37).wrapping_add(100 + i as u64)))
        .collect();
    let mut histories: Vec<History> = talkers.iter().map(|_| History::new()).collect();
    let mut nacks = [0i64; 64];
    let mut wire = [0u16; 64];
    let mut rtcp = [0u8; 1200];
    let inputs: Vec<ParticipantInput> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let id = inputs_id(i);
            mixer
                .add_participant(id, d.ssrc, 0x3a00_0000 + id, true)
                .expect("room has space")
        })
        .collect();
    let mut out: Vec<TalkerOut> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| TalkerOut {
            participant: 1 + i as u32,
            ssrc: d.ssrc,
            tap: Vec::new(),
            frames: Vec::new(),
            reports: Vec::new(),
            original: d.original_16k().to_vec(),
            codec: Vec::new(),
            packets_sent: 0,
            packets_lost: 0,
            srtp_refused: 0,
            nacked: 0,
            retransmitted: 0,
        })
        .collect();
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).expect("libopus");
    let mut mix_pcm = [0f32; FRAME_SAMPLES];
    let mut mix_16k = [0f32; TAP_FRAME_SAMPLES];
    let mut decimator = Decimator3::new();
    let mut mix = Vec::new();
    let (mut ticks, mut mixer_ns) = (0u64, 0u128);
    let started = Instant::now();
    // 1 ms steps: every packet is sent and received within 1 ms of its time.
    for now in (0..=length_us).step_by(1_000) {
        for (i, device) in devices.iter_mut().enumerate() {
            device.poll(now, |p| {
                histories[i].keep(&p);
                send(&mut legs[i], now, &p)
            });
        }
        // Talkers answer the server's NACKs from their history.
        for (i, leg) in back.iter_mut().enumerate() {
            while let Some(received) = leg.poll(now) {
                let Received::Rtcp(p) = received else {
                    continue;
                };
                for packet in compound(&p).flatten() {
                    let RtcpPacket::Nack(nack) = packet else {
                        continue;
                    };
                    for seq in nack.lost_sequence_numbers() {
                        if let Some(packet) = histories[i].get(seq) {
                            let mut buf = [0u8; 1500];
                            buf[..packet.len()].copy_from_slice(packet);
                            legs[i].send_rtp_in_place(now, &mut buf, packet.len());
                            out[i].retransmitted += 1;
                        }
                    }
                }
            }
        }
        for (i, leg) in legs.iter_mut().enumerate() {
            while let Some(received) = leg.poll(now) {
                match received {
                    Received::Rtcp(p) => {
                        for sr in compound(&p).flatten() {
                            if let RtcpPacket::SenderReport(sr) = sr {
                                let ntp = sr.ntp_timestamp();
                                out[i].reports.push(ReceivedSr {
                                    arrival_s: now as f64 / 1e6,
                                    wall_s: (ntp >> 32) as f64 - NTP_UNIX_OFFSET
                                        + (ntp & 0xffff_ffff) as f64 / 4_294_967_296.0,
                                    rtp: sr.rtp_timestamp(),
                                });
                            }
                        }
                    }
                    Received::Rtp(p) => {
                        inputs[i].push(p, now);
                    }
                }
            }
        }
        if now % 20_000 != TICK_PHASE_US {
            continue;
        }
        let t0 = Instant::now();
        let tick = mixer.tick(now);
        mixer_ns += t0.elapsed().as_nanos();
        ticks += 1;
        let n = decoder
            .decode_float(tick.payload(0), &mut mix_pcm, false)
            .unwrap_or(0);
        if n != FRAME_SAMPLES {
            mix_pcm.fill(0.0);
        }
        decimator.process(&mix_pcm, &mut mix_16k);
        mix.extend(mix_16k.iter().map(|s| to_i16(*s)));
        // What each tap misses, asked of its talker.
        for (i, device) in devices.iter().enumerate() {
            let id = inputs_id(i);
            let n = mixer.poll_nacks(id, now, &mut nacks).expect("in the room");
            if n == 0 {
                continue;
            }
            for (w, &seq) in wire.iter_mut().zip(&nacks[..n]) {
                *w = seq as u16;
            }
            let len = NackBuilder {
                sender_ssrc: 0x3a00_0000 + id,
                media_ssrc: device.ssrc,
                lost: &wire[..n],
            }
            .write_into(&mut rtcp)
            .expect("64 numbers fit");
            back[i].send_rtcp(now, &rtcp[..len]);
            mixer
                .on_nack_sent(id, now, &nacks[..n])
                .expect("in the room");
            out[i].nacked += n as u64;
        }
        for f in mixer.take_taps() {
            let t = &mut out[(f.participant - 1) as usize];
            t.tap.extend(f.pcm.iter().map(|s| to_i16(*s)));
            t.frames.push(FrameMeta {
                media_time: f.media_time,
                rtp_timestamp: f.rtp_timestamp,
                voice: f.voice_activity,
                content: f.content,
                level: f.level,
            });
        }
    }
    for (t, device) in out.iter_mut().zip(&devices) {
        t.codec = device.codec_16k().to_vec();
    }
    for (t, leg) in out.iter_mut().zip(&legs) {
        t.packets_sent = leg.link().stats().sent;
        t.packets_lost = leg.link().stats().lost;
        let rx = leg.rx_stats();
        t.srtp_refused = rx.auth_failures + rx.replayed + rx.too_old + rx.malformed;
    }
    RoomOut {
        // The mix starts at the first tick (media time 0), delayed as a tap
        // by the same decimator.
        mix_media_time0: -(Decimator3::new().delay_samples() as i64),
        talkers: out,
        mix,
        ticks,
        loop_seconds: started.elapsed().as_secs_f64(),
        mixer_seconds: mixer_ns as f64 / 1e9,
    }
}
