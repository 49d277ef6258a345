//! transport-cc (RTPFB FMT 15) against other implementations' test vectors.
//! Bytes and their decoded meaning are facts taken from:
//! - pion/rtcp `transport_layer_cc_test.go` (TestTransportLayerCC_Unmarshal
//!   and _Marshal, "exampleN" below);
//! - libwebrtc `modules/rtp_rtcp/source/rtcp_packet/transport_feedback_unittest.cc`
//!   (packet sizes its chunk choice gives, limits, base-time wrap);
//! - str0m `src/rtp/rtcp/twcc.rs` tests.

use rtmedia::cc::SentPacketId;
use rtmedia::packet::rtcp::*;
use rtmedia::packet::{ParseError, WriteError};

fn only(buf: &[u8]) -> Result<RtcpPacket<'_>, ParseError> {
    let mut it = compound(buf);
    let p = it.next().expect("one packet");
    assert!(it.next().is_none());
    p
}

fn twcc(buf: &[u8]) -> TransportFeedback<'_> {
    match only(buf) {
        Ok(RtcpPacket::TransportCc(fb)) => fb,
        other => panic!("not transport-cc: {other:?}"),
    }
}

/// (seq, arrival relative to the reference time in µs) of every status.
fn relative(fb: &TransportFeedback<'_>) -> Vec<(u16, Option<i64>)> {
    let base = fb.reference_time_us();
    fb.results()
        .map(|r| match r.id {
            SentPacketId::TransportSeq(s) => (s, r.arrival_us.map(|a| a - base)),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// Cumulative sums of deltas (µs) for received packets.
fn cumulative(seqs: &[(u16, Option<i64>)]) -> Vec<(u16, Option<i64>)> {
    let mut at = 0;
    seqs.iter()
        .map(|&(s, d)| {
            (
                s,
                d.map(|d| {
                    at += d;
                    at
                }),
            )
        })
        .collect()
}

// pion example1: one run-length chunk, one small delta, 1 byte of RTCP padding.
const PION_EXAMPLE1: [u8; 24] = [
    0xaf, 0xcd, 0x0, 0x5, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0, 0x0, 0x99, 0x0, 0x1, 0x3d,
    0xe8, 0x2, 0x17, 0x20, 0x1, 0x94, 0x1,
];

#[test]
fn pion_example1_single_run() {
    let fb = twcc(&PION_EXAMPLE1);
    assert_eq!(fb.sender_ssrc(), 4195875351);
    assert_eq!(fb.media_ssrc(), 1124282272);
    assert_eq!((fb.base_seq(), fb.status_count()), (153, 1));
    assert_eq!((fb.reference_time_raw(), fb.fb_pkt_count()), (4057090, 23));
    assert_eq!(relative(&fb), [(153, Some(37000))]);
    // Our builder chooses the same chunk and padding: byte for byte.
    let mut out = [0u8; 64];
    let w = TransportFeedbackBuilder {
        sender_ssrc: 4195875351,
        media_ssrc: 1124282272,
        fb_pkt_count: 23,
        ..Default::default()
    }
    .write_into(&mut out, &[(153, Some(4057090 * 64_000 + 37000))])
    .unwrap();
    assert_eq!(w.entries, 1);
    assert_eq!(&out[..w.len], &PION_EXAMPLE1);
}

// pion example4 (unmarshal and marshal): run of 7 small deltas, 3 bytes padding.
const PION_EXAMPLE4: [u8; 32] = [
    0xaf, 0xcd, 0x0, 0x7, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb, 0x0, 0x4, 0x0, 0x7, 0x10,
    0x63, 0x6e, 0x1, 0x20, 0x7, 0x4c, 0x24, 0x24, 0x10, 0xc, 0xc, 0x10, 0x0, 0x0, 0x3,
];

// pion Marshal example5: a 1-bit status vector (received 1,2,3,5 of 1..=14).
const PION_MARSHAL5: [u8; 28] = [
    0xaf, 0xcd, 0x0, 0x6, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb, 0x0, 0x1, 0x0, 0xe, 0x10,
    0x63, 0x6d, 0x0, 0xba, 0x0, 0x10, 0xc, 0xc, 0x10, 0x0, 0x2,
];

// pion Marshal example6: 1-bit vector, 12 statuses (5 received, lost, 2 received, 4 lost).
const PION_MARSHAL6: [u8; 32] = [
    0xaf, 0xcd, 0x0, 0x7, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0, 0x9c, 0x14, 0x0, 0xc,
    0x75, 0x84, 0x20, 0x0, 0xbe, 0xc0, 0xc1, 0x3f, 0x3b, 0x3f, 0x53, 0x90, 0x3b, 0x0, 0x0, 0x3,
];

// pion Unmarshal example6: a 2-bit vector then a run of 48 "not received"
// that the status count (9) cuts to 2; one large delta.
const PION_EXAMPLE6: [u8; 32] = [
    0xaf, 0xcd, 0x0, 0x7, 0x9b, 0x74, 0xf6, 0x1f, 0x93, 0x71, 0xdc, 0xbc, 0x85, 0x3c, 0x0, 0x9,
    0x63, 0xf9, 0x16, 0xb3, 0xd5, 0x52, 0x0, 0x30, 0x9b, 0xaa, 0x6a, 0xaa, 0x7b, 0x1, 0x9, 0x1,
];

#[test]
fn pion_vectors_decode_to_their_meaning() {
    let fb = twcc(&PION_EXAMPLE4);
    assert_eq!(
        (fb.base_seq(), fb.status_count(), fb.fb_pkt_count()),
        (4, 7, 1)
    );
    assert_eq!(fb.reference_time_raw(), 1074030);
    let deltas = [19000, 9000, 9000, 4000, 3000, 3000, 4000];
    let want: Vec<_> = (0..7).map(|i| (4 + i as u16, Some(deltas[i]))).collect();
    assert_eq!(relative(&fb), cumulative(&want));

    let fb = twcc(&PION_MARSHAL5);
    assert_eq!(
        (fb.base_seq(), fb.status_count(), fb.reference_time_raw()),
        (1, 14, 1074029)
    );
    let mut want: Vec<(u16, Option<i64>)> = (1..=14).map(|s| (s, None)).collect();
    for (i, d) in [(0, 4000), (1, 3000), (2, 3000), (4, 4000)] {
        want[i].1 = Some(d);
    }
    assert_eq!(relative(&fb), cumulative(&want));

    let fb = twcc(&PION_MARSHAL6);
    assert_eq!(
        (fb.base_seq(), fb.status_count(), fb.reference_time_raw()),
        (39956, 12, 7701536)
    );
    let got = relative(&fb);
    let received: Vec<_> = got.iter().map(|r| r.1.is_some()).collect();
    let mut want = [true; 12];
    for i in [5, 8, 9, 10, 11] {
        want[i] = false;
    }
    assert_eq!(received, want);
    let d = [48250, 15750, 14750, 15750, 20750, 36000, 14750];
    let arrivals: Vec<_> = got.iter().filter_map(|r| r.1).collect();
    let mut at = 0;
    let want: Vec<_> = d
        .iter()
        .map(|x| {
            at += x;
            at
        })
        .collect();
    assert_eq!(arrivals, want);

    let fb = twcc(&PION_EXAMPLE6);
    assert_eq!(
        (fb.sender_ssrc(), fb.media_ssrc()),
        (2608133663, 2473712828)
    );
    assert_eq!(
        (fb.base_seq(), fb.status_count(), fb.fb_pkt_count()),
        (34108, 9, 179)
    );
    assert_eq!(fb.reference_time_raw(), 6551830);
    let want = cumulative(&[
        (34108, Some(38750)),
        (34109, Some(42500)),
        (34110, Some(26500)),
        (34111, Some(42500)),
        (34112, Some(30750)),
        (34113, None),
        (34114, Some(66250)),
        (34115, None),
        (34116, None),
    ]);
    assert_eq!(relative(&fb), want);
}

/// Our builder writes pion's marshal outputs (libwebrtc's chunk choice and
/// padding) byte for byte from the decoded entries.
#[test]
fn builder_reproduces_pion_bytes() {
    for (bytes, ssrcs) in [
        (&PION_EXAMPLE4[..], (4195875351, 423483579)),
        (&PION_MARSHAL5[..], (4195875351, 423483579)),
        (&PION_MARSHAL6[..], (4195875351, 1124282272)),
    ] {
        let fb = twcc(bytes);
        let entries: Vec<_> = fb
            .results()
            .map(|r| match r.id {
                SentPacketId::TransportSeq(s) => (s, r.arrival_us),
                _ => unreachable!(),
            })
            .collect();
        // Trailing losses are part of what pion encoded; keep them.
        let mut out = [0u8; 64];
        let w = TransportFeedbackBuilder {
            sender_ssrc: ssrcs.0,
            media_ssrc: ssrcs.1,
            fb_pkt_count: fb.fb_pkt_count(),
            ..Default::default()
        }
        .write_into(&mut out, &entries)
        .unwrap();
        assert_eq!(w.entries, entries.len());
        assert_eq!(&out[..w.len], bytes);
    }
}

/// pion example3 sets the P bit with no padding (pion ignores P); with P
/// cleared it decodes to pion's meaning: two runs, large deltas of 2047.5
/// and 2022.5 ms, then small ones.
#[test]
fn pion_example3_large_deltas_run() {
    let mut buf = [
        0xaf, 0xcd, 0x0, 0x7, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb, 0x1, 0x74, 0x0, 0x6,
        0x45, 0xb1, 0x5a, 0x40, 0x40, 0x2, 0x20, 0x04, 0x1f, 0xfe, 0x1f, 0x9a, 0xd0, 0x0, 0xd0,
        0x0,
    ];
    assert_eq!(only(&buf), Err(ParseError::BadPadding));
    buf[0] &= !0x20;
    let fb = twcc(&buf);
    assert_eq!(
        (fb.base_seq(), fb.status_count(), fb.fb_pkt_count()),
        (372, 6, 64)
    );
    assert_eq!(fb.reference_time_raw(), 4567386);
    let d = [2047500, 2022500, 52000, 0, 52000, 0];
    let want: Vec<_> = (0..6).map(|i| (372 + i as u16, Some(d[i]))).collect();
    assert_eq!(relative(&fb), cumulative(&want));
}

/// Shapes pion rejects (examples 8 and 9: "packet too short", deltas
/// missing) and libwebrtc rejects (empty feedback; reserved status), and
/// pion example2 (reserved status 3 within the count, which pion reads as
/// "received without delta") are typed errors here.
#[test]
fn malformed_feedback_is_a_typed_error() {
    let ex8 = [
        0xaf, 0xcd, 0x0, 0x5, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0, 0x0, 0x99, 0x0, 0x3,
        0x3d, 0xe8, 0x2, 0x17, 0x20, 0x3, 0x94, 0x1,
    ];
    assert_eq!(only(&ex8), Err(ParseError::BadLength));
    let ex9 = [
        0xaf, 0xcd, 0x0, 0x5, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0, 0x0, 0x99, 0x0, 0x2,
        0x3d, 0xe8, 0x2, 0x17, 0x40, 0x2, 0x94, 0x1,
    ];
    assert_eq!(only(&ex9), Err(ParseError::BadLength));
    // pion example7: status count 0 (pion accepts it; libwebrtc: "Empty
    // feedback messages not allowed").
    let ex7 = [
        0x8f, 0xcd, 0x0, 0x4, 0x9a, 0xcb, 0x4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(only(&ex7), Err(ParseError::Malformed));
    let ex2 = [
        0xaf, 0xcd, 0x0, 0x6, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb, 0x1, 0x74, 0x0, 0xe,
        0x45, 0xb1, 0x5a, 0x40, 0xd8, 0x0, 0xf0, 0xff, 0xd0, 0x0, 0x0, 0x3,
    ];
    assert!(only(&ex2).is_err());
    // Clear its padding bit so the reserved status is what is rejected.
    let mut ex2b = ex2;
    ex2b[0] &= !0x20;
    assert_eq!(only(&ex2b), Err(ParseError::Malformed));
    // A status count beyond the chunks present.
    let mut beyond = PION_EXAMPLE1;
    beyond[15] = 2;
    assert_eq!(only(&beyond), Err(ParseError::BadLength));
    // A run of reserved status.
    let mut reserved = PION_EXAMPLE1;
    reserved[20] = 0x60;
    assert_eq!(only(&reserved), Err(ParseError::Malformed));
    // Shorter than the fixed part.
    let short = [0x8f, 0xcd, 0x0, 0x3, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 1];
    assert_eq!(only(&short), Err(ParseError::BadLength));
    // Bytes after the last delta are ignored (libwebrtc's Parse does not
    // look at them either).
    let mut long = PION_EXAMPLE1.to_vec();
    long[0] &= !0x20;
    long[3] = 6;
    long.extend_from_slice(&[0; 4]);
    assert_eq!(relative(&twcc(&long)), [(153, Some(37000))]);
}

/// Builds from libwebrtc's FeedbackTester inputs: received sequence
/// numbers, arrival `seq × delta` µs (its GenerateReceiveTimestamps) or
/// given times.
fn build_received(seqs: &[u16], times: &[i64]) -> Vec<u8> {
    let first = seqs[0];
    let mut entries = Vec::new();
    for (i, &s) in seqs.iter().enumerate() {
        if i > 0 {
            let mut m = seqs[i - 1].wrapping_add(1);
            while m != s {
                entries.push((m, None));
                m = m.wrapping_add(1);
            }
        }
        entries.push((s, Some(times[i])));
    }
    let _ = first;
    let mut out = vec![0u8; 2048];
    let w = TransportFeedbackBuilder::default()
        .write_into(&mut out, &entries)
        .unwrap();
    assert_eq!(w.entries, entries.len());
    out.truncate(w.len);
    // What we wrote decodes back to the same statuses and arrivals.
    let fb = twcc(&out);
    let got: Vec<_> = fb
        .results()
        .map(|r| match r.id {
            SentPacketId::TransportSeq(s) => (s, r.arrival_us.is_some()),
            _ => unreachable!(),
        })
        .collect();
    let want: Vec<_> = entries.iter().map(|e| (e.0, e.1.is_some())).collect();
    assert_eq!(got, want);
    let arrivals: Vec<_> = fb.results().filter_map(|r| r.arrival_us).collect();
    for (i, a) in arrivals.iter().enumerate() {
        assert_eq!(
            a - arrivals[0],
            times[i].div_euclid(250) * 250 - times[0].div_euclid(250) * 250
        );
    }
    out
}

fn generated(seqs: &[u16], delta_us: i64) -> Vec<i64> {
    let mut wraps = 0;
    let mut last = seqs[0];
    seqs.iter()
        .map(|&s| {
            if s < last {
                wraps += 0x10000;
            }
            last = s;
            (wraps + i64::from(s)) * delta_us
        })
        .collect()
}

/// Rounded up to 32-bit words, as libwebrtc's tests compare.
fn words(n: usize) -> usize {
    n.next_multiple_of(4)
}

/// libwebrtc's expected sizes: its chunk choice, reproduced.
#[test]
fn libwebrtc_chunk_choice_sizes() {
    const H: usize = 20;
    const C: usize = 2;
    let small = 1000; // libwebrtc's default delta: 4 ticks
    let large = (0xff + 1) * 250; // kDeltaLimit + kDeltaTick
    let cases: Vec<(&str, Vec<u16>, Vec<i64>, usize)> = vec![
        (
            "OneBitVector",
            vec![1, 2, 7, 8, 9, 10, 13],
            generated(&[1, 2, 7, 8, 9, 10, 13], small),
            H + C + 7,
        ),
        (
            "FullOneBitVector",
            vec![1, 2, 7, 8, 9, 10, 13, 14],
            generated(&[1, 2, 7, 8, 9, 10, 13, 14], small),
            H + C + 8,
        ),
        (
            "OneBitVectorWrapReceived",
            vec![65533, 65534, 65535, 0, 1, 2],
            generated(&[65533, 65534, 65535, 0, 1, 2], small),
            H + C + 6,
        ),
        (
            "OneBitVectorWrapMissing",
            vec![65533, 65534, 1, 2],
            generated(&[65533, 65534, 1, 2], small),
            H + C + 4,
        ),
        (
            "TwoBitVector",
            vec![1, 2, 6, 7],
            generated(&[1, 2, 6, 7], large),
            H + C + 4 * 2,
        ),
        (
            "TwoBitVectorFull",
            vec![1, 2, 6, 7, 8],
            generated(&[1, 2, 6, 7, 8], large),
            H + 2 * C + 5 * 2,
        ),
        (
            "LargeAndNegativeDeltas",
            vec![1, 2, 6, 7, 8],
            vec![2000, 1000, 4000, 3000, 3000 + 64_000],
            H + C + 3 * 2 + 1,
        ),
        (
            "MaxRle",
            vec![0, 8191 + 14],
            vec![1000, 2000],
            H + 3 * C + 2,
        ),
        ("MinRle", vec![0, 29], vec![1000, 2000], H + 3 * C + 2),
        (
            "OneToTwoBitVector",
            vec![0, 6],
            vec![0, 64_000],
            H + C + 1 + 2,
        ),
        (
            "OneToTwoBitVectorSimpleSplit",
            vec![0, 7],
            vec![0, 64_000],
            H + 2 * C + 1 + 2,
        ),
    ];
    for (name, seqs, times, size) in cases {
        let out = build_received(&seqs, &times);
        assert_eq!(out.len(), words(size), "{name}");
    }
    // OneToTwoBitVectorSplit: 22 packets 1 ms apart, the 9th 64 ms late.
    let seqs: Vec<u16> = (0..22).collect();
    let mut times = vec![1000i64];
    for i in 1..22 {
        let d = if i == 8 { 64_000 } else { 1000 };
        times.push(times[i - 1] + d);
    }
    let out = build_received(&seqs, &times);
    assert_eq!(out.len(), words(H + 3 * C + 21 + 2));
}

/// libwebrtc TransportFeedbackLimits: a sequence jump of 0x8000 is forward,
/// 0x8001 is not; 65535 statuses at most; deltas within i16 ticks.
#[test]
fn libwebrtc_limits() {
    let b = TransportFeedbackBuilder::default();
    let mut out = vec![0u8; 70_000];
    let w = b
        .write_into(&mut out, &[(0, Some(0)), (0x8000, Some(1000))])
        .unwrap();
    assert_eq!(w.entries, 2);
    assert!(matches!(
        b.write_into(&mut out, &[(0, Some(0)), (0x8001, Some(1000))]),
        Err(WriteError::InvalidArgument(_))
    ));
    let w = b
        .write_into(
            &mut out,
            &[
                (0, Some(0)),
                (0x8000, Some(1000)),
                (0xfffe, Some(2000)),
                (0xffff, Some(3000)),
            ],
        )
        .unwrap();
    assert_eq!(w.entries, 3, "status count max 0xFFFF");
    assert_eq!(twcc(&out[..w.len]).status_count(), 0xffff);
    // Largest positive delta fits, one tick more does not (base 0, arrival 0).
    let max = i64::from(i16::MAX) * 250;
    assert_eq!(
        b.write_into(&mut out, &[(0, Some(0)), (1, Some(max))])
            .unwrap()
            .entries,
        2
    );
    assert_eq!(
        b.write_into(&mut out, &[(0, Some(0)), (1, Some(max + 250))])
            .unwrap()
            .entries,
        1
    );
    // Most negative delta fits, one tick less does not.
    let base = 1_000_000 * 1_000_000i64;
    let min = i64::from(i16::MIN) * 250;
    assert_eq!(
        b.write_into(&mut out, &[(0, Some(base)), (1, Some(base + min))])
            .unwrap()
            .entries,
        2
    );
    assert_eq!(
        b.write_into(&mut out, &[(0, Some(base)), (1, Some(base + min - 250))])
            .unwrap()
            .entries,
        1
    );
}

/// libwebrtc BaseTimeIsConsistentAcrossMultiplePackets: the reference time
/// wraps after 2^24 × 64 ms; unwrapped, consecutive feedbacks stay one tick
/// apart.
#[test]
fn reference_time_wrap() {
    let wrap = 64_000i64 << 24;
    let b = TransportFeedbackBuilder::default();
    let (mut one, mut two) = ([0u8; 64], [0u8; 64]);
    let t1 = wrap - 64_000;
    let n1 = b.write_into(&mut one, &[(0, Some(t1))]).unwrap().len;
    let n2 = b
        .write_into(&mut two, &[(1, Some(t1 + 64_000))])
        .unwrap()
        .len;
    let (f1, f2) = (twcc(&one[..n1]), twcc(&two[..n2]));
    assert_eq!(f1.reference_time_raw(), 0xff_ffff);
    assert_eq!(f2.reference_time_raw(), 0);
    let mut u = ReferenceTimeUnwrapper::new();
    let b1 = u.unwrap(f1.reference_time_raw().into()) * REFERENCE_TICK_US;
    let b2 = u.unwrap(f2.reference_time_raw().into()) * REFERENCE_TICK_US;
    assert_eq!(b2 - b1, 64_000);
    let a1 = f1.results_from(b1).next().unwrap().arrival_us.unwrap();
    let a2 = f2.results_from(b2).next().unwrap().arrival_us.unwrap();
    assert_eq!(a2 - a1, 64_000);
    // Signed: the raw field 0xffffff is −1 tick.
    assert_eq!(f1.reference_time_us(), -64_000);
}

#[test]
fn size_limit_splits_and_reports_how_many_fit() {
    let entries: Vec<_> = (0..500u16)
        .map(|s| (s, Some(i64::from(s) * 3000)))
        .collect();
    let b = TransportFeedbackBuilder {
        max_len: 100,
        ..Default::default()
    };
    let mut out = [0u8; 1500];
    let mut at = 0;
    let mut seen = Vec::new();
    while at < entries.len() {
        let w = b.write_into(&mut out, &entries[at..]).unwrap();
        assert!(w.len <= 100 && w.entries > 0);
        seen.extend(twcc(&out[..w.len]).results().map(|r| r.id));
        at += w.entries;
    }
    let want: Vec<_> = entries
        .iter()
        .map(|e| SentPacketId::TransportSeq(e.0))
        .collect();
    assert_eq!(seen, want);
    // Too small for even one entry.
    let tiny = TransportFeedbackBuilder {
        max_len: 20,
        ..Default::default()
    };
    assert!(matches!(
        tiny.write_into(&mut out, &entries),
        Err(WriteError::BufferTooSmall { .. })
    ));
    assert!(matches!(
        b.write_into(&mut out, &[]),
        Err(WriteError::InvalidArgument(_))
    ));
}

/// str0m `src/rtp/rtcp/twcc.rs` test `too_big_time_gap_requires_two_reports`:
/// arrivals at 0, 12 and 9000 ms need two feedbacks (8988 ms exceeds a
/// 16-bit delta); the second's reference time is 9000 / 64 = 140 and its
/// first delta 40 ms = 160 ticks.
#[test]
fn str0m_time_gap_splits_feedback() {
    let entries = [
        (10u16, Some(0i64)),
        (11, Some(12_000)),
        (12, Some(9_000_000)),
    ];
    let b = TransportFeedbackBuilder::default();
    let mut out = [0u8; 64];
    let w = b.write_into(&mut out, &entries).unwrap();
    assert_eq!(w.entries, 2);
    let w = b.write_into(&mut out, &entries[2..]).unwrap();
    let fb = twcc(&out[..w.len]);
    assert_eq!(fb.reference_time_raw(), 140);
    assert_eq!(out[20..22], [0x20, 0x01], "one run of one small delta");
    assert_eq!(out[22], 160);
}
