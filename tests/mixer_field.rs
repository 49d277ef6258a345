//! The mixer with what non-browser clients send (issue 15): real libopus
//! streams with in-band FEC off, no RFC 6464 level extension, DTX on and
//! off, CELT-only and SILK packets. Each test failed before its fix.

use bytes::Bytes;
use rtmedia::audio::level::{level_dbov, AudioLevel};
use rtmedia::audio::mixer::{Mixer, MixerConfig, ParticipantInput, QUIET_REFRESH_TICKS};
use rtmedia::audio::opus_packet::inspect;
use rtmedia::audio::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};
use rtmedia::packet::{RtpBuilder, RtpPacket};
use rtmedia::sim::Rng;

const TICK_US: u64 = 20_000;

/// What a sender's microphone picks up.
#[derive(Clone, Copy, Debug)]
enum Signal {
    /// A tone at `hz` of amplitude `amp`, its loudness swinging by ±`swing`
    /// (fraction) at 3.5 Hz with phase `phase` (syllables).
    Tone {
        hz: f32,
        amp: f32,
        swing: f32,
        phase: f32,
    },
    /// Room noise at this RMS level (dBov, negative).
    Noise(f32),
}

/// How a client encodes and sends.
#[derive(Clone, Copy, Debug)]
struct Client {
    fec: bool,
    dtx: bool,
    level_ext: bool,
    application: opus::Application,
    bitrate: i32,
}

const SIP_PHONE: Client = Client {
    fec: false,
    dtx: false,
    level_ext: false,
    application: opus::Application::Voip,
    bitrate: 32_000,
};

/// A participant sending real Opus as RTP.
struct Sender {
    signal: Signal,
    client: Client,
    encoder: opus::Encoder,
    rng: Rng,
    seq: u16,
    ts: u32,
    ssrc: u32,
    frame: usize,
    input: ParticipantInput,
}

impl Sender {
    fn new(mixer: &mut Mixer, id: u32, signal: Signal, client: Client, tap: bool) -> Self {
        let ssrc = 0x1000 + id;
        let input = mixer.add_participant(id, ssrc, 0x9000 + id, tap).unwrap();
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, client.application)
            .expect("libopus encoder");
        encoder.set_inband_fec(client.fec).unwrap();
        encoder
            .set_packet_loss_perc(if client.fec { 10 } else { 0 })
            .unwrap();
        encoder.set_dtx(client.dtx).unwrap();
        encoder
            .set_bitrate(opus::Bitrate::Bits(client.bitrate))
            .unwrap();
        Self {
            signal,
            client,
            encoder,
            rng: Rng::new(u64::from(id) * 7919),
            seq: 1,
            ts: 0,
            ssrc,
            frame: 0,
            input,
        }
    }

    fn pcm(&mut self) -> [f32; FRAME_SAMPLES] {
        let frame = self.frame;
        match self.signal {
            Signal::Tone {
                hz,
                amp,
                swing,
                phase,
            } => core::array::from_fn(|i| {
                let t = (frame * FRAME_SAMPLES + i) as f32 / 48_000.0;
                let tau = 2.0 * std::f32::consts::PI;
                let env = 1.0 + swing * (tau * 3.5 * t + phase).sin();
                (amp * env * (tau * hz * t).sin()).clamp(-1.0, 1.0)
            }),
            Signal::Noise(db) => {
                let a = 10f32.powf(db / 20.0) * 3f32.sqrt();
                core::array::from_fn(|_| a * (2.0 * self.rng.unit() as f32 - 1.0))
            }
        }
    }

    /// Encodes the next frame; returns the RTP packet (sent or not).
    fn next(&mut self) -> Bytes {
        let pcm = self.pcm();
        self.frame += 1;
        let mut payload = [0u8; 1275];
        let n = self.encoder.encode_float(&pcm, &mut payload).unwrap();
        let level = [AudioLevel {
            voice: level_dbov(&pcm) < 50,
            level: level_dbov(&pcm),
        }
        .to_byte()];
        let ext = [(1u8, &level[..])];
        let mut buf = vec![0u8; 12 + 8 + n];
        let len = RtpBuilder {
            payload_type: 111,
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
            extensions: if self.client.level_ext { &ext } else { &[] },
            payload: &payload[..n],
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        buf.truncate(len);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME_SAMPLES as u32);
        Bytes::from(buf)
    }
}

