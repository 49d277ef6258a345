//! The pacer: what leaves a subscriber's transport, and when. Without it a
//! keyframe of 30 packets leaves as one burst that fills the bottleneck's
//! queue, and the audio and retransmissions behind it wait (LiveKit #4724:
//! bursty egress lost 90x more packets).
//!
//! Sans-IO. The host pushes the packets the forwarders wrote (shared
//! `Bytes`, never copied) with their class, and drains [`Pacer::poll`] until
//! it answers [`PacerOutput::Wait`]. Rules:
//! - a byte budget refilled at the pacing rate (a multiple of the
//!   estimator's target, higher before the first estimate), capped at
//!   `max_burst_us` of it: bursts are bounded in time, idle time is not
//!   saved up;
//! - priority classes, audio > retransmission > video > padding, and inside
//!   a class round-robin between SSRCs, so one stream's keyframe does not
//!   hold back another's frames; audio is not held by the budget (it is
//!   small and late audio is lost audio) but is counted in it; a
//!   retransmission may be let overdraw it by `retransmission_overdraft_us`
//!   (a receiver is already waiting for it, and at low rates one video
//!   packet's debt is 20-30 ms), and the video after it repays the debt;
//! - a time-to-live per class: a packet queued longer is dropped and
//!   counted (a retransmission that cannot arrive in time only costs);
//! - inside a stream, video RTP packets leave in sequence-number order,
//!   whatever order they were pushed in;
//! - a video packet marked as the start of a keyframe drops that SSRC's
//!   queued video numbered before it: the receiver decodes from the
//!   keyframe anyway;
//! - probe clusters from the estimator: while one runs, packets leave at
//!   the probe rate, queued media first, then [`PacerOutput::Padding`]
//!   requests the host fills (RTX re-sends of recent packets, else
//!   padding-only packets), until the cluster has its bytes and packets.
//!
//! Memory is bounded: `capacity_packets` in all, `max_streams` SSRCs; a
//! push beyond either is refused and counted. Nothing is allocated per
//! packet once each stream's queue has reached its high-water mark.

use std::collections::VecDeque;

use bytes::Bytes;

/// Priority class of a packet, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketClass {
    Audio = 0,
    Retransmission = 1,
    Video = 2,
    /// Padding or probe packets the host made itself.
    Padding = 3,
}

const CLASSES: usize = 4;
const ALL_CLASSES: [PacketClass; CLASSES] = [
    PacketClass::Audio,
    PacketClass::Retransmission,
    PacketClass::Video,
    PacketClass::Padding,
];

/// Pacer options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacerConfig {
    /// Packets queued at most, all classes together. Default 2048.
    pub capacity_packets: usize,
    /// SSRCs (streams) at most. Default 64.
    pub max_streams: usize,
    /// Budget cap: the longest burst, as time at the pacing rate. Default
    /// 5 ms (libwebrtc's pacing interval).
    pub max_burst_us: u64,
    /// Pacing rate / target bitrate: room for bursts above the average (a
    /// keyframe) without building a standing queue. Default 2.5
    /// (libwebrtc's).
    pub pacing_factor: f64,
    /// Pacing rate before the first target. Default 2 Mbit/s.
    pub initial_rate_bps: u64,
    /// Longest time a packet may wait, per class (index: `PacketClass as
    /// usize`), µs. Defaults: audio 100 ms, retransmission 250 ms (about
    /// what a receiver waits for it), video 2 s, padding 50 ms.
    pub ttl_us: [u64; CLASSES],
    /// Hold audio to the budget too. Default false: audio leaves at once.
    pub pace_audio: bool,
    /// Largest padding request, bytes. Default 1200.
    pub max_padding_bytes: usize,
    /// A retransmission may leave while the budget's debt is less than
    /// this much time at the pacing rate, µs; the video after it repays
    /// the debt, and bursts of retransmissions keep to the rate beyond it.
    /// At 400 kbit/s one 1,200-byte video packet leaves 24 ms of debt, and
    /// a retransmission waiting it out may arrive after the receiver's
    /// reserve: 20 ms lets it go at once. Default 0 (held to the budget
    /// like video, as libwebrtc's pacer does).
    pub retransmission_overdraft_us: u64,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self {
            capacity_packets: 2048,
            max_streams: 64,
            max_burst_us: 5_000,
            pacing_factor: 2.5,
            initial_rate_bps: 2_000_000,
            ttl_us: [100_000, 250_000, 2_000_000, 50_000],
            pace_audio: false,
            max_padding_bytes: 1200,
            retransmission_overdraft_us: 0,
        }
    }
}

