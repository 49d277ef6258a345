//! Issue 19 items 3, 7 and 8: limits that hold against hostile or absurd
//! input — packet sizes a source and a mixer accept, tap samples in
//! [-1, 1], and an SRTP receiver that can forget an SSRC.

use bytes::Bytes;
use rtmedia::audio::mixer::{Mixer, MixerConfig, DEFAULT_MAX_PACKET_LEN};
use rtmedia::audio::FRAME_SAMPLES;
use rtmedia::packet::RtpBuilder;
use rtmedia::simulcast::{Source, SourceConfig, SourceError};
use rtmedia::srtp::{Config, Error, Profile, Srtp};

fn vp8_packet(ssrc: u32, seq: u16, payload_len: usize) -> Bytes {
    let mut payload = vec![0x5au8; payload_len];
    // VP8 descriptor: S=1, PID 0, then a keyframe's P bit of 0.
    payload[..2].copy_from_slice(&[0x10, 0x00]);
    let b = RtpBuilder {
        payload_type: 96,
        sequence_number: seq,
        timestamp: 90_000,
        ssrc,
        payload: &payload,
        ..Default::default()
    };
    let mut buf = vec![0u8; b.encoded_len().unwrap()];
    b.write_into(&mut buf).unwrap();
    Bytes::from(buf)
}

/// Item 3: a source keeps no packet longer than its limit, so its history
/// is bounded by layers × history × limit, not by the largest packet seen.
#[test]
fn source_refuses_packets_longer_than_the_limit() {
    let mut source = Source::new(SourceConfig::default(), &[1]).unwrap();
    let big = vp8_packet(1, 10, 64_000);
    assert_eq!(
        source.on_rtp(big, 0).unwrap_err(),
        SourceError::TooLarge(64_012)
    );
    assert!(source.packet(0, (1 << 16) + 10).is_none(), "not kept");
    assert_eq!(source.stats().oversize, 1);
    // An MTU-sized packet is accepted and kept.
    let fits = vp8_packet(1, 11, 1500 - 12);
    assert_eq!(fits.len(), 1500);
    let p = source.on_rtp(fits, 0).unwrap();
    assert!(source.packet(0, p.ext_seq).is_some());
    // The limit is the host's to raise (jumbo frames).
    source.set_max_packet_len(9000);
    assert!(source.on_rtp(vp8_packet(1, 12, 8000), 0).is_ok());
}

/// Item 3: a mixer participant sending 64 KB packets costs nothing: they
/// are dropped at the input and counted.
#[test]
fn mixer_input_refuses_packets_longer_than_the_limit() {
    let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
    let input = mixer.add_participant(1, 0x11, 0x21, false).unwrap();
    let rtp = |len: usize| {
        let payload = vec![0u8; len - 12];
        let b = RtpBuilder {
            payload_type: 111,
            ssrc: 0x11,
            payload: &payload,
            ..Default::default()
        };
        let mut buf = vec![0u8; len];
        b.write_into(&mut buf).unwrap();
        Bytes::from(buf)
    };
    assert!(!input.push(rtp(65_000), 0));
    assert!(!input.push(rtp(DEFAULT_MAX_PACKET_LEN + 1), 0));
    assert!(input.push(rtp(DEFAULT_MAX_PACKET_LEN), 0));
    let stats = mixer.stats();
    assert_eq!(stats.oversize_drops, 2);
    assert_eq!(stats.queue_drops, 0);
    mixer.set_max_packet_len(100);
    assert!(!input.push(rtp(101), 0));
    assert_eq!(mixer.stats().oversize_drops, 3);
}

