//! What a scenario is: one race (or one workload), told as a sourced story, with variants.
//!
//! A scenario declares its variants — `fixed` plus the historical ones — each with what it
//! expects (`clean`: no oracle may fire; `race`: an oracle must fire, and a run that never sees
//! it has MISSED). [`Scenario::run`] builds a world for a [`Size`], runs its actors through the
//! [`Env`] it is given, and checks; the same code runs under loom (Tiny) and on real threads.

use mmlab_engine::actor::Env;
use mmlab_engine::check::{Oracle, Violation};

/// What a variant expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// No oracle may fire.
    Clean,
    /// An oracle must fire.
    Race,
}

impl Expect {
    /// `clean` / `race`, as printed and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Clean => "clean",
            Expect::Race => "race",
        }
    }
}

/// One variant of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// The variant's name (`fixed`, `no-ttu-sync`, ...).
    pub name: &'static str,
    /// What it expects.
    pub expected: Expect,
    /// One line: what this variant changes, and its source.
    pub summary: &'static str,
}

/// How big a world to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Small enough for loom: at most 3 threads, 1–2 pages.
    Tiny,
    /// For real threads: more pages, more mappings, more rounds per iteration.
    Stress,
}

/// What one iteration saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every violation reported (in-path and quiescent).
    pub violations: Vec<Violation>,
    /// The domain trace of the iteration, rendered (empty when clean).
    pub trace: String,
    /// Operations completed, by kind (long-running workloads report these).
    pub ops: Vec<(&'static str, u64)>,
}

/// A scenario of the catalog.
pub trait Scenario: Sync {
    /// The fixed name (`ttu-sync`).
    fn name(&self) -> &'static str;
    /// A one-line title.
    fn title(&self) -> &'static str;
    /// The commit(s) or thread it comes from.
    fn commit(&self) -> &'static str;
    /// The story: paths, locks, interleaving, oracle, commit (what `mmlab explain` prints) —
    /// the scenario file's own doc comment.
    fn story(&self) -> String;
    /// The variants.
    fn variants(&self) -> &'static [Variant];
    /// The oracles that catch its race variants.
    fn oracles(&self) -> &'static [Oracle];
    /// Does it run its actors for a duration (checking at quiescent points), rather than once
    /// per iteration?
    fn long_running(&self) -> bool {
        false
    }
    /// Run one iteration of `variant` at `size`.
    fn run(&self, variant: &str, size: Size, env: &Env) -> Outcome;
}
