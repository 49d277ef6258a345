//! The sending side of a mixer participant's input queue, used by network
//! threads: bounded in packets (`queue_capacity`) and in bytes per packet
//! (`max_packet_len`), so a participant costs at most
//! `(queue_capacity + jitter capacity) × max_packet_len` of packet memory
//! whatever it sends.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::{Sender, TrySendError};

/// Default largest RTP packet a mixer input accepts (an Ethernet MTU; an
/// Opus packet of 20 ms is at most 1,275 bytes).
pub const DEFAULT_MAX_PACKET_LEN: usize = 1500;

/// Limits and counters the mixer shares with every input handle.
#[derive(Debug)]
pub(crate) struct InputShared {
    pub max_packet_len: AtomicUsize,
    /// `MixerStats::queue_drops`.
    pub queue_drops: AtomicU64,
    /// `MixerStats::oversize_drops`.
    pub oversize_drops: AtomicU64,
}

impl Default for InputShared {
    fn default() -> Self {
        Self {
            max_packet_len: AtomicUsize::new(DEFAULT_MAX_PACKET_LEN),
            queue_drops: AtomicU64::new(0),
            oversize_drops: AtomicU64::new(0),
        }
    }
}

/// The sending side of a participant's input queue: `Clone + Send`, for the
/// network threads.
#[derive(Debug, Clone)]
pub struct ParticipantInput {
    pub(crate) tx: Sender<(Bytes, u64)>,
    pub(crate) shared: Arc<InputShared>,
}

impl ParticipantInput {
    /// Whether a packet of `len` bytes is within the mixer's
    /// `max_packet_len`; a refusal is counted in
    /// [`MixerStats::oversize_drops`](super::mixer::MixerStats::oversize_drops).
    /// A host that copies packets checks this first, so that an oversized
    /// packet is never copied.
    pub fn admits(&self, len: usize) -> bool {
        if len > self.shared.max_packet_len.load(Ordering::Relaxed) {
            self.shared.oversize_drops.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Queues an RTP packet that arrived at `now` (µs). `false` if the packet
    /// is longer than the mixer's `max_packet_len` (counted in
    /// [`MixerStats::oversize_drops`](super::mixer::MixerStats::oversize_drops)),
    /// if the queue is full (counted in
    /// [`MixerStats::queue_drops`](super::mixer::MixerStats::queue_drops)) or
    /// if the participant left (the packet is dropped).
    pub fn push(&self, packet: Bytes, now: u64) -> bool {
        if !self.admits(packet.len()) {
            return false;
        }
        match self.tx.try_send((packet, now)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                let drops = self.shared.queue_drops.fetch_add(1, Ordering::Relaxed) + 1;
                if drops.is_power_of_two() {
                    crate::log::log(
                        crate::log::Level::Warn,
                        format_args!(
                            "mixer input queue full: packet dropped ({drops} drops in this room); \
                             is the mixer ticking every 20 ms?"
                        ),
                    );
                }
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}
