//! Simulcast forwarding for a selective forwarding unit (SFU).
//!
//! One [`Source`] per published video track (its simulcast SSRCs) parses each
//! incoming packet once, measures every spatial×temporal layer, keeps the
//! packet history that answers NACKs, and merges and throttles keyframe
//! requests. One [`Forwarder`] per subscriber and source picks the layers
//! that subscriber gets and rewrites each packet into the subscriber's
//! buffer so that it sees one continuous stream: one SSRC, gapless sequence
//! numbers, timestamps continuous across layers, consistent VP8 PictureID,
//! TL0PICIDX and KEYIDX. An [`Allocator`] shares one subscriber's bandwidth
//! estimate between its tracks by priority, with hysteresis.
//!
//! A [`Track`] is the glue every host would write around them, sans-IO: one
//! published track's `Source`, one `Forwarder` per subscriber (by id),
//! keyframe requests merged, subscriber NACKs/PLIs/FIRs routed by SSRC,
//! NACKs answered from the history (RFC 4588 RTX where negotiated), joins
//! started from the history without a PLI when the layer's keyframe is
//! recent, and one drain call, [`Track::poll_output`]. `Source` and
//! `Forwarder` stay usable alone.
//!
//! The fan-out costs one copy per subscriber: [`Forwarder::forward`] writes
//! the rewritten packet into the subscriber's output buffer, where SRTP
//! then protects it in place while it is still in cache; the source buffer
//! is shared (`Bytes`), never copied otherwise.
//!
//! Switching rules (the lessons of LiveKit and mediasoup):
//! - spatial: only on a keyframe of the new layer; the old layer keeps
//!   flowing until then, unless it has stopped. On the way up (or at start)
//!   a keyframe of a layer below the target is held for one frame and taken
//!   only if the target's keyframe of the same capture does not follow
//!   (simulcast encoders key every layer at once); on the way down only a
//!   layer in [target, current) is taken: a layer outside [target, current]
//!   is never forwarded;
//! - temporal: up only on a frame that starts with the layer-sync bit (or a
//!   TL0 frame), down only at a frame boundary;
//! - padding-only packets never count as a live layer, and a layer that stops
//!   sending is dropped from selection after `inactive_after_us`;
//! - keyframe requests: merged per SSRC across subscribers; unanswered ones
//!   back off (the first two a retry interval apart, then doubling from
//!   [`KEYFRAME_BACKOFF_MIN_US`] (1 s) to [`KEYFRAME_BACKOFF_MAX_US`] (2 s),
//!   as libwebrtc and mediasoup do): at most one PLI per second per layer
//!   after the first two while a request is outstanding;
//! - [`Forwarder::set_available_bitrate`] follows the estimate with the
//!   allocator's kind of hysteresis: down at once, up only to a layer whose
//!   peak rate over the last [`UPGRADE_HOLD_US`] fits with
//!   [`UPGRADE_MARGIN_PERCENT`] to spare, never within `UPGRADE_HOLD_US` of a
//!   bandwidth downgrade; [`Forwarder::poll_layers_changed`] says when to run
//!   it again.

mod allocator;
mod forwarder;
mod history;
mod keyframe;
mod layers;
mod rewrite;
mod select;
mod seqmap;
mod source;
mod track;

pub use allocator::{Allocation, Allocator, AllocatorConfig, TrackDemand};
pub use forwarder::{
    DropReason, Forwarded, Forwarder, ForwarderConfig, ForwarderStats, PauseReason,
    RetransmitError, NACK_WINDOW_US, UPGRADE_HOLD_US, UPGRADE_MARGIN_PERCENT,
};
pub use keyframe::{
    BACKOFF_MAX_US as KEYFRAME_BACKOFF_MAX_US, BACKOFF_MIN_US as KEYFRAME_BACKOFF_MIN_US,
};
pub use layers::LayerBitrates;
pub use select::select_layer;
pub use source::{Source, SourceConfig, SourceError, SourcePacket, SourceStats};
pub use track::{
    Output, RtpKind, RtxConfig, SubscriberConfig, SubscriberId, Track, TrackConfig, TrackError,
    TrackStats,
};

/// Most spatial layers (simulcast encodings) of a source.
pub const MAX_SPATIAL: usize = 3;
/// Most temporal layers (the VP8 descriptor's TID has two bits).
pub const MAX_TEMPORAL: usize = 4;
/// Largest packet history (per spatial layer of a [`Source`], per
/// [`Forwarder`]): larger `history_packets` settings are treated as this.
/// 32,768 packets is about 30 s of 720p at 8 Mbit/s.
pub const MAX_HISTORY_PACKETS: usize = 32_768;
/// Default largest RTP packet a [`Source`] accepts (an Ethernet MTU): what
/// makes its memory bound `layers × history × max_packet_len`.
pub const DEFAULT_MAX_PACKET_LEN: usize = 1500;

/// A spatial and temporal layer pair; temporal layers are cumulative
/// (temporal 2 means TID 0, 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Layer {
    pub spatial: u8,
    pub temporal: u8,
}

impl Layer {
    pub const fn new(spatial: u8, temporal: u8) -> Self {
        Self { spatial, temporal }
    }
}
