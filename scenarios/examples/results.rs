//! Produce docs/RESULTS.md: what the stress runner finds, and how fast.
//!
//! `cargo run --release -p mmlab-scenarios --example results -- [--runs 10] [--cap 10s]
//! [--clean 600s] [--mixed 20s] [--harness crew|spawn] > docs/RESULTS.md` (the `just results`
//! recipe). `--harness spawn` runs every iteration on new threads, the runner's harness before
//! its long-lived crew (the default): for the before/after comparison in docs/PERFORMANCE.md.
//!
//! - For each `race` variant: the median time to first violation over `--runs` runs (each its
//!   own seed) with race-window injection and without, side by side; a run that has not
//!   caught it within `--cap` counts as not found.
//! - For the `clean` variants: one run of `--clean` in total, split among them, and its
//!   violations (there must be none).
//! - For `mixed` (if in the catalog): operations per second by kind at 1 and 2 actor threads,
//!   and lock_stat's most contended classes.
//!
//! Figures are measured in one run on whatever machine runs it; compare ratios, not absolute
//! times (the lab's machine is shared and noisy).

#[cfg(not(mmlab_loom))]
use mmlab_engine::sync::{LockClass, lock_stat};
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::catalog;
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::scenario::Expect;
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::stress::config::{HarnessKind, parse_duration, parse_harness};
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::stress::{Budget, Pair, Quiet, RunConfig, run};
#[cfg(not(mmlab_loom))]
use std::time::Duration;

/// The flags this example takes, each with a value.
#[cfg(not(mmlab_loom))]
const FLAGS: &[&str] = &["--runs", "--cap", "--clean", "--mixed", "--harness"];

#[cfg(not(mmlab_loom))]
const USAGE: &str = "usage: cargo run --release -p mmlab-scenarios --example results -- \
[--runs 10] [--cap 10s] [--clean 600s] [--mixed 20s] [--harness crew|spawn] > docs/RESULTS.md";

/// Bad input: say what and how to call it, exit 2 (before anything is measured or printed to
/// stdout, so a redirected docs/RESULTS.md is not half written by a typo).
#[cfg(not(mmlab_loom))]
fn usage_error(what: &str) -> ! {
    eprintln!("results: {what}\n{USAGE}");
    std::process::exit(2)
}

/// The arguments as (flag, value) pairs, every flag known and given a value; `--help` prints
/// the usage and exits 0.
#[cfg(not(mmlab_loom))]
fn args() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--help" || a == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        if !FLAGS.contains(&a.as_str()) {
            usage_error(&format!("unknown argument {a:?}"));
        }
        match it.next() {
            Some(v) => out.push((a, v)),
            None => usage_error(&format!("{a} needs a value")),
        }
    }
    out
}

#[cfg(not(mmlab_loom))]
fn arg(name: &str, default: &str) -> String {
    args()
        .into_iter()
        .rev()
        .find(|(f, _)| f == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| default.to_string())
}

#[cfg(not(mmlab_loom))]
fn pairs(expected: Expect) -> Vec<Pair> {
    catalog::all()
        .into_iter()
        .filter(|s| !s.long_running())
        .flat_map(|s| {
            s.variants()
                .into_iter()
                .filter(move |v| v.expected == expected)
                .map(move |v| Pair {
                    scenario: s,
                    variant: v,
                })
        })
        .collect()
}

#[cfg(not(mmlab_loom))]
fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    Some(xs[xs.len() / 2])
}

/// Seconds to the first violation of one run of `pair`, or None within `cap`.
#[cfg(not(mmlab_loom))]
fn first_violation(
    pair: &Pair,
    seed: u64,
    inject: bool,
    cap: Duration,
    harness: HarnessKind,
) -> Option<f64> {
    let mut cfg = RunConfig::new(seed);
    cfg.harness = harness;
    cfg.inject = inject;
    cfg.budget = Budget::Duration(cap);
    let report = run(std::slice::from_ref(pair), &cfg, &mut Quiet).ok()?;
    report
        .results
        .first()?
        .first_violation()
        .map(|d| d.as_secs_f64())
}

#[cfg(not(mmlab_loom))]
fn fmt_s(x: Option<f64>) -> String {
    match x {
        Some(s) if s < 1.0 => format!("{:.1} ms", s * 1000.0),
        Some(s) => format!("{s:.2} s"),
        None => "not found".to_string(),
    }
}

