//! The RTP packet row.

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rtmedia::packet::RtpBuilder;

use super::{Baseline, Stage, CAP, PACKET_BYTES, SSRC};

#[path = "../../../benches/support/rewrite.rs"]
mod rewrite;

use rewrite::{rewrite_rtmedia, rewrite_rtp_crate};

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
            black_box(rewrite_rtmedia(black_box(&mut buf[..]), i));
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
            black_box(rewrite_rtp_crate(black_box(bytes.clone()), i, &mut out));
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
