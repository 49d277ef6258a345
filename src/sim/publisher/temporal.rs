//! VP8 temporal scalability (L1T3) on libvpx, and the RFC 7741 packetizer
//! that signals it (TL0PICIDX, TID, Y, KEYIDX, N).
//!
//! The pattern is libwebrtc's short three-layer one, 0-2-1-2: TL0 references
//! and updates LAST; TL1 references LAST and updates GOLDEN; the first TL2
//! references LAST only and the second LAST and GOLDEN, and neither updates
//! anything. ARF is never used. So TL0 alone, TL0+TL1 and the whole stream
//! each decode, and the first TL2 and the TL1 of every period are layer sync
//! frames, which lets a forwarder switch a receiver up without a keyframe.

use bytes::Bytes;
use std::os::raw::c_int;
use vpx_sys as vpx;

use super::vp8::{EncodedFrame, Vp8Encoder, Vp8EncoderConfig};
use super::{build, CodecError};
use crate::packet::RtpBuilder;

/// Temporal layer of each frame of the period, as `ts_layer_id`.
pub const L1T3_PATTERN: [u8; 4] = [0, 2, 1, 2];

/// Share of the bitrate up to and including each temporal layer, in percent
/// (libvpx's `ts_target_bitrate` is cumulative).
const CUMULATIVE_RATE_PERCENT: [u32; 3] = [40, 60, 100];

const LAST: usize = 0;
const GOLDEN: usize = 1;

/// One position of the period: its layer and the buffers (LAST, GOLDEN) it
/// references and updates.
struct Step {
    temporal_id: u8,
    refs: [bool; 2],
    updates: [bool; 2],
}

const STEPS: [Step; 4] = [
    Step {
        temporal_id: 0,
        refs: [true, false],
        updates: [true, false],
    },
    Step {
        temporal_id: 2,
        refs: [true, false],
        updates: [false, false],
    },
    Step {
        temporal_id: 1,
        refs: [true, false],
        updates: [false, true],
    },
    Step {
        temporal_id: 2,
        refs: [true, true],
        updates: [false, false],
    },
];

impl Step {
    /// libvpx frame flags that restrict the encoder to this step's buffers.
    fn flags(&self) -> vpx::vpx_enc_frame_flags_t {
        let mut f = vpx::VP8_EFLAG_NO_REF_ARF | vpx::VP8_EFLAG_NO_UPD_ARF;
        if !self.refs[LAST] {
            f |= vpx::VP8_EFLAG_NO_REF_LAST;
        }
        if !self.refs[GOLDEN] {
            f |= vpx::VP8_EFLAG_NO_REF_GF;
        }
        if !self.updates[LAST] {
            f |= vpx::VP8_EFLAG_NO_UPD_LAST;
        }
        if !self.updates[GOLDEN] {
            f |= vpx::VP8_EFLAG_NO_UPD_GF;
        }
        if self.temporal_id > 0 {
            // A dropped upper-layer frame must not change the entropy
            // context the next frames are coded against.
            f |= vpx::VP8_EFLAG_NO_UPD_ENTROPY;
        }
        f as vpx::vpx_enc_frame_flags_t
    }
}

/// Where a frame sits in the temporal layers, as RFC 7741 signals it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalInfo {
    /// TID: 0, 1 or 2.
    pub temporal_id: u8,
    /// Y: the frame references only TL0 frames (keyframes included), so a
    /// receiver can start taking this layer here.
    pub layer_sync: bool,
    /// N: no frame references this one (TL2), so it can be dropped freely.
    pub non_reference: bool,
}

/// A [`Vp8Encoder`] with three temporal layers (L1T3, 0-2-1-2).
///
/// Keyframes restart the period, as libwebrtc does, so a keyframe is always
/// TL0. libvpx's own keyframe placement is turned off (it could land on an
/// upper layer, which a TL0-only receiver would miss); `keyframe_interval`
/// is applied here by forcing keyframes instead.
#[derive(Debug)]
pub struct Vp8TemporalEncoder {
    encoder: Vp8Encoder,
    keyframe_interval: Option<u32>,
    /// Next position in [`STEPS`].
    index: usize,
    /// Temporal id of the frame that LAST and GOLDEN hold.
    held: [u8; 2],
    since_keyframe: u32,
    started: bool,
}

impl Vp8TemporalEncoder {
    pub fn new(config: Vp8EncoderConfig) -> Result<Self, CodecError> {
        let total = config.bitrate_kbps;
        let encoder = Vp8Encoder::with_cfg(
            Vp8EncoderConfig {
                keyframe_interval: None,
                ..config
            },
            |cfg| {
                cfg.ts_number_layers = 3;
                cfg.ts_periodicity = L1T3_PATTERN.len() as u32;
                for (id, &tid) in cfg.ts_layer_id.iter_mut().zip(&L1T3_PATTERN) {
                    *id = u32::from(tid);
                }
                cfg.ts_rate_decimator[..3].copy_from_slice(&[4, 2, 1]);
                for (rate, percent) in cfg
                    .ts_target_bitrate
                    .iter_mut()
                    .zip(CUMULATIVE_RATE_PERCENT)
                {
                    *rate = (total * percent / 100).max(1);
                }
            },
        )?;
        Ok(Self {
            encoder,
            keyframe_interval: config.keyframe_interval,
            index: 0,
            held: [0; 2],
            since_keyframe: 0,
            started: false,
        })
    }

    pub fn config(&self) -> &Vp8EncoderConfig {
        self.encoder.config()
    }

