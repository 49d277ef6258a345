//! Checks that a VP8 receiver's decoder holds every reference of the frames
//! it is given, so a test can accept the frames a jitter buffer may skip.
//!
//! A frame follows the previous one, or (RFC 7741 temporal layers, whose
//! L1T3 references `tests/jitter_temporal.rs` checks against libvpx's
//! pictures) frames were skipped that it does not reference: it is the next
//! TL0 frame, or a layer-sync frame on the last TL0 frame, or a frame of a
//! layer no skip has touched since its last sync frame.

use rtmedia::codec::vp8::Descriptor;

#[derive(Default)]
pub struct Vp8References {
    last_pid: Option<u16>,
    /// TL0PICIDX of the last TL0 frame given.
    last_tl0: Option<u8>,
    /// The temporal layers (bit k) whose references a skipped frame may
    /// have taken.
    broken_layers: u8,
}

impl Vp8References {
    /// Records the frame `d` starts; returns why its references may be
    /// missing, if they may.
    pub fn check(&mut self, d: &Descriptor, keyframe: bool) -> Option<String> {
        let pid = d.picture_id.expect("PictureID");
        let (tl0, tid) = (d.tl0_pic_idx.unwrap_or(0), d.temporal_id.unwrap_or(0));
        let follows = self.last_pid.is_some_and(|p| (p + 1) & 0x7fff == pid);
        let upper = |k: u8| ((1u8 << (k + 1)) - 1) & !1;
        let skipped_ok = if tid == 0 {
            self.last_tl0.is_some_and(|t| t.wrapping_add(1) == tl0)
        } else if d.layer_sync {
            self.last_tl0 == Some(tl0)
        } else {
            false
        };
        let mut error = None;
        if !keyframe && !follows && !skipped_ok {
            error = Some(format!(
                "frame {pid} after {:?} without a keyframe",
                self.last_pid
            ));
        }
        if !keyframe && !follows {
            self.broken_layers = !1;
        }
        if !keyframe && tid > 0 && !d.layer_sync && self.broken_layers & upper(tid) != 0 {
            error = Some(format!(
                "frame {pid} (layer {tid}) after a skipped frame it may reference"
            ));
        }
        if keyframe {
            self.broken_layers = 0;
        }
        if tid == 0 {
            self.last_tl0 = Some(tl0);
        } else if d.layer_sync {
            self.broken_layers &= !(1 << tid);
        }
        self.last_pid = Some(pid);
        error
    }
}
