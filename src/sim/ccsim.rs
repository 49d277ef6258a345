//! A congestion-control scenario runner (RFC 8867's test setups): media
//! flows driven by [`crate::cc::Bwe`] and TCP-like flows share a forward
//! [`Bottleneck`]; feedback (and TCP's acknowledgements) return over a reverse
//! one, which media in the other direction may congest (RFC 8867 §5.3).
//!
//! A media sender is a video-like encoder at 30 frames/s whose frames follow
//! the estimator's target (capped by an application limit schedule: paused,
//! audio-only, limited), packetised into ≤ 1,200-byte packets and paced at
//! 1.05 × the target, so over-sending shows as queue growth. Probe clusters
//! the estimator asks for are sent at their rate, media first, padding to
//! fill. The receiver records arrivals per transport-wide sequence number and
//! returns [`crate::cc::PacketResult`]s every `feedback_interval_us` (its
//! clock has an arbitrary offset: only differences mean anything).
//!
//! Deterministic for a seed; steps of 1 ms (arrival times are exact).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use super::bottleneck::{Bottleneck, BottleneckConfig, BottleneckStats, NetPacket};
use super::rng::Rng;
use crate::cc::{Bwe, BweConfig, BweState, BweStats, PacketResult, SentPacketId};

const TICK_US: u64 = 1_000;
const MTU: u32 = 1_200;
const FPS: u64 = 30;
const PACING_FACTOR: f64 = 1.05;
const TCP_MSS: u32 = 1_500;
const FEEDBACK_FLOW: u32 = 2_000;
const TCP_FLOW: u32 = 1_000;

/// One media flow.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFlowConfig {
    pub start_us: u64,
    pub stop_us: u64,
    /// (from µs, ceiling bit/s): what the application has to send at most
    /// (`None`: whatever the estimate allows; `Some(0)`: paused).
    pub app_limit: Vec<(u64, Option<u64>)>,
    pub bwe: BweConfig,
    /// Runs over the reverse path (its feedback over the forward one).
    pub reverse: bool,
    /// (at µs, bit/s): the allocator asks for an upgrade.
    pub probe_requests: Vec<(u64, u64)>,
    /// Publisher-side jitter: each frame reaches the sender up to this late
    /// and then goes out in one burst, unpaced (an SFU forwarding as it
    /// receives). 0: paced encoder.
    pub upstream_jitter_us: u64,
    /// Publisher-side loss: packets that never reach the sender.
    pub upstream_loss: f64,
}

impl Default for MediaFlowConfig {
    fn default() -> Self {
        Self {
            start_us: 0,
            stop_us: u64::MAX,
            app_limit: Vec::new(),
            bwe: BweConfig::default(),
            reverse: false,
            probe_requests: Vec::new(),
            upstream_jitter_us: 0,
            upstream_loss: 0.0,
        }
    }
}

/// One TCP-like (Reno) bulk flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlowConfig {
    pub start_us: u64,
    pub stop_us: u64,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioConfig {
    pub seed: u64,
    pub duration_us: u64,
    pub forward: BottleneckConfig,
    pub reverse: BottleneckConfig,
    pub media: Vec<MediaFlowConfig>,
    pub tcp: Vec<TcpFlowConfig>,
    pub feedback_interval_us: u64,
    /// Metrics sampling interval.
    pub sample_us: u64,
}

impl ScenarioConfig {
    /// One media flow over `forward`, an uncongested reverse path with the
    /// same propagation delay.
    pub fn single(seed: u64, duration_us: u64, forward: BottleneckConfig) -> Self {
        let reverse = BottleneckConfig::constant(100_000_000, 1000, forward.propagation_us);
        Self {
            seed,
            duration_us,
            forward,
            reverse,
            media: vec![MediaFlowConfig::default()],
            tcp: Vec::new(),
            feedback_interval_us: 100_000,
            sample_us: 100_000,
        }
    }
}