    /// Bytes of an I420 picture of this size.
    pub fn picture_len(&self) -> usize {
        self.encoder.picture_len()
    }

    /// Encodes one I420 picture at the next position of the period (or as
    /// a TL0 keyframe), appends libvpx's output to `out`, and says where the
    /// frame sits in the temporal layers.
    pub fn encode(
        &mut self,
        i420: &[u8],
        force_keyframe: bool,
        out: &mut Vec<EncodedFrame>,
    ) -> Result<TemporalInfo, CodecError> {
        let due = self
            .keyframe_interval
            .is_some_and(|n| self.since_keyframe >= n.max(1));
        let force = force_keyframe || due || !self.started;
        if force {
            self.index = 0;
        }
        let step = &STEPS[self.index];
        self.encoder.control(
            vpx::vp8e_enc_control_id::VP8E_SET_TEMPORAL_LAYER_ID as c_int,
            c_int::from(step.temporal_id),
        )?;
        let flags = if force {
            // A keyframe refreshes every buffer whatever the flags say.
            vpx::VPX_EFLAG_FORCE_KF as vpx::vpx_enc_frame_flags_t
        } else {
            step.flags()
        };
        let before = out.len();
        self.encoder.encode_with_flags(i420, flags, out)?;
        self.started = true;
        if out[before..].iter().any(|f| f.keyframe) {
            self.held = [0; 2];
            self.index = 1;
            self.since_keyframe = 1;
            return Ok(TemporalInfo {
                temporal_id: 0,
                layer_sync: true,
                non_reference: false,
            });
        }
        let layer_sync = step.temporal_id > 0 && (0..2).all(|b| !step.refs[b] || self.held[b] == 0);
        for b in 0..2 {
            if step.updates[b] {
                self.held[b] = step.temporal_id;
            }
        }
        self.index = (self.index + 1) % STEPS.len();
        self.since_keyframe = self.since_keyframe.saturating_add(1);
        Ok(TemporalInfo {
            temporal_id: step.temporal_id,
            layer_sync,
            non_reference: !step.updates.iter().any(|&u| u),
        })
    }
}

/// Bytes of the descriptor written by [`Vp8TemporalPacketizer`]: X; I with
/// a 15-bit PictureID; L; T and K.
pub const VP8_TEMPORAL_DESCRIPTOR_LEN: usize = 6;

/// RFC 7741 packetizer for a temporally layered stream: every packet's
/// descriptor carries the 15-bit PictureID, TL0PICIDX, TID, Y and KEYIDX,
/// and N on non-reference frames; S=1 and PID=0 on the first packet, the
/// RTP marker on the last.
#[derive(Debug, Clone)]
pub struct Vp8TemporalPacketizer {
    pub ssrc: u32,
    pub payload_type: u8,
    /// Next RTP sequence number.
    pub sequence_number: u16,
    /// Next PictureID (15 bits).
    pub picture_id: u16,
    /// TL0PICIDX of the last TL0 frame; each TL0 frame increments it first.
    pub tl0_pic_idx: u8,
    /// KEYIDX (5 bits) of the last keyframe; each keyframe increments it.
    pub key_idx: u8,
    /// Largest RTP packet (header included).
    pub mtu: usize,
    payload: Vec<u8>,
}

impl Vp8TemporalPacketizer {
    pub fn new(
        ssrc: u32,
        payload_type: u8,
        sequence_number: u16,
        picture_id: u16,
        tl0_pic_idx: u8,
    ) -> Self {
        Self {
            ssrc,
            payload_type,
            sequence_number,
            picture_id: picture_id & 0x7fff,
            tl0_pic_idx,
            key_idx: 0,
            mtu: 1200,
            payload: Vec::new(),
        }
    }

    /// Appends the RTP packets of `frame` (stamped `timestamp`) to `out` and
    /// returns the payload octets written (for the sender report).
    pub fn packetize(
        &mut self,
        frame: &[u8],
        timestamp: u32,
        keyframe: bool,
        info: TemporalInfo,
        out: &mut Vec<Bytes>,
    ) -> usize {
        if info.temporal_id == 0 {
            self.tl0_pic_idx = self.tl0_pic_idx.wrapping_add(1);
        }
        if keyframe {
            self.key_idx = (self.key_idx + 1) & 0x1f;
        }
        let room = self
            .mtu
            .saturating_sub(12 + VP8_TEMPORAL_DESCRIPTOR_LEN)
            .max(1);
        let count = frame.len().div_ceil(room).max(1);
        let (base, extra) = (frame.len() / count, frame.len() % count);
        let pid = self.picture_id;
        let tk = (info.temporal_id & 0x03) << 6 | u8::from(info.layer_sync) << 5 | self.key_idx;
        let mut at = 0;
        let mut octets = 0;
        for i in 0..count {
            let len = base + usize::from(i < extra);
            let chunk = &frame[at..at + len];
            at += len;
            self.payload.clear();
            self.payload.extend_from_slice(&[
                0x80 | u8::from(info.non_reference) << 5 | u8::from(i == 0) << 4,
                0xf0,
                0x80 | (pid >> 8) as u8,
                pid as u8,
                self.tl0_pic_idx,
                tk,
            ]);
            self.payload.extend_from_slice(chunk);
            octets += self.payload.len();
            out.push(build(&RtpBuilder {
                marker: i + 1 == count,
                payload_type: self.payload_type,
                sequence_number: self.sequence_number,
                timestamp,
                ssrc: self.ssrc,
                payload: &self.payload,
                ..Default::default()
            }));
            self.sequence_number = self.sequence_number.wrapping_add(1);
        }
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        octets
    }
}
