use super::*;

fn packet(len: usize) -> Bytes {
    Bytes::from(vec![0u8; len])
}

/// Polls until the pacer waits with nothing queued or `until` passes,
/// jumping to each wakeup: every send with its time.
fn drain(p: &mut Pacer, mut now: u64, until: u64) -> Vec<(u64, PacerOutput)> {
    let mut out = Vec::new();
    while now <= until {
        match p.poll(now) {
            PacerOutput::Wait(None) => break,
            PacerOutput::Wait(Some(at)) => {
                assert!(at > now, "a wakeup in the future ({at} at {now})");
                now = at;
            }
            o => out.push((now, o)),
        }
    }
    out
}

fn sent(o: &PacerOutput) -> Option<&PacedPacket> {
    match o {
        PacerOutput::Send(p) => Some(p),
        _ => None,
    }
}

#[test]
fn a_keyframe_burst_leaves_at_the_pacing_rate_in_bounded_bursts() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(400_000); // pacing 1 Mbit/s
                                   // Idle for a second first: idle time is not saved up as budget.
    assert!(matches!(p.poll(0), PacerOutput::Wait(None)));
    let start = 1_000_000;
    for i in 0..100 {
        p.push(start, 1, PacketClass::Video, packet(1200), i == 0)
            .unwrap();
    }
    let out = drain(&mut p, start, 10_000_000);
    assert_eq!(out.len(), 100);
    // 100 x 1200 B at 1 Mbit/s: 960 ms, less the one burst allowed.
    let took = out.last().unwrap().0 - start;
    assert!((945_000..=975_000).contains(&took), "took {took} µs");
    // No 5 ms window carries more than the saved budget (5 ms worth), what
    // the window itself earns, and the one packet that may overdraw.
    let burst = 2.0 * 1_000_000.0 * 5e-3 / 8.0 + 1200.0;
    for (i, (t, _)) in out.iter().enumerate() {
        let bytes: usize = out[i..].iter().take_while(|(u, _)| *u < t + 5_000).count() * 1200;
        assert!(bytes as f64 <= burst, "{bytes} B within 5 ms from {t}");
    }
}

#[test]
fn audio_and_retransmissions_overtake_a_keyframe() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(400_000);
    for _ in 0..50 {
        p.push(0, 1, PacketClass::Video, packet(1200), false)
            .unwrap();
    }
    // Sent a few, then audio and a retransmission arrive behind 45 packets.
    let first = drain(&mut p, 0, 20_000);
    let t = first.last().unwrap().0 + 1;
    p.push(t, 2, PacketClass::Audio, packet(100), false)
        .unwrap();
    p.push(t, 1, PacketClass::Retransmission, packet(1200), false)
        .unwrap();
    let out = drain(&mut p, t, 10_000_000);
    let classes: Vec<_> = out
        .iter()
        .filter_map(|(_, o)| sent(o))
        .map(|s| s.class)
        .collect();
    assert_eq!(classes[0], PacketClass::Audio);
    assert_eq!(classes[1], PacketClass::Retransmission);
    let audio = out
        .iter()
        .filter_map(|(_, o)| sent(o))
        .find(|s| s.class == PacketClass::Audio)
        .unwrap();
    assert_eq!(audio.queued_us, 0, "audio is not held by the budget");
    let rtx = out
        .iter()
        .filter_map(|(_, o)| sent(o))
        .find(|s| s.class == PacketClass::Retransmission)
        .unwrap();
    assert!(
        rtx.queued_us <= 15_000,
        "retransmission waited {} µs",
        rtx.queued_us
    );
}

#[test]
fn streams_of_a_class_take_turns() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(400_000);
    for _ in 0..30 {
        p.push(0, 0xa, PacketClass::Video, packet(1200), false)
            .unwrap();
    }
    for _ in 0..5 {
        p.push(0, 0xb, PacketClass::Video, packet(1200), false)
            .unwrap();
    }
    let order: Vec<u32> = drain(&mut p, 0, 10_000_000)
        .iter()
        .filter_map(|(_, o)| sent(o))
        .map(|s| s.ssrc)
        .collect();
    let last_b = order.iter().rposition(|&s| s == 0xb).unwrap();
    assert_eq!(last_b, 9, "B interleaved with A's keyframe: {order:x?}");
}

