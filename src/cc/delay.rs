//! Delay-based congestion detection: packets grouped into send bursts
//! (libwebrtc's `InterArrivalDelta`: a group spans ≤ 5 ms of send time, and
//! packets that arrive in a burst join the group), the trend of the
//! accumulated one-way delay variation between groups (libwebrtc's
//! `TrendlineEstimator`: smoothed, least-squares slope over the last 20
//! groups) compared against an adaptive threshold (Carlucci et al., "Analysis
//! and design of the Google congestion control", 2016). Also the absolute
//! queuing delay (one-way delay above its 30-second minimum), which the rate
//! controller uses to drain a queue it built, and GCC lacks.
//!
//! Constants are libwebrtc's (`trendline_estimator.cc`,
//! `inter_arrival_delta.cc`); the code is ours. Fixed arrays, no allocation.

/// What the detector concludes about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usage {
    #[default]
    Normal,
    /// The queue grows: the sender sends more than the path carries.
    Overusing,
    /// The queue shrinks.
    Underusing,
}

const BURST_DELTA_US: i64 = 5_000;
const MAX_BURST_US: i64 = 100_000;
const ARRIVAL_OFFSET_RESET_US: i64 = 3_000_000;
const REORDERED_RESET: u32 = 3;

const WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
const THRESHOLD_GAIN: f64 = 4.0;
const MIN_NUM_DELTAS: u32 = 60;
const K_UP: f64 = 0.0087;
const K_DOWN: f64 = 0.039;
const OVERUSE_TIME_MS: f64 = 10.0;
const MAX_ADAPT_OFFSET_MS: f64 = 15.0;
const INITIAL_THRESHOLD_MS: f64 = 12.5;

#[derive(Debug, Clone, Copy, Default)]
struct Group {
    first_send: u64,
    send: u64,
    first_arrival: i64,
    complete: i64,
    size: u64,
    valid: bool,
}

/// One completed group's deltas against the previous group.
#[derive(Debug, Clone, Copy)]
struct Deltas {
    send_us: i64,
    arrival_us: i64,
}

#[derive(Debug, Default)]
struct InterArrival {
    current: Group,
    prev: Group,
    reordered: u32,
}

impl InterArrival {
    fn belongs_to_burst(&self, send: u64, arrival: i64) -> bool {
        let arrival_delta = arrival - self.current.complete;
        let send_delta = send as i64 - self.current.send as i64;
        if send_delta == 0 {
            return true;
        }
        let propagation = arrival_delta - send_delta;
        propagation < 0
            && arrival_delta <= BURST_DELTA_US
            && arrival - self.current.first_arrival < MAX_BURST_US
    }

    fn new_group(&self, send: u64, arrival: i64) -> bool {
        self.current.valid
            && !self.belongs_to_burst(send, arrival)
            && send as i64 - self.current.first_send as i64 > BURST_DELTA_US
    }

    fn add(&mut self, send: u64, arrival: i64, size: u64) -> Option<Deltas> {
        let mut out = None;
        if !self.current.valid {
            self.current = Group {
                first_send: send,
                send,
                first_arrival: arrival,
                complete: arrival,
                size: 0,
                valid: true,
            };
        } else if self.current.first_send > send {
            return None; // out of order: older than the current group
        } else if self.new_group(send, arrival) {
            if self.prev.valid {
                let send_us = self.current.send as i64 - self.prev.send as i64;
                let arrival_us = self.current.complete - self.prev.complete;
                if arrival_us - send_us >= ARRIVAL_OFFSET_RESET_US {
                    *self = Self::default();
                    return None;
                }
                if arrival_us < 0 {
                    self.reordered += 1;
                    if self.reordered >= REORDERED_RESET {
                        *self = Self::default();
                    }
                    return None;
                }
                self.reordered = 0;
                out = Some(Deltas {
                    send_us,
                    arrival_us,
                });
            }
            self.prev = self.current;
            self.current = Group {
                first_send: send,
                send,
                first_arrival: arrival,
                complete: arrival,
                size: 0,
                valid: true,
            };
        } else {
            self.current.send = self.current.send.max(send);
        }
        self.current.size += size;
        self.current.complete = self.current.complete.max(arrival);
        out
    }
}

