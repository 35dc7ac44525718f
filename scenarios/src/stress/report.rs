//! Reports: the table a person reads, the failure story, and the JSON a machine reads.
//!
//! The JSON field names are a contract (docs/RUNNER.md): `seed`, and per result
//! `scenario`, `variant`, `expected`, `observed`, `iterations`, `elapsed_s`,
//! `first_violation_s` (null if none), `verdict`, `violations: [{oracle, message, seed}]`.
//! Fields may be added, never renamed or removed. Seeds are written as JSON integers (exact in
//! serde_json, Python and jq >= 1.7; JavaScript's `JSON.parse` rounds above 2^53, which is why
//! each failure also carries its `replay` command as a string).

use super::config::{Budget, RunConfig};
use super::runner::{PairResult, RunReport};
use super::select::Pair;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Lines of a failing iteration's trace printed at most (the scenario renders the story around
/// the marked violation, `Trace::render`, in fewer); `--json` has none of it.
pub const MAX_TRACE_LINES: usize = 200;
/// Violations of the first failing iteration printed in full (they are one story: a race
/// often trips a second oracle on its way, and a hang comes with lockdep's view of it).
const MAX_FULL: usize = 5;

/// Seconds to the millisecond (`0.013s`, `1.200s`), or to the tenth beyond 100s.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 100.0 {
        format!("{s:.3}s")
    } else {
        format!("{s:.1}s")
    }
}

/// A duration as a person would write it: `60s`, `6.667s`, `0.5s`.
pub fn short(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}s")
}

