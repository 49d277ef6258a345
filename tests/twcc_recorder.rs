//! The feedback recorder: what it sends back, read with the packet layer's
//! parsers, under loss, reordering, duplicates, wrap, hostile jumps, and
//! its RTCP rate bound.

use rtmedia::cc::recorder::{FeedbackFormat, FeedbackRecorder, RecorderConfig};
use rtmedia::cc::{PacketResult, SentPacketId};
use rtmedia::packet::rtcp::{compound, RtcpPacket};

fn tseq(s: u16) -> SentPacketId {
    SentPacketId::TransportSeq(s)
}

/// Every feedback packet due at `now`, parsed into results.
fn drain(rec: &mut FeedbackRecorder, now: u64) -> Vec<Vec<PacketResult>> {
    let mut buf = [0u8; 1500];
    let mut out = Vec::new();
    while let Some(n) = rec.poll_feedback(now, &mut buf).unwrap() {
        assert!(n <= rec.config().max_packet_len);
        let p = compound(&buf[..n]).next().unwrap().unwrap();
        out.push(match p {
            RtcpPacket::TransportCc(fb) => fb.results().collect(),
            RtcpPacket::CongestionFeedback(fb) => fb.results().collect(),
            other => panic!("{other:?}"),
        });
        assert!(out.len() < 1000, "never-ending round");
    }
    out
}

fn seqs_and_arrivals(r: &[PacketResult]) -> Vec<(u16, Option<i64>)> {
    r.iter()
        .map(|r| match r.id {
            SentPacketId::TransportSeq(s) => (s, r.arrival_us),
            SentPacketId::Rtp { seq, .. } => (seq, r.arrival_us),
        })
        .collect()
}

/// Arrivals relative to the first received one.
fn relative(v: &[(u16, Option<i64>)]) -> Vec<(u16, Option<i64>)> {
    let first = v.iter().find_map(|e| e.1).unwrap();
    v.iter().map(|&(s, a)| (s, a.map(|a| a - first))).collect()
}

#[test]
fn reports_every_packet_with_loss_every_100_ms() {
    let mut rec = FeedbackRecorder::new(RecorderConfig::default()).unwrap();
    let t0 = 5_000_000u64;
    for i in 0..50u16 {
        if i % 10 == 7 {
            continue; // lost
        }
        rec.on_packet(tseq(1000 + i), 1200, t0 + u64::from(i) * 1000 + 17);
    }
    assert_eq!(rec.next_wakeup(), Some(t0 + 17 + 100_000));
    assert!(drain(&mut rec, t0 + 99_000).is_empty(), "not due yet");
    let fbs = drain(&mut rec, t0 + 100_017);
    assert_eq!(fbs.len(), 1);
    let got = relative(&seqs_and_arrivals(&fbs[0]));
    assert_eq!(got.len(), 50);
    for (i, (s, a)) in got.iter().enumerate() {
        assert_eq!(*s, 1000 + i as u16);
        if i % 10 == 7 {
            assert_eq!(*a, None);
        } else {
            assert_eq!(
                *a,
                Some(i as i64 * 1000),
                "250 µs resolution keeps 1 ms steps"
            );
        }
    }
    assert_eq!(rec.next_wakeup(), None, "nothing new");
    assert!(drain(&mut rec, t0 + 300_000).is_empty());
    // Next packets: a new round starting after the last reported.
    rec.on_packet(tseq(1050), 1200, t0 + 310_000);
    let fbs = drain(&mut rec, t0 + 400_017);
    assert_eq!(seqs_and_arrivals(&fbs[0]).len(), 1);
    assert_eq!(rec.stats().feedback_packets, 2);
}

