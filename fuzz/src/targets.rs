//! The bodies of rtmedia's fuzz targets, one function per target, shared by
//! the cargo-fuzz binaries (`fuzz/fuzz_targets/*.rs`) and by the stable
//! test `tests/fuzz_corpus.rs`, which replays the checked-in seed corpora
//! (`fuzz/corpus/<target>/`) so CI keeps every target building and passing
//! without libFuzzer.
//!
//! Each target feeds network bytes to one entry point and checks the
//! documented contract on the way, not only "no panic": a failed
//! unprotect or extension rewrite leaves the buffer unchanged, protect then
//! unprotect gives the packet back, tap samples stay in [-1, 1].
//!
//! Inputs that carry several packets are read as records by [`Input`]: a
//! control byte, a 16-bit time step, then a 16-bit length (11 bits used)
//! and that many bytes.

use bytes::Bytes;
use rtmedia::audio::mixer::{Mixer, MixerConfig};
use rtmedia::codec::{self, h264, vp8, Codec};
use rtmedia::jitter::{JitterBuffer, JitterConfig};
use rtmedia::packet::rtcp::{self, RtcpPacket};
use rtmedia::packet::rtp::{add_extension, remove_extension};
use rtmedia::packet::RtpPacket;
use rtmedia::simulcast::{Forwarded, Forwarder, ForwarderConfig, Layer, Source, SourceConfig};
use rtmedia::srtp::{Config, Profile, Srtp, MAX_TRAILER_LEN};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: [(&str, Target); 7] = [
    ("rtp_parse", rtp_parse),
    ("rtcp_compound", rtcp_compound),
    ("srtp", srtp),
    ("codec", codec),
    ("jitter", jitter),
    ("source", source),
    ("mixer", mixer),
];

/// SSRCs the multi-packet targets patch into packets whose control byte
/// asks for it, so that most packets get past the SSRC lookup.
pub const SSRCS: [u32; 3] = [0x1111_1111, 0x2222_2222, 0x3333_3333];

/// A cursor over the fuzz input; reads past the end give zeros/empty.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn byte(&mut self) -> u8 {
        let (b, rest) = self
            .data
            .split_first()
            .map_or((0, &[][..]), |(b, r)| (*b, r));
        self.data = rest;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One record: (control byte, time step in µs, packet bytes).
    pub fn record(&mut self) -> Option<(u8, u64, &'a [u8])> {
        if self.is_empty() {
            return None;
        }
        let control = self.byte();
        let step = u64::from(self.u16()) * 16;
        let len = usize::from(self.u16() & 0x7ff);
        Some((control, step, self.take(len)))
    }
}

