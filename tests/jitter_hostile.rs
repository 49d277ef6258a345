//! Hostile sequence numbers (issue 19, item 4): a push that resets the
//! buffer or opens a far gap leaves a buffer that works. What these cost
//! (in proportion to the packets held, not to the capacity) is measured
//! against clean pushes by `cargo bench --bench jitter_hostile`: speed
//! targets live in benches, not in timed tests.

use bytes::Bytes;
use rtmedia::jitter::{Event, JitterBuffer, JitterConfig, Pushed};
use rtmedia::packet::RtpBuilder;

fn rtp(seq: u16, ts: u32) -> Bytes {
    let mut buf = vec![0u8; 13];
    RtpBuilder {
        payload_type: 111,
        sequence_number: seq,
        timestamp: ts,
        ssrc: 7,
        payload: b"a",
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    Bytes::from(buf)
}

/// An audio buffer with NACK and a fixed 200 ms delay (room for a
/// retransmission over the 20 ms round trip).
fn buffer(capacity: usize) -> JitterBuffer {
    let mut config = JitterConfig::audio();
    config.capacity_packets = capacity;
    config.nack.enabled = true;
    config.delay.fixed_delay_us = Some(200_000);
    let mut jb = JitterBuffer::new(config);
    jb.set_rtt(20_000);
    jb
}

/// Sequence numbers of the packets released by `now`.
fn released(jb: &mut JitterBuffer, now: u64) -> Vec<u16> {
    let mut out = Vec::new();
    while let Some(e) = jb.pop(now) {
        if let Event::Packet { seq, .. } = e {
            out.push(seq as u16);
        }
    }
    out
}

#[test]
fn a_reset_starts_the_new_stream_and_plays_it() {
    let mut jb = buffer(16_384);
    // Every slot written, the old stream still held.
    for seq in 0..16_384u16 {
        jb.push(rtp(seq, u32::from(seq) * 960), 0).unwrap();
    }
    let mut now = 20_000;
    let mut seq = 0u16;
    for round in 0..50 {
        seq = seq.wrapping_add(30_000);
        let ts = u32::from(seq) * 960;
        assert_eq!(
            jb.push(rtp(seq, ts), now).unwrap(),
            Pushed::Reset,
            "round {round}: a jump beyond the window resets"
        );
        for k in 1..=3u16 {
            let s = seq.wrapping_add(k);
            let pushed = jb.push(rtp(s, ts + 960 * u32::from(k)), now).unwrap();
            assert_eq!(pushed, Pushed::Stored, "round {round}");
        }
        now += 2_000_000;
        let out = released(&mut jb, now);
        let want: Vec<u16> = (0..=3).map(|k| seq.wrapping_add(k)).collect();
        assert_eq!(
            out, want,
            "round {round}: the new stream plays, the old is gone"
        );
    }
}

#[test]
fn a_far_gap_keeps_nack_lists_to_the_newest_sequence_numbers() {
    let mut jb = buffer(65_536);
    let mut now = 1_000_000u64;
    for seq in 0..100u16 {
        jb.push(rtp(seq, u32::from(seq) * 960), now).unwrap();
        now += 20_000;
    }
    // 20,001 sequence numbers on, 20 ms of media later: a sender (or an
    // attacker) that skipped numbers, not time.
    let far = 99u16 + 20_001;
    let far_ts = 100 * 960;
    assert_eq!(jb.push(rtp(far, far_ts), now).unwrap(), Pushed::Stored);
    let mut out = [0u16; 64];
    let mut asked = Vec::new();
    for _ in 0..20 {
        now += 10_000;
        let n = jb.nack_list(now, &mut out);
        asked.extend_from_slice(&out[..n]);
    }
    assert!(!asked.is_empty(), "the gap is requested");
    // Only the newest 1,024 sequence numbers below the far packet.
    for &s in &asked {
        let behind = far.wrapping_sub(s);
        assert!(
            (1..=1_024).contains(&behind),
            "asked for {s}, {behind} behind"
        );
    }
    // And the stream goes on after the gap.
    jb.push(rtp(far + 1, u32::from(far + 1) * 960), now)
        .unwrap();
    now += 2_000_000;
    let out = released(&mut jb, now);
    assert!(
        out.ends_with(&[far, far + 1]),
        "{:?}",
        &out[out.len().saturating_sub(4)..]
    );
}
