//! The RTP packet row.

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rtmedia::packet::{RtpBuilder, RtpPacket};
use webrtc_util::{Marshal, MarshalSize, Unmarshal};

use super::{Baseline, Stage, CAP, PACKET_BYTES, SSRC};

/// RTP parse + rewrite in place (SSRC, sequence number, timestamp, payload
/// type, marker, a header extension), as an SFU does per forwarded packet;
/// baseline: the webrtc-rs `rtp` crate parsing into its owned `Packet`,
/// changing the fields and marshalling into an output buffer.
pub(super) fn rtp_parse_rewrite() -> Stage {
    let extensions: &[(u8, &[u8])] = &[(1, &[0x90]), (3, &[0x00, 0x2a])];
    let build = |payload: &[u8]| {
        let mut buf = vec![0u8; CAP];
        let n = RtpBuilder {
            payload_type: 96,
            sequence_number: 1000,
            timestamp: 90_000,
            ssrc: SSRC,
            extensions,
            payload,
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        buf.truncate(n);
        buf
    };
    let overhead = build(&[]).len();
    let packet = build(&[0x5a; PACKET_BYTES][..PACKET_BYTES - overhead]);
    assert_eq!(packet.len(), PACKET_BYTES);

    let mut buf = packet.clone();
    let mut i = 0u16;
    let ours = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            i = i.wrapping_add(1);
            let mut p = RtpPacket::parse(black_box(&mut buf[..])).unwrap();
            let twcc = p.extension(3).unwrap()[1];
            p.set_ssrc(0xaabb_ccdd);
            p.set_sequence_number(i);
            p.set_timestamp(p.timestamp().wrapping_add(3000));
            p.set_payload_type(100);
            p.set_marker(true);
            p.extension_mut(3)
                .unwrap()
                .copy_from_slice(&i.to_be_bytes());
            black_box(twcc);
        }
        start.elapsed()
    };

    let bytes = Bytes::from(packet);
    let mut out = BytesMut::zeroed(CAP);
    let mut i = 0u16;
    let theirs = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            i = i.wrapping_add(1);
            let mut p = rtp::packet::Packet::unmarshal(&mut black_box(bytes.clone())).unwrap();
            let twcc = p.header.get_extension(3).unwrap()[1];
            p.header.ssrc = 0xaabb_ccdd;
            p.header.sequence_number = i;
            p.header.timestamp = p.header.timestamp.wrapping_add(3000);
            p.header.payload_type = 100;
            p.header.marker = true;
            p.header
                .set_extension(3, Bytes::copy_from_slice(&i.to_be_bytes()))
                .unwrap();
            let len = p.marshal_size();
            p.marshal_to(&mut out[..len]).unwrap();
            black_box(twcc);
        }
        start.elapsed()
    };
    Stage {
        name: "rtp_parse_rewrite",
        variant: String::new(),
        bytes: PACKET_BYTES,
        packets_per_iter: 1,
        run: Box::new(ours),
        baseline: Some(Baseline {
            name: "rtp-crate",
            run: Box::new(theirs),
        }),
    }
}
