//! One participant's playout on the mixer's clock: which frame it plays at
//! each tick, and when the mixer conceals a frame on its own.
//!
//! The jitter buffer declares a packet lost only once a later packet is
//! there, so during a loss burst longer than its delay it has nothing to
//! say at the frame's playout time. The mixer does not wait: a participant
//! whose stream is live (its last frame was speech, not DTX) and whose
//! buffer holds nothing at the tick is concealed right then, with libopus
//! PLC, as a plain decoder fed the same losses would; its playout cursor
//! (the RTP timestamp it plays next) moves on one frame. When the burst
//! ends, the jitter buffer's `Lost` events (and any late packet) for frames
//! already concealed are dropped, so the talker's timing is what it was
//! before the burst. Concealment stops after [`MAX_CONCEAL_FRAMES`] (PLC has
//! faded to silence by then); the cursor keeps following the clock without
//! decoding for up to [`MAX_FOLLOW_FRAMES`], so that a talker comes back
//! from an outage of up to 10 s with its timing unchanged; after that the
//! stream counts as stopped and the next packet starts it again. Only
//! events for frames the cursor passed on its own are dropped as late: a
//! sender that restarts its timestamps further back is followed at once.
//! A stream that pauses on purpose (DTX) is neither concealed nor followed.
//!
//! Every participant plays one frame per tick, so talkers keep the offsets
//! they had. When the jitter buffer lowers its delay, frames fall due
//! faster than ticks come: that backlog is worked off by dropping frames
//! nobody hears (lost, DTX, or marked silent by the sender's VAD), one per
//! tick (`backlog_skips`), so each talker's latency comes back down in its
//! pauses; a backlog past 60 ms (a sender whose clock runs fast) is skipped
//! whatever it holds (`drift_skips`).

use bytes::Bytes;

use crate::audio::opus_packet::inspect;
use crate::jitter::{Event, JitterBuffer};
use crate::packet::RtpPacket;

/// RTP timestamp step of one 20 ms frame at 48 kHz.
pub(super) const FRAME_TS: i64 = super::super::FRAME_SAMPLES as i64;
/// Frames the mixer conceals on its own while nothing arrives (200 ms).
pub const MAX_CONCEAL_FRAMES: u32 = 10;
/// Frames the playout cursor follows the clock while nothing arrives (10 s).
pub const MAX_FOLLOW_FRAMES: u32 = 500;
/// A released event this far past due means the sender runs fast: skip.
const DRIFT_SKIP_US: u64 = 60_000;

/// What a participant plays this tick.
#[derive(Debug, Clone)]
pub(super) enum Frame {
    /// Decode this RTP packet.
    Packet(Bytes),
    /// Declared lost by the jitter buffer; the next packet if it is here
    /// (decode its in-band FEC if it has any, else conceal).
    Lost(Option<Bytes>),
    /// Nothing arrived in time: conceal (libopus PLC).
    Conceal,
}

/// Counters the playout adds to the mixer's stats.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PlayoutCounts {
    /// Events for frames already concealed by the mixer (late packets and
    /// the jitter buffer's `Lost` for them), dropped.
    pub late_frames: u64,
    /// Frames skipped to catch up with a sender running fast.
    pub drift_skips: u64,
    /// Quiet or lost frames dropped to work off a backlog.
    pub backlog_skips: u64,
}

/// Whether a frame can be dropped unheard: a lost frame, or a packet that
/// is DTX or that the sender's VAD marked silent.
fn droppable(frame: &Frame) -> bool {
    match frame {
        Frame::Lost(_) | Frame::Conceal => true,
        Frame::Packet(p) => RtpPacket::parse(&p[..])
            .ok()
            .and_then(|rtp| inspect(rtp.payload()))
            .is_some_and(|i| i.dtx || i.voice_activity == Some(false)),
    }
}

