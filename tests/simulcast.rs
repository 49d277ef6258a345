//! One test per forwarding rule of `rtmedia::simulcast`, on hand-built VP8
//! packets (RFC 7741 descriptors) so each rule is seen in isolation. The
//! outcome tests with real libvpx simulcast are in `simulcast_outcomes.rs`.

use bytes::Bytes;
use rtmedia::codec::vp8::Descriptor;
use rtmedia::codec::Codec;
use rtmedia::packet::RtpPacket;
use rtmedia::simulcast::{
    DropReason, Forwarded, Forwarder, ForwarderConfig, Layer, PauseReason, RetransmitError, Source,
    SourceConfig,
};

const SSRCS: [u32; 3] = [0x1000, 0x2000, 0x3000];
const OUT_SSRC: u32 = 0xabcd;
/// Each layer's RTP timestamp base (as browsers do: unrelated per SSRC).
const TS_BASE: [u32; 3] = [1_000, 4_000_000_000, 77_777];

/// One VP8 frame's worth of packet parameters.
#[derive(Clone, Copy)]
struct Vp8 {
    layer: usize,
    seq: u16,
    frame: u32,
    pid: u16,
    tl0: u8,
    tid: u8,
    sync: bool,
    key: bool,
    start: bool,
    marker: bool,
}

fn vp8_packet(p: Vp8) -> Bytes {
    let ts = TS_BASE[p.layer].wrapping_add(p.frame * 3000);
    let mut b = vec![0x80, 96 | if p.marker { 0x80 } else { 0 }];
    b.extend_from_slice(&p.seq.to_be_bytes());
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(&SSRCS[p.layer].to_be_bytes());
    let n = if p.tid == 2 { 0x20 } else { 0 };
    b.push(0x80 | n | if p.start { 0x10 } else { 0 });
    b.push(0xf0); // I L T K
    b.push(0x80 | (p.pid >> 8) as u8);
    b.push(p.pid as u8);
    b.push(p.tl0);
    b.push(p.tid << 6 | if p.sync { 0x20 } else { 0 } | 3); // KEYIDX 3
    if p.start {
        b.push(if p.key { 0x00 } else { 0x01 }); // VP8 header P bit
    }
    b.extend_from_slice(&[0x5a; 40]);
    Bytes::from(b)
}

/// A publisher of hand-made L1T3 simulcast: each frame is two packets per
/// layer, temporal pattern 0,2,1,2, Y on TID 1 and the first TID 2.
struct Publisher {
    seq: [u16; 3],
    pid: [u16; 3],
    tl0: [u8; 3],
    frame: u32,
}

impl Publisher {
    fn new() -> Self {
        Self {
            seq: [100, 30_000, 65_530],
            pid: [10, 200, 32_760],
            tl0: [5, 100, 254],
            frame: 0,
        }
    }

    /// The packets of the next frame on `layers`, `key` ones as keyframes.
    fn frame(&mut self, layers: &[usize], key: &[usize]) -> Vec<Bytes> {
        let f = self.frame;
        self.frame += 1;
        let tid = [0, 2, 1, 2][(f % 4) as usize];
        let mut out = Vec::new();
        for &l in layers {
            let is_key = key.contains(&l);
            let tid = if is_key { 0 } else { tid };
            if tid == 0 {
                self.tl0[l] = self.tl0[l].wrapping_add(1);
            }
            for i in 0..2 {
                out.push(vp8_packet(Vp8 {
                    layer: l,
                    seq: self.seq[l],
                    frame: f,
                    pid: self.pid[l],
                    tl0: self.tl0[l],
                    tid,
                    sync: is_key || tid == 1 || f % 4 == 1,
                    key: is_key,
                    start: i == 0,
                    marker: i == 1,
                }));
                self.seq[l] = self.seq[l].wrapping_add(1);
            }
            self.pid[l] = (self.pid[l] + 1) & 0x7fff;
        }
        out
    }
}

fn source() -> Source {
    Source::new(SourceConfig::default(), &SSRCS).unwrap()
}

fn forwarder(target: Layer) -> Forwarder {
    let mut f = Forwarder::new(ForwarderConfig {
        ssrc: OUT_SSRC,
        ..Default::default()
    });
    f.set_target(target);
    f
}

/// What a subscriber received.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Out {
    seq: u16,
    ts: u32,
    pid: u16,
    tl0: u8,
    tid: u8,
    key_idx: u8,
    key: bool,
    marker: bool,
}

