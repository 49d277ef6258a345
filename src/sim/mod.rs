//! Seeded network simulation for tests, benches and examples: impaired links
//! and drifting clocks, all driven by an explicit clock so a run is
//! reproducible bit for bit.

mod link;
mod rng;

pub use link::{DriftClock, Jitter, Link, LinkConfig, LinkStats, Loss};
pub use rng::Rng;
