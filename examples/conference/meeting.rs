//! The simulation loop: builds the room from a [`Preset`] and steps virtual
//! time through it. Sans-IO all the way down: every component is handed
//! `now` and nothing reads a clock, so a seed gives the same meeting on
//! any machine (only the CPU timings of the mixer differ).
//!
//! Order within a step follows a packet's path: publishers send, the SFU
//! receives and forwards, the mixer ticks, subscribers receive, release and
//! send feedback, the SFU answers it. Each leg's delay is at least a few
//! milliseconds, so the order only decides within-step ties.

use std::time::{Duration, Instant};

use rtmedia::cc::{Bwe, BweConfig, SentPacketId};
use rtmedia::packet::rtcp::{self, ReferenceTimeUnwrapper, RtcpPacket, REFERENCE_TICK_US};
use rtmedia::sim::{OpusConfig, OpusPublisher, SimulcastConfig, SimulcastPublisher};

use crate::audio::RoomAudio;
use crate::egress::TRANSPORT_SEQ_EXT;
use crate::leg::{Leg, Received};
use crate::scenario::Preset;
use crate::sfu::{out_rtx_ssrc, out_ssrc, Sfu};
use crate::subscriber::Subscriber;

/// Sender reports per layer this often.
const SR_INTERVAL_US: u64 = 500_000;
/// Allocation (and bandwidth trace) period.
const ALLOCATE_INTERVAL_US: u64 = 100_000;
const MIXER_TICK_US: u64 = 20_000;
const SAMPLE_INTERVAL_US: u64 = 100_000;
/// An estimate dip counts as followed once the estimate is under the new
/// capacity; the report gives how long that took.
#[derive(Debug, Clone, Copy)]
pub struct DipReaction {
    pub subscriber: usize,
    pub at_us: u64,
    pub from_bps: u64,
    pub to_bps: u64,
    /// Until the estimate was below the new capacity (`None`: never).
    pub after_us: Option<u64>,
    /// Until the bottleneck first queued [`CONGESTED_QUEUE_US`] or more
    /// (`None`: it never did before the estimate fell). A sender that stays
    /// application-limited under the new capacity never meets the dip, and
    /// no estimator can see it; from this moment on, one can.
    pub congested_us: Option<u64>,
}

/// A queue this long at the bottleneck means the link is congested (issue
/// 17's queuing-delay bound).
pub const CONGESTED_QUEUE_US: u64 = 50_000;

pub struct Publisher {
    pub video: SimulcastPublisher,
    pub audio: OpusPublisher,
    /// Publisher→SFU.
    pub up: Leg,
    /// The publisher's own estimate of its uplink, from the SFU's
    /// transport-cc feedback (reported; the encoder does not follow it).
    pub bwe: Bwe,
    next_tseq: u16,
    reference: ReferenceTimeUnwrapper,
    pub plis_received: u64,
    pub mix_packets: u64,
    pub frames: [u64; 3],
    pub keyframes: [u64; 3],
    pub bytes: [u64; 3],
    next_sr_us: u64,
}

/// One subscriber at one instant, for the timeline.
#[derive(Debug, Clone)]
pub struct SubSample {
    pub capacity_bps: u64,
    pub estimate_bps: u64,
    pub allocated_bps: u64,
    /// The tracks' bitrate at their wanted layers, plus the audio reserve.
    pub demand_bps: u64,
    /// Media bytes the subscriber received since the last sample, as bit/s.
    pub received_bps: u64,
    /// Spatial layer each track's forwarder is sending (`None`: paused).
    pub layers: Vec<Option<u8>>,
    /// Mean of the video jitter buffers' target delays.
    pub jb_target_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub t_us: u64,
    pub subs: Vec<SubSample>,
}

pub struct Meeting {
    pub preset: Preset,
    pub seed: u64,
    pub publishers: Vec<Publisher>,
    pub sfu: Sfu,
    pub subscribers: Vec<Subscriber>,
    pub room: RoomAudio,
    pub timeline: Vec<Sample>,
    pub wall: Duration,
    pub expected_ticks: u64,
    pub dips: Vec<DipReaction>,
    /// `--oracle`: estimates capped at this share of the true capacity.
    pub oracle: Option<f64>,
    last_capacity: Vec<u64>,
    last_media_bytes: Vec<u64>,
}