/// Trendline over the last [`WINDOW`] groups, with the adaptive threshold.
#[derive(Debug)]
struct Trendline {
    num_deltas: u32,
    first_arrival_ms: Option<f64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// (arrival ms since first, smoothed delay ms), ring.
    hist: [(f64, f64); WINDOW],
    hist_len: usize,
    hist_head: usize,
    prev_trend: f64,
    modified_trend: f64,
    threshold: f64,
    last_threshold_update_ms: Option<f64>,
    time_over_using: f64,
    overuse_counter: u32,
    usage: Usage,
}

impl Default for Trendline {
    fn default() -> Self {
        Self {
            num_deltas: 0,
            first_arrival_ms: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            hist: [(0.0, 0.0); WINDOW],
            hist_len: 0,
            hist_head: 0,
            prev_trend: 0.0,
            modified_trend: 0.0,
            threshold: INITIAL_THRESHOLD_MS,
            last_threshold_update_ms: None,
            time_over_using: -1.0,
            overuse_counter: 0,
            usage: Usage::Normal,
        }
    }
}

impl Trendline {
    fn slope(&self) -> Option<f64> {
        let n = self.hist_len as f64;
        let (mut sx, mut sy) = (0.0, 0.0);
        for &(x, y) in &self.hist[..self.hist_len] {
            sx += x;
            sy += y;
        }
        let (mx, my) = (sx / n, sy / n);
        let (mut num, mut den) = (0.0, 0.0);
        for &(x, y) in &self.hist[..self.hist_len] {
            num += (x - mx) * (y - my);
            den += (x - mx) * (x - mx);
        }
        (den != 0.0).then(|| num / den)
    }

    fn update(&mut self, d: Deltas, arrival_us: i64) {
        let delta_ms = (d.arrival_us - d.send_us) as f64 / 1000.0;
        self.num_deltas = (self.num_deltas + 1).min(1000);
        let arrival_ms = arrival_us as f64 / 1000.0;
        let first = *self.first_arrival_ms.get_or_insert(arrival_ms);
        self.accumulated_ms += delta_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        let point = (arrival_ms - first, self.smoothed_ms);
        if self.hist_len < WINDOW {
            self.hist[(self.hist_head + self.hist_len) % WINDOW] = point;
            self.hist_len += 1;
        } else {
            self.hist[self.hist_head] = point;
            self.hist_head = (self.hist_head + 1) % WINDOW;
        }
        let mut trend = self.prev_trend;
        if self.hist_len == WINDOW {
            if let Some(s) = self.slope() {
                trend = s;
            }
        }
        self.detect(trend, d.send_us as f64 / 1000.0, arrival_ms);
    }

    fn detect(&mut self, trend: f64, ts_delta_ms: f64, now_ms: f64) {
        if self.num_deltas < 2 {
            self.usage = Usage::Normal;
            return;
        }
        let modified = f64::from(self.num_deltas.min(MIN_NUM_DELTAS)) * trend * THRESHOLD_GAIN;
        self.modified_trend = modified;
        if modified > self.threshold {
            if self.time_over_using < 0.0 {
                self.time_over_using = ts_delta_ms / 2.0;
            } else {
                self.time_over_using += ts_delta_ms;
            }
            self.overuse_counter += 1;
            if self.time_over_using > OVERUSE_TIME_MS
                && self.overuse_counter > 1
                && trend >= self.prev_trend
            {
                self.time_over_using = 0.0;
                self.overuse_counter = 0;
                self.usage = Usage::Overusing;
            }
        } else if modified < -self.threshold {
            self.time_over_using = -1.0;
            self.overuse_counter = 0;
            self.usage = Usage::Underusing;
        } else {
            self.time_over_using = -1.0;
            self.overuse_counter = 0;
            self.usage = Usage::Normal;
        }
        self.prev_trend = trend;
        self.update_threshold(modified, now_ms);
    }

    fn update_threshold(&mut self, modified: f64, now_ms: f64) {
        let last = *self.last_threshold_update_ms.get_or_insert(now_ms);
        if modified.abs() > self.threshold + MAX_ADAPT_OFFSET_MS {
            // A spike (e.g. a route change) must not inflate the threshold.
            self.last_threshold_update_ms = Some(now_ms);
            return;
        }
        let k = if modified.abs() < self.threshold {
            K_DOWN
        } else {
            K_UP
        };
        let dt = (now_ms - last).clamp(0.0, 100.0);
        self.threshold += k * (modified.abs() - self.threshold) * dt;
        self.threshold = self.threshold.clamp(6.0, 600.0);
        self.last_threshold_update_ms = Some(now_ms);
    }
}

