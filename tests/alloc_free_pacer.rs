//! The pacer allocates nothing per packet once its queues have reached
//! their high-water mark: a counting global allocator counts heap
//! allocations made by this thread while packets go through it.

use bytes::Bytes;
use rtmedia::cc::{Pacer, PacerConfig, PacerOutput, PacketClass};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

/// One second of a conference leg: three videos with a keyframe burst
/// each, audio, retransmissions, a probe; everything drained as it is due.
fn run(p: &mut Pacer, packet: &Bytes, start: u64) -> usize {
    let mut sent = 0;
    let mut now = start;
    for tick in 0..100u64 {
        let t = start + tick * 10_000;
        for ssrc in 1..=3u32 {
            let burst = if tick % 50 == ssrc as u64 { 20 } else { 1 };
            for i in 0..burst {
                p.push(
                    t,
                    ssrc,
                    PacketClass::Video,
                    packet.clone(),
                    burst > 1 && i == 0,
                )
                .unwrap();
            }
        }
        if tick % 2 == 0 {
            p.push(t, 9, PacketClass::Audio, packet.slice(..100), false)
                .unwrap();
        }
        if tick % 10 == 0 {
            p.push(t, 2, PacketClass::Retransmission, packet.clone(), false)
                .unwrap();
        }
        if tick == 30 {
            p.start_probe(t, 7, 3_000_000, 20_000, 10, 200_000);
        }
        now = now.max(t);
        loop {
            match p.poll(now) {
                PacerOutput::Send(_) | PacerOutput::Padding { .. } => sent += 1,
                PacerOutput::Wait(Some(at)) if at < t + 10_000 => now = at,
                PacerOutput::Wait(_) => break,
            }
        }
    }
    sent
}

#[test]
fn pacing_allocates_nothing_per_packet() {
    let mut p = Pacer::new(PacerConfig::default());
    p.set_target_bitrate(2_000_000);
    let packet = Bytes::from(vec![0x5au8; 1200]);
    let _shared = packet.clone(); // the first clone makes it reference-counted
    let warm = run(&mut p, &packet, 0);
    assert!(warm > 400, "{warm} packets");
    let mut sent = 0;
    let n = allocations_in(|| sent = run(&mut p, &packet, 1_000_000));
    assert!(sent > 400, "{sent} packets");
    assert_eq!(n, 0, "allocations while pacing {sent} packets");
}

/// The egress loop of an SFU leg after the pacer: every sent packet into
/// the estimator and the video budget, feedback back, the budget read and
/// the allocator (probe-confirmed) re-run, probes polled. Nothing allocates.
#[test]
fn egress_accounting_and_allocation_allocate_nothing() {
    use rtmedia::cc::{Bwe, BweConfig, PacketResult, SentPacketId, VideoBudget};
    use rtmedia::simulcast::{Allocator, AllocatorConfig, Layer, LayerBitrates, TrackDemand};

    let mut bwe = Bwe::new(BweConfig::default(), 0);
    let mut budget = VideoBudget::new(Default::default());
    let mut alloc = Allocator::new(
        AllocatorConfig {
            probe_confirmed_upgrades: true,
            ..AllocatorConfig::default()
        },
        4,
    );
    let mut rates = LayerBitrates::default();
    rates.0[0] = [50_000, 80_000, 100_000, 0];
    rates.0[1] = [150_000, 220_000, 300_000, 0];
    rates.0[2] = [400_000, 600_000, 800_000, 0];
    let demands: Vec<TrackDemand> = (0..3)
        .map(|j| TrackDemand {
            priority: if j == 0 { 10 } else { 1 },
            max_layer: if j == 0 {
                Layer::new(2, 2)
            } else {
                Layer::new(0, 2)
            },
            bitrates: rates,
            muted: false,
            keyframe_bytes: [5_000, 14_000, 30_000],
        })
        .collect();
    let mut seq = 0u16;
    let mut run = |bwe: &mut Bwe, budget: &mut VideoBudget, alloc: &mut Allocator, start: u64| {
        let mut results = [PacketResult {
            id: SentPacketId::TransportSeq(0),
            arrival_us: None,
            ecn: None,
        }; 100];
        for tick in 0..20u64 {
            let now = start + tick * 100_000;
            for (k, r) in results.iter_mut().enumerate() {
                let t = now + k as u64 * 1_000;
                let class = match k % 10 {
                    0 => PacketClass::Audio,
                    1 => PacketClass::Retransmission,
                    _ => PacketClass::Video,
                };
                bwe.on_sent(t, SentPacketId::TransportSeq(seq), 1_000, None);
                budget.on_sent(t, class, 1_000);
                *r = PacketResult {
                    id: SentPacketId::TransportSeq(seq),
                    arrival_us: Some(t as i64 + 30_000),
                    ecn: None,
                };
                seq = seq.wrapping_add(1);
            }
            bwe.on_feedback(now + 130_000, results);
            while bwe.poll_probe(now + 130_000).is_some() {}
            if let Some((_, bps)) = bwe.last_probe_result() {
                alloc.on_probe_result(budget.video_bps(now, bps));
            }
            let video = budget.video_bps(now, bwe.target_bps());
            alloc.allocate(video, &demands, now);
            if let Some(w) = alloc.wanted_bps() {
                bwe.request_probe(now, budget.probe_bps(now, w, bwe.target_bps()));
            }
        }
    };
    run(&mut bwe, &mut budget, &mut alloc, 0);
    let n = allocations_in(|| run(&mut bwe, &mut budget, &mut alloc, 2_000_000));
    assert_eq!(n, 0, "allocations in 2 s of egress accounting");
}
