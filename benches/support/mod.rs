//! Shared by the benches: after criterion has measured, print each
//! candidate's median beside its same-run baseline as a ratio, and flag goals
//! that were missed. Ratios, not absolute times: the machines are shared.

use std::path::PathBuf;
use std::time::Duration;

mod cpu_clock;

/// Median time per iteration in nanoseconds, from criterion's saved estimates.
pub fn median_ns(group: &str, function: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir
        .join("criterion")
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    // {"mean":{...},"median":{"confidence_interval":{...},"point_estimate":123.4,...
    let median = &text[text.find("\"median\"")?..];
    let at = median.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let rest = &median[at..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

/// One comparison: `candidate` against `baseline` in `group`, with a goal
/// on the speed-up and optionally on packets per second.
pub struct Comparison<'a> {
    pub group: &'a str,
    pub candidate: &'a str,
    pub baseline: &'a str,
    pub min_speedup: f64,
    pub min_packets_per_sec: Option<f64>,
}

/// Prints a table of ratios; returns false if any goal was missed.
pub fn report(comparisons: &[Comparison<'_>]) -> bool {
    let mut all_met = true;
    println!(
        "\n{:<28} {:<30} {:>12} {:>12} {:>9} {:>8}",
        "group", "candidate / baseline", "cand. ns", "base ns", "speed-up", "goal"
    );
    for c in comparisons {
        let (Some(cand), Some(base)) = (
            median_ns(c.group, c.candidate),
            median_ns(c.group, c.baseline),
        ) else {
            println!(
                "{:<28} {} / {}: not measured in this run",
                c.group, c.candidate, c.baseline
            );
            continue;
        };
        let speedup = base / cand;
        let mpps = 1e3 / cand;
        let mut met = speedup >= c.min_speedup;
        if let Some(min) = c.min_packets_per_sec {
            met &= mpps * 1e6 >= min;
        }
        all_met &= met;
        println!(
            "{:<28} {:<30} {:>12.1} {:>12.1} {:>8.1}x {:>8} ({:.1} M/s)",
            c.group,
            format!("{} / {}", c.candidate, c.baseline),
            cand,
            base,
            speedup,
            if met { "met" } else { "MISSED" },
            mpps
        );
    }
    all_met
}

/// This thread's CPU time. The machines that run the benches are shared:
/// with wall time, every sample of a few milliseconds is stretched by
/// whatever preempts it, on both sides alike but by a different amount from
/// one sample to the next. CPU time counts only the bench's own running.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[allow(dead_code)] // used by the benches that time per tick or per packet
pub fn cpu_now() -> Duration {
    cpu_clock::clock_time(cpu_clock::CLOCK_THREAD_CPUTIME_ID)
        .expect("clock_gettime(CLOCK_THREAD_CPUTIME_ID)")
}

/// Wall time where thread CPU time is not wired up.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
#[allow(dead_code)]
pub fn cpu_now() -> Duration {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}
