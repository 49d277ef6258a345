//! What the mixer gives transcription: each tapped participant's tap
//! frames, and for taps that wait for retransmissions, the NACKs to send
//! and the round trip they are timed with. (The tap frames themselves and
//! their queue are [`taps`](super::taps); a retransmitted tap's playout is
//! [`tap_lane`](super::tap_lane).)

use super::taps::{TapContent, TapFrame, Taps};
use super::{Mixer, MixerError};
use crate::audio::level::SILENCE;

impl Mixer {
    /// Round-trip time to participant `id`'s sender (µs), for the NACK
    /// timing and the retransmission reserve of its tap
    /// ([`MixerConfig::tap_jitter`](super::MixerConfig::tap_jitter); default 100 ms until set). Take it from
    /// RTCP: the receiver reports the participant sends about the mix it
    /// receives give the round trip of the same path.
    pub fn set_rtt(&mut self, id: u32, rtt_us: u64) -> Result<(), MixerError> {
        let p = self.participant(id)?;
        p.jitter.set_rtt(rtt_us);
        if let Some(lane) = &mut p.lane {
            lane.jitter.set_rtt(rtt_us);
        }
        Ok(())
    }

    /// Extended sequence numbers of participant `id`'s packets its tap
    /// should request now (a generic NACK, RFC 4585, to its sender; the low
    /// 16 bits are the wire numbers), oldest first, into `out`; returns how
    /// many. Only taps with a retransmission reserve
    /// ([`MixerConfig::tap_jitter`](super::MixerConfig::tap_jitter)) request anything (the mix conceals
    /// instead). Nothing is recorded: call [`on_nack_sent`](Self::on_nack_sent)
    /// with those sent. Ask after every tick (or more often: a request is
    /// due a reorder wait after its gap, then every round trip).
    pub fn poll_nacks(&self, id: u32, now: u64, out: &mut [i64]) -> Result<usize, MixerError> {
        let i = self.index(id).ok_or(MixerError::UnknownParticipant)?;
        Ok(self.participants[i]
            .lane
            .as_ref()
            .map_or(0, |l| l.jitter.poll_nacks(now, out)))
    }

    /// Records that a NACK naming `seqs` (from [`poll_nacks`](Self::poll_nacks))
    /// was sent to participant `id`'s sender at `now`.
    pub fn on_nack_sent(&mut self, id: u32, now: u64, seqs: &[i64]) -> Result<(), MixerError> {
        if let Some(lane) = &mut self.participant(id)?.lane {
            lane.jitter.on_nack_sent(now, seqs);
        }
        Ok(())
    }

    /// Every tap frame not yet taken, oldest tick first: one call after each
    /// tick reads that tick's frames (one per tapped participant). If more
    /// than [`TAP_QUEUE_TICKS`](super::TAP_QUEUE_TICKS) ticks passed since the last call, the
    /// oldest were dropped and [`Taps::dropped`] says how many.
    pub fn take_taps(&mut self) -> Taps<'_> {
        self.taps.take(usize::MAX)
    }

    /// As [`take_taps`](Self::take_taps), at most `max` frames (for a
    /// caller with a fixed buffer, e.g. the C API); the rest stay queued.
    pub fn take_taps_max(&mut self, max: usize) -> Taps<'_> {
        self.taps.take(max)
    }

    /// The oldest waiting tap frame of participant `id`, if any (a scan of
    /// the room's tap queue; [`take_taps`](Self::take_taps) reads them all
    /// in one call). Drops are counted in [`MixerStats::tap_frames_dropped`](super::MixerStats::tap_frames_dropped).
    pub fn take_tap_frame(&mut self, id: u32) -> Option<TapFrame> {
        self.taps.take_one(id)
    }

    /// Feeds tapped participants' audio (silence when nothing came or the
    /// participant is muted, marked as such) to the room's tap queue,
    /// stamped on the mixer's media clock and the sender's RTP clock and
    /// kept in [-1, 1] (a decoded full-scale voice overshoots a little).
    pub(super) fn tap(&mut self) {
        let media_time_16k = self.media_time / 3;
        for p in self.participants.iter_mut() {
            let Some(decimator) = &mut p.tap else {
                continue;
            };
            // Taps that wait for retransmissions play from their own lane
            // (nothing until it has played its first frame).
            let (pcm, meta, level, media_time) = match &mut p.lane {
                Some(lane) => {
                    let Some(media) = lane.media_time_16k(self.media_time, p.mix_anchor) else {
                        continue;
                    };
                    (&mut lane.pcm, &mut lane.meta, lane.level, media)
                }
                None => {
                    if !p.decoded {
                        p.pcm.fill(0.0);
                        p.meta.content = TapContent::Missing;
                    }
                    (&mut p.pcm, &mut p.meta, p.level, media_time_16k)
                }
            };
            if p.muted {
                pcm.fill(0.0);
                meta.content = TapContent::Muted;
            }
            let level = if p.muted { SILENCE } else { level };
            let delay = decimator.delay_samples();
            let mut frame = meta.frame(p.id, p.ssrc, media_time, delay, level);
            decimator.process(pcm, &mut frame.pcm);
            // Documented in [-1, 1]: an Opus decode of a full-scale talker
            // overshoots (and garbage decodes further), and a consumer that
            // converts to 16-bit would wrap. A muted or missing frame is
            // silence, also the filter's tail of the frame before.
            let silent = matches!(frame.content, TapContent::Muted | TapContent::Missing);
            for s in &mut frame.pcm {
                *s = if silent { 0.0 } else { s.clamp(-1.0, 1.0) };
            }
            self.taps.push(frame);
        }
    }
}