fn publisher(preset: &Preset, seed: u64, p: usize) -> Publisher {
    let start_us = 7_000 * p as u64;
    let video = SimulcastPublisher::new(SimulcastConfig {
        seed: seed.wrapping_mul(1000) + p as u64,
        layers: preset.layers.clone(),
        fps: preset.fps,
        cpu_used: preset.cpu_used,
        mtu: preset.mtu,
        start_us,
        ..SimulcastConfig::default()
    })
    .expect("libvpx encoder");
    let audio = OpusPublisher::new(OpusConfig {
        seed: seed.wrapping_mul(1000) + 500 + p as u64,
        start_us,
        distinct_frames: preset.opus_distinct_frames,
        ..OpusConfig::default()
    })
    .expect("libopus encoder");
    Publisher {
        video,
        audio,
        up: Leg::new(preset.uplink(p), seed ^ (0x100 + p as u64)),
        bwe: Bwe::new(
            BweConfig {
                // Nothing paces a publisher's probes here: no probing.
                initial_probes: false,
                periodic_probes: false,
                ..BweConfig::default()
            },
            0,
        ),
        next_tseq: 0,
        reference: ReferenceTimeUnwrapper::default(),
        plis_received: 0,
        mix_packets: 0,
        frames: [0; 3],
        keyframes: [0; 3],
        bytes: [0; 3],
        next_sr_us: 0,
    }
}

impl Publisher {
    /// Stamps the next transport-wide sequence number on `packet`, sends
    /// it and records it in the publisher's estimator.
    fn send(&mut self, now: u64, packet: &[u8]) {
        let seq = self.next_tseq;
        self.next_tseq = seq.wrapping_add(1);
        let n = self
            .up
            .send_rtp_stamped(now, packet, TRANSPORT_SEQ_EXT, seq);
        self.bwe
            .on_sent(now, SentPacketId::TransportSeq(seq), n, None);
    }
}

impl Meeting {
    pub fn new(preset: Preset, seed: u64) -> Self {
        let publishers: Vec<Publisher> = (0..preset.publishers)
            .map(|p| publisher(&preset, seed, p))
            .collect();
        let video_ssrcs: Vec<Vec<u32>> = publishers.iter().map(|p| p.video.ssrcs()).collect();
        let audio_ssrcs: Vec<u32> = publishers.iter().map(|p| p.audio.ssrc()).collect();
        let to_subscribers = preset
            .subscribers
            .iter()
            .enumerate()
            .map(|(i, prof)| Leg::new(prof.link, seed ^ (0x200 + i as u64)))
            .collect();
        let to_publishers = (0..preset.publishers)
            .map(|p| Leg::new(preset.uplink(p), seed ^ (0x300 + p as u64)))
            .collect();
        let rtx: Vec<bool> = preset.subscribers.iter().map(|p| p.rtx).collect();
        let sfu = Sfu::new(
            &video_ssrcs,
            audio_ssrcs.clone(),
            to_subscribers,
            to_publishers,
            &rtx,
        );
        let widths: Vec<u32> = preset.layers.iter().map(|l| l.width).collect();
        let subscribers = preset
            .subscribers
            .iter()
            .enumerate()
            .map(|(i, prof)| {
                // Feedback: same delay as the downlink, nothing lost.
                let feedback = rtmedia::sim::LinkConfig {
                    base_delay_us: prof.link.base_delay_us,
                    ..rtmedia::sim::LinkConfig::default()
                };
                let up = Leg::new(feedback, seed ^ (0x400 + i as u64));
                let ssrcs: Vec<u32> = (0..preset.publishers).map(|j| out_ssrc(i, j)).collect();
                let rtx: Vec<u32> = (0..preset.publishers).map(|j| out_rtx_ssrc(i, j)).collect();
                let rtx = prof.rtx.then_some(&rtx[..]);
                Subscriber::new(*prof, up, &ssrcs, rtx, widths.clone(), preset.fps)
            })
            .collect();
        let room = RoomAudio::new(&audio_ssrcs, preset.subscribers.len());
        let n = preset.subscribers.len();
        Self {
            dips: Vec::new(),
            oracle: None,
            last_capacity: vec![0; n],
            last_media_bytes: vec![0; n],
            expected_ticks: 0,
            preset,
            seed,
            publishers,
            sfu,
            subscribers,
            room,
            timeline: Vec::new(),
            wall: Duration::ZERO,
        }
    }