/// Minimum one-way delay (send → arrival, arbitrary offset) in buckets of
/// [`BASE_BUCKET_US`] of arrival time, [`BASE_BUCKETS`] of them: the base
/// the queuing delay is measured from.
const BASE_BUCKETS: usize = 10;
const BASE_BUCKET_US: i64 = 3_000_000;

/// The delay-based detector (see the module comment).
#[derive(Debug)]
pub struct DelayDetector {
    inter: InterArrival,
    trend: Trendline,
    base: [(i64, i64); BASE_BUCKETS],
    base_head: usize,
    base_len: usize,
    /// Minimum over the buckets, kept up to date.
    base_min: i64,
    queue_delay_us: i64,
    /// Arrival time of the newest packet that found the queue (nearly) empty.
    last_empty_us: Option<i64>,
    newest_arrival_us: i64,
    /// Queuing delay at the end of the previous feedback.
    prev_queue_us: i64,
    /// The queue has not emptied for [`RECENTLY_EMPTY_US`]: someone else
    /// holds it.
    competing: bool,
    /// Since when the queue has been low, while it is.
    low_since_us: Option<i64>,
    /// How much of a delay reading is the path's jitter (see
    /// [`DelayDetector::set_jitter_floor`]).
    jitter_floor_us: i64,
}

/// A queue longer than this that built up after the queue was recently
/// empty is overuse whatever the trend says: a slow ramp can build a queue
/// too gently for the trend to cross its threshold.
const HIGH_QUEUE_US: i64 = 60_000;
const EMPTY_QUEUE_US: i64 = 20_000;
/// "Recently": a queue that has not emptied for this long is held by
/// someone else (a TCP flow filling a buffer); then only the trend counts,
/// or the flow would starve.
const RECENTLY_EMPTY_US: i64 = 5_000_000;
/// Competing ends when the queue stays low this long.
const LOW_TO_STOP_COMPETING_US: i64 = 1_000_000;
/// Growth between feedbacks that makes a long queue overuse.
const QUEUE_GROWTH_US: i64 = 5_000;

impl Default for DelayDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DelayDetector {
    pub fn new() -> Self {
        Self {
            inter: InterArrival::default(),
            trend: Trendline::default(),
            base: [(0, 0); BASE_BUCKETS],
            base_head: 0,
            base_len: 0,
            base_min: 0,
            queue_delay_us: 0,
            last_empty_us: None,
            newest_arrival_us: 0,
            prev_queue_us: 0,
            competing: false,
            low_since_us: None,
            jitter_floor_us: 0,
        }
    }

    /// How much of a delay reading is the path's jitter, not a queue (µs):
    /// a link that delays each packet independently by 0–60 ms shows
    /// "queues" of up to 60 ms with nothing queued. Only what stands above
    /// it counts as queuing delay. 0 (the default) on a FIFO path.
    pub fn set_jitter_floor(&mut self, floor_us: u64) {
        self.jitter_floor_us = floor_us.min(i64::MAX as u64) as i64;
    }

    /// One received packet, in arrival order.
    pub fn on_packet(&mut self, send_us: u64, arrival_us: i64, size: u32) {
        self.update_base(send_us, arrival_us);
        if let Some(d) = self.inter.add(send_us, arrival_us, u64::from(size)) {
            self.trend.update(d, arrival_us);
        }
    }

    fn update_base(&mut self, send_us: u64, arrival_us: i64) {
        let owd = arrival_us - send_us as i64;
        let bucket = arrival_us.div_euclid(BASE_BUCKET_US);
        let newest = (self.base_head + self.base_len + BASE_BUCKETS - 1) % BASE_BUCKETS;
        if self.base_len > 0 && self.base[newest].0 >= bucket {
            let b = &mut self.base[newest];
            b.1 = b.1.min(owd);
            self.base_min = self.base_min.min(owd);
        } else {
            if self.base_len < BASE_BUCKETS {
                self.base[(self.base_head + self.base_len) % BASE_BUCKETS] = (bucket, owd);
                self.base_len += 1;
            } else {
                self.base[self.base_head] = (bucket, owd);
                self.base_head = (self.base_head + 1) % BASE_BUCKETS;
            }
            // A bucket left the window: recompute (once per bucket).
            self.base_min = self.base[..self.base_len]
                .iter()
                .map(|b| b.1)
                .min()
                .unwrap_or(owd);
        }
        let base = self.base_min;
        // Only what stands above the jitter is a queue.
        self.queue_delay_us = (owd - base - self.jitter_floor_us).max(0);
        self.newest_arrival_us = arrival_us;
        if self.queue_delay_us < EMPTY_QUEUE_US {
            let since = *self.low_since_us.get_or_insert(arrival_us);
            // Once competing, a brief dip (the other flow halving its
            // window) does not end it: the queue must stay low.
            if !self.competing || arrival_us - since >= LOW_TO_STOP_COMPETING_US {
                self.competing = false;
                self.last_empty_us = Some(arrival_us);
            }
        } else {
            self.low_since_us = None;
            if self
                .last_empty_us
                .is_none_or(|e| arrival_us - e >= RECENTLY_EMPTY_US)
            {
                self.competing = true;
            }
        }
    }

