//! Tests of `speaker`: scripted rooms with talk turns, coughs and interjections.
use super::*;
use crate::sim::Rng;

const FRAME_US: u64 = 20_000;

// ------------------------------------------------ synthetic levels ---

/// A room's script: `levels[p][f]` is participant `p`'s level in frame
/// `f`. Everyone starts at their own background noise.
struct Script {
    levels: Vec<Vec<u8>>,
}

impl Script {
    /// Background noise between 70 and 90 -dBov per participant, with a
    /// small wobble (σ 1.5 dB, at most ±4) from frame to frame.
    fn noise(rng: &mut Rng, participants: usize, frames: usize) -> Self {
        let levels = (0..participants)
            .map(|_| {
                let base = 70.0 + 20.0 * rng.unit();
                (0..frames)
                    .map(|_| (base + (1.5 * rng.normal()).clamp(-4.0, 4.0)).round() as u8)
                    .collect()
            })
            .collect();
        Self { levels }
    }

    fn frames(&self) -> usize {
        self.levels[0].len()
    }

    /// Speech over `[start, end)`: syllables of 150–300 ms (8–15 frames)
    /// at `base` ±4 dB with softer first and last frames, separated by
    /// gaps of 40–100 ms (2–5 frames) at the background noise.
    fn speech(&mut self, rng: &mut Rng, p: usize, start: usize, end: usize, base: u8) {
        let end = end.min(self.frames());
        let mut f = start;
        while f < end {
            let len = 8 + rng.below(8) as usize;
            self.syllable(rng, p, f, (f + len).min(end), base);
            f += len + 2 + rng.below(4) as usize;
        }
    }

    /// Speech in sentences of 1.5–2.5 s separated by pauses of 300–600 ms.
    fn sentences(&mut self, rng: &mut Rng, p: usize, start: usize, end: usize, base: u8) {
        let mut f = start;
        while f < end {
            let len = 75 + rng.below(51) as usize;
            self.speech(rng, p, f, (f + len).min(end), base);
            f += len + 15 + rng.below(16) as usize;
        }
    }

    /// One syllable (or a one-word interjection) over `[start, end)`.
    fn syllable(&mut self, rng: &mut Rng, p: usize, start: usize, end: usize, base: u8) {
        for f in start..end {
            let edge = if f == start || f + 1 == end { 8 } else { 0 };
            let jitter = rng.below(9) as u8;
            self.levels[p][f] = base + edge + jitter - 4;
        }
    }

    /// A burst (cough, knock) at 10–20 -dBov over `[start, end)`.
    fn burst(&mut self, rng: &mut Rng, p: usize, start: usize, end: usize) {
        for f in start..end.min(self.frames()) {
            self.levels[p][f] = 10 + rng.below(11) as u8;
        }
    }

    /// Background noise again over `[start, end)` (a pause).
    fn quiet(&mut self, rng: &mut Rng, p: usize, start: usize, end: usize, noise: u8) {
        for f in start..end.min(self.frames()) {
            self.levels[p][f] = noise + rng.below(5) as u8 - 2;
        }
    }

    /// Runs the script; frame `f`'s level is available (and `now` is) at
    /// the end of the frame, `(f + 1) × 20 ms`.
    fn run(&self, ds: &mut DominantSpeaker, ids: &[ParticipantId]) -> Vec<SpeakerChange> {
        let mut changes = Vec::new();
        for f in 0..self.frames() {
            let now = (f as u64 + 1) * FRAME_US;
            ds.update(now, ids.iter().zip(&self.levels).map(|(&id, l)| (id, l[f])));
            changes.extend(ds.take_change());
        }
        changes
    }
}

fn room(ids: &[ParticipantId]) -> DominantSpeaker {
    let mut ds = DominantSpeaker::new(ids.len());
    for &id in ids {
        ds.add(id).unwrap();
    }
    ds
}

/// Frames a level needs to be speech for a VAD that learned `noise`.
fn vad_after_noise(noise: u8, frames: usize) -> Vad {
    let mut vad = Vad::new();
    let mut rng = Rng::new(3);
    for _ in 0..frames {
        assert!(!vad.update(noise + rng.below(7) as u8 - 3));
    }
    vad
}

// ------------------------------------------------------------- VAD ---

#[test]
fn vad_steady_noise_is_inactive() {
    for (seed, base) in [(1, 70.0), (2, 80.0), (3, 90.0), (4, 45.0)] {
        let mut rng = Rng::new(seed);
        let mut vad = Vad::new();
        for _ in 0..3000 {
            let level = (base + (1.5 * rng.normal()).clamp(-4.0, 4.0)).round() as u8;
            vad.update(level);
            assert!(!vad.is_active() && !vad.is_speech(), "noise at {base}");
        }
        let floor = vad.noise_floor().unwrap();
        assert!(
            (base as u8..=base as u8 + 4).contains(&floor),
            "floor {floor}"
        );
    }
}

