//! Property tests for transport-cc and RFC 8888 feedback: arbitrary bytes
//! never panic, what the builders write parses back to what they were
//! given, and feedback encoded independently here (random chunks of every
//! kind) parses and rebuilds to the same packets and arrival times.

use proptest::prelude::*;
use rtmedia::cc::SentPacketId;
use rtmedia::packet::rtcp::*;

/// Wraps `body` in an RTPFB header with `fmt` (length rounded up with zeros).
fn rtpfb(fmt: u8, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    b.resize(b.len().next_multiple_of(4), 0);
    let mut p = vec![0x80 | fmt, 205];
    p.extend_from_slice(&((b.len() / 4) as u16).to_be_bytes());
    p.extend_from_slice(&b);
    p
}

fn parse_twcc(buf: &[u8]) -> TransportFeedback<'_> {
    match compound(buf).next().unwrap().unwrap() {
        RtcpPacket::TransportCc(fb) => fb,
        other => panic!("{other:?}"),
    }
}

fn entries_of(fb: &TransportFeedback<'_>) -> Vec<(u16, Option<i64>)> {
    fb.results()
        .map(|r| match r.id {
            SentPacketId::TransportSeq(s) => (s, r.arrival_us),
            _ => unreachable!(),
        })
        .collect()
}

/// Arrivals relative to the first received entry.
fn relative(v: &[(u16, Option<i64>)]) -> Vec<(u16, Option<i64>)> {
    let first = v.iter().find_map(|e| e.1).unwrap_or(0);
    v.iter().map(|&(s, a)| (s, a.map(|a| a - first))).collect()
}

/// One chunk drawn at random: (chunk, its symbols).
fn chunk() -> impl Strategy<Value = (u16, Vec<u8>)> {
    prop_oneof![
        (0u8..3, 1u16..300).prop_map(|(s, n)| (u16::from(s) << 13 | n, vec![s; n as usize])),
        (0u8..3, 7000u16..=0x1fff).prop_map(|(s, n)| (u16::from(s) << 13 | n, vec![s; n as usize])),
        any::<u16>().prop_map(|bits| {
            let c = 0x8000 | (bits & 0x3fff);
            (c, (0..14).map(|i| ((c >> (13 - i)) & 1) as u8).collect())
        }),
        prop::collection::vec(0u8..3, 7).prop_map(|s| {
            let c = s
                .iter()
                .enumerate()
                .fold(0xc000u16, |c, (i, &x)| c | u16::from(x) << (12 - 2 * i));
            (c, s)
        }),
    ]
}

/// A transport-cc body encoded here, independently of the crate's builder,
/// and the (seq, delta ticks) it means.
#[derive(Debug, Clone)]
struct Encoded {
    body: Vec<u8>,
    statuses: Vec<(u16, Option<i64>)>, // arrival in µs, absolute
}

