//! NACK scheduling: when each missing sequence number is first requested
//! (after an adaptive reorder wait), when it is retried (one round trip
//! plus the jitter a retransmission meets on its way, so that a
//! retransmission still on its way is not requested again), and which
//! packets were requested (so that their late arrival, a retransmission,
//! never feeds the delay estimate).
//!
//! State per gap lives in a table indexed like the packet ring; when each
//! run of gaps was noticed lives in a short list of runs. Neither is walked
//! on a reset (an epoch invalidates the table), and a far gap is one run.

use std::collections::VecDeque;

use super::reorder::ReorderEstimator;
use super::ring::{PacketRing, Slot};

/// How long a gap waits before its first request, and what a retry waits
/// for beyond one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waits {
    pub first_us: u64,
    pub retry_margin_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NackConfig {
    pub enabled: bool,
    /// Requests per missing packet.
    pub max_retries: u8,
    /// Wait after noticing a gap before the first request until reordering
    /// has been measured; then the wait follows the measured reordering
    /// (see [`JitterBuffer::reorder_wait_us`](super::JitterBuffer::reorder_wait_us)).
    pub reorder_wait_us: u64,
    /// Audio: round trips of retransmission to keep room for in the target
    /// delay (0: none, NACKs are then only sent when the delay happens to
    /// allow a retransmission; 2 recovers a loss whose first retransmission
    /// is lost too). Video: ignored (an incomplete frame waits for its
    /// retransmission instead; a standing reserve would delay every frame).
    pub delay_rtts: f64,
}

impl Default for NackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_retries: 10,
            reorder_wait_us: 5_000,
            delay_rtts: 0.0,
        }
    }
}

/// Only gaps this close to the newest packet are requested (libwebrtc's
/// `NackRequester` keeps at most 1,000 too): a far gap costs no more than this.
pub(crate) const NACK_SPAN: i64 = 1024;
/// How often hosts are expected to ask for NACKs (10–20 ms): a request
/// pulled forward to the last useful moment is due this much before it.
const POLL_SLACK_US: u64 = 20_000;
/// Most runs of gaps remembered; beyond it the two oldest merge (their
/// gaps then count as noticed at the older time).
const MAX_RUNS: usize = 256;
/// Packets after which a path that has not reordered 20 of them counts as
/// one whose reordering is measured (it reorders under one in six).
const REORDER_EVIDENCE_PACKETS: u32 = 128;

/// Requests made for one missing sequence number.
#[derive(Debug, Clone, Copy)]
struct Request {
    seq: i64,
    epoch: u32,
    retries: u8,
    last_us: u64,
}

/// What became of a gap when its packet arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// Never requested: the packet was reordered or late.
    Reordered,
    /// Requested: the packet is (most likely) a retransmission.
    Requested,
}

#[derive(Debug)]
pub(crate) struct NackScheduler {
    config: NackConfig,
    requests: Box<[Request]>,
    mask: i64,
    epoch: u32,
    /// `(first sequence number, when noticed)`, ascending: a gap was
    /// noticed when the run starting at or below it was.
    runs: VecDeque<(i64, u64)>,
    reorder: ReorderEstimator,
    /// The same, of frames' first packets alone: see
    /// [`frame_reorder_wait_us`](Self::frame_reorder_wait_us).
    frame_reorder: ReorderEstimator,
    /// Least reorder wait until reordering has been measured (the jitter:
    /// packets cannot be reordered by more than their delays differ) ...
    reorder_floor_us: u64,
    /// ... and afterwards (`None`: none, and only reordered packets
    /// measure the reordering).
    settled_floor_us: Option<u64>,
    /// Packets measured (saturating): evidence of a path that rarely
    /// reorders when the histogram is still warming up.
    measured_packets: u32,
    rtt_us: u64,
}

impl NackScheduler {
    pub fn new(config: NackConfig, capacity: usize) -> Self {
        let vacant = Request {
            seq: i64::MIN,
            epoch: 0,
            retries: 0,
            last_us: 0,
        };
        Self {
            config,
            requests: vec![vacant; capacity].into_boxed_slice(),
            mask: capacity as i64 - 1,
            epoch: 0,
            runs: VecDeque::with_capacity(MAX_RUNS),
            reorder: ReorderEstimator::new(config.reorder_wait_us),
            frame_reorder: ReorderEstimator::new(config.reorder_wait_us),
            reorder_floor_us: 0,
            settled_floor_us: None,
            measured_packets: 0,
            rtt_us: 100_000,
        }
    }

