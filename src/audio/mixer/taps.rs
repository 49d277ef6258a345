//! Per-speaker 16 kHz taps for transcription: one room-wide bounded queue
//! of frames in tick order, read all at once with [`Mixer::take_taps`].
//!
//! Every tick adds one frame per tapped participant. The queue keeps
//! [`TAP_QUEUE_TICKS`] ticks of them (1 s); a consumer that falls further
//! behind loses the oldest frames, and is told: [`Taps::dropped`] says how
//! many were lost since its previous call, and `MixerStats::tap_frames_dropped`
//! counts them all. Memory is reserved when a tapped participant joins.
//!
//! [`Mixer::take_taps`]: super::Mixer::take_taps

use std::collections::VecDeque;

use crate::audio::TAP_FRAME_SAMPLES;

/// Ticks of tap frames kept before the oldest are dropped (1 s).
pub const TAP_QUEUE_TICKS: usize = 50;

/// 16 kHz mono audio of one participant, for transcription. Samples are in
/// [-1, 1].
#[derive(Debug, Clone)]
pub struct TapFrame {
    pub participant: u32,
    /// Start of the frame on the mixer's media clock, in 16 kHz samples
    /// since the mixer started: one clock for every participant, so frames
    /// of different speakers line up (the decimator's delay is removed).
    pub media_time: i64,
    pub pcm: [f32; TAP_FRAME_SAMPLES],
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
