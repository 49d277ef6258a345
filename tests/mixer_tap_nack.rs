//! Taps that wait for retransmissions (`MixerConfig::with_retransmitted_taps`,
//! issue 18): a talker whose encoder has in-band FEC off and whose packets
//! carry no RFC 6464 level loses a burst of five packets, one alone, and
//! one whose first retransmission is lost too. The tap asks for each
//! (generic NACK), the host answers after a round trip on the media SSRC
//! (no RTX), and the tap is then exactly a lossless decode of the talker's
//! packets (bit for bit, real libopus), while the mix is exactly what it
//! is for the same participant untapped, without any retransmission. The
//! control (taps from the mix) conceals the same losses.

use std::collections::BTreeMap;

use bytes::Bytes;
use rtmedia::audio::mixer::{Mixer, MixerConfig, TapContent, TapFrame};
use rtmedia::audio::resample::Decimator3;
use rtmedia::audio::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};
use rtmedia::sim::Rng;

#[path = "support/opus_rtp.rs"]
mod opus_rtp;
use opus_rtp::opus_rtp;

const ID: u32 = 7;
const SSRC: u32 = 0x7a7a_0007;
const TS0: u32 = u32::MAX - 30 * 960;
const SEQ0: u16 = 65_500;
const FRAMES: u32 = 200;
/// One-way transit; jitter 0..10 ms on top keeps packets in order.
const TRANSIT_US: u64 = 30_000;
const RTT_US: u64 = 2 * TRANSIT_US;
/// The 16 kHz decimator's delay at 48 kHz (17 samples at 16 kHz).
const DELAY_48K: u32 = 51;

/// The talker is silent (digital silence, no DTX) for the first second, as
/// someone who just joined: the tap's delay settles meanwhile.
const SPEECH_START: u32 = 50;

/// Frames never delivered the first time.
fn lost(k: u32) -> bool {
    (60..65).contains(&k) || k == 100 || k == 140
}

/// Frame 140's first retransmission is lost too.
const LOST_TWICE: u32 = 140;

/// The talker's packets: silence, then a tone whose pitch changes every
/// frame; FEC off, no level extension.
fn packets() -> Vec<Bytes> {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
    enc.set_inband_fec(false).unwrap();
    let mut phase = 0.0f64;
    (0..FRAMES)
        .map(|k| {
            let hz = 250.0 + 60.0 * f64::from(k % 7);
            let pcm: [f32; FRAME_SAMPLES] = core::array::from_fn(|_| {
                phase += std::f64::consts::TAU * hz / 48_000.0;
                if k < SPEECH_START {
                    0.0
                } else {
                    0.3 * phase.sin() as f32
                }
            });
            let mut payload = [0u8; 400];
            let n = enc.encode_float(&pcm, &mut payload).unwrap();
            opus_rtp(
                SEQ0.wrapping_add(k as u16),
                TS0.wrapping_add(k * 960),
                SSRC,
                None,
                &payload[..n],
            )
        })
        .collect()
}

/// What the talker said, decoded without any loss and decimated as a tap
/// is: frame `k` of the result is packet `k`'s audio.
fn lossless_reference(packets: &[Bytes]) -> Vec<[f32; TAP_FRAME_SAMPLES]> {
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut decimator = Decimator3::new();
    packets
        .iter()
        .map(|p| {
            let rtp = rtmedia::packet::RtpPacket::parse(&p[..]).unwrap();
            let mut pcm = [0f32; FRAME_SAMPLES];
            assert_eq!(
                dec.decode_float(rtp.payload(), &mut pcm, false).unwrap(),
                FRAME_SAMPLES
            );
            let mut out = [0f32; TAP_FRAME_SAMPLES];
            decimator.process(&pcm, &mut out);
            for s in &mut out {
                *s = s.clamp(-1.0, 1.0);
            }
            out
        })
        .collect()
}

struct Run {
    taps: Vec<TapFrame>,
    /// Every tick's shared mix payload.
    mix: Vec<Vec<u8>>,
    /// Frame index → how many times it was requested.
    nacked: BTreeMap<u32, u32>,
}