/// A participant's playout cursor.
#[derive(Debug, Clone, Default)]
pub(super) struct Playout {
    /// Extended RTP timestamp of the frame to play next, once playing.
    next_ts: Option<i64>,
    /// Frames played since the last speech packet: 0 after one, then
    /// counting the frames since; [`MAX_FOLLOW_FRAMES`] after DTX.
    since_speech: u32,
    /// Frames the cursor moved on by itself since the last event played:
    /// events that far back are the late ones for them.
    followed: u32,
    /// Extended RTP timestamp of the frame [`next`](Self::next) returned
    /// (`None` for a frame inserted while the buffer lengthens its delay,
    /// which has no timestamp of its own).
    pub played_ts: Option<i64>,
}

impl Playout {
    /// The frame of this tick at `now`.
    pub fn next(
        &mut self,
        jitter: &mut JitterBuffer,
        now: u64,
        counts: &mut PlayoutCounts,
    ) -> Option<Frame> {
        self.played_ts = None;
        let mut frame = self.take_due(jitter, now, counts);
        // A backlog (the next frame is due already: the jitter buffer
        // lowered its delay): drop this frame if nobody would miss it, one
        // per tick, so every talker's latency comes back down in its pauses.
        if frame.as_ref().is_some_and(droppable) && jitter.next_wakeup().is_some_and(|t| t <= now) {
            if let Some(next) = self.take_due(jitter, now, counts) {
                counts.backlog_skips += 1;
                frame = Some(next);
            }
        }
        // A sender running fast: skip what is far overdue.
        while jitter
            .next_wakeup()
            .is_some_and(|t| t + DRIFT_SKIP_US <= now)
        {
            match jitter.pop(now) {
                Some(Event::Packet { timestamp, .. } | Event::Lost { timestamp, .. }) => {
                    self.next_ts = Some(timestamp + FRAME_TS);
                    counts.drift_skips += 1;
                }
                Some(Event::Frame { .. }) => {}
                None => break,
            }
        }
        match frame {
            Some(Frame::Packet(p)) => Some(Frame::Packet(p)),
            Some(lost) => {
                self.since_speech = self.since_speech.saturating_add(1);
                Some(lost)
            }
            None => self.nothing_arrived(jitter),
        }
    }

    /// The next event due that is not for a frame already passed.
    fn take_due(
        &mut self,
        jitter: &mut JitterBuffer,
        now: u64,
        counts: &mut PlayoutCounts,
    ) -> Option<Frame> {
        while let Some(event) = jitter.pop(now) {
            let (ts, this) = match event {
                Event::Packet {
                    packet, timestamp, ..
                } => (timestamp, Frame::Packet(packet)),
                Event::Lost { timestamp, fec, .. } => (timestamp, Frame::Lost(fec)),
                Event::Frame { .. } => continue,
            };
            match self.next_ts {
                // A frame the mixer already concealed (or followed): drop it.
                Some(next) if ts < next && next - ts <= FRAME_TS * i64::from(self.followed) => {
                    counts.late_frames += 1;
                    continue;
                }
                // Older than anything the cursor passed on its own: the
                // sender restarted its timestamps; start again from it.
                _ => {}
            }
            self.followed = 0;
            self.next_ts = Some(ts + FRAME_TS);
            self.played_ts = Some(ts);
            return Some(this);
        }
        None
    }

    /// The packet played this tick was speech (`true`) or DTX (`false`).
    pub fn played_packet(&mut self, speech: bool) {
        self.since_speech = if speech { 0 } else { MAX_FOLLOW_FRAMES };
    }

    /// Nothing due: conceal a live stream. With nothing held at all, this
    /// frame's time has passed and the cursor moves on; with later packets
    /// held but not due, the jitter buffer is lengthening its delay and the
    /// frame is inserted (the cursor stays).
    fn nothing_arrived(&mut self, jitter: &JitterBuffer) -> Option<Frame> {
        let next = self.next_ts?;
        if self.since_speech >= MAX_FOLLOW_FRAMES {
            return None;
        }
        self.since_speech += 1;
        if self.since_speech == MAX_FOLLOW_FRAMES {
            // Stopped: whatever comes next starts the stream again.
            self.next_ts = None;
            self.followed = 0;
            return None;
        }
        if jitter.is_empty() {
            self.next_ts = Some(next + FRAME_TS);
            self.played_ts = Some(next);
            self.followed += 1;
        }
        (self.since_speech <= MAX_CONCEAL_FRAMES).then_some(Frame::Conceal)
    }
}