fn parse_out(buf: &[u8]) -> Out {
    let rtp = RtpPacket::parse(buf).unwrap();
    assert_eq!(rtp.ssrc(), OUT_SSRC);
    let d = Descriptor::parse(rtp.payload()).unwrap();
    Out {
        seq: rtp.sequence_number(),
        ts: rtp.timestamp(),
        pid: d.picture_id.unwrap(),
        tl0: d.tl0_pic_idx.unwrap(),
        tid: d.temporal_id.unwrap(),
        key_idx: d.key_idx.unwrap(),
        key: d.keyframe,
        marker: rtp.marker(),
    }
}

/// Pushes packets through the source and the forwarder; returns what was sent.
fn run(src: &mut Source, fwd: &mut Forwarder, packets: &[Bytes], now: &mut u64) -> Vec<Out> {
    let mut sent = Vec::new();
    let mut buf = [0u8; 1500];
    for p in packets {
        *now += 1000;
        let pkt = src.on_rtp(p.clone(), *now).unwrap();
        if let Forwarded::Sent(n) = fwd.forward(&pkt, &mut buf, *now).unwrap() {
            sent.push(parse_out(&buf[..n]));
        }
        // Forwarder::forward's contract: backfill after every forward.
        while let Some(n) = fwd.backfill(src, &mut buf, *now).unwrap() {
            sent.push(parse_out(&buf[..n]));
        }
    }
    sent
}

fn assert_continuous(sent: &[Out]) {
    for w in sent.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "gapless: {w:?}");
        if w[1].ts != w[0].ts {
            assert!(
                (w[1].ts.wrapping_sub(w[0].ts) as i32) > 0,
                "timestamps increase: {w:?}"
            );
            assert_eq!(
                w[1].pid,
                (w[0].pid + 1) & 0x7fff,
                "PictureID +1 per frame: {w:?}"
            );
        } else {
            assert_eq!(w[1].pid, w[0].pid);
        }
    }
}

#[test]
fn starts_at_the_first_keyframe_and_keeps_the_first_layers_numbers() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let before = p.frame(&[0, 1, 2], &[]);
    let pkt = src.on_rtp(before[0].clone(), 1).unwrap();
    assert_eq!(
        fwd.forward(&pkt, &mut [0; 1500], 1).unwrap(),
        Forwarded::Dropped(DropReason::WaitingForKeyframe)
    );
    assert_eq!(fwd.poll_keyframe_request(), Some(0));
    assert_eq!(fwd.poll_keyframe_request(), None, "asked once");
    let mut packets = p.frame(&[0, 1, 2], &[0, 1, 2]);
    for _ in 0..8 {
        packets.extend(p.frame(&[0, 1, 2], &[]));
    }
    let sent = run(&mut src, &mut fwd, &packets, &mut now);
    assert_eq!(sent.len(), 18, "9 frames × 2 packets of layer 0");
    assert!(sent[0].key);
    assert_eq!(sent[0].seq, 102, "layer 0's own sequence numbers");
    assert_eq!(sent[0].ts, TS_BASE[0] + 3000);
    assert_continuous(&sent);
    assert_eq!(fwd.current_layer(), Some(Layer::new(0, 2)));
}

#[test]
fn spatial_upgrade_waits_for_the_new_layers_keyframe_and_stays_continuous() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let mut packets = p.frame(&[0, 1, 2], &[0, 1, 2]);
    for _ in 0..3 {
        packets.extend(p.frame(&[0, 1, 2], &[]));
    }
    let mut sent = run(&mut src, &mut fwd, &packets, &mut now);
    fwd.poll_keyframe_request();
    fwd.set_target(Layer::new(2, 2));
    assert_eq!(
        fwd.poll_keyframe_request(),
        Some(2),
        "asks the target layer"
    );
    // Layer 0 keeps flowing until layer 2's keyframe.
    let mut packets = Vec::new();
    for _ in 0..3 {
        packets.extend(p.frame(&[0, 1, 2], &[]));
    }
    packets.extend(p.frame(&[0, 1, 2], &[2]));
    for _ in 0..4 {
        packets.extend(p.frame(&[0, 1, 2], &[]));
    }
    sent.extend(run(&mut src, &mut fwd, &packets, &mut now));
    // Layer 0 up to and including the switch frame, then layer 2 (the switch
    // frame's capture is sent twice: small, then large).
    assert_eq!(sent.len(), 2 * (4 + 3 + 1 + 1 + 4));
    let switch = sent
        .iter()
        .position(|o| o.key && o.seq != sent[0].seq)
        .unwrap();
    assert_eq!(switch, 16, "switched exactly at layer 2's keyframe");
    assert_continuous(&sent);
    assert_eq!(
        sent[switch].tl0,
        sent[switch - 1].tl0.wrapping_add(1),
        "TL0PICIDX continues"
    );
    assert_eq!(
        sent[switch].key_idx,
        (sent[switch - 1].key_idx + 1) & 0x1f,
        "KEYIDX moves on"
    );
    assert_eq!(fwd.current_layer(), Some(Layer::new(2, 2)));
    assert_eq!(fwd.stats().spatial_switches, 1);
    assert_eq!(fwd.poll_keyframe_request(), None, "no second request");
}

