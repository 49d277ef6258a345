//! Spatial switches: which keyframe may start a layer, and the numbering
//! that continues the subscriber's stream across it.
//!
//! Simulcast encoders (libvpx's, the browsers') put a keyframe on every
//! layer at the same capture instant: at start, at their keyframe interval
//! and often in answer to one PLI. The layers of one capture arrive lowest
//! first, back to back. So a keyframe of a layer *between* the current and
//! the target one (or below the target when nothing is forwarded yet) is
//! held back as a *candidate* for one frame: if the target's keyframe of the
//! same capture follows, the forwarder goes straight to the target (at most
//! the old layer's frame of that capture was already sent: one repeat);
//! only when the candidate layer's next frame (or a later capture on another
//! layer) shows that the target's keyframe is not coming does the candidate
//! become the forwarded layer, replayed from the source's history through
//! [`Forwarder::backfill`]. A down-switch takes a keyframe of a layer in
//! [target, current) at once (the target's comes first anyway); a layer
//! outside [target, current] is never forwarded.

use super::{Forwarded, Forwarder, LastSent};
use crate::packet::WriteError;
use crate::simulcast::source::{Source, SourcePacket};
use crate::simulcast::Layer;

/// Captures this close (µs, sender-report clock) are the same capture seen
/// on two layers (their reports round differently).
const SAME_CAPTURE_US: i64 = 5_000;

/// Where a layer is entered: its keyframe's first packet.
#[derive(Debug, Clone, Copy)]
pub(super) struct SwitchPoint {
    pub spatial: u8,
    pub ext_seq: u64,
    pub timestamp: u32,
    pub ext_picture_id: Option<u64>,
    pub tl0_pic_idx: Option<u8>,
    pub key_idx: Option<u8>,
    pub capture_us: Option<i64>,
    /// When the keyframe reached the forwarder.
    pub at_us: u64,
}

impl SwitchPoint {
    pub(super) fn of(pkt: &SourcePacket, now: u64) -> Self {
        let d = pkt.vp8.as_ref();
        Self {
            spatial: pkt.spatial,
            ext_seq: pkt.ext_seq,
            timestamp: pkt.timestamp,
            ext_picture_id: pkt.ext_picture_id,
            tl0_pic_idx: d.and_then(|d| d.tl0_pic_idx),
            key_idx: d.and_then(|d| d.key_idx),
            capture_us: pkt.capture_us,
            at_us: now,
        }
    }
}

/// What to do with a keyframe that is not of the current layer.
pub(super) enum KeyframeUse {
    /// Switch to its layer now.
    Switch,
    /// Hold it as the candidate (see the module docs).
    Candidate,
    Ignore,
}

impl Forwarder {
    /// How a keyframe of `spatial` may be used.
    pub(super) fn keyframe_use(&self, spatial: u8) -> KeyframeUse {
        let Some(target) = self.target else {
            return KeyframeUse::Ignore;
        };
        let t = target.spatial;
        match self.current.map(|c| c.spatial) {
            _ if spatial == t => KeyframeUse::Switch,
            // Starting, or going up: a lower layer only as a candidate.
            None if spatial < t => KeyframeUse::Candidate,
            Some(c) if c < t && spatial > c && spatial < t => KeyframeUse::Candidate,
            // Going down: anything in [target, current) at once.
            Some(c) if c > t && spatial > t && spatial < c => KeyframeUse::Switch,
            _ => KeyframeUse::Ignore,
        }
    }

    /// Keeps the higher of the held candidate and this keyframe.
    pub(super) fn hold_candidate(&mut self, pkt: &SourcePacket, now: u64) {
        if self.candidate.is_none_or(|c| c.spatial <= pkt.spatial) {
            self.candidate = Some(SwitchPoint::of(pkt, now));
        }
    }

    /// Whether `pkt` shows that the target's keyframe for the candidate's
    /// capture is not coming: the candidate layer moved on to its next
    /// frame, or another layer is at a later capture.
    pub(super) fn candidate_expired(&self, pkt: &SourcePacket) -> bool {
        let Some(c) = self.candidate else {
            return false;
        };
        if pkt.padding_only {
            return false;
        }
        if pkt.spatial == c.spatial {
            return pkt.timestamp != c.timestamp;
        }
        matches!((pkt.capture_us, c.capture_us), (Some(p), Some(k)) if p > k + SAME_CAPTURE_US)
    }

    /// Enters the held candidate: its keyframe and what followed are sent
    /// from the source's history by [`backfill`](Forwarder::backfill).
    pub(super) fn take_candidate(&mut self) {
        if let Some(c) = self.candidate.take() {
            self.switch_to(&c);
            self.backfill = Some((c.spatial, c.ext_seq));
            self.backfill_until = self.seen_ext_seq.get(usize::from(c.spatial)).copied();
        }
    }

