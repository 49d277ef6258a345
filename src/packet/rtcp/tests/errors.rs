//! Every malformed case with its typed error, and builder misuse.

use super::*;

#[test]
fn malformed_packets() {
    use ParseError::*;
    #[rustfmt::skip]
    let cases: &[(&str, &[u8], ParseError)] = &[
        ("short header", &[0x80, 0xc9, 0x00], Truncated),
        ("version 1", &[0x40, 0xc9, 0x00, 0x01, 0, 0, 0, 0], BadVersion),
        ("version 0", &[0x00, 0xc9, 0x00, 0x00], BadVersion),
        ("length past end", &[0x80, 0xc9, 0x00, 0x02, 0, 0, 0, 0], Truncated),
        ("padding 0", &[0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 0], BadPadding),
        ("padding > body", &[0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 5], BadPadding),
        ("padding, header only", &[0xa0, 0xcc, 0x00, 0x00], BadPadding),
        ("RR count 1, no block", &[0x81, 0xc9, 0x00, 0x01, 0, 0, 0, 0], BadLength),
        ("RR without SSRC", &[0x80, 0xc9, 0x00, 0x00], BadLength),
        ("SR without sender info", &[0x80, 0xc8, 0x00, 0x01, 0, 0, 0, 1], BadLength),
        ("NACK zero FCI", &[0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2], BadLength),
        ("NACK no media SSRC", &[0x81, 0xcd, 0x00, 0x01, 0, 0, 0, 1], BadLength),
        ("PLI no media SSRC", &[0x81, 0xce, 0x00, 0x01, 0, 0, 0, 1], BadLength),
        ("FIR zero FCI", &[0x84, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0], BadLength),
        ("FIR half an entry",
         &[0x84, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2], BadLength),
        ("SDES item past end", &[0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 1, 9, b'a', b'b'], Malformed),
        // mediasoup TestSdes.cpp "parsing a packet with missing null octets fails".
        ("SDES no terminator",
         &[0x81, 0xca, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x08, 0x02, 0x61, 0x62], Malformed),
        ("SDES count past end", &[0x82, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0], BadLength),
        ("BYE count past end", &[0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 1], BadLength),
        ("BYE reason past end", &[0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 4, b'a', b'b', b'c'], Malformed),
        ("REMB count past end",
         &[0x8f, 0xce, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 1, 0, 0, 0],
         BadLength),
        ("REMB without bitrate",
         &[0x8f, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B'], BadLength),
    ];
    for &(name, bytes, want) in cases {
        assert_eq!(only(bytes), Err(want), "{name}");
    }
}

#[test]
fn afb_without_remb_identifier_is_unknown() {
    let buf = [
        0x8f, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, b'G', b'O', b'O', b'G',
    ];
    assert!(matches!(
        only(&buf),
        Ok(RtcpPacket::Unknown {
            packet_type: PT_PSFB,
            count_or_fmt: 15,
            ..
        })
    ));
    let short = [0x8f, 0xce, 0x00, 0x01, 0, 0, 0, 1];
    assert!(matches!(only(&short), Ok(RtcpPacket::Unknown { .. })));
}

#[test]
fn iteration_stops_after_first_error() {
    let mut buf = Vec::new();
    buf.extend_from_slice(&PION_REAL_PACKET[92..104]);
    buf.extend_from_slice(&[0x40, 0xce, 0x00, 0x02]);
    buf.extend_from_slice(&PION_REAL_PACKET[92..104]);
    let mut it = compound(&buf);
    assert!(matches!(it.next(), Some(Ok(RtcpPacket::Pli(_)))));
    assert_eq!(it.next(), Some(Err(ParseError::BadVersion)));
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
    assert_eq!(compound(&[]).next(), None);
    // Trailing bytes shorter than a header are an error too.
    let mut it = compound(&PION_REAL_PACKET[92..106]);
    assert!(it.next().unwrap().is_ok());
    assert_eq!(it.next(), Some(Err(ParseError::Truncated)));
}

#[test]
fn builder_errors() {
    let too_big = WriteError::BufferTooSmall { needed: 12 };
    let pli = PliBuilder::default();
    assert_eq!(pli.write_into(&mut [0; 11]), Err(too_big));
    let blocks = [ReportBlock::default(); 32];
    let invalid = |r: Result<usize, WriteError>| matches!(r, Err(WriteError::InvalidArgument(_)));
    let mut buf = [0u8; 2048];
    assert!(invalid(
        ReceiverReportBuilder {
            ssrc: 1,
            report_blocks: &blocks
        }
        .write_into(&mut buf)
    ));
    let sr = SenderReportBuilder {
        report_blocks: &blocks[..31],
        ..Default::default()
    };
    assert_eq!(sr.write_into(&mut buf), Ok(28 + 31 * 24));
    let bad_lost = [ReportBlock {
        cumulative_lost: 0x80_0000,
        ..Default::default()
    }];
    let sr = SenderReportBuilder {
        report_blocks: &bad_lost,
        ..Default::default()
    };
    assert!(invalid(sr.write_into(&mut buf)));
    let long = [b'x'; 256];
    assert!(invalid(
        SdesBuilder {
            chunks: &[(1, &long)]
        }
        .write_into(&mut buf)
    ));
    assert_eq!(
        SdesBuilder {
            chunks: &[(1, &long[..255])]
        }
        .write_into(&mut buf),
        Ok(4 + 264)
    );
    let chunks = [(1, &b"c"[..]); 32];
    assert!(invalid(
        SdesBuilder { chunks: &chunks }.write_into(&mut buf)
    ));
    assert!(invalid(
        ByeBuilder {
            ssrcs: &[0; 32],
            reason: None
        }
        .write_into(&mut buf)
    ));
    assert!(invalid(
        ByeBuilder {
            ssrcs: &[1],
            reason: Some(&long)
        }
        .write_into(&mut buf)
    ));
    assert!(
        invalid(
            ByeBuilder {
                ssrcs: &[],
                reason: None
            }
            .write_into(&mut buf)
        ),
        "a BYE must name at least one SSRC"
    );
    assert!(invalid(NackBuilder::default().write_into(&mut buf)));
    assert!(invalid(NackPairsBuilder::default().write_into(&mut buf)));
    assert!(invalid(FirBuilder::default().write_into(&mut buf)));
    let ssrcs = [0u32; 256];
    assert!(invalid(
        RembBuilder {
            ssrcs: &ssrcs,
            ..Default::default()
        }
        .write_into(&mut buf)
    ));
    assert_eq!(
        RembBuilder {
            ssrcs: &ssrcs[..255],
            ..Default::default()
        }
        .write_into(&mut buf[..100]),
        Err(WriteError::BufferTooSmall {
            needed: 20 + 4 * 255
        })
    );
    // Arguments are checked before room, so a too-small buffer with bad
    // arguments reports the arguments.
    assert!(invalid(FirBuilder::default().write_into(&mut [])));
}

#[test]
fn oversized_packet_is_rejected() {
    // 65535 pairs make 262152 bytes; the length field stops at 262144.
    let pairs = vec![(0u16, 0u16); 65535];
    let b = NackPairsBuilder {
        sender_ssrc: 0,
        media_ssrc: 0,
        pairs: &pairs,
    };
    assert!(b.encoded_len() > MAX_PACKET_LEN);
    assert!(matches!(
        b.write_into(&mut vec![0; b.encoded_len()]),
        Err(WriteError::InvalidArgument(_))
    ));
    let b = NackPairsBuilder {
        pairs: &pairs[..65533],
        ..b
    };
    assert_eq!(b.encoded_len(), MAX_PACKET_LEN);
    let bytes = build(&b);
    let nack = expect!(Nack, only(&bytes).unwrap());
    assert_eq!(nack.pairs().len(), 65533);
}
