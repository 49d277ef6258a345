//! rtmedia: the media core of a conferencing server, with a stable C ABI.
//!
//! Sans-IO and zero-copy: no sockets, timers or threads inside; every call
//! whose result depends on time takes `now`; packets are parsed as views over
//! the caller's buffers and rewritten in place.
//!
//! - [`packet`]: RTP/RTCP views, in-place rewriting, builders.
//! - [`srtp`]: SRTP/SRTCP protect and unprotect in place, every profile.
//! - [`jitter`]: jitter buffer for audio and video, with NACK and RTX.
//! - [`audio`]: conference audio building blocks: levels, speakers, mixing, limiter, taps.
//! - [`log`]: optional, rate-limited diagnostics through a host callback.
//! - [`codec`]: VP8 and H.264 payload inspection.
//! - [`cc`]: congestion control: transport-wide feedback, bandwidth estimation.
//! - [`simulcast`]: simulcast layer selection and forwarding for an SFU, bandwidth allocation.
//! - [`sim`] (feature `sim`): seeded network impairment for tests, benches and examples.
//! - [`ffi`] (feature `capi`): the C ABI (`include/rtmedia.h`).

pub mod audio;
pub mod cc;
pub mod codec;
#[cfg(feature = "capi")]
pub mod ffi;
pub mod jitter;
pub mod log;
pub mod packet;
#[cfg(feature = "sim")]
pub mod sim;
pub mod simulcast;
pub mod srtp;

/// The README's code blocks, compiled and run as doc tests so the quick
/// start cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