#[test]
fn an_intermediate_layers_keyframe_is_taken_on_the_way() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let packets = p.frame(&[0, 1, 2], &[0]);
    run(&mut src, &mut fwd, &packets, &mut now);
    fwd.set_target(Layer::new(2, 2));
    let mut packets = p.frame(&[0, 1, 2], &[1]);
    packets.extend(p.frame(&[0, 1, 2], &[]));
    packets.extend(p.frame(&[0, 1, 2], &[2]));
    // Layer 1's keyframe is held: layer 2's of the same capture may follow.
    let mut sent = run(&mut src, &mut fwd, &packets[..6], &mut now);
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(0));
    // It did not: layer 1's next frame starts layer 1 at its keyframe,
    // replayed from the source's history.
    sent.extend(run(&mut src, &mut fwd, &packets[6..12], &mut now));
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(1));
    let key = sent.iter().position(|o| o.key).expect("layer 1's keyframe");
    assert_eq!(sent.len(), key + 4, "layer 1's keyframe and next frame");
    sent.extend(run(&mut src, &mut fwd, &packets[12..], &mut now));
    assert_continuous(&sent);
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(2));
    assert_eq!(fwd.stats().spatial_switches, 2);
}

#[test]
fn a_downgrade_keeps_the_old_layer_until_the_lower_keyframe() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(2, 2)), Publisher::new(), 0);
    let packets = p.frame(&[0, 1, 2], &[2]);
    run(&mut src, &mut fwd, &packets, &mut now);
    fwd.set_target(Layer::new(0, 2));
    let packets = p.frame(&[0, 1, 2], &[]);
    let sent = run(&mut src, &mut fwd, &packets, &mut now);
    assert_eq!(sent.len(), 2, "still layer 2");
    let packets = p.frame(&[0, 1, 2], &[0]);
    let sent = run(&mut src, &mut fwd, &packets, &mut now);
    assert_eq!(sent.len(), 2);
    assert!(sent[0].key);
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(0));
}

#[test]
fn a_frame_cut_by_a_switch_leaves_exactly_one_gap() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let packets = p.frame(&[0, 1], &[0, 1]);
    let mut sent = run(&mut src, &mut fwd, &packets, &mut now);
    fwd.set_target(Layer::new(1, 2));
    // Layer 0's second packet is late: layer 1's keyframe comes first.
    let frame = p.frame(&[0, 1], &[1]);
    let reordered = [
        frame[0].clone(),
        frame[2].clone(),
        frame[3].clone(),
        frame[1].clone(),
    ];
    sent.extend(run(&mut src, &mut fwd, &reordered, &mut now));
    assert_eq!(sent.len(), 5, "the cut frame's tail is not sent: {sent:?}");
    assert_eq!(
        sent[3].seq,
        sent[2].seq.wrapping_add(2),
        "one deliberate gap"
    );
    assert_eq!(fwd.stats().cut_frames, 1);
}

#[test]
fn temporal_layers_are_filtered_and_switched_at_sync_points() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 1)), Publisher::new(), 0);
    let mut packets = p.frame(&[0], &[0]);
    for _ in 0..7 {
        packets.extend(p.frame(&[0], &[]));
    }
    let sent = run(&mut src, &mut fwd, &packets, &mut now);
    // Frames 0..8 have TIDs 0,2,1,2,0,2,1,2: TID 2 dropped.
    assert!(sent.iter().all(|o| o.tid <= 1));
    assert_eq!(sent.len(), 8);
    assert_continuous(&sent);
    // Up to TID 2: only at a frame with Y=1 (frame 9 is TID 2 with Y).
    fwd.set_target(Layer::new(0, 2));
    let packets: Vec<_> = (0..4).flat_map(|_| p.frame(&[0], &[])).collect();
    let more = run(&mut src, &mut fwd, &packets, &mut now);
    assert_eq!(
        more.iter().map(|o| o.tid).collect::<Vec<_>>(),
        [0, 0, 2, 2, 1, 1, 2, 2]
    );
    // Down to TID 0 at the next frame boundary.
    fwd.set_target(Layer::new(0, 0));
    let packets: Vec<_> = (0..4).flat_map(|_| p.frame(&[0], &[])).collect();
    let last = run(&mut src, &mut fwd, &packets, &mut now);
    assert_eq!(last.iter().map(|o| o.tid).collect::<Vec<_>>(), [0, 0]);
    let all: Vec<_> = sent.into_iter().chain(more).chain(last).collect();
    assert_continuous(&all);
    assert_eq!(fwd.stats().temporal_switches, 2);
}

