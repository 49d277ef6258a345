//! The transport-wide sequence number header extension
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2) read and stamped
//! in one- and two-byte RFC 8285 forms.

use rtmedia::packet::{stamp_transport_seq, RtpBuilder, RtpPacket, WriteError};

#[test]
fn transport_seq_extension_one_and_two_byte_forms() {
    let payload = [7u8; 20];
    let mut buf = [0u8; 200];
    // One-byte form, id 5, as Chrome negotiates it (value reserved, then stamped).
    let len = RtpBuilder {
        payload_type: 96,
        sequence_number: 1,
        ssrc: 1,
        extensions: &[(5, &[0, 0]), (1, &[0x90])],
        payload: &payload,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    {
        let mut p = RtpPacket::parse(&mut buf[..len]).unwrap();
        assert_eq!(p.transport_seq(5), Some(0));
        p.set_transport_seq(5, 0xbeef).unwrap();
        assert_eq!(p.transport_seq(5), Some(0xbeef));
        assert_eq!(
            p.transport_seq(1),
            None,
            "1-byte element is not a transport seq"
        );
        assert_eq!(p.set_transport_seq(9, 1), Err(WriteError::NotFound));
        assert_eq!(p.payload(), &payload);
    }
    // The bytes on the wire: id 5, length-1 = 1, big endian.
    assert_eq!(&buf[16..19], &[0x51, 0xbe, 0xef]);
    // Stamping where absent adds the element (one-byte form block already there).
    let len2 = stamp_transport_seq(&mut buf, len, 3, 0x0102).unwrap();
    let p = RtpPacket::parse(&buf[..len2]).unwrap();
    assert_eq!(
        (p.transport_seq(3), p.transport_seq(5)),
        (Some(0x0102), Some(0xbeef))
    );
    assert_eq!(p.payload(), &payload);
    // Two-byte form (id 200 forces it).
    let len = RtpBuilder {
        payload_type: 96,
        ssrc: 1,
        extensions: &[(200, &[0x12, 0x34])],
        payload: &payload,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    assert_eq!(&buf[12..14], &[0x10, 0x00]);
    assert_eq!(
        RtpPacket::parse(&buf[..len]).unwrap().transport_seq(200),
        Some(0x1234)
    );
    let same = stamp_transport_seq(&mut buf, len, 200, 0xffff).unwrap();
    assert_eq!(same, len, "stamped in place");
    assert_eq!(
        RtpPacket::parse(&buf[..len]).unwrap().transport_seq(200),
        Some(0xffff)
    );
    // A packet without any extension gets a block.
    let len = RtpBuilder {
        payload_type: 96,
        ssrc: 1,
        payload: &payload,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    let len = stamp_transport_seq(&mut buf, len, 2, 42).unwrap();
    let p = RtpPacket::parse(&buf[..len]).unwrap();
    assert_eq!(p.transport_seq(2), Some(42));
    assert_eq!(p.payload(), &payload);
}
