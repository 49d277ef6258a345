//! Tap metadata for transcription (issue 18, item 3): every tap frame says
//! whose audio it is (participant and SSRC), where it sits on the sender's
//! RTP clock, whether the talker was speaking, and which frames are gaps
//! (FEC-rebuilt, concealed, DTX, muted, missing) instead of zero-filling
//! them silently. Real libopus packets on both sides.

use bytes::Bytes;
use rtmedia::audio::mixer::{Mixer, MixerConfig, TapContent, TapFrame};
use rtmedia::audio::FRAME_SAMPLES;

#[path = "support/opus_rtp.rs"]
mod opus_rtp;
use opus_rtp::opus_rtp;

const A: u32 = 5;
const A_SSRC: u32 = 0xA5A5_0005;
const B: u32 = 9;
const B_SSRC: u32 = 0xB9B9_0009;
/// First RTP timestamps, near the wrap so that it is crossed.
const A_TS0: u32 = u32::MAX - 40 * 960;
const B_TS0: u32 = 77_777;
/// The 16 kHz decimator's delay at 48 kHz (17 samples at 16 kHz).
const DELAY_48K: u32 = 51;

fn encoder(dtx: bool) -> opus::Encoder {
    let mut e = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    e.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
    e.set_inband_fec(true).unwrap();
    e.set_packet_loss_perc(20).unwrap();
    e.set_dtx(dtx).unwrap();
    e
}

/// The pitch of A's frame `k`: it names the frame, so that a tap frame's
/// audio can be traced to the packet it came from.
fn a_hz(k: u32) -> f64 {
    300.0 + 100.0 * f64::from(k % 8)
}

/// Frame `k` of a tone of `hz` (`amplitude` 0: digital silence) as RTP,
/// with an RFC 6464 level byte if `level` is given; `phase` carries the
/// tone on across frames.
#[allow(clippy::too_many_arguments)]
fn packet(
    enc: &mut opus::Encoder,
    ssrc: u32,
    ts0: u32,
    k: u32,
    (hz, amplitude): (f64, f32),
    phase: &mut f64,
    level: Option<u8>,
) -> Bytes {
    let pcm: [f32; FRAME_SAMPLES] = core::array::from_fn(|_| {
        *phase += std::f64::consts::TAU * hz / 48_000.0;
        amplitude * phase.sin() as f32
    });
    let mut payload = [0u8; 400];
    let n = enc.encode_float(&pcm, &mut payload).unwrap();
    opus_rtp(
        (1000 + k) as u16,
        ts0.wrapping_add(k * 960),
        ssrc,
        level,
        &payload[..n],
    )
}

/// Talker A: a tone whose RFC 6464 V flag is on for 10 frames, off for 10.
fn a_voice(k: u32) -> bool {
    (k / 10) % 2 == 0
}

/// A's packets that never arrive: one alone (rebuilt from FEC), a burst of
/// five (concealed), and an outage of 20 frames (concealment gives up).
fn a_lost(k: u32) -> bool {
    k == 40 || (60..65).contains(&k) || (90..110).contains(&k)
}

/// Ticks during which A is muted by the host.
const A_MUTED: std::ops::Range<u32> = 130..140;

/// B: digital silence with DTX for 50 frames, then a tone.
fn b_talks(k: u32) -> bool {
    k >= 50
}

struct Run {
    a: Vec<TapFrame>,
    b: Vec<TapFrame>,
}

fn run() -> Run {
    let mut config = MixerConfig {
        max_participants: 4,
        ..MixerConfig::default()
    };
    // Two frames of delay at least: the packet after a lone loss is there by
    // the lost frame's deadline, so that its FEC rebuilds it.
    config.jitter.delay.min_delay_us = 40_000;
    let mut mixer = Mixer::new(config).unwrap();
    let ia = mixer.add_participant(A, A_SSRC, 0x100, true).unwrap();
    let ib = mixer.add_participant(B, B_SSRC, 0x200, true).unwrap();
    let (mut ea, mut eb) = (encoder(false), encoder(true));
    let (mut pha, mut phb) = (0.0, 0.0);
    // A's packets, with the V flag and a plausible level.
    let a_packets: Vec<Bytes> = (0..170u32)
        .map(|k| {
            let level = if a_voice(k) { 0x80 | 13 } else { 13 };
            packet(
                &mut ea,
                A_SSRC,
                A_TS0,
                k,
                (a_hz(k), 0.3),
                &mut pha,
                Some(level),
            )
        })
        .collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for k in 0..170u32 {
        let now = u64::from(k) * 20_000;
        if !a_lost(k) {
            ia.push(a_packets[k as usize].clone(), now);
        }
        let amp = if b_talks(k) { 0.3 } else { 0.0 };
        ib.push(
            packet(&mut eb, B_SSRC, B_TS0, k, (440.0, amp), &mut phb, None),
            now,
        );
        if A_MUTED.start == k {
            mixer.set_muted(A, true).unwrap();
        }
        if A_MUTED.end == k {
            mixer.set_muted(A, false).unwrap();
        }
        mixer.tick(now + 5_000);
        for f in mixer.take_taps() {
            match f.participant {
                A => a.push(f),
                B => b.push(f),
                other => panic!("tap of {other}"),
            }
        }
    }
    Run { a, b }
}

