//! Issue 19 item 6: absurd but representable settings and clock values must
//! not overflow (a panic in checked builds, a silent wrap in release). Each
//! object is built from configs whose numeric fields are drawn from the
//! extremes (0, 1, 2^31 − 1, 2^61 + 1, 2^63, u64::MAX, …) and driven with
//! hand-made VP8 simulcast, sender reports, keyframe requests and NACKs at
//! extreme times. Memory-sized settings are bounded by documented maxima.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use proptest::prelude::*;
use rtmedia::jitter::{JitterBuffer, JitterConfig};
use rtmedia::packet::RtpBuilder;
use rtmedia::simulcast::{
    Allocator, AllocatorConfig, Forwarder, ForwarderConfig, Layer, LayerBitrates, Source,
    SourceConfig, TrackDemand, MAX_HISTORY_PACKETS,
};
use rtmedia::srtp::{Config, Profile, Srtp, MAX_REPLAY_WINDOW};

const SSRCS: [u32; 2] = [0x1000, 0x2000];

fn extreme_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(i32::MAX as u64),
        Just(u32::MAX as u64),
        Just((1u64 << 61) + 1),
        Just(1u64 << 63),
        Just(i64::MAX as u64),
        Just(u64::MAX - 1),
        Just(u64::MAX),
        any::<u64>(),
        0u64..10_000_000,
    ]
}

fn vp8(layer: usize, seq: u16, ts: u32, pid: u16, key: bool, start: bool, marker: bool) -> Bytes {
    let mut b = vec![0x80, 96 | if marker { 0x80 } else { 0 }];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(&SSRCS[layer].to_be_bytes());
    b.push(0x80 | if start { 0x10 } else { 0 });
    b.push(0xf0);
    b.push(0x80 | (pid >> 8) as u8);
    b.push(pid as u8);
    b.push(1);
    b.push(0x23);
    if start {
        b.push(if key { 0 } else { 1 });
    }
    b.extend_from_slice(&[0x5a; 40]);
    Bytes::from(b)
}

/// Drives a source and a forwarder through keyframes, a layer switch,
/// sender reports, NACKs and keyframe requests at times `times`.
fn drive_simulcast(
    sc: SourceConfig,
    fc: ForwarderConfig,
    rtt: u64,
    ntp: [u64; 2],
    times: [u64; 4],
) {
    let mut source = Source::new(sc, &SSRCS).unwrap();
    source.set_rtt(rtt);
    let mut fwd = Forwarder::new(fc);
    fwd.set_target(Layer::new(0, 2));
    let mut out = vec![0u8; 1500];
    let mut seq = [100u16, 60_000];
    let mut step = 0;
    for frame in 0..12u32 {
        let now = times[(frame / 3) as usize % 4].wrapping_add(u64::from(frame) * 33_000);
        if frame == 4 {
            for (l, ntp) in ntp.iter().enumerate() {
                source.on_sender_report(SSRCS[l], *ntp, 90_000 * frame);
            }
            fwd.set_target(Layer::new(1, 2));
            source.request_keyframe(1);
        }
        for (l, s) in seq.iter_mut().enumerate() {
            let key = frame == 0 || frame == 6;
            for i in 0..2 {
                let pkt = vp8(l, *s, 3000 * frame, frame as u16, key, i == 0, i == 1);
                *s = s.wrapping_add(1);
                if let Ok(p) = source.on_rtp(pkt, now) {
                    let _ = fwd.forward(&p, &mut out, now);
                }
            }
        }
        let _ = source.poll_keyframe_request(now);
        let _ = source.next_keyframe_request_at();
        let _ = fwd.poll_keyframe_request();
        let _ = fwd.retransmit(&source, step, &mut out);
        step = step.wrapping_add(3);
        let bitrates = source.bitrates(now);
        fwd.set_available_bitrate(&bitrates, rtt);
        let _ = source.is_alive(1, now);
    }
}