    /// Starts from the source's history when nothing is forwarded yet (a
    /// join, or a resume) and the source still holds the target layer's last
    /// keyframe, no older than `max_age_us`, and every packet since: the
    /// keyframe request is withdrawn, and [`backfill`](Forwarder::backfill)
    /// sends that keyframe and what followed at once, rewritten. `false`: the
    /// forwarder waits for a keyframe (and asks for one) as before.
    ///
    /// The age bounds the burst (everything since the keyframe goes out at
    /// once) and the delay the subscriber's jitter buffer inherits.
    pub fn start_from_history(&mut self, source: &Source, max_age_us: u64, now: u64) -> bool {
        if self.current.is_some() || self.pause_reason().is_some() {
            return false;
        }
        let Some(target) = self.target else {
            return false;
        };
        let Some(first) = source.keyframe_in_history(target.spatial, max_age_us, now) else {
            return false;
        };
        self.history_start = Some((target.spatial, first));
        self.candidate = None;
        self.keyframe_request = None;
        true
    }

    /// Forwards the kept keyframe `first` of `spatial` (switching to it);
    /// the rest follows through `backfill`.
    pub(super) fn start_at_kept_keyframe(
        &mut self,
        source: &Source,
        spatial: u8,
        first: u64,
        out: &mut [u8],
        now: u64,
    ) -> Result<Option<usize>, WriteError> {
        let Some(pkt) = source.kept_packet(spatial, first) else {
            return Ok(None);
        };
        let until = source.highest_ext_seq(spatial);
        match self.forward(&pkt, out, now)? {
            Forwarded::Sent(n) => {
                self.backfill_until = until;
                self.backfilled_through = Some((spatial, first));
                Ok(Some(n))
            }
            Forwarded::Dropped(_) => Ok(None),
        }
    }

    /// Makes `at`'s layer the forwarded one from its keyframe on, numbering
    /// it to continue what the subscriber has seen.
    pub(super) fn switch_to(&mut self, at: &SwitchPoint) {
        let target = self.target.expect("switch only with a target");
        let down = self.current.is_some_and(|c| at.spatial < c.spatial);
        if self.current.is_some() {
            self.stats.spatial_switches += 1;
        }
        self.candidate = None;
        self.backfilled_through = None;
        self.backfill_gap = false;
        self.current = Some(Layer::new(at.spatial, target.temporal));
        self.frame_ts = None;
        self.frames = Default::default();
        self.backfill = Some((at.spatial, at.ext_seq + 1));
        self.backfill_until = None;
        match self.last {
            None => {
                // The first layer keeps its own numbering.
                self.seq.rebase(at.ext_seq, at.ext_seq);
                self.layer_first_ext_seq = at.ext_seq;
                if let Some(pid) = at.ext_picture_id {
                    self.picture_id.rebase(pid, pid);
                }
                self.ts_offset = 0;
                self.tl0_offset = 0;
                self.key_idx_offset = 0;
            }
            Some(last) => {
                // A frame cut short by the switch gets a one-number gap, so
                // the receiver sees a loss rather than a complete frame.
                // (A frame missing an earlier packet already shows a hole.)
                let cut = !last.marker;
                self.stats.cut_frames += u64::from(cut || !self.frame_out.is_complete());
                let first_out = last.ext_seq + 1 + u64::from(cut);
                self.seq.rebase(at.ext_seq, first_out);
                self.layer_first_ext_seq = first_out;
                if down {
                    self.down_switch_ext_seq = first_out;
                }
                if let Some(pid) = at.ext_picture_id {
                    self.picture_id.rebase(pid, last.ext_picture_id + 1);
                }
                let out_ts = self.timestamp_after_switch(&last, at);
                self.ts_offset = out_ts.wrapping_sub(at.timestamp);
                if let Some(tl0) = at.tl0_pic_idx {
                    self.tl0_offset = tl0.wrapping_sub(last.tl0_pic_idx.wrapping_add(1));
                }
                if let Some(k) = at.key_idx {
                    self.key_idx_offset = k.wrapping_sub(last.key_idx.wrapping_add(1)) & 0x1f;
                }
            }
        }
        if target.spatial == at.spatial {
            self.keyframe_request = None;
        }
    }

    /// The output timestamp for the first frame of a new layer: the old
    /// layer's timeline moved by the capture-time difference from the sender
    /// reports, or by the arrival-time difference when there are none or they
    /// disagree with it by more than the allowed skew; always later than the
    /// last one sent.
    fn timestamp_after_switch(&self, last: &LastSent, at: &SwitchPoint) -> u32 {
        // i128 throughout: sender-report times, clock rates and skews are
        // the publisher's or the host's, and any of them may be absurd.
        let rate = i128::from(self.config.clock_rate.max(1));
        let arrival_us = i128::from(at.at_us.saturating_sub(last.at_us));
        let elapsed_us = match (last.capture_us, at.capture_us) {
            (Some(a), Some(b))
                if (i128::from(b) - i128::from(a) - arrival_us).unsigned_abs()
                    <= u128::from(self.config.max_timestamp_skew_us) =>
            {
                i128::from(b) - i128::from(a)
            }
            _ => arrival_us,
        };
        let ticks = (elapsed_us * rate / 1_000_000).clamp(1, i128::from(i32::MAX));
        last.timestamp.wrapping_add(ticks as u32)
    }
}
