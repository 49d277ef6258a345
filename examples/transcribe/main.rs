//! Transcription and diarization from the mixer's per-speaker taps (issue
//! 18): four talkers with distinct synthetic voices say known sentences in
//! scripted turns, some overlapping, as Opus under SRTP (AEAD_AES_128_GCM,
//! unprotected by the server as an SFU does) over impaired simulated links
//! into the library's mixer (jitter buffers, concealment, FEC). The server
//! keeps each speaker's 16 kHz tap with its metadata (SSRC, the sender's RTP
//! timestamp, voice activity, gaps), the room mix, and the senders' RTCP
//! sender reports; `transcribe.py` (beside this file) runs a speech
//! recognizer nobody here wrote (PocketSphinx) on the taps, the originals
//! and the mix, and writes a speaker-labelled transcript on the wall clock.
//!
//! ```text
//! cargo run --release --example transcribe -- [--short] [--seed N] [--out DIR]
//! python3 examples/transcribe/transcribe.py DIR
//! ```
//! (`make transcribe` does both in a virtualenv; `make test` runs the short
//! version and checks its goals.) Needs `flite` (Debian package) to
//! synthesize the voices.

// The conference example's SRTP leg: a seeded link with real AEAD_AES_128_GCM
// protection both ways.
#[allow(dead_code)]
#[path = "../conference/leg.rs"]
mod leg;
mod output;
mod room;
mod script;
mod talker;
mod wav;

use std::path::PathBuf;
use std::process::ExitCode;

use rtmedia::audio::mixer::TapContent;

/// The meeting's wall-clock epoch (2026-12-04 09:00:00 UTC), µs.
const WALL0_US: u64 = 1_796_374_800_000_000;
/// Silence after the last turn, so every stream drains.
const TAIL_US: u64 = 1_500_000;

struct Args {
    short: bool,
    seed: u64,
    out: PathBuf,
}

const USAGE: &str = "usage: transcribe [--short] [--seed N] [--out DIR]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        short: false,
        seed: 1,
        out: PathBuf::from("target/transcribe"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--short" => args.short = true,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" => args.out = PathBuf::from(value()?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let talkers = script::talkers();
    let scratch = args.out.join("synth");
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        eprintln!("cannot create {}: {e}", scratch.display());
        return ExitCode::from(2);
    }
    let turns = if args.short { 4 } else { 12 };
    let script = match script::script(turns, &scratch) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let length_us = script
        .iter()
        .map(|u| u.start_us + u.duration_us())
        .max()
        .unwrap_or(0)
        + TAIL_US;
    let room = room::run(&talkers, &script, WALL0_US, length_us, args.seed);

    println!(
        "{} talkers, {} turns, {:.1} s of meeting (seed {})",
        talkers.len(),
        script.len(),
        length_us as f64 / 1e6,
        args.seed
    );
    println!(
        "{:<5} {:<6} {:<42} {:>6} {:>5} {:>5} {:>6} {:>5} {:>5} {:>5} {:>4}",
        "who", "voice", "network", "frames", "lost", "resnt", "audio", "fec", "conc", "miss", "SRs"
    );
    for (t, o) in talkers.iter().zip(&room.talkers) {
        let count = |c: TapContent| o.frames.iter().filter(|f| f.content == c).count();
        println!(
            "{:<5} {:<6} {:<42} {:>6} {:>5} {:>5} {:>6} {:>5} {:>5} {:>5} {:>4}",
            t.name,
            t.voice,
            t.network,
            o.frames.len(),
            o.packets_lost,
            o.retransmitted,
            count(TapContent::Audio),
            count(TapContent::Fec),
            count(TapContent::Concealed),
            count(TapContent::Missing),
            o.reports.len()
        );
    }
    println!("(lost: on the talker's link, retransmissions included; resnt: packets resent for the taps' NACKs; audio .. miss: tap frames by content)");
    let refused: u64 = room.talkers.iter().map(|o| o.srtp_refused).sum();
    println!("SRTP: every packet protected by its talker and unprotected by the server; {refused} refused (replays of duplicated packets, authentication failures)");
    let meeting_s = length_us as f64 / 1e6;
    println!(
        "simulation: {:.2} s for {:.1} s of meeting on one core ({:.1}x real time), of which the mixer {:.3} s ({} ticks, {:.0} µs each)",
        room.loop_seconds,
        meeting_s,
        meeting_s / room.loop_seconds.max(1e-9),
        room.mixer_seconds,
        room.ticks,
        room.mixer_seconds * 1e6 / room.ticks.max(1) as f64
    );
    match output::write(&args.out, &talkers, &script, &room, WALL0_US, args.seed) {
        Ok(paths) => {
            println!("wrote {} files into {}", paths.len(), args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write into {}: {e}", args.out.display());
            ExitCode::from(2)
        }
    }
}
