//! The send-side bandwidth estimator, one per transport: send history in,
//! feedback in, target bitrate and probe clusters out. Sans-IO: every call
//! takes `now` (µs); [`Bwe::next_wakeup`] says when [`Bwe::handle_timeout`]
//! has something to do; [`Bwe::poll_probe`] drains probe clusters for the
//! pacer. Memory is fixed at construction; no call allocates.
//!
//! The target is the least of the delay-based estimate ([`super::aimd`]),
//! the loss-based ceiling ([`super::loss`]), a REMB from a peer without
//! transport-cc, and the configured maximum.

use super::acked::AckedRate;
use super::aimd::RateControl;
use super::alr::AlrDetector;
use super::delay::{DelayDetector, Usage};
use super::history::{Lookup, SendHistory};
use super::loss::LossControl;
use super::probe::{
    ProbeClusterRequest, ProbeEstimator, ProbeResult, MAX_PROBE_FACTOR, PROBE_DURATION_US,
    PROBE_MIN_PACKETS,
};
use super::{PacketResult, SentPacketId};

mod probing;

/// Results one feedback may carry; more are counted as overflow and ignored.
pub const MAX_FEEDBACK_RESULTS: usize = 2048;
/// Arrival times beyond ±2^50 µs (35 years) are absurd outright.
const MAX_ARRIVAL_US: u64 = 1 << 50;
/// An arrival whose one-way delay jumps this far from the previous one's is
/// absurd (a corrupt delta, a receiver clock jump) and ignored.
const ABSURD_JUMP_US: i64 = 5_000_000;
/// After this many absurd arrivals in a row, the receiver clock really moved.
const ABSURD_RESET: u32 = 20;
/// Probe upward this often while sending at the estimate and not congested.
const STEADY_PROBE_INTERVAL_US: u64 = 1_000_000;
/// …and this long after the last back-off.
const QUIET_AFTER_DECREASE_US: u64 = 1_000_000;
/// Probe this often while application-limited.
const ALR_PROBE_INTERVAL_US: u64 = 5_000_000;
/// Keep probing (×2) while a result reaches this fraction of the probe rate.
const FURTHER_PROBE_FRACTION: f64 = 0.7;
/// A back-off to under this fraction of the recent high is a drop worth a
/// recovery probe (libwebrtc's `kBitrateDropThreshold`).
const DROP_FRACTION: f64 = 0.66;
const RECOVERY_PROBE_FRACTION: f64 = 0.85;
const RECENT_HIGH_US: u64 = 5_000_000;
/// Times a recovery probe is sent again after a loss burst left it unread.
const RECOVERY_RETRIES: u8 = 2;
/// Queuing delay under which probing is allowed.
const PROBE_QUEUE_US: u64 = 10_000;
const PENDING_PROBES: usize = 4;
/// A periodic probe that was due but declined is reconsidered this often.
const PROBE_RECHECK_US: u64 = 50_000;
/// Smallest cluster: five packets of 200 bytes (at low rates a 20 ms
/// cluster would be a few tiny packets, measured with too little precision).
const PROBE_MIN_BYTES: u32 = 1_000;
/// The saturated receive rate is read over at most this much arrival time:
/// short, so that after a capacity drop it holds post-drop arrivals only.
const SATURATED_WINDOW_US: i64 = 100_000;
/// Longest probe cluster (on the most jittery paths, or at low rates).
const MAX_PROBE_DURATION_US: u64 = 150_000;
/// A probe cluster lasts at least long enough to carry this many packets
/// of [`FULL_PACKET_BITS`] at its rate (up to [`MAX_PROBE_DURATION_US`]):
/// a reading needs 80 % of five packets, and one may be lost.
const PROBE_FULL_PACKETS: u64 = 6;
const FULL_PACKET_BITS: u64 = 1_200 * 8;
/// Probe clusters last this many times the path's jitter when that is at
/// most [`MAX_JITTERY_DURATION_US`].
const JITTERY_DURATION_FACTOR: f64 = 4.0;
const MAX_JITTERY_DURATION_US: u64 = 60_000;
/// The jitter floor follows each feedback's largest reordering (how much
/// earlier a packet was sent than one that arrived before it) this fast.
const REORDER_SMOOTHING: f64 = 0.1;
/// Steady (non-ALR) upward probes go at this multiple of the estimate:
/// enough to see a step up, small enough that the queue they add at a
/// saturated bottleneck (a third of [`PROBE_DURATION_US`]) stays small.
const STEADY_PROBE_FACTOR: f64 = 1.5;