#[test]
fn vad_speech_is_active_within_two_frames() {
    let mut vad = vad_after_noise(80, 50);
    assert!(!vad.update(35), "one frame is not enough");
    assert!(vad.is_speech());
    assert!(vad.update(35), "the second frame turns it on");
    // A quieter talker, 20 dB above a noisier room.
    let mut vad = vad_after_noise(65, 50);
    vad.update(45);
    assert!(vad.update(45));
    // Too close to the floor.
    let mut vad = vad_after_noise(65, 50);
    for _ in 0..10 {
        assert!(!vad.update(56));
    }
}

#[test]
fn vad_hangover_holds_across_a_pause() {
    let mut vad = vad_after_noise(80, 50);
    for _ in 0..15 {
        vad.update(30);
    }
    assert!(vad.is_talking());
    // A 200 ms pause between words: still active, still talking.
    for _ in 0..10 {
        assert!(vad.update(80));
        assert!(vad.is_talking() && !vad.is_speech());
    }
    for _ in 0..10 {
        assert!(vad.update(30));
    }
    // After the last word the hangover lasts 300 ms, then ends.
    for _ in 0..Vad::HANGOVER_FRAMES - 1 {
        assert!(vad.update(80));
    }
    assert!(!vad.update(80));
    assert!(!vad.is_talking());
}

#[test]
fn vad_click_is_not_talk() {
    // A 60 ms click (a mug on the table): on for its last 40 ms so a mix
    // gate would not clip a real onset, but never talking and no
    // hangover: off on the first frame after it.
    let mut vad = vad_after_noise(80, 50);
    for _ in 0..3 {
        vad.update(15);
        assert!(!vad.is_talking());
    }
    assert!(!vad.update(80));
    // 100 ms is the shortest burst that counts as talk.
    for _ in 0..Vad::MIN_SPURT_FRAMES {
        vad.update(15);
    }
    assert!(vad.is_talking());
    assert!(vad.update(80), "and it gets the hangover");
}

#[test]
fn vad_learns_a_louder_noise() {
    // A fan switched on: 80 → 50 -dBov. Speech-like at first; learned
    // as the floor within a few seconds.
    let mut vad = vad_after_noise(80, 100);
    let mut rng = Rng::new(5);
    let mut last_active = 0;
    for f in 0..500 {
        if vad.update(50 + rng.below(7) as u8 - 3) {
            last_active = f;
        }
    }
    assert!(!vad.is_active());
    println!("louder noise learned after {} ms", (last_active + 1) * 20);
    assert!(last_active < 150, "active until frame {last_active}");
    assert!((50..=54).contains(&vad.noise_floor().unwrap()));
    // Speech over the fan still counts.
    vad.update(20);
    assert!(vad.update(20));
}

#[test]
fn vad_unmute_is_not_speech() {
    // Muted (digital silence, or no packets fed as 127) for 10 s, then
    // the room again: the floor did not drift to 127 meanwhile.
    let mut vad = vad_after_noise(80, 50);
    for _ in 0..500 {
        assert!(!vad.update(127));
    }
    assert!(vad.noise_floor().unwrap() >= 80);
    let mut rng = Rng::new(9);
    for _ in 0..200 {
        assert!(!vad.update(80 + rng.below(7) as u8 - 3));
    }
    // Silence from the start, then noise: the first level seeds the floor.
    let mut vad = Vad::new();
    for _ in 0..100 {
        vad.update(127);
    }
    assert_eq!(vad.noise_floor(), None);
    for _ in 0..100 {
        assert!(!vad.update(75 + rng.below(7) as u8 - 3));
    }
}

// -------------------------------------------------- dominant speaker ---

#[test]
fn turns_in_a_ten_person_room_switch_within_500_ms() {
    let ids: Vec<ParticipantId> = vec![7, 3, 42, 1000, 5, 99, 12, 64, 8, 31];
    let mut rng = Rng::new(0x5eed);
    let turns = 30;
    let mut script = Script::noise(&mut rng, ids.len(), 50 + turns * 165 + 50);
    let voices: Vec<u8> = (0..ids.len()).map(|_| 25 + rng.below(16) as u8).collect();
    // Turns of 3 s, a random next speaker each time, 0–300 ms apart.
    let mut starts = Vec::new();
    let mut speaker = 0usize;
    let mut f = 50;
    for _ in 0..turns {
        let mut next = rng.below(ids.len() as u64) as usize;
        while next == speaker && !starts.is_empty() {
            next = rng.below(ids.len() as u64) as usize;
        }
        speaker = next;
        script.speech(&mut rng, speaker, f, f + 150, voices[speaker]);
        starts.push((f, speaker));
        f += 150 + rng.below(16) as usize;
    }

    let mut ds = room(&ids);
    let changes = script.run(&mut ds, &ids);
    assert_eq!(changes.len(), turns, "one change per turn: {changes:?}");
    let mut latencies = Vec::new();
    let mut prev = None;
    for (change, &(start, speaker)) in changes.iter().zip(&starts) {
        assert_eq!(change.to, ids[speaker]);
        assert_eq!(change.from, prev);
        prev = Some(change.to);
        let latency_ms = (change.now - start as u64 * FRAME_US) / 1000;
        latencies.push(latency_ms);
        assert!(latency_ms <= 500, "{change:?}: {latency_ms} ms");
    }
    println!("time to switch per turn (ms): {latencies:?}");
    println!(
        "min {} / mean {} / max {} ms",
        latencies.iter().min().unwrap(),
        latencies.iter().sum::<u64>() / latencies.len() as u64,
        latencies.iter().max().unwrap()
    );
}

