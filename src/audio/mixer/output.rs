//! What a tick produced: the payloads and, per listener, which one it
//! receives under its own RTP header.

use super::{Mixer, MAX_CSRCS};
use crate::audio::level::write_csrc_levels;
use crate::packet::{RtpBuilder, WriteError};

/// One listener's packet this tick: its header fields and which payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerPacket {
    pub participant: u32,
    pub ssrc: u32,
    pub sequence_number: u16,
    pub timestamp: u32,
    /// Index into the tick's payloads (0 is the shared mix).
    pub payload: usize,
}

/// What one tick produced: a few payloads and, per participant, which one it
/// receives under its own header. Valid until the next tick.
pub struct TickOutput<'a> {
    pub(super) mixer: &'a Mixer,
}

impl TickOutput<'_> {
    /// One entry per participant.
    pub fn packets(&self) -> &[ListenerPacket] {
        &self.mixer.outputs
    }

    /// The Opus payloads of this tick; `payloads()[0]` is the shared mix.
    pub fn payload(&self, index: usize) -> &[u8] {
        let (len, bytes) = &self.mixer.payloads[index];
        &bytes[..*len]
    }

    /// Number of distinct payloads (encodes) this tick.
    pub fn payload_count(&self) -> usize {
        self.mixer.payload_count
    }

    /// Writes `packet`'s whole RTP packet (header with the mixed speakers as
    /// CSRCs and, if configured, their RFC 6465 levels; then the payload)
    /// into `out`; returns its length. Protect it with the listener's SRTP
    /// context next: that is the one copy per listener.
    pub fn write_rtp(&self, packet: &ListenerPacket, out: &mut [u8]) -> Result<usize, WriteError> {
        let m = self.mixer;
        let mut csrcs = [0u32; MAX_CSRCS];
        let mut levels = [0u8; MAX_CSRCS];
        let mut n = 0;
        for &i in m.selector.selected() {
            let p = &m.participants[i];
            if p.id != packet.participant && n < MAX_CSRCS {
                csrcs[n] = p.ssrc;
                levels[n] = p.level;
                n += 1;
            }
        }
        let mut level_bytes = [0u8; MAX_CSRCS];
        let written = write_csrc_levels(&levels[..n], &mut level_bytes);
        let ext_storage;
        let extensions: &[(u8, &[u8])] = match m.config.csrc_levels_ext_id {
            Some(id) if written > 0 => {
                ext_storage = [(id, &level_bytes[..written])];
                &ext_storage
            }
            _ => &[],
        };
        RtpBuilder {
            marker: false,
            payload_type: m.config.payload_type,
            sequence_number: packet.sequence_number,
            timestamp: packet.timestamp,
            ssrc: packet.ssrc,
            csrcs: &csrcs[..n],
            extensions,
            payload: self.payload(packet.payload),
            padding: 0,
        }
        .write_into(out)
    }
}
