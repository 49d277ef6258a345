//! Feedback vectors: NACK, PLI, FIR, REMB, and an unmodelled format.

use super::*;

/// pion/rtcp receiver_estimated_maximum_bitrate_test.go: "Real data sent by
/// Chrome while watching a 6Mb/s stream".
const CHROME_REMB: &[u8] = &[
    143, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 82, 69, 77, 66, 1, 26, 32, 223, 72, 116, 237, 22,
];

#[test]
fn chrome_remb() {
    let remb = expect!(Remb, only(CHROME_REMB).unwrap());
    assert_eq!(remb.sender_ssrc(), 1);
    assert_eq!(remb.exponent_mantissa(), (6, 139487));
    assert_eq!(remb.bitrate_bps(), 8_927_168);
    assert_eq!(remb.ssrcs().collect::<Vec<_>>(), [1215622422]);
    let b = RembBuilder {
        sender_ssrc: 1,
        bitrate_bps: 8_927_168,
        ssrcs: &[1215622422],
    };
    assert_eq!(build(&b), CHROME_REMB);
    // One less rounds the mantissa down (pion's "truncate" case).
    let b = RembBuilder {
        bitrate_bps: 8_927_167,
        ..b
    };
    let bytes = build(&b);
    let remb = expect!(Remb, only(&bytes).unwrap());
    assert_eq!(remb.bitrate_bps(), 8_927_104);
}

#[test]
fn remb_exponent_extremes() {
    for (bps, exp, mantissa) in [
        (0, 0, 0),
        ((1 << 18) - 1, 0, (1 << 18) - 1),
        (1 << 18, 1, 1 << 17),
        (u64::MAX, 46, (1 << 18) - 1),
    ] {
        let bytes = build(&RembBuilder {
            sender_ssrc: 9,
            bitrate_bps: bps,
            ssrcs: &[],
        });
        let remb = expect!(Remb, only(&bytes).unwrap());
        assert_eq!(remb.exponent_mantissa(), (exp, mantissa), "{bps}");
        assert_eq!(remb.bitrate_bps(), u64::from(mantissa) << exp, "{bps}");
    }
    // The top bit lands exactly on bit 63 without saturating.
    let bytes = build(&RembBuilder {
        sender_ssrc: 9,
        bitrate_bps: 1 << 63,
        ssrcs: &[],
    });
    let remb = expect!(Remb, only(&bytes).unwrap());
    assert_eq!(
        (remb.exponent_mantissa(), remb.bitrate_bps()),
        ((46, 1 << 17), 1 << 63)
    );
    // pion's overflow vector: exponent 63 saturates instead of wrapping.
    let max = [
        143, 206, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 82, 69, 77, 66, 0, 255, 255, 255,
    ];
    let remb = expect!(Remb, only(&max).unwrap());
    assert_eq!(remb.bitrate_bps(), u64::MAX);
    assert_eq!(remb.ssrcs().len(), 0);
}

/// mediasoup TestFeedbackRtpNack.cpp: a NACK from sender SSRC 1 (Chrome's
/// receive-only SSRC), PID 2959, BLP 0x0003.
const NACK: &[u8] = &[
    0x81, 0xcd, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x03, 0x30, 0xbd, 0xee, 0x0b, 0x8f, 0x00, 0x03,
];

#[test]
fn nack_vector() {
    let nack = expect!(Nack, only(NACK).unwrap());
    assert_eq!((nack.sender_ssrc(), nack.media_ssrc()), (1, 0x0330bdee));
    assert_eq!(nack.pairs().collect::<Vec<_>>(), [(2959, 3)]);
    assert_eq!(
        nack.lost_sequence_numbers().collect::<Vec<_>>(),
        [2959, 2960, 2961]
    );
    let b = NackBuilder {
        sender_ssrc: 1,
        media_ssrc: 0x0330bdee,
        lost: &[2959, 2960, 2961],
    };
    assert_eq!(build(&b), NACK);
    let b = NackPairsBuilder {
        sender_ssrc: 1,
        media_ssrc: 0x0330bdee,
        pairs: &[(2959, 3)],
    };
    assert_eq!(build(&b), NACK);
}