#[test]
fn feedback_packet_count_increments_and_wraps() {
    let mut rec = FeedbackRecorder::new(RecorderConfig::default()).unwrap();
    let mut buf = [0u8; 1500];
    let mut counts = Vec::new();
    let mut now = 0;
    for i in 0..300u16 {
        rec.on_packet(tseq(i), 1000, now);
        now += 100_000;
        // Keep the interval at 100 ms: plenty of incoming bytes.
        rec.on_packet(tseq(i), 1_000_000, now); // duplicate: bytes count, arrival kept
        let n = rec.poll_feedback(now, &mut buf).unwrap().unwrap();
        let Ok(RtcpPacket::TransportCc(fb)) = compound(&buf[..n]).next().unwrap() else {
            panic!()
        };
        counts.push(fb.fb_pkt_count());
    }
    for w in counts.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1));
    }
    assert_eq!(counts[0], 0);
    assert_eq!(counts[256], 0);
    assert_eq!(rec.stats().duplicates, 300);
}

#[test]
fn reordering_duplicates_and_late_packets() {
    let mut rec = FeedbackRecorder::new(RecorderConfig::default()).unwrap();
    rec.on_packet(tseq(10), 10_000, 1_000);
    rec.on_packet(tseq(12), 10_000, 2_000);
    rec.on_packet(tseq(11), 10_000, 3_000); // reordered: negative delta after 12
    rec.on_packet(tseq(12), 10_000, 9_000); // duplicate: first arrival kept
    let fbs = drain(&mut rec, 101_000);
    assert_eq!(
        relative(&seqs_and_arrivals(&fbs[0])),
        [(10, Some(0)), (11, Some(2000)), (12, Some(1000))]
    );
    assert_eq!(rec.stats().duplicates, 1);
    // 14 arrives; 13 arrives after 14 was reported: it is reported again
    // (from 13) in the next round, as libwebrtc does.
    rec.on_packet(tseq(14), 10_000, 110_000);
    let fbs = drain(&mut rec, 201_000);
    assert_eq!(
        seqs_and_arrivals(&fbs[0]),
        [(13, None), (14, Some(110_000))]
    );
    rec.on_packet(tseq(13), 10_000, 205_000);
    let fbs = drain(&mut rec, 301_000);
    let got = seqs_and_arrivals(&fbs[0]);
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [13, 14]);
    assert_eq!(got[0].1.unwrap() - got[1].1.unwrap(), 95_000);
}

#[test]
fn sequence_wrap_is_continuous() {
    let mut rec = FeedbackRecorder::new(RecorderConfig::default()).unwrap();
    for (i, s) in (65530u16..=65535).chain(0..6).enumerate() {
        rec.on_packet(tseq(s), 1000, 1_000 + i as u64 * 2_000);
    }
    let fbs = drain(&mut rec, 200_000);
    let got = relative(&seqs_and_arrivals(&fbs[0]));
    let want: Vec<_> = (65530u16..=65535)
        .chain(0..6)
        .enumerate()
        .map(|(i, s)| (s, Some(i as i64 * 2000)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn hostile_jumps_stay_within_the_window() {
    let cfg = RecorderConfig {
        window: 1024,
        ..Default::default()
    };
    let mut rec = FeedbackRecorder::new(cfg).unwrap();
    rec.on_packet(tseq(0), 100, 1_000);
    // Forward jump of 30 000 (less than half the 16-bit space: forward).
    rec.on_packet(tseq(30_000), 100, 2_000);
    let fbs = drain(&mut rec, 200_000);
    let statuses: usize = fbs.iter().map(Vec::len).sum();
    assert!(statuses <= 1024, "{statuses} statuses for a 1024 window");
    let s = rec.stats();
    assert_eq!(s.evicted, 1, "packet 0 pushed out unreported");
    // Far behind: dropped and counted.
    rec.on_packet(tseq(30_000 - 2000), 100, 210_000);
    assert_eq!(rec.stats().too_old, 1);
    // A flood of jumps: every one costs at most the window, results bounded.
    for k in 0..200u16 {
        rec.on_packet(
            tseq(30_000u16.wrapping_add(k.wrapping_mul(20_000))),
            100,
            220_000 + u64::from(k),
        );
    }
    let fbs = drain(&mut rec, 400_000);
    assert!(fbs.iter().map(Vec::len).sum::<usize>() <= 1024);
}

#[test]
fn large_rounds_split_into_several_packets() {
    let cfg = RecorderConfig {
        max_packet_len: 100,
        ..Default::default()
    };
    let mut rec = FeedbackRecorder::new(cfg).unwrap();
    for i in 0..1000u16 {
        // Irregular arrivals so that chunks are vectors with many deltas.
        rec.on_packet(tseq(i), 1200, u64::from(i) * 97 + u64::from(i % 3) * 300);
    }
    let fbs = drain(&mut rec, 1_000_000);
    assert!(fbs.len() > 5);
    let all: Vec<_> = fbs.iter().flat_map(|f| seqs_and_arrivals(f)).collect();
    assert_eq!(all.len(), 1000);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, e)| e.0 == i as u16 && e.1.is_some()));
}