#[test]
fn a_temporal_upgrade_without_sync_waits() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 0)), Publisher::new(), 0);
    let mut packets = p.frame(&[0], &[0]);
    packets.extend(p.frame(&[0], &[])); // TID 2, Y
    run(&mut src, &mut fwd, &packets, &mut now);
    fwd.set_target(Layer::new(0, 2));
    // Frame 2 is TID 1 (Y), frame 3 TID 2 without Y: up to 1 at frame 2 only.
    let packets: Vec<_> = (0..2).flat_map(|_| p.frame(&[0], &[])).collect();
    let pkt_ids: Vec<_> = run(&mut src, &mut fwd, &packets, &mut now)
        .iter()
        .map(|o| o.tid)
        .collect();
    assert_eq!(pkt_ids, [1, 1], "TID 2 without Y not taken");
}

#[test]
fn late_packets_from_before_a_switch_are_dropped() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(1, 2)), Publisher::new(), 0);
    let early = p.frame(&[1], &[]);
    let key = p.frame(&[1], &[1]);
    run(&mut src, &mut fwd, &key, &mut now);
    let pkt = src.on_rtp(early[1].clone(), now).unwrap();
    assert_eq!(
        fwd.forward(&pkt, &mut [0; 1500], now).unwrap(),
        Forwarded::Dropped(DropReason::Late)
    );
}

#[test]
fn timestamps_follow_sender_reports_across_layers() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    // Same NTP instant, each layer's own timestamp: the layers are aligned.
    for l in 0..3 {
        assert!(src.on_sender_report(SSRCS[l], 1 << 32, TS_BASE[l]));
    }
    let packets = p.frame(&[0, 1], &[0]);
    let a = run(&mut src, &mut fwd, &packets, &mut now);
    fwd.set_target(Layer::new(1, 2));
    // Two frames later (6000 ticks of capture time), with an arrival gap
    // that does not match (the SR timeline wins within the skew bound).
    now += 40_000;
    p.frame(&[0, 1], &[]);
    let packets = p.frame(&[0, 1], &[1]);
    let b = run(&mut src, &mut fwd, &packets, &mut now);
    assert_eq!(b[0].ts.wrapping_sub(a[0].ts), 6000);
}

#[test]
fn without_sender_reports_the_arrival_clock_bounds_the_jump() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let packets = p.frame(&[0, 1], &[0]);
    let a = run(&mut src, &mut fwd, &packets, &mut now);
    fwd.set_target(Layer::new(1, 2));
    now += 100_000;
    let packets = p.frame(&[1], &[1]);
    let b = run(&mut src, &mut fwd, &packets, &mut now);
    // Arrival gap 100 ms + 3 packet steps of 1 ms = 103 ms = 9270 ticks.
    assert_eq!(b[0].ts.wrapping_sub(a[1].ts), 9270);
}

/// A receiver whose RTT estimate misses a congested link's queue asks
/// again before the first retransmission can arrive: with the round trip
/// known, the forwarder does not send the packet again within it.
#[test]
fn a_packet_sent_again_is_not_resent_within_a_round_trip() {
    let mut src = source();
    let mut p = Publisher::new();
    let mut fwd = forwarder(Layer::new(0, 2));
    let mut seqs = Vec::new();
    let mut now = 0;
    for pkt in p.frame(&[0], &[0]) {
        now += 1000;
        let pkt = src.on_rtp(pkt, now).unwrap();
        let mut buf = [0u8; 1500];
        if let Forwarded::Sent(_) = fwd.forward(&pkt, &mut buf, now).unwrap() {
            seqs.push(u16::from_be_bytes([buf[2], buf[3]]));
        }
    }
    let (seq, other) = (seqs[0], seqs[1]);
    let mut buf = [0u8; 1500];
    // Round trip unknown (0, the default): every NACK is answered.
    for _ in 0..2 {
        assert!(fwd.retransmit_at(&src, seq, now, &mut buf).is_ok());
    }
    fwd.set_rtt(300_000);
    let t = now + 10_000;
    assert!(fwd.retransmit_at(&src, seq, t, &mut buf).is_ok());
    assert_eq!(
        fwd.retransmit_at(&src, seq, t + 130_000, &mut buf),
        Err(RetransmitError::InFlight),
        "asked again after 130 ms, the copy is still on its way"
    );
    // Another packet is not held back; the plain call never is.
    assert!(fwd
        .retransmit_at(&src, other, t + 130_000, &mut buf)
        .is_ok());
    assert!(fwd.retransmit(&src, seq, &mut buf).is_ok());
    // A round trip later the retransmission counts as lost: sent again.
    assert!(fwd.retransmit_at(&src, seq, t + 300_000, &mut buf).is_ok());
    assert_eq!(fwd.stats().nacks_in_flight, 1);
    assert_eq!(fwd.stats().retransmitted, 6);
}

