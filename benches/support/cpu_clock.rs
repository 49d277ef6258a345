//! CPU-time clocks through `clock_gettime` (Linux, 64-bit): the benches'
//! per-thread clock (`support::cpu_now`) and the report's per-process one
//! (`examples/report/machine.rs`, which includes this file with `#[path]`).
#![allow(dead_code)] // each includer uses one clock

use std::time::Duration;

pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// The time of `clock`, or `None` if it cannot be read.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub fn clock_time(clock: i32) -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid out-pointer (an unknown clock id is an error return).
    let rc = unsafe { clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.sec as u64, ts.nsec as u32))
}
