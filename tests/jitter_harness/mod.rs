//! The simulated sender → link → jitter buffer loop shared by the jitter
//! outcome tests (see `jitter_outcomes.rs` for what it models).
#![allow(dead_code)]

pub use bytes::{Bytes, BytesMut};
pub use rtmedia::codec::vp8::Descriptor;
pub use rtmedia::codec::Codec;
pub use rtmedia::jitter::{restore_rtx, Event, JitterBuffer, JitterConfig, Pushed, RtxConfig};
pub use rtmedia::packet::rtcp::{self, NackBuilder, PliBuilder, RtcpPacket};
pub use rtmedia::packet::RtpPacket;
pub use rtmedia::sim::{
    vp8_depacketize, Jitter, Link, LinkConfig, Loss, OpusConfig, OpusPublisher, RtxSender,
    Vp8Config, Vp8Decoder, Vp8Publisher, OPUS_FRAME_SAMPLES,
};
pub use std::collections::HashSet;

pub const RECEIVER_SSRC: u32 = 0x0bad_cafe;
pub const RTX_SSRC: u32 = 0x7e7e_0001;
pub const RTX_PT: u8 = 97;
/// Packets the sender keeps for retransmission.
pub const RTX_HISTORY: usize = 512;

// ------------------------------------------------------------ harness ---

/// A sender as the loop sees it: when it sends next, what it sends, and its
/// answer to a keyframe request.
pub trait Source {
    fn next_send_time(&self) -> u64;
    fn emit(&mut self, out: &mut Vec<Bytes>);
    fn on_keyframe_request(&mut self) {}
}

impl Source for OpusPublisher {
    fn next_send_time(&self) -> u64 {
        OpusPublisher::next_send_time(self)
    }
    fn emit(&mut self, out: &mut Vec<Bytes>) {
        out.push(self.next_packet().1);
    }
}

/// Packets encoded once, replayed at their send times (many link seeds
/// over the same media, without encoding it again).
pub struct Replay {
    pub packets: std::sync::Arc<Vec<(u64, Bytes)>>,
    pub next: usize,
}

impl Replay {
    /// `seconds` of an Opus publisher's packets.
    pub fn opus(config: OpusConfig, seconds: u64) -> Vec<(u64, Bytes)> {
        let mut publisher = OpusPublisher::new(config).unwrap();
        let mut out = Vec::new();
        while publisher.next_send_time() < seconds * 1_000_000 {
            out.push(publisher.next_packet());
        }
        out
    }
}

impl Source for Replay {
    fn next_send_time(&self) -> u64 {
        self.packets.get(self.next).map_or(u64::MAX, |p| p.0)
    }
    fn emit(&mut self, out: &mut Vec<Bytes>) {
        out.push(self.packets[self.next].1.clone());
        self.next += 1;
    }
}

pub struct Video {
    pub publisher: Vp8Publisher,
    /// Sender's record of each frame: first packet index, keyframe.
    pub frames: Vec<(usize, bool)>,
    pub packets: usize,
    pub keyframes_forced: u32,
}

impl Source for Video {
    fn next_send_time(&self) -> u64 {
        self.publisher.next_send_time()
    }
    fn emit(&mut self, out: &mut Vec<Bytes>) {
        let frame = self.publisher.next_frame();
        self.frames.push((self.packets, frame.keyframe));
        self.packets += frame.packets.len();
        out.extend(frame.packets);
    }
    fn on_keyframe_request(&mut self) {
        self.keyframes_forced += 1;
        self.publisher.force_keyframe();
    }
}

/// What happened to one packet the sender sent (indexed from its first).
#[derive(Debug, Clone, Default)]
pub struct PacketLog {
    pub send_time: u64,
    /// First arrival of any copy (original or RTX), and of the original.
    pub first_arrival: Option<u64>,
    pub first_original: Option<u64>,
    /// Arrival of the copy the buffer stored, and whether it was an RTX.
    pub stored: Option<(u64, bool)>,
    pub copies: u32,
    pub too_late: u32,
    pub rtx_sent: u32,
    /// When the receiver requested it (one entry per NACK naming it).
    pub nacks: Vec<u64>,
    /// Each retransmission: when the sender sent it, when it arrived.
    pub retransmissions: Vec<(u64, Option<u64>)>,
}