/// One sampling interval of a flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// End of the interval.
    pub t_us: u64,
    pub target_bps: u64,
    /// Media delivered at the receiver during the interval (probe padding
    /// not counted).
    pub recv_bps: u64,
    /// Probe padding delivered during the interval.
    pub padding_bps: u64,
    /// Largest queuing delay of this flow's packets delivered in it.
    pub queue_max_us: u64,
    pub state: Option<BweState>,
}

/// A flow's outcome.
#[derive(Debug, Clone, Default)]
pub struct FlowResult {
    pub samples: Vec<Sample>,
    /// (arrival µs, queuing delay µs) per delivered packet.
    pub queue_delays: Vec<(u64, u32)>,
    pub packets_sent: u64,
    /// Dropped by the bottleneck (queue full or random loss).
    pub packets_dropped: u64,
    /// Of which dropped while part of a probe cluster.
    pub probe_packets_dropped: u64,
    pub bwe: Option<BweStats>,
}

/// A scenario's outcome.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub media: Vec<FlowResult>,
    pub tcp: Vec<FlowResult>,
    pub forward: BottleneckStats,
    pub reverse: BottleneckStats,
}

struct Probe {
    id: u32,
    rate_bps: u64,
    min_bytes: u32,
    min_packets: u32,
    bytes: u32,
    packets: u32,
    budget: f64,
}

struct Media {
    cfg: MediaFlowConfig,
    bwe: Bwe,
    rng: Rng,
    next_frame: u64,
    /// Frames released late (upstream jitter): (due µs, bytes).
    upstream: VecDeque<(u64, u32)>,
    pacer: VecDeque<u32>,
    pacer_bytes: u64,
    interval_padding: u64,
    budget: f64,
    probe: Option<Probe>,
    next_seq: u64,
    flow: u32,
    // Receiver side.
    rx_base: u64,
    rx: VecDeque<Option<u64>>,
    rx_offset: i64,
    next_feedback: u64,
    feedback_seq: u64,
    feedback: HashMap<u64, Vec<PacketResult>>,
    result: FlowResult,
    interval_bytes: u64,
    interval_queue: u64,
}

struct Tcp {
    cfg: TcpFlowConfig,
    cwnd: f64,
    ssthresh: f64,
    inflight: u32,
    next_seq: u64,
    last_cut: u64,
    srtt_us: u64,
    result: FlowResult,
    interval_bytes: u64,
    interval_queue: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    TcpAck { flow: usize, sent_us: u64 },
    TcpLoss { flow: usize },
}

fn app_limit(cfg: &MediaFlowConfig, now: u64) -> Option<u64> {
    cfg.app_limit
        .iter()
        .take_while(|(from, _)| *from <= now)
        .last()
        .and_then(|l| l.1)
}

impl Media {
    fn new(cfg: MediaFlowConfig, flow: u32, rng: &mut Rng) -> Self {
        let bwe = Bwe::new(cfg.bwe, cfg.start_us);
        let mut rng = rng.fork();
        let rx_offset = rng.below(1 << 40) as i64 - (1 << 39);
        Self {
            next_frame: cfg.start_us,
            next_feedback: cfg.start_us,
            cfg,
            bwe,
            rng,
            upstream: VecDeque::new(),
            pacer: VecDeque::new(),
            pacer_bytes: 0,
            interval_padding: 0,
            budget: 0.0,
            probe: None,
            next_seq: 0,
            flow,
            rx_base: 0,
            rx: VecDeque::new(),
            rx_offset,
            feedback_seq: 0,
            feedback: HashMap::new(),
            result: FlowResult::default(),
            interval_bytes: 0,
            interval_queue: 0,
        }
    }

    fn active(&self, now: u64) -> bool {
        now >= self.cfg.start_us && now < self.cfg.stop_us
    }

    /// Encodes frames due by `now` into the pacer queue.
    fn encode(&mut self, now: u64) {
        while self.next_frame <= now {
            let at = self.next_frame;
            self.next_frame += 1_000_000 / FPS;
            let target = self.bwe.target_bps();
            let rate = app_limit(&self.cfg, at).map_or(target, |l| l.min(target));
            if rate == 0 {
                continue;
            }
            // The encoder skips a frame while the pacer holds > 300 ms.
            if self.pacer_bytes * 8 > rate * 3 / 10 {
                continue;
            }
            let noise = 0.7 + 0.6 * self.rng.unit();
            let bytes = ((rate as f64 / 8.0 / FPS as f64) * noise) as u32;
            if self.cfg.upstream_jitter_us > 0 {
                let due = at + self.rng.below(self.cfg.upstream_jitter_us);
                self.upstream.push_back((due, bytes.max(1)));
            } else {
                self.packetise(bytes.max(1));
            }
        }
    }