#[cfg(not(mmlab_loom))]
fn main() {
    let runs: u64 = arg("--runs", "10")
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or_else(|| usage_error("--runs takes a positive number"));
    let duration = |flag: &str, default: &str| {
        parse_duration(&arg(flag, default))
            .unwrap_or_else(|_| usage_error(&format!("{flag} takes a duration such as 10s or 3m")))
    };
    let cap = duration("--cap", "10s");
    let clean = duration("--clean", "600s");
    let mixed = duration("--mixed", "20s");
    let harness = parse_harness(&arg("--harness", "crew"))
        .unwrap_or_else(|_| usage_error("--harness takes crew or spawn"));
    let harness_arg = match harness {
        HarnessKind::Crew => String::new(),
        other => format!(" --harness {}", other.as_str()),
    };

    println!("# Results\n");
    println!("What the stress runner finds and how fast, measured in one run by");
    println!(
        "`cargo run --release -p mmlab-scenarios --example results -- --runs {runs} --cap {} --clean {} --mixed {}{harness_arg}`",
        humantime::format_duration(cap),
        humantime::format_duration(clean),
        humantime::format_duration(mixed)
    );
    println!(
        "(`just results`) on a {}-core machine. Compare ratios, not absolute times.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    println!("## Race variants: time to first violation\n");
    println!(
        "Median over {runs} runs (seeds 1..={runs}); a run not caught within {} counts as not found.\n",
        humantime::format_duration(cap)
    );
    println!(
        "| scenario | variant | median, injection | found | median, no injection | found | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    for pair in pairs(Expect::Race) {
        let with: Vec<f64> = (1..=runs)
            .filter_map(|s| first_violation(&pair, s, true, cap, harness))
            .collect();
        let without: Vec<f64> = (1..=runs)
            .filter_map(|s| first_violation(&pair, s, false, cap, harness))
            .collect();
        let (mw, mo) = (median(with.clone()), median(without.clone()));
        let ratio = match (mw, mo) {
            (Some(a), Some(b)) if a > 0.0 => format!("{:.1}x", b / a),
            (Some(_), None) => "only with injection".to_string(),
            _ => "-".to_string(),
        };
        println!(
            "| {} | {} | {} | {}/{runs} | {} | {}/{runs} | {ratio} |",
            pair.scenario.name(),
            pair.variant.name,
            fmt_s(mw),
            with.len(),
            fmt_s(mo),
            without.len()
        );
    }

    println!("\n## Clean variants: a long run\n");
    let clean_pairs = pairs(Expect::Clean);
    let mut cfg = RunConfig::new(0x5eed);
    cfg.budget = Budget::Duration(clean);
    cfg.harness = harness;
    match run(&clean_pairs, &cfg, &mut Quiet) {
        Ok(report) => {
            println!(
                "{} in total, split among {} clean variants, injection on:\n",
                humantime::format_duration(clean),
                clean_pairs.len()
            );
            println!("| scenario | variant | iterations | time | violations |");
            println!("|---|---|---|---|---|");
            for r in &report.results {
                println!(
                    "| {} | {} | {} | {:.0} s | {} |",
                    r.scenario,
                    r.variant,
                    r.iterations,
                    r.elapsed.as_secs_f64(),
                    r.violations_total
                );
            }
        }
        Err(e) => println!("clean run refused: {e}"),
    }

    if let Some(m) = catalog::all().into_iter().find(|s| s.long_running()) {
        println!("\n## `{}`: throughput and contention\n", m.name());
        println!("| actor threads | operation | ops/s |");
        println!("|---|---|---|");
        let mut contended = Vec::new();
        for threads in [1usize, 2] {
            lock_stat::reset();
            let mut cfg = RunConfig::new(7);
            cfg.harness = harness;
            cfg.threads = threads;
            cfg.budget = Budget::Duration(mixed);
            let Some(v) = m.variants().first().copied() else {
                continue;
            };
            let pair = Pair {
                scenario: m,
                variant: v,
            };
            if let Ok(report) = run(std::slice::from_ref(&pair), &cfg, &mut Quiet)
                && let Some(r) = report.results.first()
            {
                {
                    let secs = r.elapsed.as_secs_f64().max(1e-9);
                    for (op, n) in &r.ops {
                        println!("| {threads} | {op} | {:.0} |", *n as f64 / secs);
                    }
                    if r.violations_total > 0 {
                        println!("| {threads} | VIOLATIONS | {} |", r.violations_total);
                    }
                }
            }
            contended.push((threads, lock_stat::snapshot()));
        }
        println!("\nlock_stat, most wait first (top 5 per thread count):\n");
        println!("| actor threads | class | acquisitions | contentions | wait total | wait max |");
        println!("|---|---|---|---|---|---|");
        for (threads, snap) in contended {
            for c in snap.iter().filter(|c| c.class != LockClass::Rcu).take(5) {
                println!(
                    "| {threads} | `{}` | {} | {} | {:.2} ms | {:.1} us |",
                    c.class,
                    c.acquisitions,
                    c.contentions,
                    c.wait_total_ns as f64 / 1e6,
                    c.wait_max_ns as f64 / 1e3
                );
            }
        }
    }
}

/// The stress runner is compiled out under `--cfg mmlab_loom`: nothing to run there.
#[cfg(mmlab_loom)]
fn main() {}
