//! Who says what, when, and over which network: four talkers with distinct
//! synthetic voices (flite's CMU voices, a Debian package), known English
//! sentences, scripted turns of which some overlap. The speech is
//! synthesized here, once per utterance, by running `flite`.
//!
//! Why flite and not espeak-ng: PocketSphinx's acoustic model was trained
//! on recorded voices, and flite's voices (CMU Arctic, diphone and
//! statistical) are close enough to them: on these sentences it gets 0 to
//! 11 % WER per voice. espeak-ng's formant voices got 55 to 70 % (five
//! voices, eight sentences, even with the vocabulary restricted to the
//! script's words), which leaves no room to see a 3-point difference.

use std::path::Path;
use std::process::Command;

use rtmedia::sim::{Jitter, LinkConfig, Loss};

/// One talker: a voice, a network, a clock.
#[derive(Debug, Clone)]
pub struct Talker {
    pub name: &'static str,
    /// flite voice.
    pub voice: &'static str,
    pub network: &'static str,
    pub link: LinkConfig,
    /// The talker's clock: how fast it runs (ppm) and its offset from the
    /// true time (an NTP-synchronised device is a few ms off).
    pub drift_ppm: f64,
    pub clock_offset_us: i64,
}

pub fn talkers() -> Vec<Talker> {
    vec![
        Talker {
            name: "Ana",
            voice: "slt",
            network: "fiber",
            link: LinkConfig {
                base_delay_us: 10_000,
                ..LinkConfig::default()
            },
            drift_ppm: 0.0,
            clock_offset_us: 3_000,
        },
        Talker {
            name: "Ben",
            voice: "rms",
            network: "dsl (1 % loss, 0-20 ms jitter)",
            link: LinkConfig {
                base_delay_us: 25_000,
                jitter: Jitter::Uniform { max_us: 20_000 },
                loss: Loss::Random { p: 0.01 },
                ..LinkConfig::default()
            },
            drift_ppm: 25.0,
            clock_offset_us: -4_000,
        },
        Talker {
            name: "Cal",
            voice: "awb",
            network: "mobile (3 % bursty loss, 0-60 ms jitter)",
            link: LinkConfig {
                base_delay_us: 40_000,
                jitter: Jitter::Uniform { max_us: 60_000 },
                loss: Loss::bursty(0.03, 3.0),
                ..LinkConfig::default()
            },
            drift_ppm: -30.0,
            clock_offset_us: 1_000,
        },
        Talker {
            name: "Dan",
            voice: "kal16",
            network: "wifi (0.5 % loss, half-normal jitter)",
            link: LinkConfig {
                base_delay_us: 15_000,
                jitter: Jitter::HalfNormal { std_us: 8_000 },
                loss: Loss::Random { p: 0.005 },
                ..LinkConfig::default()
            },
            drift_ppm: 10.0,
            clock_offset_us: -2_000,
        },
    ]
}

/// Sentences, in the order of the turns: turn `i` is talker `i % 4`'s.
const SENTENCES: [&str; 12] = [
    "the meeting will start at ten in the morning",
    "please send the report to the budget office before friday",
    "we need three more people for the project team",
    "the new building opens next month near the station",
    "can you share the numbers from last week",
    "i think we should move the review to tuesday",
    "the minister will answer questions after lunch",
    "our office has a new phone number since monday",
    "the train was late again this morning",
    "we can talk about the plan after the break",
    "my computer is too slow for the new program",
    "the school is closed for two weeks in summer",
];

/// One utterance, placed on its talker's timeline.
#[derive(Debug, Clone)]
pub struct Utterance {
    pub talker: usize,
    pub text: &'static str,
    /// 16 kHz samples as synthesized (the floor's input).
    pub pcm16k: Vec<i16>,
    /// Where it starts on the meeting's timeline, µs of true time.
    pub start_us: u64,
}

impl Utterance {
    pub fn duration_us(&self) -> u64 {
        self.pcm16k.len() as u64 * 1_000_000 / 16_000
    }
}

/// Gap between turns, and how far every third turn starts before the
/// previous one ends (overlapping speech).
const GAP_US: u64 = 600_000;
const OVERLAP_US: u64 = 1_200_000;
/// Silence before the first turn (the streams start, the buffers settle).
const LEAD_US: u64 = 1_000_000;

/// The script: `turns` turns (4 in the short version, 12 in the full one),
/// every third one overlapping the one before. Synthesizes each with flite
/// into `scratch`.
pub fn script(turns: usize, scratch: &Path) -> Result<Vec<Utterance>, String> {
    let talkers = talkers();
    let mut out: Vec<Utterance> = Vec::with_capacity(turns);
    let mut at = LEAD_US;
    for (i, text) in SENTENCES.iter().take(turns).enumerate() {
        let talker = i % talkers.len();
        let pcm16k = synthesize(
            talkers[talker].voice,
            text,
            &scratch.join(format!("turn{i}.wav")),
        )?;
        if let Some(prev) = out.last() {
            let end = prev.start_us + prev.duration_us();
            at = if i % 3 == 2 {
                end.saturating_sub(OVERLAP_US).max(prev.start_us)
            } else {
                end + GAP_US
            };
        }
        out.push(Utterance {
            talker,
            text,
            pcm16k,
            start_us: at,
        });
    }
    Ok(out)
}

/// Runs flite; returns its 16 kHz mono samples.
fn synthesize(voice: &str, text: &str, wav: &Path) -> Result<Vec<i16>, String> {
    let status = Command::new("flite")
        .args(["-voice", voice, "-t", text, "-o"])
        .arg(wav)
        .status()
        .map_err(|e| format!("cannot run flite ({e}): install the Debian package flite"))?;
    if !status.success() {
        return Err(format!("flite failed for voice {voice}"));
    }
    let (rate, pcm) =
        crate::wav::read_mono_i16(wav).map_err(|e| format!("{}: {e}", wav.display()))?;
    if rate != 16_000 {
        return Err(format!("flite wrote {rate} Hz, expected 16000"));
    }
    Ok(pcm)
}