#[test]
fn stale_packets_expire_and_a_keyframe_supersedes_queued_video() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(40_000); // 100 kbit/s: 1200 B every 96 ms
    for _ in 0..5 {
        p.push(0, 1, PacketClass::Retransmission, packet(1200), false)
            .unwrap();
    }
    let out = drain(&mut p, 0, 1_000_000);
    // 250 ms of TTL: packets sent at 0, 96, 192 ms; the rest expired.
    assert_eq!(out.len(), 3);
    assert_eq!(p.stats().expired[PacketClass::Retransmission as usize], 2);
    assert_eq!(p.queued(), (0, 0));

    for _ in 0..10 {
        p.push(2_000_000, 7, PacketClass::Video, packet(1000), false)
            .unwrap();
    }
    p.push(2_000_000, 7, PacketClass::Video, packet(900), true)
        .unwrap();
    assert_eq!(p.stats().superseded, 10);
    assert_eq!(p.queued(), (1, 900));
}

#[test]
fn a_probe_cluster_runs_at_its_rate_and_pads_when_media_runs_out() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(200_000);
    for _ in 0..3 {
        p.push(0, 1, PacketClass::Video, packet(1000), false)
            .unwrap();
    }
    // 2 Mbit/s for at least 12 500 bytes (50 ms) and 5 packets.
    p.start_probe(0, 42, 2_000_000, 12_500, 5, 1_000_000);
    let out = drain(&mut p, 0, 10_000_000);
    let (mut media, mut padding, mut last) = (0, 0, 0);
    for (t, o) in &out {
        match o {
            PacerOutput::Send(s) => {
                assert_eq!(s.probe_cluster, Some(42));
                media += s.packet.len();
            }
            PacerOutput::Padding {
                bytes,
                probe_cluster,
            } => {
                assert_eq!(*probe_cluster, 42);
                padding += bytes;
            }
            PacerOutput::Wait(_) => unreachable!(),
        }
        last = *t;
    }
    assert_eq!(media, 3000, "queued media goes first");
    assert!(
        media + padding >= 12_500 && padding < 12_500,
        "{padding} B of padding"
    );
    // The cluster's rate: its bytes before the last send, over its span.
    let rate = (media + padding - 1200) as f64 * 8.0 / (last as f64 / 1e6);
    assert!((1.8e6..=2.2e6).contains(&rate), "probe rate {rate}");
    assert_eq!(p.probing(), None);
    assert_eq!(p.stats().probes_done, 1);
}

/// The host answers each padding request with a 400-byte re-send and says
/// so: the cluster asks again when its rate allows (one packet at a time,
/// never a burst), until it has its bytes, at its rate.
#[test]
fn padding_answered_with_fewer_bytes_is_asked_for_again_at_the_probe_rate() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(200_000);
    // 1 Mbit/s for at least 6,000 bytes and 5 packets.
    p.start_probe(0, 7, 1_000_000, 6_000, 5, 1_000_000);
    let (mut now, mut sends, mut sent_bytes) = (0u64, Vec::new(), 0usize);
    while p.probing().is_some() && now < 1_000_000 {
        match p.poll(now) {
            PacerOutput::Padding { bytes, .. } => {
                let sent = bytes.min(400);
                p.padding_sent(bytes, sent);
                sends.push(now);
                sent_bytes += sent;
            }
            PacerOutput::Wait(Some(at)) => now = at.max(now + 1),
            PacerOutput::Wait(None) => break,
            o => panic!("{o:?}"),
        }
    }
    assert!((6_000..6_400).contains(&sent_bytes), "{sent_bytes}");
    assert_eq!(p.stats().padding_bytes, sent_bytes as u64);
    // One 400-byte packet every 3.2 ms (1 Mbit/s), none at the same time.
    for w in sends.windows(2) {
        assert!((3_100..=3_400).contains(&(w[1] - w[0])), "{sends:?}");
    }
    // Without the correction the cluster would have ended after 5
    // requests, having sent a third of its bytes.
    assert_eq!(sends.len(), 15);
    // Nothing to send at all: the cluster ends instead of asking again.
    p.start_probe(now, 8, 1_000_000, 6_000, 5, 1_000_000);
    let PacerOutput::Padding { bytes, .. } = p.poll(now) else {
        panic!("padding");
    };
    p.padding_sent(bytes, 0);
    assert_eq!(p.probing(), None);
    assert_eq!(p.stats().padding_bytes, sent_bytes as u64);
    assert!(matches!(p.poll(now), PacerOutput::Wait(None)));
}