    /// Whether the queue was (nearly) empty within the last 5 s: then a
    /// queue that stands now is this sender's to drain. A queue that never
    /// empties is held by someone else (a TCP flow filling the buffer).
    pub fn recently_empty(&self) -> bool {
        !self.competing
    }

    pub fn usage(&self) -> Usage {
        let standing = self.recently_empty();
        match self.trend.usage {
            // Only while it still grows (since the previous feedback): a
            // queue that drains is answered. The raw queue, not the smoothed
            // trend, which lags a sudden capacity drop.
            Usage::Normal | Usage::Underusing
                if standing
                    && self.queue_delay_us > HIGH_QUEUE_US
                    && self.queue_delay_us > self.prev_queue_us + QUEUE_GROWTH_US =>
            {
                Usage::Overusing
            }
            u => u,
        }
    }

    /// A feedback message has been processed (the queue it ended with is
    /// what the next one's growth is measured against).
    pub fn end_feedback(&mut self) {
        self.prev_queue_us = self.queue_delay_us;
    }

    /// Queuing delay of the newest packet (its one-way delay above the
    /// 30-second minimum, less the jitter floor), µs.
    pub fn queue_delay_us(&self) -> u64 {
        self.queue_delay_us.max(0) as u64
    }

    /// The threshold-scaled trend and the threshold (ms), for stats.
    pub fn trend(&self) -> (f64, f64) {
        (self.trend.modified_trend, self.trend.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets every 5 ms through a queue whose delay grows `growth` ms per
    /// packet after `from`.
    fn run(growth: f64, from: usize) -> Vec<Usage> {
        let mut d = DelayDetector::new();
        let mut out = Vec::new();
        let mut extra = 0.0;
        for i in 0..400usize {
            let send = i as u64 * 5_000;
            if i >= from {
                extra += growth;
            }
            let arrival = send as i64 + 50_000 + (extra * 1000.0) as i64;
            d.on_packet(send, arrival, 1200);
            out.push(d.usage());
        }
        out
    }

    #[test]
    fn steady_delay_is_normal_and_growing_delay_is_overuse() {
        assert!(run(0.0, 0).iter().all(|u| *u == Usage::Normal));
        let grown = run(0.5, 200);
        assert!(grown[..200].iter().all(|u| *u == Usage::Normal));
        let first = grown.iter().position(|u| *u == Usage::Overusing).unwrap();
        assert!((200..230).contains(&first), "detected at {first}");
    }

    #[test]
    fn queue_delay_follows_the_excess_over_the_minimum() {
        let mut d = DelayDetector::new();
        d.on_packet(0, 70_000, 100);
        d.on_packet(10_000, 80_000, 100);
        assert_eq!(d.queue_delay_us(), 0);
        d.on_packet(20_000, 120_000, 100);
        assert_eq!(d.queue_delay_us(), 30_000);
    }

    #[test]
    fn delay_within_the_jitter_floor_is_not_a_queue() {
        let mut d = DelayDetector::new();
        d.on_packet(0, 50_000, 1200);
        d.on_packet(5_000, 85_000, 1200);
        assert_eq!(d.queue_delay_us(), 30_000);
        d.set_jitter_floor(40_000);
        d.on_packet(10_000, 90_000, 1200);
        assert_eq!(
            d.queue_delay_us(),
            0,
            "30 ms above the base, 40 ms of jitter"
        );
        d.on_packet(15_000, 125_000, 1200);
        assert_eq!(d.queue_delay_us(), 20_000);
    }
}