/// The packet index a frame's RTP timestamp comes from.
fn index(f: &TapFrame, ts0: u32) -> Option<u32> {
    let ts = f.rtp_timestamp?.wrapping_add(DELAY_48K).wrapping_sub(ts0);
    assert_eq!(ts % 960, 0, "a timestamp between frames: {f:?}");
    Some(ts / 960)
}

/// The strongest of A's pitches in a tap frame (Goertzel at 16 kHz).
fn pitch(pcm: &[f32]) -> f64 {
    let power = |hz: f64| {
        let w = std::f64::consts::TAU * hz / 16_000.0;
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in pcm {
            let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
            (s2, s1) = (s1, s0);
        }
        s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2
    };
    (0..8)
        .map(a_hz)
        .max_by(|x, y| power(*x).total_cmp(&power(*y)))
        .unwrap()
}

#[test]
fn every_frame_names_its_speaker_and_the_sender_time_of_its_audio() {
    let r = run();
    assert_eq!(r.a.len(), 170);
    assert!(r.a.iter().all(|f| f.ssrc == A_SSRC));
    assert!(r.b.iter().all(|f| f.ssrc == B_SSRC));
    // The audio of each frame is the packet its RTP timestamp names (A's
    // pitch changes every frame), across the timestamp wrap and the jitter
    // buffer's delay changes, which move the RTP ↔ media-time mapping by
    // whole frames: that mapping is per frame, not per stream.
    // (Right after a skipped or lost frame the decoder's history is another
    // frame's, and its output starts with that: not traced there.)
    let mut traced = 0;
    for w in r.a.windows(3) {
        let ks: Vec<Option<u32>> = w.iter().map(|f| index(f, A_TS0)).collect();
        let steady = w.iter().all(|f| f.content == TapContent::Audio)
            && ks[1] == ks[0].map(|k| k + 1)
            && ks[2] == ks[1].map(|k| k + 1);
        if !steady {
            continue;
        }
        let (f, k) = (&w[2], ks[2].unwrap());
        assert_eq!(
            pitch(&f.pcm),
            a_hz(k),
            "frame at {} names packet {k}",
            f.media_time
        );
        traced += 1;
    }
    assert!(traced > 120, "{traced} frames traced");
    let offsets: std::collections::BTreeSet<i64> =
        r.a.iter()
            .filter_map(|f| Some(i64::from(index(f, A_TS0)?) * 960 - 3 * f.media_time))
            .collect();
    assert!(offsets
        .iter()
        .all(|o| (o - offsets.first().unwrap()) % 960 == 0));
    assert!(
        offsets.len() <= 4,
        "the mapping moved {} times",
        offsets.len() - 1
    );
    // The first frame with audio is packet 0's, shifted by the delay.
    let first = r.a.iter().find(|f| f.content == TapContent::Audio).unwrap();
    assert_eq!(first.rtp_timestamp, Some(A_TS0.wrapping_sub(DELAY_48K)));
    // B's clock is its own.
    let first_b = r.b.iter().find(|f| f.rtp_timestamp.is_some()).unwrap();
    assert_eq!(index(first_b, B_TS0), Some(0));
}

