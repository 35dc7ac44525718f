//! `mmlab list` and `mmlab explain`: the catalog as a table, as JSON, and as stories.
//!
//! `list --json` is a contract: `[{"name", "title", "commit", "variants": [{"name",
//! "expected": "clean"|"race"}]}]`; fields may be added, never renamed or removed.

use crate::cli::Program;
use crate::scenario::AnyScenario;
use serde::Serialize;
use std::fmt::Write as _;

/// One scenario of the `list --json` document.
#[derive(Debug, Serialize)]
pub struct ScenarioDocument {
    name: &'static str,
    title: &'static str,
    commit: &'static str,
    long_running: bool,
    oracles: Vec<&'static str>,
    variants: Vec<JsonVariant>,
}

#[derive(Debug, Serialize)]
struct JsonVariant {
    name: &'static str,
    expected: &'static str,
    summary: &'static str,
}

/// The `list --json` document, as a JSON value.
pub fn to_json(catalog: &[&'static dyn AnyScenario]) -> serde_json::Value {
    serde_json::to_value(document(catalog)).unwrap_or(serde_json::Value::Null)
}

/// The `list --json` document, ready to serialise in field order.
pub fn document(catalog: &[&'static dyn AnyScenario]) -> Vec<ScenarioDocument> {
    catalog
        .iter()
        .map(|s| ScenarioDocument {
            name: s.name(),
            title: s.title(),
            commit: s.commit(),
            long_running: s.long_running(),
            oracles: s.oracles().iter().map(|o| o.name()).collect(),
            variants: s
                .variants()
                .iter()
                .map(|v| JsonVariant {
                    name: v.name,
                    expected: v.expected.as_str(),
                    summary: v.summary,
                })
                .collect(),
        })
        .collect()
}

/// The `list` table: each scenario, its title and commit, then its variants.
pub fn table(catalog: &[&'static dyn AnyScenario]) -> String {
    if catalog.is_empty() {
        return "the catalog is empty.\n".to_string();
    }
    let name_w = catalog.iter().map(|s| s.name().len()).max().unwrap_or(0);
    let mut out = String::new();
    for s in catalog {
        let _ = writeln!(out, "{:<name_w$}  {}", s.name(), s.title());
        if !s.commit().is_empty() {
            let _ = writeln!(out, "{:<name_w$}  commit: {}", "", s.commit());
        }
        let var_w = s.variants().iter().map(|v| v.name.len()).max().unwrap_or(0);
        for v in s.variants() {
            let _ = writeln!(
                out,
                "{:<name_w$}    {:<var_w$}  {:<5}  {}",
                "",
                v.name,
                v.expected.as_str(),
                v.summary
            );
        }
    }
    out
}

/// `mmlab explain`: the story, then the variants and the oracles.
pub fn explain(s: &dyn AnyScenario, program: &Program) -> String {
    let mut out = format!("{} — {}\n", s.name(), s.title());
    if !s.commit().is_empty() {
        let _ = writeln!(out, "commit: {}", s.commit());
    }
    let _ = writeln!(out, "\n{}", s.story().trim_end());
    let _ = writeln!(out, "\nvariants:");
    let var_w = s.variants().iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in s.variants() {
        let _ = writeln!(
            out,
            "  {:<var_w$}  expects {:<5}  {}",
            v.name,
            v.expected.as_str(),
            v.summary
        );
    }
    if !s.oracles().is_empty() {
        let names: Vec<&str> = s.oracles().iter().map(|o| o.name()).collect();
        let _ = writeln!(out, "\noracles: {}", names.join(", "));
    }
    if s.long_running() {
        let _ = writeln!(
            out,
            "\nlong-running: each iteration runs its actors for a duration."
        );
    }
    let _ = writeln!(
        out,
        "\nrun it: {} run {} --variant all",
        program.invocation(),
        s.name()
    );
    out
}