    #[inline]
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    pub fn set_rtt(&mut self, rtt_us: u64) {
        self.rtt_us = rtt_us;
    }

    #[inline]
    pub fn rtt_us(&self) -> u64 {
        self.rtt_us
    }

    /// Wait before the first request of a gap.
    pub fn reorder_wait_us(&self) -> u64 {
        if self.reorder_measured() {
            self.reorder
                .wait_us()
                .max(self.settled_floor_us.unwrap_or(0))
        } else {
            self.reorder.wait_us().max(self.reorder_floor_us)
        }
    }

    /// Wait before the first request of a gap of whole video frames (the
    /// packet before it ends a frame, the one after starts one): the
    /// reordering of frames' first packets once 20 of them have come
    /// reordered, if shorter. The reorder wait is mostly learnt from the
    /// packets of one frame, sent together and scrambled by the path;
    /// frames leave a frame time apart and trail each other by less. On a
    /// path with 0-60 ms of jitter, waiting the whole wait after a lost
    /// frame's successor came was 74 ms of the median 268 ms freeze one
    /// lost packet caused.
    pub fn frame_reorder_wait_us(&self) -> u64 {
        let wait = self.reorder_wait_us();
        if self.frame_reorder.warmed_up() {
            wait.min(self.frame_reorder.wait_us())
        } else {
            wait
        }
    }

    /// Sets the least reorder wait at a measured packet's arrival:
    /// `until_measured_us` until reordering has been measured,
    /// `settled_us` afterwards (see [`JitterBuffer::push`](super::JitterBuffer)
    /// for the values).
    #[inline]
    pub fn set_reorder_floor(&mut self, until_measured_us: u64, settled_us: Option<u64>) {
        self.reorder_floor_us = until_measured_us;
        self.settled_floor_us = settled_us;
        self.measured_packets = self.measured_packets.saturating_add(1);
    }

    /// Whether the reordering is known: enough reordered packets seen, or,
    /// with a settled floor to fall back on, so many packets that a path
    /// reordering them often would have shown it. Without the second a
    /// video path that hardly reorders kept the until-measured floor (the
    /// delay percentile, queueing included) for good: 436 ms before every
    /// first NACK on a 20 ms-jitter link whose 300 kbit/s start had queued
    /// keyframes, and a 1.3 s freeze. (Audio has no settled floor: after
    /// 128 packets its histogram alone NACKed 9 of 177 merely reordered
    /// packets on a 0-30 ms jitter path.)
    fn reorder_measured(&self) -> bool {
        self.reorder.warmed_up()
            || (self.settled_floor_us.is_some()
                && self.measured_packets >= REORDER_EVIDENCE_PACKETS)
    }

    /// Forgets every gap (a stream reset): O(runs).
    pub fn reset(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        self.runs.clear();
    }

    /// The sequence numbers `first..=last` went missing at `now`.
    pub fn on_gaps(&mut self, first: i64, last: i64, now: u64) {
        if first > last {
            return;
        }
        if self.runs.len() == MAX_RUNS {
            // Merge the two oldest runs.
            let oldest = self.runs.pop_front().expect("full");
            if let Some(next) = self.runs.front_mut() {
                *next = (oldest.0, oldest.1.min(next.1));
            }
        }
        match self.runs.back() {
            Some(&(start, _)) if first < start => {
                // Below every run (the head moved back): the first run.
                self.runs.push_front((first, now));
            }
            _ => self.runs.push_back((first, now)),
        }
    }

    /// Runs wholly below `head` are forgotten.
    #[inline]
    pub fn advance(&mut self, head: i64) {
        // Inline check: usually one run at most is left.
        if self.runs.len() >= 2 {
            self.forget_runs_below(head);
        }
    }

    fn forget_runs_below(&mut self, head: i64) {
        while self.runs.len() >= 2 && self.runs[1].0 <= head {
            self.runs.pop_front();
        }
    }

    /// When the gap at `seq` was noticed.
    pub fn noticed(&self, seq: i64) -> u64 {
        // The runs ascend: the last one starting at or below `seq`. Gaps
        // are asked about near the newest run, so that one is looked at
        // first; a binary search finds older ones.
        match self.runs.back() {
            Some(&(start, noticed)) if start <= seq => return noticed,
            _ => {}
        }
        let i = self.runs.partition_point(|r| r.0 <= seq);
        if i == 0 {
            return 0;
        }
        self.runs[i - 1].1
    }