fn drive_allocator(ac: AllocatorConfig, keyframe_bytes: u64, estimates: [u64; 3], times: [u64; 3]) {
    let mut alloc = Allocator::new(ac, 4);
    let mut bitrates = LayerBitrates::default();
    bitrates.0[0][0] = 150_000;
    bitrates.0[1][0] = 600_000;
    bitrates.0[2][0] = 2_000_000;
    let track = TrackDemand {
        priority: 1,
        max_layer: Layer::new(2, 2),
        bitrates,
        muted: false,
        keyframe_bytes: [keyframe_bytes; 3],
    };
    for (estimate, now) in estimates.into_iter().zip(times) {
        alloc.allocate(estimate, &[track, track], now);
    }
}

/// Runs `f`; on a panic returns its message.
/// An audio jitter buffer with these settings, driven through a gap, NACK
/// polls and retries, pops and wakeups at extreme times.
fn drive_jitter(config: JitterConfig, rtt: u64, times: [u64; 3]) {
    let mut jb = JitterBuffer::new(config);
    jb.set_rtt(rtt);
    let mut seqs = [0i64; 16];
    for (i, seq) in [1u16, 2, 5, 6, 4].into_iter().enumerate() {
        let mut buf = [0u8; 64];
        let payload = [0xf8u8; 20];
        let len = RtpBuilder {
            payload_type: 111,
            sequence_number: seq,
            timestamp: 960 * u32::from(seq),
            ssrc: 9,
            payload: &payload,
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        let now = times[i % 3].saturating_add(i as u64 * 20_000);
        let _ = jb.push(Bytes::copy_from_slice(&buf[..len]), now);
        let n = jb.poll_nacks(now, &mut seqs);
        jb.on_nack_sent(now, &seqs[..n]);
        while jb.pop(now).is_some() {}
        let _ = jb.next_wakeup();
    }
}

fn no_panic(f: impl FnOnce()) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn simulcast_survives_extreme_settings(
        clock_rate in prop_oneof![Just(0u32), Just(1), Just(u32::MAX), Just(90_000)],
        history in prop_oneof![Just(0usize), Just(1), Just(usize::MAX), Just(1usize << 40), Just(usize::MAX / 2 + 2), 1usize..5000],
        inactive in extreme_u64(),
        retry in extreme_u64(),
        skew in extreme_u64(),
        rtt in extreme_u64(),
        ntp in [extreme_u64(), extreme_u64()],
        times in [extreme_u64(), extreme_u64(), extreme_u64(), extreme_u64()],
    ) {
        let sc = SourceConfig {
            clock_rate,
            history_packets: history,
            inactive_after_us: inactive,
            keyframe_retry_min_us: retry,
            ..Default::default()
        };
        let fc = ForwarderConfig {
            ssrc: 7,
            clock_rate,
            history_packets: history,
            max_timestamp_skew_us: skew,
            ..Default::default()
        };
        let r = no_panic(|| drive_simulcast(sc, fc, rtt, ntp, times));
        prop_assert!(r.is_ok(), "{:?}", r);
        if history > MAX_HISTORY_PACKETS {
            prop_assert!(Source::new(sc, &SSRCS).unwrap().config().history_packets <= MAX_HISTORY_PACKETS);
        }
    }

    #[test]
    fn jitter_survives_extreme_settings(
        min in extreme_u64(),
        max in extreme_u64(),
        margin in extreme_u64(),
        initial in extreme_u64(),
        reorder in extreme_u64(),
        delay_rtts in prop_oneof![Just(0.0f64), Just(f64::INFINITY), Just(f64::NAN), Just(1e300), Just(2.0)],
        rtt in extreme_u64(),
        times in [extreme_u64(), extreme_u64(), extreme_u64()],
    ) {
        let mut c = JitterConfig::audio();
        c.delay.min_delay_us = min;
        c.delay.max_delay_us = max;
        c.delay.margin_us = margin;
        c.delay.initial_delay_us = initial;
        c.nack.enabled = true;
        c.nack.reorder_wait_us = reorder;
        c.nack.delay_rtts = delay_rtts;
        let r = no_panic(|| drive_jitter(c, rtt, times));
        prop_assert!(r.is_ok(), "{:?}", r);
    }

    #[test]
    fn allocator_survives_extreme_settings(
        min_change in prop_oneof![Just(0.0f64), Just(f64::INFINITY), Just(f64::NAN), Just(-1.0), Just(0.1)],
        hold in extreme_u64(),
        transfer in extreme_u64(),
        keyframe_bytes in extreme_u64(),
        estimates in [extreme_u64(), extreme_u64(), extreme_u64()],
        times in [extreme_u64(), extreme_u64(), extreme_u64()],
    ) {
        let ac = AllocatorConfig {
            min_change,
            upgrade_hold_us: hold,
            max_keyframe_transfer_us: transfer,
            ..AllocatorConfig::default()
        };
        let r = no_panic(|| drive_allocator(ac, keyframe_bytes, estimates, times));
        prop_assert!(r.is_ok(), "{:?}", r);
    }
}

