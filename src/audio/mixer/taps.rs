//! Per-speaker 16 kHz taps for transcription: one room-wide bounded queue
//! of frames in tick order, read all at once with [`Mixer::take_taps`].
//!
//! Every tick adds one frame per tapped participant. The queue keeps
//! [`TAP_QUEUE_TICKS`] ticks of them (1 s); a consumer that falls further
//! behind loses the oldest frames, and is told: [`Taps::dropped`] says how
//! many were lost since its previous call, and `MixerStats::tap_frames_dropped`
//! counts them all. Memory is reserved when a tapped participant joins.
//!
//! Each frame says whose audio it is (participant id and SSRC), where it
//! sits on the mixer's media clock and on the sender's RTP clock (so that a
//! consumer can map it to the sender's wall clock through its RTCP sender
//! reports), whether the talker was speaking, and what the samples are: the
//! talker's audio, or a gap (lost and concealed, DTX, muted, nothing
//! received) that the PCM alone cannot tell from speech or silence.
//!
//! [`Mixer::take_taps`]: super::Mixer::take_taps

use std::collections::VecDeque;

use crate::audio::TAP_FRAME_SAMPLES;

/// Ticks of tap frames kept before the oldest are dropped (1 s).
pub const TAP_QUEUE_TICKS: usize = 50;
/// A frame whose sender states no voice activity counts as speech when it
/// is louder than this (-dBov). Not the mixer's speech floor (70), which
/// lets a microphone's noise floor or a codec's decaying tail (-55 to
/// -65 dBov) into the mix, but that is not speech to a transcriber;
/// conversational speech is -15 to -35 dBov.
pub const VOICE_LEVEL_DBOV: u8 = 50;

/// What a tap frame's samples are. Anything but [`Audio`](Self::Audio) and
/// [`Fec`](Self::Fec) is a gap in what the talker said: a transcriber should
/// not put words there (a concealed frame sounds like speech but is an
/// extrapolation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum TapContent {
    /// The decoded audio of a packet that arrived in time.
    Audio = 0,
    /// A lost packet rebuilt from the next packet's in-band FEC (a lower
    /// bitrate copy of the same audio).
    Fec = 1,
    /// A lost or late packet concealed by libopus PLC: not the talker's
    /// words, an extrapolation of the previous frames that fades out.
    Concealed = 2,
    /// The sender's DTX (it stopped sending speech): comfort noise.
    Dtx = 3,
    /// The host muted the participant ([`Mixer::set_muted`]): silence, not
    /// the talker's audio (a muted participant is not transcribed).
    ///
    /// [`Mixer::set_muted`]: super::Mixer::set_muted
    Muted = 4,
    /// Nothing to play: the stream has not started, stopped, a loss
    /// outlasted concealment, or the packet could not be decoded. Silence.
    #[default]
    Missing = 5,
}

impl TapContent {
    /// Whether the samples carry what the talker said (decoded or rebuilt
    /// from FEC).
    pub fn is_talker_audio(self) -> bool {
        matches!(self, Self::Audio | Self::Fec)
    }
}

/// 16 kHz mono audio of one participant, for transcription. Samples are in
/// [-1, 1].
#[derive(Debug, Clone)]
pub struct TapFrame {
    pub participant: u32,
    /// The participant's media SSRC (as given to `add_participant`).
    pub ssrc: u32,
    /// Start of the frame on the mixer's media clock, in 16 kHz samples
    /// since the mixer started: one clock for every participant, so frames
    /// of different speakers line up (the decimator's delay is removed).
    /// For taps that wait for retransmissions
    /// ([`MixerConfig::tap_jitter`](super::MixerConfig::tap_jitter)), where
    /// the mix had the same audio (see that field).
    pub media_time: i64,
    /// The sender's RTP timestamp (48 kHz, as in its packets) of the
    /// frame's first sample: the timestamp of the packet played this tick
    /// minus the decimator's delay (3 × 17 samples). With the sender's
    /// RTCP sender reports (NTP time ↔ RTP timestamp) it gives the wall
    /// clock time at which the talker said it. `None` when the frame holds
    /// no sender audio at a known time ([`TapContent::Missing`], or a frame
    /// inserted while the jitter buffer lengthened its delay).
    pub rtp_timestamp: Option<u32>,
    /// Whether the talker was speaking: the sender's own decision when its
    /// packets state one (the RFC 6464 V flag if the mixer reads that
    /// extension, else the Opus SILK VAD flag), else a level louder than
    /// [`VOICE_LEVEL_DBOV`]. A lost (FEC or concealed) frame keeps the
    /// previous frame's decision; DTX, muted and missing frames are `false`.
    pub voice_activity: bool,
    /// The frame's level, -dBov (RFC 6464 scale: 0 loudest, 127 silence),
    /// from the extension or measured on the decoded audio.
    pub level: u8,
    /// What the samples are (talker's audio or which kind of gap).
    pub content: TapContent,
    pub pcm: [f32; TAP_FRAME_SAMPLES],
}