    #[inline]
    fn request(&self, seq: i64) -> Option<&Request> {
        let r = &self.requests[(seq & self.mask) as usize];
        (r.seq == seq && r.epoch == self.epoch).then_some(r)
    }

    /// Requests made for `seq` and when the last was (when it was noticed
    /// if none).
    pub fn requested(&self, seq: i64) -> (u8, u64) {
        match self.request(seq) {
            Some(r) => (r.retries, r.last_us),
            None => (0, self.noticed(seq)),
        }
    }

    /// The gap at `seq` was filled at `now` by a packet that did not come as
    /// a retransmission: a reordering sample if it was not requested, or
    /// if it came back sooner than any retransmission could.
    /// A packet before any gap was noticed (one older than the stream's
    /// first arrival) is no sample: there is no time to measure from
    /// (reading the time since 0 as its lateness set a 257 ms reorder wait
    /// for a whole meeting).
    /// `starts_frame`: the packet is a video frame's first.
    pub fn on_filled(&mut self, seq: i64, now: u64, starts_frame: bool) -> Filled {
        match self.request(seq) {
            Some(r) if r.retries > 1 || now >= r.last_us.saturating_add(self.rtt_us / 2) => {
                Filled::Requested
            }
            _ => {
                if self.runs.front().is_some_and(|r| r.0 <= seq) {
                    let late = now.saturating_sub(self.noticed(seq));
                    self.reorder.on_reordered(late);
                    if starts_frame {
                        self.frame_reorder.on_reordered(late);
                    }
                }
                Filled::Reordered
            }
        }
    }

    /// When a gap with `retries` requests, the last (or its noticing) at
    /// `last_us`, may be requested: `waits.first_us` after it was noticed,
    /// then a round trip plus `waits.retry_margin_us` (the jitter of the
    /// request and of the retransmission) after each request.
    pub fn due(&self, retries: u8, last_us: u64, waits: Waits) -> Option<u64> {
        if retries >= self.config.max_retries {
            return None;
        }
        Some(if retries == 0 {
            last_us.saturating_add(waits.first_us)
        } else {
            last_us
                .saturating_add(self.rtt_us)
                .saturating_add(waits.retry_margin_us)
        })
    }

    /// The reorder wait measured (the histogram's), without the floor
    /// [`set_reorder_floor`](Self::set_reorder_floor) sets.
    pub fn measured_reorder_wait_us(&self) -> u64 {
        self.reorder.wait_us()
    }

    /// Records a request for `seq` sent at `now`.
    pub fn mark(&mut self, seq: i64, now: u64) {
        let retries = self.request(seq).map_or(0, |r| r.retries);
        self.requests[(seq & self.mask) as usize] = Request {
            seq,
            epoch: self.epoch,
            retries: retries.saturating_add(1),
            last_us: now,
        };
    }

