//! The mixer's hot paths allocate nothing: a counting global allocator
//! (the pattern of `tests/alloc_free.rs`) counts this thread's heap
//! allocations while participants push and the mixer ticks, in a room with
//! what the field sends (no level extension, DTX, CELT-only, losses and a
//! loss burst, taps read with `take_taps`).

use bytes::Bytes;
use rtmedia::audio::mixer::{Mixer, MixerConfig};
use rtmedia::audio::FRAME_SAMPLES;
use rtmedia::packet::RtpBuilder;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

const PARTICIPANTS: u32 = 12;
const TICKS: usize = 500;

/// Real Opus packets for every participant and tick, made before counting
/// (each already shared, so a clone is a reference count).
fn packets() -> Vec<Vec<Bytes>> {
    (0..PARTICIPANTS)
        .map(|i| {
            let app = if i % 3 == 2 {
                opus::Application::LowDelay
            } else {
                opus::Application::Voip
            };
            let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, app).unwrap();
            enc.set_dtx(i % 3 == 1).unwrap();
            enc.set_inband_fec(i % 2 == 0).unwrap();
            enc.set_packet_loss_perc(10).unwrap();
            let amplitude = if i < 4 { 0.3 } else { 0.0003 };
            (0..TICKS)
                .map(|t| {
                    let pcm: [f32; FRAME_SAMPLES] = core::array::from_fn(|k| {
                        let n = (t * FRAME_SAMPLES + k) as f32;
                        amplitude * (n * 0.02 * (i + 1) as f32).sin()
                    });
                    let mut payload = [0u8; 400];
                    let n = enc.encode_float(&pcm, &mut payload).unwrap();
                    let mut buf = vec![0u8; 1500];
                    let len = RtpBuilder {
                        payload_type: 111,
                        sequence_number: t as u16,
                        timestamp: (t * FRAME_SAMPLES) as u32,
                        ssrc: 0x100 + i,
                        payload: &payload[..n],
                        ..Default::default()
                    }
                    .write_into(&mut buf)
                    .unwrap();
                    buf.truncate(len);
                    let b = Bytes::from(buf);
                    drop(b.clone()); // shared storage now
                    b
                })
                .collect()
        })
        .collect()
}

#[test]
fn pushes_and_ticks_allocate_nothing_with_field_inputs() {
    let mut mixer = Mixer::new(MixerConfig {
        max_participants: 16,
        audio_level_ext_id: None,
        ..MixerConfig::default()
    })
    .unwrap();
    let inputs: Vec<_> = (0..PARTICIPANTS)
        .map(|i| {
            mixer
                .add_participant(i, 0x100 + i, 0x900 + i, i < 2)
                .unwrap()
        })
        .collect();
    let packets = packets();
    let mut out = [0u8; 1500];
    let mut run = |range: std::ops::Range<usize>, mixer: &mut Mixer| {
        let (mut bytes, mut taps) = (0, 0);
        for t in range {
            let now = t as u64 * 20_000;
            for (i, input) in inputs.iter().enumerate() {
                // Random-ish losses, and a 3-packet burst on participant 1.
                let lost = (t * 7 + i * 13) % 29 == 0 || (i == 1 && t % 100 < 3);
                if !lost {
                    assert!(input.push(packets[i][t].clone(), now));
                }
            }
            let tick = mixer.tick(now + 5_000);
            for p in tick.packets() {
                bytes += tick.write_rtp(p, &mut out).unwrap();
            }
            // Taps read every other tick, all at once.
            if t % 2 == 0 {
                taps += mixer.take_taps().map(|f| f.pcm.len()).sum::<usize>();
            }
        }
        (bytes, taps)
    };
    run(0..150, &mut mixer);
    let before = mixer.stats();
    let mut result = (0, 0);
    let n = allocations_in(|| result = run(150..TICKS, &mut mixer));
    let s = mixer.stats();
    println!("{s:?}");
    assert_eq!(n, 0, "allocations per push and tick");
    assert!(result.0 > 0 && result.1 > 0);
    assert!(
        s.concealed_frames > before.concealed_frames,
        "losses were concealed"
    );
    assert!(s.silent_skips > before.silent_skips, "silence was detected");
}

/// Taps that wait for retransmissions (`with_retransmitted_taps`): the
/// second jitter buffer and decoder, the NACK polling and the
/// retransmissions allocate nothing either.
#[test]
fn retransmitted_taps_and_their_nacks_allocate_nothing() {
    let mut mixer = Mixer::new(
        MixerConfig {
            max_participants: 16,
            audio_level_ext_id: None,
            ..MixerConfig::default()
        }
        .with_retransmitted_taps(),
    )
    .unwrap();
    let inputs: Vec<_> = (0..PARTICIPANTS)
        .map(|i| {
            let input = mixer
                .add_participant(i, 0x100 + i, 0x900 + i, i < 4)
                .unwrap();
            mixer.set_rtt(i, 60_000).unwrap();
            input
        })
        .collect();
    let packets = packets();
    let mut nacks = [0i64; 64];
    // (due tick, participant, packet index) of retransmissions on their way.
    let mut pending: Vec<(usize, usize, usize)> = Vec::with_capacity(4096);
    let mut run = |range: std::ops::Range<usize>, mixer: &mut Mixer| {
        let (mut requested, mut taps) = (0, 0);
        for t in range {
            let now = t as u64 * 20_000;
            for (i, input) in inputs.iter().enumerate() {
                let lost = (t * 7 + i * 13) % 29 == 0 || (i == 1 && t % 100 < 3);
                if !lost {
                    assert!(input.push(packets[i][t].clone(), now));
                }
            }
            pending.retain(|&(due, i, k)| {
                if due <= t {
                    assert!(inputs[i].push(packets[i][k].clone(), now + 1_000));
                }
                due > t
            });
            mixer.tick(now + 5_000);
            taps += mixer.take_taps().map(|f| f.pcm.len()).sum::<usize>();
            for i in 0..PARTICIPANTS {
                let n = mixer.poll_nacks(i, now + 5_000, &mut nacks).unwrap();
                for &seq in &nacks[..n] {
                    pending.push((t + 3, i as usize, seq as usize));
                }
                requested += n;
                mixer.on_nack_sent(i, now + 5_000, &nacks[..n]).unwrap();
            }
        }
        (requested, taps)
    };
    run(0..150, &mut mixer);
    let mut result = (0, 0);
    let n = allocations_in(|| result = run(150..TICKS, &mut mixer));
    assert_eq!(n, 0, "allocations per push, tick and NACK");
    assert!(result.0 > 10 && result.1 > 0, "{result:?}");
}
