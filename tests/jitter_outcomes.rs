//! Jitter buffer outcomes through a simulated network, with real Opus and
//! real VP8 (libopus, libvpx) from `sim`'s synthetic publishers.
//!
//! Each test runs one sender → receiver `Link` and, where feedback matters, a
//! reverse `Link` with the same delay and jitter carrying RTCP (generic NACK,
//! PLI) back to the sender, which answers NACKs with RFC 4588 RTX from a
//! history and PLIs with a forced keyframe. Everything is seeded and driven
//! by simulated time, so a run takes the time its codecs take, not the time
//! it simulates. Each test prints a one-line summary of what it measured
//! (`cargo test --test jitter_outcomes -- --nocapture`).

use bytes::Bytes;
use rtmedia::codec::vp8::Descriptor;
use rtmedia::codec::Codec;
use rtmedia::jitter::{Event, JitterBuffer, JitterConfig, Pushed, RtxConfig};
use rtmedia::packet::rtcp::{self, NackBuilder, PliBuilder, RtcpPacket};
use rtmedia::packet::RtpPacket;
use rtmedia::sim::{
    vp8_depacketize, DriftClock, Jitter, Link, LinkConfig, Loss, OpusConfig, OpusPublisher,
    RtxSender, Vp8Config, Vp8Decoder, Vp8Publisher, OPUS_FRAME_SAMPLES,
};

const RECEIVER_SSRC: u32 = 0x0bad_cafe;
const RTX_SSRC: u32 = 0x7e7e_0001;
const RTX_PT: u8 = 97;
/// Packets the sender keeps for retransmission.
const RTX_HISTORY: usize = 512;

// ------------------------------------------------------------ harness ---

/// A sender as the loop sees it: when it sends next, what it sends, and its
/// answer to a keyframe request.
trait Source {
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

struct Video {
    publisher: Vp8Publisher,
    /// Sender's record of each frame: first packet index, keyframe.
    frames: Vec<(usize, bool)>,
    packets: usize,
    keyframes_forced: u32,
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
struct PacketLog {
    send_time: u64,
    /// First arrival of any copy (original or RTX), and of the original.
    first_arrival: Option<u64>,
    first_original: Option<u64>,
    /// Arrival of the copy the buffer stored, and whether it was an RTX.
    stored: Option<(u64, bool)>,
    copies: u32,
    too_late: u32,
    rtx_sent: u32,
}

/// One audio event as released.
#[derive(Debug, Clone)]
enum AudioOut {
    Packet { index: usize, payload: Bytes },
    Lost { index: usize, fec_in_next: bool },
}

/// One video frame as released.
#[derive(Debug, Clone)]
struct FrameOut {
    first_index: usize,
    keyframe: bool,
    packets: Vec<Bytes>,
}

struct Sim<S: Source> {
    source: S,
    fwd: Link,
    rev: Link,
    jb: JitterBuffer,
    /// NACK feedback and RTX answers, when on.
    rtx: Option<RtxSender>,
    media_ssrc: u32,
    first_seq: Option<u16>,
    /// No packet is sent at or after this time.
    send_until: u64,
    now: u64,
    log: Vec<PacketLog>,
    audio: Vec<(u64, AudioOut)>,
    video: Vec<FrameOut>,
    /// (time, index, time in buffer) of every emitted audio packet / frame.
    residence: Vec<(u64, usize, u64)>,
    target_max: u64,
    /// Target delay sampled once a second.
    targets: Vec<u64>,
    nacks_sent: u64,
    plis_sent: Vec<u64>,
    scratch: Vec<Bytes>,
}

impl<S: Source> Sim<S> {
    fn new(source: S, link: LinkConfig, seed: u64, config: JitterConfig, nack: bool) -> Self {
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
        }
    }

    fn index_of(&self, seq: u16) -> usize {
        usize::from(seq.wrapping_sub(self.first_seq.expect("a packet was sent")))
    }

    /// Sends for `send_for_us`, then lets everything in flight play out.
    fn run(&mut self, send_for_us: u64) {
        self.send_until = send_for_us;
        let until = send_for_us + 2_000_000;
        let mut next_sample = 0;
        loop {
            let mut next = u64::MAX;
            if self.source.next_send_time() < self.send_until {
                next = self.source.next_send_time();
            }
            for t in [self.fwd.next_delivery(), self.rev.next_delivery()]
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
                self.targets.push(self.jb.target_delay_us());
                next_sample += 1_000_000;
            }
            self.step();
        }
    }

