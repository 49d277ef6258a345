//! Command-line options of the report.

use std::time::Duration;

/// Command-line options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One JSON object per line instead of the table.
    pub json: bool,
    /// A few seconds in all, with tiny samples: for tests, not for quoting.
    pub quick: bool,
    /// Most worker threads in the scaling table (default: the logical cores,
    /// at least 2).
    pub threads: Option<usize>,
}

impl Options {
    /// Parses `--json`, `--quick` and `--threads N`.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Options::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--json" => options.json = true,
                "--quick" => options.quick = true,
                "--threads" => {
                    let n = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
                    options.threads = Some(n.ok_or("--threads needs a positive number")?);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }

    /// Target length of one timed sample.
    pub(crate) fn sample_time(&self) -> Duration {
        if self.quick {
            Duration::from_millis(1)
        } else {
            Duration::from_millis(40)
        }
    }

    /// Samples per side; the median is reported.
    pub(crate) fn samples(&self) -> usize {
        if self.quick {
            3
        } else {
            9
        }
    }
}
