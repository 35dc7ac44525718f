//! Verdicts: what a (scenario, variant) pair's run means.
//!
//! The lab is judged by one table (README, "The catalog"): a `clean` variant must stay silent
//! and a `race` variant must be caught. Three outcomes follow:
//!
//! | expected | what happened                                         | verdict      |
//! |----------|-------------------------------------------------------|--------------|
//! | clean    | no violation                                          | `OK`         |
//! | clean    | any violation                                         | `UNEXPECTED` |
//! | race     | an iteration fired one of the scenario's own oracles  | `OK`         |
//! | race     | no violation in the whole budget                      | `MISSED`     |
//! | race     | an iteration fired, but none of the scenario's oracles| `UNEXPECTED` |
//!
//! The last row keeps a broken race variant from passing by accident: a variant that is
//! supposed to trip `I2-ttu-sync` but panics instead has found a bug in the lab, not the race.
//! Cascades are fine — an iteration that fires the expected oracle may fire others after it.
//! A scenario that declares no oracles accepts any violation as its catch.

use crate::scenario::AnyScenario;
use mmlab_engine::check::{Oracle, Violation};
use std::fmt;

/// The judgement of one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// As expected.
    Ok,
    /// A race variant whose oracle never fired.
    Missed,
    /// A violation nobody expected.
    Unexpected,
}

impl Verdict {
    /// `OK` / `MISSED` / `UNEXPECTED`, as printed and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Missed => "MISSED",
            Verdict::Unexpected => "UNEXPECTED",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Does this iteration's set of violations count as catching `scenario`'s race?
pub fn catches(scenario: &dyn AnyScenario, violations: &[Violation]) -> bool {
    let declared: &[Oracle] = scenario.oracles();
    !violations.is_empty()
        && (declared.is_empty() || violations.iter().any(|v| declared.contains(&v.oracle)))
}