/// The results table: one row per pair.
pub fn table(report: &RunReport) -> String {
    let header = [
        "scenario",
        "variant",
        "expected",
        "observed",
        "iterations",
        "first violation",
        "time",
        "verdict",
    ];
    let rows: Vec<[String; 8]> = report
        .results
        .iter()
        .map(|r| {
            [
                r.scenario.to_string(),
                r.variant.to_string(),
                r.expected.as_str().to_string(),
                r.observed().as_str().to_string(),
                r.iterations.to_string(),
                r.first_violation().map(secs).unwrap_or_else(|| "-".into()),
                secs(r.elapsed),
                if r.interrupted {
                    format!("{} (interrupted)", r.verdict())
                } else {
                    r.verdict().to_string()
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Numbers right-aligned, words left-aligned.
    let right = [false, false, false, false, true, true, true, false];
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let sep = if i == 0 { "" } else { "  " };
            if right[i] {
                let _ = write!(out, "{sep}{cell:>w$}", w = widths[i]);
            } else if i + 1 == cells.len() {
                let _ = write!(out, "{sep}{cell}");
            } else {
                let _ = write!(out, "{sep}{cell:<w$}", w = widths[i]);
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(&row.each_ref().map(String::as_str)));
    }
    out
}

/// The one-line summary.
pub fn summary(report: &RunReport) -> String {
    let (ok, missed, unexpected) = report.tally();
    let mut s = format!(
        "{} pair{}: {ok} OK, {missed} MISSED, {unexpected} UNEXPECTED in {} (seed {}, {} thread{}, injection {}",
        report.results.len(),
        if report.results.len() == 1 { "" } else { "s" },
        secs(report.elapsed),
        report.seed,
        report.threads,
        if report.threads == 1 { "" } else { "s" },
        if report.inject { "on" } else { "off" },
    );
    if report.shard.n() > 1 {
        let _ = write!(s, ", shard {}", report.shard);
    }
    s.push(')');
    if report.interrupted {
        let not_run = report.pairs_selected - report.results.len();
        let _ = write!(s, "; interrupted, {not_run} pair(s) not started");
    }
    s
}

/// The first failure of a pair in full — oracle, message, sites, the iteration's trace, the
/// replay command — and a count of the rest. `None` if the pair saw no violation.
pub fn failure(result: &PairResult) -> Option<String> {
    let first = result.first.as_ref()?;
    let head = first.violations.get(first.headline)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {}/{}: {} (expected {}): [{}] after {}, iteration {}, seed {}",
        result.scenario,
        result.variant,
        result.verdict(),
        result.expected.as_str(),
        head.oracle,
        secs(first.at),
        first.iteration,
        first.seed,
    );
    for v in first.violations.iter().take(MAX_FULL) {
        for line in v.to_string().lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if first.violations.len() > MAX_FULL {
        let _ = writeln!(
            out,
            "  ... and {} more violations in this iteration",
            first.violations.len() - MAX_FULL
        );
    }
    if first.abandoned {
        let _ = writeln!(
            out,
            "  (the iteration never returned; its threads were abandoned)"
        );
    }
    if first.trace.trim().is_empty() {
        let _ = writeln!(out, "  trace: (the scenario recorded none)");
    } else {
        let _ = writeln!(out, "  trace:");
        let lines: Vec<&str> = first.trace.lines().collect();
        let skip = lines.len().saturating_sub(MAX_TRACE_LINES);
        if skip > 0 {
            let _ = writeln!(out, "  ... {skip} earlier trace lines not shown");
        }
        for l in &lines[skip..] {
            let _ = writeln!(out, "{l}");
        }
    }
    let _ = writeln!(out, "  replay: {}", first.replay);
    let rest = result.violations_total - first.violations.len() as u64;
    let more_iterations = result.failed_iterations - 1;
    if more_iterations > 0 {
        let _ = writeln!(
            out,
            "  {rest} more violation{} in {more_iterations} further iteration{} not shown",
            if rest == 1 { "" } else { "s" },
            if more_iterations == 1 { "" } else { "s" },
        );
    }
    Some(out)
}

/// The header printed before a run.
pub fn header(pairs: &[Pair], cfg: &RunConfig) -> String {
    if pairs.is_empty() {
        return "mmlab run: nothing selected".to_string();
    }
    let budget = match (cfg.budget, cfg.budget.total(pairs.len())) {
        (Budget::Iterations(n), _) => format!(
            "{n} iteration{} a pair (race variants stop at their first violation)",
            if n == 1 { "" } else { "s" }
        ),
        (_, Some(d)) => format!(
            "budget {} (~{} a pair; race variants stop at their first violation)",
            short(d),
            short(d / u32::try_from(pairs.len()).unwrap_or(u32::MAX))
        ),
        (_, None) => String::new(),
    };
    let mut h = format!(
        "mmlab run: {} pair{}, {budget}, seed {}, {} thread{}",
        pairs.len(),
        if pairs.len() == 1 { "" } else { "s" },
        cfg.seed,
        cfg.threads,
        if cfg.threads == 1 { "" } else { "s" },
    );
    if cfg.shard.n() > 1 {
        let _ = write!(h, ", shard {}", cfg.shard);
    }
    if !cfg.inject {
        h.push_str(", injection off");
    }
    h
}

/// The `run --json` document, fields in contract order (see the module docs).
#[derive(Debug, Serialize)]
pub struct RunDocument<'a> {
    seed: u64,
    shard: String,
    threads: usize,
    inject: bool,
    budget_s: Option<f64>,
    budget_iterations: Option<u64>,
    elapsed_s: f64,
    interrupted: bool,
    pairs_selected: usize,
    results: Vec<JsonResult<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonResult<'a> {
    scenario: &'a str,
    variant: &'a str,
    expected: &'static str,
    observed: &'static str,
    iterations: u64,
    elapsed_s: f64,
    first_violation_s: Option<f64>,
    verdict: &'static str,
    violations: Vec<JsonViolation<'a>>,
    violations_total: u64,
    failed_iterations: u64,
    abandoned_iterations: u64,
    interrupted: bool,
    replay: Option<&'a str>,
    ops: &'a BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
struct JsonViolation<'a> {
    oracle: &'static str,
    message: &'a str,
    seed: u64,
    iteration: u64,
    sites: &'a [String],
}

/// The `run --json` document, as a JSON value.
pub fn to_json(report: &RunReport) -> serde_json::Value {
    // Serialising plain structs of strings and numbers cannot fail.
    serde_json::to_value(document(report)).unwrap_or(serde_json::Value::Null)
}

/// The `run --json` document, ready to serialise in field order.
pub fn document(report: &RunReport) -> RunDocument<'_> {
    let (budget_s, budget_iterations) = match report.budget {
        Budget::Iterations(n) => (None, Some(n)),
        b => (
            b.total(report.pairs_selected).map(|d| d.as_secs_f64()),
            None,
        ),
    };
    RunDocument {
        seed: report.seed,
        shard: report.shard.to_string(),
        threads: report.threads,
        inject: report.inject,
        budget_s,
        budget_iterations,
        elapsed_s: report.elapsed.as_secs_f64(),
        interrupted: report.interrupted,
        pairs_selected: report.pairs_selected,
        results: report
            .results
            .iter()
            .map(|r| JsonResult {
                scenario: r.scenario,
                variant: r.variant,
                expected: r.expected.as_str(),
                observed: r.observed().as_str(),
                iterations: r.iterations,
                elapsed_s: r.elapsed.as_secs_f64(),
                first_violation_s: r.first_violation().map(|d| d.as_secs_f64()),
                verdict: r.verdict().as_str(),
                violations: r
                    .violations
                    .iter()
                    .map(|v| JsonViolation {
                        oracle: v.oracle.name(),
                        message: &v.message,
                        seed: v.seed,
                        iteration: v.iteration,
                        sites: &v.sites,
                    })
                    .collect(),
                violations_total: r.violations_total,
                failed_iterations: r.failed_iterations,
                abandoned_iterations: r.abandoned,
                interrupted: r.interrupted,
                replay: r.first.as_ref().map(|f| f.replay.as_str()),
                ops: &r.ops,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_people_write_them() {
        assert_eq!(short(Duration::from_secs(60)), "60s");
        assert_eq!(short(Duration::from_millis(6667)), "6.667s");
        assert_eq!(short(Duration::from_millis(500)), "0.5s");
        assert_eq!(short(Duration::ZERO), "0s");
        assert_eq!(secs(Duration::from_millis(13)), "0.013s");
        assert_eq!(secs(Duration::from_secs(150)), "150.0s");
    }
}