/// `replay_window` is bounded: 2^32 − 1 does not cost 512 MB per SSRC.
#[test]
fn srtp_replay_window_is_bounded() {
    for window in [
        0usize,
        1,
        64,
        MAX_REPLAY_WINDOW,
        MAX_REPLAY_WINDOW + 1,
        u32::MAX as usize,
        usize::MAX,
    ] {
        let config = Config {
            replay_window: window,
            ..Config::default()
        };
        let mut tx = Srtp::new(Profile::AeadAes128Gcm, &[1; 16], &[2; 12], config).unwrap();
        assert!(tx.config().replay_window <= MAX_REPLAY_WINDOW, "{window}");
        let mut rx = Srtp::new(Profile::AeadAes128Gcm, &[1; 16], &[2; 12], config).unwrap();
        let mut buf = [0u8; 64];
        buf[..12].copy_from_slice(&[0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9]);
        let n = tx.protect_rtp(&mut buf, 20).unwrap();
        assert_eq!(rx.unprotect_rtp(&mut buf[..n]), Ok(20));
    }
}

/// The defaults are valid; each documented range is enforced by `validate`.
#[test]
fn validate_names_the_setting_out_of_range() {
    use rtmedia::audio::mixer::MixerConfig;
    assert_eq!(Config::default().validate(), Ok(()));
    assert_eq!(SourceConfig::default().validate(), Ok(()));
    assert_eq!(ForwarderConfig::default().validate(), Ok(()));
    assert_eq!(AllocatorConfig::default().validate(), Ok(()));
    assert_eq!(MixerConfig::default().validate(), Ok(()));
    let srtp = Config {
        replay_window: u32::MAX as usize,
        ..Config::default()
    };
    assert!(srtp.validate().unwrap_err().contains("replay_window"));
    let source = SourceConfig {
        history_packets: usize::MAX,
        ..SourceConfig::default()
    };
    assert!(source.validate().unwrap_err().contains("history_packets"));
    let fwd = ForwarderConfig {
        clock_rate: 0,
        ..ForwarderConfig::default()
    };
    assert!(fwd.validate().unwrap_err().contains("clock_rate"));
    let alloc = AllocatorConfig {
        min_change: f64::NAN,
        ..AllocatorConfig::default()
    };
    assert!(alloc.validate().unwrap_err().contains("min_change"));
    let mixer = MixerConfig {
        queue_capacity: usize::MAX,
        ..MixerConfig::default()
    };
    assert!(mixer.validate().unwrap_err().contains("queue_capacity"));
    // Out of range is brought into range at new, never a panic.
    let m = rtmedia::audio::mixer::Mixer::new(MixerConfig {
        max_participants: usize::MAX,
        queue_capacity: usize::MAX,
        ..MixerConfig::default()
    })
    .unwrap();
    assert_eq!(m.config().validate(), Ok(()));
}

/// An infinite `min_change` makes a spatial upgrade's headroom the whole
/// `u64` range; adding it to the step's cost overflowed (CI, proptest).
#[test]
fn allocator_infinite_min_change_does_not_overflow() {
    let ac = AllocatorConfig {
        min_change: f64::INFINITY,
        upgrade_hold_us: 0,
        max_keyframe_transfer_us: 2_147_483_647,
        ..AllocatorConfig::default()
    };
    let r = no_panic(|| drive_allocator(ac, 0, [150_000, 2_147_483_647, 0], [0, 0, 0]));
    assert!(r.is_ok(), "{r:?}");
}
