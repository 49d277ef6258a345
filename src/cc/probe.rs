//! Probing: short clusters of packets sent faster than the estimate, whose
//! receive rate says whether the path carries more.
//!
//! [`ProbeEstimator`] turns a cluster's send and receive spans into a rate
//! (libwebrtc's `ProbeBitrateEstimator`: enough of the cluster must arrive,
//! the receive rate may not exceed twice the send rate, and a receive rate
//! under 90 % of the send rate means the path saturated: 95 % of the receive
//! rate). [`ProbeClusterRequest`]s are what the pacer fills.
//!
//! On a path with jitter, a cluster that spans at least
//! [`JITTERY_MIN_SPAN_FACTOR`] times the jitter is read from every packet:
//! its send rate is what the pacer sent less the last packet (the pacer
//! sends packet k once packets 0..k-1 have had their time, so leaving out
//! the first instead read a cluster of 1,200-byte packets closed by a
//! 200-byte padding packet at 72-79 % of its rate, and Wi-Fi upgrade probes
//! confirmed that much less), and, when the least-squares slope of one-way
//! delay over send time is known to within [`MAX_SLOPE_ERROR`], the path
//! served the send rate / (1 + slope + one standard error). Otherwise, and
//! on FIFO paths (whose readings the RFC 8867 tests tune), the endpoint
//! reading below.
//!
//! Safety against probes that cause loss (jitsi-videobridge #1447, str0m
//! #218) lives in the caller ([`super::Bwe`]): probes go at most
//! [`MAX_PROBE_FACTOR`] × the estimate, last [`PROBE_DURATION_US`], and stop
//! as soon as the delay detector sees the queue grow.

/// A probe cluster the pacer should send: `min_packets` packets and at least
/// `min_bytes` at `rate_bps`, each tagged with `id` when reported to
/// [`super::Bwe::on_sent`]. Media may fill it; padding tops it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeClusterRequest {
    pub id: u32,
    pub rate_bps: u64,
    pub min_bytes: u32,
    pub min_packets: u32,
    pub duration_us: u64,
}

/// What a probe cluster measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeResult {
    pub bps: u64,
    /// The path could not carry the probe rate (the receive rate fell
    /// under 90 % of the send rate): the result is the capacity (or this
    /// flow's share of it), and probing higher would only build a queue.
    pub saturated: bool,
}

/// Probe send duration: long enough to measure at 1 ms pacing granularity,
/// short enough that a saturating probe at 2× adds ~10 ms of queue.
pub const PROBE_DURATION_US: u64 = 20_000;
pub const PROBE_MIN_PACKETS: u32 = 5;
/// Probes beyond the initial ones go at most this multiple of the estimate.
pub const MAX_PROBE_FACTOR: f64 = 2.0;

const MIN_RECEIVED_FRACTION: f64 = 0.8;
const MAX_VALID_RATIO: f64 = 2.0;
const MIN_RATIO_UNSATURATED: f64 = 0.9;
const TARGET_UTILISATION: f64 = 0.95;
/// A cluster not resolved this long after its first send is forgotten.
pub const CLUSTER_TIMEOUT_US: u64 = 1_500_000;
const CLUSTERS: usize = 8;
/// Packets of a cluster kept for the jittery-path reading.
const KEPT: usize = 32;
/// A cluster is read from every packet (on a path with jitter) when it
/// spans at least this many times the jitter.
const JITTERY_MIN_SPAN_FACTOR: f64 = 3.0;
/// The largest standard error of the fitted delay slope (per µs sent) a
/// result is taken from: 0.1 is ±10 % of the rate.
const MAX_SLOPE_ERROR: f64 = 0.1;