/// One audio event as released.
#[derive(Debug, Clone)]
pub enum AudioOut {
    Packet { index: usize, payload: Bytes },
    Lost { index: usize, fec_in_next: bool },
}

/// One video frame as released.
#[derive(Debug, Clone)]
pub struct FrameOut {
    pub first_index: usize,
    pub keyframe: bool,
    pub packets: Vec<Bytes>,
}

pub struct Sim<S: Source> {
    pub source: S,
    pub fwd: Link,
    pub rev: Link,
    pub jb: JitterBuffer,
    /// NACK feedback and RTX answers, when on.
    pub rtx: Option<RtxSender>,
    pub media_ssrc: u32,
    pub first_seq: Option<u16>,
    /// No packet is sent at or after this time.
    pub send_until: u64,
    pub now: u64,
    pub log: Vec<PacketLog>,
    pub audio: Vec<(u64, AudioOut)>,
    pub video: Vec<FrameOut>,
    /// (time, index, time in buffer) of every emitted audio packet / frame.
    pub residence: Vec<(u64, usize, u64)>,
    pub target_max: u64,
    /// Target delay sampled once a second.
    pub targets: Vec<u64>,
    pub nacks_sent: u64,
    pub plis_sent: Vec<u64>,
    pub scratch: Vec<Bytes>,
    /// Retransmissions travel on their own link (same impairments, own
    /// seed), so that the media stream's delays do not depend on them: a
    /// run with and one without a loss see the same jitter on every other
    /// packet.
    pub rtx_link: Link,
    /// Answer NACKs with the original packet on the media SSRC (no RTX).
    pub plain_retransmissions: bool,
    /// Data pointers of plain retransmissions in flight (how the harness,
    /// not the buffer, tells them from originals).
    pub plain_ptrs: HashSet<usize>,
    pub media_pt: u8,
    /// Indices whose original the receiver discards on arrival (a loss
    /// that leaves the link's random draws unchanged).
    pub drop_original: HashSet<usize>,
    /// Indices whose first retransmission the receiver discards.
    pub drop_first_rtx: HashSet<usize>,
    /// `(first, last, delta)`: the sender adds `delta` to the RTP
    /// timestamp of packets `first..=last`.
    pub ts_shift: Vec<(usize, usize, u32)>,
    /// `(time, target delay)` every 50 ms.
    pub target_trace: Vec<(u64, u64)>,
}

impl<S: Source> Sim<S> {
    pub fn new(source: S, link: LinkConfig, seed: u64, config: JitterConfig, nack: bool) -> Self {
        let mut jb = JitterBuffer::new(config);
        jb.set_rtt(2 * link.base_delay_us);
        Self {
            source,
            fwd: Link::new(link, seed),
            rev: Link::new(link, seed ^ 0xfeed_beef),
            jb,
            rtx: nack.then(|| RtxSender::new(RTX_SSRC, RTX_PT, 1000, RTX_HISTORY)),
            media_ssrc: 0,
            first_seq: None,
            send_until: 0,
            now: 0,
            log: Vec::new(),
            audio: Vec::new(),
            video: Vec::new(),
            residence: Vec::new(),
            target_max: 0,
            targets: Vec::new(),
            nacks_sent: 0,
            plis_sent: Vec::new(),
            scratch: Vec::new(),
            rtx_link: Link::new(link, seed ^ 0x0123_4567_89ab),
            plain_retransmissions: false,
            plain_ptrs: HashSet::new(),
            media_pt: 0,
            drop_original: HashSet::new(),
            drop_first_rtx: HashSet::new(),
            ts_shift: Vec::new(),
            target_trace: Vec::new(),
        }
    }

    pub fn index_of(&self, seq: u16) -> usize {
        usize::from(seq.wrapping_sub(self.first_seq.expect("a packet was sent")))
    }