    fn packetise(&mut self, bytes: u32) {
        let n = bytes.div_ceil(MTU);
        for i in 0..n {
            let size = (bytes / n + u32::from(i < bytes % n)).max(1);
            if self.rng.chance(self.cfg.upstream_loss) {
                continue;
            }
            self.pacer.push_back(size);
            self.pacer_bytes += u64::from(size);
        }
    }

    fn emit(
        &mut self,
        now: u64,
        size: u32,
        cluster: Option<u32>,
        padding: bool,
        path: &mut Bottleneck,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let id = SentPacketId::TransportSeq(seq as u16);
        self.bwe.on_sent(now, id, size as usize, cluster);
        self.result.packets_sent += 1;
        let packet = NetPacket {
            flow: self.flow,
            seq,
            size,
            sent_us: now,
            padding,
        };
        if path.send(now, packet).is_err() {
            self.result.packets_dropped += 1;
            if cluster.is_some() {
                self.result.probe_packets_dropped += 1;
            }
        }
    }

    /// Sends what pacing and probing allow at `now`.
    fn send(&mut self, now: u64, path: &mut Bottleneck) {
        if self.cfg.upstream_jitter_us > 0 {
            while self.upstream.front().is_some_and(|f| f.0 <= now) {
                let (_, bytes) = self.upstream.pop_front().expect("front");
                self.packetise(bytes);
            }
        }
        if let Some(mut p) = self.probe.take() {
            p.budget += p.rate_bps as f64 / 8.0 * TICK_US as f64 / 1e6;
            let pad = (p.min_bytes / p.min_packets.max(1)).clamp(100, MTU);
            while p.budget > 0.0 && (p.bytes < p.min_bytes || p.packets < p.min_packets) {
                let (size, padding) = match self.pacer.pop_front() {
                    Some(s) => {
                        self.pacer_bytes -= u64::from(s);
                        (s, false)
                    }
                    None => (pad, true),
                };
                self.emit(now, size, Some(p.id), padding, path);
                p.budget -= f64::from(size);
                p.bytes += size;
                p.packets += 1;
            }
            if p.bytes < p.min_bytes || p.packets < p.min_packets {
                self.probe = Some(p);
                return;
            }
        }
        if self.cfg.upstream_jitter_us > 0 {
            // Forwarded as received: no pacing.
            while let Some(s) = self.pacer.pop_front() {
                self.pacer_bytes -= u64::from(s);
                self.emit(now, s, None, false, path);
            }
            return;
        }
        let rate = self.bwe.target_bps() as f64 * PACING_FACTOR;
        let max_budget = (rate / 8.0 * 0.005).max(f64::from(MTU));
        self.budget = (self.budget + rate / 8.0 * TICK_US as f64 / 1e6).min(max_budget);
        while self.budget > 0.0 {
            let Some(s) = self.pacer.pop_front() else {
                break;
            };
            self.pacer_bytes -= u64::from(s);
            self.emit(now, s, None, false, path);
            self.budget -= f64::from(s);
        }
        if self.pacer.is_empty() {
            self.budget = self.budget.min(0.0);
        }
    }

    fn start_probe(&mut self, now: u64) {
        if self.probe.is_some() {
            return;
        }
        if let Some(r) = self.bwe.poll_probe(now) {
            self.probe = Some(Probe {
                id: r.id,
                rate_bps: r.rate_bps,
                min_bytes: r.min_bytes,
                min_packets: r.min_packets,
                bytes: 0,
                packets: 0,
                budget: 0.0,
            });
        }
    }