/// A probe packet as sent (and, once it arrived, when).
#[derive(Debug, Clone, Copy, Default)]
struct Kept {
    send_us: u64,
    arrival_us: Option<i64>,
    size: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cluster {
    id: u32,
    in_use: bool,
    /// Produced a result (later packets may still refine it).
    resolved: bool,
    created_us: u64,
    min_bytes: u32,
    min_packets: u32,
    first_send: u64,
    last_send: u64,
    size_first_send: u32,
    first_arrival: i64,
    last_arrival: i64,
    size_first_arrival: u32,
    bytes: u64,
    received: u32,
    /// Every packet reported (lost or not), in send order; `kept_overflow`
    /// when the cluster had more than [`KEPT`].
    kept: [Kept; KEPT],
    n_kept: usize,
    kept_overflow: bool,
    /// Packets the pacer sent for it, and how many of them feedback has
    /// reported (received or lost): once all are reported after the
    /// cluster's end, a cluster with no result never gets one.
    sent: u32,
    reported: u32,
    ends_us: u64,
}

impl Cluster {
    /// Records a packet's fate in send order (a packet reported lost and
    /// then received is updated in place).
    fn keep(&mut self, send_us: u64, arrival_us: Option<i64>, size: u32) {
        let kept = &mut self.kept[..self.n_kept];
        if let Some(k) = kept
            .iter_mut()
            .find(|k| k.send_us == send_us && k.size == size && k.arrival_us.is_none())
        {
            k.arrival_us = arrival_us;
            return;
        }
        self.reported += 1;
        if self.n_kept == KEPT {
            self.kept_overflow = true;
            return;
        }
        let at = kept.partition_point(|k| k.send_us <= send_us);
        self.kept.copy_within(at..self.n_kept, at + 1);
        self.kept[at] = Kept {
            send_us,
            arrival_us,
            size,
        };
        self.n_kept += 1;
    }

    /// The send rate (bit/s): every packet sent but the last, over the span
    /// from the first send to the last. The pacer sends packet k once the
    /// bytes of packets 0..k-1 have had their time at the probe rate, so
    /// that span holds all the packets but the last.
    fn send_rate(&self) -> Option<f64> {
        let kept = &self.kept[..self.n_kept];
        let (first, last) = (kept.first()?, kept.last()?);
        let span = last.send_us.checked_sub(first.send_us)?;
        if span == 0 || span > 1_000_000 {
            return None;
        }
        let bytes: u64 = kept[..kept.len() - 1]
            .iter()
            .map(|k| u64::from(k.size))
            .sum();
        Some(bytes as f64 * 8e6 / span as f64)
    }

    /// The least-squares growth of one-way delay per µs of send time over
    /// the received packets of at least half the largest size (a small
    /// packet's delay holds less transmission time at the bottleneck: the
    /// padding that closes a cluster would read as the queue draining), and
    /// its standard error.
    fn delay_slope(&self) -> Option<(f64, f64)> {
        let kept = &self.kept[..self.n_kept];
        let big = kept
            .iter()
            .filter(|k| k.arrival_us.is_some())
            .map(|k| k.size)
            .max()?
            / 2;
        let origin = kept.first()?.send_us;
        let (mut n, mut sx, mut sy, mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let mut y0 = None;
        for k in kept {
            let Some(arrival) = k.arrival_us else {
                continue;
            };
            if k.size < big {
                continue;
            }
            let x = (k.send_us - origin) as f64;
            let owd = arrival as f64 - k.send_us as f64;
            let y = owd - *y0.get_or_insert(owd);
            n += 1.0;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            syy += y * y;
        }
        if n < 3.0 {
            return None;
        }
        let vxx = sxx - sx * sx / n;
        if vxx <= 0.0 {
            return None;
        }
        let vxy = sxy - sx * sy / n;
        let vyy = syy - sy * sy / n;
        let slope = vxy / vxx;
        let residual = (vyy - slope * vxy).max(0.0) / (n - 2.0);
        Some((slope, (residual / vxx).sqrt()))
    }

    /// The result read from every packet (a long cluster on a jittery
    /// path): `None` while the fitted slope's standard error exceeds
    /// [`MAX_SLOPE_ERROR`]. The path served `send_rate / (1 + slope)`;
    /// one standard error is added to the slope, since a rate read too
    /// high confirms what the path does not carry (a queue), one read too
    /// low only waits for the next probe.
    fn fitted_result(&self) -> Option<ProbeResult> {
        let send_rate = self.send_rate()?;
        let (slope, error) = self.delay_slope()?;
        if error > MAX_SLOPE_ERROR {
            return None;
        }
        // A slope under -0.5 (the path serving over twice the send rate)
        // is noise, like MAX_VALID_RATIO.
        let recv_rate = send_rate / (1.0 + (slope + error).max(-0.5));
        Some(result(send_rate, recv_rate))
    }
}

/// Per-cluster send/receive statistics (see the module comment).
#[derive(Debug, Default)]
pub struct ProbeEstimator {
    clusters: [Cluster; CLUSTERS],
}

impl ProbeEstimator {
    /// Starts tracking a cluster the controller just requested.
    pub fn register(&mut self, now: u64, req: &ProbeClusterRequest) {
        let slot = self
            .clusters
            .iter()
            .position(|c| !c.in_use)
            .unwrap_or_else(|| {
                // All in use: replace the oldest.
                let mut oldest = 0;
                for (i, c) in self.clusters.iter().enumerate() {
                    if c.created_us < self.clusters[oldest].created_us {
                        oldest = i;
                    }
                }
                oldest
            });
        self.clusters[slot] = Cluster {
            id: req.id,
            in_use: true,
            created_us: now,
            ends_us: now.saturating_add(req.duration_us),
            min_bytes: req.min_bytes,
            min_packets: req.min_packets,
            ..Cluster::default()
        };
    }