/// Item 7: a full-scale talker (a square wave at 0 dBFS, whose Opus decode
/// overshoots) gives tap samples within [-1, 1], as documented.
#[test]
fn taps_stay_within_full_scale() {
    let mut mixer = Mixer::new(MixerConfig {
        audio_level_ext_id: None,
        ..MixerConfig::default()
    })
    .unwrap();
    let input = mixer.add_participant(1, 0x11, 0x21, true).unwrap();
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio).unwrap();
    encoder.set_bitrate(opus::Bitrate::Bits(128_000)).unwrap();
    let mut peak = 0f32;
    let mut over = 0usize;
    for frame in 0..100u32 {
        let pcm: Vec<f32> = (0..FRAME_SAMPLES)
            .map(|i| {
                let t = frame as usize * FRAME_SAMPLES + i;
                if (t / 80) % 2 == 0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let mut payload = [0u8; 1275];
        let n = encoder.encode_float(&pcm, &mut payload).unwrap();
        let b = RtpBuilder {
            payload_type: 111,
            sequence_number: frame as u16,
            timestamp: frame * FRAME_SAMPLES as u32,
            ssrc: 0x11,
            payload: &payload[..n],
            ..Default::default()
        };
        let mut buf = vec![0u8; b.encoded_len().unwrap()];
        b.write_into(&mut buf).unwrap();
        let now = u64::from(frame) * 20_000;
        assert!(input.push(Bytes::from(buf), now));
        mixer.tick(now);
        while let Some(tap) = mixer.take_tap_frame(1) {
            for s in tap.pcm {
                assert!(s.is_finite());
                peak = peak.max(s.abs());
                over += usize::from(s.abs() > 1.0);
            }
        }
    }
    assert!(peak > 0.9, "the talker was heard at full scale: {peak}");
    assert_eq!(over, 0, "tap samples beyond full scale (peak {peak})");
}

fn protected(tx: &mut Srtp, ssrc: u32, seq: u16) -> Vec<u8> {
    let mut buf = vec![0u8; 64];
    buf[..12].copy_from_slice(&[0x80, 96, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    let n = tx.protect_rtp(&mut buf, 32).unwrap();
    buf.truncate(n);
    buf
}

/// Item 8: the SSRC table fills up for good unless a host can forget
/// SSRCs that left; forgetting one makes room, and the stream starts anew.
#[test]
fn srtp_forgets_an_ssrc_and_makes_room() {
    let config = Config {
        max_ssrcs: 2,
        ..Config::default()
    };
    let key = [3u8; 16];
    let salt = [4u8; 12];
    let mut tx = Srtp::new(Profile::AeadAes128Gcm, &key, &salt, Config::default()).unwrap();
    let mut rx = Srtp::new(Profile::AeadAes128Gcm, &key, &salt, config).unwrap();
    for ssrc in [1, 2] {
        let mut p = protected(&mut tx, ssrc, 5);
        assert_eq!(rx.unprotect_rtp(&mut p), Ok(32));
    }
    let mut p3 = protected(&mut tx, 3, 5);
    assert_eq!(rx.unprotect_rtp(&mut p3.clone()), Err(Error::SsrcLimit));
    assert!(rx.remove_ssrc(1));
    assert!(!rx.remove_ssrc(1), "already forgotten");
    assert_eq!(rx.ssrc_count(), 1);
    assert_eq!(rx.unprotect_rtp(&mut p3), Ok(32));
    // SSRC 2 is still tracked: a replay of its packet is refused.
    let mut again = protected(&mut tx, 2, 6);
    assert_eq!(rx.unprotect_rtp(&mut again.clone()), Ok(32));
    assert_eq!(rx.unprotect_rtp(&mut again), Err(Error::Replayed));
}

/// Item 8: a stream whose first packets came after a sequence wrap (ROC 1)
/// cannot be unprotected with ROC 0; `set_receive_roc` recovers it.
#[test]
fn srtp_receive_roc_recovers_a_stream_joined_after_a_wrap() {
    let key = [5u8; 16];
    let salt = [6u8; 14];
    let p = Profile::Aes128CmHmacSha1_80;
    let mut tx = Srtp::new(p, &key, &salt, Config::default()).unwrap();
    let mut rx = Srtp::new(p, &key, &salt, Config::default()).unwrap();
    let mut last = Vec::new();
    for seq in 65_530u16..=65_535 {
        last = protected(&mut tx, 9, seq);
    }
    let _ = last;
    let mut after_wrap = protected(&mut tx, 9, 3);
    assert_eq!(
        rx.unprotect_rtp(&mut after_wrap.clone()),
        Err(Error::AuthFailed),
        "ROC 0 assumed"
    );
    rx.set_receive_roc(9, 1, 3).unwrap();
    assert_eq!(rx.unprotect_rtp(&mut after_wrap), Ok(32));
}
