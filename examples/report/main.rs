//! The hardware report: packets per second per core for each stage of the
//! media path, each beside a baseline measured in the same run, and how a
//! sharded room workload scales over worker threads.
//!
//! ```sh
//! cargo run --release --example report              # aligned table
//! cargo run --release --example report -- --json    # one JSON object per line
//! cargo run --release --example report -- --quick   # a few seconds (tests)
//! ```
//!
//! The measuring code lives in `report.rs` and the modules beside it, which
//! `tests/report_json.rs` also compiles, so the JSON it checks is the JSON
//! this prints.

#[path = "report.rs"]
mod report;

fn main() {
    let options = match report::Options::from_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            eprintln!("usage: report [--json] [--quick] [--threads N]");
            std::process::exit(2);
        }
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = report::run(&options, &mut out) {
        eprintln!("report: {e}");
        std::process::exit(1);
    }
}
