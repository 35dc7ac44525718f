//! `mmlab contention`: a lock_stat report of scenario variants under load.
//!
//! The kernel's `/proc/lock_stat` answers "which lock do my CPUs wait on, where, and for how
//! long"; this answers the same for a scenario. For each variant measured the command resets
//! the engine's lock_stat counters, runs the variant's iterations for a duration on real
//! threads, and reports per lock class — sorted by total wait, as lock_stat sorts —
//! acquisitions, contentions, wait total/avg/max, hold total/avg/max, and the call sites that
//! waited most ("contention points"). Race-window injection is off by default here: injected
//! stalls inside critical sections would be measured as hold time that the kernel path does not
//! have.
//!
//! **What is counted.** lock_stat is process-wide and the scenario owns its iteration: it
//! builds its world (mm_alloc, mmap, mlock, faults...), runs its actors, then checks the
//! quiescent invariants, and the command cannot reset the counters between those steps. So
//! *acquisitions and hold times include each iteration's setup and checks*. Those run on the
//! iteration's own thread while no actor runs, so they never contend: *contentions, wait
//! times, the wait histogram and the contention points are the actors' alone* — which is what
//! a convoy is made of. The table says so under each report; the benchmarks in `benches/`,
//! which own their setup, reset lock_stat after it and so count only the measured phase.
//!
//! `--variant all` measures each variant in turn, each for the whole `--duration`, and prints
//! one table each, then the wait totals side by side. Its `--json` document is
//! `{"scenario", "seed", "variants": [...]}`, each element the single-variant document (the
//! contract of docs/RUNNER.md); a single variant writes that document alone.
//! `--svg` draws the wait histograms ([`super::contention_svg`]).

use super::iteration;
use super::report::secs;
use super::seed::iteration_seed;
use super::select::Pair;
use super::shard::Shard;
use crate::cli::Program;
use crate::scenario::{AnyScenario, VariantRef};
use mmlab_engine::actor::Env;
use mmlab_engine::sync::lock_stat::{self, ClassSnapshot, SiteSnapshot};
use mmlab_engine::sync::switches;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Default measuring time.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(5);
/// Contention points listed in the table.
pub const TOP_SITES: usize = 10;

/// How to measure.
#[derive(Debug, Clone)]
pub struct ContentionConfig {
    /// The run seed (iteration seeds derive from it as in `mmlab run`).
    pub seed: u64,
    /// How long to run the variant's iterations.
    pub duration: Duration,
    /// `Env::threads`.
    pub threads: usize,
    /// Race-window injection (default off: see the module docs).
    pub inject: bool,
    /// The watchdog's bound.
    pub hang_after: Duration,
    /// Ctrl-C: stop after the current iteration and report what was measured.
    pub stop: Arc<AtomicBool>,
    /// The program the measurement is part of: what its printed commands invoke.
    pub program: Program,
}

