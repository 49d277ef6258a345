//! What the forwarder rows and the scaling rooms share: the VP8 simulcast
//! trace (made once, before anything is timed, as in `benches/forwarder.rs`),
//! its replay as an endless never-replayed stream, the subscribers'
//! forwarders and SRTP contexts, and the naive `rtp`-crate forwarder that is
//! the baseline.

use std::hint::black_box;

use bytes::{BufMut, Bytes, BytesMut};
use rtmedia::codec::vp8::Descriptor;
use rtmedia::packet::RtpLayout;
use rtmedia::sim::{SimulcastConfig, SimulcastPublisher};
use rtmedia::simulcast::{Forwarded, Forwarder, ForwarderConfig, Layer, Source, SourcePacket};
use rtmedia::srtp::{Config, Profile, Srtp};
use rtp::codecs::vp8::Vp8Packet;
use rtp::packetizer::Depacketizer;
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile;
use webrtc_util::{Marshal, MarshalSize, Unmarshal};

use super::Options;

/// The single-subscriber rows' target layer.
pub(crate) const TARGET: Layer = Layer::new(2, 1);
/// Targets of several subscribers: subscriber `i` gets `TARGETS[i % 4]`.
pub(crate) const TARGETS: [Layer; 4] = [
    Layer::new(2, 2),
    Layer::new(2, 1),
    Layer::new(1, 2),
    Layer::new(0, 2),
];
/// SRTP profile of the publisher and the subscribers.
pub(crate) const PROFILE: Profile = Profile::AeadAes128Gcm;
/// Key byte of the publisher's SRTP context (subscriber `i` uses `i`).
pub(crate) const PUBLISHER_KEY: u8 = 0x3c;
const OUT_SSRC: u32 = 0x5eb5_c41b;

/// One encoded run of a [`SimulcastPublisher`] (libvpx; 320x180, 640x360
/// and 1280x720 at 150, 500 and 1500 kbit/s; L1T3; packets of at most 1200
/// bytes) and what it takes to replay it as a longer continuous stream.
pub(crate) struct Trace {
    pub packets: Vec<Bytes>,
    /// Arrival time of each packet (its frame's send time), µs.
    pub at_us: Vec<u64>,
    layer: Vec<usize>,
    /// Offsets in each packet of the PictureID and TL0PICIDX bytes.
    pid_at: Vec<usize>,
    tl0_at: Vec<usize>,
    pub ssrcs: Vec<u32>,
    /// Per layer: how far one pass moves sequence numbers, PictureIDs and
    /// TL0PICIDX; then timestamps (ticks) and time (µs).
    seq_span: [u64; 3],
    pid_span: [u64; 3],
    tl0_span: [u64; 3],
    ts_span: u64,
    duration_us: u64,
}

/// Pictures in the trace: 8 s at 30 fps (1 s with `--quick`).
fn frames(options: &Options) -> usize {
    if options.quick {
        30
    } else {
        240
    }
}

impl Trace {
    pub(crate) fn new(options: &Options) -> Self {
        let frames = frames(options);
        let mut publisher = SimulcastPublisher::new(SimulcastConfig {
            seed: 5,
            ..SimulcastConfig::default()
        })
        .expect("libvpx encoder");
        let start = publisher.next_send_time();
        let mut t = Trace {
            packets: Vec::new(),
            at_us: Vec::new(),
            layer: Vec::new(),
            pid_at: Vec::new(),
            tl0_at: Vec::new(),
            ssrcs: publisher.ssrcs(),
            seq_span: [0; 3],
            pid_span: [0; 3],
            tl0_span: [0; 3],
            ts_span: frames as u64 * 3000,
            duration_us: 0,
        };
        let mut first = [None::<(u16, u16, u8)>; 3];
        let mut last = [(0u16, 0u16, 0u8); 3];
        for _ in 0..frames {
            let frame = publisher.next_frame();
            for lf in &frame.layers {
                for p in &lf.packets {
                    let layout = RtpLayout::parse(p).unwrap();
                    let payload = &p[layout.payload_start..layout.payload_end];
                    let d = Descriptor::parse(payload).unwrap();
                    assert!(d.picture_id_15bit && d.tl0_pic_idx.is_some());
                    let seq = u16::from_be_bytes([p[2], p[3]]);
                    let values = (seq, d.picture_id.unwrap(), d.tl0_pic_idx.unwrap());
                    if first[lf.layer].is_some() {
                        let prev = last[lf.layer].0;
                        assert_eq!(seq, prev.wrapping_add(1), "gapless per layer");
                    } else {
                        first[lf.layer] = Some(values);
                    }
                    last[lf.layer] = values;
                    // Shared, as a host's pooled buffers are.
                    drop(p.clone());
                    t.packets.push(p.clone());
                    t.at_us.push(frame.send_time_us);
                    t.layer.push(lf.layer);
                    t.pid_at.push(layout.payload_start + d.picture_id_offset);
                    t.tl0_at.push(layout.payload_start + d.tl0_pic_idx_offset);
                }
            }
        }
        for l in 0..3 {
            let (f, z) = (first[l].expect("every layer sent"), last[l]);
            t.seq_span[l] = u64::from(z.0.wrapping_sub(f.0)) + 1;
            t.pid_span[l] = u64::from(z.1.wrapping_sub(f.1) & 0x7fff) + 1;
            t.tl0_span[l] = u64::from(z.2.wrapping_sub(f.2)) + 1;
        }
        t.duration_us = publisher.next_send_time() - start;
        t
    }

