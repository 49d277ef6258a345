//! What the meeting looks like: the presets (how many publishers, at which
//! sizes, for how long) and the subscribers' network profiles. Everything
//! else in the example only runs what is described here, so a preset is the
//! one place to look when a result needs explaining.

use rtmedia::sim::{Jitter, LinkConfig, Loss, SimulcastLayerConfig};

/// How a subscriber's downlink capacity moves during the meeting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trace {
    Constant,
    /// Capacity drops to `low_bps` between `from` and `to` (fractions of the
    /// meeting's length), then comes back: a train going through a tunnel.
    Dip {
        low_bps: u64,
        from: f64,
        to: f64,
    },
}

/// A subscriber's network: the SFU→subscriber link and its capacity trace.
/// The subscriber→SFU direction (feedback) has the same delay but no loss,
/// so that every NACK and PLI arrives: what is measured is the downlink.
#[derive(Debug, Clone, Copy)]
pub struct NetProfile {
    pub name: &'static str,
    pub link: LinkConfig,
    pub trace: Trace,
    /// Whether the "no freeze caused by a switch" goal applies: it does on
    /// stable links; on a link that loses a fifth of its capacity at once
    /// some freeze is expected and only reported.
    pub freeze_goal: bool,
    /// The subscriber negotiated RFC 4588 RTX (browsers do): NACKed
    /// packets and probe padding come on its RTX stream. Without it (a
    /// gateway, an older client), retransmissions on the media SSRC and
    /// probes as padding-only packets.
    pub rtx: bool,
}

impl NetProfile {
    /// The link's capacity at `t_us` of a meeting lasting `duration_us`.
    pub fn capacity_at(&self, t_us: u64, duration_us: u64) -> u64 {
        let base = self.link.bandwidth_bps.unwrap_or(u64::MAX);
        match self.trace {
            Trace::Constant => base,
            Trace::Dip { low_bps, from, to } => {
                let x = t_us as f64 / duration_us.max(1) as f64;
                if (from..to).contains(&x) {
                    low_bps
                } else {
                    base
                }
            }
        }
    }

    /// 5 Mbit/s, 10 ms, nothing lost.
    pub fn fiber() -> Self {
        Self {
            name: "fiber",
            link: LinkConfig {
                base_delay_us: 10_000,
                bandwidth_bps: Some(5_000_000),
                ..LinkConfig::default()
            },
            trace: Trace::Constant,
            freeze_goal: true,
            rtx: true,
        }
    }

    /// 1 % random loss, 0–20 ms of jitter (reordering), 1.5 Mbit/s.
    pub fn dsl() -> Self {
        Self {
            name: "dsl",
            link: LinkConfig {
                base_delay_us: 25_000,
                jitter: Jitter::Uniform { max_us: 20_000 },
                loss: Loss::Random { p: 0.01 },
                bandwidth_bps: Some(1_500_000),
                ..LinkConfig::default()
            },
            trace: Trace::Constant,
            freeze_goal: true,
            rtx: false,
        }
    }

    /// Bursty loss (Gilbert–Elliott, 3 %, bursts of 3), 0–60 ms of jitter,
    /// 2 Mbit/s dropping to 400 kbit/s for the middle fifth of the meeting.
    pub fn mobile() -> Self {
        Self {
            name: "mobile",
            link: LinkConfig {
                base_delay_us: 40_000,
                jitter: Jitter::Uniform { max_us: 60_000 },
                loss: Loss::bursty(0.03, 3.0),
                bandwidth_bps: Some(2_000_000),
                ..LinkConfig::default()
            },
            trace: Trace::Dip {
                low_bps: 400_000,
                from: 0.4,
                to: 0.6,
            },
            freeze_goal: false,
            rtx: true,
        }
    }

    /// Home Wi-Fi: half-normal jitter (a tail of late packets), 0.5 % loss.
    pub fn wifi() -> Self {
        Self {
            name: "wifi",
            link: LinkConfig {
                base_delay_us: 15_000,
                jitter: Jitter::HalfNormal { std_us: 8_000 },
                loss: Loss::Random { p: 0.005 },
                bandwidth_bps: Some(3_000_000),
                ..LinkConfig::default()
            },
            trace: Trace::Constant,
            freeze_goal: true,
            rtx: true,
        }
    }
}

/// Everything about one run.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: &'static str,
    pub publishers: usize,
    /// Simulcast layers, lowest first, the same for every publisher.
    pub layers: Vec<SimulcastLayerConfig>,
    pub fps: u32,
    /// libvpx speed (higher is faster and worse).
    pub cpu_used: i32,
    pub mtu: usize,
    pub subscribers: Vec<NetProfile>,
    /// Opus frames each publisher encodes before looping them (see
    /// `OpusConfig::distinct_frames`): saves the encoding in CI runs.
    pub opus_distinct_frames: Option<usize>,
    /// Whether the publishers' uplinks reorder packets sent together
    /// (`--uplink-reordering`), as real uplinks with jitter do.
    pub uplink_reordering: bool,
    pub seconds: f64,
    /// Virtual-time step of the simulation loop.
    pub step_us: u64,
}

fn layer(width: u32, height: u32, bitrate_kbps: u32) -> SimulcastLayerConfig {
    SimulcastLayerConfig {
        width,
        height,
        bitrate_kbps,
    }
}

impl Preset {
    /// Small enough for CI on two cores: three 90p-to-360p publishers at
    /// 30 fps, four subscribers, twelve seconds, speech looping every 5 s.
    pub fn default_preset() -> Self {
        Self {
            name: "default",
            publishers: 3,
            layers: vec![
                layer(160, 90, 100),
                layer(320, 180, 300),
                layer(640, 360, 800),
            ],
            fps: 30,
            cpu_used: 16,
            mtu: 1000,
            subscribers: vec![
                NetProfile::fiber(),
                NetProfile::dsl(),
                NetProfile::mobile(),
                NetProfile::wifi(),
            ],
            opus_distinct_frames: Some(250),
            uplink_reordering: false,
            seconds: 12.0,
            step_us: 2_000,
        }
    }

    /// What a real meeting sends: 180p/360p/720p, six publishers, eight
    /// subscribers, a minute. Needs real hardware.
    pub fn large() -> Self {
        let mut subscribers = Vec::new();
        for _ in 0..2 {
            subscribers.extend([
                NetProfile::fiber(),
                NetProfile::dsl(),
                NetProfile::mobile(),
                NetProfile::wifi(),
            ]);
        }
        Self {
            name: "large",
            publishers: 6,
            layers: vec![
                layer(320, 180, 150),
                layer(640, 360, 500),
                layer(1280, 720, 1500),
            ],
            fps: 30,
            cpu_used: 8,
            mtu: 1200,
            subscribers,
            opus_distinct_frames: None,
            uplink_reordering: false,
            seconds: 60.0,
            step_us: 1_000,
        }
    }

    pub fn duration_us(&self) -> u64 {
        (self.seconds * 1e6) as u64
    }

    /// The publisher→SFU link of publisher `i`: a little jitter, no loss,
    /// so that every number the SFU's output never sends is the SFU's own
    /// doing (the output goal checks exactly that). With
    /// `uplink_reordering` the jitter reorders the packets a publisher sends
    /// together (a keyframe's burst), as real uplinks do, and the goal lets
    /// numbers come late.
    pub fn uplink(&self, i: usize) -> LinkConfig {
        LinkConfig {
            base_delay_us: 15_000 + 5_000 * i as u64,
            jitter: Jitter::Uniform { max_us: 5_000 },
            allow_reordering: self.uplink_reordering,
            ..LinkConfig::default()
        }
    }
}
