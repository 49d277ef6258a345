//! Just enough codec payload inspection for RTP: VP8 payload descriptors
//! (RFC 7741) and H.264 keyframe detection (RFC 6184), in place, no copy.

pub mod h264;
pub mod vp8;

/// A video codec whose payloads rtmedia can inspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Vp8,
    H264,
    /// Unknown payload: frames are still assembled, keyframes are not seen.
    Opaque,
}

/// A VP8 frame's place in its temporal layers (RFC 7741: TL0PICIDX, TID
/// and the Y bit): what a receiver needs to know which frames a lost one
/// leaves decodable. A TL0 frame references only the previous TL0 frame
/// (whose TL0PICIDX is one less); a frame with `layer_sync` references
/// only the TL0 frame of its own TL0PICIDX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalLayer {
    pub tl0_pic_idx: u8,
    pub temporal_id: u8,
    pub layer_sync: bool,
}

/// What a video receiver reads from one RTP payload, in one parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PayloadInfo {
    /// See [`is_keyframe_start`].
    pub keyframe: bool,
    /// See [`starts_frame`].
    pub starts_frame: Option<bool>,
    /// VP8 with both TL0PICIDX and TID present.
    pub layer: Option<TemporalLayer>,
}

/// [`is_keyframe_start`], [`starts_frame`] and the temporal layer, parsing
/// the payload descriptor once.
pub fn inspect(codec: Codec, payload: &[u8]) -> PayloadInfo {
    match codec {
        Codec::Vp8 => match vp8::Descriptor::parse(payload) {
            Ok(d) => PayloadInfo {
                keyframe: d.keyframe,
                starts_frame: Some(d.start_of_partition && d.partition_index == 0),
                layer: match (d.tl0_pic_idx, d.temporal_id) {
                    (Some(tl0_pic_idx), Some(temporal_id)) => Some(TemporalLayer {
                        tl0_pic_idx,
                        temporal_id,
                        layer_sync: d.layer_sync,
                    }),
                    _ => None,
                },
            },
            Err(_) => PayloadInfo {
                starts_frame: (!payload.is_empty()).then_some(false),
                ..PayloadInfo::default()
            },
        },
        _ => PayloadInfo {
            keyframe: is_keyframe_start(codec, payload),
            starts_frame: starts_frame(codec, payload),
            layer: None,
        },
    }
}

/// Whether this RTP payload starts a keyframe (VP8: first packet of a key
/// frame; H.264: carries the SPS that leads an IDR, see [`h264`]).
pub fn is_keyframe_start(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => vp8::Descriptor::parse(payload).is_ok_and(|d| d.keyframe),
        Codec::H264 => h264::is_keyframe(payload),
        Codec::Opaque => false,
    }
}

/// Whether this RTP payload starts a frame, when the codec says so (VP8:
/// start of partition 0); `None` when the payload cannot tell (including an
/// empty, padding-only payload).
pub fn starts_frame(codec: Codec, payload: &[u8]) -> Option<bool> {
    if payload.is_empty() {
        return None;
    }
    match codec {
        Codec::Vp8 => Some(
            vp8::Descriptor::parse(payload)
                .is_ok_and(|d| d.start_of_partition && d.partition_index == 0),
        ),
        Codec::H264 | Codec::Opaque => None,
    }
}

/// Whether keyframes of `codec` can be told apart.
pub fn knows_keyframes(codec: Codec) -> bool {
    !matches!(codec, Codec::Opaque)
}