/// Estimator configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BweConfig {
    pub start_bps: u64,
    pub min_bps: u64,
    pub max_bps: u64,
    /// Probe at 3× and 6× the start rate at the first call.
    pub initial_probes: bool,
    /// Periodic probes (steady upward, ALR, recovery after a drop).
    pub periodic_probes: bool,
    /// Without feedback for this long (while sending), halve the target.
    pub feedback_timeout_us: u64,
}

impl Default for BweConfig {
    fn default() -> Self {
        Self {
            start_bps: 300_000,
            min_bps: 30_000,
            max_bps: 20_000_000,
            initial_probes: true,
            periodic_probes: true,
            feedback_timeout_us: 1_000_000,
        }
    }
}

/// What the estimator is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BweState {
    Normal,
    /// The queue grows (or just grew): the estimate backs off.
    Overusing,
    /// The sender sends well under the target; the estimate holds.
    AppLimited,
    /// A probe cluster is out, awaiting its result.
    Probing,
}

/// Counters, W3C-stats-like where one exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BweStats {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub feedbacks: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    /// Feedback about packets never sent or no longer remembered.
    pub unknown: u64,
    pub duplicates: u64,
    /// Arrival times that jumped absurdly (ignored).
    pub absurd: u64,
    /// Results past [`MAX_FEEDBACK_RESULTS`] in one feedback (ignored).
    pub overflow: u64,
    pub decreases: u64,
    pub probes_requested: u64,
    pub probe_results: u64,
    pub feedback_timeouts: u64,
    /// Probe clusters that ended with too few packets arrived to be read.
    pub probes_unread: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Received {
    send_us: u64,
    arrival_us: i64,
    size: u32,
    cluster: Option<u32>,
}

/// The estimator (see the module comment).
#[derive(Debug)]
pub struct Bwe {
    config: BweConfig,
    history: SendHistory,
    delay: DelayDetector,
    acked: AckedRate,
    loss: LossControl,
    alr: AlrDetector,
    probes: ProbeEstimator,
    rate: RateControl,
    scratch: Box<[Received]>,
    stats: BweStats,
    last_owd: Option<i64>,
    absurd_run: u32,
    rtt_us: Option<u64>,
    rr_rtt: Option<(u64, u64)>,
    remb_bps: Option<u64>,
    target: u64,
    now: u64,
    // Probe control.
    started: bool,
    pending: [Option<ProbeClusterRequest>; PENDING_PROBES],
    next_probe_id: u32,
    last_probe_at: Option<u64>,
    /// Continue ×2 while results reach this rate.
    further_probe_min: Option<u64>,
    recovery_rate: Option<u64>,
    /// The recovery probe in flight (cluster id, the rate it recovers
    /// to), and how many more times it is sent if a loss burst leaves it
    /// unread.
    recovery_probe: Option<(u32, u64)>,
    recovery_retries: u8,
    /// Probes in a row that ended unread (see `on_probe_failed`).
    unread_in_a_row: u8,
    recent_high: (u64, u64),
    last_feedback_at: Option<u64>,
    /// First packet sent since the last feedback, if any.
    unacked_since: Option<u64>,
    last_timeout_at: u64,
    last_periodic_check: u64,
    /// The last probe result taken (µs, bit/s).
    last_probe: Option<(u64, u64)>,
    /// Smoothed largest reordering per feedback (µs): a FIFO queue never
    /// reorders, a path that delays packets independently does, by about
    /// its jitter; that much of a delay reading is not a queue.
    reorder_us: f64,
    /// `reorder_us` holds a reading (the first one sets it).
    reorder_known: bool,
}

impl Bwe {
    pub fn new(config: BweConfig, now: u64) -> Self {
        let start = config.start_bps.clamp(config.min_bps, config.max_bps);
        Self {
            config,
            history: SendHistory::new(),
            delay: DelayDetector::new(),
            acked: AckedRate::new(),
            loss: LossControl::default(),
            alr: AlrDetector::default(),
            probes: ProbeEstimator::default(),
            rate: RateControl::new(start, config.min_bps, config.max_bps),
            scratch: vec![Received::default(); MAX_FEEDBACK_RESULTS].into_boxed_slice(),
            stats: BweStats::default(),
            last_owd: None,
            absurd_run: 0,
            rtt_us: None,
            rr_rtt: None,
            remb_bps: None,
            target: start,
            now,
            started: false,
            pending: [None; PENDING_PROBES],
            next_probe_id: 1,
            last_probe_at: None,
            further_probe_min: None,
            recovery_rate: None,
            recovery_probe: None,
            recovery_retries: 0,
            unread_in_a_row: 0,
            recent_high: (start, now),
            last_feedback_at: None,
            unacked_since: None,
            last_timeout_at: now,
            last_periodic_check: now,
            last_probe: None,
            reorder_us: 0.0,
            reorder_known: false,
        }
    }