/// A packet leaving the pacer.
#[derive(Debug, Clone)]
pub struct PacedPacket {
    pub packet: Bytes,
    pub ssrc: u32,
    pub class: PacketClass,
    /// The probe cluster it counts for (stamp it into the estimator's send
    /// history with the transport sequence number).
    pub probe_cluster: Option<u32>,
    /// How long it waited in the pacer, µs.
    pub queued_us: u64,
}

/// What to do next.
#[derive(Debug, Clone)]
pub enum PacerOutput {
    /// Send this packet now.
    Send(PacedPacket),
    /// A probe cluster needs this many more bytes now and no media is
    /// queued: send RTX re-sends of recent packets (or padding-only
    /// packets) of about this size, stamped with `probe_cluster`. The
    /// pacer counts them as sent; when what went out differs (a recent
    /// packet is rarely that size), say so with
    /// [`Pacer::padding_sent`], so that the cluster asks for the rest at its
    /// rate instead of the host sending several at once.
    Padding { bytes: usize, probe_cluster: u32 },
    /// Nothing now: call again at this time (µs), or when a packet is
    /// pushed. `None`: nothing queued and no probe running.
    Wait(Option<u64>),
}

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// `capacity_packets` are queued.
    QueueFull,
    /// `max_streams` SSRCs are known.
    TooManyStreams,
}

/// Counters, per class where an array (index `PacketClass as usize`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacerStats {
    pub sent_packets: [u64; CLASSES],
    pub sent_bytes: [u64; CLASSES],
    /// Dropped because they waited longer than the class's time-to-live.
    pub expired: [u64; CLASSES],
    /// Video dropped because a keyframe of the same SSRC replaced it.
    pub superseded: u64,
    /// Pushes refused (queue full or too many streams).
    pub refused: u64,
    /// Padding bytes requested for probes.
    pub padding_bytes: u64,
    /// Probe clusters finished.
    pub probes_done: u64,
    /// Longest wait of a sent packet, per class, µs.
    pub max_queued_us: [u64; CLASSES],
}

#[derive(Debug)]
struct Queued {
    packet: Bytes,
    pushed_us: u64,
}

#[derive(Debug)]
struct Stream {
    ssrc: u32,
    class: PacketClass,
    queue: VecDeque<Queued>,
    /// In its class's round-robin ring.
    scheduled: bool,
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    id: u32,
    rate_bps: u64,
    min_bytes: u64,
    min_packets: u32,
    started_us: u64,
    deadline_us: u64,
    sent_bytes: u64,
    sent_packets: u32,
}

/// The pacer of one transport. `Send`; owned by one thread.
#[derive(Debug)]
pub struct Pacer {
    config: PacerConfig,
    rate_bps: u64,
    /// The pacing rate in bytes per µs, and the budget's cap in bytes
    /// (kept with the rate: no division per packet).
    bytes_per_us: f64,
    budget_cap: f64,
    /// How far below zero the budget may be for a retransmission, bytes.
    retransmission_overdraft: f64,
    /// Bytes that may leave now (negative: debt).
    budget: f64,
    last_refill_us: Option<u64>,
    streams: Vec<Stream>,
    /// Per class, streams with packets, in round-robin order.
    rings: [VecDeque<usize>; CLASSES],
    queued: usize,
    queued_bytes: usize,
    probe: Option<Probe>,
    stats: PacerStats,
    /// No queued packet expires before this (µs): skips the expiry scan.
    next_expiry_us: u64,
    /// The stream of the last push: pushes come in runs of one SSRC.
    last_stream: usize,
}