#[test]
fn gaps_are_marked_not_silently_zero_filled() {
    let r = run();
    let at = |k: u32| {
        r.a.iter()
            .find(|f| index(f, A_TS0) == Some(k))
            .unwrap_or_else(|| panic!("no frame of packet {k}"))
    };
    // Frames before the first packet is due: nothing to play.
    assert_eq!(r.a[0].content, TapContent::Missing);
    assert_eq!(r.a[0].rtp_timestamp, None);
    // A lone loss is rebuilt from the next packet's FEC.
    assert_eq!(at(40).content, TapContent::Fec);
    assert_eq!(at(39).content, TapContent::Audio);
    assert_eq!(at(41).content, TapContent::Audio);
    // A burst is concealed (its last frame may come back through FEC).
    let burst: Vec<_> = (60..65).map(|k| at(k).content).collect();
    assert!(
        burst[..4].iter().all(|c| *c == TapContent::Concealed),
        "{burst:?}"
    );
    assert!(!burst[4].is_talker_audio() || burst[4] == TapContent::Fec);
    // An outage: 10 frames concealed (200 ms), then nothing: missing frames
    // without a timestamp, silent.
    let outage: Vec<_> = (90..100).map(|k| at(k).content).collect();
    assert!(
        outage.iter().all(|c| *c == TapContent::Concealed),
        "{outage:?}"
    );
    let missing: Vec<&TapFrame> =
        r.a.iter()
            .filter(|f| f.content == TapContent::Missing && f.media_time > 0)
            .collect();
    assert!(missing.len() >= 9, "{} missing frames", missing.len());
    for f in &missing {
        assert_eq!(f.rtp_timestamp, None);
        assert!(!f.voice_activity);
        assert!(f.pcm.iter().all(|s| *s == 0.0));
    }
    assert_eq!(at(110).content, TapContent::Audio);
    // Muted: silence, marked, with its timestamps; the talker comes back.
    let muted: Vec<&TapFrame> =
        r.a.iter()
            .filter(|f| f.content == TapContent::Muted)
            .collect();
    assert_eq!(muted.len(), A_MUTED.len());
    for f in &muted {
        assert!(f.pcm.iter().all(|s| *s == 0.0), "a muted tap carries audio");
        assert!(!f.voice_activity);
        assert_eq!(f.level, 127);
        assert!(index(f, A_TS0).is_some());
    }
    let after = r.a.last().unwrap();
    assert_eq!(after.content, TapContent::Audio);
    assert!(after.pcm.iter().any(|s| s.abs() > 0.05));
    // B's DTX while silent, then audio.
    let b_dtx =
        r.b.iter()
            .filter(|f| f.content == TapContent::Dtx && index(f, B_TS0).is_some_and(|k| k < 50))
            .count();
    assert!(b_dtx > 20, "{b_dtx} DTX frames of B's 50 silent ones");
    assert!(r
        .b
        .iter()
        .all(|f| f.content != TapContent::Dtx || !f.voice_activity));
}

#[test]
fn voice_activity_follows_the_sender() {
    let r = run();
    // A states it with the RFC 6464 V flag, frame by frame.
    let mut checked = 0;
    for f in r.a.iter().filter(|f| f.content == TapContent::Audio) {
        let k = index(f, A_TS0).unwrap();
        assert_eq!(f.voice_activity, a_voice(k), "packet {k}");
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
    // A concealed frame keeps the talker's state: the outage (packets
    // 90..) follows a voiced stretch (80..89), so its concealment is speech.
    let conceal: Vec<bool> =
        r.a.iter()
            .filter(|f| f.content == TapContent::Concealed)
            .filter_map(|f| Some((index(f, A_TS0)?, f.voice_activity)))
            .filter(|(k, _)| (90..100).contains(k))
            .map(|(_, v)| v)
            .collect();
    assert!(
        !conceal.is_empty() && conceal.iter().all(|v| *v),
        "{conceal:?}"
    );
    // B has no RFC 6464 extension: the Opus SILK VAD flag decides. Its tone
    // (after the onset) is speech, its silence is not.
    let b_voice = |talks: bool| {
        r.b.iter()
            .filter(|f| {
                index(f, B_TS0).is_some_and(|k| b_talks(k) == talks && !(50..55).contains(&k))
            })
            .filter(|f| f.voice_activity)
            .count()
    };
    assert_eq!(b_voice(false), 0);
    assert!(b_voice(true) > 100, "{} voiced frames", b_voice(true));
}

#[test]
fn without_a_stated_decision_voice_activity_is_the_level() {
    // CELT-only packets (music mode, 64 kbit/s) carry no VAD flag, and no
    // RFC 6464 byte is sent: the level against the speech floor decides.
    let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
    let input = mixer.add_participant(1, 0x51, 0x100, true).unwrap();
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(64_000)).unwrap();
    let mut phase = 0.0;
    let mut frames = Vec::new();
    for k in 0..100u32 {
        let amp = if (k / 25) % 2 == 0 { 0.3 } else { 0.0 };
        let p = packet(&mut enc, 0x51, 0, k, (440.0, amp), &mut phase, None);
        let payload = rtmedia::packet::RtpPacket::parse(&p)
            .unwrap()
            .payload()
            .to_vec();
        let info = rtmedia::audio::opus_packet::inspect(&payload).unwrap();
        assert_eq!(
            info.voice_activity, None,
            "packet {k} states a VAD decision"
        );
        input.push(p, u64::from(k) * 20_000);
        mixer.tick(u64::from(k) * 20_000 + 5_000);
        frames.extend(mixer.take_taps());
    }
    let mut checked = 0;
    for f in frames.iter().filter(|f| f.content == TapContent::Audio) {
        let k = index(f, 0).unwrap();
        // Frames at the edges of a tone carry both (the codec's delay).
        if k % 25 == 0 || k % 25 == 24 {
            continue;
        }
        assert_eq!(
            f.voice_activity,
            (k / 25) % 2 == 0,
            "packet {k}, level {}",
            f.level
        );
        checked += 1;
    }
    assert!(checked > 80, "{checked}");
}
