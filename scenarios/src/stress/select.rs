//! Selection: which (scenario, variant) pairs a command runs, from what the user named.
//!
//! `all` (or nothing) selects every scenario; `--variant all` (or nothing) every variant. A
//! variant named with `all` scenarios selects that variant wherever it exists (`--variant
//! fixed` runs every fixed variant). A name that matches nothing is a usage error that names
//! the nearest real name.

use super::suggest;
use super::usage::UsageError;
use crate::scenario::{AnyScenario, VariantRef};
use std::fmt;

/// The word that selects everything.
pub const ALL: &str = "all";

/// One (scenario, variant) pair: the unit the runner budgets, runs and judges.
#[derive(Clone, Copy)]
pub struct Pair {
    /// The scenario.
    pub scenario: &'static dyn AnyScenario,
    /// One of its variants.
    pub variant: VariantRef,
}

impl Pair {
    /// `scenario/variant`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.scenario.name(), self.variant.name)
    }
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pair")
            .field("scenario", &self.scenario.name())
            .field("variant", &self.variant.name)
            .field("expected", &self.variant.expected)
            .finish()
    }
}

/// The scenario called `name`, or a usage error suggesting the nearest one.
pub fn find_scenario(
    catalog: &[&'static dyn AnyScenario],
    name: &str,
) -> Result<&'static dyn AnyScenario, UsageError> {
    if let Some(s) = catalog.iter().find(|s| s.name() == name) {
        return Ok(*s);
    }
    if catalog.is_empty() {
        return Err(UsageError::new(format!(
            "unknown scenario '{name}': the catalog is empty"
        )));
    }
    Err(UsageError::new(format!(
        "unknown scenario '{name}'{}; `mmlab list` shows them all",
        suggest::hint(name, catalog.iter().map(|s| s.name()))
    )))
}

/// The pairs selected by a scenario name (or `all`/none) and a variant name (or `all`/none).
pub fn select(
    catalog: &[&'static dyn AnyScenario],
    scenario: Option<&str>,
    variant: Option<&str>,
) -> Result<Vec<Pair>, UsageError> {
    let scenarios: Vec<&'static dyn AnyScenario> = match scenario {
        None | Some(ALL) => catalog.to_vec(),
        Some(name) => vec![find_scenario(catalog, name)?],
    };
    let variant = variant.filter(|v| *v != ALL);
    let Some(want) = variant else {
        return Ok(scenarios
            .iter()
            .flat_map(|&s| {
                s.variants().into_iter().map(move |v| Pair {
                    scenario: s,
                    variant: v,
                })
            })
            .collect());
    };
    // The name is parsed into each scenario's own variant once, here, at the edge.
    let pairs: Vec<Pair> = scenarios
        .iter()
        .filter_map(|&s| {
            s.variant(want).ok().map(|v| Pair {
                scenario: s,
                variant: v,
            })
        })
        .collect();
    if pairs.is_empty() {
        let known: Vec<&str> = scenarios
            .iter()
            .flat_map(|s| s.variants().into_iter().map(|v| v.name))
            .collect();
        let whose = match scenario {
            Some(name) if name != ALL => format!("scenario '{name}'"),
            _ => "any scenario".to_string(),
        };
        let listing = match scenario {
            Some(name) if name != ALL => format!("; its variants: {}", known.join(", ")),
            _ => "; `mmlab list` shows them all".to_string(),
        };
        return Err(UsageError::new(format!(
            "unknown variant '{want}' for {whose}{}{listing}",
            suggest::hint(want, known.iter().copied())
        )));
    }
    Ok(pairs)
}