#[test]
fn coughs_and_knocks_do_not_take_over() {
    let ids: Vec<ParticipantId> = (1..=10).collect();
    for seed in 0..5 {
        let mut rng = Rng::new(100 + seed);
        let frames = 50 + 1500;
        let mut script = Script::noise(&mut rng, ids.len(), frames);
        // A talks for 30 s in sentences, pausing 300–600 ms between them.
        script.sentences(&mut rng, 0, 50, frames, 35);
        // Every 0.8–1.4 s someone else coughs (100 ms at -10..-20
        // dBov), sometimes twice (100 + 60 + 100 ms), or knocks (40 ms).
        let mut f = 60 + rng.below(20) as usize;
        let mut bursts = 0;
        while f + 20 < frames {
            let p = 1 + rng.below(9) as usize;
            match rng.below(4) {
                0 => {
                    script.burst(&mut rng, p, f, f + 5);
                    script.burst(&mut rng, p, f + 8, f + 13);
                }
                1 => script.burst(&mut rng, p, f, f + 2),
                _ => script.burst(&mut rng, p, f, f + 5),
            }
            bursts += 1;
            f += 40 + rng.below(31) as usize;
        }
        let mut ds = room(&ids);
        let changes = script.run(&mut ds, &ids);
        assert!(bursts > 20);
        assert_eq!(changes.len(), 1, "seed {seed}: {changes:?}");
        assert_eq!((changes[0].from, changes[0].to), (None, 1));
        assert_eq!(ds.current(), Some(1));
    }
}

#[test]
fn interjections_do_not_flap() {
    // A and B alternate turns of 2.5–4 s. In each turn the listener
    // interjects once or twice, 160–380 ms: half the time over the
    // talker, half the time in a pause the talker leaves for it.
    let ids: Vec<ParticipantId> = vec![10, 20];
    for seed in 0..10 {
        let mut rng = Rng::new(200 + seed);
        let turns = 10;
        let mut script = Script::noise(&mut rng, 2, 50 + turns * 200 + 50);
        let noise: Vec<u8> = script.levels.iter().map(|l| l[0]).collect();
        let mut starts = Vec::new();
        let mut f = 50;
        let mut interjections = 0;
        for t in 0..turns {
            let (talker, listener) = (t % 2, 1 - t % 2);
            let len = 125 + rng.below(76) as usize;
            script.speech(&mut rng, talker, f, f + len, 30);
            starts.push((f, talker));
            // From 0.8 s into the turn to 0.5 s before its end (the
            // listener's hangover must not bridge into its own turn).
            let mut at = f + 40 + rng.below(21) as usize;
            while at + 19 + 25 < f + len {
                let ilen = 8 + rng.below(12) as usize;
                if rng.chance(0.5) {
                    script.quiet(&mut rng, talker, at - 3, at + ilen + 5, noise[talker]);
                }
                script.syllable(&mut rng, listener, at, at + ilen, 30);
                interjections += 1;
                at += ilen + 30 + rng.below(50) as usize;
            }
            f += len;
        }
        let mut ds = room(&ids);
        let changes = script.run(&mut ds, &ids);
        assert!(interjections >= turns);
        assert_eq!(changes.len(), turns, "seed {seed}: {changes:?}");
        for (change, &(start, talker)) in changes.iter().zip(&starts) {
            assert_eq!(change.to, ids[talker], "seed {seed}");
            let latency = change.now - start as u64 * FRAME_US;
            assert!(latency <= 500_000, "seed {seed}: {change:?}");
        }
    }
}