impl Pacer {
    pub fn new(config: PacerConfig) -> Self {
        let config = PacerConfig {
            capacity_packets: config.capacity_packets.max(1),
            max_streams: config.max_streams.max(1),
            pacing_factor: if config.pacing_factor.is_finite() {
                config.pacing_factor.clamp(1.0, 100.0)
            } else {
                1.0
            },
            max_padding_bytes: config.max_padding_bytes.max(1),
            ..config
        };
        let mut pacer = Self {
            rate_bps: 0,
            bytes_per_us: 0.0,
            budget_cap: 0.0,
            retransmission_overdraft: 0.0,
            budget: 0.0,
            last_refill_us: None,
            streams: Vec::with_capacity(config.max_streams),
            rings: core::array::from_fn(|_| VecDeque::with_capacity(config.max_streams)),
            queued: 0,
            queued_bytes: 0,
            probe: None,
            stats: PacerStats::default(),
            next_expiry_us: u64::MAX,
            last_stream: 0,
            config,
        };
        pacer.set_rate(config.initial_rate_bps);
        pacer
    }

    pub fn config(&self) -> &PacerConfig {
        &self.config
    }

    pub fn stats(&self) -> &PacerStats {
        &self.stats
    }

    /// The estimator's target bitrate: packets then leave at `pacing_factor`
    /// times it.
    pub fn set_target_bitrate(&mut self, target_bps: u64) {
        let rate = (target_bps as f64 * self.config.pacing_factor).min(u64::MAX as f64);
        self.set_rate(rate as u64);
    }

    fn set_rate(&mut self, rate_bps: u64) {
        self.rate_bps = rate_bps.max(1);
        self.bytes_per_us = self.rate_bps as f64 / 8e6;
        self.budget_cap = (self.bytes_per_us * self.config.max_burst_us as f64).max(1.0);
        self.retransmission_overdraft =
            self.bytes_per_us * self.config.retransmission_overdraft_us as f64;
    }

    /// The lowest budget at which a packet of `class` may still leave.
    fn floor(&self, class: PacketClass) -> f64 {
        match class {
            PacketClass::Retransmission => -self.retransmission_overdraft,
            _ => 0.0,
        }
    }

    /// The pacing rate now, bits/s.
    pub fn pacing_rate_bps(&self) -> u64 {
        self.rate_bps
    }

    /// Packets and bytes waiting.
    pub fn queued(&self) -> (usize, usize) {
        (self.queued, self.queued_bytes)
    }

    /// How long the queued bytes take at the pacing rate, µs (an allocator
    /// may want to lower its target when this grows).
    pub fn queue_time_us(&self) -> u64 {
        (self.queued_bytes as u128 * 8_000_000 / u128::from(self.rate_bps)).min(u64::MAX as u128)
            as u64
    }