    fn on_arrival(&mut self, seq: u64, arrival: u64, queue_us: u64, size: u32, padding: bool) {
        self.result.queue_delays.push((arrival, queue_us as u32));
        if padding {
            self.interval_padding += u64::from(size);
        } else {
            self.interval_bytes += u64::from(size);
        }
        self.interval_queue = self.interval_queue.max(queue_us);
        if seq < self.rx_base {
            return; // already reported lost
        }
        let idx = (seq - self.rx_base) as usize;
        if idx >= self.rx.len() {
            self.rx.resize(idx + 1, None);
        }
        self.rx[idx] = Some(arrival);
    }

    /// Builds the feedback due at `now`, if any.
    fn build_feedback(&mut self, now: u64, interval: u64) -> Option<(u64, u32)> {
        if now < self.next_feedback {
            return None;
        }
        self.next_feedback = now + interval;
        let last = self.rx.iter().rposition(Option::is_some)?;
        let mut results = Vec::with_capacity(last + 1);
        for (i, a) in self.rx.drain(..=last).enumerate() {
            results.push(PacketResult {
                id: SentPacketId::TransportSeq((self.rx_base + i as u64) as u16),
                arrival_us: a.map(|t| t as i64 + self.rx_offset),
                ecn: None,
            });
        }
        self.rx_base += last as u64 + 1;
        let seq = self.feedback_seq;
        self.feedback_seq += 1;
        let size = 20 + 2 * results.len() as u32;
        self.feedback.insert(seq, results);
        Some((seq, size))
    }

    fn sample(&mut self, now: u64, interval: u64) {
        let s = Sample {
            t_us: now,
            target_bps: self.bwe.target_bps(),
            recv_bps: self.interval_bytes * 8 * 1_000_000 / interval,
            padding_bps: self.interval_padding * 8 * 1_000_000 / interval,
            queue_max_us: self.interval_queue,
            state: Some(self.bwe.state()),
        };
        self.result.samples.push(s);
        self.interval_bytes = 0;
        self.interval_padding = 0;
        self.interval_queue = 0;
    }
}

impl Tcp {
    fn new(cfg: TcpFlowConfig) -> Self {
        Self {
            cfg,
            cwnd: 10.0,
            ssthresh: f64::INFINITY,
            inflight: 0,
            next_seq: 0,
            last_cut: 0,
            srtt_us: 200_000,
            result: FlowResult::default(),
            interval_bytes: 0,
            interval_queue: 0,
        }
    }
}