#[test]
fn nack_compression() {
    let pairs = |lost: &[u16]| nack_pairs(lost).collect::<Vec<_>>();
    // pion/rtcp TestTransportLayerNackPairGeneration.
    assert_eq!(pairs(&[]), Vec::new());
    assert_eq!(pairs(&[100]), [(100, 0)]);
    assert_eq!(pairs(&[100, 101, 105, 115]), [(100, 0x4011)]);
    assert_eq!(
        pairs(&[100, 117, 500, 501, 502]),
        [(100, 0), (117, 0), (500, 3)]
    );
    // Distance 16 is the last bit; 17 starts a new pair.
    assert_eq!(pairs(&[7, 23, 24]), [(7, 0x8000), (24, 0)]);
    // Across the wrap, and duplicates.
    assert_eq!(pairs(&[65534, 65535, 65535, 0, 14]), [(65534, 0x8003)]);
    assert_eq!(nack_pair_count(&[65535, 20, 21]), 2);
    let b = NackBuilder {
        sender_ssrc: 0,
        media_ssrc: 0,
        lost: &[65535, 0, 1],
    };
    let bytes = build(&b);
    assert_eq!(&bytes[12..], [0xff, 0xff, 0x00, 0x03]);
    let nack = expect!(Nack, only(&bytes).unwrap());
    assert_eq!(
        nack.lost_sequence_numbers().collect::<Vec<_>>(),
        [65535, 0, 1]
    );
}

/// pion/rtcp transport_layer_nack_test.go "valid": PID 0xaaaa, BLP 0x5555.
#[test]
fn nack_every_other_bit() {
    let buf = [
        0x81, 0xcd, 0x00, 0x03, 0x90, 0x2f, 0x9e, 0x2e, 0x90, 0x2f, 0x9e, 0x2e, 0xaa, 0xaa, 0x55,
        0x55,
    ];
    let nack = expect!(Nack, only(&buf).unwrap());
    let lost: Vec<u16> = nack.lost_sequence_numbers().collect();
    let want: Vec<u16> = std::iter::once(0)
        .chain((1..=15).step_by(2))
        .map(|i| 0xaaaa + i)
        .collect();
    assert_eq!(lost, want);
}

#[test]
fn pli_is_12_bytes() {
    // RFC 4585 §6.3.1: V=2, FMT=1, PT=206, length 2.
    let b = PliBuilder {
        sender_ssrc: 0x902f9e2e,
        media_ssrc: 0x902f9e2e,
    };
    assert_eq!(build(&b), &PION_REAL_PACKET[92..104]);
    assert_eq!(&build(&b)[..4], [0x81, 0xCE, 0x00, 0x02]);
}

#[test]
fn fir_vectors() {
    // pion/rtcp full_intra_request_test.go "also valid".
    let buf = [
        0x84, 0xce, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x4b, 0xc4, 0xfc, 0xb4, 0x12, 0x34, 0x56,
        0x78, 0x42, 0x00, 0x00, 0x00, 0x98, 0x76, 0x54, 0x32, 0x57, 0x00, 0x00, 0x00,
    ];
    let fir = expect!(Fir, only(&buf).unwrap());
    assert_eq!((fir.sender_ssrc(), fir.media_ssrc()), (0, 0x4bc4fcb4));
    assert_eq!(
        fir.entries().collect::<Vec<_>>(),
        [(0x12345678, 0x42), (0x98765432, 0x57)]
    );
    // Hand-computed from RFC 5104 §4.3.1.1: media SSRC 0, reserved 0.
    let b = FirBuilder {
        sender_ssrc: 0x01020304,
        entries: &[(0x0a0b0c0d, 7)],
    };
    assert_eq!(
        build(&b),
        [0x84, 0xce, 0x00, 0x04, 1, 2, 3, 4, 0, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0x0d, 7, 0, 0, 0]
    );
}

/// A Chrome transport-cc feedback with the P bit set, from a capture in
/// olivermichel/webrtc-analysis test/include/data.h (`twcc_pkt1`): the
/// padding is stripped and the feedback decodes (one run of 9 received
/// packets from sequence number 1, nine small deltas).
#[test]
fn chrome_twcc_parses_and_padding_is_stripped() {
    let buf = [
        0xaf, 0xcd, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0xdd, 0x58, 0x6e, 0xb6, 0x00, 0x01, 0x00,
        0x09, 0x5e, 0x91, 0x10, 0x00, 0x20, 0x09, 0x1c, 0x0c, 0x2c, 0x38, 0x00, 0x04, 0x00, 0x08,
        0x18, 0x01,
    ];
    let p = only(&buf).unwrap();
    assert_eq!(p.packet_type(), PT_RTPFB);
    let RtcpPacket::TransportCc(fb) = p else {
        panic!("not transport-cc: {p:?}");
    };
    assert_eq!((fb.sender_ssrc(), fb.media_ssrc()), (1, 0xdd58_6eb6));
    assert_eq!(
        (fb.base_seq(), fb.status_count(), fb.fb_pkt_count()),
        (1, 9, 0)
    );
    assert_eq!(fb.reference_time_raw(), 0x5e9110);
    let ticks = [0x1c, 0x0c, 0x2c, 0x38, 0x00, 0x04, 0x00, 0x08, 0x18];
    let mut at = fb.reference_time_us();
    for (i, r) in fb.results().enumerate() {
        at += ticks[i] * 250;
        assert_eq!(r.id, crate::cc::SentPacketId::TransportSeq(1 + i as u16));
        assert_eq!(r.arrival_us, Some(at));
    }
}
