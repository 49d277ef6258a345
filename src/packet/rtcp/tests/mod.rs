//! Byte vectors from real captures and from the RFCs; malformed input and
//! builder misuse are in `errors`.

use super::*;

/// An SDES chunk collected for comparison: SSRC and (type, value) items.
type Chunk<'a> = (u32, Vec<(u8, &'a [u8])>);

/// Unwraps one variant of an `RtcpPacket`, naming what it got otherwise.
macro_rules! expect {
    ($variant:ident, $packet:expr) => {
        match $packet {
            RtcpPacket::$variant(view) => view,
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
}

mod errors;
mod feedback;

fn only(buf: &[u8]) -> Result<RtcpPacket<'_>, ParseError> {
    let mut it = compound(buf);
    let first = it.next().expect("one packet");
    assert!(it.next().is_none(), "exactly one packet");
    first
}

fn build(b: &dyn RtcpWrite) -> Vec<u8> {
    let mut buf = vec![0xEE; b.encoded_len()];
    let n = b.write_into(&mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

/// "An RTCP packet from a packet dump": pion/rtcp packet_test.go `realPacket`
/// (RR, SDES, BYE, PLI, RRR, APP).
#[rustfmt::skip]
const PION_REAL_PACKET: &[u8] = &[
    // RR, one block
    0x81, 0xc9, 0x00, 0x07, 0x90, 0x2f, 0x9e, 0x2e, 0xbc, 0x5e, 0x9a, 0x40, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x46, 0xe1, 0x00, 0x00, 0x01, 0x11, 0x09, 0xf3, 0x64, 0x32, 0x00, 0x02, 0x4a, 0x79,
    // SDES, CNAME "{9c00eb92-1afb-9d49-a47d-91f64eee69f5}"
    0x81, 0xca, 0x00, 0x0c, 0x90, 0x2f, 0x9e, 0x2e, 0x01, 0x26, 0x7b, 0x39, 0x63, 0x30, 0x30, 0x65,
    0x62, 0x39, 0x32, 0x2d, 0x31, 0x61, 0x66, 0x62, 0x2d, 0x39, 0x64, 0x34, 0x39, 0x2d, 0x61, 0x34,
    0x37, 0x64, 0x2d, 0x39, 0x31, 0x66, 0x36, 0x34, 0x65, 0x65, 0x65, 0x36, 0x39, 0x66, 0x35, 0x7d,
    0x00, 0x00, 0x00, 0x00,
    // BYE
    0x81, 0xcb, 0x00, 0x01, 0x90, 0x2f, 0x9e, 0x2e,
    // PLI
    0x81, 0xce, 0x00, 0x02, 0x90, 0x2f, 0x9e, 0x2e, 0x90, 0x2f, 0x9e, 0x2e,
    // Rapid resynchronisation request (RTPFB FMT 5)
    0x85, 0xcd, 0x00, 0x02, 0x90, 0x2f, 0x9e, 0x2e, 0x90, 0x2f, 0x9e, 0x2e,
    // APP "NAME"
    0x80, 0xcc, 0x00, 0x03, 0x4b, 0xaa, 0xe1, 0xab, 0x4e, 0x41, 0x4d, 0x45, 0x41, 0x42, 0x43, 0x44,
];

#[test]
fn pion_real_compound() {
    let packets: Vec<_> = compound(PION_REAL_PACKET).map(Result::unwrap).collect();
    assert_eq!(packets.len(), 6);
    let rr = expect!(ReceiverReport, packets[0]);
    assert_eq!(rr.ssrc(), 0x902f9e2e);
    let blocks: Vec<_> = rr.report_blocks().collect();
    assert_eq!(
        blocks,
        [ReportBlock {
            ssrc: 0xbc5e9a40,
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0x46e1,
            jitter: 273,
            last_sr: 0x9f36432,
            delay_since_last_sr: 150137,
        }]
    );
    assert!(rr.profile_extension().is_empty());
    let sdes = expect!(Sdes, packets[1]);
    assert_eq!(
        sdes.cname(),
        Some((0x902f9e2e, &b"{9c00eb92-1afb-9d49-a47d-91f64eee69f5}"[..]))
    );
    let bye = expect!(Bye, packets[2]);
    assert_eq!(bye.ssrcs().collect::<Vec<_>>(), [0x902f9e2e]);
    assert_eq!(bye.reason(), None);
    let pli = expect!(Pli, packets[3]);
    assert_eq!(
        (pli.sender_ssrc(), pli.media_ssrc()),
        (0x902f9e2e, 0x902f9e2e)
    );
    assert!(matches!(
        packets[4],
        RtcpPacket::Unknown { packet_type: PT_RTPFB, count_or_fmt: 5, body } if body.len() == 8
    ));
    assert!(matches!(
        packets[5],
        RtcpPacket::Unknown { packet_type: PT_APP, count_or_fmt: 0, body } if &body[4..8] == b"NAME"
    ));

    // Our builders reproduce the RR, SDES, BYE and PLI byte for byte.
    let cname: &[u8] = b"{9c00eb92-1afb-9d49-a47d-91f64eee69f5}";
    let mut out = [0u8; 104];
    let n = write_compound(
        &mut out,
        &[
            &ReceiverReportBuilder {
                ssrc: 0x902f9e2e,
                report_blocks: &blocks,
            },
            &SdesBuilder {
                chunks: &[(0x902f9e2e, cname)],
            },
            &ByeBuilder {
                ssrcs: &[0x902f9e2e],
                reason: None,
            },
            &PliBuilder {
                sender_ssrc: 0x902f9e2e,
                media_ssrc: 0x902f9e2e,
            },
        ],
    )
    .unwrap();
    assert_eq!(n, 104);
    assert_eq!(&out[..], &PION_REAL_PACKET[..104]);
}

/// pion/rtcp sender_report_test.go, "valid", with its length field fixed:
/// pion's copy says 7 words, but an SR with one block is 12 (pion's parser
/// ignores the field).
const PION_SR: &[u8] = &[
    0x81, 0xc8, 0x00, 0x0c, 0x90, 0x2f, 0x9e, 0x2e, 0xda, 0x8b, 0xd1, 0xfc, 0xdd, 0xdd, 0xa0, 0x5a,
    0xaa, 0xf4, 0xed, 0xd5, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0xbc, 0x5e, 0x9a, 0x40,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46, 0xe1, 0x00, 0x00, 0x01, 0x11, 0x09, 0xf3, 0x64, 0x32,
    0x00, 0x02, 0x4a, 0x79,
];

#[test]
fn pion_sender_report_round_trip() {
    let mut as_published = PION_SR.to_vec();
    as_published[3] = 7;
    let mut it = compound(&as_published);
    assert_eq!(it.next(), Some(Err(ParseError::BadLength)));
    assert_eq!(it.next(), None);

    let sr = expect!(SenderReport, only(PION_SR).unwrap());
    assert_eq!(sr.ssrc(), 0x902f9e2e);
    assert_eq!(sr.ntp_timestamp(), 0xda8bd1fcdddda05a);
    assert_eq!(sr.rtp_timestamp(), 0xaaf4edd5);
    assert_eq!((sr.packet_count(), sr.octet_count()), (1, 2));
    let blocks: Vec<_> = sr.report_blocks().collect();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].delay_since_last_sr, 150137);
    let rebuilt = build(&SenderReportBuilder {
        ssrc: sr.ssrc(),
        ntp_timestamp: sr.ntp_timestamp(),
        rtp_timestamp: sr.rtp_timestamp(),
        packet_count: sr.packet_count(),
        octet_count: sr.octet_count(),
        report_blocks: &blocks,
    });
    assert_eq!(rebuilt, PION_SR);
}

/// pion/rtcp sender_report_test.go "with extension" (their issue #447): a
/// real SR + SDES compound from Chrome (16-character CNAME). pion took the
/// SDES for an SR extension; the SR's length field says otherwise.
#[test]
fn sender_report_profile_extension() {
    let buf = [
        0x80, 0xc8, 0x00, 0x06, 0x2b, 0x7e, 0xc0, 0xc5, 0xe0, 0x20, 0xa2, 0xa9, 0x52, 0xa5, 0x3f,
        0xc0, 0x2e, 0x48, 0xa5, 0x52, 0x00, 0x00, 0x00, 0x46, 0x00, 0x00, 0x12, 0x1d, // ext:
        0x81, 0xca, 0x00, 0x06, 0x2b, 0x7e, 0xc0, 0xc5, 0x01, 0x10, 0x4c, 0x63, 0x49, 0x66, 0x7a,
        0x58, 0x6f, 0x6e, 0x44, 0x6f, 0x72, 0x64, 0x53, 0x65, 0x57, 0x36, 0x00, 0x00,
    ];
    let packets: Vec<_> = compound(&buf).map(Result::unwrap).collect();
    let sr = expect!(SenderReport, packets[0]);
    assert_eq!(sr.ntp_timestamp(), 0xe020a2a952a53fc0);
    assert_eq!((sr.packet_count(), sr.octet_count()), (70, 4637));
    assert!(sr.profile_extension().is_empty());
    let sdes = expect!(Sdes, packets[1]);
    assert_eq!(sdes.cname(), Some((0x2b7ec0c5, &b"LcIfzXonDordSeW6"[..])));

    // An SR whose length really covers extra words exposes them.
    let mut ext = buf;
    ext[3] = 13;
    let sr = expect!(SenderReport, only(&ext).unwrap());
    assert_eq!(sr.profile_extension(), &buf[28..]);
}

/// versatica/mediasoup worker/test/src/RTC/RTCP/TestSenderReport.cpp (SR)
/// followed by TestSdes.cpp `buffer1`, an SDES with a Chrome-style 16-char
/// CNAME: the minimal compound packet a WebRTC sender emits.
const SR_SDES: &[u8] = &[
    0x80, 0xc8, 0x00, 0x06, 0x5d, 0x93, 0x15, 0x34, 0xdd, 0x3a, 0xc1, 0xb4, 0x76, 0x54, 0x71, 0x71,
    0x00, 0x08, 0xcf, 0x00, 0x00, 0x00, 0x0e, 0x18, 0x00, 0x08, 0xcf, 0x00, // SDES
    0x81, 0xca, 0x00, 0x06, 0x9f, 0x65, 0xe7, 0x42, 0x01, 0x10, 0x74, 0x37, 0x6d, 0x6b, 0x59, 0x6e,
    0x43, 0x6d, 0x34, 0x36, 0x4f, 0x63, 0x49, 0x4e, 0x79, 0x2f, 0x00, 0x00,
];

#[test]
fn sr_sdes_compound_parse_and_rebuild() {
    let packets: Vec<_> = compound(SR_SDES).map(Result::unwrap).collect();
    let sr = expect!(SenderReport, packets[0]);
    assert_eq!(sr.ssrc(), 0x5d931534);
    assert_eq!(sr.ntp_timestamp(), 3711615412 << 32 | 1985245553);
    assert_eq!((sr.rtp_timestamp(), sr.packet_count()), (577280, 3608));
    assert_eq!(sr.octet_count(), 577280);
    assert_eq!(sr.report_blocks().len(), 0);
    let sdes = expect!(Sdes, packets[1]);
    let (ssrc, items) = sdes.chunks().next().unwrap();
    assert_eq!(ssrc, 0x9f65e742);
    assert_eq!(
        items.collect::<Vec<_>>(),
        [(SDES_CNAME, &b"t7mkYnCm46OcINy/"[..])]
    );

    let sr_b = SenderReportBuilder {
        ssrc: 0x5d931534,
        ntp_timestamp: 3711615412 << 32 | 1985245553,
        rtp_timestamp: 577280,
        packet_count: 3608,
        octet_count: 577280,
        report_blocks: &[],
    };
    let sdes_b = SdesBuilder {
        chunks: &[(0x9f65e742, b"t7mkYnCm46OcINy/")],
    };
    let mut buf = [0xEE; 56];
    assert_eq!(write_compound(&mut buf, &[&sr_b, &sdes_b]), Ok(56));
    assert_eq!(&buf[..], SR_SDES);
    assert_eq!(
        write_compound(&mut buf[..55], &[&sr_b, &sdes_b]),
        Err(WriteError::BufferTooSmall { needed: 56 })
    );
}

/// mediasoup TestSdes.cpp `buffer2` (two chunks, several items, P bit and 4
/// bytes of padding). Its padding count byte is 0, which RFC 3550 forbids.
#[test]
fn sdes_multi_chunk_and_padding() {
    let mut buf = [
        0xa2, 0xca, 0x00, 0x0d, 0x00, 0x00, 0x04, 0xd2, 0x01, 0x06, 0x71, 0x77, 0x65, 0x72, 0x74,
        0x79, 0x06, 0x06, 0x69, 0xc3, 0xb1, 0x61, 0x6b, 0x69, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x16, 0x2e, 0x05, 0x11, 0x73, 0x6f, 0x6d, 0x65, 0x77, 0x68, 0x65, 0x72, 0x65, 0x20, 0xc5,
        0x93, 0xc3, 0xa6, 0xe2, 0x82, 0xac, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(only(&buf), Err(ParseError::BadPadding));
    buf[55] = 4;
    let sdes = expect!(Sdes, only(&buf).unwrap());
    let chunks: Vec<Chunk<'_>> = sdes
        .chunks()
        .map(|(s, items)| (s, items.collect()))
        .collect();
    assert_eq!(
        chunks,
        [
            (1234, vec![(1, &b"qwerty"[..]), (6, "iñaki".as_bytes())]),
            (5678, vec![(5, "somewhere œæ€".as_bytes())]),
        ]
    );
    assert_eq!(sdes.cname(), Some((1234, &b"qwerty"[..])));
}

#[test]
fn bye_with_reason() {
    let b = ByeBuilder {
        ssrcs: &[0x01020304],
        reason: Some(b"bye"),
    };
    let bytes = build(&b);
    assert_eq!(
        bytes,
        [0x81, 0xcb, 0x00, 0x02, 1, 2, 3, 4, 3, b'b', b'y', b'e']
    );
    let bye = expect!(Bye, only(&bytes).unwrap());
    assert_eq!(bye.reason(), Some(&b"bye"[..]));
    let b = ByeBuilder {
        ssrcs: &[7],
        reason: Some(b""),
    };
    assert_eq!(build(&b), [0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 7, 0, 0, 0, 0]);
}

#[test]
fn cumulative_lost_is_signed_24_bit() {
    let mut block = [0u8; 24];
    for (wire, value) in [
        ([0xff, 0xff, 0xff], -1),
        ([0x80, 0x00, 0x00], -0x80_0000),
        ([0x7f, 0xff, 0xff], 0x7f_ffff),
        ([0x00, 0x01, 0x00], 256),
    ] {
        block[5..8].copy_from_slice(&wire);
        block[4] = 0x42;
        let rb = ReportBlock::parse(&block);
        assert_eq!((rb.cumulative_lost, rb.fraction_lost), (value, 0x42));
        let mut out = [0u8; 24];
        rb.write(&mut out);
        assert_eq!(out, block);
    }
    assert_eq!(ReportBlock::clamp_cumulative_lost(-1 << 40), -0x80_0000);
    assert_eq!(ReportBlock::clamp_cumulative_lost(1 << 24), 0x7f_ffff);
}
