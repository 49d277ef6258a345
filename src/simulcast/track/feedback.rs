//! Feedback from subscribers, routed by the media SSRC it names: NACKs are
//! queued and answered from the source's history (RTX where negotiated),
//! PLIs and FIRs become a keyframe request on the layer that subscriber
//! gets, merged with everyone else's by the source.

use super::rtx::RTX_OVERHEAD;
use super::{Output, RtpKind, Track, TrackError};
use crate::packet::rtcp::{self, RtcpPacket};
use crate::simulcast::RetransmitError;

impl Track {
    /// A decrypted RTCP compound packet from a subscriber; answers come out
    /// of [`poll_output`](Track::poll_output). Returns how many feedback
    /// messages named one of this track's subscribers.
    pub fn push_subscriber_rtcp(&mut self, compound: &[u8]) -> usize {
        let mut used = 0;
        for packet in rtcp::compound(compound).flatten() {
            match packet {
                RtcpPacket::Nack(nack) => {
                    let Some(&i) = self.by_ssrc.get(&nack.media_ssrc()) else {
                        continue;
                    };
                    used += 1;
                    let id = self.subs[i].id;
                    for seq in nack.lost_sequence_numbers() {
                        self.stats.nacked += 1;
                        if self.nacks.len() < self.nacks.capacity() {
                            self.nacks.push_back((id, seq));
                        } else {
                            self.stats.nack_queue_full += 1;
                        }
                    }
                }
                RtcpPacket::Pli(pli) => used += usize::from(self.on_pli(pli.media_ssrc())),
                RtcpPacket::Fir(fir) => {
                    for (ssrc, _seq) in fir.entries() {
                        used += usize::from(self.on_pli(ssrc));
                    }
                }
                _ => {}
            }
        }
        used
    }

    /// A subscriber's decoder needs a keyframe: ask for one on the layer it
    /// gets (or is heading for).
    fn on_pli(&mut self, media_ssrc: u32) -> bool {
        let Some(&i) = self.by_ssrc.get(&media_ssrc) else {
            return false;
        };
        self.stats.subscriber_plis += 1;
        let fwd = &self.subs[i].fwd;
        if let Some(layer) = fwd.current_layer().or(fwd.target_layer()) {
            self.source.request_keyframe(layer.spatial);
        }
        true
    }

    /// The next NACK answer, if any is queued and can be answered.
    pub(super) fn poll_nack(
        &mut self,
        now: u64,
        buf: &mut [u8],
    ) -> Result<Option<Output>, TrackError> {
        while let Some(&(id, seq)) = self.nacks.front() {
            let Some(&i) = self.by_id.get(&id) else {
                self.nacks.pop_front();
                continue;
            };
            let sub = &mut self.subs[i];
            // Room for the OSN too, before anything moves.
            let room = buf
                .len()
                .saturating_sub(if sub.rtx.is_some() { RTX_OVERHEAD } else { 0 });
            let len = match sub
                .fwd
                .retransmit_at(&self.source, seq, now, &mut buf[..room])
            {
                Ok(len) => len,
                Err(RetransmitError::BufferTooSmall { needed }) => {
                    let needed = needed + buf.len() - room;
                    return Err(TrackError::BufferTooSmall { needed });
                }
                Err(_) => {
                    self.nacks.pop_front();
                    continue;
                }
            };
            self.nacks.pop_front();
            self.stats.retransmitted += 1;
            let (len, kind) = match &mut sub.rtx {
                Some(rtx) => {
                    self.stats.rtx_sent += 1;
                    (rtx.wrap(buf, len)?, RtpKind::Rtx)
                }
                None => (len, RtpKind::Retransmission),
            };
            return Ok(Some(Output::Rtp {
                subscriber: id,
                len,
                kind,
            }));
        }
        Ok(None)
    }
}
