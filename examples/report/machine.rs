//! What the report knows about the machine: CPU model, logical cores, and
//! the process's CPU time.

use std::time::Duration;

#[path = "../../benches/support/cpu_clock.rs"]
mod cpu_clock;

pub(crate) fn logical_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// CPU time of the whole process so far, where it can be read: the scaling
/// rows report how many cores the run really got (a shared machine may give
/// fewer than the threads asked for).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub(crate) fn process_cpu_time() -> Option<Duration> {
    cpu_clock::clock_time(cpu_clock::CLOCK_PROCESS_CPUTIME_ID)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub(crate) fn process_cpu_time() -> Option<Duration> {
    None
}