fn encoded() -> impl Strategy<Value = Encoded> {
    (
        any::<u16>(),
        any::<u32>(),
        prop::collection::vec(chunk(), 1..12),
        0usize..14,
        prop::collection::vec(any::<i16>(), 0..4000),
        any::<u8>(),
    )
        .prop_map(|(base, reference, chunks, cut, delta_src, fb_count)| {
            let mut symbols: Vec<u8> = chunks.iter().flat_map(|c| c.1.iter().copied()).collect();
            let last_len = chunks.last().unwrap().1.len();
            // Let the status count end inside the last chunk.
            let cut = cut.min(last_len - 1);
            symbols.truncate(symbols.len() - cut);
            let symbols = &symbols[..symbols.len().min(0xffff)];
            let reference = reference & 0xff_ffff;
            let mut body = vec![0, 0, 0, 1, 0, 0, 0, 2];
            body.extend_from_slice(&base.to_be_bytes());
            body.extend_from_slice(&(symbols.len() as u16).to_be_bytes());
            body.extend_from_slice(&(reference << 8 | u32::from(fb_count)).to_be_bytes());
            for (c, _) in &chunks {
                body.extend_from_slice(&c.to_be_bytes());
            }
            let mut at = i64::from(((reference << 8) as i32) >> 8) * 64_000;
            let mut statuses = Vec::new();
            let mut src = delta_src.iter().cycle();
            for (i, &s) in symbols.iter().enumerate() {
                let seq = base.wrapping_add(i as u16);
                let d = *src.next().unwrap_or(&7);
                let arrival = match s {
                    1 => {
                        let d = (d as u16 & 0xff) as u8;
                        body.push(d);
                        Some(i64::from(d))
                    }
                    2 => {
                        body.extend_from_slice(&d.to_be_bytes());
                        Some(i64::from(d))
                    }
                    _ => None,
                };
                statuses.push((
                    seq,
                    arrival.map(|d| {
                        at += d * 250;
                        at
                    }),
                ));
            }
            Encoded { body, statuses }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Hostile bodies under both formats: parse or a typed error, never a
    /// panic; everything a parsed view yields is in bounds.
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200), fmt in prop_oneof![Just(15u8), Just(11u8)]) {
        let buf = rtpfb(fmt, &body);
        for p in compound(&buf).flatten() {
            match p {
                RtcpPacket::TransportCc(fb) => {
                    let n = fb.results().count();
                    prop_assert_eq!(n, usize::from(fb.status_count()));
                    prop_assert_eq!(fb.results().filter(|r| r.arrival_us.is_some()).count(), usize::from(fb.received_count()));
                }
                RtcpPacket::CongestionFeedback(fb) => {
                    for b in fb.blocks() {
                        prop_assert_eq!(b.metrics().count(), b.num_reports());
                    }
                    let _ = fb.results().count();
                }
                _ => {}
            }
        }
    }

    /// Valid feedback with one byte changed or cut short: never a panic.
    #[test]
    fn mutated_feedback_never_panics(e in encoded(), at in any::<prop::sample::Index>(), v in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut buf = rtpfb(15, &e.body);
        let i = at.index(buf.len());
        buf[i] = v;
        if let Some(Ok(RtcpPacket::TransportCc(fb))) = compound(&buf).next() {
            let _ = fb.results().count();
        }
        let short = &buf[..cut.index(buf.len())];
        if let Some(Ok(RtcpPacket::TransportCc(fb))) = compound(short).next() {
            let _ = fb.results().count();
        }
    }

    /// Independently encoded feedback parses to its meaning, and our builder
    /// rebuilds it to the same (seq, received, arrival at 250 µs): relative
    /// arrivals equal, status for status.
    #[test]
    fn parse_then_rebuild_keeps_every_status(e in encoded()) {
        let buf = rtpfb(15, &e.body);
        let fb = parse_twcc(&buf);
        let parsed = entries_of(&fb);
        prop_assert_eq!(&parsed, &e.statuses);
        let mut out = vec![0u8; 300_000];
        let w = TransportFeedbackBuilder::default().write_into(&mut out, &parsed).unwrap();
        prop_assert_eq!(w.entries, parsed.len());
        let again = parse_twcc(&out[..w.len]);
        prop_assert_eq!(again.status_count(), fb.status_count());
        prop_assert_eq!(relative(&entries_of(&again)), relative(&parsed));
        // Our output is canonical: rebuilding it gives the same bytes. (Its
        // size may differ from the input's: a delta that fits a byte is
        // always sent small, as libwebrtc does, even inside a run of large ones.)
        let again_entries = entries_of(&again);
        let mut out2 = vec![0u8; 300_000];
        let w2 = TransportFeedbackBuilder::default().write_into(&mut out2, &again_entries).unwrap();
        prop_assert_eq!(&out2[..w2.len], &out[..w.len]);
    }

    /// Builder → parser: every entry comes back (gaps as not received),
    /// arrival rounded down to 250 µs; reordering (negative deltas) and
    /// sequence wrap included. Split under a random size limit, the packets
    /// cover the entries in order, each within the limit.
    #[test]
    fn build_then_parse_round_trip(
        start in any::<u16>(),
        steps in prop::collection::vec((1u16..40, prop::option::weighted(0.8, -30_000i64..200_000)), 1..400),
        t0 in -1_000_000_000i64..1_000_000_000_000,
        max_len in 24usize..600,
    ) {
        let mut entries = Vec::new();
        let (mut seq, mut t) = (start, t0);
        for (gap, dt) in steps {
            seq = seq.wrapping_add(gap);
            let arrival = dt.map(|d| { t += d; t });
            entries.push((seq, arrival));
        }
        let expand = |es: &[(u16, Option<i64>)]| {
            let mut v = Vec::new();
            for (i, &(s, a)) in es.iter().enumerate() {
                if i > 0 {
                    let mut m = es[i - 1].0.wrapping_add(1);
                    while m != s { v.push((m, None)); m = m.wrapping_add(1); }
                }
                v.push((s, a.map(|a: i64| a.div_euclid(250) * 250)));
            }
            v
        };
        let mut out = vec![0u8; 70_000];
        let w = TransportFeedbackBuilder::default().write_into(&mut out, &entries).unwrap();
        prop_assert_eq!(w.entries, entries.len(), "deltas here always fit i16");
        let got = entries_of(&parse_twcc(&out[..w.len]));
        prop_assert_eq!(relative(&got), relative(&expand(&entries)));

        let b = TransportFeedbackBuilder { max_len, ..Default::default() };
        // (A gap at a split point is reported by neither packet: the next
        // one starts at the next entry.)
        let mut at = 0;
        while at < entries.len() {
            let w = b.write_into(&mut out, &entries[at..]).unwrap();
            prop_assert!(w.len <= max_len && w.entries > 0);
            let part = entries_of(&parse_twcc(&out[..w.len]));
            prop_assert_eq!(relative(&part), relative(&expand(&entries[at..at + w.entries])));
            at += w.entries;
        }
    }

    /// RFC 8888 builder → parser keeps every metric, and arrival times
    /// survive at 1/1024 s.
    #[test]
    fn rfc8888_round_trip(
        streams in prop::collection::vec((any::<u32>(), any::<u16>(), prop::collection::vec((any::<bool>(), 0u8..4, 0u16..0x2000), 0..50)), 0..6),
        rts in any::<u32>(),
    ) {
        let metrics: Vec<Vec<Metric>> = streams.iter().map(|(_, begin, ms)| {
            ms.iter().enumerate().map(|(i, &(r, ecn, ato))| {
                let seq = begin.wrapping_add(i as u16);
                if r { Metric { seq, received: true, ecn, ato } } else { Metric::lost(seq) }
            }).collect()
        }).collect();
        let list: Vec<CcfbStream<'_>> = streams.iter().zip(&metrics).map(|((ssrc, _, _), m)| CcfbStream { ssrc: *ssrc, metrics: m }).collect();
        let builder = CcfbBuilder { sender_ssrc: 9, report_timestamp: rts, streams: &list };
        let mut buf = vec![0u8; builder.encoded_len()];
        let n = builder.write_into(&mut buf).unwrap();
        prop_assert_eq!(n, buf.len());
        let Ok(RtcpPacket::CongestionFeedback(fb)) = compound(&buf).next().unwrap() else { panic!() };
        prop_assert_eq!(fb.report_timestamp(), rts);
        let blocks: Vec<_> = fb.blocks().collect();
        prop_assert_eq!(blocks.len(), list.len());
        for (b, s) in blocks.iter().zip(&list) {
            prop_assert_eq!(b.ssrc, s.ssrc);
            prop_assert_eq!(b.metrics().collect::<Vec<_>>(), s.metrics.to_vec());
        }
    }

    /// An arrival → ATO → arrival trip is within half of 1/1024 s.
    #[test]
    fn rfc8888_ato_resolution(ago in 0i64..7_900_000, report in 0i64..1_000_000_000_000) {
        let m = Metric::received_at(1, 0, report - ago, report);
        let back = m.arrival_us(report).unwrap();
        prop_assert!((back - (report - ago)).abs() <= 489, "{} vs {}", back, report - ago);
    }
}
