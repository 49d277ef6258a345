//! An Opus RTP packet (payload type 111) as the mixer tests' talkers send
//! it: one encoded frame, optionally with an RFC 6464 audio level
//! (one-byte extension id 1).

use bytes::Bytes;
use rtmedia::packet::RtpBuilder;

pub fn opus_rtp(seq: u16, timestamp: u32, ssrc: u32, level: Option<u8>, payload: &[u8]) -> Bytes {
    let byte = level.map(|l| [l]);
    let ext = byte.as_ref().map(|b| (1u8, &b[..]));
    let mut buf = vec![0u8; 12 + 8 + payload.len()];
    let len = RtpBuilder {
        payload_type: 111,
        sequence_number: seq,
        timestamp,
        ssrc,
        extensions: ext.as_slice(),
        payload,
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    buf.truncate(len);
    Bytes::from(buf)
}