    /// The last probe result the estimate took: when (µs) and the rate the
    /// probe got through (bit/s). An allocator waiting to confirm an
    /// upgrade reads it (results taken while overusing are not kept).
    pub fn last_probe_result(&self) -> Option<(u64, u64)> {
        self.last_probe
    }

    /// The bitrate the sender may use now (bit/s).
    pub fn target_bps(&self) -> u64 {
        self.target
    }

    pub fn state(&self) -> BweState {
        let recently_cut = self
            .rate
            .last_decrease()
            .is_some_and(|d| self.now.saturating_sub(d) < 300_000);
        // The detector's verdict is as fresh as the last feedback: a
        // paused sender hears none, and is application-limited, not
        // overusing.
        let fresh = self
            .last_feedback_at
            .is_some_and(|f| self.now.saturating_sub(f) < 500_000);
        if fresh && self.delay.usage() == Usage::Overusing || recently_cut {
            BweState::Overusing
        } else if self.probes.pending() || self.pending.iter().any(Option::is_some) {
            BweState::Probing
        } else if self.alr.alr_since().is_some() {
            BweState::AppLimited
        } else {
            BweState::Normal
        }
    }

    pub fn stats(&self) -> &BweStats {
        &self.stats
    }

    /// Smoothed round-trip time: from an RTCP RR when one came in the last
    /// 5 s, else from feedback (send → feedback received).
    pub fn rtt_us(&self) -> Option<u64> {
        match self.rr_rtt {
            Some((at, rtt)) if self.now.saturating_sub(at) < 5_000_000 => Some(rtt),
            _ => self.rtt_us,
        }
    }

    /// Queuing delay the newest feedback showed (µs).
    pub fn queue_delay_us(&self) -> u64 {
        self.delay.queue_delay_us()
    }

    /// The bottleneck capacity measured at the last back-off, while the
    /// estimate stays near it.
    pub fn capacity_bps(&self) -> Option<u64> {
        self.rate.capacity()
    }

    /// The delay trend (threshold-scaled, ms) and the adaptive threshold.
    pub fn trend(&self) -> (f64, f64) {
        self.delay.trend()
    }

    /// The loss ratio of the last interval and the learned random loss.
    pub fn loss(&self) -> (f64, f64) {
        (self.loss.loss_ratio(), self.loss.inherent())
    }

    /// A packet has just left (after pacing, at the socket).
    pub fn on_sent(&mut self, now: u64, id: SentPacketId, size: usize, probe: Option<u32>) {
        self.now = self.now.max(now);
        self.history.on_sent(now, id, size, probe);
        if let Some(cluster) = probe {
            self.probes.on_sent(cluster);
        }
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += size as u64;
        self.unacked_since.get_or_insert(now);
        if probe.is_none() {
            self.alr.on_sent(now, size, self.target);
        }
    }

    /// An RTT from RTCP receiver reports (DLSR/LSR).
    pub fn on_rtt(&mut self, now: u64, rtt_us: u64) {
        self.now = self.now.max(now);
        self.rr_rtt = Some((now, rtt_us));
    }

    /// A REMB from the peer: a ceiling on the target; for a peer that has
    /// sent no transport-wide feedback (no transport-cc, no RFC 8888), the
    /// target itself. `None` lifts it.
    pub fn on_remb(&mut self, now: u64, bps: Option<u64>) {
        self.now = self.now.max(now);
        self.remb_bps = bps;
        self.update_target();
    }