#[test]
fn the_queue_and_the_streams_are_bounded() {
    let mut p = Pacer::new(PacerConfig {
        capacity_packets: 8,
        max_streams: 2,
        ..Default::default()
    });
    for i in 0..8 {
        p.push(0, 1 + (i % 2), PacketClass::Video, packet(100), false)
            .unwrap();
    }
    assert_eq!(
        p.push(0, 1, PacketClass::Video, packet(100), false),
        Err(PushError::QueueFull)
    );
    assert_eq!(
        p.push(0, 3, PacketClass::Audio, packet(100), false),
        Err(PushError::TooManyStreams)
    );
    assert_eq!(p.stats().refused, 2);
}

#[test]
fn the_wakeup_is_when_the_budget_allows_the_next_packet() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(400_000); // 1 Mbit/s: 1200 B = 9.6 ms
    assert_eq!(p.next_wakeup(0), None);
    p.push(0, 1, PacketClass::Video, packet(1200), false)
        .unwrap();
    p.push(0, 1, PacketClass::Video, packet(1200), false)
        .unwrap();
    // A fresh pacer has no saved budget beyond a tick: the first waits too.
    let mut now = 0;
    let mut times = Vec::new();
    while times.len() < 2 {
        match p.poll(now) {
            PacerOutput::Send(_) => times.push(now),
            PacerOutput::Wait(Some(at)) => {
                assert_eq!(p.next_wakeup(now), Some(at));
                now = at;
            }
            o => panic!("{o:?}"),
        }
    }
    assert!(
        times[1] - times[0] >= 9_000 && times[1] - times[0] <= 10_000,
        "{times:?}"
    );
}

#[test]
fn a_retransmission_may_overdraw_the_budget_a_little_and_the_video_repays_it() {
    // 400 kbit/s pacing: one 1200-byte packet is 24 ms of budget. Returns
    // when the retransmission and the last packet left.
    fn rtx_sent_at(overdraft_us: u64) -> (u64, u64) {
        let mut p = Pacer::new(PacerConfig {
            pacing_factor: 1.0,
            retransmission_overdraft_us: overdraft_us,
            ..PacerConfig::default()
        });
        p.set_target_bitrate(400_000);
        assert!(matches!(p.poll(0), PacerOutput::Wait(None)));
        let start = 1_000_000;
        for i in 0..4 {
            p.push(start, 1, PacketClass::Video, packet(1200), i == 0)
                .unwrap();
        }
        // The first video packet leaves and leaves the budget in debt; a
        // NACK comes 1 ms later.
        assert!(matches!(p.poll(start), PacerOutput::Send(_)));
        p.push(
            start + 1_000,
            1,
            PacketClass::Retransmission,
            packet(1200),
            false,
        )
        .unwrap();
        let out = drain(&mut p, start + 1_000, 10_000_000);
        let rtx = out
            .iter()
            .find(|(_, o)| sent(o).unwrap().class == PacketClass::Retransmission)
            .unwrap()
            .0;
        let last = out.last().unwrap().0;
        (rtx - start, last - start)
    }
    // Held to the budget: the retransmission waits out the video packet's
    // debt (about 19 ms with the 5 ms burst saved before it).
    let (paced, paced_end) = rtx_sent_at(0);
    assert!(paced >= 15_000, "paced retransmission after {paced} µs");
    assert_eq!(PacerConfig::default().retransmission_overdraft_us, 0);
    // With a 20 ms overdraft it leaves at once.
    let (fast, fast_end) = rtx_sent_at(20_000);
    assert!(fast <= 1_000, "retransmission after {fast} µs");
    // The overdraft is repaid: the five packets take as long either way.
    assert!(
        fast_end.abs_diff(paced_end) <= 1_000,
        "{fast_end} vs {paced_end}"
    );
}