#[test]
fn retransmissions_repeat_this_subscribers_bytes_only() {
    let mut src = source();
    let mut p = Publisher::new();
    let mut a = forwarder(Layer::new(0, 2));
    let mut b = Forwarder::new(ForwarderConfig {
        ssrc: 0x7777,
        ..Default::default()
    });
    b.set_target(Layer::new(0, 1));
    let mut packets = p.frame(&[0], &[0]);
    for _ in 0..5 {
        packets.extend(p.frame(&[0], &[]));
    }
    let mut sent_a = Vec::new();
    let mut now = 0;
    for pkt in &packets {
        now += 1000;
        let pkt = src.on_rtp(pkt.clone(), now).unwrap();
        let mut buf = [0u8; 1500];
        if let Forwarded::Sent(n) = a.forward(&pkt, &mut buf, now).unwrap() {
            sent_a.push(buf[..n].to_vec());
        }
        b.forward(&pkt, &mut buf, now).unwrap();
    }
    for original in &sent_a {
        let seq = u16::from_be_bytes([original[2], original[3]]);
        let mut buf = [0u8; 1500];
        let n = a.retransmit(&src, seq, &mut buf).unwrap();
        assert_eq!(&buf[..n], &original[..], "identical bytes");
    }
    assert_eq!(a.stats().retransmitted, sent_a.len() as u64);
    // b skipped the TID 2 frames: its numbering differs, and it never sends a's bytes.
    let seq = u16::from_be_bytes([sent_a[4][2], sent_a[4][3]]);
    let mut buf = [0u8; 1500];
    let n = b.retransmit(&src, seq, &mut buf).unwrap();
    assert_eq!(
        u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        0x7777
    );
    assert_ne!(&buf[..n], &sent_a[4][..]);
    let first = u16::from_be_bytes([sent_a[0][2], sent_a[0][3]]);
    assert_eq!(
        a.retransmit(&src, first.wrapping_sub(1), &mut buf),
        Err(RetransmitError::NotFound),
        "never sent"
    );
    assert_eq!(
        a.retransmit(&src, first.wrapping_add(500), &mut buf),
        Err(RetransmitError::NotFound)
    );
    assert_eq!(
        a.retransmit(&src, first, &mut buf[..10]),
        Err(RetransmitError::BufferTooSmall {
            needed: sent_a[0].len()
        })
    );
}

/// A NACK can cross a later keyframe on its way, and a jitter buffer plays
/// the frames before that keyframe first: a packet from before it is sent
/// again, the same bytes as the first time.
#[test]
fn retransmissions_from_before_the_latest_keyframe_are_sent() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let mut packets = p.frame(&[0], &[0]);
    packets.extend(p.frame(&[0], &[]));
    packets.extend(p.frame(&[0], &[0]));
    let sent = run(&mut src, &mut fwd, &packets, &mut now);
    let mut buf = [0u8; 1500];
    let n = fwd.retransmit(&src, sent[2].seq, &mut buf).unwrap();
    let again = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(again.sequence_number(), sent[2].seq);
    assert_eq!(again.timestamp(), sent[2].ts);
    assert!(fwd.retransmit(&src, sent[5].seq, &mut buf).is_ok());
    assert_eq!(fwd.stats().retransmitted, 2);
    assert_eq!(fwd.stats().nacks_before_keyframe, 0);
}