fn config(level_ext: bool, loudest: usize) -> MixerConfig {
    MixerConfig {
        max_participants: 64,
        loudest,
        audio_level_ext_id: level_ext.then_some(1),
        ..MixerConfig::default()
    }
}

/// Goertzel power of `hz` in `x` at 48 kHz, per sample².
fn power(x: &[f32], hz: f32, rate: f32) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f64::from(hz) / f64::from(rate);
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    4.0 * (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (x.len() as f64).powi(2)
}

fn db(p: f64) -> f64 {
    10.0 * p.max(1e-30).log10()
}

/// Defect 1: a 3-packet burst, longer than the jitter delay, on talker B.
/// What listener C hears of B during the burst must be what a plain libopus
/// decoder with PLC makes of the same losses, and B's timing (its tap)
/// must line up with A's again afterwards. Across client kinds: FEC off,
/// no level extension, DTX on and off (and a browser-like one).
#[test]
fn a_loss_burst_is_concealed_as_libopus_does_and_timing_recovers() {
    let clients = [
        SIP_PHONE,
        Client {
            dtx: true,
            ..SIP_PHONE
        },
        Client {
            level_ext: true,
            ..SIP_PHONE
        },
        Client {
            fec: true,
            level_ext: true,
            dtx: true,
            ..SIP_PHONE
        },
    ];
    for client in clients {
        let mut mixer = Mixer::new(config(client.level_ext, 3)).unwrap();
        let tone = |hz, amp| Signal::Tone {
            hz,
            amp,
            swing: 0.0,
            phase: 0.0,
        };
        let mut a = Sender::new(&mut mixer, 1, tone(310.0, 0.2), client, true);
        let mut b = Sender::new(&mut mixer, 2, tone(770.0, 0.3), client, true);
        let mut c = Sender::new(&mut mixer, 3, Signal::Noise(-90.0), client, false);
        // Both pause first (the jitter buffers' delay has settled by then and
        // the mixer works off their backlog in the pause), then B loses 3.
        let pause = 100..115;
        let burst = 160..163;
        let stop = 200; // both talkers stop here
        let mut reference = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut ref_pcm = Vec::new();
        let mut heard = Vec::new();
        let mut listener = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let (mut taps_a, mut taps_b) = (Vec::new(), Vec::new());
        let mut frame = [0f32; FRAME_SAMPLES];
        let mut out = [0u8; 1500];
        for t in 0..260usize {
            if t == stop || t == pause.start {
                a.signal = tone(310.0, 0.0);
                b.signal = tone(770.0, 0.0);
            }
            if t == pause.end {
                a.signal = tone(310.0, 0.2);
                b.signal = tone(770.0, 0.3);
            }
            let now = t as u64 * TICK_US;
            for s in [&mut a, &mut c] {
                let p = s.next();
                assert!(s.input.push(p, now + 5_000));
            }
            let p = b.next();
            if burst.contains(&t) {
                reference.decode_float(&[], &mut frame, false).unwrap();
            } else {
                let rtp = RtpPacket::parse(&p[..]).unwrap();
                reference
                    .decode_float(rtp.payload(), &mut frame, false)
                    .unwrap();
                assert!(b.input.push(p, now + 5_000));
            }
            ref_pcm.extend_from_slice(&frame);
            let tick = mixer.tick(now + 10_000);
            let packet = tick.packets().iter().find(|p| p.participant == 3).unwrap();
            let n = tick.write_rtp(packet, &mut out).unwrap();
            let rtp = RtpPacket::parse(&out[..n]).unwrap();
            listener
                .decode_float(rtp.payload(), &mut frame, false)
                .unwrap();
            heard.extend_from_slice(&frame);
            while let Some(f) = mixer.take_tap_frame(1) {
                taps_a.push(f);
            }
            while let Some(f) = mixer.take_tap_frame(2) {
                taps_b.push(f);
            }
        }
        // B's tone per 20 ms frame: the reference around the burst, and what
        // C heard over a window that covers the burst after the mixer's
        // delay (jitter buffer and codecs, under 100 ms).
        let frames_db = |x: &[f32], from: usize, to: usize| -> Vec<f64> {
            (from..to)
                .map(|k| {
                    db(power(
                        &x[k * FRAME_SAMPLES..(k + 1) * FRAME_SAMPLES],
                        770.0,
                        48_000.0,
                    ))
                })
                .collect()
        };
        let min = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
        let ref_burst = frames_db(&ref_pcm, burst.start, burst.end + 1);
        let heard_window = frames_db(&heard, burst.start, burst.end + 6);
        let before = frames_db(&heard, 130, 155);
        let ref_before = frames_db(&ref_pcm, 130, 155);
        // Relative to each one's level before the burst (the mix and the
        // codecs change the absolute level a little).
        let ref_drop = min(&ref_burst) - min(&ref_before);
        let heard_drop = min(&heard_window) - min(&before);
        println!(
            "{client:?}: B during the burst: reference {ref_drop:.1} dB, heard by C {heard_drop:.1} dB; {:?}",
            mixer.stats()
        );
        assert!(
            heard_drop > ref_drop - 6.0,
            "B vanished from C's mix: {heard_drop:.1} dB vs libopus {ref_drop:.1} dB ({client:?})"
        );
        if !client.fec {
            // Without FEC the mixer conceals exactly as the reference does.
            assert!(
                (heard_drop - ref_drop).abs() < 6.0,
                "{heard_drop:.1} dB vs libopus {ref_drop:.1} dB ({client:?})"
            );
        }
        // Timing: where each tap's tone ends, on the mixer's media clock.
        let end = |taps: &[rtmedia::audio::mixer::TapFrame]| -> i64 {
            let mut last = 0;
            for f in taps {
                for (k, &s) in f.pcm.iter().enumerate() {
                    if s.abs() > 0.05 {
                        last = f.media_time + k as i64;
                    }
                }
            }
            last
        };
        let (end_a, end_b) = (end(&taps_a), end(&taps_b));
        println!("tap ends: A {end_a}, B {end_b} (16 kHz samples)");
        assert!(
            (end_b - end_a).abs() < (TAP_FRAME_SAMPLES / 4) as i64,
            "B's tap is {} samples off A's after the burst ({client:?})",
            end_b - end_a
        );
        assert!(
            mixer.stats().concealed_frames + mixer.stats().fec_frames >= 3,
            "{:?}",
            mixer.stats()
        );
    }
}