    /// Sends for `send_for_us`, then lets everything in flight play out.
    pub fn run(&mut self, send_for_us: u64) {
        self.send_until = send_for_us;
        let until = send_for_us + 2_000_000;
        let mut next_sample = 0;
        loop {
            let mut next = u64::MAX;
            if self.source.next_send_time() < self.send_until {
                next = self.source.next_send_time();
            }
            for t in [
                self.fwd.next_delivery(),
                self.rev.next_delivery(),
                self.rtx_link.next_delivery(),
            ]
            .into_iter()
            .flatten()
            {
                next = next.min(t);
            }
            if let Some(t) = self.jb.next_wakeup() {
                // A wakeup at or before now that found nothing to do is
                // looked at again a millisecond later, not in a busy loop.
                next = next.min(t.max(self.now + 1_000));
            }
            if next == u64::MAX || next > until {
                break;
            }
            self.now = self.now.max(next);
            while self.now >= next_sample {
                if next_sample % 1_000_000 == 0 {
                    self.targets.push(self.jb.target_delay_us());
                }
                self.target_trace
                    .push((next_sample, self.jb.target_delay_us()));
                next_sample += 50_000;
            }
            self.step();
        }
    }

    pub fn step(&mut self) {
        let now = self.now;
        // Sender: media, then feedback.
        while self.source.next_send_time() <= now && self.source.next_send_time() < self.send_until
        {
            let mut out = std::mem::take(&mut self.scratch);
            out.clear();
            self.source.emit(&mut out);
            for packet in out.drain(..) {
                let p = RtpPacket::parse(&packet[..]).unwrap();
                let seq = p.sequence_number();
                self.media_ssrc = p.ssrc();
                self.media_pt = p.payload_type();
                let first = *self.first_seq.get_or_insert(seq);
                let index = usize::from(seq.wrapping_sub(first));
                let packet = match self.ts_shift.iter().find(|s| (s.0..=s.1).contains(&index)) {
                    Some(&(_, _, delta)) => {
                        let mut buf = BytesMut::from(&packet[..]);
                        let mut p = RtpPacket::parse(&mut buf[..]).unwrap();
                        let ts = p.timestamp().wrapping_add(delta);
                        p.set_timestamp(ts);
                        buf.freeze()
                    }
                    None => packet,
                };
                assert_eq!(
                    index,
                    self.log.len(),
                    "publisher sequence numbers are contiguous"
                );
                self.log.push(PacketLog {
                    send_time: now,
                    ..PacketLog::default()
                });
                if let Some(rtx) = &mut self.rtx {
                    rtx.remember(&packet);
                }
                self.fwd.send(now, packet);
            }
            self.scratch = out;
        }
        while let Some(feedback) = self.rev.poll(now) {
            for packet in rtcp::compound(&feedback) {
                match packet.unwrap() {
                    RtcpPacket::Nack(nack) => {
                        for seq in nack.lost_sequence_numbers() {
                            let index = self.index_of(seq);
                            let rtx = self.rtx.as_mut().expect("NACK only when on");
                            if let Some(p) = rtx.retransmit(seq) {
                                self.log[index].rtx_sent += 1;
                                self.log[index].retransmissions.push((now, None));
                                let p = if self.plain_retransmissions {
                                    let config = RtxConfig {
                                        rtx_ssrc: RTX_SSRC,
                                        media_ssrc: self.media_ssrc,
                                        media_payload_type: self.media_pt,
                                    };
                                    let plain = restore_rtx(p, &config).unwrap();
                                    self.plain_ptrs.insert(plain.as_ptr() as usize);
                                    plain
                                } else {
                                    p
                                };
                                self.rtx_link.send(now, p);
                            }
                        }
                    }
                    RtcpPacket::Pli(_) => self.source.on_keyframe_request(),
                    other => panic!("unexpected feedback {other:?}"),
                }
            }
        }
        // Receiver: arrivals, releases, feedback.
        while let Some(packet) = self.fwd.poll(now).or_else(|| self.rtx_link.poll(now)) {
            let p = RtpPacket::parse(&packet[..]).unwrap();
            let (seq, is_rtx) = if p.ssrc() == RTX_SSRC {
                (u16::from_be_bytes([p.payload()[0], p.payload()[1]]), true)
            } else {
                let plain = self.plain_ptrs.remove(&(packet.as_ptr() as usize));
                (p.sequence_number(), plain)
            };
            let index = self.index_of(seq);
            let entry = &mut self.log[index];
            if is_rtx {
                let first_rtx = entry.retransmissions.iter().all(|r| r.1.is_none());
                if let Some(r) = entry.retransmissions.iter_mut().find(|r| r.1.is_none()) {
                    r.1 = Some(now);
                }
                if first_rtx && self.drop_first_rtx.contains(&index) {
                    continue;
                }
            } else if self.drop_original.contains(&index) {
                continue;
            }
            entry.copies += 1;
            entry.first_arrival.get_or_insert(now);
            if !is_rtx {
                entry.first_original.get_or_insert(now);
            }
            match self.jb.push(packet, now).unwrap() {
                Pushed::Stored | Pushed::Reset => entry.stored = Some((now, is_rtx)),
                Pushed::TooLate => entry.too_late += 1,
                Pushed::Duplicate | Pushed::Ignored => {}
            }
        }
        self.drain();
        if self.rtx.is_some() {
            let mut lost = [0u16; 64];
            let n = self.jb.nack_list(now, &mut lost);
            for &seq in &lost[..n] {
                let index = self.index_of(seq);
                self.log[index].nacks.push(now);
            }
            if n > 0 {
                let mut buf = [0u8; 512];
                let len = NackBuilder {
                    sender_ssrc: RECEIVER_SSRC,
                    media_ssrc: self.media_ssrc,
                    lost: &lost[..n],
                }
                .write_into(&mut buf)
                .unwrap();
                self.nacks_sent += 1;
                self.rev.send(now, Bytes::copy_from_slice(&buf[..len]));
            }
        }
        if self.jb.take_keyframe_request() {
            let mut buf = [0u8; PliBuilder::LEN];
            PliBuilder {
                sender_ssrc: RECEIVER_SSRC,
                media_ssrc: self.media_ssrc,
            }
            .write_into(&mut buf)
            .unwrap();
            self.plis_sent.push(now);
            self.rev.send(now, Bytes::copy_from_slice(&buf));
        }
    }