    pub(crate) fn len(&self) -> usize {
        self.packets.len()
    }

    /// Mean RTP packet size, the `bytes` of the rows that use the trace.
    pub(crate) fn mean_bytes(&self) -> usize {
        self.packets.iter().map(Bytes::len).sum::<usize>() / self.len()
    }

    /// Packet `k` of the endless stream into `buf`: pass `k / len` has every
    /// layer's sequence numbers, timestamps, PictureIDs and TL0PICIDX moved
    /// on by one trace length per pass. Returns its length and arrival time.
    pub(crate) fn write(&self, k: u64, buf: &mut [u8]) -> (usize, u64) {
        let n = self.len() as u64;
        let (pass, i) = (k / n, (k % n) as usize);
        let p = &self.packets[i];
        let l = self.layer[i];
        buf[..p.len()].copy_from_slice(p);
        let seq = u64::from(u16::from_be_bytes([p[2], p[3]])) + pass * self.seq_span[l];
        buf[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
        let ts = u64::from(u32::from_be_bytes([p[4], p[5], p[6], p[7]])) + pass * self.ts_span;
        buf[4..8].copy_from_slice(&(ts as u32).to_be_bytes());
        let at = self.pid_at[i];
        let pid =
            u64::from(u16::from_be_bytes([p[at], p[at + 1]]) & 0x7fff) + pass * self.pid_span[l];
        buf[at..at + 2].copy_from_slice(&(0x8000 | (pid & 0x7fff) as u16).to_be_bytes());
        let at = self.tl0_at[i];
        buf[at] = (u64::from(p[at]) + pass * self.tl0_span[l]) as u8;
        (p.len(), self.at_us[i] + pass * self.duration_us)
    }
}

/// A subscriber's forwarder heading for `target`.
pub(crate) fn forwarder(target: Layer) -> Forwarder {
    let mut f = Forwarder::new(ForwarderConfig {
        ssrc: OUT_SSRC,
        ..ForwarderConfig::default()
    });
    f.set_target(target);
    f
}

/// One subscriber's share of a source packet, as a host loop does it:
/// forward into `out`, protect in place (where the host would send it),
/// then [`Forwarder::backfill`] until `None` (packets of a new layer that
/// arrived before the keyframe that started it). Returns the packets sent.
#[inline]
pub(crate) fn send(
    fwd: &mut Forwarder,
    tx: &mut Srtp,
    source: &Source,
    pkt: &SourcePacket,
    out: &mut [u8],
    now: u64,
) -> u64 {
    let Forwarded::Sent(len) = fwd.forward(pkt, out, now).unwrap() else {
        return 0;
    };
    black_box(tx.protect_rtp(out, len).unwrap());
    let mut sent = 1;
    while let Some(len) = fwd.backfill(source, out, now).unwrap() {
        black_box(tx.protect_rtp(out, len).unwrap());
        sent += 1;
    }
    sent
}

/// An rtmedia AEAD_AES_128_GCM context keyed by `key_byte`.
pub(crate) fn gcm(key_byte: u8) -> Srtp {
    Srtp::new(
        PROFILE,
        &[key_byte; 16],
        &[key_byte ^ 0xff; 12],
        Config::default(),
    )
    .unwrap()
}

/// The same for webrtc-srtp (with replay protection when `receiver`).
pub(crate) fn webrtc_gcm(key_byte: u8, receiver: bool) -> WebrtcContext {
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

/// The naive forwarder of `benches/forwarder.rs`: parse each packet with the
/// `rtp` crate, keep the target layer's SSRC and temporal layers (the
/// crate's VP8 depacketizer), rewrite SSRC, sequence number and timestamp,
/// re-serialise the descriptor with the new PictureID, marshal.
pub(crate) struct Naive {
    ssrc_in: u32,
    max_tid: u8,
    next_seq: u16,
    ts_offset: u32,
    pid_offset: u16,
    vp8: Vp8Packet,
}

impl Naive {
    pub(crate) fn new(trace: &Trace, target: Layer) -> Self {
        Self {
            ssrc_in: trace.ssrcs[usize::from(target.spatial)],
            max_tid: target.temporal,
            next_seq: 1000,
            ts_offset: 0x1234_5678,
            pid_offset: 77,
            vp8: Vp8Packet::default(),
        }
    }

    /// Writes the rewritten packet into `out`, or `None` if not forwarded.
    pub(crate) fn rewrite(&mut self, mut packet: Bytes, out: &mut [u8]) -> Option<usize> {
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