/// A participant's frame of this tick as its tap frame describes it,
/// filled as the tick learns it (played, decoded, muted).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TapMeta {
    /// RTP timestamp of the frame played (not yet shifted by the delay).
    pub rtp_timestamp: Option<u32>,
    pub content: TapContent,
    /// The voice activity the sender stated for this packet, if any.
    pub stated_vad: Option<bool>,
    /// The last decision, kept through losses.
    last_vad: bool,
}

impl TapMeta {
    /// A new tick: the frame played (extended timestamp) and whether the
    /// jitter buffer gave a packet to decode.
    pub fn start(&mut self, played_ts: Option<i64>) {
        self.rtp_timestamp = played_ts.map(|ts| ts as u32);
        self.content = TapContent::Missing;
        self.stated_vad = None;
    }

    /// The tap frame of this tick (PCM still silent) of participant `id`
    /// with media SSRC `ssrc`, at `media_time` (16 kHz) on the mixer's
    /// clock, for a decimator delaying by `delay` 16 kHz samples.
    pub fn frame(
        &mut self,
        id: u32,
        ssrc: u32,
        media_time: i64,
        delay: usize,
        level: u8,
    ) -> TapFrame {
        let delay = delay as i64;
        TapFrame {
            participant: id,
            ssrc,
            media_time: media_time - delay,
            rtp_timestamp: match self.content {
                TapContent::Missing => None,
                _ => self.rtp_timestamp,
            }
            .map(|ts| ts.wrapping_sub(3 * delay as u32)),
            voice_activity: self.voice_activity(level),
            level,
            content: self.content,
            pcm: [0.0; TAP_FRAME_SAMPLES],
        }
    }

    /// This tick's voice activity given its level (-dBov), remembered for
    /// the losses that may follow.
    fn voice_activity(&mut self, level: u8) -> bool {
        let vad = match self.content {
            TapContent::Audio => self.stated_vad.unwrap_or(level <= VOICE_LEVEL_DBOV),
            TapContent::Fec | TapContent::Concealed => self.last_vad,
            TapContent::Dtx | TapContent::Muted | TapContent::Missing => false,
        };
        if matches!(self.content, TapContent::Audio | TapContent::Dtx) {
            self.last_vad = vad;
        }
        vad
    }
}

/// The tap frames waiting for the consumer.
#[derive(Debug, Default)]
pub(super) struct TapQueue {
    frames: VecDeque<TapFrame>,
    /// Tapped participants in the room (frames per tick).
    tapped: usize,
    /// Frames dropped since the consumer last took them.
    unreported: u64,
    /// Frames dropped since the mixer was created.
    pub dropped: u64,
}

impl TapQueue {
    /// A tapped participant joined: room for its frames.
    pub fn add_tapped(&mut self) {
        self.tapped += 1;
        let want = self.tapped * TAP_QUEUE_TICKS;
        self.frames.reserve(want.saturating_sub(self.frames.len()));
    }

    pub fn remove_tapped(&mut self) {
        self.tapped = self.tapped.saturating_sub(1);
    }

    /// Queues a frame, dropping the oldest if the consumer fell behind.
    pub fn push(&mut self, frame: TapFrame) {
        while self.frames.len() >= (self.tapped * TAP_QUEUE_TICKS).max(1) {
            self.frames.pop_front();
            self.dropped += 1;
            self.unreported += 1;
        }
        self.frames.push_back(frame);
    }

    /// The `max` oldest waiting frames (oldest tick first); the rest stay.
    pub fn take(&mut self, max: usize) -> Taps<'_> {
        let dropped = std::mem::take(&mut self.unreported);
        let n = max.min(self.frames.len());
        Taps {
            frames: self.frames.drain(..n),
            dropped,
        }
    }

    /// The oldest waiting frame of participant `id` (a linear scan of the
    /// queue; prefer [`take`](Self::take)).
    pub fn take_one(&mut self, id: u32) -> Option<TapFrame> {
        let i = self.frames.iter().position(|f| f.participant == id)?;
        self.frames.remove(i)
    }
}

/// The tap frames taken by one call, in tick order (within a tick, in the
/// mixer's participant order). Frames not iterated are discarded when this
/// is dropped.
#[derive(Debug)]
pub struct Taps<'a> {
    frames: std::collections::vec_deque::Drain<'a, TapFrame>,
    dropped: u64,
}

impl Taps<'_> {
    /// Frames lost since the previous call because the consumer fell more
    /// than [`TAP_QUEUE_TICKS`] ticks behind: non-zero means a gap in the
    /// transcript (each frame's `media_time` says where).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames in this batch not yet iterated.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.len() == 0
    }
}

impl Iterator for Taps<'_> {
    type Item = TapFrame;

    fn next(&mut self) -> Option<TapFrame> {
        self.frames.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.frames.size_hint()
    }
}