    pub fn drain(&mut self) {
        let now = self.now;
        let first = self.first_seq.unwrap_or(0);
        let index_of = |seq: i64| usize::from((seq as u16).wrapping_sub(first));
        while let Some(event) = self.jb.pop(now) {
            match event {
                Event::Packet { packet, seq, .. } => {
                    let index = index_of(seq);
                    let arrival = self.log[index].stored.expect("emitted, so stored").0;
                    self.residence.push((now, index, now - arrival));
                    let payload = RtpPacket::parse(packet).unwrap().payload_bytes();
                    self.audio.push((now, AudioOut::Packet { index, payload }));
                }
                Event::Lost { seq, fec, .. } => {
                    let fec_in_next = fec.is_some();
                    let index = index_of(seq);
                    self.audio
                        .push((now, AudioOut::Lost { index, fec_in_next }));
                }
                Event::Frame {
                    packets,
                    first_seq,
                    keyframe,
                    ..
                } => {
                    let first_index = index_of(first_seq);
                    let last = first_index + packets.len() - 1;
                    let arrival = (first_index..=last)
                        .filter_map(|i| self.log[i].stored.map(|s| s.0))
                        .max()
                        .expect("a frame has packets");
                    self.residence.push((now, first_index, now - arrival));
                    self.video.push(FrameOut {
                        first_index,
                        keyframe,
                        packets: packets.to_vec(),
                    });
                }
            }
        }
        self.target_max = self.target_max.max(self.jb.target_delay_us());
    }

    /// Indices the link dropped outright (no copy arrived), between the
    /// first and the last packet that arrived.
    pub fn never_arrived(&self) -> Vec<usize> {
        let first = self.log.iter().position(|l| l.copies > 0).unwrap();
        let last = self.log.iter().rposition(|l| l.copies > 0).unwrap();
        (first..=last)
            .filter(|&i| self.log[i].copies == 0)
            .collect()
    }
}

