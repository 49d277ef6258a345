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

use rtmedia::packet::rtcp::{self, RtcpPacket};
use rtmedia::sim::{OpusConfig, OpusPublisher, SimulcastConfig, SimulcastPublisher};

use crate::audio::RoomAudio;
use crate::leg::{Leg, Received};
use crate::scenario::Preset;
use crate::sfu::{out_ssrc, Sfu};
use crate::subscriber::Subscriber;

/// Sender reports per layer this often.
const SR_INTERVAL_US: u64 = 500_000;
/// Allocation (and bandwidth trace) period.
const ALLOCATE_INTERVAL_US: u64 = 100_000;
const MIXER_TICK_US: u64 = 20_000;
const SAMPLE_INTERVAL_US: u64 = 100_000;
/// What the room's audio takes of a subscriber's link (32 kbit/s Opus with
/// RTP, SRTP and IP overhead), kept out of the video estimate.
const AUDIO_RESERVE_BPS: u64 = 50_000;
/// The "estimate" is the link's capacity with this headroom: it is a
/// simulation, so the SFU is told the truth instead of running a
/// congestion controller.
const ESTIMATE_FACTOR: f64 = 0.9;

pub struct Publisher {
    pub video: SimulcastPublisher,
    pub audio: OpusPublisher,
    /// Publisher→SFU.
    pub up: Leg,
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
        plis_received: 0,
        mix_packets: 0,
        frames: [0; 3],
        keyframes: [0; 3],
        bytes: [0; 3],
        next_sr_us: 0,
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
        let sfu = Sfu::new(
            &video_ssrcs,
            audio_ssrcs.clone(),
            to_subscribers,
            to_publishers,
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
                Subscriber::new(*prof, up, &ssrcs, widths.clone(), preset.fps)
            })
            .collect();
        let room = RoomAudio::new(&audio_ssrcs, preset.subscribers.len());
        Self {
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
            self.receive_at_publishers(now);
            if now >= next_alloc {
                self.allocate(now);
                next_alloc += ALLOCATE_INTERVAL_US;
            }
            self.sfu.poll_keyframes(now);
            if now >= next_tick {
                let sfu = &mut self.sfu;
                self.room
                    .tick(now, &mut sfu.to_subscribers, &mut sfu.to_publishers);
                self.expected_ticks += 1;
                next_tick += MIXER_TICK_US;
            }
            self.receive_at_subscribers(now);
            if now >= next_sample {
                self.sample(now);
                next_sample += SAMPLE_INTERVAL_US;
                progress(now as f64 / duration as f64);
            }
            now += step;
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
                        pb.up.send_rtp(now, packet);
                    }
                }
            }
            while let Some(packet) = pb.audio.poll(now) {
                pb.up.send_rtp(now, &packet);
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
                            if let RtcpPacket::Pli(pli) = packet {
                                pb.plis_received += 1;
                                pb.video.request_keyframe_for_ssrc(pli.media_ssrc());
                            }
                        }
                    }
                }
            }
        }
    }

    /// Moves the bandwidth traces and re-allocates every subscriber.
    fn allocate(&mut self, now: u64) {
        let duration = self.preset.duration_us();
        let mut estimates = Vec::with_capacity(self.subscribers.len());
        for (sub, leg) in self.subscribers.iter().zip(&mut self.sfu.to_subscribers) {
            let capacity = sub.profile.capacity_at(now, duration);
            let mut config = *leg.link().config();
            config.bandwidth_bps = Some(capacity);
            leg.link_mut().set_config(config);
            estimates.push(
                ((capacity as f64 * ESTIMATE_FACTOR) as u64).saturating_sub(AUDIO_RESERVE_BPS),
            );
        }
        self.sfu.allocate(now, &estimates, self.room.dominant());
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
        let subs = self
            .subscribers
            .iter()
            .zip(&self.sfu.subscribers)
            .enumerate()
            .map(|(i, (sub, state))| SubSample {
                capacity_bps: sub.profile.capacity_at(now, duration),
                estimate_bps: state.estimate_bps,
                allocated_bps: state.allocated_bps,
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