/// Feedback stays near 5 % of the incoming rate: at a low rate the interval
/// stretches (up to 250 ms), at a high one it stays at the configured 100 ms.
#[test]
fn rtcp_share_bounds_the_interval() {
    for (packet_bytes, gap_us, want_interval) in [
        (1200usize, 1_000u64, 100_000u64), // 9.6 Mbit/s
        (100, 50_000, 250_000),            // 16 kbit/s: 5 % is 100 B/s, capped
        (200, 20_000, 0),                  // 80 kbit/s: stretched, in between
    ] {
        let mut rec = FeedbackRecorder::new(RecorderConfig::default()).unwrap();
        let mut now = 0u64;
        let mut seq = 0u16;
        let mut incoming = 0u64;
        let mut buf = [0u8; 1500];
        let mut fb_bytes = 0u64;
        while now < 10_000_000 {
            rec.on_packet(tseq(seq), packet_bytes, now);
            incoming += packet_bytes as u64;
            seq = seq.wrapping_add(1);
            while let Some(n) = rec.poll_feedback(now, &mut buf).unwrap() {
                fb_bytes += (n + rtmedia::cc::recorder::FEEDBACK_OVERHEAD) as u64;
            }
            now += gap_us;
        }
        let interval = rec.interval_us();
        if want_interval > 0 {
            assert_eq!(
                interval, want_interval,
                "{packet_bytes} B every {gap_us} µs"
            );
        } else {
            assert!(interval > 100_000 && interval < 250_000, "{interval}");
        }
        let share = fb_bytes as f64 / incoming as f64;
        if interval < 250_000 {
            assert!(
                share <= 0.055,
                "feedback {:.1} % of incoming",
                share * 100.0
            );
        }
    }
}

#[test]
fn rfc8888_per_ssrc_reports() {
    let cfg = RecorderConfig {
        format: FeedbackFormat::Rfc8888,
        max_streams: 2,
        ..Default::default()
    };
    let mut rec = FeedbackRecorder::new(cfg).unwrap();
    let rtp = |ssrc, seq| SentPacketId::Rtp { ssrc, seq };
    for i in 0..20u16 {
        rec.on_packet_ecn(
            rtp(0xa, 65530u16.wrapping_add(i)),
            1000,
            2,
            1_000_000 + u64::from(i) * 5_000,
        );
        if i != 4 {
            rec.on_packet(
                rtp(0xb, 100 + i),
                1000,
                1_000_000 + u64::from(i) * 5_000 + 1_000,
            );
        }
    }
    rec.on_packet(rtp(0xc, 1), 1000, 1_050_000); // third SSRC: over the cap
    assert_eq!(rec.stats().rejected, 1);
    rec.on_packet(tseq(1), 1000, 1_050_000); // wrong kind of id
    assert_eq!(rec.stats().rejected, 2);
    let fbs = drain(&mut rec, 1_200_000);
    assert_eq!(fbs.len(), 1);
    let r = &fbs[0];
    assert_eq!(r.len(), 40);
    let a: Vec<_> = r
        .iter()
        .filter(|p| matches!(p.id, SentPacketId::Rtp { ssrc: 0xa, .. }))
        .collect();
    let b: Vec<_> = r
        .iter()
        .filter(|p| matches!(p.id, SentPacketId::Rtp { ssrc: 0xb, .. }))
        .collect();
    assert_eq!(a.len(), 20);
    assert!(a.iter().all(|p| p.ecn == Some(2)));
    assert_eq!(a[0].id, rtp(0xa, 65530));
    assert_eq!(a[19].id, rtp(0xa, 65530u16.wrapping_add(19)));
    assert_eq!(b[4].arrival_us, None);
    // Arrival differences within 1/1024 s (977 µs) of the truth.
    for (i, p) in a.iter().enumerate() {
        let d = p.arrival_us.unwrap() - a[0].arrival_us.unwrap();
        assert!((d - i as i64 * 5000).abs() <= 977, "{i}: {d}");
    }
    for (i, p) in b.iter().enumerate() {
        if let Some(t) = p.arrival_us {
            let d = t - a[0].arrival_us.unwrap();
            assert!((d - (i as i64 * 5000 + 1000)).abs() <= 977, "{i}: {d}");
        }
    }
}

