//! Optional diagnostics for server operators: events a host wants in its
//! log (an SSRC table full, a replay flood, packets dropped at a full
//! queue, keyframe requests repeating), handed to a callback the host
//! installs. rtmedia never installs a process-wide logger (another library
//! in the same process may own the `log` facade); with no callback set a
//! log site costs one relaxed atomic load.
//!
//! Each site is rate-limited by a [`Throttle`]: it speaks at the 1st, 2nd,
//! 4th, 8th... occurrence, so a flood of a million events writes 21 lines,
//! each with the running count. Sans-IO: no clock is needed.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::RwLock;

/// Severity of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

/// Receives each message: its level and text (at most [`MAX_MESSAGE_LEN`]
/// bytes, cut at a character boundary). Runs on the thread of the call that
/// logged, inside that call: keep it short and do not call back into the
/// object that logged.
pub type Logger = Box<dyn Fn(Level, &str) + Send + Sync>;

/// Longest message text, bytes.
pub const MAX_MESSAGE_LEN: usize = 255;

static ENABLED: AtomicBool = AtomicBool::new(false);
static LOGGER: RwLock<Option<(Logger, Level)>> = parking_lot::const_rwlock(None);

/// Installs `logger` for messages at `max_level` or more severe, replacing
/// any previous one; `None` removes it. Calls logging on other threads see
/// the old or the new logger, never a torn one.
pub fn set_logger(logger: Option<Logger>, max_level: Level) {
    let mut slot = LOGGER.write();
    ENABLED.store(logger.is_some(), Ordering::Release);
    *slot = logger.map(|l| (l, max_level));
}

/// Formats and delivers one message; nothing is allocated (the text is
/// formatted on the stack).
pub(crate) fn log(level: Level, args: fmt::Arguments<'_>) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let slot = LOGGER.read();
    let Some((logger, max_level)) = slot.as_ref() else {
        return;
    };
    if level > *max_level {
        return;
    }
    let mut text = StackText::default();
    let _ = text.write_fmt(args);
    logger(level, text.as_str());
}

/// `log!(Level::Warn, throttle, "format", args...)`: logs when the
/// throttle lets this occurrence through, appending the running count.
macro_rules! log_throttled {
    ($level:expr, $throttle:expr, $($arg:tt)+) => {
        if let Some(count) = $throttle.hit() {
            $crate::log::log($level, format_args!("{} (occurrence {count})", format_args!($($arg)+)));
        }
    };
}
pub(crate) use log_throttled;

/// Counts occurrences of one event and lets the 1st, 2nd, 4th, 8th... be
/// logged. Shared by threads (atomic), so one counter may sit in an object
/// used from several threads.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    count: AtomicU64,
}

impl Throttle {
    /// Counts one occurrence; `Some(count)` when it should be logged.
    pub(crate) fn hit(&self) -> Option<u64> {
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        (ENABLED.load(Ordering::Relaxed) && count.is_power_of_two()).then_some(count)
    }
}

/// A message formatted without allocating; longer text is cut.
struct StackText {
    buf: [u8; MAX_MESSAGE_LEN],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            buf: [0; MAX_MESSAGE_LEN],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole characters are ever copied in.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_MESSAGE_LEN - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            return Err(fmt::Error);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn throttle_speaks_at_powers_of_two() {
        // The throttle answers only while a logger is installed.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        set_logger(
            Some(Box::new(move |level, msg: &str| {
                sink.lock().unwrap().push((level, msg.to_owned()))
            })),
            Level::Info,
        );
        let t = Throttle::default();
        for _ in 0..1000 {
            log_throttled!(Level::Warn, t, "queue full for {}", 7);
        }
        log(Level::Debug, format_args!("too verbose"));
        let long = "é".repeat(300);
        log(Level::Error, format_args!("{long}"));
        set_logger(None, Level::Debug);
        log(Level::Error, format_args!("after removal"));
        let seen = seen.lock().unwrap();
        let warns: Vec<_> = seen.iter().filter(|(l, _)| *l == Level::Warn).collect();
        assert_eq!(warns.len(), 10, "1, 2, 4 ... 512 of 1000");
        assert_eq!(warns[9].1, "queue full for 7 (occurrence 512)");
        assert!(seen
            .iter()
            .all(|(_, m)| m != "too verbose" && m != "after removal"));
        let cut = &seen.iter().find(|(l, _)| *l == Level::Error).unwrap().1;
        assert!(cut.len() <= MAX_MESSAGE_LEN && cut.len() >= MAX_MESSAGE_LEN - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