    /// Queues `packet` of `ssrc`. A video RTP packet takes its place in
    /// sequence-number order among the SSRC's queued video (the pacer does
    /// not spread the reordering of the publisher's uplink over its pacing
    /// time). `keyframe_start`: a video packet that starts a keyframe; the
    /// SSRC's queued video numbered before it is dropped first (it is older
    /// than the keyframe the receiver will decode from; all of it when the
    /// packet is not RTP).
    pub fn push(
        &mut self,
        now: u64,
        ssrc: u32,
        class: PacketClass,
        packet: Bytes,
        keyframe_start: bool,
    ) -> Result<(), PushError> {
        let cached = self
            .streams
            .get(self.last_stream)
            .is_some_and(|s| s.ssrc == ssrc && s.class == class);
        let found = if cached {
            Some(self.last_stream)
        } else {
            self.streams
                .iter()
                .position(|s| s.ssrc == ssrc && s.class == class)
        };
        let index = match found {
            Some(i) => i,
            None if self.streams.len() < self.config.max_streams => {
                self.streams.push(Stream {
                    ssrc,
                    class,
                    queue: VecDeque::with_capacity(16),
                    scheduled: false,
                });
                self.streams.len() - 1
            }
            None => {
                self.stats.refused += 1;
                return Err(PushError::TooManyStreams);
            }
        };
        let seq = match class {
            PacketClass::Video => rtp_seq(&packet),
            _ => None,
        };
        if keyframe_start && class == PacketClass::Video {
            self.supersede(index, seq);
        }
        if self.queued >= self.config.capacity_packets {
            self.stats.refused += 1;
            return Err(PushError::QueueFull);
        }
        self.queued += 1;
        self.queued_bytes += packet.len();
        self.last_stream = index;
        let expiry = now.saturating_add(self.config.ttl_us[class as usize]);
        self.next_expiry_us = self.next_expiry_us.min(expiry);
        let stream = &mut self.streams[index];
        let at = seq.map_or(stream.queue.len(), |seq| {
            insertion_point(&stream.queue, seq)
        });
        // A packet put before others counts as queued since the first of
        // them was: fronts stay the oldest, for the time-to-live.
        let pushed_us = stream.queue.get(at).map_or(now, |q| q.pushed_us.min(now));
        stream.queue.insert(at, Queued { packet, pushed_us });
        if !stream.scheduled {
            stream.scheduled = true;
            self.rings[class as usize].push_back(index);
        }
        Ok(())
    }

    /// A keyframe starts on stream `index`: its queued video older than the
    /// keyframe's first packet (`seq`) goes. Packets of the keyframe itself
    /// that came before its first packet (a jittery uplink reorders a
    /// burst) stay; without a sequence number, everything queued goes.
    fn supersede(&mut self, index: usize, seq: Option<u16>) {
        let stream = &mut self.streams[index];
        let (mut packets, mut bytes) = (0, 0);
        stream.queue.retain(|q| {
            let keep =
                seq.is_some_and(|first| !rtp_seq(&q.packet).is_some_and(|s| seq_before(s, first)));
            if !keep {
                packets += 1;
                bytes += q.packet.len();
            }
            keep
        });
        self.stats.superseded += packets as u64;
        self.queued -= packets;
        self.queued_bytes -= bytes;
        if stream.queue.is_empty() {
            self.unschedule(index);
        }
    }

    /// Starts a probe cluster (from the estimator): `rate_bps` until
    /// `min_bytes` and `min_packets` have left, or `max_duration_us` has
    /// passed. A running cluster is replaced.
    pub fn start_probe(
        &mut self,
        now: u64,
        id: u32,
        rate_bps: u64,
        min_bytes: u32,
        min_packets: u32,
        max_duration_us: u64,
    ) {
        self.probe = Some(Probe {
            id,
            rate_bps: rate_bps.max(1),
            min_bytes: u64::from(min_bytes),
            min_packets,
            started_us: now,
            deadline_us: now.saturating_add(max_duration_us),
            sent_bytes: 0,
            sent_packets: 0,
        });
    }

    /// The host answered a [`PacerOutput::Padding`] of `asked` bytes with
    /// `sent` bytes: the budget and the probe cluster are charged what went
    /// out, so the cluster asks for what is missing when its rate allows.
    /// Sending several re-sends at one instant to make up the bytes would
    /// make a burst, which the probe's reading takes as a rate the path
    /// cannot carry. `sent` = 0 (nothing to send) ends the cluster: asked
    /// again at once, the host would have nothing again.
    pub fn padding_sent(&mut self, asked: usize, sent: usize) {
        let diff = sent as f64 - asked as f64;
        self.budget -= diff;
        self.stats.padding_bytes = (self.stats.padding_bytes as f64 + diff).max(0.0) as u64;
        if sent == 0 {
            self.probe = None;
        } else if let Some(p) = self.probe.as_mut() {
            p.sent_bytes = (p.sent_bytes as f64 + diff).max(0.0) as u64;
        }
    }