/// A switch to a lower spatial layer says the link cannot carry the old
/// one: retransmissions of the old layer's packets from before that
/// switch's keyframe would go ahead of the new layer and are refused; an
/// up-switch's earlier packets are still sent.
#[test]
fn retransmissions_from_before_a_down_switch_are_refused() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(1, 2)), Publisher::new(), 0);
    let mut packets = p.frame(&[0, 1], &[0, 1]);
    packets.extend(p.frame(&[0, 1], &[]));
    let before = run(&mut src, &mut fwd, &packets, &mut now);
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(1));
    fwd.set_target(Layer::new(0, 2));
    let after = run(&mut src, &mut fwd, &p.frame(&[0, 1], &[0, 1]), &mut now);
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(0));
    let mut buf = [0u8; 1500];
    assert_eq!(
        fwd.retransmit(&src, before[3].seq, &mut buf),
        Err(RetransmitError::BeforeKeyframe)
    );
    assert!(fwd.retransmit(&src, after[0].seq, &mut buf).is_ok());
    assert_eq!(fwd.stats().nacks_before_keyframe, 1);
    // Back up to layer 1: layer 0's packets before that keyframe are sent.
    fwd.set_target(Layer::new(1, 2));
    let up = run(&mut src, &mut fwd, &p.frame(&[0, 1], &[0, 1]), &mut now);
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(1));
    assert!(up.len() >= 2);
    assert!(fwd.retransmit(&src, after[1].seq, &mut buf).is_ok());
    assert_eq!(fwd.stats().retransmitted, 2);
}

#[test]
fn pause_and_resume_with_reasons() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let sent = run(&mut src, &mut fwd, &p.frame(&[0], &[0]), &mut now);
    fwd.poll_keyframe_request();
    fwd.pause(PauseReason::Muted);
    assert_eq!(fwd.pause_reason(), Some(PauseReason::Muted));
    assert!(run(&mut src, &mut fwd, &p.frame(&[0], &[]), &mut now).is_empty());
    fwd.resume();
    assert_eq!(fwd.pause_reason(), None);
    assert_eq!(
        fwd.poll_keyframe_request(),
        Some(0),
        "restart needs a keyframe"
    );
    assert!(run(&mut src, &mut fwd, &p.frame(&[0], &[]), &mut now).is_empty());
    let after = run(&mut src, &mut fwd, &p.frame(&[0], &[0]), &mut now);
    assert_eq!(
        after[0].seq,
        sent[1].seq.wrapping_add(1),
        "no hole for frames not sent"
    );
    assert!(after[0].key);
    // Bandwidth: nothing fits.
    fwd.set_available_bitrate(&src.bitrates(now), 1);
    assert_eq!(fwd.pause_reason(), Some(PauseReason::Bandwidth));
    fwd.set_available_bitrate(&src.bitrates(now + 5_000_000), u64::MAX);
    assert_eq!(fwd.pause_reason(), Some(PauseReason::NoFeed));
    fwd.set_available_bitrate(&src.bitrates(now), u64::MAX);
    assert_eq!(fwd.pause_reason(), None);
}

#[test]
fn padding_is_not_forwarded_not_a_gap_and_not_a_live_layer() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(0, 2)), Publisher::new(), 0);
    let mut sent = run(&mut src, &mut fwd, &p.frame(&[0], &[0]), &mut now);
    // A padding-only packet on layer 0 (next seq) and on layer 2.
    let pad = |ssrc: u32, seq: u16| {
        let mut b = vec![0xa0, 96];
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 9]);
        b.extend_from_slice(&ssrc.to_be_bytes());
        b.extend_from_slice(&[0; 199]);
        b.push(200);
        Bytes::from(b)
    };
    let pkt = src.on_rtp(pad(SSRCS[0], p.seq[0]), now).unwrap();
    p.seq[0] += 1;
    assert_eq!(
        fwd.forward(&pkt, &mut [0; 1500], now).unwrap(),
        Forwarded::Dropped(DropReason::Padding)
    );
    for i in 0..20u16 {
        src.on_rtp(pad(SSRCS[2], 5000 + i), now).unwrap();
    }
    assert!(!src.is_alive(2, now), "padding does not make a layer alive");
    sent.extend(run(&mut src, &mut fwd, &p.frame(&[0], &[]), &mut now));
    assert_continuous(&sent);
}

#[test]
fn a_stopped_top_layer_falls_back_without_a_new_estimate() {
    let (mut src, mut fwd, mut p, mut now) =
        (source(), forwarder(Layer::new(2, 2)), Publisher::new(), 0);
    run(&mut src, &mut fwd, &p.frame(&[0, 1, 2], &[2]), &mut now);
    for _ in 0..10 {
        run(&mut src, &mut fwd, &p.frame(&[0, 1, 2], &[]), &mut now);
        now += 30_000;
    }
    // Layer 2 stops; a second later the same estimate selects layer 1.
    for _ in 0..40 {
        run(&mut src, &mut fwd, &p.frame(&[0, 1], &[]), &mut now);
        now += 30_000;
    }
    assert!(!src.is_alive(2, now));
    fwd.poll_keyframe_request();
    fwd.set_available_bitrate(&src.bitrates(now), u64::MAX);
    assert_eq!(fwd.target_layer().map(|l| l.spatial), Some(1));
    assert_eq!(fwd.poll_keyframe_request(), Some(1));
    src.request_keyframe(1);
    assert_eq!(src.poll_keyframe_request(now), Some(SSRCS[1]));
    let sent = run(&mut src, &mut fwd, &p.frame(&[0, 1], &[1]), &mut now);
    assert!(sent[0].key);
    assert_eq!(fwd.current_layer().map(|l| l.spatial), Some(1));
}

