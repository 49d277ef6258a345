//! RTP view, setters, RFC 8285 extensions and builder.

use bytes::{Bytes, BytesMut};
use rtmedia::packet::rtp::{add_extension, add_extension_bytes, remove_extension};
use rtmedia::packet::{ExtensionForm, ParseError, RtpBuilder, RtpPacket, WriteError};

/// A packet as Chrome sends it for Opus: one-byte extensions with the audio
/// level (id 1, RFC 6464) and transport-wide sequence number (id 3); bytes
/// laid out by hand from RFC 3550 §5.1 and RFC 8285 §4.2.
const OPUS_WITH_EXTENSIONS: [u8; 32] = [
    0x90, 0xef, 0x12, 0x34, // V=2 X=1, M=1 PT=111, seq 0x1234
    0x00, 0x01, 0xe2, 0x40, // timestamp 123456
    0xde, 0xad, 0xbe, 0xef, // SSRC
    0xbe, 0xde, 0x00, 0x02, // one-byte profile, 2 words
    0x10, 0x9e, // id 1 len 1: voice activity + level 30
    0x31, 0x00, 0x2a, // id 3 len 2: transport seq 42
    0x00, 0x00, 0x00, // padding
    0xfc, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05, // payload
];

#[test]
fn parses_every_field() {
    let p = RtpPacket::parse(&OPUS_WITH_EXTENSIONS[..]).unwrap();
    assert_eq!(p.version(), 2);
    assert!(p.has_extension());
    assert!(!p.has_padding());
    assert!(p.marker());
    assert_eq!(p.payload_type(), 111);
    assert_eq!(p.sequence_number(), 0x1234);
    assert_eq!(p.timestamp(), 123_456);
    assert_eq!(p.ssrc(), 0xdead_beef);
    assert_eq!(p.csrc_count(), 0);
    assert_eq!(p.header_len(), 24);
    assert_eq!(p.payload(), &[0xfc, 0xff, 0xfe, 1, 2, 3, 4, 5]);
    assert_eq!(p.extension(1), Some(&[0x9e][..]));
    assert_eq!(p.extension(3), Some(&[0x00, 0x2a][..]));
    assert_eq!(p.extension(2), None);
    let ids: Vec<u8> = p.extensions().map(|e| e.id).collect();
    assert_eq!(ids, [1, 3]);
}

#[test]
fn agrees_with_webrtc_rs_rtp_crate() {
    use rtp::packet::Packet;
    use webrtc_util::Unmarshal;
    let mut raw = &OPUS_WITH_EXTENSIONS[..];
    let theirs = Packet::unmarshal(&mut raw).unwrap();
    let ours = RtpPacket::parse(&OPUS_WITH_EXTENSIONS[..]).unwrap();
    assert_eq!(theirs.header.sequence_number, ours.sequence_number());
    assert_eq!(theirs.header.timestamp, ours.timestamp());
    assert_eq!(theirs.header.ssrc, ours.ssrc());
    assert_eq!(
        theirs.header.get_extension(1).unwrap(),
        ours.extension(1).unwrap()
    );
    assert_eq!(
        theirs.header.get_extension(3).unwrap(),
        ours.extension(3).unwrap()
    );
    assert_eq!(&theirs.payload[..], ours.payload());
}

#[test]
fn csrcs_and_padding() {
    let mut buf = [0u8; 64];
    let n = RtpBuilder {
        payload_type: 96,
        sequence_number: 7,
        ssrc: 1,
        csrcs: &[10, 20, 30],
        payload: b"abc",
        padding: 5,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    assert_eq!(n, 12 + 12 + 3 + 5);
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert!(p.has_padding());
    assert_eq!(p.padding_len(), 5);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), [10, 20, 30]);
    assert_eq!(p.csrc(2), Some(30));
    assert_eq!(p.csrc(3), None);
    assert_eq!(p.payload(), b"abc");
}