/// Defect 2: without RFC 6464 levels, silent participants are not decoded
/// every tick. 40 participants: 3 talkers, the others room noise (some with
/// DTX, some without, some CELT-only), all without the level extension. The
/// talkers are mixed; the decodes per tick stay near the 3 talkers'.
#[test]
fn silent_participants_without_levels_are_not_decoded_every_tick() {
    let mut mixer = Mixer::new(config(false, 3)).unwrap();
    let mut senders: Vec<Sender> = (0..40u32)
        .map(|i| {
            let signal = if i < 3 {
                Signal::Tone {
                    hz: 300.0 + 200.0 * i as f32,
                    amp: 0.2,
                    swing: 0.3,
                    phase: i as f32,
                }
            } else {
                Signal::Noise(-75.0 - (i % 10) as f32)
            };
            let client = match i % 4 {
                0 => SIP_PHONE,
                1 => Client {
                    dtx: true,
                    ..SIP_PHONE
                },
                2 => Client {
                    application: opus::Application::LowDelay,
                    bitrate: 48_000,
                    ..SIP_PHONE
                },
                _ => Client {
                    fec: true,
                    ..SIP_PHONE
                },
            };
            Sender::new(&mut mixer, i + 1, signal, client, false)
        })
        .collect();
    let mut out = [0u8; 1500];
    let mut csrcs_ok = 0;
    let ticks = 300;
    let mut decodes_at_100 = 0;
    for t in 0..ticks {
        let now = t as u64 * TICK_US;
        for s in senders.iter_mut() {
            let p = s.next();
            assert!(s.input.push(p, now + 5_000));
        }
        if t == 100 {
            decodes_at_100 = mixer.stats().decodes;
        }
        let tick = mixer.tick(now + 10_000);
        let listener = tick.packets().iter().find(|p| p.participant == 40).unwrap();
        let n = tick.write_rtp(listener, &mut out).unwrap();
        let rtp = RtpPacket::parse(&out[..n]).unwrap();
        let mut talkers: Vec<u32> = rtp.csrcs().map(|c| c - 0x1000).collect();
        talkers.sort_unstable();
        csrcs_ok += usize::from(talkers == [1, 2, 3]);
    }
    let s = mixer.stats();
    let per_tick = (s.decodes - decodes_at_100) as f64 / (ticks - 100) as f64;
    println!("{per_tick:.2} decodes per tick for 40 participants; {s:?}; talkers mixed in {csrcs_ok} ticks");
    assert!(csrcs_ok > ticks - 20, "the three talkers are mixed");
    // The 3 talkers, plus the quiet CELT-only senders (no VAD flag; every
    // fourth) once per refresh period, and a little slack for packets
    // that grew; the SILK senders' silence (VAD 0) and DTX cost nothing.
    let celt = (3..40).filter(|i| i % 4 == 2).count() as f64;
    let bound = 3.0 + celt / f64::from(QUIET_REFRESH_TICKS) + 1.0;
    assert!(
        per_tick <= bound,
        "{per_tick:.2} decodes per tick (bound {bound:.2})"
    );
}

