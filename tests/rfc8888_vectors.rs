//! RFC 8888 congestion control feedback (RTPFB FMT 11) against pion/rtcp's
//! `rfc8888_test.go` vectors (bytes and decoded meaning carry over as facts).

use rtmedia::cc::{PacketResult, SentPacketId};
use rtmedia::packet::rtcp::*;
use rtmedia::packet::ParseError;

fn only(buf: &[u8]) -> Result<RtcpPacket<'_>, ParseError> {
    let mut it = compound(buf);
    let p = it.next().expect("one packet");
    assert!(it.next().is_none());
    p
}

// pion rfc8888_test.go TestCCFeedbackReportUnmarshalMarshal "Report".
const PION_CCFB: [u8; 44] = [
    0x8B, 0xCD, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x01, //
    0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x04, 0x9F, 0xFD, 0x9F, 0xFC, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x03, 0x9F, 0xFD, 0x9F, 0xFC, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01,
];

#[test]
fn pion_rfc8888_report() {
    let RtcpPacket::CongestionFeedback(fb) = only(&PION_CCFB).unwrap() else {
        panic!("not RFC 8888");
    };
    assert_eq!((fb.sender_ssrc(), fb.report_timestamp()), (1, 1));
    let blocks: Vec<_> = fb.blocks().collect();
    assert_eq!(blocks.len(), 2);
    let m = |seq, ato| Metric {
        seq,
        received: true,
        ecn: 0,
        ato,
    };
    assert_eq!((blocks[0].ssrc, blocks[0].begin_seq), (1, 2));
    assert_eq!(
        blocks[0].metrics().collect::<Vec<_>>(),
        [m(2, 8189), m(3, 8188), Metric::lost(4), Metric::lost(5)]
    );
    assert_eq!((blocks[1].ssrc, blocks[1].begin_seq), (2, 2));
    assert_eq!(
        blocks[1].metrics().collect::<Vec<_>>(),
        [m(2, 8189), m(3, 8188), Metric::lost(4)]
    );
    // Results: arrival = report timestamp − ATO / 1024 s.
    let r: Vec<PacketResult> = fb.results_from(0).collect();
    assert_eq!(r.len(), 7);
    assert_eq!(r[0].id, SentPacketId::Rtp { ssrc: 1, seq: 2 });
    assert_eq!(r[0].arrival_us, Some(-(8189 * 1_000_000 / 1024)));
    assert_eq!(r[2].arrival_us, None);
    assert_eq!(r[6].id, SentPacketId::Rtp { ssrc: 2, seq: 4 });
    // Rebuilt byte for byte.
    let a: Vec<_> = blocks[0].metrics().collect();
    let b: Vec<_> = blocks[1].metrics().collect();
    let streams = [
        CcfbStream {
            ssrc: 1,
            metrics: &a,
        },
        CcfbStream {
            ssrc: 2,
            metrics: &b,
        },
    ];
    let builder = CcfbBuilder {
        sender_ssrc: 1,
        report_timestamp: 1,
        streams: &streams,
    };
    let mut out = [0u8; 64];
    let n = builder.write_into(&mut out).unwrap();
    assert_eq!(&out[..n], &PION_CCFB);
    // pion "EmtpyReport": no blocks.
    let empty = [0x8B, 0xCD, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 1];
    let RtcpPacket::CongestionFeedback(fb) = only(&empty).unwrap() else {
        panic!()
    };
    assert_eq!(fb.blocks().count(), 0);
}

/// pion's metric block vectors: R, ECN (CE = 3), ATO; over-range (0x1FFE)
/// and after-report (0x1FFF) are received but carry no arrival time.
#[test]
fn pion_rfc8888_metrics_and_errors() {
    let block = |metric: [u8; 2]| {
        let mut b = vec![0x8B, 0xCD, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 9, 0, 7, 0, 1];
        b.extend_from_slice(&metric);
        b.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
        b
    };
    let first = |b: &[u8]| match only(b).unwrap() {
        RtcpPacket::CongestionFeedback(fb) => (
            fb.blocks().next().unwrap().metrics().next().unwrap(),
            fb.results().count(),
        ),
        _ => panic!(),
    };
    let cases = [
        ([0x80, 0x00], true, 0, 0, 1),
        ([0x9F, 0xFD], true, 0, 8189, 1),
        ([0x9F, 0xFE], true, 0, ATO_OVER_RANGE, 0),
        ([0x9F, 0xFF], true, 0, ATO_UNAVAILABLE, 0),
        ([0xFF, 0xF8], true, 3, 8184, 1),
        ([0x62, 0x00], false, 0, 0, 1), // not received: other bits ignored
        ([0x00, 0x00], false, 0, 0, 1),
    ];
    for (bytes, received, ecn, ato, results) in cases {
        let (m, n) = first(&block(bytes));
        assert_eq!(
            (m.seq, m.received, m.ecn, m.ato, n),
            (7, received, ecn, ato, results),
            "{bytes:x?}"
        );
    }
    // pion incorrectNumReports: 6 announced, 4 present.
    let mut b = block([0x80, 0]);
    b[15] = 6;
    assert_eq!(only(&b), Err(ParseError::BadLength));
    // More than 16384 reports in a block.
    let mut big = vec![
        0x8B, 0xCD, 0x20, 0x05, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0x40, 0x01,
    ];
    big.resize(8 + 8 + 16388 + 4, 0);
    let words = (big.len() / 4 - 1) as u16;
    big[2..4].copy_from_slice(&words.to_be_bytes());
    assert_eq!(only(&big), Err(ParseError::Malformed));
    // Too short for the sender SSRC and report timestamp.
    assert_eq!(
        only(&[0x8B, 0xCD, 0x00, 0x01, 0, 0, 0, 1]),
        Err(ParseError::BadLength)
    );
    // A partial block header.
    let partial = [0x8B, 0xCD, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1];
    assert_eq!(only(&partial), Err(ParseError::BadLength));
}
