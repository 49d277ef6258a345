//! Taps for transcription (issue 15, defect 5): every tap frame of a tick
//! in one call, and a consumer that falls behind is told.

use bytes::Bytes;
use rtmedia::audio::mixer::{Mixer, MixerConfig, TAP_QUEUE_TICKS};
use rtmedia::audio::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};

#[path = "support/opus_rtp.rs"]
mod opus_rtp;
use opus_rtp::opus_rtp;

fn packet(encoder: &mut opus::Encoder, ssrc: u32, t: usize, hz: f32) -> Bytes {
    let pcm: [f32; FRAME_SAMPLES] = core::array::from_fn(|i| {
        let x = (t * FRAME_SAMPLES + i) as f32 / 48_000.0;
        0.3 * (2.0 * std::f32::consts::PI * hz * x).sin()
    });
    let mut payload = [0u8; 400];
    let n = encoder.encode_float(&pcm, &mut payload).unwrap();
    opus_rtp(
        t as u16,
        (t * FRAME_SAMPLES) as u32,
        ssrc,
        None,
        &payload[..n],
    )
}

#[test]
fn all_taps_of_a_tick_in_one_call_and_a_late_consumer_is_told() {
    let mut mixer = Mixer::new(MixerConfig {
        max_participants: 8,
        audio_level_ext_id: None,
        ..MixerConfig::default()
    })
    .unwrap();
    let ids = [7u32, 3, 11];
    let inputs: Vec<_> = ids
        .iter()
        .map(|&id| {
            mixer
                .add_participant(id, 0x100 + id, 0x900 + id, id != 11)
                .unwrap()
        })
        .collect();
    let mut encoders: Vec<_> = ids
        .iter()
        .map(|_| opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap())
        .collect();
    let mut t = 0;
    let mut tick = |mixer: &mut Mixer| {
        for (k, input) in inputs.iter().enumerate() {
            let p = packet(
                &mut encoders[k],
                0x100 + ids[k],
                t,
                300.0 + 200.0 * k as f32,
            );
            // false once the participant is removed.
            input.push(p, t as u64 * 20_000);
        }
        mixer.tick(t as u64 * 20_000 + 5_000);
        t += 1;
    };
    // A consumer reading after every tick: one frame per tapped participant.
    for n in 0..20 {
        tick(&mut mixer);
        let taps = mixer.take_taps();
        assert_eq!(taps.dropped(), 0);
        let frames: Vec<_> = taps.map(|f| (f.participant, f.media_time)).collect();
        let at = n as i64 * TAP_FRAME_SAMPLES as i64;
        let expected: Vec<u32> = vec![7, 3];
        assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), expected);
        assert!(
            frames.iter().all(|f| f.1 == frames[0].1),
            "one media time per tick"
        );
        // Stamped on the mixer's clock: one tap frame per tick, the
        // decimator's few samples of delay removed.
        assert!((at - TAP_FRAME_SAMPLES as i64..=at).contains(&frames[0].1));
    }
    // The consumer stalls for 60 ticks: 10 ticks' frames are lost, and it is told.
    let stall = TAP_QUEUE_TICKS + 10;
    for _ in 0..stall {
        tick(&mut mixer);
    }
    let first = mixer.take_taps_max(3);
    assert_eq!(
        first.dropped(),
        2 * 10,
        "two tapped participants, ten ticks"
    );
    assert_eq!(first.len(), 3);
    let mut times: Vec<i64> = first.map(|f| f.media_time).collect();
    let taps = mixer.take_taps();
    assert_eq!(taps.dropped(), 0, "told once");
    assert_eq!(taps.len(), 2 * TAP_QUEUE_TICKS - 3);
    times.extend(taps.map(|f| f.media_time));
    assert!(times.windows(2).all(|w| w[1] >= w[0]), "oldest tick first");
    assert_eq!(mixer.stats().tap_frames_dropped, 20);
    // Told once: the next call starts clean.
    tick(&mut mixer);
    let taps = mixer.take_taps();
    assert_eq!((taps.dropped(), taps.len()), (0, 2));
    drop(taps);
    // The per-participant pull still works, and a removed tapped participant
    // no longer counts.
    tick(&mut mixer);
    assert_eq!(mixer.take_tap_frame(3).map(|f| f.participant), Some(3));
    assert!(mixer.take_tap_frame(3).is_none());
    mixer.remove_participant(7).unwrap();
    tick(&mut mixer);
    let taps: Vec<u32> = mixer.take_taps().map(|f| f.participant).collect();
    assert_eq!(taps, vec![7, 3]);
    tick(&mut mixer);
    let taps: Vec<u32> = mixer.take_taps().map(|f| f.participant).collect();
    assert_eq!(taps, vec![3]);
}
