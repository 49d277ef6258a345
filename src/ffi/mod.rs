//! The C ABI. This layer converts types, checks pointers and forwards to the
//! Rust API; it holds no media logic.
//!
//! Every exported body runs inside [`guard`] (or a variant), so a panic never
//! unwinds into C: it becomes `RTM_ERR_PANIC`, and a handle that panicked is
//! poisoned for good. Every pointer is checked for NULL before use.

#![allow(non_camel_case_types)]
// Each exported function documents its pointer contract in the header; the
// checks live in `args`.
#![allow(clippy::missing_safety_doc)]

mod args;
mod buffers;
pub mod bwe;
pub mod cc;
pub mod feedback_recorder;
mod handle;
pub mod jitter;
mod jitter_requests;
pub mod log;
pub mod mixer;
mod mixer_taps;
pub mod pacer;
pub mod rtcp;
pub mod rtp;
pub mod simulcast;
pub mod simulcast_allocator;
pub mod simulcast_forwarder;
pub mod simulcast_source;
pub mod srtp;
pub mod status;
pub mod track;
pub mod version;
pub mod video_budget;

pub use status::rtm_status;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body`, turning a panic into `RTM_ERR_PANIC`.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), rtm_status>) -> rtm_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => rtm_status::RTM_OK,
        Ok(Err(status)) => status,
        Err(_) => rtm_status::RTM_ERR_PANIC,
    }
}
