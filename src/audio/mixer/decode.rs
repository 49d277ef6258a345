//! What a played frame is and its decode: shared by the mix's playout and
//! the taps that wait for retransmissions ([`tap_lane`](super::tap_lane)),
//! so that both treat packets, FEC and concealment alike.

use super::playout::Frame;
use super::taps::TapContent;
use crate::audio::level::parse_audio_level;
use crate::audio::opus_packet::{inspect, OpusPacketInfo};
use crate::audio::FRAME_SAMPLES;
use crate::packet::RtpPacket;

/// What a played packet says about itself, before any decode.
pub(super) struct PacketMeta {
    pub payload_len: usize,
    pub info: Option<OpusPacketInfo>,
    /// Speech, not DTX (keeps the playout's stream alive).
    pub speech: bool,
    /// [`TapContent::Dtx`] or [`TapContent::Audio`].
    pub content: TapContent,
    /// The sender's voice-activity decision: RFC 6464 V flag, else the Opus
    /// SILK VAD flag.
    pub stated_vad: Option<bool>,
    /// RFC 6464 level (-dBov) when extension `ext` is present.
    pub level: Option<u8>,
}

/// Reads a played packet's metadata (RFC 6464 extension id `ext`).
pub(super) fn packet_meta(packet: &[u8], ext: Option<u8>) -> PacketMeta {
    let rtp = RtpPacket::parse(packet).ok();
    let payload = rtp.as_ref().map_or(&[][..], |r| r.payload());
    let info = inspect(payload);
    let from_ext = ext.and_then(|id| rtp.as_ref()?.extension(id).and_then(parse_audio_level));
    let dtx = info.is_some_and(|i| i.dtx);
    PacketMeta {
        payload_len: payload.len(),
        info,
        speech: info.is_some_and(|i| !i.dtx),
        content: if dtx {
            TapContent::Dtx
        } else {
            TapContent::Audio
        },
        stated_vad: from_ext
            .map(|l| l.voice)
            .or(info.and_then(|i| i.voice_activity)),
        level: from_ext.map(|l| l.level),
    }
}

/// How a frame was turned into audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DecodeKind {
    /// A packet decoded.
    Packet,
    /// A lost packet rebuilt from the next one's in-band FEC.
    Fec,
    /// Concealed by libopus PLC.
    Concealed,
    /// Nothing to play.
    Nothing,
}

/// The outcome of [`decode_frame`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Decoded {
    pub kind: DecodeKind,
    /// A lost frame whose next packet was there to try its FEC.
    pub fec_attempt: bool,
    /// libopus produced the frame (`pcm` is silence otherwise).
    pub ok: bool,
}

impl Decoded {
    /// What a tap frame's samples are, given the packet's own content
    /// (audio or DTX) when one was decoded.
    pub fn content(&self, packet_content: TapContent) -> TapContent {
        match (self.ok, self.kind) {
            (false, _) | (_, DecodeKind::Nothing) => TapContent::Missing,
            (true, DecodeKind::Packet) => packet_content,
            (true, DecodeKind::Fec) => TapContent::Fec,
            (true, DecodeKind::Concealed) => TapContent::Concealed,
        }
    }
}

/// Decodes `frame` into `pcm`: the packet, the next packet's in-band FEC
/// for a lost one (when it has LBRR data), else libopus PLC.
pub(super) fn decode_frame(
    decoder: &mut opus::Decoder,
    frame: Option<&Frame>,
    pcm: &mut [f32; FRAME_SAMPLES],
) -> Decoded {
    let (kind, fec_attempt, ok) = match frame {
        Some(Frame::Packet(packet)) => {
            let ok = RtpPacket::parse(&packet[..])
                .is_ok_and(|rtp| decoder.decode_float(rtp.payload(), pcm, false).is_ok());
            (DecodeKind::Packet, false, ok)
        }
        Some(Frame::Lost(next)) => {
            let rtp = next.as_ref().and_then(|n| RtpPacket::parse(&n[..]).ok());
            let payload = rtp.as_ref().map(|r| r.payload());
            match payload.filter(|pl| inspect(pl).is_some_and(|i| i.lbrr)) {
                Some(pl) => (
                    DecodeKind::Fec,
                    true,
                    decoder.decode_float(pl, pcm, true).is_ok(),
                ),
                None => (
                    DecodeKind::Concealed,
                    payload.is_some(),
                    decoder.decode_float(&[], pcm, false).is_ok(),
                ),
            }
        }
        Some(Frame::Conceal) => (
            DecodeKind::Concealed,
            false,
            decoder.decode_float(&[], pcm, false).is_ok(),
        ),
        None => (DecodeKind::Nothing, false, false),
    };
    if !ok {
        pcm.fill(0.0);
    }
    Decoded {
        kind,
        fec_attempt,
        ok,
    }
}