#[test]
fn talking_at_once_does_not_flap() {
    // B talks over A for 20 s, both as loud and as dense: A keeps the
    // seat. When A stops, B takes it.
    let ids: Vec<ParticipantId> = vec![1, 2, 3];
    for seed in 0..10 {
        let mut rng = Rng::new(300 + seed);
        let mut script = Script::noise(&mut rng, 3, 50 + 1150 + 100);
        script.speech(&mut rng, 0, 50, 1150, 30);
        script.speech(&mut rng, 1, 150, 1300, 30);
        let mut ds = room(&ids);
        let changes = script.run(&mut ds, &ids);
        assert_eq!(changes.len(), 2, "seed {seed}: {changes:?}");
        assert_eq!(changes[0].to, 1);
        assert_eq!(changes[1].to, 2);
        let after_ms = (changes[1].now - 1150 * FRAME_US) / 1000;
        println!("seed {seed}: B takes over {after_ms} ms after A stops");
        assert!(after_ms <= 500, "seed {seed}: {after_ms} ms");
    }
}

#[test]
fn silence_changes_nothing() {
    let ids: Vec<ParticipantId> = (1..=10).collect();
    let mut rng = Rng::new(7);
    let script = Script::noise(&mut rng, ids.len(), 1500);
    let mut ds = room(&ids);
    assert!(script.run(&mut ds, &ids).is_empty());
    assert_eq!(ds.current(), None);
    // Digital silence, and no levels at all (DTX), likewise.
    for f in 0..500u64 {
        ds.update(f, ids.iter().map(|&id| (id, 127)));
        ds.update(f, core::iter::empty());
        assert_eq!(ds.take_change(), None);
    }
    // After someone spoke, silence keeps them dominant.
    let mut script = Script::noise(&mut rng, ids.len(), 50 + 150 + 1000);
    script.speech(&mut rng, 4, 50, 200, 30);
    let mut ds = room(&ids);
    let changes = script.run(&mut ds, &ids);
    assert_eq!(changes.len(), 1);
    assert_eq!(ds.current(), Some(5));
}

#[test]
fn removing_the_dominant_speaker() {
    let ids: Vec<ParticipantId> = vec![1, 2, 3];
    let mut rng = Rng::new(11);
    // A talks alone, then B talks over A without outweighing A.
    let mut script = Script::noise(&mut rng, 3, 400);
    script.speech(&mut rng, 0, 50, 400, 30);
    script.speech(&mut rng, 1, 200, 400, 30);
    let mut ds = room(&ids);
    let changes = script.run(&mut ds, &ids);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(ds.current(), Some(1));

    // Hands over: B is talking, and takes the empty seat on the next frame.
    let mut handover = ds.clone();
    assert!(handover.remove(1));
    assert_eq!(handover.current(), None);
    assert_eq!(handover.take_change(), None);
    handover.update(400 * FRAME_US, [(2, 30), (3, 80)]);
    let change = handover.take_change().unwrap();
    assert_eq!((change.from, change.to), (None, 2));

    // Clears: C removed while nobody else talks.
    let mut script = Script::noise(&mut rng, 3, 300);
    script.speech(&mut rng, 2, 50, 150, 30);
    let mut ds = room(&ids);
    script.run(&mut ds, &ids);
    assert_eq!(ds.current(), Some(3));
    assert!(ds.remove(3));
    assert_eq!(ds.current(), None);
    for f in 0..100 {
        ds.update(f, [(1, 80), (2, 80)]);
        assert_eq!(ds.take_change(), None);
    }
    assert!(!ds.remove(3));

    // A change to someone removed before it was taken is dropped.
    let mut script = Script::noise(&mut rng, 3, 150);
    script.speech(&mut rng, 0, 50, 150, 30);
    let mut ds = room(&ids);
    for f in 0..150 {
        ds.update(
            f as u64,
            ids.iter().zip(&script.levels).map(|(&i, l)| (i, l[f])),
        );
    }
    assert_eq!(ds.current(), Some(1));
    ds.remove(1);
    assert_eq!(ds.take_change(), None);
}

#[test]
fn participant_table() {
    let mut ds = DominantSpeaker::new(2);
    assert!(ds.is_empty());
    assert_eq!(ds.add(5), Ok(()));
    assert_eq!(ds.add(5), Err(AddError::Duplicate));
    assert_eq!(ds.add(1), Ok(()));
    assert_eq!(ds.add(9), Err(AddError::Full));
    assert_eq!((ds.len(), ds.capacity()), (2, 2));
    ds.update(0, [(5, 80), (5, 30), (77, 30), (1, 80)]);
    assert_eq!(ds.ignored_levels(), 2);
    assert_eq!(ds.level(5), Some(104));
    assert_eq!(ds.level(77), None);
    assert!(ds.vad(1).is_some_and(|v| v.noise_floor() == Some(80)));
    assert!(ds.remove(5));
    assert_eq!(ds.add(9), Ok(()));
    assert_eq!(ds.vad(9).unwrap().noise_floor(), None, "a fresh slot");
    assert!(ds.vad(5).is_none());
}
