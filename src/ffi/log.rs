//! The log callback from C (`rtm_log_set_callback`).

use core::ffi::{c_char, c_void};

use crate::log::{set_logger, Level, MAX_MESSAGE_LEN};

use super::{guard, rtm_status};

/// Severity of a log message (`RTM_LOG_*`); lower is more severe.
pub type rtm_log_level = u8;
pub const RTM_LOG_ERROR: rtm_log_level = 1;
pub const RTM_LOG_WARN: rtm_log_level = 2;
pub const RTM_LOG_INFO: rtm_log_level = 3;
pub const RTM_LOG_DEBUG: rtm_log_level = 4;

/// Receives one log message: `msg[0..len]` is UTF-8 text without a line
/// end, also NUL-terminated at `msg[len]`, valid only during the call (at
/// most 255 bytes). Called on the thread of the rtmedia call that logged,
/// inside that call: it must be quick and must not call into the object
/// that logged (any other rtmedia call is fine).
pub type rtm_log_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: rtm_log_level,
        msg: *const c_char,
        len: usize,
    ),
>;

/// The host's callback and its pointer, shared with every logging thread.
struct CLogger {
    callback: unsafe extern "C" fn(*mut c_void, rtm_log_level, *const c_char, usize),
    userdata: *mut c_void,
}

// The header states that the callback may run on any thread that calls
// into rtmedia, with this userdata.
unsafe impl Send for CLogger {}
unsafe impl Sync for CLogger {}

impl CLogger {
    fn deliver(&self, level: Level, msg: &str) {
        let mut text = [0u8; MAX_MESSAGE_LEN + 1];
        let n = msg.len().min(MAX_MESSAGE_LEN);
        text[..n].copy_from_slice(&msg.as_bytes()[..n]);
        // SAFETY: the host's callback, with a NUL-terminated copy.
        unsafe { (self.callback)(self.userdata, level as u8, text.as_ptr().cast(), n) }
    }
}

/// Sends rtmedia's diagnostics (rate-limited: an event repeating is logged
/// at its 1st, 2nd, 4th, 8th... occurrence with the count) to `callback`
/// for messages at `max_level` or more severe (`RTM_LOG_WARN` logs errors
/// and warnings). Process-wide for rtmedia only (it never installs a Rust
/// `log` logger). NULL `callback` turns logging off (the default). Set it
/// before creating objects; replacing it while other threads run rtmedia
/// calls is safe (each message goes to the old or the new callback), and
/// once this returns the old callback is never called again.
/// RTM_ERR_INVALID_ARGUMENT for a level outside RTM_LOG_ERROR..RTM_LOG_DEBUG.
/// Thread-safe.
///
/// Logged today (all `RTM_LOG_WARN`): a mixer input queue full (the mixer
/// is not ticked often enough), keyframe requests repeated without an
/// answer, an SRTP context refusing a new SSRC (`max_ssrcs` reached:
/// `rtm_srtp_remove_ssrc` streams that ended) and SRTP authentication
/// failures (wrong keys, a wrong rollover counter, forged packets). Every
/// one is also counted in its object's stats.
#[no_mangle]
pub unsafe extern "C" fn rtm_log_set_callback(
    callback: rtm_log_fn,
    userdata: *mut c_void,
    max_level: rtm_log_level,
) -> rtm_status {
    guard(|| {
        let max_level = match max_level {
            RTM_LOG_ERROR => Level::Error,
            RTM_LOG_WARN => Level::Warn,
            RTM_LOG_INFO => Level::Info,
            RTM_LOG_DEBUG => Level::Debug,
            _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
        };
        let logger = callback.map(|callback| {
            let c = CLogger { callback, userdata };
            Box::new(move |level: Level, msg: &str| c.deliver(level, msg)) as crate::log::Logger
        });
        set_logger(logger, max_level);
        Ok(())
    })
}
