//! Voice activity and dominant speaker identification from one audio level
//! (-dBov, RFC 6464 or [`level_dbov`](super::level::level_dbov)) per
//! participant per 20 ms frame.
//!
//! Speaker detection without hysteresis fires on chairs and mugs (LiveKit
//! PR #44). [`DominantSpeaker`] follows the idea of Volfin and Cohen's
//! dominant speaker identification (as in Jitsi): speech activity is counted
//! over an immediate, a medium and a long window, and a challenger replaces
//! the incumbent only when it beats it over all three. A cough, a knock or a
//! one-word interjection is too short for the long window, however loud.

use core::cmp::Reverse;

use super::level::{LevelMeter, SILENCE};

/// Participant identifier (an SSRC, an endpoint index: the host's choice).
pub type ParticipantId = u32;

// ------------------------------------------------------------------ VAD ---

/// Voice activity from one level per 20 ms frame.
///
/// A frame is speech when it is at least [`Vad::SPEECH_MARGIN_DB`] louder
/// than an adaptive noise floor. The floor follows quieter frames quickly and
/// louder ones slowly, so it sits at the quiet end of each participant's own
/// background: a noisy room and a studio microphone both work without a
/// fixed threshold. Three outputs, for three uses:
/// - [`is_speech`](Vad::is_speech): this frame alone.
/// - [`is_active`](Vad::is_active): on after [`Vad::ATTACK_FRAMES`] speech
///   frames, held for [`Vad::HANGOVER_FRAMES`] after the last one so that word
///   gaps do not flicker; for gating a mix and for the RFC 6464 V flag.
/// - [`is_talking`](Vad::is_talking): active, and the talk spurt has had at
///   least [`Vad::MIN_SPURT_FRAMES`] speech frames. A click or a knock
///   shorter than that never counts as talking, and gets no hangover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vad {
    /// Noise floor, -dBov (larger is quieter). Meaningless until `has_floor`.
    floor: f32,
    has_floor: bool,
    speech: bool,
    active: bool,
    /// Consecutive speech frames up to this one.
    run: u16,
    /// Consecutive frames louder than the floor by more than FLOOR_NEAR_DB.
    far: u16,
    /// Speech frames in the current talk spurt.
    spurt_speech: u16,
    /// Non-speech frames the current spurt may still last.
    hang: u16,
}

impl Vad {
    /// How much louder than the floor a speech frame is, dB. Background
    /// noise wobbles by a few dB from frame to frame; speech at a normal
    /// distance is 30–50 dB above the room, a far or quiet talker ~20.
    pub const SPEECH_MARGIN_DB: f32 = 12.0;
    /// Nothing quieter than this is speech, whatever the floor: on a line
    /// that is nearly silent (noise suppression, a muted-but-sending client)
    /// a -100 dBov rustle is 20 dB above the floor and still inaudible.
    pub const MAX_SPEECH_LEVEL: u8 = 70;
    /// Speech frames in a row before the VAD turns on (40 ms): one loud frame
    /// is too often a click or a packet-loss artefact; two still catch the
    /// first syllable.
    pub const ATTACK_FRAMES: u16 = 2;
    /// Frames the VAD stays on after the last speech frame (300 ms): gaps
    /// between words are mostly under 250 ms.
    pub const HANGOVER_FRAMES: u16 = 15;
    /// Speech frames a spurt needs to count as talking (100 ms): a syllable
    /// is 150 ms or more; clicks, knocks and keyboard hits are shorter.
    pub const MIN_SPURT_FRAMES: u16 = 5;
    /// Fraction of the distance the floor moves per frame towards a quieter
    /// frame: a syllable gap or two resets it after a noise drops.
    pub const FLOOR_FALL: f32 = 0.2;
    /// dB per frame the floor rises towards a louder frame (2.5 dB/s): a 3 s
    /// turn lifts it by a few dB, and its own gaps pull it back.
    pub const FLOOR_RISE_DB: f32 = 0.05;
    /// The rise once no frame has come within [`Vad::FLOOR_NEAR_DB`] of the
    /// floor for [`Vad::FAR_FRAMES`] (25 dB/s). Speech drops back to the
    /// room's noise between words every second or so; a fan or music
    /// switched on never does, and is learned as the new floor in ~2 s.
    pub const FLOOR_RISE_FAST_DB: f32 = 0.5;
    /// How close to the floor a frame must come to count as a return to it.
    pub const FLOOR_NEAR_DB: f32 = 6.0;
    /// Frames away from the floor after which it rises fast (1 s).
    pub const FAR_FRAMES: u16 = 50;

    pub const fn new() -> Self {
        Self {
            floor: SILENCE as f32,
            has_floor: false,
            speech: false,
            active: false,
            run: 0,
            far: 0,
            spurt_speech: 0,
            hang: 0,
        }
    }