/// Runs a scenario to its end.
pub fn run(cfg: &ScenarioConfig) -> ScenarioResult {
    let mut rng = Rng::new(cfg.seed);
    let mut paths = [
        Bottleneck::new(cfg.forward.clone(), rng.next_u64()),
        Bottleneck::new(cfg.reverse.clone(), rng.next_u64()),
    ];
    let mut media: Vec<Media> = cfg
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| Media::new(m.clone(), i as u32, &mut rng))
        .collect();
    let mut tcp: Vec<Tcp> = cfg.tcp.iter().map(|t| Tcp::new(*t)).collect();
    let mut events: BinaryHeap<Reverse<(u64, Event)>> = BinaryHeap::new();
    let mut next_sample = cfg.sample_us;
    let mut now = 0;
    while now <= cfg.duration_us {
        // Arrivals on both paths.
        for dir in 0..2 {
            while let Some(d) = paths[dir].poll(now) {
                let f = d.packet.flow;
                if f < TCP_FLOW {
                    let m = &mut media[f as usize];
                    m.on_arrival(
                        d.packet.seq,
                        d.arrival_us,
                        d.queue_us,
                        d.packet.size,
                        d.packet.padding,
                    );
                } else if f < FEEDBACK_FLOW {
                    let t = &mut tcp[(f - TCP_FLOW) as usize];
                    t.interval_bytes += u64::from(d.packet.size);
                    t.interval_queue = t.interval_queue.max(d.queue_us);
                    t.result
                        .queue_delays
                        .push((d.arrival_us, d.queue_us as u32));
                    let back = d.arrival_us + paths[1 - dir].config().propagation_us;
                    events.push(Reverse((
                        back,
                        Event::TcpAck {
                            flow: (f - TCP_FLOW) as usize,
                            sent_us: d.packet.sent_us,
                        },
                    )));
                } else {
                    let m = &mut media[(f - FEEDBACK_FLOW) as usize];
                    let seq = d.packet.seq;
                    m.feedback.retain(|k, _| *k >= seq);
                    if let Some(results) = m.feedback.remove(&seq) {
                        m.bwe.on_feedback(now, results.iter().copied());
                    }
                }
            }
        }
        while events.peek().is_some_and(|e| e.0 .0 <= now) {
            let Reverse((_, e)) = events.pop().expect("peeked");
            match e {
                Event::TcpAck { flow, sent_us } => {
                    let t = &mut tcp[flow];
                    t.inflight = t.inflight.saturating_sub(1);
                    let sample = now - sent_us;
                    t.srtt_us = (t.srtt_us * 7 + sample) / 8;
                    if t.cwnd < t.ssthresh {
                        t.cwnd += 1.0;
                    } else {
                        t.cwnd += 1.0 / t.cwnd;
                    }
                    t.cwnd = t.cwnd.min(10_000.0);
                }
                Event::TcpLoss { flow } => {
                    let t = &mut tcp[flow];
                    t.inflight = t.inflight.saturating_sub(1);
                    if now.saturating_sub(t.last_cut) > t.srtt_us {
                        t.ssthresh = (t.cwnd / 2.0).max(2.0);
                        t.cwnd = t.ssthresh;
                        t.last_cut = now;
                    }
                }
            }
        }
        for (i, m) in media.iter_mut().enumerate() {
            if !m.active(now) {
                continue;
            }
            let dir = usize::from(m.cfg.reverse);
            while let Some(&(at, bps)) = m.cfg.probe_requests.first() {
                if at > now {
                    break;
                }
                m.bwe.request_probe(now, bps);
                m.cfg.probe_requests.remove(0);
            }
            if m.bwe.next_wakeup() <= now {
                m.bwe.handle_timeout(now);
            }
            m.start_probe(now);
            m.encode(now);
            m.send(now, &mut paths[dir]);
            if let Some((seq, size)) = m.build_feedback(now, cfg.feedback_interval_us) {
                let packet = NetPacket {
                    flow: FEEDBACK_FLOW + i as u32,
                    seq,
                    size,
                    sent_us: now,
                    padding: false,
                };
                let _ = paths[1 - dir].send(now, packet);
            }
        }
        for (j, t) in tcp.iter_mut().enumerate() {
            if now < t.cfg.start_us || now >= t.cfg.stop_us {
                continue;
            }
            while f64::from(t.inflight) < t.cwnd.floor() {
                let packet = NetPacket {
                    flow: TCP_FLOW + j as u32,
                    seq: t.next_seq,
                    size: TCP_MSS,
                    sent_us: now,
                    padding: false,
                };
                t.next_seq += 1;
                t.inflight += 1;
                t.result.packets_sent += 1;
                if paths[0].send(now, packet).is_err() {
                    t.result.packets_dropped += 1;
                    events.push(Reverse((now + t.srtt_us, Event::TcpLoss { flow: j })));
                }
            }
        }
        if now >= next_sample {
            for m in &mut media {
                m.sample(now, cfg.sample_us);
            }
            for t in &mut tcp {
                t.result.samples.push(Sample {
                    t_us: now,
                    target_bps: 0,
                    recv_bps: t.interval_bytes * 8 * 1_000_000 / cfg.sample_us,
                    padding_bps: 0,
                    queue_max_us: t.interval_queue,
                    state: None,
                });
                t.interval_bytes = 0;
                t.interval_queue = 0;
            }
            next_sample += cfg.sample_us;
        }
        now += TICK_US;
    }
    ScenarioResult {
        media: media
            .into_iter()
            .map(|m| {
                let mut r = m.result;
                r.bwe = Some(*m.bwe.stats());
                r
            })
            .collect(),
        tcp: tcp.into_iter().map(|t| t.result).collect(),
        forward: *paths[0].stats(),
        reverse: *paths[1].stats(),
    }
}
