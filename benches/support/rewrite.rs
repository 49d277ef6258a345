//! The per-packet work of the packet bench (`benches/packet.rs`) and of the
//! report's RTP row (`examples/report/stages/packet.rs`, which includes this
//! file with `#[path]`): read the transport-wide sequence extension (id 3),
//! rewrite SSRC, sequence number (`seq`), timestamp, payload type, marker
//! and that extension, rtmedia's way and the `rtp` crate's.

use bytes::Bytes;
use rtmedia::packet::RtpPacket;
use webrtc_util::{Marshal, MarshalSize, Unmarshal};

/// rtmedia: validate and rewrite in place. Returns the extension's old
/// second byte.
#[inline(always)]
pub fn rewrite_rtmedia(buf: &mut [u8], seq: u16) -> u8 {
    let mut p = RtpPacket::parse(buf).unwrap();
    let twcc = p.extension(3).unwrap()[1];
    p.set_ssrc(0xaabb_ccdd);
    p.set_sequence_number(seq);
    p.set_timestamp(p.timestamp().wrapping_add(3000));
    p.set_payload_type(100);
    p.set_marker(true);
    p.extension_mut(3)
        .unwrap()
        .copy_from_slice(&seq.to_be_bytes());
    twcc
}

/// The `rtp` crate: parse into an owned `Packet` (header fields in Vecs,
/// payload as a `Bytes` slice), change the fields, marshal into `out`.
/// Returns the extension's old second byte.
#[inline(always)]
pub fn rewrite_rtp_crate(mut packet: Bytes, seq: u16, out: &mut [u8]) -> u8 {
    let mut p = rtp::packet::Packet::unmarshal(&mut packet).unwrap();
    let twcc = p.header.get_extension(3).unwrap()[1];
    p.header.ssrc = 0xaabb_ccdd;
    p.header.sequence_number = seq;
    p.header.timestamp = p.header.timestamp.wrapping_add(3000);
    p.header.payload_type = 100;
    p.header.marker = true;
    p.header
        .set_extension(3, Bytes::copy_from_slice(&seq.to_be_bytes()))
        .unwrap();
    let len = p.marshal_size();
    p.marshal_to(&mut out[..len]).unwrap();
    twcc
}