    /// When [`Bwe::handle_timeout`] (or [`Bwe::poll_probe`]) next has work.
    pub fn next_wakeup(&self) -> u64 {
        if !self.started && self.config.initial_probes || self.pending.iter().any(Option::is_some) {
            return self.now;
        }
        let mut at = self.now + 100_000;
        if let (Some(since), Some(_)) = (self.unacked_since, self.last_feedback_at) {
            let last = since.max(self.last_timeout_at);
            at = at.min(last + self.feedback_timeout());
        }
        if self.config.periodic_probes {
            let interval = if self.alr.alr_since().is_some() {
                ALR_PROBE_INTERVAL_US
            } else {
                STEADY_PROBE_INTERVAL_US
            };
            // A probe that is due but declined (queue, overuse) is looked at
            // again at the recheck interval, not at once (no busy loop).
            let due = self.last_probe_at.unwrap_or(0) + interval;
            at = at.min(due.max(self.last_periodic_check + PROBE_RECHECK_US));
        }
        at.max(self.now)
    }

    /// Timers: initial probes, periodic probes, feedback timeout.
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = self.now.max(now);
        let now = self.now;
        self.alr.update(now, self.target);
        self.probes.expire(now);
        if !self.started {
            self.started = true;
            if self.config.initial_probes {
                let start = self.rate.estimate();
                self.queue_probe(now, start * 3);
                self.queue_probe(now, start * 6);
                self.further_probe_min = Some((start as f64 * 6.0 * FURTHER_PROBE_FRACTION) as u64);
            }
        }
        self.check_feedback_timeout(now);
        if self.config.periodic_probes {
            self.periodic_probe(now);
            self.last_periodic_check = now;
        }
    }

    fn feedback_timeout(&self) -> u64 {
        self.config
            .feedback_timeout_us
            .max(self.rtt_us().unwrap_or(0) * 4)
    }

    fn check_feedback_timeout(&mut self, now: u64) {
        // Only for a peer that sends feedback at all (one that has none,
        // REMB-only, has nothing to time out).
        let (Some(since), Some(_)) = (self.unacked_since, self.last_feedback_at) else {
            return;
        };
        // Counted from the first packet sent since the last feedback: a
        // sender that paused has nothing to hear about.
        let last = since.max(self.last_timeout_at);
        if now.saturating_sub(last) >= self.feedback_timeout() {
            self.last_timeout_at = now;
            self.stats.feedback_timeouts += 1;
            let halved = self.rate.estimate() / 2;
            self.rate.set(now, halved);
            self.update_target();
        }
    }

    /// A feedback message's results (transport-cc or RFC 8888, parsed into
    /// [`PacketResult`]s), received at `now`.
    pub fn on_feedback<I: IntoIterator<Item = PacketResult>>(&mut self, now: u64, results: I) {
        self.now = self.now.max(now);
        let now = self.now;
        self.stats.feedbacks += 1;
        let (mut n, mut lost, mut newest_send) = (0usize, 0u32, None::<u64>);
        // Reported lost before, received after all (reordered past the
        // previous feedback): not a loss.
        let mut recovered = 0u32;
        for r in results {
            let found = match self.history.on_feedback(r.id, r.arrival_us.is_some()) {
                Lookup::Found(rec) => rec,
                Lookup::Unknown => {
                    self.stats.unknown += 1;
                    continue;
                }
                Lookup::Duplicate => {
                    self.stats.duplicates += 1;
                    continue;
                }
            };
            let Some(arrival) = r.arrival_us else {
                lost += 1;
                if let Some(c) = found.probe_cluster {
                    self.probes
                        .on_packet(c, found.send_us, None, found.size, 0.0, 0);
                }
                continue;
            };
            // No wire format gives arrival times this far from 0 (a C
            // caller's array may): absurd, before any arithmetic on them.
            if arrival.unsigned_abs() > MAX_ARRIVAL_US {
                self.stats.absurd += 1;
                continue;
            }
            let owd = arrival.saturating_sub(i64::try_from(found.send_us).unwrap_or(i64::MAX));
            if let Some(last) = self.last_owd {
                if owd.saturating_sub(last).saturating_abs() > ABSURD_JUMP_US {
                    self.absurd_run += 1;
                    self.stats.absurd += 1;
                    if self.absurd_run < ABSURD_RESET {
                        continue;
                    }
                    self.delay = DelayDetector::new();
                }
            }
            self.absurd_run = 0;
            self.last_owd = Some(owd);
            if found.reported_lost {
                recovered += 1;
            }
            if n == MAX_FEEDBACK_RESULTS {
                self.stats.overflow += 1;
                continue;
            }
            self.scratch[n] = Received {
                send_us: found.send_us,
                arrival_us: arrival,
                size: found.size,
                cluster: found.probe_cluster,
            };
            n += 1;
            newest_send = newest_send.max(Some(found.send_us));
        }
        self.stats.packets_received += n as u64;
        self.stats.packets_lost += u64::from(lost);
        if n == 0 && lost == 0 {
            return;
        }
        self.last_feedback_at = Some(now);
        self.unacked_since = None;
        if let Some(send) = newest_send {
            let sample = now.saturating_sub(send);
            self.rtt_us = Some(match self.rtt_us {
                None => sample,
                Some(r) => (r * 7 + sample) / 8,
            });
        }
        self.scratch[..n].sort_unstable_by_key(|r| (r.arrival_us, r.send_us));
        let mut latest_send = 0u64;
        let mut reorder = 0u64;
        for r in &self.scratch[..n] {
            reorder = reorder.max(latest_send.saturating_sub(r.send_us));
            latest_send = latest_send.max(r.send_us);
        }
        if n >= 2 {
            // The first reading stands as it is: smoothed up from 0, the
            // jitter a probe reading takes off stayed near 0 for the first
            // second, and the first probes on a jittery path read
            // saturated far under its capacity (the conference's Wi-Fi:
            // 788 kbit/s on 3 Mbit/s).
            if self.reorder_known {
                self.reorder_us += (reorder as f64 - self.reorder_us) * REORDER_SMOOTHING;
            } else {
                self.reorder_us = reorder as f64;
                self.reorder_known = true;
            }
            self.delay.set_jitter_floor(self.reorder_us as u64);
        }
        let inherent = self.loss.inherent();
        let jitter = self.reorder_us as u64;
        let mut probe_result = None;
        for i in 0..n {
            let r = self.scratch[i];
            self.delay.on_packet(r.send_us, r.arrival_us, r.size);
            self.acked
                .on_packet(r.arrival_us, r.size, self.delay.queue_delay_us());
            if let Some(c) = r.cluster {
                if let Some(rate) = self.probes.on_packet(
                    c,
                    r.send_us,
                    Some(r.arrival_us),
                    r.size,
                    inherent,
                    jitter,
                ) {
                    probe_result = Some(rate);
                }
            }
        }
        let usage = self.delay.usage();
        let queue = self.delay.queue_delay_us();
        let delay_reacted = self
            .rate
            .last_decrease()
            .is_some_and(|d| now.saturating_sub(d) < 1_000_000);
        self.loss.on_feedback(
            now,
            n as u32,
            lost,
            recovered,
            queue,
            self.target,
            delay_reacted,
        );
        let rtt = self.rtt_us().unwrap_or(100_000);
        let sending = self.alr.sent_bps(now);
        self.rate.set_sending_rate(sending);
        let cut = self.rate.update(
            now,
            newest_send.unwrap_or(0),
            usage,
            self.delay.recently_empty(),
            queue,
            self.acked.saturated_rate(SATURATED_WINDOW_US),
            self.acked.rate(500_000),
            rtt,
            lost,
        );
        if cut {
            self.stats.decreases += 1;
            // Stop probing on delay increase.
            self.further_probe_min = None;
            self.pending = [None; PENDING_PROBES];
            let after = self.rate.estimate();
            if (after as f64) < DROP_FRACTION * self.recent_high.0 as f64 {
                self.recovery_rate =
                    Some((RECOVERY_PROBE_FRACTION * self.recent_high.0 as f64) as u64);
                self.recovery_retries = RECOVERY_RETRIES;
            }
        }
        self.delay.end_feedback();
        if let Some(rate) = probe_result {
            self.on_probe_result(now, rate, usage);
        }
        while let Some(id) = self.probes.take_failed(now) {
            self.on_probe_failed(id);
        }
        let est = self.rate.estimate();
        if est >= self.recent_high.0 || now.saturating_sub(self.recent_high.1) > RECENT_HIGH_US {
            self.recent_high = (est, now);
        }
        self.update_target();
    }

    fn update_target(&mut self) {
        // A peer without transport-cc feedback: REMB is the estimate.
        if let (None, Some(remb)) = (self.last_feedback_at, self.remb_bps) {
            self.target = remb.clamp(self.config.min_bps, self.config.max_bps);
            return;
        }
        let mut t = self.rate.estimate();
        if let Some(cap) = self.loss.cap_bps() {
            t = t.min(cap);
        }
        if let Some(remb) = self.remb_bps {
            t = t.min(remb);
        }
        self.target = t.clamp(self.config.min_bps, self.config.max_bps);
    }
}