/// Writes one record as [`Input::record`] reads it (for seed corpora).
pub fn write_record(out: &mut Vec<u8>, control: u8, step_us: u64, packet: &[u8]) {
    out.push(control);
    out.extend_from_slice(&((step_us / 16).min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&(packet.len().min(0x7ff) as u16).to_be_bytes());
    out.extend_from_slice(&packet[..packet.len().min(0x7ff)]);
}

/// A packet from a record, with the SSRC of `SSRCS[control % 3]` written in
/// when the control byte's top bit is clear.
fn patched(control: u8, packet: &[u8]) -> Bytes {
    let mut p = packet.to_vec();
    if control & 0x80 == 0 && p.len() >= 12 {
        p[8..12].copy_from_slice(&SSRCS[usize::from(control % 3)].to_be_bytes());
    }
    Bytes::from(p)
}

/// RTP parsing, every accessor, and extension rewriting: a rewrite either
/// succeeds with the element in place or leaves the buffer unchanged.
pub fn rtp_parse(data: &[u8]) {
    let mut input = Input::new(data);
    let id = input.byte();
    let value_len = usize::from(input.byte() % 40);
    let value = input.take(value_len).to_vec();
    let spare = usize::from(input.byte() % 32);
    let packet = input.rest();
    if let Ok(p) = RtpPacket::parse(packet) {
        let _ = (
            p.version(),
            p.marker(),
            p.payload_type(),
            p.sequence_number(),
        );
        let _ = (p.timestamp(), p.ssrc(), p.csrcs().count(), p.padding_len());
        let _ = p.extension_block();
        for e in p.extensions() {
            assert!(p.extension(e.id).is_some());
        }
        assert!(p.payload_range().end <= packet.len());
        let _ = p.payload();
    }
    let mut buf = packet.to_vec();
    buf.resize(packet.len() + spare, 0xee);
    let before = buf.clone();
    match add_extension(&mut buf, packet.len(), id, &value) {
        Ok(n) => {
            let p = RtpPacket::parse(&buf[..n]).expect("a rewritten packet parses");
            // With a duplicate element id (hostile input) the first one left
            // after the replace is the other duplicate.
            let duplicates = RtpPacket::parse(packet)
                .map_or(0, |p| p.extensions().filter(|e| e.id == id).count());
            if duplicates <= 1 {
                assert_eq!(p.extension(id), Some(&value[..]));
            }
        }
        Err(_) => assert_eq!(buf, before, "a failed add_extension changed the packet"),
    }
    let mut buf = before.clone();
    match remove_extension(&mut buf, packet.len(), id) {
        Ok(n) => {
            RtpPacket::parse(&buf[..n]).expect("a rewritten packet parses");
        }
        Err(_) => assert_eq!(buf, before, "a failed remove_extension changed the packet"),
    }
}

/// RTCP compound parsing and every accessor of every packet type.
pub fn rtcp_compound(data: &[u8]) {
    for packet in rtcp::compound(data) {
        let Ok(packet) = packet else { continue };
        let _ = packet.packet_type();
        match packet {
            RtcpPacket::SenderReport(sr) => {
                let _ = (sr.ssrc(), sr.ntp_timestamp(), sr.rtp_timestamp());
                let _ = (sr.packet_count(), sr.octet_count(), sr.profile_extension());
                sr.report_blocks().for_each(drop);
            }
            RtcpPacket::ReceiverReport(rr) => {
                let _ = (rr.ssrc(), rr.profile_extension());
                rr.report_blocks().for_each(drop);
            }
            RtcpPacket::Sdes(sdes) => {
                let _ = sdes.cname();
                for (_, items) in sdes.chunks() {
                    items.for_each(drop);
                }
            }
            RtcpPacket::Bye(bye) => {
                bye.ssrcs().for_each(drop);
                let _ = bye.reason();
            }
            RtcpPacket::Nack(nack) => {
                let _ = (nack.sender_ssrc(), nack.media_ssrc());
                nack.pairs().for_each(drop);
                assert!(nack.lost_sequence_numbers().count() <= 17 * nack.pairs().count());
            }
            RtcpPacket::Pli(pli) => {
                let _ = (pli.sender_ssrc(), pli.media_ssrc());
            }
            RtcpPacket::Fir(fir) => {
                let _ = (fir.sender_ssrc(), fir.media_ssrc());
                fir.entries().for_each(drop);
            }
            RtcpPacket::Remb(remb) => {
                let _ = (remb.sender_ssrc(), remb.media_ssrc(), remb.bitrate_bps());
                let _ = remb.exponent_mantissa();
                remb.ssrcs().for_each(drop);
            }
            RtcpPacket::TransportCc(fb) => {
                let _ = (fb.sender_ssrc(), fb.media_ssrc(), fb.base_seq());
                let _ = (fb.reference_time_us(), fb.fb_pkt_count());
                assert!(fb.results().count() <= usize::from(fb.status_count()));
            }
            RtcpPacket::CongestionFeedback(fb) => {
                let _ = (fb.sender_ssrc(), fb.report_timestamp());
                for block in fb.blocks() {
                    block.metrics().for_each(drop);
                }
                fb.results().for_each(drop);
            }
            RtcpPacket::Unknown { .. } => {}
        }
    }
}

const KEY: [u8; 32] = [0x3c; 32];
const SALT: [u8; 14] = [0x5a; 14];

fn context(profile: Profile, cryptex: bool) -> Srtp {
    let config = Config {
        cryptex,
        replay_window: 64,
        max_ssrcs: 4,
    };
    Srtp::new(
        profile,
        &KEY[..profile.key_len()],
        &SALT[..profile.salt_len()],
        config,
    )
    .expect("valid key lengths")
}

/// SRTP/SRTCP: unprotect of arbitrary bytes leaves them unchanged on
/// failure; protect then unprotect gives the packet back.
pub fn srtp(data: &[u8]) {
    let mut input = Input::new(data);
    let selector = input.byte();
    let profile = Profile::ALL[usize::from(selector % 6)];
    let cryptex = selector & 0x40 != 0;
    let mode = input.byte();
    let roc = input.byte();
    let packet = input.rest();
    let mut rx = context(profile, cryptex);
    if roc & 0x80 != 0 && packet.len() >= 12 {
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let _ = rx.set_receive_roc(ssrc, u32::from(roc & 0x7f), seq);
    }
    match mode % 4 {
        0 | 1 => {
            let rtcp = mode % 4 == 1;
            let mut buf = packet.to_vec();
            let result = if rtcp {
                rx.unprotect_rtcp(&mut buf)
            } else {
                rx.unprotect_rtp(&mut buf)
            };
            match result {
                Ok(n) => assert!(n <= packet.len()),
                Err(_) => assert_eq!(buf, packet, "a failed unprotect changed the packet"),
            }
        }
        _ => {
            let rtcp = mode % 4 == 3;
            let mut tx = context(profile, cryptex);
            let mut buf = packet.to_vec();
            buf.resize(packet.len() + MAX_TRAILER_LEN + 4, 0);
            let protected = if rtcp {
                tx.protect_rtcp(&mut buf, packet.len())
            } else {
                tx.protect_rtp(&mut buf, packet.len())
            };
            let Ok(n) = protected else {
                assert_eq!(
                    &buf[..packet.len()],
                    packet,
                    "a failed protect changed the packet"
                );
                return;
            };
            let mut fresh = context(profile, cryptex);
            let back = if rtcp {
                fresh.unprotect_rtcp(&mut buf[..n])
            } else {
                fresh.unprotect_rtp(&mut buf[..n])
            };
            let len = back.expect("a protected packet unprotects");
            if !cryptex {
                assert_eq!(&buf[..len], packet, "the round trip changed the packet");
            }
        }
    }
}

/// VP8 descriptor and H.264 NAL inspection.
pub fn codec(data: &[u8]) {
    if let Ok(d) = vp8::Descriptor::parse(data) {
        assert!(d.len <= data.len());
    }
    let _ = h264::nal_info(data);
    let _ = h264::is_keyframe(data);
    for c in [Codec::Vp8, Codec::H264, Codec::Opaque] {
        let _ = codec::is_keyframe_start(c, data);
        let _ = codec::starts_frame(c, data);
    }
}

/// A jitter buffer (audio, or video of the codec the first byte picks)
/// pushed records at advancing times, popped and polled.
pub fn jitter(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let mut config = match mode % 4 {
        0 => JitterConfig::audio(),
        1 => JitterConfig::video(Codec::Vp8),
        2 => JitterConfig::video(Codec::H264),
        _ => JitterConfig::video(Codec::Opaque),
    };
    config.capacity_packets = 64;
    config.nack.enabled = mode & 0x10 != 0;
    let mut buffer = JitterBuffer::new(config);
    let mut now = u64::from(input.u16()) << 20;
    while let Some((control, step, packet)) = input.record() {
        now += step;
        if control & 0x40 != 0 {
            buffer.set_rtt(step * 8);
        }
        let _ = buffer.push(patched(control, packet), now);
        if control & 0x20 != 0 {
            while buffer.pop(now).is_some() {}
        }
        if let Some(at) = buffer.next_wakeup() {
            if control & 0x10 != 0 {
                while buffer.pop(at.max(now)).is_some() {}
            }
        }
        assert!(buffer.len() <= 64);
    }
}

/// A simulcast source and one subscriber's forwarder: packets, sender
/// reports, NACKs and keyframe requests at advancing times.
pub fn source(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let codec = [Codec::Vp8, Codec::H264, Codec::Opaque][usize::from(mode % 3)];
    let config = SourceConfig {
        codec,
        history_packets: 64,
        ..SourceConfig::default()
    };
    let mut source = Source::new(config, &SSRCS).expect("three distinct SSRCs");
    let mut forwarder = Forwarder::new(ForwarderConfig {
        ssrc: 0xabcd,
        history_packets: 64,
        ..ForwarderConfig::default()
    });
    forwarder.set_target(Layer::new(mode / 3 % 3, 2));
    let mut out = vec![0u8; 2100];
    let mut now = 1_000_000;
    while let Some((control, step, packet)) = input.record() {
        now += step;
        match control & 0x60 {
            0x20 => {
                let _ = source.on_rtcp(packet);
            }
            0x40 => {
                let seq = u16::from_be_bytes([
                    *packet.first().unwrap_or(&0),
                    *packet.get(1).unwrap_or(&0),
                ]);
                if let Ok(n) = forwarder.retransmit(&source, seq, &mut out) {
                    assert!(RtpPacket::parse(&out[..n]).is_ok());
                }
                source.request_keyframe(control % 3);
                forwarder.set_target(Layer::new(control % 3, control >> 3 & 3));
            }
            _ => {
                if let Ok(p) = source.on_rtp(patched(control, packet), now) {
                    let needed = p.forwarded_len();
                    if let Ok(Forwarded::Sent(n)) = forwarder.forward(&p, &mut out[..needed], now) {
                        assert!(RtpPacket::parse(&out[..n]).is_ok());
                    }
                }
            }
        }
        while source.poll_keyframe_request(now).is_some() {}
        let _ = forwarder.poll_keyframe_request();
        let _ = source.bitrates(now);
        let _ = source.keyframe_bytes();
    }
}

/// A three-participant mixer (one tapped) fed records through the input
/// queues and ticked every 20 ms of record time.
pub fn mixer(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let mut mixer = Mixer::new(MixerConfig {
        loudest: usize::from(mode % 3) + 1,
        audio_level_ext_id: (mode & 0x10 != 0).then_some(1),
        csrc_levels_ext_id: (mode & 0x20 != 0).then_some(2),
        ..MixerConfig::default()
    })
    .expect("default mixer");
    let inputs: Vec<_> = (0..3)
        .map(|i| {
            mixer
                .add_participant(i, SSRCS[i as usize], 0x100 + i, i == 0)
                .expect("room for three")
        })
        .collect();
    let mut now = 0;
    let mut next_tick = 20_000;
    let mut out = [0u8; 1500];
    let mut ticks = 0;
    while let Some((control, step, packet)) = input.record() {
        now += step;
        inputs[usize::from(control % 3)].push(patched(control, packet), now);
        // A tick decodes and encodes Opus: at most 10 per input keeps the
        // fuzzer fast (a time step of hours still ticks only that often).
        while now >= next_tick && ticks < 10 {
            ticks += 1;
            let tick = mixer.tick(next_tick);
            for p in tick.packets() {
                let _ = tick.write_rtp(p, &mut out);
            }
            next_tick += 20_000;
            if let Some(frame) = mixer.take_tap_frame(0) {
                assert!(frame.pcm.iter().all(|s| (-1.0..=1.0).contains(s)));
            }
        }
    }
}