    /// Feeds one 20 ms frame's level (-dBov) and returns [`Vad::is_active`].
    ///
    /// Digital silence (127: muted, DTX, no packet) is not speech and leaves
    /// the floor alone, so unmuting into a noisy room is not mistaken for 40
    /// dB of speech while the floor climbs back. The first other level seeds
    /// the floor and is not judged.
    pub fn update(&mut self, level: u8) -> bool {
        let level = level.min(SILENCE);
        let l = f32::from(level);
        self.speech = false;
        if level < SILENCE {
            if self.has_floor {
                self.speech =
                    level <= Self::MAX_SPEECH_LEVEL && l + Self::SPEECH_MARGIN_DB <= self.floor;
                if l + Self::FLOOR_NEAR_DB >= self.floor {
                    self.far = 0;
                } else {
                    self.far = self.far.saturating_add(1);
                }
                if l > self.floor {
                    self.floor += (l - self.floor) * Self::FLOOR_FALL;
                } else {
                    let rise = if self.far >= Self::FAR_FRAMES {
                        Self::FLOOR_RISE_FAST_DB
                    } else {
                        Self::FLOOR_RISE_DB
                    };
                    self.floor = (self.floor - rise).max(l);
                }
            } else {
                self.floor = l;
                self.has_floor = true;
            }
        }

        if self.speech {
            self.run = self.run.saturating_add(1);
            self.spurt_speech = self.spurt_speech.saturating_add(1);
            if self.active || self.run >= Self::ATTACK_FRAMES {
                self.active = true;
                self.hang = Self::HANGOVER_FRAMES;
            }
        } else {
            self.run = 0;
            if self.active && self.spurt_speech >= Self::MIN_SPURT_FRAMES && self.hang > 0 {
                self.hang -= 1;
            } else {
                self.hang = 0;
            }
            if self.hang == 0 {
                self.active = false;
                self.spurt_speech = 0;
            }
        }
        self.active
    }

    /// Whether the last frame alone was speech.
    pub fn is_speech(&self) -> bool {
        self.speech
    }

    /// Voice activity with attack and hangover.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Active in a spurt long enough to be talk rather than a click.
    pub fn is_talking(&self) -> bool {
        self.active && self.spurt_speech >= Self::MIN_SPURT_FRAMES
    }

    /// Speech frames in a row up to the last frame.
    pub fn speech_run(&self) -> u16 {
        self.run
    }

    /// The noise floor, -dBov; `None` before the first non-silent level.
    pub fn noise_floor(&self) -> Option<u8> {
        self.has_floor.then(|| self.floor.round() as u8)
    }
}

impl Default for Vad {
    fn default() -> Self {
        Self::new()
    }
}

// ------------------------------------------------------ dominant speaker ---

/// A change of dominant speaker, from [`DominantSpeaker::take_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakerChange {
    /// The `now` of the frame that decided it.
    pub now: u64,
    /// The dominant speaker named by the last change taken; `None` at the
    /// start of a room or once that participant was removed.
    pub from: Option<ParticipantId>,
    pub to: ParticipantId,
}

/// Why [`DominantSpeaker::add`] refused a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// The table is at the capacity given to [`DominantSpeaker::new`].
    Full,
    /// The id is already present.
    Duplicate,
}

impl core::fmt::Display for AddError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AddError::Full => "participant table full",
            AddError::Duplicate => "participant already present",
        })
    }
}

impl std::error::Error for AddError {}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: ParticipantId,
    used: bool,
    /// Frame number of the last level fed (a duplicate in one frame is
    /// ignored, a participant without one is fed silence).
    fed: u64,
    vad: Vad,
    meter: LevelMeter,
    /// Speech frames, bit 0 the latest: the three windows are masks of it.
    history: u64,
    /// First speech frame of the current talk spurt (while the VAD is on).
    spurt_start: Option<u64>,
    /// Latest speech frame of that spurt.
    spurt_last: u64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        id: 0,
        used: false,
        fed: 0,
        vad: Vad::new(),
        meter: LevelMeter::new(),
        history: 0,
        spurt_start: None,
        spurt_last: 0,
    };

    fn feed(&mut self, frame: u64, level: u8) {
        self.fed = frame;
        self.vad.update(level);
        self.meter.update(level);
        let speech = self.vad.is_speech();
        self.history = (self.history << 1) | u64::from(speech);
        if !self.vad.is_active() {
            self.spurt_start = None;
        } else {
            if self.spurt_start.is_none() {
                // The spurt began at the first frame of the run that turned
                // the VAD on.
                self.spurt_start = Some(frame + 1 - u64::from(self.vad.speech_run().max(1)));
            }
            if speech {
                self.spurt_last = frame;
            }
        }
    }
}