/// Defect 3: four equally loud talkers (speech-like loudness swings, out of
/// step), N = 3: the selection does not swap the third in and out.
#[test]
fn four_equal_talkers_do_not_swap_the_third_in_and_out() {
    for level_ext in [false, true] {
        let mut mixer = Mixer::new(config(level_ext, 3)).unwrap();
        let client = Client {
            level_ext,
            ..SIP_PHONE
        };
        let mut senders: Vec<Sender> = (0..5u32)
            .map(|i| {
                let signal = if i < 4 {
                    Signal::Tone {
                        hz: 310.0 + 220.0 * i as f32,
                        amp: 0.15,
                        swing: 0.5,
                        phase: 1.57 * i as f32,
                    }
                } else {
                    Signal::Noise(-90.0)
                };
                Sender::new(&mut mixer, i + 1, signal, client, false)
            })
            .collect();
        let mut out = [0u8; 1500];
        let mut last: Vec<u32> = vec![];
        let mut swaps = 0;
        let mut encodes = vec![];
        for t in 0..260usize {
            let now = t as u64 * TICK_US;
            for s in senders.iter_mut() {
                let p = s.next();
                assert!(s.input.push(p, now + 5_000));
            }
            let tick = mixer.tick(now + 10_000);
            encodes.push(tick.payload_count());
            let listener = tick.packets().iter().find(|p| p.participant == 5).unwrap();
            let n = tick.write_rtp(listener, &mut out).unwrap();
            let rtp = RtpPacket::parse(&out[..n]).unwrap();
            let mut mixed: Vec<u32> = rtp.csrcs().collect();
            mixed.sort_unstable();
            if t >= 50 && mixed != last {
                swaps += 1;
            }
            last = mixed;
        }
        println!("level ext {level_ext}: {swaps} swaps in 210 ticks");
        assert_eq!(
            swaps, 0,
            "the loudest three changed (level ext {level_ext})"
        );
    }
}