#[test]
fn keyframe_requests_are_merged_and_retried_per_ssrc() {
    let mut src = source();
    src.set_rtt(50_000);
    let mut p = Publisher::new();
    let mut now = 0;
    // 5 fps on layer 1 (a screenshare): frame interval 200 ms.
    for _ in 0..5 {
        for pkt in p.frame(&[1], &[]) {
            src.on_rtp(pkt, now).unwrap();
        }
        now += 200_000;
    }
    for _ in 0..10 {
        src.request_keyframe(1); // ten subscribers
    }
    assert_eq!(src.poll_keyframe_request(now), Some(SSRCS[1]));
    assert_eq!(src.poll_keyframe_request(now), None, "merged");
    // Retry after RTT + 2 frame intervals (450 ms), not the 300 ms floor.
    assert_eq!(src.next_keyframe_request_at(), Some(now + 450_000));
    assert_eq!(src.poll_keyframe_request(now + 440_000), None);
    assert_eq!(src.poll_keyframe_request(now + 450_000), Some(SSRCS[1]));
    for pkt in p.frame(&[1], &[1]) {
        src.on_rtp(pkt, now + 500_000).unwrap();
    }
    assert!(!src.keyframe_pending(1));
    assert_eq!(src.poll_keyframe_request(now + 10_000_000), None);
    assert_eq!(src.stats().keyframe_requests_sent[1], 2);
}

#[test]
fn h264_switches_on_idr() {
    let mut src = Source::new(
        SourceConfig {
            codec: Codec::H264,
            ..Default::default()
        },
        &SSRCS[..2],
    )
    .unwrap();
    let mut fwd = forwarder(Layer::new(1, 0));
    let h264 = |ssrc: u32, seq: u16, ts: u32, nal: &[u8]| {
        let mut b = vec![0x80, 0xe0];
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&ts.to_be_bytes());
        b.extend_from_slice(&ssrc.to_be_bytes());
        b.extend_from_slice(nal);
        Bytes::from(b)
    };
    let mut buf = [0u8; 1500];
    let delta = src.on_rtp(h264(SSRCS[1], 1, 10, &[0x41, 0]), 0).unwrap();
    assert_eq!(
        fwd.forward(&delta, &mut buf, 0).unwrap(),
        Forwarded::Dropped(DropReason::WaitingForKeyframe)
    );
    // An IDR alone is not a keyframe start (no SPS): still waiting.
    let idr = src.on_rtp(h264(SSRCS[1], 2, 20, &[0x65, 0]), 1).unwrap();
    assert_eq!(
        fwd.forward(&idr, &mut buf, 1).unwrap(),
        Forwarded::Dropped(DropReason::WaitingForKeyframe)
    );
    let idr = src.on_rtp(h264(SSRCS[1], 3, 30, &[0x67, 0]), 2).unwrap();
    assert_eq!(fwd.forward(&idr, &mut buf, 1).unwrap(), Forwarded::Sent(14));
    assert_eq!(&buf[8..12], &OUT_SSRC.to_be_bytes());
}

#[test]
fn bad_input_is_refused() {
    assert!(Source::new(SourceConfig::default(), &[]).is_err());
    assert!(Source::new(SourceConfig::default(), &[1, 1]).is_err());
    assert!(Source::new(SourceConfig::default(), &[1, 2, 3, 4]).is_err());
    let mut src = source();
    assert!(src
        .on_rtp(Bytes::from_static(&[0x80, 96, 0, 1]), 0)
        .is_err());
    let keyframe = vp8_packet(Vp8 {
        layer: 0,
        seq: 1,
        frame: 0,
        pid: 0,
        tl0: 0,
        tid: 0,
        sync: false,
        key: true,
        start: true,
        marker: true,
    });
    let mut foreign = keyframe.to_vec();
    foreign[8..12].copy_from_slice(&[9, 9, 9, 9]);
    assert!(src.on_rtp(Bytes::from(foreign), 0).is_err());
    let mut truncated = keyframe.to_vec();
    truncated.truncate(14);
    assert!(src.on_rtp(Bytes::from(truncated), 0).is_err());
    assert_eq!(src.stats().malformed, 2);
    assert_eq!(src.stats().unknown_ssrc, 1);
}