    /// The probe cluster running, if any.
    pub fn probing(&self) -> Option<u32> {
        self.probe.map(|p| p.id)
    }

    fn refill(&mut self, now: u64) {
        let last = self.last_refill_us.unwrap_or(now);
        if now <= last {
            self.last_refill_us = Some(last);
            return;
        }
        self.last_refill_us = Some(now);
        let earned = self.bytes_per_us * (now - last) as f64;
        self.budget = (self.budget + earned).min(self.budget_cap);
    }

    /// When a probe may send its next byte: it keeps to its own rate.
    fn probe_due(&self, probe: &Probe) -> u64 {
        let at = probe.sent_bytes as u128 * 8_000_000 / u128::from(probe.rate_bps);
        probe
            .started_us
            .saturating_add(at.min(u64::MAX as u128) as u64)
    }

    /// The next thing to do at `now`.
    pub fn poll(&mut self, now: u64) -> PacerOutput {
        self.refill(now);
        self.expire(now);
        if let Some(p) = self.probe {
            let done = p.sent_bytes >= p.min_bytes && p.sent_packets >= p.min_packets;
            if done || now >= p.deadline_us {
                self.stats.probes_done += u64::from(done);
                self.probe = None;
            }
        }
        let probe = self.probe;
        // Audio first, and not held by the budget unless configured.
        if !self.config.pace_audio && !self.rings[PacketClass::Audio as usize].is_empty() {
            return self.send_next(now, PacketClass::Audio, None);
        }
        let next_class = ALL_CLASSES
            .into_iter()
            .find(|&c| !self.rings[c as usize].is_empty());
        if let Some(p) = probe {
            let due = self.probe_due(&p);
            if due > now {
                return PacerOutput::Wait(Some(due));
            }
            return match next_class {
                Some(class) => self.send_next(now, class, Some(p.id)),
                None => {
                    let left = p.min_bytes.saturating_sub(p.sent_bytes).max(200) as usize;
                    let bytes = left.min(self.config.max_padding_bytes);
                    self.count_probe(bytes);
                    self.stats.padding_bytes += bytes as u64;
                    self.budget -= bytes as f64;
                    PacerOutput::Padding {
                        bytes,
                        probe_cluster: p.id,
                    }
                }
            };
        }
        match next_class {
            None => PacerOutput::Wait(None),
            Some(class) if self.budget > self.floor(class) => self.send_next(now, class, None),
            Some(_) => PacerOutput::Wait(Some(self.budget_due(now, next_class))),
        }
    }

    /// When the budget rises above `class`'s floor again (now if it is).
    fn budget_due(&self, now: u64, class: Option<PacketClass>) -> u64 {
        let Some(class) = class else {
            return u64::MAX;
        };
        let floor = self.floor(class);
        if self.budget > floor {
            return now;
        }
        let wait = ((floor - self.budget) / self.bytes_per_us).ceil() as u64 + 1;
        now.saturating_add(wait)
    }

