//! Proves the congestion-control wire paths allocate nothing in steady
//! state: the recorder per packet and per feedback (both formats), feedback
//! parsing and building, and the transport-wide sequence number stamp. A
//! counting global allocator (as in tests/alloc_free.rs) counts this
//! thread's heap allocations while they run.

use rtmedia::cc::recorder::{FeedbackFormat, FeedbackRecorder, RecorderConfig};
use rtmedia::cc::SentPacketId;
use rtmedia::packet::rtcp::{compound, RtcpPacket, TransportFeedbackBuilder};
use rtmedia::packet::{RtpBuilder, RtpPacket};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

/// Feeds `rec` 20 s of 1000 packets/s with loss, reordering and duplicates,
/// polling every ms; returns (feedback packets, results parsed).
fn run(rec: &mut FeedbackRecorder, start_ms: u64, rtp: bool, buf: &mut [u8]) -> (u64, u64) {
    let (mut sent, mut parsed) = (0, 0);
    for ms in start_ms..start_ms + 20_000 {
        let i = ms as u16;
        let now = ms * 1000;
        let seq = match ms % 50 {
            7 => continue,           // lost
            11 => i.wrapping_sub(3), // late
            13 => i.wrapping_sub(1), // duplicate
            _ => i,
        };
        let id = if rtp {
            SentPacketId::Rtp {
                ssrc: 0x1000 + (ms % 3) as u32,
                seq,
            }
        } else {
            SentPacketId::TransportSeq(seq)
        };
        rec.on_packet(id, 1100, now);
        while let Some(n) = rec.poll_feedback(now, buf).unwrap() {
            sent += 1;
            for p in compound(&buf[..n]).flatten() {
                parsed += match p {
                    RtcpPacket::TransportCc(fb) => fb.results().count() as u64,
                    RtcpPacket::CongestionFeedback(fb) => fb.results().count() as u64,
                    _ => 0,
                };
            }
        }
    }
    (sent, parsed)
}

#[test]
fn recorder_transport_cc_allocates_nothing_per_packet_or_feedback() {
    let mut rec = FeedbackRecorder::new(RecorderConfig::default()).unwrap();
    let mut buf = vec![0u8; 1500];
    run(&mut rec, 0, false, &mut buf); // warm-up
    let mut counts = (0, 0);
    let n = allocations_in(|| counts = run(&mut rec, 20_000, false, &mut buf));
    assert!(counts.0 >= 150, "feedback sent: {counts:?}");
    assert!(counts.1 >= 19_000, "results parsed: {counts:?}");
    assert_eq!(
        n, 0,
        "allocations in 20 000 packets and {} feedbacks",
        counts.0
    );
}

#[test]
fn recorder_rfc8888_allocates_nothing_per_packet_or_feedback() {
    let cfg = RecorderConfig {
        format: FeedbackFormat::Rfc8888,
        ..Default::default()
    };
    let mut rec = FeedbackRecorder::new(cfg).unwrap();
    let mut buf = vec![0u8; 1500];
    run(&mut rec, 0, true, &mut buf); // warm-up: the three streams' windows
    let mut counts = (0, 0);
    let n = allocations_in(|| counts = run(&mut rec, 20_000, true, &mut buf));
    assert!(counts.0 >= 150 && counts.1 >= 19_000, "{counts:?}");
    assert_eq!(n, 0);
}

#[test]
fn builder_and_transport_seq_stamp_allocate_nothing() {
    let entries: Vec<(u16, Option<i64>)> = (0..300u16)
        .map(|s| {
            (
                s.wrapping_add(65_400),
                (s % 9 != 0).then_some(i64::from(s) * 1_337),
            )
        })
        .collect();
    let mut out = vec![0u8; 1500];
    let payload = [0u8; 1000];
    let mut pkt = vec![0u8; 1500];
    let len = RtpBuilder {
        payload_type: 96,
        ssrc: 1,
        extensions: &[(3, &[0, 0])],
        payload: &payload,
        ..Default::default()
    }
    .write_into(&mut pkt)
    .unwrap();
    let n = allocations_in(|| {
        for k in 0..1000u16 {
            let w = TransportFeedbackBuilder {
                max_len: 1200,
                ..Default::default()
            }
            .write_into(&mut out, &entries)
            .unwrap();
            assert_eq!(w.entries, entries.len());
            let mut p = RtpPacket::parse(&mut pkt[..len]).unwrap();
            p.set_transport_seq(3, k).unwrap();
            assert_eq!(p.transport_seq(3), Some(k));
        }
    });
    assert_eq!(n, 0);
}