    /// Visits the gaps worth requesting, newest first, within
    /// [`NACK_SPAN`] of the newest packet: `f(seq, due, limit)` where
    /// `limit` is when a retransmission stops being useful, from
    /// `limit_of(next held packet, when the gap was noticed)`. Stops at
    /// the first gap whose retransmission could no longer arrive in time
    /// (older gaps are due earlier still), or when `f` returns false.
    pub fn walk(
        &self,
        ring: &PacketRing,
        now: u64,
        waits_of: impl Fn(Option<&Slot>, &Slot) -> Waits,
        limit_of: impl Fn(&Slot, u64) -> Option<u64>,
        mut f: impl FnMut(i64, u64, u64) -> bool,
    ) {
        let Some(head) = ring.head() else { return };
        if !self.config.enabled || ring.missing() == 0 {
            return;
        }
        let lo = head.max(ring.highest() - NACK_SPAN + 1);
        let mut seq = ring.highest();
        let mut next_held: Option<&Slot> = None;
        // Gaps not visited yet: the held packets below the oldest gap are
        // not walked.
        let mut unvisited = ring.missing();
        while seq >= lo {
            if let Some(slot) = ring.held(seq) {
                next_held = Some(slot);
                seq -= 1;
                continue;
            }
            let Some(next) = next_held else { return };
            let prev_seq = ring.prev_held(seq);
            let prev = prev_seq.and_then(|p| ring.held(p));
            let waits = waits_of(prev, next);
            let run_lo = prev_seq.map_or(lo, |p| p + 1).max(lo);
            for gap in (run_lo..=seq).rev() {
                let (retries, last) = self.requested(gap);
                let noticed = if retries == 0 {
                    last
                } else {
                    self.noticed(gap)
                };
                let Some(limit) = limit_of(next, noticed) else {
                    continue;
                };
                if now.saturating_add(self.rtt_us) > limit {
                    return;
                }
                if let Some(mut due) = self.due(retries, last, waits) {
                    if retries == 0 {
                        // When the reorder wait would leave no time for a
                        // retransmission, ask by the last useful moment (a
                        // host polls every 10–20 ms): a packet merely
                        // reordered has had its chance.
                        let last_useful =
                            limit.saturating_sub(self.rtt_us.saturating_add(POLL_SLACK_US));
                        due = due.min(last_useful);
                    }
                    if !f(gap, due, limit) {
                        return;
                    }
                }
            }
            unvisited -= (seq - run_lo + 1) as usize;
            if unvisited == 0 {
                return;
            }
            seq = run_lo - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitter::ring::Slot;
    use bytes::Bytes;

    fn ring_with(seqs: &[i64]) -> PacketRing {
        let mut ring = PacketRing::new(64);
        ring.start_at(seqs[0]);
        for &seq in seqs {
            ring.insert(Slot {
                seq,
                packet: Some(Bytes::from_static(b"x")),
                ts: 0,
                media_us: seq * 20_000,
                arrival: 0,
                flags: crate::jitter::ring::Flags::new(false, false, false, None),
                layer: None,
            });
        }
        ring
    }

    fn due_gaps(n: &NackScheduler, ring: &PacketRing, now: u64) -> Vec<i64> {
        let mut out = vec![];
        n.walk(
            ring,
            now,
            |_, _| Waits {
                first_us: n.reorder_wait_us(),
                retry_margin_us: 0,
            },
            |next, _| Some(next.media_us as u64 + 200_000),
            |seq, due, _| {
                if due <= now {
                    out.push(seq);
                }
                true
            },
        );
        out.reverse();
        out
    }

    #[test]
    fn first_request_after_the_reorder_wait_then_every_rtt_plus_margin() {
        let mut n = NackScheduler::new(NackConfig::default(), 64);
        n.set_rtt(50_000);
        let ring = ring_with(&[10, 11, 14]);
        n.on_gaps(12, 13, 1_000);
        assert!(due_gaps(&n, &ring, 5_999).is_empty());
        assert_eq!(due_gaps(&n, &ring, 6_000), vec![12, 13]);
        n.mark(12, 6_000);
        n.mark(13, 6_000);
        assert_eq!(n.requested(12), (1, 6_000));
        assert_eq!(
            n.due(
                1,
                6_000,
                Waits {
                    first_us: 0,
                    retry_margin_us: 7_000
                }
            ),
            Some(63_000)
        );
        // The original arriving 1 ms after the request is reordering, not
        // a retransmission.
        assert_eq!(n.on_filled(12, 7_000, false), Filled::Reordered);
        assert_eq!(n.on_filled(13, 40_000, false), Filled::Requested);
    }

    #[test]
    fn the_reorder_wait_follows_measured_reordering() {
        let mut n = NackScheduler::new(NackConfig::default(), 64);
        assert_eq!(n.reorder_wait_us(), 5_000);
        for i in 0..200u64 {
            n.on_gaps(i as i64, i as i64, i * 100_000);
            n.on_filled(i as i64, i * 100_000 + 10_000 + (i % 10) * 1_000, false);
        }
        let wait = n.reorder_wait_us();
        assert!((20_000..=22_000).contains(&wait), "wait {wait}");
    }

    #[test]
    fn a_reset_forgets_requests_without_walking_them() {
        let mut n = NackScheduler::new(NackConfig::default(), 64);
        n.on_gaps(5, 5, 0);
        n.mark(5, 10_000);
        n.reset();
        n.on_gaps(5, 5, 20_000);
        assert_eq!(n.requested(5), (0, 20_000));
    }

    #[test]
    fn runs_remember_when_each_gap_was_noticed() {
        let mut n = NackScheduler::new(NackConfig::default(), 64);
        n.on_gaps(10, 12, 100);
        n.on_gaps(20, 30, 200);
        n.on_gaps(3, 8, 300); // the head moved back
        assert_eq!(
            [n.noticed(4), n.noticed(11), n.noticed(25)],
            [300, 100, 200]
        );
        n.advance(21);
        assert_eq!(n.noticed(25), 200);
        for i in 0..1000 {
            n.on_gaps(100 + 2 * i, 100 + 2 * i, 1_000 + i as u64);
        }
        assert!(n.runs.len() <= MAX_RUNS);
        assert_eq!(n.noticed(2097), 1_998);
    }
}