#[test]
fn rejects_malformed_packets_with_typed_errors() {
    let good = OPUS_WITH_EXTENSIONS;
    assert_eq!(
        RtpPacket::parse(&good[..11]).unwrap_err(),
        ParseError::Truncated
    );
    assert_eq!(
        RtpPacket::parse(&[][..]).unwrap_err(),
        ParseError::Truncated
    );

    let mut v1 = good;
    v1[0] = (v1[0] & 0x3f) | 0x40;
    assert_eq!(
        RtpPacket::parse(&v1[..]).unwrap_err(),
        ParseError::BadVersion
    );

    let mut csrc = good;
    csrc[0] = 0x8f; // 15 CSRCs = 60 bytes, more than the packet holds
    assert_eq!(
        RtpPacket::parse(&csrc[..]).unwrap_err(),
        ParseError::CsrcPastEnd
    );

    let mut ext = good;
    ext[15] = 0x09; // 9 words of extension data
    assert_eq!(
        RtpPacket::parse(&ext[..]).unwrap_err(),
        ParseError::ExtensionPastEnd
    );
    assert_eq!(
        RtpPacket::parse(&good[..14]).unwrap_err(),
        ParseError::ExtensionPastEnd
    );

    let mut pad0 = good;
    pad0[0] |= 0x20;
    pad0[31] = 0;
    assert_eq!(
        RtpPacket::parse(&pad0[..]).unwrap_err(),
        ParseError::BadPadding
    );

    let mut pad_big = good;
    pad_big[0] |= 0x20;
    pad_big[31] = 9; // payload is only 8 bytes
    assert_eq!(
        RtpPacket::parse(&pad_big[..]).unwrap_err(),
        ParseError::BadPadding
    );
    pad_big[31] = 8;
    assert_eq!(RtpPacket::parse(&pad_big[..]).unwrap().payload(), b"");
}

#[test]
fn setters_rewrite_in_place() {
    let mut buf = OPUS_WITH_EXTENSIONS;
    let mut p = RtpPacket::parse(&mut buf[..]).unwrap();
    p.set_sequence_number(0xffff);
    p.set_timestamp(0xfedc_ba98);
    p.set_ssrc(0x0102_0304);
    p.set_payload_type(0xff); // high bit ignored
    p.set_marker(false);
    p.extension_mut(3).unwrap().copy_from_slice(&[0xab, 0xcd]);
    p.set_extension(1, &[0x7f]).unwrap();
    assert_eq!(
        p.set_extension(1, &[1, 2]),
        Err(WriteError::InvalidArgument(
            "value length differs from the element's; use add_extension"
        ))
    );
    assert_eq!(p.set_extension(9, &[1]), Err(WriteError::NotFound));
    let p = RtpPacket::parse(&buf[..]).unwrap();
    assert_eq!(p.sequence_number(), 0xffff);
    assert_eq!(p.timestamp(), 0xfedc_ba98);
    assert_eq!(p.ssrc(), 0x0102_0304);
    assert_eq!(p.payload_type(), 0x7f);
    assert!(!p.marker());
    assert_eq!(p.extension(3), Some(&[0xab, 0xcd][..]));
    assert_eq!(p.extension(1), Some(&[0x7f][..]));
    assert_eq!(&buf[24..], &OPUS_WITH_EXTENSIONS[24..], "payload untouched");
}

#[test]
fn bytes_payload_is_zero_copy() {
    let bytes = Bytes::from_static(&OPUS_WITH_EXTENSIONS);
    let p = RtpPacket::parse(bytes.clone()).unwrap();
    let payload = p.payload_bytes();
    assert_eq!(payload.as_ptr(), bytes[24..].as_ptr());
}