fn run(config: MixerConfig, tapped: bool) -> Run {
    let packets = packets();
    let mut mixer = Mixer::new(config).unwrap();
    let input = mixer.add_participant(ID, SSRC, 0x100, tapped).unwrap();
    mixer.set_rtt(ID, RTT_US).unwrap();
    let mut rng = Rng::new(18);
    // (arrival time, frame index) of everything in flight.
    let mut in_flight: Vec<(u64, u32)> = (0..FRAMES)
        .filter(|&k| !lost(k))
        .map(|k| (u64::from(k) * 20_000 + TRANSIT_US + rng.below(10_000), k))
        .collect();
    let mut run = Run {
        taps: Vec::new(),
        mix: Vec::new(),
        nacked: BTreeMap::new(),
    };
    let mut out = [0i64; 32];
    let end_us = u64::from(FRAMES) * 20_000 + 1_000_000;
    for now in (0..end_us).step_by(1_000) {
        in_flight.sort_unstable();
        while in_flight.first().is_some_and(|&(at, _)| at <= now) {
            let (at, k) = in_flight.remove(0);
            assert!(input.push(packets[k as usize].clone(), at));
        }
        if now % 20_000 != 5_000 {
            continue;
        }
        let tick = mixer.tick(now);
        run.mix.push(tick.payload(0).to_vec());
        run.taps.extend(mixer.take_taps());
        let n = mixer.poll_nacks(ID, now, &mut out).unwrap();
        for &seq in &out[..n] {
            let k = u32::from((seq as u16).wrapping_sub(SEQ0));
            let times = run.nacked.entry(k).or_default();
            *times += 1;
            // The talker answers on the media SSRC one round trip later,
            // except the first answer for LOST_TWICE.
            if !(k == LOST_TWICE && *times == 1) {
                in_flight.push((now + RTT_US + rng.below(10_000), k));
            }
        }
        mixer.on_nack_sent(ID, now, &out[..n]).unwrap();
    }
    run
}

/// The frame index of a tap frame's RTP timestamp.
fn index(f: &TapFrame) -> Option<u32> {
    let ts = f.rtp_timestamp?.wrapping_add(DELAY_48K).wrapping_sub(TS0);
    assert_eq!(ts % 960, 0, "{f:?}");
    Some(ts / 960)
}

fn talker_frames(taps: &[TapFrame]) -> Vec<(u32, &TapFrame)> {
    taps.iter()
        .filter_map(|f| Some((index(f)?, f)))
        .filter(|(k, _)| *k < FRAMES)
        .collect()
}

#[test]
fn retransmitted_taps_are_a_lossless_decode_and_leave_the_mix_alone() {
    let reference = lossless_reference(&packets());
    let control = run(MixerConfig::default(), true);
    let nack = run(MixerConfig::default().with_retransmitted_taps(), true);
    // The mix alone: the participant not tapped.
    let untapped = run(MixerConfig::default(), false);
    assert!(untapped.taps.is_empty() && untapped.nacked.is_empty());

    // The control conceals what FEC-less packets cannot rebuild, and asks
    // for nothing.
    assert!(control.nacked.is_empty());
    let concealed = |taps: &[TapFrame]| {
        taps.iter()
            .filter(|f| f.content == TapContent::Concealed)
            .count()
    };
    assert!(
        concealed(&control.taps) >= 7,
        "{}",
        concealed(&control.taps)
    );

    // Every lost packet was asked for (the one whose retransmission was
    // lost, twice), nothing else.
    let expected: BTreeMap<u32, u32> = (0..FRAMES)
        .filter(|&k| lost(k))
        .map(|k| (k, if k == LOST_TWICE { 2 } else { 1 }))
        .collect();
    assert_eq!(nack.nacked, expected);

    // The tap holds every frame, in order; from the first word on, each is
    // exactly the lossless decode. (While the tap's delay grows to what the
    // path needs, in the first second, frames are inserted: concealed,
    // with no RTP timestamp, in the silence before the first word.)
    let frames = talker_frames(&nack.taps);
    let ks: Vec<u32> = frames.iter().map(|(k, _)| *k).collect();
    assert_eq!(ks, (0..FRAMES).collect::<Vec<_>>(), "frames played");
    for (k, f) in frames.iter().filter(|(k, _)| *k >= SPEECH_START) {
        assert_eq!(f.content, TapContent::Audio, "frame {k}");
        assert_eq!(f.pcm, reference[*k as usize], "frame {k}'s audio");
    }
    // (After the last packet the stream, which ended without DTX, is
    // concealed for 200 ms as any live stream that stops.)
    let first_word = frames[SPEECH_START as usize].1.media_time;
    let last_word = frames.last().unwrap().1.media_time;
    let late_concealed = nack
        .taps
        .iter()
        .filter(|f| f.content == TapContent::Concealed)
        .filter(|f| (first_word..=last_word).contains(&f.media_time))
        .count();
    assert_eq!(late_concealed, 0);

    // One frame per tick, contiguous on the mixer's clock, and placed
    // where the mix had the same audio (the lag is measured, not assumed).
    for w in nack.taps.windows(2) {
        assert_eq!(w[1].media_time - w[0].media_time, 320, "{:?}", w[1]);
    }
    let control_at: BTreeMap<u32, i64> = talker_frames(&control.taps)
        .into_iter()
        .filter(|(_, f)| f.content == TapContent::Audio)
        .map(|(k, f)| (k, f.media_time))
        .collect();
    let mut compared = 0;
    for (k, f) in &frames {
        if let Some(&m) = control_at.get(k) {
            assert!(
                (f.media_time - m).abs() <= 320,
                "frame {k}: {} vs {m}",
                f.media_time
            );
            compared += 1;
        }
    }
    assert!(compared > 150, "{compared}");

    // The mix is the untapped participant's: retransmissions that came
    // after their frame was concealed are dropped, their lateness did not
    // move its delay, and the tap's own decode leaves the mix's alone (a
    // tap from the mix decodes every frame, silence too, so that mix's
    // decoder is in another state when the talker starts: not compared).
    assert_eq!(nack.mix, untapped.mix);
}

