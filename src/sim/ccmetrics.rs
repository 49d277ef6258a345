//! RFC 8868 metrics over a [`super::ScenarioResult`]: utilisation, queuing
//! delay percentiles, loss, convergence time, oscillation, Jain's fairness,
//! and the "dips" count the random-loss goal uses. Plain functions
//! over the recorded samples, so a test states exactly what it measures.

use super::ccsim::{FlowResult, Sample};

/// Samples with `from_us <= t < to_us` (a sample covers the interval ending
/// at `t_us`).
fn window(samples: &[Sample], from_us: u64, to_us: u64) -> impl Iterator<Item = &Sample> {
    samples
        .iter()
        .filter(move |s| s.t_us > from_us && s.t_us <= to_us)
}

/// Mean delivered rate of a flow over a window (bit/s).
pub fn throughput(flow: &FlowResult, from_us: u64, to_us: u64) -> f64 {
    let (sum, n) = window(&flow.samples, from_us, to_us)
        .fold((0.0, 0u32), |(s, n), x| (s + x.recv_bps as f64, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / f64::from(n)
    }
}

/// Fraction of the bottleneck's capacity the given flows used over a
/// window; `capacity_at(t)` in bit/s.
pub fn utilisation(
    flows: &[&FlowResult],
    capacity_at: impl Fn(u64) -> u64,
    from_us: u64,
    to_us: u64,
) -> f64 {
    let Some(first) = flows.first() else {
        return 0.0;
    };
    let mut used = 0.0;
    let mut offered = 0.0;
    for s in window(&first.samples, from_us, to_us) {
        offered += capacity_at(s.t_us.saturating_sub(1)) as f64;
    }
    for f in flows {
        used += window(&f.samples, from_us, to_us)
            .map(|s| s.recv_bps as f64)
            .sum::<f64>();
    }
    if offered == 0.0 {
        0.0
    } else {
        used / offered
    }
}

/// The `p`-th percentile (0..=1) of the queuing delay (µs) of a flow's
/// packets that arrived in the window.
pub fn queue_delay_percentile(flow: &FlowResult, from_us: u64, to_us: u64, p: f64) -> u64 {
    let mut v: Vec<u32> = flow
        .queue_delays
        .iter()
        .filter(|(t, _)| *t >= from_us && *t < to_us)
        .map(|d| d.1)
        .collect();
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    u64::from(v[i])
}

/// Largest queuing delay (µs) of a flow's packets that arrived in the window.
pub fn queue_delay_max(flow: &FlowResult, from_us: u64, to_us: u64) -> u64 {
    queue_delay_percentile(flow, from_us, to_us, 1.0)
}

/// Loss ratio: packets the bottleneck dropped over packets sent.
pub fn loss_ratio(flow: &FlowResult) -> f64 {
    if flow.packets_sent == 0 {
        0.0
    } else {
        flow.packets_dropped as f64 / flow.packets_sent as f64
    }
}

/// Time from `from_us` until the target first reaches `at_least_bps`.
pub fn time_to_reach(flow: &FlowResult, from_us: u64, at_least_bps: u64) -> Option<u64> {
    flow.samples
        .iter()
        .find(|s| s.t_us >= from_us && s.target_bps >= at_least_bps)
        .map(|s| s.t_us - from_us)
}

/// Time from `from_us` until the target first falls to `at_most_bps`.
pub fn time_to_fall(flow: &FlowResult, from_us: u64, at_most_bps: u64) -> Option<u64> {
    flow.samples
        .iter()
        .find(|s| s.t_us >= from_us && s.target_bps <= at_most_bps)
        .map(|s| s.t_us - from_us)
}

/// Convergence time (RFC 8868 §2): from `from_us` until the first moment
/// from which the flow's mean delivered rate over the next `avg_us` is
/// within ±`tol` of `share_bps` (a frame-based sender's rate per 100 ms
/// swings ±30 %: the mean over a few seconds is what converges).
pub fn convergence_time(
    flow: &FlowResult,
    from_us: u64,
    share_bps: f64,
    tol: f64,
    avg_us: u64,
) -> Option<u64> {
    let s = &flow.samples;
    for (i, x) in s.iter().enumerate().filter(|(_, x)| x.t_us >= from_us) {
        let end = x.t_us + avg_us;
        if s.last().is_none_or(|l| l.t_us < end) {
            return None;
        }
        let w: Vec<f64> = s[i..]
            .iter()
            .take_while(|y| y.t_us <= end)
            .map(|y| y.recv_bps as f64)
            .collect();
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        if (mean - share_bps).abs() <= tol * share_bps {
            return Some(x.t_us - from_us);
        }
    }
    None
}

/// Oscillation: coefficient of variation of the target over a window.
pub fn oscillation(flow: &FlowResult, from_us: u64, to_us: u64) -> f64 {
    let v: Vec<f64> = window(&flow.samples, from_us, to_us)
        .map(|s| s.target_bps as f64)
        .collect();
    if v.len() < 2 {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
    var.sqrt() / mean
}

/// Jain's fairness index of the given throughputs (1 = equal shares).
pub fn jain(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let sq: f64 = x.iter().map(|v| v * v).sum();
    if sq == 0.0 {
        return 1.0;
    }
    sum * sum / (x.len() as f64 * sq)
}

/// Dips of the target: each time it falls more than `depth_bps` below its
/// maximum over the preceding second, counted once until it recovers.
/// Returns the start times of the dips in the window.
pub fn dips(flow: &FlowResult, from_us: u64, to_us: u64, depth_bps: u64) -> Vec<u64> {
    let s = &flow.samples;
    let mut out = Vec::new();
    let mut in_dip = false;
    for (i, x) in s.iter().enumerate() {
        if x.t_us < from_us || x.t_us >= to_us {
            continue;
        }
        let peak = s[..i]
            .iter()
            .rev()
            .take_while(|y| y.t_us + 1_000_000 > x.t_us)
            .map(|y| y.target_bps)
            .max()
            .unwrap_or(x.target_bps);
        let low = x.target_bps + depth_bps < peak;
        if low && !in_dip {
            out.push(x.t_us);
        }
        in_dip = low;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_of_equal_and_unequal_shares() {
        assert!((jain(&[1.0, 1.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((jain(&[1.0, 0.0, 0.0]) - 1.0 / 3.0).abs() < 1e-12);
    }
}