    fn step(&mut self) {
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
                let first = *self.first_seq.get_or_insert(seq);
                let index = usize::from(seq.wrapping_sub(first));
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
                                self.fwd.send(now, p);
                            }
                        }
                    }
                    RtcpPacket::Pli(_) => self.source.on_keyframe_request(),
                    other => panic!("unexpected feedback {other:?}"),
                }
            }
        }
        // Receiver: arrivals, releases, feedback.
        while let Some(packet) = self.fwd.poll(now) {
            let p = RtpPacket::parse(&packet[..]).unwrap();
            let (seq, is_rtx) = if p.ssrc() == RTX_SSRC {
                (u16::from_be_bytes([p.payload()[0], p.payload()[1]]), true)
            } else {
                (p.sequence_number(), false)
            };
            let index = self.index_of(seq);
            let entry = &mut self.log[index];
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

    fn drain(&mut self) {
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
    fn never_arrived(&self) -> Vec<usize> {
        let first = self.log.iter().position(|l| l.copies > 0).unwrap();
        let last = self.log.iter().rposition(|l| l.copies > 0).unwrap();
        (first..=last)
            .filter(|&i| self.log[i].copies == 0)
            .collect()
    }
}

fn percentile(values: &mut [u64], q: f64) -> u64 {
    assert!(!values.is_empty());
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Transit above the fastest packet's, for the given arrivals.
fn relative_transits(log: &[PacketLog], arrival: impl Fn(&PacketLog) -> Option<u64>) -> Vec<u64> {
    let transits: Vec<u64> = log
        .iter()
        .filter_map(|l| arrival(l).map(|a| a - l.send_time))
        .collect();
    let min = *transits.iter().min().unwrap();
    transits.iter().map(|t| t - min).collect()
}

fn audio_config(nack: bool) -> JitterConfig {
    let mut config = JitterConfig::audio();
    config.nack.enabled = nack;
    config
}

fn with_rtx(mut config: JitterConfig, media_ssrc: u32, media_pt: u8) -> JitterConfig {
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
fn decode_audio(events: &[(u64, AudioOut)]) -> (usize, usize) {
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

fn index_of_event(e: &AudioOut) -> usize {
    match e {
        AudioOut::Packet { index, .. } | AudioOut::Lost { index, .. } => *index,
    }
}

/// Released audio covers one contiguous run of packets, each once, in order.
fn assert_contiguous(events: &[(u64, AudioOut)]) {
    for w in events.windows(2) {
        let (a, b) = (index_of_event(&w[0].1), index_of_event(&w[1].1));
        assert_eq!(b, a + 1, "released out of order or twice: {a} then {b}");
    }
}

// -------------------------------------------------------------- audio ---

/// 60 s of Opus speech over a path with 30 ms base delay each way (RTT
/// 60 ms), uniform jitter 0–30 ms on every packet (media, RTX, feedback; so
/// the forward network jitter's p95 is 28.5 ms), 5 % random loss each way,
/// NACK + RTX.
///
/// Goals: residual loss ≤ 0.2 %; the buffer's added delay p95 (time each
/// released packet spent in the buffer) ≤ jitter p95 + 20 ms, where jitter
/// p95 is the p95 of the delay variation of the packets as they reached the
/// buffer (the stored copy of each released packet, retransmissions
/// included, above the fastest).
///
/// A retransmission arrives at best one RTT plus the reorder wait after the
/// gap shows, which is ~90–175 ms after the lost packet would have arrived;
/// a buffer whose delay stays near the network jitter cannot use it.
#[test]
fn audio_nack_rtx_keeps_residual_loss_low_at_bounded_delay() {
    run_audio_nack(2.0);
}

/// The same link with the default audio configuration, which reserves no
/// delay for retransmissions: the delay stays within the bound
/// (jitter p95 + 20 ms), and losses are left to Opus FEC and concealment.
#[test]
fn audio_default_delay_stays_within_jitter_plus_20ms() {
    run_audio_nack(0.0);
}

/// 60 s of Opus over the NACK link with `delay_rtts` round trips reserved.
fn run_audio_nack(delay_rtts: f64) {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 30_000 },
        loss: Loss::Random { p: 0.05 },
        ..LinkConfig::default()
    };
    let publisher = OpusPublisher::new(OpusConfig {
        seed: 11,
        ..OpusConfig::default()
    })
    .unwrap();
    let mut config = with_rtx(audio_config(true), publisher.ssrc(), 111);
    config.nack.delay_rtts = delay_rtts;
    let mut sim = Sim::new(publisher, link, 11, config, true);
    sim.run(60_000_000);

    let sent = sim.log.len();
    let lost: Vec<usize> = sim
        .audio
        .iter()
        .filter_map(|(_, e)| match e {
            AudioOut::Lost { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    let residual = lost.len() as f64 / sent as f64;
    let mut net = relative_transits(&sim.log, |l| l.first_original);
    let mut arrivals = relative_transits(&sim.log, |l| l.stored.map(|s| s.0));
    let mut added: Vec<u64> = sim.residence.iter().map(|r| r.2).collect();
    let jitter_p95 = percentile(&mut arrivals, 0.95);
    let added_p95 = percentile(&mut added, 0.95);
    let (samples, fec) = decode_audio(&sim.audio);
    let s = sim.jb.stats();
    println!(
        "audio nack+rtx, {delay_rtts} RTT reserved: sent {sent} dropped_by_link {} rtx_sent {} nacks {} residual {:.3}% \
         ({} lost, {fec} via FEC, {} arrived too late) | network jitter p95 {:.1} ms, arrival jitter p95 {:.1} ms, \
         added delay p95 {:.1} ms (goal <= {:.1}), target max {:.1} ms | samples {samples} \
         (60 s = {})",
        sim.fwd.stats().lost,
        sim.rtx.as_ref().unwrap().sent(),
        sim.nacks_sent,
        100.0 * residual,
        lost.len(),
        s.packets_discarded,
        ms(percentile(&mut net, 0.95)),
        ms(jitter_p95),
        ms(added_p95),
        ms(jitter_p95 + 20_000),
        ms(sim.target_max),
        48_000 * 60,
    );
    assert_contiguous(&sim.audio);
    assert_eq!(samples, sim.audio.len() * OPUS_FRAME_SAMPLES);
    assert!(
        samples.abs_diff(48_000 * 60) <= OPUS_FRAME_SAMPLES,
        "continuous audio"
    );
    assert_eq!(s.resets, 0);
    if delay_rtts >= 2.0 {
        // Recovering a loss whose first retransmission is lost too takes two
        // round trips plus the jitter of the gap's discovery and of the
        // retransmission: that, not the jitter alone, bounds the delay here.
        let rtt = 60_000;
        let bound = 2 * rtt + 2 * jitter_p95 + 5_000 + 20_000 + 20_000;
        assert!(residual <= 0.002, "residual loss {:.3}%", 100.0 * residual);
        assert!(added_p95 <= bound, "added p95 {added_p95} > {bound}");
    } else {
        assert!(added_p95 <= jitter_p95 + 20_000, "added p95 {added_p95}");
        // What is not retransmitted in time is mostly rebuilt from FEC.
        assert!(residual <= 0.07, "residual loss {:.3}%", 100.0 * residual);
    }
}

/// Bursty loss (Gilbert–Elliott, 5 % in bursts of 4 on average), 1 %
/// duplicates, uniform jitter 0–20 ms with reordering, no retransmission:
/// every packet that did not make it is reported lost exactly once, and
/// nothing else is; nothing is released twice or out of order.
#[test]
fn audio_bursty_loss_is_reported_exactly_once() {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 20_000 },
        loss: Loss::bursty(0.05, 4.0),
        duplicate: 0.01,
        ..LinkConfig::default()
    };
    let publisher = OpusPublisher::new(OpusConfig {
        seed: 12,
        distinct_frames: Some(250),
        ..OpusConfig::default()
    })
    .unwrap();
    let mut sim = Sim::new(publisher, link, 12, audio_config(false), false);
    sim.run(60_000_000);

    let first = index_of_event(&sim.audio[0].1);
    let last_arrived = sim.log.iter().rposition(|l| l.copies > 0).unwrap();
    let mut expected: Vec<usize> = (first..=last_arrived)
        .filter(|&i| sim.log[i].stored.is_none())
        .collect();
    let mut lost: Vec<usize> = sim
        .audio
        .iter()
        .filter_map(|(_, e)| match e {
            AudioOut::Lost { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    let dropped = sim.never_arrived().len();
    let late = expected.len() - sim.never_arrived().iter().filter(|&&i| i >= first).count();
    let released: Vec<usize> = sim
        .audio
        .iter()
        .filter_map(|(_, e)| match e {
            AudioOut::Packet { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    let s = sim.jb.stats();
    println!(
        "audio bursty: sent {} dropped_by_link {dropped} (link lost {}, duplicated {}) late {late} \
         lost_events {} concealment_events {} duplicates_seen {} released {} first {first} \
         last_arrived {last_arrived}",
        sim.log.len(),
        sim.fwd.stats().lost,
        sim.fwd.stats().duplicated,
        lost.len(),
        s.concealment_events,
        s.packets_duplicated,
        released.len(),
    );
    assert_contiguous(&sim.audio);
    assert!(released.windows(2).all(|w| w[0] < w[1]));
    expected.sort_unstable();
    lost.sort_unstable();
    assert_eq!(
        lost, expected,
        "Lost events are exactly the packets that never made it"
    );
    assert_eq!(s.packets_lost, lost.len() as u64);
    assert_eq!(index_of_event(&sim.audio.last().unwrap().1), last_arrived);
}

/// Ten minutes from a sender whose clock runs 200 ppm fast or slow (120 ms
/// over the run), uniform jitter 0–20 ms, 1 % random loss: the delay stays
/// bounded (target ≤ 30 ms, every packet ≤ 40 ms in the buffer), does not
/// creep (first and last minute's mean within 2 ms), no resets, and the only
/// losses are the link's.
#[test]
fn audio_sender_drift_keeps_delay_bounded() {
    for ppm in [200.0, -200.0] {
        let link = LinkConfig {
            base_delay_us: 30_000,
            jitter: Jitter::Uniform { max_us: 20_000 },
            loss: Loss::Random { p: 0.01 },
            ..LinkConfig::default()
        };
        let publisher = OpusPublisher::new(OpusConfig {
            seed: 13,
            drift: DriftClock { ppm },
            distinct_frames: Some(250),
            ..OpusConfig::default()
        })
        .unwrap();
        let mut sim = Sim::new(publisher, link, 13, audio_config(false), false);
        let minutes = 10;
        sim.run(minutes * 60_000_000);

        let mean_in = |from: u64, to: u64| {
            let v: Vec<u64> = sim
                .residence
                .iter()
                .filter(|r| (from..to).contains(&r.0))
                .map(|r| r.2)
                .collect();
            v.iter().sum::<u64>() as f64 / v.len() as f64
        };
        let first_minute = mean_in(0, 60_000_000);
        let last_minute = mean_in((minutes - 1) * 60_000_000, minutes * 60_000_000);
        let max_residence = sim.residence.iter().map(|r| r.2).max().unwrap();
        let mut lost: Vec<usize> = sim
            .audio
            .iter()
            .filter_map(|(_, e)| match e {
                AudioOut::Lost { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        lost.sort_unstable();
        let first = index_of_event(&sim.audio[0].1);
        let dropped: Vec<usize> = sim
            .never_arrived()
            .into_iter()
            .filter(|&i| i >= first)
            .collect();
        let s = sim.jb.stats();
        println!(
            "audio drift {ppm:+} ppm: sent {} lost {} (link dropped {}) discarded_late {} resets {} \
             | target max {:.1} ms, residence max {:.1} ms, mean first minute {:.2} ms, last \
             minute {:.2} ms",
            sim.log.len(),
            lost.len(),
            dropped.len(),
            s.packets_discarded,
            s.resets,
            ms(sim.target_max),
            ms(max_residence),
            first_minute / 1000.0,
            last_minute / 1000.0,
        );
        assert_contiguous(&sim.audio);
        assert_eq!(s.resets, 0);
        assert_eq!(lost, dropped, "no losses beyond the link's");
        // The target starts at the 40 ms initial delay and only falls from there.
        assert!(sim.target_max <= 40_000);
        assert!(max_residence <= 45_000);
        assert!((first_minute - last_minute).abs() <= 2_000.0);
    }
}

// -------------------------------------------------------------- video ---

/// What the released frames amounted to.
struct VideoReport {
    frames_sent: usize,
    released: usize,
    keyframes_released: usize,
    decode_errors: Vec<String>,
}

/// Decodes every released frame with libvpx, checking that each is a
/// keyframe or follows the previously released frame (PictureID + 1), so
/// that no frame is decoded against a missing reference.
fn decode_video(frames: &[FrameOut], frames_sent: usize) -> VideoReport {
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

fn video_sim(link: LinkConfig, seed: u64, nack: bool) -> Sim<Video> {
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

/// Real VP8 (320x180, 15 fps, 300 kbit/s) for 60 s, 30 ms base delay each
/// way, uniform jitter 0–30 ms, 2 % random loss each way, NACK + RTX: every
/// released frame decodes and at least 98 % of the frames are released.
#[test]
fn video_nack_rtx_releases_nearly_every_frame_decodable() {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 30_000 },
        loss: Loss::Random { p: 0.02 },
        ..LinkConfig::default()
    };
    let mut sim = video_sim(link, 21, true);
    sim.run(60_000_000);
    let r = decode_video(&sim.video, sim.source.frames.len());
    let mut added: Vec<u64> = sim.residence.iter().map(|r| r.2).collect();
    let share = r.released as f64 / r.frames_sent as f64;
    let s = sim.jb.stats();
    println!(
        "video nack+rtx: frames sent {} released {} ({:.1} %) keyframes released {} \
         decode errors {} | packets {} dropped_by_link {} rtx_sent {} nacks {} \
         plis {} frames_dropped {} | added delay p95 {:.1} ms, target max {:.1} ms",
        r.frames_sent,
        r.released,
        100.0 * share,
        r.keyframes_released,
        r.decode_errors.len(),
        sim.log.len(),
        sim.fwd.stats().lost,
        sim.rtx.as_ref().unwrap().sent(),
        sim.nacks_sent,
        sim.plis_sent.len(),
        s.frames_dropped,
        ms(percentile(&mut added, 0.95)),
        ms(sim.target_max),
    );
    assert!(r.decode_errors.is_empty(), "{:?}", r.decode_errors);
    assert!(share >= 0.98, "released {:.1} % of frames", 100.0 * share);
}

/// Real VP8, 10 % bursty loss (bursts of 3 on average), no NACK: whatever
/// is released decodes (the buffer skips to the next keyframe), and
/// keyframe requests, answered by the publisher, are at least the
/// configured interval apart.
#[test]
fn video_bursty_loss_without_nack_skips_to_keyframes() {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 10_000 },
        loss: Loss::bursty(0.10, 3.0),
        ..LinkConfig::default()
    };
    let mut sim = video_sim(link, 22, false);
    let interval = sim.jb.config().keyframe_request_interval_us;
    sim.run(30_000_000);
    let r = decode_video(&sim.video, sim.source.frames.len());
    let min_gap = sim
        .plis_sent
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or(u64::MAX);
    let keyframes_sent = sim.source.frames.iter().filter(|f| f.1).count();
    let s = sim.jb.stats();
    println!(
        "video bursty: frames sent {} released {} ({:.1} %) keyframes sent {keyframes_sent} \
         released {} | decode errors {} | plis {} (min gap {:.0} ms, interval {:.0} ms) \
         forced {} frames_dropped {} | packets {} dropped_by_link {}",
        r.frames_sent,
        r.released,
        100.0 * r.released as f64 / r.frames_sent as f64,
        r.keyframes_released,
        r.decode_errors.len(),
        sim.plis_sent.len(),
        ms(min_gap),
        ms(interval),
        sim.source.keyframes_forced,
        s.frames_dropped,
        sim.log.len(),
        sim.fwd.stats().lost,
    );
    assert!(r.decode_errors.is_empty(), "{:?}", r.decode_errors);
    assert!(
        !sim.plis_sent.is_empty(),
        "losses this heavy need keyframes"
    );
    assert!(min_gap >= interval, "keyframe requests rate-limited");
    assert_eq!(sim.plis_sent.len() as u64, s.keyframe_requests);
    assert!(keyframes_sent > 1, "the publisher answered");
}

/// Real VP8 over a lossless path whose jitter reorders packets within
/// frames (uniform 0–10 ms, then 0–30 ms): once the first keyframe is out
/// (within a second), every frame is released, and decodes.
#[test]
fn video_jitter_without_loss_drops_no_frame() {
    for (max_us, seed) in [(10_000, 23), (30_000, 24)] {
        let link = LinkConfig {
            base_delay_us: 30_000,
            jitter: Jitter::Uniform { max_us },
            ..LinkConfig::default()
        };
        let mut sim = video_sim(link, seed, false);
        sim.run(30_000_000);
        let r = decode_video(&sim.video, sim.source.frames.len());
        let startup = sim
            .video
            .first()
            .and_then(|f| sim.source.frames.iter().position(|s| s.0 == f.first_index))
            .unwrap_or(r.frames_sent);
        let s = sim.jb.stats();
        println!(
            "video jitter 0-{} ms, no loss: frames sent {} released {} ({:.1} %), first released \
             frame {startup} | frames_dropped {} plis {} packets too late {} | decode errors {}",
            max_us / 1000,
            r.frames_sent,
            r.released,
            100.0 * r.released as f64 / r.frames_sent as f64,
            s.frames_dropped,
            sim.plis_sent.len(),
            s.packets_discarded,
            r.decode_errors.len(),
        );
        assert!(r.decode_errors.is_empty(), "{:?}", r.decode_errors);
        assert!(startup <= 15, "first frame released within a second");
        assert_eq!(
            r.released,
            r.frames_sent - startup,
            "no frame dropped after startup"
        );
    }
}