#[test]
fn without_retransmitted_taps_nothing_is_requested_and_rtt_is_accepted() {
    let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
    mixer.add_participant(1, 1, 2, true).unwrap();
    let mut out = [0i64; 4];
    assert_eq!(mixer.poll_nacks(1, 0, &mut out), Ok(0));
    assert!(mixer.set_rtt(1, 50_000).is_ok());
    assert!(mixer.on_nack_sent(1, 0, &[5]).is_ok());
    assert!(mixer.poll_nacks(2, 0, &mut out).is_err());
    assert!(mixer.set_rtt(2, 1).is_err());
}

/// A hostile participant whose taps wait for retransmissions floods its
/// queue every tick with packets whose sequence numbers and timestamps jump
/// at random: its NACK lists stay within the caller's buffer and the
/// requests within the jitter buffer's span, and the other talker's tap
/// stays a lossless decode, one frame per tick.
#[test]
fn a_flooding_participant_leaves_the_other_taps_alone() {
    let packets = packets();
    let reference = lossless_reference(&packets);
    let mut mixer = Mixer::new(MixerConfig::default().with_retransmitted_taps()).unwrap();
    let input = mixer.add_participant(ID, SSRC, 0x100, true).unwrap();
    const HOSTILE: u32 = 99;
    let hostile = mixer
        .add_participant(HOSTILE, 0x0bad_0bad, 0x200, true)
        .unwrap();
    mixer.set_rtt(ID, RTT_US).unwrap();
    let mut rng = Rng::new(0xf100d);
    let payload = rtmedia::packet::RtpPacket::parse(&packets[60][..])
        .unwrap()
        .payload()
        .to_vec();
    let mut out = [0i64; 16];
    let (mut taps, mut hostile_nacked) = (Vec::new(), 0usize);
    let end_us = u64::from(FRAMES) * 20_000 + 1_000_000;
    for now in (0..end_us).step_by(20_000) {
        let k = (now / 20_000) as usize;
        if k < packets.len() {
            assert!(input.push(packets[k].clone(), now + TRANSIT_US - 20_000));
        }
        for _ in 0..MixerConfig::default().queue_capacity {
            let (seq, ts) = (rng.next_u64() as u16, rng.next_u64() as u32);
            let _ = hostile.push(opus_rtp(seq, ts, 0x0bad_0bad, None, &payload), now);
        }
        mixer.tick(now + 5_000);
        taps.extend(mixer.take_taps().filter(|f| f.participant == ID));
        for id in [ID, HOSTILE] {
            let n = mixer.poll_nacks(id, now + 5_000, &mut out).unwrap();
            assert!(n <= out.len());
            if id == HOSTILE {
                hostile_nacked += n;
            } else {
                assert_eq!(n, 0, "the talker loses nothing");
            }
            mixer.on_nack_sent(id, now + 5_000, &out[..n]).unwrap();
        }
    }
    println!(
        "hostile participant: {hostile_nacked} sequence numbers requested in {} ticks",
        end_us / 20_000
    );
    // The talker's tap: every packet's audio, exactly, from the first word.
    let frames = talker_frames(&taps);
    let ks: Vec<u32> = frames.iter().map(|(k, _)| *k).collect();
    assert_eq!(ks, (0..FRAMES).collect::<Vec<_>>());
    for (k, f) in frames.iter().filter(|(k, _)| *k >= SPEECH_START) {
        assert_eq!(f.content, TapContent::Audio, "frame {k}");
        assert_eq!(f.pcm, reference[*k as usize], "frame {k}'s audio");
    }
    for w in taps.windows(2) {
        assert_eq!(w[1].media_time - w[0].media_time, 320);
    }
}