pub fn percentile(values: &mut [u64], q: f64) -> u64 {
    assert!(!values.is_empty());
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Transit above the fastest packet's, for the given arrivals.
pub fn relative_transits(
    log: &[PacketLog],
    arrival: impl Fn(&PacketLog) -> Option<u64>,
) -> Vec<u64> {
    let transits: Vec<u64> = log
        .iter()
        .filter_map(|l| arrival(l).map(|a| a - l.send_time))
        .collect();
    let min = *transits.iter().min().unwrap();
    transits.iter().map(|t| t - min).collect()
}

pub fn audio_config(nack: bool) -> JitterConfig {
    let mut config = JitterConfig::audio();
    config.nack.enabled = nack;
    config
}

pub fn with_rtx(mut config: JitterConfig, media_ssrc: u32, media_pt: u8) -> JitterConfig {
    config.rtx = Some(RtxConfig {
        rtx_ssrc: RTX_SSRC,
        media_ssrc,
        media_payload_type: media_pt,
    });
    config
}

/// Decodes released audio as a player would: packets normally; a loss
/// from the next packet's in-band FEC when it is there, else by PLC.
/// Returns the samples produced and how many losses FEC covered.
pub fn decode_audio(events: &[(u64, AudioOut)]) -> (usize, usize) {
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm = vec![0i16; OPUS_FRAME_SAMPLES];
    let (mut samples, mut fec) = (0, 0);
    for (i, (_, event)) in events.iter().enumerate() {
        let n = match event {
            AudioOut::Packet { payload, .. } => decoder.decode(payload, &mut pcm, false).unwrap(),
            AudioOut::Lost { index, fec_in_next } => match events.get(i + 1) {
                Some((
                    _,
                    AudioOut::Packet {
                        index: next,
                        payload,
                    },
                )) if *fec_in_next => {
                    assert_eq!(*next, index + 1, "fec_in_next names the next packet");
                    fec += 1;
                    decoder.decode(payload, &mut pcm, true).unwrap()
                }
                _ => decoder.decode(&[], &mut pcm, false).unwrap(),
            },
        };
        assert_eq!(n, OPUS_FRAME_SAMPLES);
        samples += n;
    }
    (samples, fec)
}

pub fn index_of_event(e: &AudioOut) -> usize {
    match e {
        AudioOut::Packet { index, .. } | AudioOut::Lost { index, .. } => *index,
    }
}

/// Released audio covers one contiguous run of packets, each once, in order.
pub fn assert_contiguous(events: &[(u64, AudioOut)]) {
    for w in events.windows(2) {
        let (a, b) = (index_of_event(&w[0].1), index_of_event(&w[1].1));
        assert_eq!(b, a + 1, "released out of order or twice: {a} then {b}");
    }
}

// -------------------------------------------------------------- video ---

pub struct VideoReport {
    pub frames_sent: usize,
    pub released: usize,
    pub keyframes_released: usize,
    pub decode_errors: Vec<String>,
}

/// Decodes every released frame with libvpx, checking that each is a
/// keyframe or follows the previously released frame (PictureID + 1), so
/// that no frame is decoded against a missing reference.
pub fn decode_video(frames: &[FrameOut], frames_sent: usize) -> VideoReport {
    let mut decoder = Vp8Decoder::new().unwrap();
    let mut errors = Vec::new();
    let mut last_pid: Option<u16> = None;
    for f in frames {
        let first = RtpPacket::parse(&f.packets[0][..]).unwrap();
        let d = Descriptor::parse(first.payload()).unwrap();
        let pid = d.picture_id.unwrap();
        assert_eq!(d.keyframe, f.keyframe);
        if !f.keyframe && last_pid.is_none_or(|p| (p + 1) & 0x7fff != pid) {
            errors.push(format!(
                "frame {pid} (packet {}) released after {last_pid:?} without a keyframe",
                f.first_index
            ));
        }
        last_pid = Some(pid);
        let data = vp8_depacketize(&f.packets).unwrap();
        match decoder.decode(&data) {
            Ok(d) if !d.corrupted => {}
            Ok(_) => errors.push(format!("frame {pid}: libvpx says corrupted")),
            Err(e) => errors.push(format!("frame {pid}: {e}")),
        }
    }
    VideoReport {
        frames_sent,
        released: frames.len(),
        keyframes_released: frames.iter().filter(|f| f.keyframe).count(),
        decode_errors: errors,
    }
}

pub fn video_sim(link: LinkConfig, seed: u64, nack: bool) -> Sim<Video> {
    let publisher = Vp8Publisher::new(Vp8Config {
        seed,
        ..Vp8Config::default()
    })
    .unwrap();
    let mut config = JitterConfig::video(Codec::Vp8);
    config.nack.enabled = nack;
    if nack {
        config = with_rtx(config, publisher.ssrc(), publisher.payload_type());
    }
    let video = Video {
        publisher,
        frames: Vec::new(),
        packets: 0,
        keyframes_forced: 0,
    };
    Sim::new(video, link, seed, config, nack)
}