    /// When [`poll`](Self::poll) has something to do next, if anything is
    /// waiting.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        let class = ALL_CLASSES
            .into_iter()
            .find(|&c| !self.rings[c as usize].is_empty());
        if class == Some(PacketClass::Audio) && !self.config.pace_audio {
            return Some(now);
        }
        match self.probe {
            Some(p) => Some(self.probe_due(&p).min(p.deadline_us).max(now)),
            None => class.map(|c| self.budget_due(now, Some(c))),
        }
    }

    /// Takes an emptied stream out of its class's ring, so that a non-empty
    /// ring always means packets to send.
    fn unschedule(&mut self, index: usize) {
        let stream = &mut self.streams[index];
        if stream.scheduled {
            stream.scheduled = false;
            self.rings[stream.class as usize].retain(|&i| i != index);
        }
    }

    fn count_probe(&mut self, bytes: usize) {
        if let Some(p) = self.probe.as_mut() {
            p.sent_bytes += bytes as u64;
            p.sent_packets += 1;
        }
    }

    /// Drops packets older than their class's time-to-live (queue fronts
    /// are the oldest of each stream).
    fn expire(&mut self, now: u64) {
        if now <= self.next_expiry_us {
            return;
        }
        self.next_expiry_us = u64::MAX;
        for index in 0..self.streams.len() {
            let stream = &mut self.streams[index];
            let ttl = self.config.ttl_us[stream.class as usize];
            let mut expired = false;
            while let Some(front) = stream.queue.front() {
                if now.saturating_sub(front.pushed_us) <= ttl {
                    break;
                }
                self.queued -= 1;
                self.queued_bytes -= front.packet.len();
                self.stats.expired[stream.class as usize] += 1;
                stream.queue.pop_front();
                expired = true;
            }
            if let Some(front) = stream.queue.front() {
                let at = front.pushed_us.saturating_add(ttl);
                self.next_expiry_us = self.next_expiry_us.min(at);
            }
            if expired && stream.queue.is_empty() {
                self.unschedule(index);
            }
        }
    }

    /// Sends the next packet of `class` (round-robin between its streams).
    fn send_next(&mut self, now: u64, class: PacketClass, probe: Option<u32>) -> PacerOutput {
        let ring = &mut self.rings[class as usize];
        let Some(index) = ring.pop_front() else {
            return PacerOutput::Wait(None);
        };
        let stream = &mut self.streams[index];
        let Some(q) = stream.queue.pop_front() else {
            // Not reached: emptied streams leave the ring at once.
            stream.scheduled = false;
            return PacerOutput::Wait(None);
        };
        if stream.queue.is_empty() {
            stream.scheduled = false;
        } else {
            ring.push_back(index);
        }
        let len = q.packet.len();
        let ssrc = stream.ssrc;
        self.queued -= 1;
        self.queued_bytes -= len;
        self.budget -= len as f64;
        if probe.is_some() {
            self.count_probe(len);
        }
        let queued_us = now.saturating_sub(q.pushed_us);
        let c = class as usize;
        self.stats.sent_packets[c] += 1;
        self.stats.sent_bytes[c] += len as u64;
        self.stats.max_queued_us[c] = self.stats.max_queued_us[c].max(queued_us);
        PacerOutput::Send(PacedPacket {
            packet: q.packet,
            ssrc,
            class,
            probe_cluster: probe,
            queued_us,
        })
    }
}

/// Video packets a new one is compared with, from the back of its queue,
/// to find its place in sequence-number order: reordering deeper than this
/// is left as it came.
const MAX_REORDER_WALK: usize = 64;

/// The RTP sequence number of `packet`, if it is RTP (version 2; SRTP
/// leaves the header readable).
fn rtp_seq(packet: &[u8]) -> Option<u16> {
    (packet.len() >= 12 && packet[0] >> 6 == 2).then(|| u16::from_be_bytes([packet[2], packet[3]]))
}

/// Whether sequence number `a` comes before `b` (RFC 3550 wrap-around).
fn seq_before(a: u16, b: u16) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000
}

/// Where a video packet numbered `seq` goes in its stream's queue: before
/// the queued packets it precedes. A publisher's uplink that reorders a
/// keyframe burst by a few ms would otherwise have the pacer send it in
/// that order, spread over the keyframe's pacing time: on the outcome
/// test's links, packets 90 ms out of order at the receiver, whose reorder
/// wait, and so every NACK, then waited 91 ms.
fn insertion_point(queue: &VecDeque<Queued>, seq: u16) -> usize {
    let mut at = queue.len();
    while at > 0
        && queue.len() - at < MAX_REORDER_WALK
        && rtp_seq(&queue[at - 1].packet).is_some_and(|queued| seq_before(seq, queued))
    {
        at -= 1;
    }
    at
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
