//! Timing a stage against its baseline: calibration, alternating samples,
//! medians.

use std::time::Duration;

use super::options::Options;

/// Processes `n` iterations and returns the time they took, excluding any
/// untimed preparation it did (e.g. making packets to unprotect).
pub type RunFn = Box<dyn FnMut(u64) -> Duration>;

/// One row of the report: a stage of the media path and its baseline.
pub struct Stage {
    /// Stable name, the `stage` field of the JSON.
    pub name: &'static str,
    /// Profile or room shape; empty when the stage has one variant.
    pub variant: String,
    /// RTP packet size (header + payload, before SRTP) the stage handles.
    pub bytes: usize,
    /// Packets handled per iteration of `run` (1, or a room's participants
    /// per mixer tick).
    pub packets_per_iter: u64,
    pub run: RunFn,
    /// The same work done by a common alternative, measured in the same run.
    pub baseline: Option<Baseline>,
}

pub struct Baseline {
    /// Stable name, the `baseline` field of the JSON.
    pub name: &'static str,
    pub run: RunFn,
}

/// Iterations that take about `target`, found by growing a trial run (which
/// also warms the stage up).
fn calibrate(run: &mut RunFn, target: Duration) -> u64 {
    let mut n = 1u64;
    loop {
        let t = run(n);
        if t >= target / 8 || n >= 1 << 32 {
            let scale = target.as_secs_f64() / t.as_secs_f64().max(1e-9);
            return ((n as f64 * scale).ceil() as u64).clamp(1, 1 << 36);
        }
        n *= 4;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One measured row.
pub(crate) struct Row {
    pub stage: &'static str,
    pub variant: String,
    pub bytes: usize,
    pub ns_per_packet: f64,
    pub baseline: Option<(&'static str, f64)>,
}

/// Median ns per packet of the stage and its baseline, samples alternating.
pub(crate) fn measure(stage: &mut Stage, options: &Options) -> Row {
    let target = options.sample_time();
    let n = calibrate(&mut stage.run, target);
    let nb = stage
        .baseline
        .as_mut()
        .map(|b| calibrate(&mut b.run, target));
    let packets_per_iter = stage.packets_per_iter;
    let per_packet = |d: Duration, n: u64| d.as_secs_f64() * 1e9 / (n * packets_per_iter) as f64;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..options.samples() {
        ours.push(per_packet((stage.run)(n), n));
        if let (Some(b), Some(nb)) = (stage.baseline.as_mut(), nb) {
            theirs.push(per_packet((b.run)(nb), nb));
        }
    }
    Row {
        stage: stage.name,
        variant: stage.variant.clone(),
        bytes: stage.bytes,
        ns_per_packet: median(ours),
        baseline: stage.baseline.as_ref().map(|b| (b.name, median(theirs))),
    }
}