#[test]
fn retransmissions_beyond_the_overdraft_are_paced() {
    let mut p = Pacer::new(PacerConfig {
        pacing_factor: 1.0,
        retransmission_overdraft_us: 20_000,
        ..PacerConfig::default()
    });
    p.set_target_bitrate(400_000);
    let start = 1_000_000;
    for _ in 0..10 {
        p.push(start, 1, PacketClass::Retransmission, packet(1200), false)
            .unwrap();
    }
    let out = drain(&mut p, start, 10_000_000);
    assert_eq!(out.len(), 10);
    // The saved burst and the overdraft let the first ones out at once;
    // the rest keep to the rate: 12,000 bytes at 50 bytes/ms is 240 ms,
    // less the 5 ms burst and the 20 ms overdraft (and one packet).
    let at_once = out.iter().filter(|(t, _)| *t == start).count();
    assert!(at_once <= 2, "{at_once} retransmissions at once");
    let took = out.last().unwrap().0 - start;
    assert!((185_000..=220_000).contains(&took), "took {took} µs");
}

/// An RTP packet (version 2) numbered `seq`, of `len` bytes.
fn rtp(seq: u16, len: usize) -> Bytes {
    let mut b = vec![0u8; len];
    b[0] = 0x80;
    b[1] = 96;
    b[2..4].copy_from_slice(&seq.to_be_bytes());
    Bytes::from(b)
}

fn seqs(out: &[(u64, PacerOutput)]) -> Vec<u16> {
    out.iter()
        .filter_map(|(_, o)| sent(o))
        .map(|p| u16::from_be_bytes([p.packet[2], p.packet[3]]))
        .collect()
}

/// A publisher's uplink with a few ms of jitter delivers a keyframe burst
/// shuffled; queued behind the pacing rate, it used to leave in that
/// order, spread over the keyframe's pacing time (90 ms out of order at
/// the outcome test's receivers, whose reorder wait then grew to 91 ms).
#[test]
fn video_leaves_in_sequence_order_whatever_order_it_came_in() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(400_000);
    // Across the wrap of the 16-bit number, and audio left as it came.
    for seq in [65_533u16, 65_535, 1, 65_534, 0, 3, 2] {
        p.push(0, 7, PacketClass::Video, rtp(seq, 1000), false)
            .unwrap();
    }
    for seq in [9u16, 8] {
        p.push(0, 5, PacketClass::Audio, rtp(seq, 100), false)
            .unwrap();
    }
    let out = drain(&mut p, 0, 2_000_000);
    assert_eq!(seqs(&out), [9, 8, 65_533, 65_534, 65_535, 0, 1, 2, 3]);
    // A packet put ahead counts as queued since the one it went before.
    let waits: Vec<u64> = out
        .iter()
        .filter_map(|(_, o)| sent(o))
        .map(|p| p.queued_us)
        .collect();
    assert!(waits.windows(2).skip(2).all(|w| w[0] <= w[1]), "{waits:?}");
}

/// A keyframe whose first packet came after its second and third: those
/// are part of the keyframe, not stale video, and stay.
#[test]
fn a_keyframe_keeps_its_packets_that_came_before_its_first() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(100_000);
    // Two packets of the frame before, then the keyframe's 12 and 11, then
    // its first, 10.
    for seq in [8u16, 9, 12, 11] {
        p.push(0, 7, PacketClass::Video, rtp(seq, 1000), false)
            .unwrap();
    }
    p.push(1_000, 7, PacketClass::Video, rtp(10, 1000), true)
        .unwrap();
    assert_eq!(p.stats().superseded, 2);
    assert_eq!(p.queued(), (3, 3000));
    let out = drain(&mut p, 1_000, 2_000_000);
    assert_eq!(seqs(&out), [10, 11, 12]);
}
