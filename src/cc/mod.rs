//! Congestion control: transport-wide sequence numbers and feedback, the
//! feedback recorder a receiver runs, and the send-side bandwidth estimator a
//! sender runs per transport. Sans-IO like the rest of the crate: every call
//! that depends on time takes `now` (µs, the caller's monotonic clock).
//!
//! The wire formats (transport-cc, RFC 8888) live in [`crate::packet`]; both
//! parse into the format-neutral [`PacketResult`]s the estimator consumes.
//!
//! The estimator, [`Bwe`], one per transport:
//! - `on_sent(now, id, size, probe_cluster)` when a packet actually leaves;
//! - `on_feedback(now, results)` with any iterator of [`PacketResult`]s;
//!   unknown, duplicate and absurd entries are counted ([`BweStats`]) and
//!   ignored;
//! - `on_rtt` (RTCP RR), `on_remb` (a cap; the estimate itself for a peer
//!   without transport-wide feedback), `request_probe` (the allocator wants
//!   an upgrade);
//! - `target_bps()`, `state()`; `poll_probe(now)` drains the
//!   [`ProbeClusterRequest`]s the pacer fills; `next_wakeup()` says when
//!   `handle_timeout(now)` has work.
//!
//! Inside, one responsibility per module: `history` (send records), `delay`
//! (arrival groups, trendline, adaptive threshold, queuing delay), `acked`
//! (receive rates), `aimd` (the rate controller), `loss` (loss-based part
//! that learns random loss), `alr` (application-limited detection), `probe`
//! (probe results); `bwe` ties them together and runs the probe controller.
//!
//! The receiver side, [`recorder::FeedbackRecorder`], records arrivals and
//! writes transport-cc or RFC 8888 feedback. The sender side's
//! [`Pacer`] decides when each packet leaves (priority classes, a budget at
//! a multiple of the target, probe clusters).
//!
//! Memory is fixed at construction (about 310 KiB; 440 KiB once RFC 8888
//! ids are used, whose index is allocated at the first); nothing allocates per
//! packet or per feedback (`tests/cc_alloc.rs`). Proof against RFC 8867's
//! test cases: `tests/cc_rfc8867.rs`.

pub mod recorder;

/// Which sent packet a feedback entry speaks of.
///
/// transport-cc (draft-holmer-rmcat-transport-wide-cc-extensions-01) names
/// packets by their 16-bit transport-wide sequence number; RFC 8888 names
/// them by SSRC and RTP sequence number. The sender's history maps either
/// back to the packet it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SentPacketId {
    /// transport-cc: the transport-wide sequence number on the wire.
    TransportSeq(u16),
    /// RFC 8888: the packet's SSRC and RTP sequence number.
    Rtp { ssrc: u32, seq: u16 },
}

/// One packet's fate, as a feedback message reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketResult {
    pub id: SentPacketId,
    /// Arrival time on the receiver's clock, µs; `None` when reported not
    /// received. Only differences between arrival times mean anything: the
    /// receiver's clock has an arbitrary origin (transport-cc's reference
    /// time, RFC 8888's report timestamp).
    pub arrival_us: Option<i64>,
    /// RFC 8888's ECN bits (0..=3) when the format carries them.
    pub ecn: Option<u8>,
}

mod acked;
mod aimd;
mod alr;
pub mod budget;
mod bwe;
mod delay;
mod history;
mod loss;
pub mod pacer;
mod probe;

pub use budget::{VideoBudget, VideoBudgetConfig};
pub use bwe::{Bwe, BweConfig, BweState, BweStats, MAX_FEEDBACK_RESULTS};
pub use history::HISTORY_LEN;
pub use pacer::{PacedPacket, Pacer, PacerConfig, PacerOutput, PacerStats, PacketClass, PushError};
pub use probe::ProbeClusterRequest;
