//! Jitter buffer rules, one test each.

use bytes::Bytes;
use rtmedia::codec::Codec;
use rtmedia::jitter::{DelayConfig, Event, JitterBuffer, JitterConfig, Pushed, RtxConfig};
use rtmedia::packet::RtpBuilder;

const SSRC: u32 = 0x1234;

fn rtp(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Bytes {
    let mut buf = vec![0u8; 12 + payload.len()];
    RtpBuilder {
        payload_type: 111,
        sequence_number: seq,
        timestamp: ts,
        ssrc: SSRC,
        marker,
        payload,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    Bytes::from(buf)
}

/// Audio buffer with a fixed 40 ms delay, so release times are predictable.
fn audio(fixed_us: u64) -> JitterBuffer {
    let mut cfg = JitterConfig::audio();
    cfg.delay = DelayConfig {
        fixed_delay_us: Some(fixed_us),
        ..DelayConfig::default()
    };
    JitterBuffer::new(cfg)
}

/// Audio buffer with a fixed delay and RFC 4588 RTX on SSRC 0x9999.
fn audio_with_rtx(fixed_us: u64) -> JitterBuffer {
    let mut cfg = JitterConfig::audio();
    cfg.delay = DelayConfig {
        fixed_delay_us: Some(fixed_us),
        ..DelayConfig::default()
    };
    cfg.rtx = Some(RtxConfig {
        rtx_ssrc: 0x9999,
        media_ssrc: SSRC,
        media_payload_type: 111,
    });
    JitterBuffer::new(cfg)
}

#[derive(Debug, PartialEq)]
enum Out {
    P(i64),
    L(i64, bool),
}

fn drain(jb: &mut JitterBuffer, now: u64) -> Vec<Out> {
    let mut out = vec![];
    while let Some(e) = jb.pop(now) {
        out.push(match e {
            Event::Packet { seq, .. } => Out::P(seq),
            Event::Lost { seq, fec, .. } => Out::L(seq, fec.is_some()),
            Event::Frame { .. } => panic!("audio emits packets"),
        });
    }
    out
}

#[test]
fn reorders_and_releases_at_playout_time() {
    let mut jb = audio(40_000);
    // Packets 0..4 of 20 ms; 1 and 2 swapped.
    jb.push(rtp(100, 0, false, b"a"), 0).unwrap();
    jb.push(rtp(102, 1920, false, b"c"), 40_000).unwrap();
    jb.push(rtp(101, 960, false, b"b"), 41_000).unwrap();
    assert_eq!(drain(&mut jb, 39_999), vec![]);
    assert_eq!(drain(&mut jb, 40_000), vec![Out::P(100)]);
    assert_eq!(jb.next_wakeup(), Some(60_000));
    assert_eq!(drain(&mut jb, 80_000), vec![Out::P(101), Out::P(102)]);
    assert_eq!(jb.stats().jitter_buffer_emitted_count, 3);
}

#[test]
fn duplicates_and_late_packets_are_counted_not_emitted() {
    let mut jb = audio(20_000);
    assert_eq!(jb.push(rtp(1, 0, false, b"a"), 0), Ok(Pushed::Stored));
    assert_eq!(jb.push(rtp(1, 0, false, b"a"), 1), Ok(Pushed::Duplicate));
    jb.push(rtp(3, 1920, false, b"c"), 40_000).unwrap();
    assert_eq!(
        drain(&mut jb, 60_000),
        vec![Out::P(1), Out::L(2, true), Out::P(3)]
    );
    assert_eq!(
        jb.push(rtp(2, 960, false, b"b"), 61_000),
        Ok(Pushed::TooLate)
    );
    assert_eq!(jb.push(rtp(1, 0, false, b"a"), 61_000), Ok(Pushed::TooLate));
    let s = jb.stats();
    assert_eq!(
        (s.packets_duplicated, s.packets_discarded, s.packets_lost),
        (1, 2, 1)
    );
    assert_eq!(s.concealment_events, 1);
}

#[test]
fn a_burst_of_losses_is_one_concealment_event_and_each_loss_reported_once() {
    let mut jb = audio(20_000);
    jb.push(rtp(10, 0, false, b"a"), 0).unwrap();
    jb.push(rtp(14, 4 * 960, false, b"e"), 80_000).unwrap();
    let out = drain(&mut jb, 200_000);
    assert_eq!(
        out,
        vec![
            Out::P(10),
            Out::L(11, false),
            Out::L(12, false),
            Out::L(13, true),
            Out::P(14)
        ]
    );
    assert_eq!(jb.stats().concealment_events, 1);
    assert_eq!(jb.stats().packets_lost, 3);
}

#[test]
fn lost_packets_are_declared_at_their_own_playout_time() {
    let mut jb = audio(20_000);
    jb.push(rtp(0, 0, false, b"a"), 0).unwrap();
    jb.push(rtp(3, 3 * 960, false, b"d"), 60_000).unwrap();
    assert_eq!(drain(&mut jb, 20_000), vec![Out::P(0)]);
    // Seq 1 is due at 40 ms (interpolated timestamp), seq 2 at 60 ms.
    assert_eq!(jb.next_wakeup().map(|t| t >= 40_000 - 5_000), Some(true));
    assert_eq!(drain(&mut jb, 40_000), vec![Out::L(1, false)]);
    assert_eq!(drain(&mut jb, 60_000), vec![Out::L(2, true)]);
    assert_eq!(drain(&mut jb, 80_000), vec![Out::P(3)]);
}

#[test]
fn sequence_and_timestamp_wrap() {
    let mut jb = audio(20_000);
    let mut now = 0;
    let mut seq = 65_530u16;
    let mut ts = u32::MAX - 2 * 960;
    let mut got = vec![];
    for _ in 0..12 {
        jb.push(rtp(seq, ts, false, b"x"), now).unwrap();
        now += 20_000;
        got.extend(drain(&mut jb, now));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(960);
    }
    got.extend(drain(&mut jb, now + 100_000));
    assert_eq!(got.len(), 12);
    assert!(got.iter().all(|o| matches!(o, Out::P(_))));
    let seqs: Vec<i64> = got
        .iter()
        .map(|o| if let Out::P(s) = o { *s } else { 0 })
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
}

#[test]
fn nack_requests_gaps_retries_every_rtt_and_stops_when_too_late() {
    let mut cfg = JitterConfig::audio();
    cfg.delay = DelayConfig {
        fixed_delay_us: Some(300_000),
        ..DelayConfig::default()
    };
    let mut jb = JitterBuffer::new(cfg);
    jb.set_rtt(50_000);
    jb.push(rtp(1, 0, false, b"a"), 0).unwrap();
    jb.push(rtp(4, 3 * 960, false, b"d"), 60_000).unwrap();
    let mut out = [0u16; 16];
    assert_eq!(jb.nack_list(61_000, &mut out), 0, "reorder wait first");
    assert_eq!(jb.nack_list(65_000, &mut out), 2);
    assert_eq!(&out[..2], &[2, 3]);
    assert_eq!(jb.nack_list(100_000, &mut out), 0, "not before one RTT");
    assert_eq!(jb.next_wakeup().map(|t| t <= 115_000), Some(true));
    jb.push(rtp(2, 960, false, b"b"), 110_000).unwrap();
    assert_eq!(jb.nack_list(115_000, &mut out), 1);
    assert_eq!(out[0], 3);
    // Seq 3 plays at 60 ms + 300 ms = 360 ms: a request after 310 ms cannot help.
    assert_eq!(jb.nack_list(320_000, &mut out), 0);
    assert_eq!(jb.stats().nack_count, 2);
}

#[test]
fn rtx_packets_fill_gaps() {
    let mut jb = audio_with_rtx(100_000);
    jb.push(rtp(1, 0, false, b"a"), 0).unwrap();
    jb.push(rtp(3, 1920, false, b"c"), 40_000).unwrap();
    // RTX for seq 2: own seq 500, SSRC 0x9999, payload = OSN + original payload.
    let mut buf = vec![0u8; 15];
    RtpBuilder {
        payload_type: 97,
        sequence_number: 500,
        timestamp: 960,
        ssrc: 0x9999,
        payload: &[0, 2, b'b'],
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    assert_eq!(jb.push(Bytes::from(buf), 60_000), Ok(Pushed::Stored));
    let mut payloads = vec![];
    while let Some(e) = jb.pop(1_000_000) {
        if let Event::Packet { packet, .. } = e {
            payloads.push(packet[12..].to_vec());
        }
    }
    assert_eq!(payloads, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    assert_eq!(jb.stats().retransmitted_packets_received, 1);
}

/// A probe cluster filled with RTX re-sends of recent packets (what an
/// SFU's pacer sends when it probes and has no media queued: libwebrtc and
/// rtmedia's tracks do) brings the receiver a long run of packets it has
/// already played. They are retransmissions, not a sender that restarted
/// its sequence numbers: they never reset the stream (64 of them in a row
/// did, and the next media packet started a new stream; found with
/// examples/c/sfu_loop.c, push result RTM_JITTER_RESET on an RTX packet).
#[test]
fn a_long_run_of_rtx_resends_of_played_packets_does_not_reset() {
    let mut jb = audio_with_rtx(20_000);
    for i in 0..200u16 {
        let at = u64::from(i) * 20_000;
        jb.push(rtp(i, u32::from(i) * 960, false, b"x"), at)
            .unwrap();
        drain(&mut jb, at);
    }
    // 100 RTX re-sends of packets 100..200, all played, within 10 ms.
    let now = 4_000_000;
    assert_eq!(drain(&mut jb, now), vec![Out::P(199)]);
    for k in 0..100u16 {
        let osn = 100 + k;
        let [hi, lo] = osn.to_be_bytes();
        let mut buf = vec![0u8; 15];
        RtpBuilder {
            payload_type: 97,
            sequence_number: 7_000 + k,
            timestamp: u32::from(osn) * 960,
            ssrc: 0x9999,
            payload: &[hi, lo, b'x'],
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        let pushed = jb.push(Bytes::from(buf), now + u64::from(k) * 100);
        assert_eq!(pushed, Ok(Pushed::TooLate), "re-send {k} of seq {osn}");
    }
    assert_eq!(jb.stats().resets, 0);
    // The stream goes on where it was.
    assert_eq!(
        jb.push(rtp(200, 200 * 960, false, b"y"), now + 20_000),
        Ok(Pushed::Stored)
    );
    assert_eq!(drain(&mut jb, now + 100_000), vec![Out::P(200)]);
}

#[test]
fn far_jump_resets_instead_of_growing() {
    let mut jb = audio(20_000);
    jb.push(rtp(1, 0, false, b"a"), 0).unwrap();
    assert_eq!(
        jb.push(rtp(30_000, 960, false, b"b"), 20_000),
        Ok(Pushed::Reset)
    );
    assert!(jb.len() <= 1);
    assert_eq!(jb.stats().resets, 1);
    assert_eq!(drain(&mut jb, 1_000_000), vec![Out::P(30_000)]);
}

#[test]
fn adaptive_delay_tracks_jitter() {
    let mut jb = JitterBuffer::new(JitterConfig::audio());
    let mut rng = rtmedia::sim::Rng::new(5);
    for i in 0..2000u32 {
        let arrival = u64::from(i) * 20_000 + rng.below(30_001);
        jb.push(rtp(i as u16, i * 960, false, b"x"), arrival)
            .unwrap();
        while jb.pop(arrival).is_some() {}
    }
    let t = jb.target_delay_us();
    assert!((26_000..=36_000).contains(&t), "target {t}");
}

fn vp8(seq: u16, ts: u32, marker: bool, start: bool, key: bool) -> Bytes {
    // Descriptor: S bit on the first packet of a frame; VP8 header P bit = !key.
    let payload = [
        if start { 0x10 } else { 0x00 },
        if key { 0x00 } else { 0x01 },
        0xaa,
    ];
    rtp(seq, ts, marker, &payload)
}

fn video() -> JitterBuffer {
    let mut cfg = JitterConfig::video(Codec::Vp8);
    cfg.delay = DelayConfig {
        fixed_delay_us: Some(50_000),
        ..DelayConfig::default()
    };
    JitterBuffer::new(cfg)
}

fn frames(jb: &mut JitterBuffer, now: u64) -> Vec<(i64, usize, bool)> {
    let mut out = vec![];
    while let Some(e) = jb.pop(now) {
        if let Event::Frame {
            first_seq,
            packets,
            keyframe,
            ..
        } = e
        {
            out.push((first_seq, packets.len(), keyframe));
        }
    }
    out
}

#[test]
fn video_releases_complete_frames_in_order() {
    let mut jb = video();
    jb.push(vp8(10, 0, false, true, true), 0).unwrap();
    jb.push(vp8(12, 0, true, false, true), 1_000).unwrap();
    jb.push(vp8(13, 3000, true, true, false), 33_000).unwrap();
    assert_eq!(frames(&mut jb, 40_000), vec![], "frame 1 has a hole");
    jb.push(vp8(11, 0, false, false, true), 41_000).unwrap();
    assert_eq!(
        frames(&mut jb, 120_000),
        vec![(10, 3, true), (13, 1, false)]
    );
    assert_eq!(jb.stats().key_frames_decoded, 1);
}

#[test]
fn unrecoverable_frame_skips_to_the_keyframe_behind_it_without_a_request() {
    let mut jb = video();
    jb.push(vp8(1, 0, true, true, true), 0).unwrap();
    // Frame at 3000 loses its first packet; the next delta frames depend on it.
    jb.push(vp8(3, 3000, true, false, false), 33_000).unwrap();
    jb.push(vp8(4, 6000, true, true, false), 66_000).unwrap();
    jb.push(vp8(5, 9000, true, true, true), 100_000).unwrap();
    let got = frames(&mut jb, 1_000_000);
    assert_eq!(got, vec![(1, 1, true), (5, 1, true)]);
    assert!(!jb.take_keyframe_request(), "the keyframe is already here");
    let s = jb.stats();
    assert_eq!(s.frames_dropped, 2);
    assert_eq!(s.keyframe_requests, 0);
    assert_eq!(s.packets_lost, 1);
}

/// A loss burst on a slow, queued link (conference seed 40, the mobile
/// dip: a round trip of ~600 ms): the first packet of a frame and the last
/// of every other frame after it are lost for good, then a complete
/// keyframe arrives (the answer to an earlier request), more than eight
/// frames behind the gap. The keyframe is released when it is due, not
/// after the incomplete frames before it have had their retransmission
/// waits (a round trip each and more: there it was held 1.2 s, a 1.8 s
/// freeze).
#[test]
fn a_keyframe_many_frames_behind_a_gap_is_released_when_due() {
    let mut cfg = JitterConfig::video(Codec::Vp8);
    cfg.delay = DelayConfig {
        fixed_delay_us: Some(50_000),
        ..DelayConfig::default()
    };
    cfg.nack.enabled = true;
    let mut jb = JitterBuffer::new(cfg);
    jb.set_rtt(600_000);
    // (arrival, packet): a keyframe; seq 2 (frame 1's first packet) lost;
    // frames 1..=16 of two packets, every other one losing its second; the
    // keyframe of frame 17, three packets, all here.
    let mut arrivals = vec![(0, vp8(1, 0, true, true, true))];
    let mut seq = 2u16;
    for frame in 1..=16u32 {
        let at = u64::from(frame) * 33_000;
        let ts = frame * 3000;
        if frame != 1 {
            arrivals.push((at, vp8(seq, ts, false, true, false)));
        }
        if frame % 2 != 0 {
            arrivals.push((at, vp8(seq + 1, ts, true, false, false)));
        }
        seq += 2;
    }
    let key_at = 17 * 33_000;
    for k in 0..3u16 {
        arrivals.push((key_at, vp8(seq + k, 17 * 3000, k == 2, k == 0, true)));
    }
    let mut next = 0;
    let mut released = None;
    let mut now = 0;
    while now < 5_000_000 && released.is_none() {
        while next < arrivals.len() && arrivals[next].0 <= now {
            jb.push(arrivals[next].1.clone(), now).unwrap();
            next += 1;
        }
        if frames(&mut jb, now).iter().any(|f| f.0 == i64::from(seq)) {
            released = Some(now);
        }
        let mut lost = [0u16; 64];
        jb.nack_list(now, &mut lost); // asked for, never answered
        now += 5_000;
    }
    let released = released.expect("the keyframe is released");
    // Due at its media time + 50 ms (the lost packets were noticed long
    // before: no reorder wait left).
    assert!(
        released <= key_at + 50_000 + 5_000,
        "keyframe in at {} ms, released at {} ms",
        key_at / 1000,
        released / 1000
    );
}

#[test]
fn unrecoverable_frame_waits_for_a_keyframe_and_requests_one() {
    let mut jb = video();
    jb.push(vp8(1, 0, true, true, true), 0).unwrap();
    // Frame at 3000 loses its first packet; the next delta frames depend on it.
    jb.push(vp8(3, 3000, true, false, false), 33_000).unwrap();
    jb.push(vp8(4, 6000, true, true, false), 66_000).unwrap();
    let got = frames(&mut jb, 1_000_000);
    assert_eq!(got, vec![(1, 1, true)]);
    jb.push(vp8(5, 9000, true, true, false), 1_000_000).unwrap();
    assert_eq!(
        frames(&mut jb, 1_100_000),
        vec![],
        "a delta frame after the loss"
    );
    jb.push(vp8(6, 12000, true, true, true), 1_100_000).unwrap();
    assert_eq!(frames(&mut jb, 1_200_000), vec![(6, 1, true)]);
    assert!(jb.take_keyframe_request());
    assert!(!jb.take_keyframe_request());
    let s = jb.stats();
    assert_eq!(s.frames_dropped, 3);
    assert_eq!(s.keyframe_requests, 1, "rate-limited to one per interval");
    assert_eq!(s.packets_lost, 1);
}

fn padding_packet(seq: u16, ts: u32) -> Bytes {
    // Padding bit set, no payload: 12-byte header then 200 bytes of padding.
    let mut buf = vec![0u8; 212];
    RtpBuilder {
        payload_type: 96,
        sequence_number: seq,
        timestamp: ts,
        ssrc: SSRC,
        padding: 200,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    Bytes::from(buf)
}

#[test]
fn padding_only_packets_neither_freeze_video_nor_count_as_frames() {
    let mut jb = video();
    jb.push(vp8(1, 0, true, true, true), 0).unwrap();
    jb.push(padding_packet(2, 0), 1_000).unwrap();
    jb.push(vp8(3, 3000, true, true, false), 33_000).unwrap();
    jb.push(vp8(4, 6000, true, true, false), 66_000).unwrap();
    assert_eq!(
        frames(&mut jb, 1_000_000),
        vec![(1, 1, true), (3, 1, false), (4, 1, false)]
    );
    assert!(!jb.take_keyframe_request());
    let s = jb.stats();
    assert_eq!(
        (s.frames_dropped, s.frames_decoded, s.packets_lost),
        (0, 3, 0)
    );
}

#[test]
fn next_wakeup_does_not_point_at_a_useless_nack() {
    let mut jb = audio(40_000);
    jb.set_rtt(100_000);
    jb.push(rtp(10, 960, false, b"a"), 1_000_000).unwrap();
    jb.push(rtp(12, 2880, false, b"c"), 1_040_000).unwrap();
    while jb.pop(1_040_000).is_some() {}
    // The gap plays at 1.06 s; a NACK answered one RTT later cannot help,
    // so the next thing to do is declaring it lost.
    let wake = jb.next_wakeup().unwrap();
    assert!(wake >= 1_059_000, "wakeup {wake}");
    let mut out = [0u16; 4];
    assert_eq!(jb.nack_list(wake, &mut out), 0);
}

#[test]
fn a_short_nack_list_keeps_the_oldest_gaps() {
    let mut jb = audio(1_000_000);
    jb.push(rtp(100, 0, false, b"a"), 0).unwrap();
    jb.push(rtp(110, 10 * 960, false, b"b"), 1_000).unwrap();
    let mut out = [0u16; 3];
    assert_eq!(jb.nack_list(10_000, &mut out), 3);
    assert_eq!(out, [101, 102, 103]);
    let mut rest = [0u16; 16];
    assert_eq!(
        jb.nack_list(10_001, &mut rest),
        6,
        "the others are still due"
    );
    assert_eq!(&rest[..6], &[104, 105, 106, 107, 108, 109]);
}

#[test]
fn a_released_frame_is_let_go_at_the_next_pop() {
    let mut jb = video();
    let packet = vp8(1, 0, true, true, true);
    jb.push(packet.clone(), 0).unwrap();
    assert_eq!(frames(&mut jb, 100_000).len(), 1);
    assert!(jb.pop(100_000).is_none());
    assert!(packet.is_unique(), "the buffer still holds the frame");
}

#[test]
fn padding_only_rtx_probes_are_ignored() {
    let mut cfg = JitterConfig::audio();
    cfg.rtx = Some(RtxConfig {
        rtx_ssrc: 0x9999,
        media_ssrc: SSRC,
        media_payload_type: 111,
    });
    let mut jb = JitterBuffer::new(cfg);
    let mut buf = vec![0u8; 112];
    RtpBuilder {
        payload_type: 97,
        sequence_number: 5,
        ssrc: 0x9999,
        padding: 100,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    assert_eq!(jb.push(Bytes::from(buf), 0), Ok(Pushed::Ignored));
    assert!(jb.is_empty());
}

/// A video buffer after 3 s of frames whose delay grows steadily (a queue
/// filling: later, never reordered), then a 5-packet frame (`key` or not)
/// whose middle packet is missing. Returns the buffer, when the gap was
/// noticed, and the missing sequence number.
fn queue_then_frame_with_a_hole(key: bool) -> (JitterBuffer, u64, i64) {
    queue_then_frame_missing(key, 182)
}

fn queue_then_frame_missing(key: bool, missing: u16) -> (JitterBuffer, u64, i64) {
    let mut jb = JitterBuffer::new(JitterConfig::video(Codec::Vp8));
    jb.set_rtt(40_000);
    let mut now = 0;
    for i in 0..90u16 {
        let sent = u64::from(i) * 33_333;
        now = sent + 20_000 + u64::from(i) * 1_000;
        let ts = u32::from(i) * 3000;
        jb.push(vp8(2 * i, ts, false, true, i == 0), now).unwrap();
        jb.push(vp8(2 * i + 1, ts, true, false, i == 0), now + 1_000)
            .unwrap();
        while jb.pop(now + 1_000).is_some() {}
    }
    assert!(jb.target_delay_us() >= 50_000, "the queue is measured");
    let (ts, start) = (90 * 3000, now + 33_333);
    let mut noticed = 0;
    for (k, seq) in (180u16..=184).filter(|&s| s != missing).enumerate() {
        let at = start + k as u64 * 1_000;
        jb.push(vp8(seq, ts, seq == 184, seq == 180, key), at)
            .unwrap();
        if seq == missing + 1 {
            noticed = at;
        }
    }
    if missing == 184 {
        // The next frame shows the keyframe's tail missing.
        noticed = start + 33_333;
        jb.push(vp8(185, ts + 3000, true, true, false), noticed)
            .unwrap();
    }
    (jb, noticed, i64::from(missing))
}

#[test]
fn a_keyframe_hole_is_requested_after_the_reordering_seen_not_the_queueing() {
    let (jb, noticed, missing) = queue_then_frame_with_a_hole(true);
    let mut out = [0i64; 16];
    let n = jb.poll_nacks(noticed + 15_000, &mut out);
    assert_eq!(&out[..n], &[missing], "a keyframe's packet: ask at once");
    // A delta frame's too: 180 packets in order show a path that does not
    // reorder, and the queue's growth is no reordering (before, the delay
    // spread stayed the wait until 20 packets had come reordered).
    let (jb, noticed, missing) = queue_then_frame_with_a_hole(false);
    let n = jb.poll_nacks(noticed + 15_000, &mut out);
    assert_eq!(&out[..n], &[missing], "a delta frame's packet");
    // The keyframe's last packet: the gap is seen at the next frame.
    let (jb, noticed, missing) = queue_then_frame_missing(true, 184);
    let n = jb.poll_nacks(noticed + 15_000, &mut out);
    assert_eq!(&out[..n], &[missing], "a keyframe's tail");
}

/// Video over a path whose queue grows slowly (delay 20 → 140 ms over 4 s:
/// later, never reordered) while each frame's second packet comes 5 ms
/// after its third (reordering the buffer measures). A delta frame's lost
/// packet is asked for after the reordering seen and the short-term
/// spread, not after the whole delay spread the queue built (before: the
/// delay percentile, ~120 ms, was a floor for video for good).
#[test]
fn a_video_gap_is_requested_after_the_reordering_seen_not_the_queue_growth() {
    let mut jb = JitterBuffer::new(JitterConfig::video(Codec::Vp8));
    jb.set_rtt(40_000);
    let mut seq = 0u16;
    let mut last = 0;
    for i in 0..120u64 {
        let sent = i * 33_333;
        let delay = 20_000 + i * 1_000;
        let ts = (i * 3000) as u32;
        // Packets 0, 2, 1, 3 of the frame, 1 ms apart, packet 1 5 ms late.
        for (k, late) in [(0u16, 0u64), (2, 1_000), (1, 6_000), (3, 7_000)] {
            let at = sent + delay + late;
            jb.push(vp8(seq + k, ts, k == 3, k == 0, i == 0), at)
                .unwrap();
            while jb.pop(at).is_some() {}
        }
        seq += 4;
        last = sent + delay + 7_000;
    }
    assert!(
        jb.target_delay_us() >= 100_000,
        "the queue growth is measured"
    );
    let wait = jb.reorder_wait_us();
    assert!((6_000..=30_000).contains(&wait), "wait {wait} us");
    // A frame whose second packet is lost.
    let (sent, ts) = (120 * 33_333, 120 * 3000);
    let at = sent + 140_000;
    assert!(at > last);
    jb.push(vp8(seq, ts, false, true, false), at).unwrap();
    jb.push(vp8(seq + 2, ts, false, false, false), at + 1_000)
        .unwrap();
    jb.push(vp8(seq + 3, ts, true, false, false), at + 2_000)
        .unwrap();
    let noticed = at + 1_000;
    let mut out = [0i64; 16];
    assert_eq!(
        jb.poll_nacks(noticed + 5_000, &mut out),
        0,
        "reordering's time"
    );
    let n = jb.poll_nacks(noticed + 30_000, &mut out);
    assert_eq!(&out[..n], &[i64::from(seq) + 1]);
}

/// Video over a steady path (20 ms, no jitter) losing one packet every
/// second, RTT 100 ms: with the retransmission reserve on, the third NACK
/// puts the round trip into the target delay (rising at the video limit,
/// 100 ms/s), and 60 s without a NACK takes it out again; off (the
/// default), the target follows the jitter only.
#[test]
fn the_retransmission_reserve_keeps_a_round_trip_once_nacks_are_needed() {
    let run = |reserve: bool| {
        let mut jb = JitterBuffer::new(JitterConfig::video(Codec::Vp8));
        jb.set_rtt(100_000);
        jb.set_retransmission_reserve(reserve);
        let mut targets = Vec::new();
        let mut out = [0i64; 16];
        for i in 0..2_400u64 {
            let (sent, ts) = (i * 33_333, (i * 3000) as u32);
            let at = sent + 20_000;
            let seq = (2 * i) as u16;
            jb.push(vp8(seq, ts, false, true, i == 0), at).unwrap();
            // One packet a second lost for the first 4 s.
            if i % 30 != 15 || i > 120 {
                jb.push(vp8(seq.wrapping_add(1), ts, true, false, false), at + 1_000)
                    .unwrap();
            }
            let n = jb.poll_nacks(at + 1_000, &mut out);
            jb.on_nack_sent(at + 1_000, &out[..n]);
            while jb.pop(at + 1_000).is_some() {}
            targets.push(jb.target_delay_us());
        }
        targets
    };
    let on = run(true);
    let off = run(false);
    // 4 s: three NACKs (at 0.5, 1.5, 2.5 s) and 1.5 s of rising.
    assert!(off[120] < 20_000, "off: {} us", off[120]);
    assert!(on[120] >= 100_000, "on: {} us", on[120]);
    // 60 s after the last NACK (3.5 s) the reserve goes; the target then
    // falls at 20 ms/s.
    assert!(on[60 * 30] >= 100_000, "still on: {} us", on[60 * 30]);
    assert!(on[2_399] < 20_000, "after 60 s: {} us", on[2_399]);
}
