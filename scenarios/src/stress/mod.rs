//! The stress runner: the catalog's scenarios on real threads, judged against what each
//! variant expects.
//!
//! Loom proves a protocol on a tiny world; the stress runner samples a large one. It runs each
//! selected (scenario, variant) pair for a budget, one iteration after another, every
//! iteration with its own seed, on real threads, with seeded delays injected at the kernel's
//! race windows (`race_window!`). A `race` variant must be caught (first violation is all it
//! needs: it stops there), a `clean` variant must stay silent for its whole share. The result
//! is the table by which the lab is judged: expected, observed, verdict.
//!
//! Why each piece exists, one file each:
//!
//! - [`config`]: what a run is asked to do, its defaults and the parsers for user input.
//! - [`select`](mod@select): which pairs a name selects, and "did you mean" ([`suggest`]) when none.
//! - [`seed`]: iteration seeds — iteration 0 *is* the run seed, which is what makes every
//!   printed failure replayable with `--seed S --iterations 1`.
//! - [`shard`]: `--shard K/N`, the deterministic split that lets a job runner spread one
//!   campaign over many machines.
//! - [`runner`]: the loop, the budget split, early stop, Ctrl-C; by default each pair's loop
//!   runs on a long-lived thread and its actors on a crew of long-lived threads
//!   (`mmlab_engine::actor::Crew`), with the previous iteration's world renewed in place.
//! - `iteration` (private): one iteration on a thread of its own (`--harness spawn`), and the
//!   pieces both harnesses share, so that a panic or a hang that the engine's watchdog cannot
//!   unwind never takes the runner down.
//! - [`verdict`]: OK / MISSED / UNEXPECTED.
//! - [`report`], [`console`], [`progress`]: the table, the failure story, the JSON, the bar.
//! - [`output_file`], [`json_file`]: `--json` and `--svg` written whole or not at all.
//! - [`contention`]: `mmlab contention`, lock_stat per variant; [`contention_svg`] draws its
//!   wait histograms.
//! - [`listing`]: `mmlab list` and `mmlab explain`.
//!
//! The runner takes its catalog as a slice (`&[&'static dyn AnyScenario]`), never names a
//! scenario, and so runs the real catalog and tests' own scenarios alike. `docs/RUNNER.md` has
//! the user-facing story: replay honesty and sharded campaigns.

pub mod config;
pub mod console;
pub mod contention;
pub mod contention_svg;
mod iteration;
pub mod json_file;
pub mod listing;
pub mod output_file;
pub mod progress;
pub mod report;
pub mod runner;
pub mod seed;
pub mod select;
pub mod shard;
pub mod suggest;
pub mod usage;
pub mod verdict;

pub use config::{Budget, RunConfig};
pub use runner::{Observer, PairResult, Quiet, RunReport, run};
pub use select::{Pair, select};
pub use shard::Shard;
pub use usage::UsageError;
pub use verdict::Verdict;

/// Exit status: every verdict as expected.
pub const EXIT_OK: u8 = 0;
/// Exit status: something MISSED or UNEXPECTED.
pub const EXIT_UNEXPECTED: u8 = 1;
/// Exit status: bad usage (nothing was run, nothing was written).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: stopped by Ctrl-C (128 + SIGINT, the shell's convention); the results so far
/// were printed and, if asked, written.
pub const EXIT_INTERRUPTED: u8 = 130;
