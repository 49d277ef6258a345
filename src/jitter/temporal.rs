//! Which VP8 frames stay decodable when others are lost, from the temporal
//! layer fields of the payload descriptor (RFC 7741 TL0PICIDX, TID, Y), as
//! libwebrtc's VP8 reference finder reasons:
//! - a TL0 frame references only the previous TL0 frame, whose TL0PICIDX is
//!   one less: TL0PICIDX continuity proves that no TL0 frame (and so no
//!   keyframe) was lost;
//! - a frame with the layer-sync bit references only the TL0 frame of its
//!   own TL0PICIDX;
//! - any other frame of layer k may reference earlier frames of layers
//!   1..=k.
//!
//! So a lost frame above TL0 (half the frames of an L1T3 stream, the
//! non-reference ones among them) costs that frame and the frames that
//! depend on it, not a wait for its retransmission and then a keyframe
//! round trip. [`LayerChain`] is what the release path knows of the
//! decoder's references.

use crate::codec::TemporalLayer;

/// Bits 1..=k: the layers a non-sync frame of layer k may reference.
fn layers_up_to(k: u8) -> u8 {
    let all = if k >= 7 {
        u8::MAX
    } else {
        (1u8 << (k + 1)) - 1
    };
    all & !1
}

/// What the released frames left the decoder with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct LayerChain {
    /// TL0PICIDX of the last TL0 frame released, while the TL0 chain since
    /// a keyframe is intact.
    tl0: Option<u8>,
    /// Bit k (k ≥ 1): layer k's chain may be broken by a skipped frame,
    /// until its next layer-sync frame.
    broken: u8,
}

impl LayerChain {
    /// Nothing known (a keyframe wait, a reset).
    pub fn forget(&mut self) {
        *self = Self::default();
    }

    /// Whether a frame can be decoded after frames of unknown layers
    /// before it were skipped: a keyframe, the next TL0 frame, or a
    /// layer-sync frame on the last TL0 frame.
    pub fn decodable_after_skip(&self, keyframe: bool, layer: Option<TemporalLayer>) -> bool {
        if keyframe {
            return true;
        }
        let (Some(tl0), Some(l)) = (self.tl0, layer) else {
            return false;
        };
        if l.temporal_id == 0 {
            l.tl0_pic_idx == tl0.wrapping_add(1)
        } else {
            l.layer_sync && l.tl0_pic_idx == tl0
        }
    }

    /// Whether a frame that follows the released ones without a gap can be
    /// decoded: not when it may reference a layer broken by a skip.
    pub fn decodable(&self, layer: Option<TemporalLayer>) -> bool {
        match layer {
            Some(l) if l.temporal_id > 0 && !l.layer_sync => {
                self.broken & layers_up_to(l.temporal_id) == 0
            }
            _ => true,
        }
    }

    /// Frames of unknown layers were skipped: every layer above TL0 may
    /// have lost a reference.
    pub fn on_skip(&mut self) {
        self.broken = !1;
    }

    /// A frame was released to the decoder.
    pub fn on_released(&mut self, keyframe: bool, layer: Option<TemporalLayer>) {
        if keyframe {
            self.broken = 0;
        }
        match layer {
            Some(l) if l.temporal_id == 0 => self.tl0 = Some(l.tl0_pic_idx),
            Some(l) if l.layer_sync => self.broken &= !(1 << l.temporal_id.min(7)),
            Some(_) => {}
            None => self.tl0 = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(tl0: u8, tid: u8, sync: bool) -> Option<TemporalLayer> {
        Some(TemporalLayer {
            tl0_pic_idx: tl0,
            temporal_id: tid,
            layer_sync: sync,
        })
    }

    #[test]
    fn only_the_next_tl0_or_a_sync_frame_on_the_last_tl0_follows_a_skip() {
        let mut c = LayerChain::default();
        assert!(
            !c.decodable_after_skip(false, layer(5, 0, false)),
            "nothing known"
        );
        assert!(c.decodable_after_skip(true, None));
        c.on_released(true, layer(4, 0, true));
        assert!(c.decodable_after_skip(false, layer(5, 0, false)));
        assert!(
            !c.decodable_after_skip(false, layer(6, 0, false)),
            "a TL0 lost"
        );
        assert!(c.decodable_after_skip(false, layer(4, 1, true)));
        assert!(!c.decodable_after_skip(false, layer(4, 2, false)));
        assert!(
            !c.decodable_after_skip(false, layer(5, 1, true)),
            "its TL0 lost"
        );
        assert!(!c.decodable_after_skip(false, None));
        c.forget();
        assert!(!c.decodable_after_skip(false, layer(5, 0, false)));
        c.on_released(true, layer(255, 0, false));
        assert!(c.decodable_after_skip(false, layer(0, 0, false)), "wraps");
    }

    #[test]
    fn a_skip_breaks_the_upper_layers_until_their_sync_frames() {
        let mut c = LayerChain::default();
        c.on_released(true, layer(1, 0, false));
        assert!(c.decodable(layer(1, 2, false)));
        c.on_skip();
        c.on_released(false, layer(2, 0, false));
        assert!(c.decodable(layer(2, 0, false)));
        assert!(!c.decodable(layer(2, 1, false)));
        assert!(!c.decodable(layer(2, 2, false)));
        c.on_released(false, layer(2, 2, true));
        assert!(!c.decodable(layer(2, 2, false)), "layer 1 still broken");
        c.on_released(false, layer(2, 1, true));
        assert!(c.decodable(layer(2, 1, false)));
        assert!(c.decodable(layer(2, 2, false)));
        c.on_skip();
        c.on_released(true, layer(3, 0, false));
        assert!(c.decodable(layer(3, 2, false)), "a keyframe mends all");
    }
}