/// Defect 4: `fec_frames` counts frames recovered from in-band FEC, not
/// attempts: CELT-only packets (libopus low-delay mode) carry none, so
/// isolated losses of a CELT sender with FEC "on" are all concealed.
#[test]
fn fec_frames_count_only_real_recoveries() {
    for (application, bitrate, expect_fec) in [
        (opus::Application::LowDelay, 32_000, false),
        (opus::Application::Voip, 24_000, true),
    ] {
        let mut mixer = Mixer::new(config(false, 3)).unwrap();
        let client = Client {
            fec: true,
            application,
            bitrate,
            ..SIP_PHONE
        };
        let tone = swinging_tone();
        let mut talker = Sender::new(&mut mixer, 1, tone, client, false);
        let mut listener = Sender::new(&mut mixer, 2, Signal::Noise(-90.0), client, false);
        let mut lost = 0;
        for t in 0..300usize {
            let now = t as u64 * TICK_US;
            let p = talker.next();
            // Every 10th packet lost, the next one there in time for FEC.
            if t % 10 == 5 && t > 20 {
                lost += 1;
            } else {
                assert!(talker.input.push(p, now + 5_000));
            }
            let p = listener.next();
            assert!(listener.input.push(p, now + 5_000));
            mixer.tick(now + 10_000);
        }
        let s = mixer.stats();
        println!("{application:?}: {lost} lost, {s:?}");
        // Each lost frame is recovered, concealed, or (while the mixer
        // works off a backlog) dropped unheard.
        let rebuilt = s.fec_frames + s.concealed_frames;
        assert!(
            rebuilt <= lost && rebuilt + s.backlog_skips >= lost,
            "{application:?}"
        );
        assert!(s.fec_attempts >= s.fec_frames);
        if expect_fec {
            assert!(s.fec_frames > 0, "SILK with FEC recovers frames");
        } else {
            assert_eq!(s.fec_frames, 0, "CELT-only packets carry no FEC");
        }
    }
}

/// Defect 5 (part): tap samples stay in [-1, 1] for a full-scale talker.
#[test]
fn taps_of_a_full_scale_talker_stay_in_range() {
    let mut mixer = Mixer::new(config(true, 3)).unwrap();
    let client = Client {
        level_ext: true,
        ..SIP_PHONE
    };
    let full = Signal::Tone {
        hz: 997.0,
        amp: 1.0,
        swing: 0.0,
        phase: 0.0,
    };
    let mut s = Sender::new(&mut mixer, 1, full, client, true);
    let mut peak = 0f32;
    for t in 0..100usize {
        let now = t as u64 * TICK_US;
        let p = s.next();
        assert!(s.input.push(p, now + 5_000));
        mixer.tick(now + 10_000);
        while let Some(f) = mixer.take_tap_frame(1) {
            peak = f.pcm.iter().fold(peak, |m, x| m.max(x.abs()));
        }
    }
    println!("tap peak {peak}");
    assert!(peak <= 1.0 && peak > 0.8, "tap peak {peak}");
}

