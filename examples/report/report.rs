//! The measuring and printing behind `examples/report`, shared with
//! `tests/report_json.rs`.
//!
//! Every stage row times rtmedia and, when there is one, a baseline doing
//! the same work in the same run, in alternating samples, so that a noisy
//! shared machine slows both alike; the ratio is what to quote. Times are
//! wall time (`Instant`) and each figure is the median of several short
//! samples. The scaling table runs whole SFU rooms (SRTP unprotect →
//! `Source::on_rtp` → a `Forwarder` per subscriber → SRTP protect per
//! subscriber) sharded over 1..N worker threads fed by one dispatcher
//! thread through bounded crossbeam channels.
//!
//! Modules: `options` (command line), `measure` (calibration, alternating
//! samples, medians), `stages` (one file per family of rows), `scaling`
//! (the room table), `machine` (CPU model, cores, CPU time), `json` (the
//! `--json` lines); this file runs them and prints. `main.rs` and
//! `tests/report_json.rs` both include this file with `#[path]`, so its
//! modules are found beside it.
//!
//! To add a row, write a function returning a `Stage` in `stages/` and list
//! it in `stages::stages`.

mod json;
mod machine;
mod measure;
mod options;
mod scaling;
mod stages;

use std::io::{self, Write};

#[allow(unused_imports)] // tests/report_json.rs uses it
pub use json::json_string;
use json::{json_line, Json};
use machine::{cpu_model, logical_cores};
use measure::measure;
pub use options::Options;
use scaling::{scaling, SCALING_PROFILE, SUBSCRIBERS_PER_ROOM};
use stages::srtp::profile_name;
use stages::stages;

/// Runs everything and writes the table, or JSON lines with `--json`.
pub fn run(options: &Options, out: &mut dyn Write) -> io::Result<()> {
    let cpu = cpu_model();
    let cores = logical_cores();
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    if options.json {
        writeln!(
            out,
            "{}",
            json_line(&[
                ("kind", Json::Str("machine")),
                ("cpu", Json::Str(&cpu)),
                ("logical_cores", Json::Int(cores as u64)),
                ("os", Json::Str(std::env::consts::OS)),
                ("arch", Json::Str(std::env::consts::ARCH)),
                ("rtmedia_version", Json::Str(env!("CARGO_PKG_VERSION"))),
                ("build", Json::Str(build)),
                ("quick", Json::Bool(options.quick)),
            ])
        )?;
    } else {
        writeln!(
            out,
            "rtmedia {} hardware report ({build} build{}): {cpu}, {cores} logical cores",
            env!("CARGO_PKG_VERSION"),
            if options.quick { ", --quick" } else { "" },
        )?;
        writeln!(
            out,
            "Per core; ratio = rtmedia packets/s over the baseline's, same run. Quote ratios.\n"
        )?;
        writeln!(
            out,
            "{:<24} {:<36} {:>5} {:>10} {:>9}  {:<12} {:>10} {:>7}",
            "stage", "variant", "bytes", "Mpkt/s", "ns/pkt", "baseline", "Mpkt/s", "ratio"
        )?;
    }
    out.flush()?;

    for mut stage in stages(options) {
        let row = measure(&mut stage, options);
        let pps = 1e9 / row.ns_per_packet;
        let base_pps = row.baseline.map(|(_, ns)| 1e9 / ns);
        let ratio = base_pps.map(|b| pps / b);
        if options.json {
            let num = |x: Option<f64>| x.map_or(Json::Null, Json::Num);
            writeln!(
                out,
                "{}",
                json_line(&[
                    ("kind", Json::Str("stage")),
                    ("stage", Json::Str(row.stage)),
                    ("variant", Json::Str(&row.variant)),
                    ("bytes", Json::Int(row.bytes as u64)),
                    ("packets_per_sec", Json::Num(pps)),
                    ("ns_per_packet", Json::Num(row.ns_per_packet)),
                    (
                        "baseline",
                        row.baseline.map_or(Json::Null, |(b, _)| Json::Str(b))
                    ),
                    ("baseline_packets_per_sec", num(base_pps)),
                    ("ratio", num(ratio)),
                ])
            )?;
        } else {
            let (base, base_mpps, ratio) = match (row.baseline, base_pps, ratio) {
                (Some((name, _)), Some(b), Some(r)) => {
                    (name, format!("{:.3}", b / 1e6), format!("{r:.2}x"))
                }
                _ => ("no baseline", "-".to_string(), "-".to_string()),
            };
            writeln!(
                out,
                "{:<24} {:<36} {:>5} {:>10.3} {:>9.1}  {:<12} {:>10} {:>7}",
                row.stage,
                row.variant,
                row.bytes,
                pps / 1e6,
                row.ns_per_packet,
                base,
                base_mpps,
                ratio
            )?;
        }
        out.flush()?;
    }

    let rows = scaling(options);
    if !options.json {
        writeln!(
            out,
            "\nScaling: SFU rooms (one VP8 simulcast publisher and {SUBSCRIBERS_PER_ROOM} \
             subscribers each: SRTP unprotect -> Source::on_rtp -> Forwarder::forward -> \
             SRTP protect\nper subscriber, {}) sharded over worker threads, fed by one \
             dispatcher thread through bounded crossbeam channels\n(the dispatcher shares \
             the cores). Mpkt/s: publisher packets in; sent: subscriber-packets out.\n",
            profile_name(SCALING_PROFILE),
        )?;
        writeln!(
            out,
            "{:>7} {:>6} {:>10} {:>14} {:>10} {:>10} {:>12}",
            "threads",
            "rooms",
            "Mpkt/s",
            "Mpkt/s/thread",
            "efficiency",
            "cores used",
            "sent Mpkt/s"
        )?;
    }
    for r in rows {
        let per_thread = r.packets_per_sec / r.threads as f64;
        if options.json {
            writeln!(
                out,
                "{}",
                json_line(&[
                    ("kind", Json::Str("scaling")),
                    ("threads", Json::Int(r.threads as u64)),
                    ("rooms", Json::Int(r.rooms as u64)),
                    ("bytes", Json::Int(r.bytes as u64)),
                    ("packets_per_sec", Json::Num(r.packets_per_sec)),
                    ("per_thread_packets_per_sec", Json::Num(per_thread)),
                    ("efficiency", Json::Num(r.efficiency)),
                    ("cpu_cores_used", r.cores_used.map_or(Json::Null, Json::Num)),
                    ("subscribers_per_room", Json::Int(r.subscribers as u64)),
                    ("forwarded_packets_per_sec", Json::Num(r.forwarded_per_sec)),
                ])
            )?;
        } else {
            writeln!(
                out,
                "{:>7} {:>6} {:>10.3} {:>14.3} {:>9.0}% {:>10} {:>12.3}",
                r.threads,
                r.rooms,
                r.packets_per_sec / 1e6,
                per_thread / 1e6,
                r.efficiency * 100.0,
                r.cores_used.map_or("-".to_string(), |c| format!("{c:.2}")),
                r.forwarded_per_sec / 1e6
            )?;
        }
        out.flush()?;
    }
    Ok(())
}
