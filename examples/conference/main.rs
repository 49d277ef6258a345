//! A simulated meeting through the whole library, on one machine, seeded:
//! N publishers send VP8 simulcast and Opus over SRTP to an SFU, which
//! forwards video to M subscribers on different networks (allocating each
//! one's bandwidth between the speaker on stage and the thumbnails) and
//! mixes the audio. Subscribers decode what they get with libvpx. A report
//! says what every participant experienced, and the run fails (exit 1) if
//! a quality goal is missed.
//!
//! ```text
//! cargo run --release --example conference -- [--preset default|large]
//!     [--seed N] [--seconds S] [--out DIR] [--trace SUBSCRIBER] [--oracle F] [--uplink-reordering]
//! ```
//! `--oracle F` is a diagnostic: each subscriber's estimate is capped at
//! F times its link's true capacity, at once when the capacity falls (a
//! perfect estimator's answer), so that what the estimator costs can be told
//! from what the rest costs. It uses the links' secrets, which the example
//! otherwise never does; the report says so.
//! `--uplink-reordering` lets the publishers' uplinks reorder the packets
//! they send together (5 ms of jitter on a keyframe's burst), as real
//! uplinks do; off by default (the figures the issues quote are without).
//! `--trace i` prints subscriber `i`'s timeline (every 100 ms: capacity,
//! estimate, allocation, demand, received rate, layers, jitter-buffer
//! target) to stderr, to follow the congestion control.
//! Writes `<out>/timeline.svg`, `<out>/room_mix.wav` and one 16 kHz
//! `<out>/tap_<n>.wav` per speaker (default out: `target/conference`).

mod audio;
mod ccreport;
mod egress;
mod leg;
mod meeting;
mod report;
mod scenario;
mod sfu;
mod subscriber;
mod svg;
mod wav;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use meeting::Meeting;
use scenario::Preset;

struct Args {
    preset: Preset,
    seed: u64,
    out: PathBuf,
    trace: Option<usize>,
    oracle: Option<f64>,
}

const USAGE: &str =
    "usage: conference [--preset default|large] [--seed N] [--seconds S] [--out DIR] [--trace SUBSCRIBER] [--oracle F] [--uplink-reordering]";

fn parse_args() -> Result<Args, String> {
    let mut preset = Preset::default_preset();
    let mut seed = 1;
    let mut seconds = None;
    let mut out = PathBuf::from("target/conference");
    let mut trace = None;
    let mut oracle = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--preset" => {
                preset = match value()?.as_str() {
                    "default" => Preset::default_preset(),
                    "large" => Preset::large(),
                    other => return Err(format!("unknown preset {other}")),
                }
            }
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--seconds" => {
                let s: f64 = value()?.parse().map_err(|e| format!("--seconds: {e}"))?;
                if !s.is_finite() || s <= 0.0 {
                    return Err("--seconds must be positive".into());
                }
                seconds = Some(s);
            }
            "--out" => out = PathBuf::from(value()?),
            "--trace" => trace = Some(value()?.parse().map_err(|e| format!("--trace: {e}"))?),
            "--oracle" => {
                let f: f64 = value()?.parse().map_err(|e| format!("--oracle: {e}"))?;
                if !(f > 0.0 && f <= 2.0) {
                    return Err("--oracle must be in (0, 2]".into());
                }
                oracle = Some(f);
            }
            "--uplink-reordering" => preset.uplink_reordering = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if let Some(s) = seconds {
        preset.seconds = s;
    }
    if let Some(i) = trace.filter(|&i| i >= preset.subscribers.len()) {
        let n = preset.subscribers.len();
        return Err(format!("--trace: {i} is not a subscriber (0..{n})"));
    }
    Ok(Args {
        preset,
        seed,
        out,
        trace,
        oracle,
    })
}

/// `\r[#####     ] 42%` on stderr, only when it is a terminal (CI logs
/// stay clean).
fn progress_bar() -> impl FnMut(f64) {
    let tty = std::io::stderr().is_terminal();
    let mut last = usize::MAX;
    move |done: f64| {
        let pct = (done * 100.0).round().clamp(0.0, 100.0) as usize;
        if !tty || pct == last {
            return;
        }
        last = pct;
        let filled = pct / 5;
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r[{}{}] {pct:>3}%",
            "#".repeat(filled),
            " ".repeat(20 - filled)
        );
        if pct == 100 {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

fn write_outputs(m: &Meeting, out: &PathBuf) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    let names: Vec<&str> = m.subscribers.iter().map(|s| s.profile.name).collect();
    let svg = out.join("timeline.svg");
    std::fs::write(&svg, svg::render(&m.timeline, &names, m.preset.seconds))?;
    written.push(svg);
    let mix = out.join("room_mix.wav");
    wav::write_mono_i16(&mix, 48_000, &m.room.room_mix)?;
    written.push(mix);
    for (p, tap) in m.room.taps.iter().enumerate() {
        let path = out.join(format!("tap_{p}.wav"));
        wav::write_mono_i16(&path, 16_000, tap)?;
        written.push(path);
    }
    Ok(written)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut meeting = Meeting::new(args.preset, args.seed);
    meeting.oracle = args.oracle;
    meeting.run(progress_bar());
    report::print(&meeting);
    ccreport::print(&meeting);
    if let Some(i) = args.trace {
        ccreport::print_trace(&meeting, i);
    }
    ccreport::print_targets(&ccreport::targets(&meeting));
    let goals = report::goals(&meeting);
    report::print_goals(&goals);
    match write_outputs(&meeting, &args.out) {
        Ok(paths) => {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            println!("\nWrote {}", shown.join(", "));
        }
        Err(e) => {
            eprintln!("cannot write to {}: {e}", args.out.display());
            return ExitCode::from(2);
        }
    }
    if goals.iter().all(|g| g.pass) {
        println!("All quality goals met.");
        ExitCode::SUCCESS
    } else {
        println!("Some quality goals were missed.");
        ExitCode::FAILURE
    }
}
