//! Property tests for the RTP parser, builder and extension rewriting, with
//! the webrtc-rs `rtp` crate as an independent reference.

use proptest::prelude::*;
use rtmedia::packet::rtp::{add_extension, remove_extension};
use rtmedia::packet::{RtpBuilder, RtpPacket, SeqUnwrapper};

/// Parameters of a well-formed packet.
#[derive(Debug, Clone)]
struct Params {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    exts: Vec<(u8, Vec<u8>)>,
    payload: Vec<u8>,
    padding: u8,
}

impl Params {
    fn builder<'a>(&'a self, exts: &'a [(u8, &'a [u8])]) -> RtpBuilder<'a> {
        RtpBuilder {
            marker: self.marker,
            payload_type: self.pt,
            sequence_number: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
            csrcs: &self.csrcs,
            extensions: exts,
            payload: &self.payload,
            padding: self.padding,
        }
    }

    fn write(&self) -> Vec<u8> {
        let exts: Vec<(u8, &[u8])> = self.exts.iter().map(|(id, v)| (*id, &v[..])).collect();
        let b = self.builder(&exts);
        let mut buf = vec![0u8; b.encoded_len().unwrap()];
        let n = b.write_into(&mut buf).unwrap();
        assert_eq!(n, buf.len());
        buf
    }
}

/// Distinct extension ids, one-byte-compatible or not.
fn extensions(one_byte: bool) -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    let (ids, len) = if one_byte {
        (1u8..=14, 1usize..=16)
    } else {
        (1u8..=255, 0usize..=40)
    };
    prop::collection::btree_map(ids, prop::collection::vec(any::<u8>(), len), 0..5)
        .prop_map(|m| m.into_iter().collect())
}

fn params() -> impl Strategy<Value = Params> {
    (
        any::<bool>(),
        0u8..128,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(any::<u32>(), 0..=15),
        prop_oneof![extensions(true), extensions(false)],
        prop::collection::vec(any::<u8>(), 0..300),
        prop_oneof![Just(0u8), 1u8..=32],
    )
        .prop_map(
            |(marker, pt, seq, ts, ssrc, csrcs, exts, payload, padding)| Params {
                marker,
                pt,
                seq,
                ts,
                ssrc,
                csrcs,
                exts,
                payload,
                padding,
            },
        )
}