impl ContentionConfig {
    /// Defaults, with this seed.
    pub fn new(seed: u64) -> Self {
        ContentionConfig {
            seed,
            duration: DEFAULT_DURATION,
            threads: super::config::default_threads(),
            inject: false,
            hang_after: super::config::DEFAULT_HANG_AFTER,
            stop: Arc::new(AtomicBool::new(false)),
            program: Program::MMLAB,
        }
    }
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct ContentionReport {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The variant's name.
    pub variant: &'static str,
    /// The run seed.
    pub seed: u64,
    /// Time measured.
    pub elapsed: Duration,
    /// Iterations run.
    pub iterations: u64,
    /// Violations reported along the way (a contention run does not judge them).
    pub violations: u64,
    /// Per class, most wait first; classes never acquired are left out.
    pub classes: Vec<ClassSnapshot>,
    /// Contention points, most wait first.
    pub sites: Vec<SiteSnapshot>,
    /// The program it ran in (for the commands the report prints).
    pub program: Program,
    /// Stopped by Ctrl-C before its duration.
    pub interrupted: bool,
}

/// The variant `contention` measures when none is named: `fixed` if there is one (the kernel
/// as it is), else the first.
pub fn default_variant(scenario: &dyn AnyScenario) -> Option<VariantRef> {
    scenario
        .variant("fixed")
        .ok()
        .or_else(|| scenario.variants().first().copied())
}

/// Measure `pair` under `cfg`.
pub fn measure(pair: &Pair, cfg: &ContentionConfig) -> ContentionReport {
    switches::set_stats(true);
    lock_stat::reset();
    let started = Instant::now();
    let deadline = started + cfg.duration;
    let mut iterations = 0;
    let mut violations = 0;
    let mut interrupted = false;
    // Threads per iteration, as before the crew: lock_stat hands a thread's counts to the
    // totals when it exits, and this measurement was made (and documented) that way.
    let mut runner = iteration::Iterations::new(pair.scenario, pair.variant);
    for index in Shard::WHOLE.indices() {
        let now = Instant::now();
        if iterations > 0 && now >= deadline {
            break;
        }
        let seed = iteration_seed(cfg.seed, pair.scenario.name(), pair.variant.name, index);
        let mut env = Env::new(seed);
        env.inject = cfg.inject;
        env.threads = cfg.threads;
        env.hang_after = cfg.hang_after;
        env.stop = cfg.stop.clone();
        env.duration = pair.scenario.long_running().then(|| {
            deadline
                .saturating_duration_since(now)
                .max(Duration::from_millis(1))
        });
        let it = runner.run_one(&env);
        iterations += 1;
        violations += it.outcome.violations.len() as u64;
        if cfg.stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
    }
    let elapsed = started.elapsed();
    ContentionReport {
        scenario: pair.scenario.name(),
        variant: pair.variant.name,
        seed: cfg.seed,
        elapsed,
        iterations,
        violations,
        classes: lock_stat::snapshot(),
        sites: lock_stat::sites_snapshot(),
        program: cfg.program,
        interrupted,
    }
}

/// Printed under every table: what the columns include (see the module docs).
pub const SETUP_NOTE: &str = "\nacquisitions and hold times include each iteration's setup and checks (they run alone, \
so they never wait);\ncontentions, waits and contention points are the actors' alone.\n";

/// With several variants: each class's wait total (and contentions) per variant, side by
/// side, classes in the order of their largest wait.
pub fn comparison(reports: &[ContentionReport]) -> String {
    let mut classes: Vec<(&'static str, u64)> = Vec::new();
    for c in reports.iter().flat_map(|r| &r.classes) {
        match classes.iter_mut().find(|(n, _)| *n == c.class.name()) {
            Some((_, w)) => *w = (*w).max(c.wait_total_ns),
            None => classes.push((c.class.name(), c.wait_total_ns)),
        }
    }
    classes.sort_by_key(|c| std::cmp::Reverse(c.1));
    let mut out = String::from("wait total (contentions) per variant:\n");
    let mut header = vec!["class".to_string()];
    header.extend(reports.iter().map(|r| r.variant.to_string()));
    let rows: Vec<Vec<String>> = classes
        .iter()
        .map(|(name, _)| {
            let mut row = vec![name.to_string()];
            for r in reports {
                row.push(
                    r.classes
                        .iter()
                        .find(|c| c.class.name() == *name)
                        .map_or("-".to_string(), |c| {
                            format!("{} ({})", ns(c.wait_total_ns), c.contentions)
                        }),
                );
            }
            row
        })
        .collect();
    out.push_str(&columns_dyn(&header, &rows));
    out
}

/// [`columns`] for a width known only at run time.
fn columns_dyn(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{cell:<w$}", w = widths[0]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = widths[i]);
            }
        }
        out.push('\n');
    }
    out
}

/// Nanoseconds, in the unit that suits them.
pub fn ns(n: u64) -> String {
    let n = n as f64;
    if n < 1e3 {
        format!("{n:.0}ns")
    } else if n < 1e6 {
        format!("{:.1}us", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1}ms", n / 1e6)
    } else {
        format!("{:.2}s", n / 1e9)
    }
}

fn avg(total: u64, n: u64) -> u64 {
    total.checked_div(n).unwrap_or(0)
}

