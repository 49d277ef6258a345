//! Loudest-N selection with hysteresis: who is mixed when more people talk
//! than the room mixes.
//!
//! Raw 20 ms levels swing by tens of dB between syllables, so ranking them
//! tick by tick swaps equally loud talkers in and out of the mix (a step in
//! the listeners' audio and extra encodes each time). Instead each
//! participant's level is smoothed twice: a meter ([`LevelMeter`]: fast
//! attack, slow release) and its average over about a second (the talker's
//! loudness), and the selection is sticky:
//!
//! - a free slot goes at once to the loudest unselected talker above the
//!   floor (this tick's raw level counts, so no onset is lost);
//! - a selected talker keeps its slot while its smoothed level stays above
//!   the floor (it is dropped once it has been quiet long enough for its
//!   meter to fall through the floor, or at once when muted or removed);
//! - a newcomer takes the slot of the quietest selected talker only if it
//!   is *clearly* louder (its meter [`CLEAR_MARGIN_DB`] above both that
//!   talker's meter and its average), or if that talker has held its slot
//!   for [`MIN_HOLD_TICKS`] and the newcomer's average is louder by
//!   [`SWAP_MARGIN_DB`]. At most one swap per tick.
//!
//! Equally loud talkers therefore keep the slots they have; a clearly louder
//! voice still gets in within a tick or two of starting.

use super::level::{LevelMeter, SILENCE};

/// How much louder (dB) a newcomer must be to take a slot at once.
pub const CLEAR_MARGIN_DB: u8 = 10;
/// Ticks (20 ms) a selected talker keeps its slot against a newcomer that
/// is louder but not clearly so: 1 s.
pub const MIN_HOLD_TICKS: u32 = 50;
/// How much louder (average) a newcomer must be to replace a talker held
/// that long.
pub const SWAP_MARGIN_DB: f32 = 3.0;
/// Weight of the newest meter reading in the average (a 1 s time constant).
const AVERAGE_WEIGHT: f32 = 1.0 / 50.0;

/// The sticky loudest-N selection of one room (indexes are the mixer's
/// participant indexes).
#[derive(Debug, Clone)]
pub struct Selector {
    n: usize,
    meters: Vec<LevelMeter>,
    /// Each meter's running average, -dBov.
    averages: Vec<f32>,
    /// This tick's raw levels.
    raw: Vec<u8>,
    /// Selected participants and the ticks each has held its slot.
    selected: Vec<(usize, u32)>,
    /// The selection as plain indexes, for the mixer.
    indexes: Vec<usize>,
}

impl Selector {
    /// Mixes at most `n` talkers; room for `capacity` participants.
    pub fn new(n: usize, capacity: usize) -> Self {
        let n = n.min(capacity).max(1);
        Self {
            n,
            meters: Vec::with_capacity(capacity),
            averages: Vec::with_capacity(capacity),
            raw: Vec::with_capacity(capacity),
            selected: Vec::with_capacity(n),
            indexes: Vec::with_capacity(n),
        }
    }

    /// A participant joined at the next index.
    pub fn add(&mut self) {
        self.meters.push(LevelMeter::new());
        self.averages.push(f32::from(SILENCE));
        self.raw.push(SILENCE);
    }

    /// Participant `i` left; the last one moved to `i` (as `Vec::swap_remove`).
    pub fn swap_remove(&mut self, i: usize) {
        let last = self.meters.len() - 1;
        self.meters.swap_remove(i);
        self.averages.swap_remove(i);
        self.raw.swap_remove(i);
        self.selected.retain(|&(s, _)| s != i);
        for (s, _) in &mut self.selected {
            if *s == last {
                *s = i;
            }
        }
        self.sync_indexes();
    }

    /// Participant `i` is muted: its meter empties and it leaves the mix now.
    pub fn silence(&mut self, i: usize) {
        self.meters[i] = LevelMeter::new();
        self.averages[i] = f32::from(SILENCE);
        self.raw[i] = SILENCE;
        self.selected.retain(|&(s, _)| s != i);
        self.sync_indexes();
    }

    /// Whether participant `i` is in the current selection.
    pub fn is_selected(&self, i: usize) -> bool {
        self.selected.iter().any(|&(s, _)| s == i)
    }

    /// The current selection.
    pub fn selected(&self) -> &[usize] {
        &self.indexes
    }

    /// Smoothed level of participant `i`, -dBov.
    pub fn smoothed(&self, i: usize) -> u8 {
        self.meters[i].level()
    }

