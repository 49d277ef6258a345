//! rtmedia's fuzz target bodies (see `targets.rs`).

pub mod targets;
pub use targets::*;
