//! Issue 19 item 1: replacing an RFC 8285 element that does not fit (or
//! cannot be expressed) fails with the packet exactly as it was.

use proptest::prelude::*;
use rtmedia::packet::rtp::add_extension;
use rtmedia::packet::{RtpBuilder, RtpPacket, WriteError};

fn packet(exts: &[(u8, &[u8])], payload: &[u8], spare: usize) -> (Vec<u8>, usize) {
    let b = RtpBuilder {
        payload_type: 96,
        sequence_number: 7,
        timestamp: 1234,
        ssrc: 0xdead_beef,
        extensions: exts,
        payload,
        ..Default::default()
    };
    let len = b.encoded_len().unwrap();
    let mut buf = vec![0xeeu8; len + spare];
    assert_eq!(b.write_into(&mut buf).unwrap(), len);
    (buf, len)
}

/// The red team's case: a full buffer, one-byte element 5 of 1 byte
/// replaced by 16 bytes.
#[test]
fn replace_that_does_not_fit_leaves_the_packet_unchanged() {
    let (mut buf, len) = packet(&[(5, &[0x42])], &[1, 2, 3, 4, 5, 6, 7, 8], 0);
    let before = buf.clone();
    let err = add_extension(&mut buf, len, 5, &[0x77; 16]).unwrap_err();
    assert!(matches!(err, WriteError::BufferTooSmall { .. }), "{err:?}");
    assert_eq!(buf, before);
    // With room, the same replace succeeds.
    let (mut buf, len) = packet(&[(5, &[0x42])], &[1, 2, 3, 4, 5, 6, 7, 8], 16);
    let n = add_extension(&mut buf, len, 5, &[0x77; 16]).unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(p.extension(5), Some(&[0x77u8; 16][..]));
    assert_eq!(p.payload(), &[1, 2, 3, 4, 5, 6, 7, 8]);
}

/// A one-byte block with two elements: replacing one with a 17-byte value
/// cannot be expressed in that form and must not remove the old one.
#[test]
fn replace_that_cannot_be_expressed_leaves_the_packet_unchanged() {
    let (mut buf, len) = packet(&[(5, &[1]), (6, &[2, 3])], &[9; 20], 64);
    let before = buf.clone();
    let err = add_extension(&mut buf, len, 5, &[0x77; 17]).unwrap_err();
    assert!(matches!(err, WriteError::InvalidArgument(_)), "{err:?}");
    assert_eq!(buf, before);
}

fn ext_strategy() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    prop::collection::vec((1u8..=20, prop::collection::vec(any::<u8>(), 0..24)), 1..5).prop_map(
        |mut v| {
            v.sort_by_key(|e| e.0);
            v.dedup_by_key(|e| e.0);
            v
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any replace either succeeds with the new value and the payload
    /// intact, or fails with every byte of the buffer unchanged.
    #[test]
    fn replace_succeeds_or_changes_nothing(
        exts in ext_strategy(),
        payload in prop::collection::vec(any::<u8>(), 0..40),
        spare in 0usize..40,
        pick in any::<prop::sample::Index>(),
        value in prop::collection::vec(any::<u8>(), 0..40),
        garble in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
    ) {
        let list: Vec<(u8, &[u8])> = exts.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        let b = RtpBuilder { extensions: &list, payload: &payload, ..Default::default() };
        prop_assume!(b.encoded_len().is_ok());
        let (mut buf, len) = packet(&list, &payload, spare);
        let id = exts[pick.index(exts.len())].0;
        if let Some((at, byte)) = garble {
            // Overwrite one byte of the extension data (malformed blocks).
            let p = RtpPacket::parse(&buf[..len]).unwrap();
            let block = p.layout().extension.unwrap();
            buf[block.data_start + at.index(block.data_len)] = byte;
        }
        let garbled = garble.is_some();
        let before = buf.clone();
        match add_extension(&mut buf, len, id, &value) {
            Ok(_) if garbled => {}
            Ok(n) => {
                let p = RtpPacket::parse(&buf[..n]).unwrap();
                prop_assert_eq!(p.extension(id), Some(&value[..]));
                prop_assert_eq!(p.payload(), &payload[..]);
                for (other, v) in &exts {
                    if *other != id {
                        prop_assert_eq!(p.extension(*other), Some(&v[..]));
                    }
                }
            }
            Err(_) => prop_assert_eq!(buf, before),
        }
    }
}
