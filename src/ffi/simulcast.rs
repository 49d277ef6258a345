//! Simulcast forwarding from C: what the source, forwarder and allocator
//! objects share (limits, layers, pause and drop reasons). The objects are
//! in `simulcast_source.rs`, `simulcast_forwarder.rs` and
//! `simulcast_allocator.rs`: a source per published video track (fed with
//! received, decrypted RTP packets, zero-copy or copied into a recycled
//! pool), a forwarder per subscriber and source (rewrites the source's
//! current packet into the subscriber's buffer), and an allocator per
//! subscriber (shares its bandwidth estimate between its tracks).

use crate::simulcast::{DropReason, Layer, PauseReason, MAX_SPATIAL, MAX_TEMPORAL};

use super::rtm_status;

pub use super::simulcast_allocator::*;
pub use super::simulcast_forwarder::*;
pub use super::simulcast_source::*;

/// Most spatial layers (simulcast SSRCs) of a source.
pub const RTM_SIMULCAST_MAX_SPATIAL: usize = 3;
/// Most temporal layers (the VP8 descriptor's TID has two bits).
pub const RTM_SIMULCAST_MAX_TEMPORAL: usize = 4;
const _: () = assert!(RTM_SIMULCAST_MAX_SPATIAL == MAX_SPATIAL);
const _: () = assert!(RTM_SIMULCAST_MAX_TEMPORAL == MAX_TEMPORAL);

/// Most packets a source or forwarder keeps for retransmissions.
pub const RTM_SIMULCAST_MAX_HISTORY: u32 = 32_768;

/// Most tracks an allocator may be created for.
pub const RTM_ALLOCATOR_MAX_TRACKS: usize = 65_536;

/// Payload codec of a source (`rtm_source_config.codec`, `RTM_SOURCE_CODEC_*`);
/// the values are those of the jitter buffer's RTM_JITTER_VIDEO_* modes.
pub type rtm_source_codec = u8;
pub const RTM_SOURCE_CODEC_VP8: rtm_source_codec = 1;
pub const RTM_SOURCE_CODEC_H264: rtm_source_codec = 2;
/// A payload rtmedia cannot inspect: no temporal layers, no keyframes seen.
pub const RTM_SOURCE_CODEC_OPAQUE: rtm_source_codec = 3;

/// Why a forwarder sends nothing (`RTM_PAUSE_*`). Values fixed forever.
/// An integer type rather than a C enum so that any value a caller passes
/// is defined behaviour (unknown values give RTM_ERR_INVALID_ARGUMENT).
pub type rtm_pause_reason = u8;
/// Not paused.
pub const RTM_PAUSE_NONE: rtm_pause_reason = 0;
/// No layer fits the subscriber's bandwidth.
pub const RTM_PAUSE_BANDWIDTH: rtm_pause_reason = 1;
/// Paused by the host (the subscriber muted or hid the video).
pub const RTM_PAUSE_MUTED: rtm_pause_reason = 2;
/// The source has no alive layer.
pub const RTM_PAUSE_NO_FEED: rtm_pause_reason = 3;

const _: () = assert!(PauseReason::Bandwidth as u8 == RTM_PAUSE_BANDWIDTH);
const _: () = assert!(PauseReason::Muted as u8 == RTM_PAUSE_MUTED);
const _: () = assert!(PauseReason::NoFeed as u8 == RTM_PAUSE_NO_FEED);

/// Why a packet was not forwarded (`RTM_DROP_*`); also the index of
/// `rtm_forwarder_stats.dropped`. Values fixed forever.
pub type rtm_drop_reason = u8;
/// Not dropped (the packet was sent).
pub const RTM_DROP_NONE: rtm_drop_reason = 0;
/// The forwarder is paused (see `rtm_forwarder_pause_reason`).
pub const RTM_DROP_PAUSED: rtm_drop_reason = 1;
/// A spatial layer this subscriber is not on.
pub const RTM_DROP_OTHER_LAYER: rtm_drop_reason = 2;
/// A temporal layer above the one this subscriber gets.
pub const RTM_DROP_TEMPORAL_LAYER: rtm_drop_reason = 3;
/// Nothing forwarded yet: waiting for a keyframe to start from.
pub const RTM_DROP_WAITING_FOR_KEYFRAME: rtm_drop_reason = 4;
/// From before the last switch, or too old to number.
pub const RTM_DROP_LATE: rtm_drop_reason = 5;
/// Padding only (a bandwidth probe of the publisher's link).
pub const RTM_DROP_PADDING: rtm_drop_reason = 6;

/// Number of `rtm_drop_reason` values (the length of
/// `rtm_forwarder_stats.dropped`).
pub const RTM_DROP_REASONS: usize = 7;

pub(super) fn drop_code(reason: DropReason) -> rtm_drop_reason {
    match reason {
        DropReason::Paused => RTM_DROP_PAUSED,
        DropReason::OtherLayer => RTM_DROP_OTHER_LAYER,
        DropReason::TemporalLayer => RTM_DROP_TEMPORAL_LAYER,
        DropReason::WaitingForKeyframe => RTM_DROP_WAITING_FOR_KEYFRAME,
        DropReason::Late => RTM_DROP_LATE,
        DropReason::Padding => RTM_DROP_PADDING,
    }
}

/// A spatial and temporal layer pair; temporal layers are cumulative
/// (temporal 2 means TIDs 0, 1 and 2).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_layer {
    /// 0..RTM_SIMULCAST_MAX_SPATIAL (index of the SSRC in the source's list).
    pub spatial: u8,
    /// 0..RTM_SIMULCAST_MAX_TEMPORAL.
    pub temporal: u8,
}

pub(super) fn c_layer(l: Layer) -> rtm_layer {
    rtm_layer {
        spatial: l.spatial,
        temporal: l.temporal,
    }
}

/// A layer from C: RTM_ERR_INVALID_ARGUMENT when out of range.
pub(super) fn layer(spatial: u8, temporal: u8) -> Result<Layer, rtm_status> {
    if usize::from(spatial) >= MAX_SPATIAL || usize::from(temporal) >= MAX_TEMPORAL {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    Ok(Layer::new(spatial, temporal))
}

/// Measured bitrates of a source's layers, bits/s, cumulative over
/// temporal layers (`bps[s][t]` counts TIDs 0..=t of spatial layer s);
/// 0 for a layer that is not alive. Frozen (no `struct_size`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_layer_bitrates {
    pub bps: [[u64; RTM_SIMULCAST_MAX_TEMPORAL]; RTM_SIMULCAST_MAX_SPATIAL],
}
