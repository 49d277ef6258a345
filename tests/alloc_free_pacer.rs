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