/// Defect 1, the longer cases: a DTX pause (the sender sends the first DTX
/// frame of a pause, then one every 400 ms, as browsers do) is not
/// concealed, and a 1.5 s outage is concealed briefly; after either, the
/// talker's tap lines up with a talker who had neither.
#[test]
fn dtx_pauses_and_long_outages_leave_the_talker_in_step() {
    for outage in [false, true] {
        let client = Client {
            dtx: true,
            ..SIP_PHONE
        };
        let mut mixer = Mixer::new(config(false, 3)).unwrap();
        let tone = |hz, amp| Signal::Tone {
            hz,
            amp,
            swing: 0.0,
            phase: 0.0,
        };
        let mut a = Sender::new(&mut mixer, 1, tone(310.0, 0.2), client, true);
        let mut b = Sender::new(&mut mixer, 2, tone(770.0, 0.3), client, true);
        let (gap, stop) = (60..135, 200);
        // Both pause here: the mixer works off A's backlog too (B's went in
        // its DTX pause or outage).
        let common_pause = 150..165;
        let (mut taps_a, mut taps_b) = (Vec::new(), Vec::new());
        let mut concealed_in_gap = 0;
        let (mut dtx_run, mut a_dtx_run) = (0, 0);
        for t in 0..260usize {
            if !outage && t == gap.start {
                b.signal = tone(770.0, 0.0);
            }
            if !outage && t == gap.end {
                b.signal = tone(770.0, 0.3);
            }
            if t == stop || t == common_pause.start {
                a.signal = tone(310.0, 0.0);
                b.signal = tone(770.0, 0.0);
            }
            if t == common_pause.end {
                a.signal = tone(310.0, 0.2);
                b.signal = tone(770.0, 0.3);
            }
            let now = t as u64 * TICK_US;
            let p = a.next();
            let dtx = p.len() <= 12 + 2;
            a_dtx_run = if dtx { a_dtx_run + 1 } else { 0 };
            if !dtx || a_dtx_run % 20 == 1 {
                assert!(a.input.push(p, now + 5_000));
            } else {
                a.seq = a.seq.wrapping_sub(1);
            }
            let p = b.next();
            let dtx = p.len() <= 12 + 2;
            dtx_run = if dtx { dtx_run + 1 } else { 0 };
            let sent = if outage && gap.contains(&t) {
                false
            } else {
                !dtx || dtx_run % 20 == 1
            };
            if sent {
                assert!(b.input.push(p, now + 5_000));
            } else if !(outage && gap.contains(&t)) {
                // A DTX frame not sent takes no sequence number.
                b.seq = b.seq.wrapping_sub(1);
            }
            let before = mixer.stats().concealed_frames;
            mixer.tick(now + 10_000);
            if gap.contains(&t) {
                concealed_in_gap += mixer.stats().concealed_frames - before;
            }
            for f in mixer.take_taps() {
                if f.participant == 1 {
                    &mut taps_a
                } else {
                    &mut taps_b
                }
                .push(f);
            }
        }
        let end = |taps: &[rtmedia::audio::mixer::TapFrame]| -> i64 {
            let mut last = 0;
            for f in taps {
                for (k, &s) in f.pcm.iter().enumerate() {
                    if s.abs() > 0.05 {
                        last = f.media_time + k as i64;
                    }
                }
            }
            last
        };
        let (end_a, end_b) = (end(&taps_a), end(&taps_b));
        let s = mixer.stats();
        println!(
            "outage {outage}: tap ends A {end_a}, B {end_b}; {concealed_in_gap} concealed in the gap; {s:?}"
        );
        assert!(
            (end_b - end_a).abs() < (TAP_FRAME_SAMPLES / 4) as i64,
            "B's tap is {} samples off A's (outage {outage})",
            end_b - end_a
        );
        if outage {
            assert_eq!(
                concealed_in_gap,
                u64::from(rtmedia::audio::mixer::MAX_CONCEAL_FRAMES)
            );
        } else {
            assert_eq!(concealed_in_gap, 0, "a DTX pause is not concealed");
        }
    }
}