#[test]
fn config_is_checked() {
    for bad in [
        RecorderConfig {
            interval_us: 40_000,
            ..Default::default()
        },
        RecorderConfig {
            interval_us: 300_000,
            ..Default::default()
        },
        RecorderConfig {
            window: 1000,
            ..Default::default()
        },
        RecorderConfig {
            window: 1 << 16,
            ..Default::default()
        },
        RecorderConfig {
            max_packet_len: 40,
            ..Default::default()
        },
        RecorderConfig {
            rtcp_share_percent: 0,
            ..Default::default()
        },
    ] {
        assert!(FeedbackRecorder::new(bad).is_err(), "{bad:?}");
    }
    let mut rec = FeedbackRecorder::new(RecorderConfig::default()).unwrap();
    rec.on_packet(tseq(1), 100, 0);
    let mut small = [0u8; 32];
    assert!(rec.poll_feedback(1_000_000, &mut small).is_err());
}

mod props {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random arrivals (loss, reordering, duplicates, wrap), polled as
        /// a host would: every packet reported received was received, at its
        /// first arrival (250 µs resolution), and every packet received
        /// within the window is reported received at least once.
        #[test]
        fn every_arrival_is_reported_truthfully(
            start in any::<u16>(),
            steps in prop::collection::vec((-40i64..40, 0u64..3000, 0u8..10), 1..1500),
        ) {
            let mut rec = FeedbackRecorder::new(RecorderConfig { window: 1024, ..Default::default() }).unwrap();
            let mut truth: HashMap<u16, u64> = HashMap::new();
            let mut ext = i64::from(start);
            let mut highest = ext;
            let mut now = 1_000_000u64;
            let mut reported: HashMap<u16, Vec<i64>> = HashMap::new();
            let collect = |fbs: Vec<Vec<PacketResult>>, reported: &mut HashMap<u16, Vec<i64>>| {
                for r in fbs.into_iter().flatten() {
                    if let (SentPacketId::TransportSeq(s), Some(a)) = (r.id, r.arrival_us) {
                        reported.entry(s).or_default().push(a);
                    }
                }
            };
            for (jump, dt, kind) in steps {
                // Mostly in order; sometimes back (reordering or duplicate), sometimes a gap (loss).
                ext = match kind {
                    0 => ext + jump,
                    1 => ext,
                    _ => highest + 1,
                };
                highest = highest.max(ext);
                now += dt;
                let seq = ext as u16;
                rec.on_packet(tseq(seq), 1200, now);
                // Packets far behind are dropped by design; only in-window ones count.
                if highest - ext < 1024 {
                    truth.entry(seq).or_insert(now);
                }
                collect(drain(&mut rec, now), &mut reported);
            }
            collect(drain(&mut rec, now + 1_000_000), &mut reported);
            for (seq, arrivals) in &reported {
                let t = truth.get(seq).copied();
                prop_assert!(t.is_some(), "seq {} reported received, never received", seq);
                let want = (t.unwrap() as i64).div_euclid(250) * 250;
                for a in arrivals {
                    prop_assert_eq!(*a, want, "seq {}", seq);
                }
            }
            // Received within the last window of the highest: reported.
            for (seq, _) in truth.iter() {
                let behind = (highest as u16).wrapping_sub(*seq);
                if behind < 1024 - 64 {
                    prop_assert!(reported.contains_key(seq), "seq {} never reported", seq);
                }
            }
        }
    }
}