    /// The pacer sent a packet of cluster `id`.
    pub fn on_sent(&mut self, id: u32) {
        if let Some(c) = self.clusters.iter_mut().find(|c| c.in_use && c.id == id) {
            c.sent += 1;
        }
    }

    /// A cluster that will never give a result: it ended, feedback
    /// reported every packet sent for it, and too few arrived (a loss
    /// burst; random loss of a fifth is enough). It stops counting as
    /// pending (see [`pending`](Self::pending)) and its id is returned,
    /// once, so that the caller can probe again without waiting for the
    /// cluster to time out ([`CLUSTER_TIMEOUT_US`]).
    pub fn take_failed(&mut self, now: u64) -> Option<u32> {
        let c = self.clusters.iter_mut().find(|c| {
            c.in_use && !c.resolved && c.sent > 0 && c.reported >= c.sent && now >= c.ends_us
        })?;
        c.resolved = true;
        Some(c.id)
    }

    /// Forgets clusters older than [`CLUSTER_TIMEOUT_US`].
    pub fn expire(&mut self, now: u64) {
        for c in &mut self.clusters {
            if c.in_use && now.saturating_sub(c.created_us) > CLUSTER_TIMEOUT_US {
                c.in_use = false;
            }
        }
    }

    /// Whether any cluster is still awaiting its first result.
    pub fn pending(&self) -> bool {
        self.clusters.iter().any(|c| c.in_use && !c.resolved)
    }

