//! Probing: short clusters of packets sent faster than the estimate, whose
//! receive rate says whether the path carries more.
//!
//! [`ProbeEstimator`] turns a cluster's send and receive spans into a rate
//! (libwebrtc's `ProbeBitrateEstimator`: enough of the cluster must arrive,
//! the receive rate may not exceed twice the send rate, and a receive rate
//! under 90 % of the send rate means the path saturated: 95 % of the receive
//! rate). [`ProbeClusterRequest`]s are what the pacer fills.
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
    lost: u32,
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
            min_bytes: req.min_bytes,
            min_packets: req.min_packets,
            ..Cluster::default()
        };
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
        let Some(arrival) = arrival_us else {
            c.lost += 1;
            return None;
        };
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
        // which reads small mixed clusters as saturated).
        let send_rate = (c.bytes - u64::from(c.size_first_send)) as f64 * 8e6 / send_span as f64;
        let recv_bytes = (c.bytes - u64::from(c.size_first_arrival)) as f64;
        let recv_rate = recv_bytes * 8e6 / recv_span as f64 / (1.0 - inherent_loss.clamp(0.0, 0.5));
        if recv_rate > MAX_VALID_RATIO * send_rate {
            return None;
        }
        c.resolved = true;
        let saturated = recv_rate < MIN_RATIO_UNSATURATED * send_rate;
        let rate = if saturated {
            TARGET_UTILISATION * recv_rate
        } else {
            send_rate.min(recv_rate)
        };
        Some(ProbeResult {
            bps: rate as u64,
            saturated,
        })
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
}
