//! mmlab-scenarios: the catalog of races and the stress runner.
//!
//! - [`scenario`]: what a scenario is (the trait, its variants and expectations).
//! - [`catalog`]: the registry of scenarios that `mmlab` runs.
//! - [`stress`]: the real-thread runner behind `mmlab run` and `mmlab contention` (compiled
//!   out under loom, which explores the same scenarios exhaustively instead).

pub mod catalog;
pub mod scenario;
#[cfg(not(mmlab_loom))]
pub mod stress;