    /// A probe packet's fate. Returns the cluster's rate estimate (bit/s)
    /// once enough of it arrived; `inherent_loss` (the path's random loss)
    /// scales the receive rate back up so random loss does not read as
    /// saturation; half of `jitter_us` (how far the path moves packets
    /// independently, 0 on a FIFO path) is taken off the receive span,
    /// which jitter stretches by up to all of it (the first arrival early,
    /// the last one late): without it a jittery path reads every probe as
    /// saturated far below its capacity, with all of it a saturated probe
    /// can read as the probe rate (an overestimate, which costs more).
    pub fn on_packet(
        &mut self,
        id: u32,
        send_us: u64,
        arrival_us: Option<i64>,
        size: u32,
        inherent_loss: f64,
        jitter_us: u64,
    ) -> Option<ProbeResult> {
        let c = self.clusters.iter_mut().find(|c| c.in_use && c.id == id)?;
        c.keep(send_us, arrival_us, size);
        // A lost packet counts only among the kept ones (the send rate of
        // a jittery path's reading).
        let arrival = arrival_us?;
        if c.received == 0 {
            c.first_send = send_us;
            c.last_send = send_us;
            c.size_first_send = size;
            c.first_arrival = arrival;
            c.last_arrival = arrival;
            c.size_first_arrival = size;
        } else {
            if send_us < c.first_send {
                c.first_send = send_us;
                c.size_first_send = size;
            }
            c.last_send = c.last_send.max(send_us);
            if arrival < c.first_arrival {
                c.first_arrival = arrival;
                c.size_first_arrival = size;
            }
            c.last_arrival = c.last_arrival.max(arrival);
        }
        c.received += 1;
        c.bytes += u64::from(size);
        if f64::from(c.received) < f64::from(c.min_packets) * MIN_RECEIVED_FRACTION
            || (c.bytes as f64) < f64::from(c.min_bytes) * MIN_RECEIVED_FRACTION
        {
            return None;
        }
        let send_span = c.last_send.saturating_sub(c.first_send);
        // A cluster several times longer than the path's jitter: read from
        // every packet (see the module comment). Shorter (or with more
        // packets than are kept), the jitter swamps the reading and the
        // endpoint reading below stays, conservative by design.
        let long = jitter_us > 0
            && !c.kept_overflow
            && send_span as f64 >= JITTERY_MIN_SPAN_FACTOR * jitter_us as f64;
        if long {
            if let Some(result) = c.fitted_result() {
                c.resolved = true;
                return Some(result);
            }
        }
        let mut recv_span = c.last_arrival - c.first_arrival;
        if jitter_us > 0 {
            // At least half the send span is left: the correction is an
            // expectation, and a span shrunk to nothing reads as infinite.
            let jitter = i64::try_from(jitter_us / 2).unwrap_or(i64::MAX);
            recv_span = recv_span.saturating_sub(jitter).max((send_span / 2) as i64);
        }
        if send_span == 0 || send_span > 1_000_000 || recv_span <= 0 || recv_span > 1_000_000 {
            return None;
        }
        // Both rates leave out the first packet (its bytes left before the
        // span began): with the same packets on both sides an unqueued path
        // reads exactly 1:1, however the cluster mixes media and padding
        // sizes (libwebrtc leaves out the last sent and the first received,
        // which reads small mixed clusters as saturated). On a long cluster
        // over a jittery path whose fit was too uncertain, the send rate is
        // the pacer's own (see [`Cluster::send_rate`]).
        let mut send_rate =
            (c.bytes - u64::from(c.size_first_send)) as f64 * 8e6 / send_span as f64;
        if long {
            send_rate = c.send_rate().unwrap_or(send_rate);
        }
        let recv_bytes = (c.bytes - u64::from(c.size_first_arrival)) as f64;
        let recv_rate = recv_bytes * 8e6 / recv_span as f64 / (1.0 - inherent_loss.clamp(0.0, 0.5));
        if recv_rate > MAX_VALID_RATIO * send_rate {
            return None;
        }
        c.resolved = true;
        Some(result(send_rate, recv_rate))
    }
}

/// The result of a cluster sent at `send_rate` that the path served at
/// `recv_rate` (see the module comment).
fn result(send_rate: f64, recv_rate: f64) -> ProbeResult {
    let saturated = recv_rate < MIN_RATIO_UNSATURATED * send_rate;
    let rate = if saturated {
        TARGET_UTILISATION * recv_rate
    } else {
        send_rate.min(recv_rate)
    };
    ProbeResult {
        bps: rate as u64,
        saturated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: u32) -> ProbeClusterRequest {
        ProbeClusterRequest {
            id,
            rate_bps: 2_000_000,
            min_bytes: 5_000,
            min_packets: 5,
            duration_us: PROBE_DURATION_US,
        }
    }

    /// Sends a cluster at 2 Mbit/s (1,000 bytes every 4 ms) through a
    /// bottleneck of `capacity` bit/s.
    fn probe(capacity: u64) -> Option<ProbeResult> {
        let mut p = ProbeEstimator::default();
        p.register(0, &req(1));
        let mut last = None;
        let mut free = 0i64;
        for i in 0..6u64 {
            let send = i * 4_000;
            let start = free.max(send as i64);
            free = start + (8_000 * 1_000_000 / capacity) as i64;
            last = p
                .on_packet(1, send, Some(free + 30_000), 1000, 0.0, 0)
                .or(last);
        }
        last
    }

    #[test]
    fn unsaturated_probe_reads_the_send_rate_and_saturated_the_capacity() {
        let free = probe(10_000_000).unwrap();
        assert!(!free.saturated);
        assert!((1_900_000..=2_100_000).contains(&free.bps), "{free:?}");
        let sat = probe(1_000_000).unwrap();
        assert!(sat.saturated);
        assert!((900_000..=1_000_000).contains(&sat.bps), "{sat:?}");
    }

    /// A 2 Mbit/s cluster (1,000 bytes every 4 ms for 100 ms) through an
    /// uncongested path that delays every other packet by 40 ms more.
    fn jittery_probe(jitter_us: u64) -> ProbeResult {
        let mut p = ProbeEstimator::default();
        let mut r = req(1);
        r.min_bytes = 25_000;
        r.min_packets = 25;
        p.register(0, &r);
        let mut last = None;
        for i in 0..25u64 {
            let jitter = (i % 2 * 40_000) as i64;
            let send = i * 4_000;
            last = p
                .on_packet(
                    1,
                    send,
                    Some(send as i64 + 30_000 + jitter),
                    1000,
                    0.0,
                    jitter_us,
                )
                .or(last);
        }
        last.unwrap()
    }

    #[test]
    fn jitter_does_not_read_as_a_saturated_path() {
        let blind = jittery_probe(0);
        let told = jittery_probe(40_000);
        assert!(blind.saturated && blind.bps < 1_500_000, "{blind:?}");
        assert!(
            told.bps > blind.bps && told.bps <= 2_000_000,
            "{told:?} {blind:?}"
        );
    }

    /// Half-normal jitter of σ 8 ms (Wi-Fi in the conference example),
    /// from a fixed-seed generator.
    fn half_normal_8ms(i: u64) -> i64 {
        let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
        let mut uniform = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let (u1, u2) = (uniform().max(1e-12), uniform());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos();
        (normal.abs() * 8_000.0) as i64
    }

    /// Sends `sizes` as the pacer does at `rate` bit/s (packet k once the
    /// bytes of packets 0..k-1 have had their time) through a bottleneck
    /// of `capacity` bit/s, then 30 ms of path plus `jitter(k)`, on a path
    /// whose jitter the caller has measured as `told_us`.
    fn paced(
        sizes: &[u32],
        rate: u64,
        capacity: u64,
        jitter: impl Fn(u64) -> i64,
        told_us: u64,
    ) -> Option<ProbeResult> {
        let mut p = ProbeEstimator::default();
        let bytes: u32 = sizes.iter().sum();
        p.register(
            0,
            &ProbeClusterRequest {
                id: 1,
                rate_bps: rate,
                min_bytes: bytes,
                min_packets: sizes.len() as u32,
                duration_us: u64::from(bytes) * 8_000_000 / rate,
            },
        );
        let (mut sent, mut free, mut last) = (0u64, 0i64, None);
        for (k, &size) in sizes.iter().enumerate() {
            let send = sent * 8_000_000 / rate;
            sent += u64::from(size);
            free = free.max(send as i64) + (u64::from(size) * 8_000_000 / capacity) as i64;
            let arrival = free + 30_000 + jitter(k as u64);
            last = p
                .on_packet(1, send, Some(arrival), size, 0.0, told_us)
                .or(last);
        }
        last
    }

    /// Cause 2: the pacer sends packet k when packets 0..k-1 have had their
    /// time, so the send span holds every packet but the last. Leaving out
    /// the first instead read this 1 Mbit/s cluster (four 1,200-byte media
    /// packets closed by 200 bytes of padding) over an idle path at 79 %.
    #[test]
    fn a_cluster_closed_by_padding_reads_its_rate() {
        let sizes = [1200, 1200, 1200, 1200, 200];
        let r = paced(&sizes, 1_000_000, 10_000_000, |_| 0, 2_000).unwrap();
        assert!(!r.saturated, "{r:?}");
        assert!((980_000..=1_000_000).contains(&r.bps), "{r:?}");
    }

    /// A long cluster over a path with Wi-Fi jitter (σ 8 ms) is read from
    /// its delay slope (the endpoint reading, with half the jitter taken off
    /// the receive span, reads such a cluster about as well).
    #[test]
    fn wifi_jitter_does_not_read_as_saturation() {
        let sizes = [1000; 25];
        let r = paced(&sizes, 2_000_000, 10_000_000, half_normal_8ms, 16_000).unwrap();
        assert!(!r.saturated, "{r:?}");
        assert!(r.bps >= 1_800_000, "{r:?}");
    }

    /// ... nor hide a path that does saturate.
    #[test]
    fn wifi_jitter_does_not_hide_a_saturated_path() {
        let sizes = [1000; 25];
        let r = paced(&sizes, 2_000_000, 1_000_000, half_normal_8ms, 16_000).unwrap();
        assert!(r.saturated, "{r:?}");
        assert!((800_000..=1_000_000).contains(&r.bps), "{r:?}");
    }

    /// Padding that closes a saturating cluster leaves the bottleneck
    /// sooner than the media before it (less to transmit): read from every
    /// packet, it would look like the queue draining. Only packets of at
    /// least half the largest size count in the fit.
    #[test]
    fn closing_padding_does_not_read_as_a_draining_queue() {
        let mut sizes = [1200u32; 14];
        sizes[11..].fill(200);
        let r = paced(&sizes, 1_000_000, 800_000, |_| 0, 2_000).unwrap();
        assert!(r.saturated, "{r:?}");
        assert!((700_000..=800_000).contains(&r.bps), "{r:?}");
    }

    /// Too short for the path's jitter (under three times it), a cluster
    /// keeps the endpoint reading.
    #[test]
    fn a_short_cluster_on_a_jittery_path_keeps_the_endpoint_reading() {
        let sizes = [1200, 1200, 1200, 1200, 200];
        let r = paced(&sizes, 1_000_000, 10_000_000, |_| 0, 20_000).unwrap();
        assert!(r.bps < 900_000, "{r:?}");
    }

    /// A cluster that a loss burst left unread is reported as failed once
    /// it has ended and every packet sent for it has been reported, and
    /// only then; it then stops counting as pending.
    #[test]
    fn a_cluster_left_unread_by_a_loss_burst_fails_once_all_is_reported() {
        let mut p = ProbeEstimator::default();
        let mut r = req(3);
        r.min_bytes = 8_000;
        r.min_packets = 5;
        r.duration_us = 40_000;
        p.register(0, &r);
        for _ in 0..10 {
            p.on_sent(3);
        }
        // Ten packets of 1,000 bytes every 4 ms; 3..=8 lost in a row.
        for i in 0..10u64 {
            let arrival = (!(3..=8).contains(&i)).then_some((i * 4_000 + 30_000) as i64);
            assert_eq!(p.on_packet(3, i * 4_000, arrival, 1_000, 0.0, 0), None);
            if i < 9 {
                // Not everything is reported yet.
                assert_eq!(p.take_failed(100_000), None, "after packet {i}");
            }
        }
        assert!(p.pending());
        // Everything reported, but the cluster has not ended yet.
        assert_eq!(p.take_failed(39_000), None);
        assert_eq!(p.take_failed(40_000), Some(3));
        assert!(!p.pending());
        assert_eq!(p.take_failed(50_000), None, "reported once");
    }
}