/// Probe padding through the track: a recent packet sent again as RFC 4588
/// RTX on the subscriber's RTX stream (restored, it is byte for byte what
/// the subscriber received), only where RTX was negotiated, not counted as
/// a retransmission.
#[test]
fn probe_padding_is_a_recent_packet_sent_again_as_rtx() {
    use rtmedia::jitter::{restore_rtx, RtxConfig as JitterRtx};
    use rtmedia::simulcast::{Output, RtxConfig, SubscriberConfig, Track, TrackConfig, TrackError};
    let mut track = Track::new(TrackConfig::default(), &SSRCS).unwrap();
    let rtx = RtxConfig {
        ssrc: 0x0200,
        payload_type: 97,
    };
    for (id, rtx) in [(1u64, Some(rtx)), (2, None)] {
        let config = SubscriberConfig {
            forwarder: ForwarderConfig {
                ssrc: OUT_SSRC + id as u32,
                ..Default::default()
            },
            rtx,
        };
        track
            .add_subscriber(id, config, Layer::new(0, 2), 0)
            .unwrap();
    }
    let mut buf = [0u8; 1500];
    // Nothing sent yet: nothing to send again.
    assert_eq!(track.write_probe_padding(1, 60, &mut buf), Ok(None));
    let mut publisher = Publisher::new();
    let mut received: Vec<Vec<u8>> = Vec::new();
    for f in 0..8u64 {
        let key: &[usize] = if f == 0 { &[0, 1, 2] } else { &[] };
        for p in publisher.frame(&[0, 1, 2], key) {
            track.push_rtp(p, f * 33_000).unwrap();
            while let Output::Rtp {
                subscriber, len, ..
            } = track.poll_output(f * 33_000, &mut buf).unwrap()
            {
                if subscriber == 1 {
                    received.push(buf[..len].to_vec());
                }
            }
        }
    }
    assert_eq!(received.len(), 16, "two packets per frame");
    let restore = JitterRtx {
        rtx_ssrc: rtx.ssrc,
        media_ssrc: OUT_SSRC + 1,
        media_payload_type: 96,
    };
    // A probe wants more bytes than one packet: the calls cycle through the
    // last eight packets before any is sent twice.
    let mut rtx_seqs = Vec::new();
    let mut restored_packets: Vec<Vec<u8>> = Vec::new();
    for _ in 0..9 {
        let len = track
            .write_probe_padding(1, 1500, &mut buf)
            .unwrap()
            .expect("a recent packet");
        let packet = RtpPacket::parse(&buf[..len]).unwrap();
        assert_eq!((packet.ssrc(), packet.payload_type()), (0x0200, 97));
        rtx_seqs.push(packet.sequence_number());
        let restored = restore_rtx(Bytes::copy_from_slice(&buf[..len]), &restore).unwrap();
        assert!(
            received[received.len() - 8..].contains(&restored.to_vec()),
            "one of the last eight packets, as received"
        );
        restored_packets.push(restored.to_vec());
    }
    let mut distinct = restored_packets[..8].to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 8, "each of the last eight once");
    for w in rtx_seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "RTX numbering has no gap");
    }
    assert_eq!(track.stats().probe_padding_sent, 9);
    assert_eq!(track.stats().retransmitted, 0);
    // Never longer than the bytes asked for: a longer re-send would
    // overshoot the probe's rate.
    let shortest = received[received.len() - 8..]
        .iter()
        .map(Vec::len)
        .min()
        .unwrap();
    assert_eq!(
        track.write_probe_padding(1, shortest + 1, &mut buf),
        Ok(None)
    );
    let len = track
        .write_probe_padding(1, shortest + 2, &mut buf)
        .unwrap()
        .expect("the shortest recent packet fits");
    assert_eq!(len, shortest + 2, "the shortest, with the 2-byte OSN");
    // Without RTX: padding-only packets are the host's.
    assert_eq!(track.write_probe_padding(2, 1500, &mut buf), Ok(None));
    assert_eq!(
        track.write_probe_padding(9, 60, &mut buf),
        Err(TrackError::UnknownSubscriber)
    );
    // A buffer too small says how much is needed; nothing is counted.
    let mut small = [0u8; 30];
    let Err(TrackError::BufferTooSmall { needed }) = track.write_probe_padding(1, 1500, &mut small)
    else {
        panic!("a 30-byte buffer is too small");
    };
    assert!(needed > 30 && needed <= received.iter().map(Vec::len).max().unwrap() + 3);
    assert_eq!(track.stats().probe_padding_sent, 10);
    let mut fits = vec![0u8; needed];
    assert!(track
        .write_probe_padding(1, 1500, &mut fits)
        .unwrap()
        .is_some());
}
