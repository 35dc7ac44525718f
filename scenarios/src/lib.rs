//! mmlab-scenarios: the catalog of races, the kit to write more, the stress runner and the
//! `mmlab` command.
//!
//! - [`scenario`]: what a scenario is: the [`Scenario`](scenario::Scenario) trait with its
//!   typed variants, and the object-safe [`AnyScenario`](scenario::AnyScenario) the runner sees.
//! - [`kit`]: the helpers a scenario is written with, and the `Scenario::run` contract.
//! - [`patch`]: a kernel patch (entries of the function table) tried against every scenario.
//! - [`catalog`]: the scenarios `mmlab` runs.
//! - `stress` (feature `cli`): the real-thread runner behind `run` and `contention`.
//! - `cli` (feature `cli`): the whole command, for `mmlab` and for a crate of your own
//!   ([`main!`]).
//!
//! Under `--cfg mmlab_loom` only the first four are compiled (the loom suite explores the same
//! scenarios exhaustively): the command's dependencies (clap, serde, plotters, indicatif,
//! ctrlc) are not built at all, whatever the features say.

pub mod catalog;
#[cfg(feature = "cli")]
pub mod cli;
pub mod kit;
pub mod patch;
pub mod scenario;
#[cfg(all(feature = "cli", not(mmlab_loom)))]
pub mod stress;
