//! The subscriber side of the forwarder bench (`benches/forwarder.rs`) and
//! of the report's simulcast rows (`examples/report/stages/simulcast.rs`,
//! which includes this file with `#[path]`): a subscriber's forwarder and
//! SRTP contexts, and the naive `rtp`-crate forwarder that is the baseline.

use bytes::{BufMut, Bytes, BytesMut};
use rtmedia::sim::SimulcastTrace;
use rtmedia::simulcast::{Forwarder, ForwarderConfig, Layer};
use rtmedia::srtp::{Config, Profile, Srtp};
use rtp::codecs::vp8::Vp8Packet;
use rtp::packetizer::Depacketizer;
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile;
use webrtc_util::{Marshal, MarshalSize, Unmarshal};

/// SSRC of every subscriber's stream.
pub const OUT_SSRC: u32 = 0x5eb5_c41b;

/// A subscriber's forwarder heading for `target`.
pub fn forwarder(target: Layer) -> Forwarder {
    let mut f = Forwarder::new(ForwarderConfig {
        ssrc: OUT_SSRC,
        ..ForwarderConfig::default()
    });
    f.set_target(target);
    f
}

/// An rtmedia AEAD_AES_128_GCM context keyed by `key_byte`.
pub fn gcm(key_byte: u8) -> Srtp {
    Srtp::new(
        Profile::AeadAes128Gcm,
        &[key_byte; 16],
        &[key_byte ^ 0xff; 12],
        Config::default(),
    )
    .unwrap()
}

/// The same for webrtc-srtp (with replay protection when `receiver`).
pub fn webrtc_gcm(key_byte: u8, receiver: bool) -> WebrtcContext {
    let replay = receiver.then(|| srtp_replay_protection(Config::default().replay_window));
    WebrtcContext::new(
        &[key_byte; 16],
        &[key_byte ^ 0xff; 12],
        ProtectionProfile::AeadAes128Gcm,
        replay,
        None,
    )
    .unwrap()
}

/// The naive forwarder: parse each packet with the `rtp` crate, keep the
/// target layer's SSRC and temporal layers (the crate's VP8 depacketizer),
/// rewrite SSRC, sequence number and timestamp, re-serialise the descriptor
/// with the new PictureID, marshal.
pub struct Naive {
    ssrc_in: u32,
    max_tid: u8,
    next_seq: u16,
    ts_offset: u32,
    pid_offset: u16,
    vp8: Vp8Packet,
}

impl Naive {
    pub fn new(trace: &SimulcastTrace, target: Layer) -> Self {
        Self {
            ssrc_in: trace.ssrcs()[usize::from(target.spatial)],
            max_tid: target.temporal,
            next_seq: 1000,
            ts_offset: 0x1234_5678,
            pid_offset: 77,
            vp8: Vp8Packet::default(),
        }
    }

    /// Writes the rewritten packet into `out`, or `None` if not forwarded.
    pub fn rewrite(&mut self, mut packet: Bytes, out: &mut [u8]) -> Option<usize> {
        let mut p = rtp::packet::Packet::unmarshal(&mut packet).expect("rtp crate parses");
        if p.header.ssrc != self.ssrc_in {
            return None;
        }
        let vp8_payload = self.vp8.depacketize(&p.payload).expect("VP8 descriptor");
        let d = &self.vp8;
        if d.tid > self.max_tid {
            return None;
        }
        p.header.ssrc = OUT_SSRC;
        p.header.sequence_number = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        p.header.timestamp = p.header.timestamp.wrapping_add(self.ts_offset);
        let mut payload = BytesMut::with_capacity(6 + vp8_payload.len());
        payload.put_u8(0x80 | d.n << 5 | d.s << 4 | d.pid);
        payload.put_u8(d.i << 7 | d.l << 6 | d.t << 5 | d.k << 4);
        if d.i == 1 {
            payload.put_u16(0x8000 | (d.picture_id.wrapping_add(self.pid_offset) & 0x7fff));
        }
        if d.l == 1 {
            payload.put_u8(d.tl0_pic_idx);
        }
        if d.t == 1 || d.k == 1 {
            payload.put_u8(d.tid << 6 | d.y << 5 | d.key_idx);
        }
        payload.extend_from_slice(&vp8_payload);
        p.payload = payload.freeze();
        let n = p.marshal_size();
        p.marshal_to(&mut out[..n]).expect("room to marshal");
        Some(n)
    }
}

/// The next `n` packets of `trace`'s endless stream from `*next` (which
/// moves on), each written into a `cap`-byte piece of one new slab, as a
/// host's pooled receive buffers are: the piece, the packet's length and
/// its arrival time.
pub fn slab_pieces<'a>(
    trace: &'a SimulcastTrace,
    next: &'a mut u64,
    n: usize,
    cap: usize,
) -> impl Iterator<Item = (BytesMut, usize, u64)> + 'a {
    let mut slab = BytesMut::zeroed(n * cap);
    (0..n).map(move |_| {
        let mut piece = slab.split_to(cap);
        let (len, at) = trace.write(*next, &mut piece);
        *next += 1;
        (piece, len, at)
    })
}