fn check_matches(p: &Params, bytes: &[u8]) {
    let pkt = RtpPacket::parse(bytes).unwrap();
    assert_eq!(pkt.marker(), p.marker);
    assert_eq!(pkt.payload_type(), p.pt);
    assert_eq!(pkt.sequence_number(), p.seq);
    assert_eq!(pkt.timestamp(), p.ts);
    assert_eq!(pkt.ssrc(), p.ssrc);
    assert_eq!(pkt.csrcs().collect::<Vec<_>>(), p.csrcs);
    let got: Vec<(u8, Vec<u8>)> = pkt.extensions().map(|e| (e.id, e.data.to_vec())).collect();
    assert_eq!(got, p.exts);
    assert_eq!(pkt.payload(), &p.payload[..]);
    assert_eq!(pkt.padding_len(), usize::from(p.padding));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..200), v2 in any::<bool>()) {
        if v2 && !bytes.is_empty() {
            bytes[0] = (bytes[0] & 0x3f) | 0x80;
        }
        if let Ok(p) = RtpPacket::parse(&bytes[..]) {
            let r = p.payload_range();
            prop_assert!(r.start <= r.end && r.end <= bytes.len());
            prop_assert_eq!(r.end + p.padding_len(), bytes.len());
            let _ = (p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc());
            let _ = p.csrcs().count() + p.extensions().map(|e| e.data.len()).sum::<usize>();
            for id in 0..=255u8 {
                let _ = p.extension(id);
            }
            let _ = p.extension_block();
        }
        let mut buf = bytes.clone();
        buf.resize(bytes.len() + 64, 0);
        let _ = add_extension(&mut buf, bytes.len(), 3, &[1, 2]);
        let mut buf = bytes.clone();
        let _ = remove_extension(&mut buf, bytes.len(), 3);
    }

    #[test]
    fn build_then_parse_round_trips(p in params()) {
        let bytes = p.write();
        check_matches(&p, &bytes);
    }

    #[test]
    fn parse_then_rebuild_gives_identical_bytes(p in params()) {
        let bytes = p.write();
        let pkt = RtpPacket::parse(&bytes[..]).unwrap();
        let exts: Vec<(u8, &[u8])> = pkt.extensions().map(|e| (e.id, e.data)).collect();
        let csrcs: Vec<u32> = pkt.csrcs().collect();
        let rebuilt = RtpBuilder {
            marker: pkt.marker(),
            payload_type: pkt.payload_type(),
            sequence_number: pkt.sequence_number(),
            timestamp: pkt.timestamp(),
            ssrc: pkt.ssrc(),
            csrcs: &csrcs,
            extensions: &exts,
            payload: pkt.payload(),
            padding: pkt.padding_len() as u8,
        };
        let mut out = vec![0u8; rebuilt.encoded_len().unwrap()];
        rebuilt.write_into(&mut out).unwrap();
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn agrees_with_the_rtp_crate(p in params()) {
        use webrtc_util::Unmarshal;
        let bytes = p.write();
        let theirs = rtp::packet::Packet::unmarshal(&mut &bytes[..]).unwrap();
        let ours = RtpPacket::parse(&bytes[..]).unwrap();
        prop_assert_eq!(theirs.header.marker, ours.marker());
        prop_assert_eq!(theirs.header.payload_type, ours.payload_type());
        prop_assert_eq!(theirs.header.sequence_number, ours.sequence_number());
        prop_assert_eq!(theirs.header.timestamp, ours.timestamp());
        prop_assert_eq!(theirs.header.ssrc, ours.ssrc());
        prop_assert_eq!(&theirs.header.csrc, &ours.csrcs().collect::<Vec<_>>());
        for e in ours.extensions() {
            let value = theirs.header.get_extension(e.id);
            prop_assert_eq!(value.as_deref(), Some(e.data));
        }
        prop_assert_eq!(theirs.header.extensions.len(), ours.extensions().count());
        prop_assert_eq!(&theirs.payload[..], ours.payload());
    }

    #[test]
    fn add_then_remove_keeps_everything_else(mut p in params(), id in 1u8..=14, value in prop::collection::vec(any::<u8>(), 1..=16)) {
        // A one-byte block (or none) and an id not yet present.
        if !p.exts.iter().all(|(i, v)| (1..=14).contains(i) && (1..=16).contains(&v.len())) {
            p.exts.clear();
        }
        p.exts.retain(|(i, _)| *i != id);
        let bytes = p.write();
        let mut buf = bytes.clone();
        buf.resize(bytes.len() + 32, 0);
        let grown = add_extension(&mut buf, bytes.len(), id, &value).unwrap();
        let mut with = p.clone();
        with.exts.push((id, value.clone()));
        check_matches(&with, &buf[..grown]);
        let shrunk = remove_extension(&mut buf, grown, id).unwrap();
        check_matches(&p, &buf[..shrunk]);
    }

    #[test]
    fn unwrapper_tracks_true_position(start in 0i64..1_000_000, steps in prop::collection::vec(-3000i64..3000, 1..500)) {
        let mut u = SeqUnwrapper::new();
        let mut truth = start;
        prop_assert_eq!(u.unwrap((truth as u64) & 0xffff), truth & 0xffff);
        let offset = truth - (truth & 0xffff);
        for step in steps {
            let highest = u.highest().unwrap() + offset;
            truth = (truth + step).clamp(highest - 30_000, highest + 30_000);
            prop_assert_eq!(u.unwrap((truth as u64) & 0xffff) + offset, truth);
        }
    }
}
