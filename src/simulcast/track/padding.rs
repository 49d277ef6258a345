//! Probe padding from the track: when the pacer asks for padding bytes
//! (a bandwidth probe with no media queued), a recent packet of the
//! subscriber's is sent again as RFC 4588 RTX (libwebrtc's "payload
//! padding"). It carries the probe's bytes like a padding-only packet, and
//! it repairs the picture if the original was lost. Only where the
//! subscriber negotiated RTX: a re-send on the media SSRC would read as a
//! duplicate, so without RTX the host sends padding-only packets.

use super::rtx::RTX_OVERHEAD;
use super::{SubscriberId, Track, TrackError};
use crate::simulcast::RetransmitError;

/// How many of the last packets sent are candidates.
const CANDIDATES: u16 = 8;

/// The (forwarded) sequence numbers of the last packets sent as padding.
/// A probe asks for more bytes than one packet; a packet among these is
/// taken again only when every candidate is, so a cluster's padding cycles
/// through the recent packets instead of repeating one (a lost packet among
/// them is repaired sooner).
#[derive(Debug, Default)]
pub(super) struct RecentPadding {
    seqs: [Option<u16>; CANDIDATES as usize],
    next: usize,
}

impl RecentPadding {
    fn contains(&self, seq: u16) -> bool {
        self.seqs.contains(&Some(seq))
    }

    fn record(&mut self, seq: u16) {
        self.seqs[self.next] = Some(seq);
        self.next = (self.next + 1) % self.seqs.len();
    }
}

fn seq_of(packet: &[u8]) -> u16 {
    u16::from_be_bytes([packet[2], packet[3]])
}

impl Track {
    /// Writes into `buf` an RTX re-send of a recent packet sent to `id`
    /// for a probe cluster's padding; returns its length. Among the last 8
    /// packets sent whose re-send is at most `bytes` long, the longest not
    /// sent as padding by the last 8 calls (else the longest): call it
    /// again with the bytes still wanted until it returns `None` (a longer
    /// re-send would overshoot the probe's rate, which the pacer counted as
    /// `bytes`). `Ok(None)`: no RTX negotiated, no recent packet short
    /// enough, or none can be rebuilt (send padding-only packets instead). The host protects and sends it as it sends
    /// [`super::Output::Rtp`] packets of kind [`super::RtpKind::Rtx`].
    /// `buf` needs the longest packet + 3 bytes, like
    /// [`Track::poll_output`]'s; when it is smaller than any candidate
    /// needs, nothing is written and the error gives the most they need.
    pub fn write_probe_padding(
        &mut self,
        id: SubscriberId,
        bytes: usize,
        buf: &mut [u8],
    ) -> Result<Option<usize>, TrackError> {
        let &i = self.by_id.get(&id).ok_or(TrackError::UnknownSubscriber)?;
        let sub = &mut self.subs[i];
        let Some(rtx) = sub.rtx.as_mut() else {
            return Ok(None);
        };
        let room = buf.len().saturating_sub(RTX_OVERHEAD);
        // (already padded, bytes short of `bytes`, back): the smallest wins.
        let mut best: Option<(bool, usize, u16)> = None;
        // The capacity every candidate needs: the answer does not depend on
        // which of them happens to fit.
        let mut too_small: Option<usize> = None;
        for back in 0..CANDIDATES {
            let len = match sub.fwd.rebuild_recent(&self.source, back, &mut buf[..room]) {
                Ok(len) => len,
                Err(RetransmitError::BufferTooSmall { needed }) => {
                    let needed = needed + RTX_OVERHEAD;
                    too_small = Some(too_small.map_or(needed, |n| n.max(needed)));
                    continue;
                }
                Err(_) => continue,
            };
            let Some(short_by) = bytes.checked_sub(len + RTX_OVERHEAD) else {
                continue;
            };
            let key = (sub.padded.contains(seq_of(buf)), short_by, back);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        if let Some(needed) = too_small {
            return Err(TrackError::BufferTooSmall { needed });
        }
        let Some((_, _, back)) = best else {
            return Ok(None);
        };
        // The candidates were written over each other: the chosen one again.
        let Ok(len) = sub.fwd.rebuild_recent(&self.source, back, &mut buf[..room]) else {
            return Ok(None);
        };
        sub.padded.record(seq_of(buf));
        let len = rtx.wrap(buf, len)?;
        self.stats.probe_padding_sent += 1;
        Ok(Some(len))
    }
}