    /// Runs the whole meeting; `progress` gets the fraction done.
    pub fn run(&mut self, mut progress: impl FnMut(f64)) {
        let started = Instant::now();
        let duration = self.preset.duration_us();
        let step = self.preset.step_us;
        let (mut next_alloc, mut next_tick, mut next_sample) = (0, 0, 0);
        let mut now = 0;
        while now <= duration {
            self.publish(now);
            self.receive_at_sfu(now);
            self.sfu.send_publisher_feedback(now);
            self.receive_at_publishers(now);
            if now >= next_alloc {
                self.allocate(now);
                next_alloc += ALLOCATE_INTERVAL_US;
            }
            self.sfu.poll_keyframes(now);
            if now >= next_tick {
                let sfu = &mut self.sfu;
                let listeners = sfu.subscribers.len();
                let (subscribers, to_publishers) = (&mut sfu.subscribers, &mut sfu.to_publishers);
                let mut to_subscriber = |i: usize, packet: &[u8]| {
                    let packet = bytes::Bytes::copy_from_slice(packet);
                    subscribers[i]
                        .egress
                        .push(now, rtmedia::cc::PacketClass::Audio, packet, false);
                };
                self.room
                    .tick(now, listeners, &mut to_subscriber, to_publishers);
                self.expected_ticks += 1;
                next_tick += MIXER_TICK_US;
            }
            self.sfu.pace(now);
            self.follow_dips(now);
            self.receive_at_subscribers(now);
            if now >= next_sample {
                self.sample(now);
                next_sample += SAMPLE_INTERVAL_US;
                progress(now as f64 / duration as f64);
            }
            now += step;
        }
        for sub in &mut self.subscribers {
            sub.finish(duration);
        }
        self.wall = started.elapsed();
    }

    fn publish(&mut self, now: u64) {
        for pb in &mut self.publishers {
            while let Some(frame) = pb.video.poll(now) {
                for l in &frame.layers {
                    pb.frames[l.layer] += 1;
                    pb.keyframes[l.layer] += u64::from(l.keyframe);
                    for packet in &l.packets {
                        pb.bytes[l.layer] += packet.len() as u64;
                        pb.send(now, packet);
                    }
                }
            }
            while let Some(packet) = pb.audio.poll(now) {
                pb.send(now, &packet);
            }
            if now >= pb.bwe.next_wakeup() {
                pb.bwe.handle_timeout(now);
            }
            if now >= pb.next_sr_us {
                for layer in 0..pb.video.layer_count() {
                    let sr = pb.video.sender_report(layer, now);
                    pb.up.send_rtcp(now, &sr);
                }
                pb.next_sr_us += SR_INTERVAL_US;
            }
        }
    }

    fn receive_at_sfu(&mut self, now: u64) {
        for (p, pb) in self.publishers.iter_mut().enumerate() {
            while let Some(r) = pb.up.poll(now) {
                match r {
                    Received::Rtp(b) => self.sfu.on_publisher_rtp(p, b, now, &mut self.room),
                    Received::Rtcp(b) => self.sfu.on_publisher_rtcp(p, &b),
                }
            }
        }
    }