#[test]
fn two_byte_extensions() {
    let long = [0x55u8; 40];
    let mut buf = [0u8; 128];
    let n = RtpBuilder {
        extensions: &[(1, &[1, 2]), (200, &long), (3, &[])],
        payload: b"xyz",
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    let (profile, _) = p.extension_block().unwrap();
    assert_eq!(
        ExtensionForm::from_profile(profile),
        Some(ExtensionForm::TwoByte { app_bits: 0 })
    );
    assert_eq!(p.extension(200), Some(&long[..]));
    assert_eq!(p.extension(3), Some(&[][..]));
    assert_eq!(p.extension(1), Some(&[1, 2][..]));
    assert_eq!(p.payload(), b"xyz");
}

#[test]
fn add_creates_block_then_grows_it() {
    let mut buf = [0u8; 64];
    let n = RtpBuilder {
        payload: b"payload!",
        padding: 4,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    let n = add_extension(&mut buf, n, 5, &[9]).unwrap();
    assert_eq!(n, 12 + 4 + 4 + 8 + 4);
    let n2 = add_extension(&mut buf, n, 6, &[1]).unwrap();
    assert_eq!(n2, n, "fits in the block's padding");
    let n3 = add_extension(&mut buf, n2, 7, &[3; 4]).unwrap();
    assert_eq!(n3, n2 + 8, "4 used + 5 needed rounds up to 12");
    let p = RtpPacket::parse(&buf[..n3]).unwrap();
    assert_eq!(p.extension(5), Some(&[9][..]));
    assert_eq!(p.extension(6), Some(&[1][..]));
    assert_eq!(p.extension(7), Some(&[3; 4][..]));
    assert_eq!(p.payload(), b"payload!");
    assert_eq!(p.padding_len(), 4);
}

#[test]
fn add_replaces_existing_value_of_another_length() {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&OPUS_WITH_EXTENSIONS);
    let n = add_extension(&mut buf, 32, 1, &[1, 2, 3, 4, 5]).unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(p.extension(1), Some(&[1, 2, 3, 4, 5][..]));
    assert_eq!(p.extension(3), Some(&[0x00, 0x2a][..]));
    assert_eq!(p.extensions().count(), 2);
    assert_eq!(p.payload(), &OPUS_WITH_EXTENSIONS[24..]);
}

#[test]
fn add_without_room_fails_and_leaves_packet_unchanged() {
    let mut buf = OPUS_WITH_EXTENSIONS;
    let err = add_extension(&mut buf, 32, 9, &[0; 8]).unwrap_err();
    // 5 bytes used + 9 needed rounds the block up from 8 to 16 bytes.
    assert_eq!(err, WriteError::BufferTooSmall { needed: 40 });
    assert_eq!(buf, OPUS_WITH_EXTENSIONS);
}

#[test]
fn add_rejects_element_the_block_form_cannot_hold() {
    let mut buf = [0u8; 128];
    buf[..32].copy_from_slice(&OPUS_WITH_EXTENSIONS);
    assert!(matches!(
        add_extension(&mut buf, 32, 15, &[1]),
        Err(WriteError::InvalidArgument(_))
    ));
    assert!(matches!(
        add_extension(&mut buf, 32, 2, &[0; 17]),
        Err(WriteError::InvalidArgument(_))
    ));
    assert!(matches!(
        add_extension(&mut buf, 32, 0, &[1]),
        Err(WriteError::InvalidArgument(_))
    ));
    assert_eq!(&buf[..32], &OPUS_WITH_EXTENSIONS);
}

#[test]
fn remove_shrinks_and_drops_empty_block() {
    let mut buf = OPUS_WITH_EXTENSIONS;
    let n = remove_extension(&mut buf, 32, 3).unwrap();
    assert_eq!(n, 28);
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(p.extension(3), None);
    assert_eq!(p.extension(1), Some(&[0x9e][..]));
    assert_eq!(p.payload(), &OPUS_WITH_EXTENSIONS[24..]);
    let n = remove_extension(&mut buf, n, 1).unwrap();
    assert_eq!(n, 20);
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert!(!p.has_extension());
    assert_eq!(p.payload(), &OPUS_WITH_EXTENSIONS[24..]);
    assert_eq!(remove_extension(&mut buf, n, 1), Err(WriteError::NotFound));
}

#[test]
fn add_then_remove_restores_original_bytes() {
    let mut buf = [0u8; 64];
    let n = RtpBuilder {
        ssrc: 42,
        payload: b"hello",
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    let original = buf[..n].to_vec();
    let grown = add_extension(&mut buf, n, 200, &[7; 3]).unwrap();
    assert_eq!(remove_extension(&mut buf, grown, 200).unwrap(), n);
    assert_eq!(&buf[..n], &original[..]);
}

#[test]
fn bytes_mut_helpers_resize() {
    let mut pkt = BytesMut::from(&OPUS_WITH_EXTENSIONS[..]);
    add_extension_bytes(&mut pkt, 4, &[1, 2, 3, 4, 5, 6]).unwrap();
    assert_eq!(
        RtpPacket::parse(&pkt[..]).unwrap().extension(4),
        Some(&[1, 2, 3, 4, 5, 6][..])
    );
    rtmedia::packet::rtp::remove_extension_bytes(&mut pkt, 4).unwrap();
    assert_eq!(&pkt[..], &OPUS_WITH_EXTENSIONS[..]);
}

#[test]
fn builder_reports_short_buffer_and_bad_arguments() {
    let b = RtpBuilder {
        payload: &[0; 100],
        ..Default::default()
    };
    assert_eq!(
        b.write_into(&mut [0u8; 50]),
        Err(WriteError::BufferTooSmall { needed: 112 })
    );
    let csrcs = [0u32; 16];
    let b = RtpBuilder {
        csrcs: &csrcs,
        ..Default::default()
    };
    assert!(matches!(
        b.write_into(&mut [0u8; 200]),
        Err(WriteError::InvalidArgument(_))
    ));
}

#[test]
fn non_rfc8285_extension_is_exposed_raw() {
    let mut pkt = OPUS_WITH_EXTENSIONS;
    pkt[12] = 0x12;
    pkt[13] = 0x34;
    let p = RtpPacket::parse(&pkt[..]).unwrap();
    assert_eq!(
        p.extension_block()
            .map(|(profile, data)| (profile, data.len())),
        Some((0x1234, 8))
    );
    assert_eq!(p.extensions().count(), 0);
}