/// Speech frames among the latest `frames` of `history`.
fn count(history: u64, frames: u32) -> u32 {
    let mask = if frames >= 64 {
        u64::MAX
    } else {
        (1u64 << frames) - 1
    };
    (history & mask).count_ones()
}

/// Identifies the dominant speaker of a room, one decision per 20 ms frame.
///
/// Each participant's levels go through a [`Vad`]; its raw speech frames
/// feed three windows. A challenger replaces the incumbent (or takes an
/// empty seat) when all hold:
/// - **immediate** (last [`Self::IMMEDIATE_FRAMES`]): it has more speech
///   frames than the incumbent: it is talking now, not trailing off.
/// - **medium** (last [`Self::MEDIUM_FRAMES`]): at least
///   [`Self::MEDIUM_MIN`] speech frames, and at least twice and
///   [`Self::MEDIUM_MARGIN`] more than the incumbent's: clearly more active
///   lately, so talking over a speaker who keeps going does not win, and two
///   people talking at once do not trade the seat back and forth.
/// - **long** (its current talk spurt, at most 64 frames): the spurt spans
///   at least [`Self::MIN_SPAN_FRAMES`] from first to latest speech frame,
///   and over that same stretch it has more speech frames than the
///   incumbent.
///
/// The long window is anchored at the challenger's onset rather than fixed:
/// with a fixed window of length L both sides are compared over history
/// only the incumbent has, and a turn change waits ~L/2 for the newcomer to
/// outweigh it; anchored, the newcomer is judged on the time it has been
/// talking. Sustained speech, not loudness, decides: a cough at -10 dBov
/// weighs no more than a word at -40. Among several challengers the most
/// active over the medium window wins (then the longer spurt, the louder,
/// the lower id). When nobody talks the last speaker stays dominant.
///
/// No allocation after [`DominantSpeaker::new`]; each frame costs
/// O(levels × log capacity + participants).
#[derive(Debug, Clone)]
pub struct DominantSpeaker {
    slots: Vec<Slot>,
    /// (id, slot), sorted by id; never grows past the capacity.
    index: Vec<(ParticipantId, u32)>,
    /// Frames processed; the first frame is 1.
    frame: u64,
    current: Option<u32>,
    pending: Option<SpeakerChange>,
    /// The `to` of the last change taken.
    reported: Option<ParticipantId>,
    ignored_levels: u64,
}

impl DominantSpeaker {
    /// Immediate window, frames (100 ms).
    pub const IMMEDIATE_FRAMES: u32 = 5;
    /// Medium window, frames (400 ms): a few syllables.
    pub const MEDIUM_FRAMES: u32 = 20;
    /// Speech frames a challenger needs in the medium window (half of it): a
    /// cough or two bridged by the VAD's hangover are too sparse.
    pub const MEDIUM_MIN: u32 = 10;
    /// Speech frames by which a challenger must lead the incumbent in the
    /// medium window (100 ms), besides doubling it: the lead that matters
    /// when the incumbent has only a word or two in the window.
    pub const MEDIUM_MARGIN: u32 = 5;
    /// Span of the challenger's talk spurt, first to latest speech frame
    /// (400 ms): interjections ("yes", "sorry?", "mm-hm") are shorter and
    /// never take over, even in the incumbent's pause. A turn is decided
    /// 400 ms after it starts, later by whatever pause it is in then.
    pub const MIN_SPAN_FRAMES: u64 = 20;

    /// A detector for at most `capacity` participants at a time.
    pub fn new(capacity: usize) -> Self {
        assert!(capacity <= u32::MAX as usize, "capacity above u32::MAX");
        Self {
            slots: vec![Slot::EMPTY; capacity],
            index: Vec::with_capacity(capacity),
            frame: 0,
            current: None,
            pending: None,
            reported: None,
            ignored_levels: 0,
        }
    }

    /// Adds a participant; it starts silent, with no noise floor learned.
    pub fn add(&mut self, id: ParticipantId) -> Result<(), AddError> {
        let pos = match self.index.binary_search_by_key(&id, |&(i, _)| i) {
            Ok(_) => return Err(AddError::Duplicate),
            Err(pos) => pos,
        };
        let slot = self
            .slots
            .iter()
            .position(|s| !s.used)
            .ok_or(AddError::Full)?;
        self.slots[slot] = Slot {
            id,
            used: true,
            ..Slot::EMPTY
        };
        self.index.insert(pos, (id, slot as u32));
        Ok(())
    }