    /// Feeds this tick's levels (-dBov, one per participant; muted ones as
    /// silence) and updates the selection. `floor`: quieter than `-floor`
    /// dBov is not speech.
    pub fn update(&mut self, levels: &[u8], floor: u8) -> &[usize] {
        for (((m, a), r), &l) in self
            .meters
            .iter_mut()
            .zip(&mut self.averages)
            .zip(&mut self.raw)
            .zip(levels)
        {
            let now = f32::from(m.update(l));
            *a += (now - *a) * AVERAGE_WEIGHT;
            *r = l;
        }
        let (meters, raw) = (&self.meters, &self.raw);
        let talking = |i: usize| meters[i].level().min(raw[i]) <= floor;
        self.selected.retain(|&(s, _)| talking(s));
        for (_, held) in &mut self.selected {
            *held = held.saturating_add(1);
        }
        // Free slots: the loudest unselected talkers, one pass per slot
        // (n is small: the loudest 3 or so).
        while self.selected.len() < self.n {
            match self.loudest_unselected(floor) {
                Some(c) => self.selected.push((c, 0)),
                None => break,
            }
        }
        // Full: maybe one swap against the quietest selected.
        if self.selected.len() == self.n {
            if let Some(c) = self.loudest_unselected(floor) {
                let (k, &(s, held)) = self
                    .selected
                    .iter()
                    .enumerate()
                    .max_by_key(|&(_, &(s, _))| self.meters[s].level())
                    .expect("n ≥ 1");
                let (lc, ls) = (self.meters[c].level(), self.meters[s].level());
                let (ac, as_) = (self.averages[c], self.averages[s]);
                let clear = f32::from(lc) + f32::from(CLEAR_MARGIN_DB);
                let clearly = clear <= f32::from(ls) && clear <= as_;
                let after_hold = held >= MIN_HOLD_TICKS && ac + SWAP_MARGIN_DB <= as_;
                if clearly || after_hold {
                    self.selected[k] = (c, 0);
                }
            }
        }
        self.sync_indexes();
        &self.indexes
    }

    /// The loudest talking participant not selected (lowest index on ties),
    /// by its meter or, at an onset, this tick's level.
    fn loudest_unselected(&self, floor: u8) -> Option<usize> {
        let mut best: Option<(u8, usize)> = None;
        for (i, (m, &r)) in self.meters.iter().zip(&self.raw).enumerate() {
            let l = m.level().min(r);
            if l > floor || l >= SILENCE || best.is_some_and(|(b, _)| l >= b) {
                continue;
            }
            if !self.is_selected(i) {
                best = Some((l, i));
            }
        }
        best.map(|(_, i)| i)
    }

    fn sync_indexes(&mut self) {
        self.indexes.clear();
        self.indexes.extend(self.selected.iter().map(|&(s, _)| s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sel: &mut Selector, levels: &[u8], ticks: usize) -> Vec<usize> {
        let mut out = vec![];
        for _ in 0..ticks {
            out = sel.update(levels, 70).to_vec();
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn equal_talkers_keep_their_slots() {
        let mut sel = Selector::new(3, 8);
        for _ in 0..4 {
            sel.add();
        }
        let mut changes = 0;
        let mut last = vec![];
        for t in 0..500usize {
            // Four talkers at the same loudness, syllables out of step.
            let levels: Vec<u8> = (0..4)
                .map(|i| if (t + 3 * i) % 12 < 8 { 30 } else { 45 })
                .collect();
            let mut now = sel.update(&levels, 70).to_vec();
            now.sort_unstable();
            if t > 5 && now != last {
                changes += 1;
            }
            last = now;
        }
        assert_eq!(changes, 0);
    }

    #[test]
    fn a_clearly_louder_newcomer_gets_in_at_once_and_quiet_ones_leave() {
        let mut sel = Selector::new(2, 8);
        for _ in 0..4 {
            sel.add();
        }
        assert_eq!(run(&mut sel, &[30, 30, 127, 127], 20), vec![0, 1]);
        // Participant 2 starts 15 dB louder: in within 100 ms (the meter's
        // attack from silence), taking the quieter one's slot.
        for _ in 0..4 {
            sel.update(&[30, 31, 15, 127], 70);
        }
        let now = sel.update(&[30, 31, 15, 127], 70).to_vec();
        assert!(now.contains(&2) && now.contains(&0), "{now:?}");
        // Participant 0 stops: its meter falls through the floor, 3 takes over.
        assert_eq!(run(&mut sel, &[127, 31, 15, 40], 200), vec![1, 2]);
        sel.silence(1);
        assert_eq!(sel.selected(), &[2]);
        sel.swap_remove(0); // 3 moves to 0
        assert_eq!(run(&mut sel, &[40, 127, 15], 3), vec![0, 2]);
    }
}
