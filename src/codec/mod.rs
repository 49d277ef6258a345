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
