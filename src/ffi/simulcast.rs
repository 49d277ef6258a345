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

/// Payload codecs of a source (`rtm_source_config.codec`); the values are
/// those of the jitter buffer's RTM_JITTER_VIDEO_* kinds.
pub const RTM_SOURCE_CODEC_VP8: u8 = 1;
pub const RTM_SOURCE_CODEC_H264: u8 = 2;
/// A payload rtmedia cannot inspect: no temporal layers, no keyframes seen.
pub const RTM_SOURCE_CODEC_OPAQUE: u8 = 3;

/// Why a forwarder sends nothing. Values fixed forever.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtm_pause_reason {
    /// Not paused.
    RTM_PAUSE_NONE = 0,
    /// No layer fits the subscriber's bandwidth.
    RTM_PAUSE_BANDWIDTH = 1,
    /// Paused by the host (the subscriber muted or hid the video).
    RTM_PAUSE_MUTED = 2,
    /// The source has no alive layer.
    RTM_PAUSE_NO_FEED = 3,
}

const _: () = assert!(PauseReason::Bandwidth as u8 == rtm_pause_reason::RTM_PAUSE_BANDWIDTH as u8);
const _: () = assert!(PauseReason::Muted as u8 == rtm_pause_reason::RTM_PAUSE_MUTED as u8);
const _: () = assert!(PauseReason::NoFeed as u8 == rtm_pause_reason::RTM_PAUSE_NO_FEED as u8);

/// Why a packet was not forwarded; also the index of
/// `rtm_forwarder_stats.dropped`. Values fixed forever.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtm_drop_reason {
    /// Not dropped (the packet was sent).
    RTM_DROP_NONE = 0,
    /// The forwarder is paused (see `rtm_forwarder_pause_reason`).
    RTM_DROP_PAUSED = 1,
    /// A spatial layer this subscriber is not on.
    RTM_DROP_OTHER_LAYER = 2,
    /// A temporal layer above the one this subscriber gets.
    RTM_DROP_TEMPORAL_LAYER = 3,
    /// Nothing forwarded yet: waiting for a keyframe to start from.
    RTM_DROP_WAITING_FOR_KEYFRAME = 4,
    /// From before the last switch, or too old to number.
    RTM_DROP_LATE = 5,
    /// Padding only (a bandwidth probe of the publisher's link).
    RTM_DROP_PADDING = 6,
}

const _: () = assert!(DropReason::Paused as u8 == rtm_drop_reason::RTM_DROP_PAUSED as u8);
const _: () = assert!(DropReason::OtherLayer as u8 == rtm_drop_reason::RTM_DROP_OTHER_LAYER as u8);
const _: () =
    assert!(DropReason::TemporalLayer as u8 == rtm_drop_reason::RTM_DROP_TEMPORAL_LAYER as u8);
const _: () = assert!(
    DropReason::WaitingForKeyframe as u8 == rtm_drop_reason::RTM_DROP_WAITING_FOR_KEYFRAME as u8
);
const _: () = assert!(DropReason::Late as u8 == rtm_drop_reason::RTM_DROP_LATE as u8);
const _: () = assert!(DropReason::Padding as u8 == rtm_drop_reason::RTM_DROP_PADDING as u8);

/// Number of `rtm_drop_reason` values (the length of
/// `rtm_forwarder_stats.dropped`).
pub const RTM_DROP_REASONS: usize = 7;

pub(super) fn drop_code(reason: DropReason) -> rtm_drop_reason {
    match reason {
        DropReason::Paused => rtm_drop_reason::RTM_DROP_PAUSED,
        DropReason::OtherLayer => rtm_drop_reason::RTM_DROP_OTHER_LAYER,
        DropReason::TemporalLayer => rtm_drop_reason::RTM_DROP_TEMPORAL_LAYER,
        DropReason::WaitingForKeyframe => rtm_drop_reason::RTM_DROP_WAITING_FOR_KEYFRAME,
        DropReason::Late => rtm_drop_reason::RTM_DROP_LATE,
        DropReason::Padding => rtm_drop_reason::RTM_DROP_PADDING,
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
/// 0 for a layer that is not alive. Layout frozen for ABI version 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_layer_bitrates {
    pub bps: [[u64; RTM_SIMULCAST_MAX_TEMPORAL]; RTM_SIMULCAST_MAX_SPATIAL],
}