    /// PLIs (and the publisher's own mix-minus, which it only counts).
    fn receive_at_publishers(&mut self, now: u64) {
        for (pb, leg) in self.publishers.iter_mut().zip(&mut self.sfu.to_publishers) {
            while let Some(r) = leg.poll(now) {
                match r {
                    Received::Rtp(_) => pb.mix_packets += 1,
                    Received::Rtcp(b) => {
                        for packet in rtcp::compound(&b).flatten() {
                            match packet {
                                RtcpPacket::Pli(pli) => {
                                    pb.plis_received += 1;
                                    pb.video.request_keyframe_for_ssrc(pli.media_ssrc());
                                }
                                RtcpPacket::TransportCc(fb) => {
                                    let base = pb
                                        .reference
                                        .unwrap(fb.reference_time_raw().into())
                                        .saturating_mul(REFERENCE_TICK_US);
                                    pb.bwe.on_feedback(now, fb.results_from(base));
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    }

    /// Moves the bandwidth traces (the links' truth, which the SFU never
    /// reads) and re-allocates every subscriber on its estimate.
    fn allocate(&mut self, now: u64) {
        let duration = self.preset.duration_us();
        for (sub, leg) in self.subscribers.iter().zip(&mut self.sfu.to_subscribers) {
            let capacity = sub.profile.capacity_at(now, duration);
            let mut config = *leg.link().config();
            config.bandwidth_bps = Some(capacity);
            leg.link_mut().set_config(config);
        }
        self.sfu.allocate(now, self.room.dominant());
    }

    /// Notes each drop of a subscriber's capacity and how long its
    /// estimate took to go under the new capacity.
    fn follow_dips(&mut self, now: u64) {
        let duration = self.preset.duration_us();
        for (i, sub) in self.subscribers.iter().enumerate() {
            let capacity = sub.profile.capacity_at(now, duration);
            let last = core::mem::replace(&mut self.last_capacity[i], capacity);
            if capacity < last && last > 0 {
                self.dips.push(DipReaction {
                    subscriber: i,
                    at_us: now,
                    from_bps: last,
                    to_bps: capacity,
                    after_us: None,
                    congested_us: None,
                });
            }
            if let Some(f) = self.oracle {
                self.sfu.cap_estimate(i, now, (capacity as f64 * f) as u64);
            }
            let estimate = self.sfu.subscribers[i].egress.target_bps();
            let queue = self.sfu.to_subscribers[i].link().queue_delay_us(now);
            for d in self.dips.iter_mut().filter(|d| d.subscriber == i) {
                if d.after_us.is_none() && d.congested_us.is_none() && queue >= CONGESTED_QUEUE_US {
                    d.congested_us = Some(now - d.at_us);
                }
                if d.after_us.is_none() && estimate < capacity && capacity <= d.to_bps {
                    d.after_us = Some(now - d.at_us);
                }
            }
        }
    }

    fn receive_at_subscribers(&mut self, now: u64) {
        for (i, sub) in self.subscribers.iter_mut().enumerate() {
            while let Some(r) = self.sfu.to_subscribers[i].poll(now) {
                if let Received::Rtp(b) = r {
                    sub.on_rtp(b, now);
                }
            }
            sub.tick(now);
            while let Some(r) = sub.up.poll(now) {
                if let Received::Rtcp(b) = r {
                    self.sfu.on_subscriber_rtcp(i, &b, now);
                }
            }
        }
    }

    fn sample(&mut self, now: u64) {
        let duration = self.preset.duration_us();
        let last_bytes = &mut self.last_media_bytes;
        let subs: Vec<SubSample> = self
            .subscribers
            .iter()
            .zip(&self.sfu.subscribers)
            .enumerate()
            .map(|(i, (sub, state))| SubSample {
                capacity_bps: sub.profile.capacity_at(now, duration),
                estimate_bps: state.egress.target_bps(),
                allocated_bps: state.allocated_bps,
                demand_bps: state.demand_bps + state.egress.budget.config().audio_reserve_bps,
                received_bps: {
                    let bytes = sub.media_bytes;
                    let delta = bytes - core::mem::replace(&mut last_bytes[i], bytes);
                    delta * 8 * 1_000_000 / SAMPLE_INTERVAL_US
                },
                layers: (0..state.subs.len())
                    .map(|j| self.sfu.forwarder(i, j).current_layer().map(|l| l.spatial))
                    .collect(),
                jb_target_ms: sub
                    .tracks
                    .iter()
                    .map(|t| t.jitter.target_delay_us() as f64 / 1000.0)
                    .sum::<f64>()
                    / sub.tracks.len().max(1) as f64,
            })
            .collect();
        self.timeline.push(Sample { t_us: now, subs });
    }
}