/// Defect 2, the other side: skipping decodes must not miss a talker's
/// onset. A participant quiet for 2 s starts to talk; without levels it is
/// mixed within 100 ms, for a SILK sender (VAD flag) and a CELT-only one
/// (level refresh, packet size).
#[test]
fn an_onset_is_not_missed_without_levels() {
    for application in [opus::Application::Voip, opus::Application::LowDelay] {
        let mut mixer = Mixer::new(config(false, 3)).unwrap();
        let client = Client {
            application,
            ..SIP_PHONE
        };
        let mut talker = Sender::new(&mut mixer, 1, Signal::Noise(-80.0), client, false);
        let mut listener = Sender::new(&mut mixer, 2, Signal::Noise(-90.0), client, false);
        let onset = 100;
        let mut mixed_at = None;
        let mut out = [0u8; 1500];
        for t in 0..150usize {
            if t == onset {
                talker.signal = Signal::Tone {
                    hz: 440.0,
                    amp: 0.1,
                    swing: 0.3,
                    phase: 0.0,
                };
            }
            let now = t as u64 * TICK_US;
            for s in [&mut talker, &mut listener] {
                let p = s.next();
                assert!(s.input.push(p, now + 5_000));
            }
            let tick = mixer.tick(now + 10_000);
            let p = tick.packets().iter().find(|p| p.participant == 2).unwrap();
            let n = tick.write_rtp(p, &mut out).unwrap();
            let heard = RtpPacket::parse(&out[..n]).unwrap().csrc_count() > 0;
            if t < onset {
                assert!(!heard, "room noise mixed at tick {t} ({application:?})");
            } else if heard && mixed_at.is_none() {
                mixed_at = Some(t - onset);
            }
        }
        let s = mixer.stats();
        println!("{application:?}: mixed {mixed_at:?} ticks after the onset; {s:?}");
        // One frame of jitter delay, then at most the refresh period.
        let limit = 2 + QUIET_REFRESH_TICKS as usize;
        assert!(
            mixed_at.is_some_and(|d| d <= limit),
            "onset heard after {mixed_at:?} ticks ({application:?})"
        );
    }
}

/// Defect 7 (issue 18): a lone loss on a jittery path is rebuilt from the
/// next packet's in-band FEC. The jitter buffer kept at least one frame of
/// delay, not one frame above the jitter: the next packet comes a frame
/// after the lost one would have and as late as any other, so whenever it
/// was later than the fastest, the lost frame's playout time came first and
/// the mixer concealed a frame whose FEC arrived a few ms after.
#[test]
fn a_lone_loss_on_a_jittery_path_is_rebuilt_from_fec() {
    let mut mixer = Mixer::new(config(true, 3)).unwrap();
    let client = Client {
        fec: true,
        level_ext: true,
        bitrate: 24_000,
        ..SIP_PHONE
    };
    let tone = swinging_tone();
    let mut talker = Sender::new(&mut mixer, 1, tone, client, true);
    let mut rng = Rng::new(18);
    // (arrival µs, packet), sent every 20 ms, 5 ms of transit plus 0-15 ms
    // of uniform jitter; every 10th packet lost, the one after it 12 ms
    // late (a delay most packets beat: below the buffer's percentile).
    let mut in_flight: Vec<(u64, Bytes)> = Vec::new();
    let (mut lost, mut sent, mut with_fec) = (0u64, 0u64, 0u64);
    for now in (0..10_000_000u64).step_by(1_000) {
        if now % TICK_US == 0 {
            let p = talker.next();
            sent += 1;
            let k = sent - 1;
            if k % 10 == 5 && k > 100 {
                lost += 1;
            } else {
                let jitter = if k % 10 == 6 && k > 100 {
                    let rtp = RtpPacket::parse(&p[..]).unwrap();
                    with_fec += u64::from(inspect(rtp.payload()).is_some_and(|i| i.lbrr));
                    12_000
                } else {
                    (rng.unit() * 15_000.0) as u64
                };
                in_flight.push((now + 5_000 + jitter, p));
            }
        }
        in_flight.retain(|(at, p)| {
            if *at <= now {
                assert!(talker.input.push(p.clone(), now));
                false
            } else {
                true
            }
        });
        if now % TICK_US == 7_000 {
            mixer.tick(now);
            let _ = mixer.take_taps();
        }
    }
    let s = mixer.stats();
    println!("{lost} lost of {sent}: {s:?}");
    assert!(lost >= 40 && with_fec > 0);
    // Every lost frame's next packet was there in time, and each one that
    // carried FEC (libopus codes it for the frames its VAD found active)
    // rebuilt it.
    assert_eq!(s.fec_attempts, lost, "next packet in time for FEC");
    assert_eq!(s.fec_frames, with_fec, "{with_fec} next packets with FEC");
}

/// A 440 Hz tone whose level swings (a talker the speaker detector sees).
fn swinging_tone() -> Signal {
    Signal::Tone {
        hz: 440.0,
        amp: 0.3,
        swing: 0.2,
        phase: 0.0,
    }
}