/// The lock_stat table and the top contention points.
pub fn table(r: &ContentionReport) -> String {
    let mut out = format!(
        "lock_stat: {}/{} for {}, {} iteration{}{}\n\n",
        r.scenario,
        r.variant,
        secs(r.elapsed),
        r.iterations,
        if r.iterations == 1 { "" } else { "s" },
        if r.interrupted { " (interrupted)" } else { "" },
    );
    if r.classes.is_empty() {
        out.push_str("no lock was taken.\n");
        return out;
    }
    let header = [
        "class",
        "acquisitions",
        "contentions",
        "wait total",
        "wait avg",
        "wait max",
        "hold total",
        "hold avg",
        "hold max",
    ];
    let rows: Vec<[String; 9]> = r
        .classes
        .iter()
        .map(|c| {
            [
                c.class.name().to_string(),
                c.acquisitions.to_string(),
                c.contentions.to_string(),
                ns(c.wait_total_ns),
                ns(avg(c.wait_total_ns, c.contentions)),
                ns(c.wait_max_ns),
                ns(c.hold_total_ns),
                ns(avg(c.hold_total_ns, c.acquisitions)),
                ns(c.hold_max_ns),
            ]
        })
        .collect();
    out.push_str(&columns(&header, &rows));
    if !r.sites.is_empty() {
        out.push_str("\ncontention points (most wait first):\n");
        let rows: Vec<[String; 4]> = r
            .sites
            .iter()
            .take(TOP_SITES)
            .map(|s| {
                [
                    s.class.name().to_string(),
                    s.site.clone(),
                    s.contentions.to_string(),
                    ns(s.wait_total_ns),
                ]
            })
            .collect();
        out.push_str(&columns(
            &["class", "site", "contentions", "wait total"],
            &rows,
        ));
    }
    out.push_str(SETUP_NOTE);
    if r.violations > 0 {
        let _ = writeln!(
            out,
            "\nnote: {} violation{} reported during the measurement; `{} run {} --variant {}` judges them.",
            r.violations,
            if r.violations == 1 { " was" } else { "s were" },
            r.program.invocation(),
            r.scenario,
            r.variant
        );
    }
    out
}

/// Left-aligned first column, right-aligned numbers.
fn columns<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        for (i, cell) in cells.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{cell:<w$}", w = widths[0]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = widths[i]);
            }
        }
        out.push('\n');
    };
    line(*header);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

/// The `contention --json` document, fields in contract order.
#[derive(Debug, Serialize)]
pub struct ContentionDocument<'a> {
    scenario: &'a str,
    variant: &'a str,
    seed: u64,
    elapsed_s: f64,
    iterations: u64,
    violations: u64,
    interrupted: bool,
    classes: Vec<JsonClass>,
    sites: Vec<JsonSite<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonClass {
    class: &'static str,
    acquisitions: u64,
    contentions: u64,
    wait_total_ns: u64,
    wait_max_ns: u64,
    hold_total_ns: u64,
    hold_max_ns: u64,
    /// Bucket `i` counts waits in `[2^i, 2^(i+1))` ns.
    wait_hist: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct JsonSite<'a> {
    class: &'static str,
    site: &'a str,
    contentions: u64,
    wait_total_ns: u64,
}

/// The `contention --variant all --json` document: the run's scenario and seed, and the
/// single-variant document of each variant measured, in the order measured.
#[derive(Debug, Serialize)]
pub struct ContentionAllDocument<'a> {
    scenario: &'a str,
    seed: u64,
    variants: Vec<ContentionDocument<'a>>,
}

/// The `contention --variant all --json` document.
pub fn document_all(reports: &[ContentionReport]) -> ContentionAllDocument<'_> {
    ContentionAllDocument {
        scenario: reports.first().map_or("", |r| r.scenario),
        seed: reports.first().map_or(0, |r| r.seed),
        variants: reports.iter().map(document).collect(),
    }
}

/// The `contention --variant all --json` document, as a JSON value.
pub fn to_json_all(reports: &[ContentionReport]) -> serde_json::Value {
    serde_json::to_value(document_all(reports)).unwrap_or(serde_json::Value::Null)
}

/// The `contention --json` document, as a JSON value.
pub fn to_json(r: &ContentionReport) -> serde_json::Value {
    serde_json::to_value(document(r)).unwrap_or(serde_json::Value::Null)
}

/// The `contention --json` document, ready to serialise in field order.
pub fn document(r: &ContentionReport) -> ContentionDocument<'_> {
    ContentionDocument {
        scenario: r.scenario,
        variant: r.variant,
        seed: r.seed,
        elapsed_s: r.elapsed.as_secs_f64(),
        iterations: r.iterations,
        violations: r.violations,
        interrupted: r.interrupted,
        classes: r
            .classes
            .iter()
            .map(|c| JsonClass {
                class: c.class.name(),
                acquisitions: c.acquisitions,
                contentions: c.contentions,
                wait_total_ns: c.wait_total_ns,
                wait_max_ns: c.wait_max_ns,
                hold_total_ns: c.hold_total_ns,
                hold_max_ns: c.hold_max_ns,
                wait_hist: c.wait_hist.clone(),
            })
            .collect(),
        sites: r
            .sites
            .iter()
            .map(|s| JsonSite {
                class: s.class.name(),
                site: &s.site,
                contentions: s.contentions,
                wait_total_ns: s.wait_total_ns,
            })
            .collect(),
    }
}