    /// Removes a participant; `false` if absent. Removing the dominant
    /// speaker clears [`current`](Self::current) without an event (the host
    /// removed it, so it knows); from the next frame, whoever qualifies
    /// against an empty seat takes over, reported as a change from `None`.
    /// A change to it not yet taken is dropped.
    pub fn remove(&mut self, id: ParticipantId) -> bool {
        let Ok(pos) = self.index.binary_search_by_key(&id, |&(i, _)| i) else {
            return false;
        };
        let (_, slot) = self.index.remove(pos);
        self.slots[slot as usize] = Slot::EMPTY;
        if self.current == Some(slot) {
            self.current = None;
        }
        if self.pending.is_some_and(|p| p.to == id) {
            self.pending = None;
        }
        if self.reported == Some(id) {
            self.reported = None;
        }
        true
    }

    /// Feeds one 20 ms frame: each participant's level (-dBov) for it. A
    /// participant without a level this frame (DTX, loss) is fed silence;
    /// unknown ids and repeated ids are ignored and counted. Call once per
    /// frame, in order; `now` only stamps the change events. The RFC 6464 V
    /// flag is not taken: senders set it by differing rules (some always),
    /// and each participant's own [`Vad`] judges the level instead.
    pub fn update<I>(&mut self, now: u64, levels: I)
    where
        I: IntoIterator<Item = (ParticipantId, u8)>,
    {
        self.frame += 1;
        let frame = self.frame;
        for (id, level) in levels {
            match self.index.binary_search_by_key(&id, |&(i, _)| i) {
                Ok(pos) => {
                    let slot = &mut self.slots[self.index[pos].1 as usize];
                    if slot.fed == frame {
                        self.ignored_levels += 1;
                    } else {
                        slot.feed(frame, level);
                    }
                }
                Err(_) => self.ignored_levels += 1,
            }
        }
        for slot in self.slots.iter_mut().filter(|s| s.used && s.fed != frame) {
            slot.feed(frame, SILENCE);
        }
        self.decide(now);
    }

    fn decide(&mut self, now: u64) {
        let frame = self.frame;
        // An empty seat is an incumbent that never speaks.
        let inc = self.current.map_or(0, |i| self.slots[i as usize].history);
        let inc_immediate = count(inc, Self::IMMEDIATE_FRAMES);
        let inc_medium = count(inc, Self::MEDIUM_FRAMES);

        // Ranked by (medium, long, louder, lower id); with the slot.
        type Rank = (u32, u32, Reverse<u8>, Reverse<ParticipantId>);
        let mut best: Option<(Rank, u32)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if !s.used || self.current == Some(i as u32) {
                continue;
            }
            let Some(start) = s.spurt_start else {
                continue;
            };
            if s.spurt_last + 1 - start < Self::MIN_SPAN_FRAMES {
                continue;
            }
            let immediate = count(s.history, Self::IMMEDIATE_FRAMES);
            if immediate <= inc_immediate {
                continue;
            }
            let medium = count(s.history, Self::MEDIUM_FRAMES);
            if medium < Self::MEDIUM_MIN
                || medium < inc_medium + Self::MEDIUM_MARGIN
                || medium < 2 * inc_medium
            {
                continue;
            }
            let window = (frame + 1 - start).min(64) as u32;
            let long = count(s.history, window);
            if long <= count(inc, window) {
                continue;
            }
            let key = (medium, long, Reverse(s.meter.level()), Reverse(s.id));
            if best.is_none_or(|(k, _)| key > k) {
                best = Some((key, i as u32));
            }
        }
        if let Some((_, slot)) = best {
            self.current = Some(slot);
            let to = self.slots[slot as usize].id;
            // Changes not yet taken merge: `from` stays what the host last
            // took, and a change back to it cancels.
            self.pending = (self.reported != Some(to)).then_some(SpeakerChange {
                now,
                from: self.reported,
                to,
            });
        }
    }

    /// The change of dominant speaker since the last call, if any.
    pub fn take_change(&mut self) -> Option<SpeakerChange> {
        let change = self.pending.take();
        if let Some(c) = change {
            self.reported = Some(c.to);
        }
        change
    }

    /// The dominant speaker.
    pub fn current(&self) -> Option<ParticipantId> {
        self.current.map(|c| self.slots[c as usize].id)
    }

    fn slot(&self, id: ParticipantId) -> Option<&Slot> {
        let pos = self.index.binary_search_by_key(&id, |&(i, _)| i).ok()?;
        Some(&self.slots[self.index[pos].1 as usize])
    }

    /// A participant's voice activity state.
    pub fn vad(&self, id: ParticipantId) -> Option<&Vad> {
        self.slot(id).map(|s| &s.vad)
    }

    /// A participant's smoothed level (-dBov), for RFC 6465 CSRC levels.
    pub fn level(&self, id: ParticipantId) -> Option<u8> {
        self.slot(id).map(|s| s.meter.level())
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Levels ignored: unknown ids, or a second level for an id in a frame.
    pub fn ignored_levels(&self) -> u64 {
        self.ignored_levels
    }
}

#[cfg(test)]
#[path = "speaker_tests.rs"]
mod tests;
