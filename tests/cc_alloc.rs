//! Proves the estimator's hot paths allocate nothing: `on_sent` per packet,
//! `on_feedback` per feedback (transport-wide and RFC 8888 ids), and the
//! timer / probe calls, once constructed. A counting global allocator
//! counts heap allocations made by this thread while they run.

use rtmedia::cc::{Bwe, BweConfig, PacketResult, SentPacketId};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

/// Drives `bwe` for `seconds`: a packet every 2 ms (4 Mbit/s) into a
/// 3 Mbit/s bottleneck with a 200 ms drop-tail queue and 50 ms one-way delay
/// (the estimator sees overuse and cuts), 2 % random loss, probe clusters
/// as requested, feedback every 100 ms from `results` (reused).
fn drive(
    bwe: &mut Bwe,
    now: &mut u64,
    seq: &mut u32,
    results: &mut Vec<PacketResult>,
    rtp_ids: bool,
    seconds: u64,
) {
    let id = |s: u32| {
        if rtp_ids {
            SentPacketId::Rtp {
                ssrc: 0x1000 + s % 3,
                seq: (s / 3) as u16,
            }
        } else {
            SentPacketId::TransportSeq(s as u16)
        }
    };
    let mut free_at = *now;
    let mut pending = 0usize;
    let end = *now + seconds * 1_000_000;
    while *now < end {
        for _ in 0..50 {
            *now += 2_000;
            let size = 1_000;
            bwe.on_sent(*now, id(*seq), size, None);
            let full = free_at.saturating_sub(*now) > 200_000;
            if !full {
                free_at = free_at.max(*now) + size as u64 * 8 * 1_000_000 / 3_000_000;
            }
            let lost = full || seq.wrapping_mul(2_654_435_761) % 50 == 0;
            results[pending] = PacketResult {
                id: id(*seq),
                arrival_us: (!lost).then_some((free_at + 50_000) as i64),
                ecn: None,
            };
            pending += 1;
            *seq = seq.wrapping_add(1);
            if bwe.next_wakeup() <= *now {
                bwe.handle_timeout(*now);
            }
            while let Some(p) = bwe.poll_probe(*now) {
                for k in 0..p.min_packets {
                    bwe.on_sent(*now, id(*seq), 500, Some(p.id));
                    results[pending] = PacketResult {
                        id: id(*seq),
                        arrival_us: Some((free_at + 50_000 + u64::from(k) * 500) as i64),
                        ecn: None,
                    };
                    pending += 1;
                    *seq = seq.wrapping_add(1);
                }
            }
        }
        // An absurd arrival, a duplicate and a never-sent id, every time.
        results[pending - 1].arrival_us = Some(i64::MAX / 4);
        bwe.on_feedback(*now + 50_000, results[..pending].iter().copied());
        bwe.on_feedback(*now + 50_000, results[..1].iter().copied());
        bwe.on_feedback(
            *now + 50_000,
            [PacketResult {
                id: id(seq.wrapping_add(1000)),
                arrival_us: Some(0),
                ecn: None,
            }],
        );
        pending = 0;
        bwe.on_rtt(*now, 100_000);
        bwe.on_remb(*now, Some(50_000_000));
    }
    let _ = results;
}

fn check(rtp_ids: bool) {
    let mut bwe = Bwe::new(BweConfig::default(), 0);
    let mut results = vec![
        PacketResult {
            id: SentPacketId::TransportSeq(0),
            arrival_us: None,
            ecn: None,
        };
        4096
    ];
    let (mut now, mut seq) = (0, 0);
    drive(&mut bwe, &mut now, &mut seq, &mut results, rtp_ids, 5);
    let sent_before = bwe.stats().packets_sent;
    let n = allocations_in(|| drive(&mut bwe, &mut now, &mut seq, &mut results, rtp_ids, 60));
    let s = *bwe.stats();
    assert!(s.packets_sent - sent_before > 25_000, "{s:?}");
    assert!(s.probes_requested > 0 && s.decreases > 0, "{s:?}");
    assert!(s.duplicates > 0 && s.unknown > 0 && s.absurd > 0, "{s:?}");
    assert_eq!(n, 0, "allocations in the estimator's hot paths ({s:?})");
}

#[test]
fn transport_cc_paths_allocate_nothing() {
    check(false);
}

#[test]
fn rfc8888_paths_allocate_nothing() {
    check(true);
}
