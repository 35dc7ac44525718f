//! The loom side of [`explore`]: build the model, run the scenario in it, catch the failing
//! execution, capture its schedule for replay, and append the report row.

use crate::{Bound, Exploration, Failure, Replay};
use loom::model::Builder;
use mmlab_engine::actor::Env;
use mmlab_engine::check::{Raised, panic_message};
use mmlab_scenarios::scenario::{AnyScenario, Scenario, Size, VariantRef, variant_ref};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Branches (scheduling points) one execution may take, unless `LOOM_MAX_BRANCHES` says
/// otherwise. Loom's default of 1,000 is too few for a kernel path that legitimately retries:
/// `migrate_pages` makes up to 10 passes of unmap, refcount freeze and remap, about 150
/// branches each. A livelock still ends the execution, only later; the limit costs nothing
/// per execution (loom reuses the branch store).
const MAX_BRANCHES: usize = 20_000;

/// Explore every interleaving of `scenario`'s `variant` at [`Size::Tiny`] within `bound`
/// preemptions, stopping at the first failing execution.
///
/// The variant is the scenario's own type, so a misspelt one does not compile.
///
/// Each execution runs `scenario.run(variant, Size::Tiny, &Env::new(0))` — a fresh world, the
/// same seed, no randomness — so that loom's exploration and its checkpoint replay are
/// deterministic. Executions are counted with a `std` atomic, outside the model. When a clean
/// variant fails, the failing schedule is captured in a checkpoint file (see the crate docs).
pub fn explore<S: Scenario + 'static>(
    scenario: &'static S,
    variant: S::Variant,
    bound: Bound,
) -> Exploration {
    let scenario: &'static dyn AnyScenario = scenario;
    let variant = variant_ref(variant);
    install_quiet_hook();
    let bound = bound_override().unwrap_or(bound);
    let start = Instant::now();
    let (executions, failure) = run(scenario, variant, bound, |_| {});
    let wall = start.elapsed();
    let e = Exploration {
        scenario,
        variant,
        bound,
        executions,
        wall,
        failure,
        replay: None,
    };
    if let Some(path) = std::env::var_os("MMLAB_LOOM_REPORT") {
        append_row(&PathBuf::from(path), &e);
    }
    e
}

impl Exploration {
    /// Assert that the exploration found no failure (a clean variant). On a failure, capture
    /// the failing schedule for replay and panic with the full report.
    #[track_caller]
    pub fn assert_clean(mut self) {
        if self.failure.is_some() {
            self.capture_replay();
            panic!("{}", self.failure_report());
        }
        eprintln!("{}: clean", self.headline());
    }

    /// Assert that the exploration found an interleaving in which one of the scenario's own
    /// oracles fires (a race variant): the counterexample is the test passing. A failure of
    /// any other kind is captured for replay and reported in full.
    #[track_caller]
    pub fn assert_caught(mut self) {
        let names = self.oracle_names();
        if self.failure.is_none() {
            panic!(
                "{}\nMISSED: no interleaving within the bound fires any of {names:?}",
                self.headline()
            );
        }
        if !self.caught_by_own_oracle() {
            self.capture_replay();
            panic!(
                "{}\nthe failing execution is not one of the scenario's oracles {names:?}",
                self.failure_report()
            );
        }
        eprintln!("{}: {}", self.headline(), self.result());
    }

    /// Capture the failing schedule in a checkpoint file, unless the user is already
    /// replaying one (`LOOM_CHECKPOINT_FILE` set).
    fn capture_replay(&mut self) {
        if std::env::var_os("LOOM_CHECKPOINT_FILE").is_some() {
            return;
        }
        if let Some(failure) = &self.failure {
            self.replay = capture(
                self.scenario,
                self.variant,
                self.bound,
                self.executions,
                failure,
            );
        }
    }
}

/// `MMLAB_LOOM_BOUND` (a number, or `unbounded`) overrides every test's pinned bound: for
/// exploring deeper, or for measuring what a bound costs. The report records the bound used.
fn bound_override() -> Option<Bound> {
    let v = std::env::var("MMLAB_LOOM_BOUND").ok()?;
    if v == "unbounded" {
        return Some(Bound::Unbounded);
    }
    match v.parse() {
        Ok(n) => Some(Bound::Preemptions(n)),
        Err(_) => panic!("MMLAB_LOOM_BOUND={v}: expected a number of preemptions or `unbounded`"),
    }
}

/// Run one loom exploration; `configure` adjusts the builder after the bound is pinned.
/// Returns the executions run and the first failure's message.
fn run(
    scenario: &'static dyn AnyScenario,
    variant: VariantRef,
    bound: Bound,
    configure: impl FnOnce(&mut Builder),
) -> (u64, Option<Failure>) {
    // Builder::new reads loom's environment (LOOM_CHECKPOINT_FILE, LOOM_MAX_BRANCHES, ...);
    // the preemption bound is the test's own, whatever LOOM_MAX_PREEMPTIONS says.
    let mut builder = Builder::new();
    builder.preemption_bound = bound.as_loom();
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = MAX_BRANCHES;
    }
    configure(&mut builder);
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    FIRST_PANIC_SITE.with(|s| s.borrow_mut().take());
    QUIET.with(|q| q.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        builder.check(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            mmlab_engine::trace::forget_observed();
            let env = Env::new(0);
            let out = env.play(|| scenario.run_variant(variant, Size::Tiny, &env));
            // Under loom every violation panics where it is reported; one that reached the
            // sink some other way still fails the execution, with the same payload.
            if let Some(v) = out.violations.first() {
                std::panic::panic_any(Raised {
                    violation: v.clone(),
                    trace: Some(out.trace),
                });
            }
        });
    }));
    QUIET.with(|q| q.set(false));
    let failure = result.err().map(|payload| {
        let violation = payload
            .downcast_ref::<Raised>()
            .map(|r| r.violation.clone());
        let msg = panic_message(payload.as_ref());
        let text = match FIRST_PANIC_SITE.with(|s| s.borrow_mut().take()) {
            Some((site, trace)) if violation.is_none() => {
                format!("panicked at {site}: {msg}{trace}")
            }
            _ => msg,
        };
        Failure { violation, text }
    });
    (count.load(Ordering::Relaxed), failure)
}

/// Explore again, saving the failing execution's schedule in a checkpoint file just before it
/// runs; then replay that file once to check that it reproduces the failure.
fn capture(
    scenario: &'static dyn AnyScenario,
    variant: VariantRef,
    bound: Bound,
    failed_at: u64,
    failure: &Failure,
) -> Option<Replay> {
    let dir = replay_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let checkpoint = dir.join(format!("{}.{}.json", scenario.name(), variant.name));
    let _ = std::fs::remove_file(&checkpoint);
    // Exploration is deterministic, so the failure recurs at the same execution: loom saves
    // the schedule of execution `i` before running it when `i % interval == 0`, so an
    // interval of exactly that index writes the file once, with the failing schedule.
    let (capture_executions, again) = run(scenario, variant, bound, |b| {
        b.checkpoint_file = Some(checkpoint.clone());
        b.checkpoint_interval = usize::try_from(failed_at).unwrap_or(1).max(1);
    });
    again?;
    // Replay from a copy: with interval 1 loom rewrites its checkpoint file as it goes.
    let probe = dir.join(format!(
        "{}.{}.replay-check.json",
        scenario.name(),
        variant.name
    ));
    std::fs::copy(&checkpoint, &probe).ok()?;
    let (_, replayed) = run(scenario, variant, bound, |b| {
        b.checkpoint_file = Some(probe.clone());
        b.checkpoint_interval = 1;
        // Loom checks the limit before each execution: 2 lets exactly one run.
        b.max_permutations = Some(2);
    });
    let _ = std::fs::remove_file(&probe);
    Some(Replay {
        checkpoint,
        capture_executions,
        reproduced: replayed.is_some_and(|r| r.text == failure.text),
    })
}

/// Where captured checkpoints go: `$MMLAB_LOOM_REPLAY_DIR`, else `loom-replay/` in the
/// target directory the test binary was built in (`target/loom/loom-replay`).
fn replay_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MMLAB_LOOM_REPLAY_DIR") {
        return d.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("loom-replay")))
        .unwrap_or_else(|| std::env::temp_dir().join("mmlab-loom-replay"))
}

/// One tab-separated row: scenario, test, variant, expected, bound, executions, wall seconds,
/// result.
fn append_row(path: &PathBuf, e: &Exploration) {
    let test = std::thread::current()
        .name()
        .unwrap_or("?")
        .rsplit("::")
        .next()
        .unwrap_or("?")
        .to_string();
    let row = format!(
        "{}\t{test}\t{}\t{}\t{}\t{}\t{:.3}\t{}\n",
        e.scenario.name(),
        e.variant.name,
        e.expected().as_str(),
        e.bound,
        e.executions,
        e.wall.as_secs_f64(),
        e.result()
    );
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(row.as_bytes()));
    if let Err(err) = written {
        eprintln!("MMLAB_LOOM_REPORT={}: {err}", path.display());
    }
}

// Panics inside a model are this crate's results, not noise: while a model runs, the panic
// hook stays quiet (the failure report prints the message) and only notes where the first
// panic happened, for panics that are not violations (a violation names its own sites).
std::thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static FIRST_PANIC_SITE: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Where in the lab's code the model thread was when a non-violation panic struck (loom's own
/// limits name only loom's internals): the mmlab frames of the current stack, innermost first.
fn model_stack() -> String {
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    let mut out = String::new();
    let mut keep = false;
    for line in bt.lines() {
        let t = line.trim_start();
        if t.starts_with("at ") {
            if keep {
                out.push_str(&format!("      {t}\n"));
            }
            continue;
        }
        keep = t.contains("mmlab_") && !t.contains("mmlab_loom_tests");
        if keep {
            let name = t.split_once(": ").map_or(t, |(_, n)| n);
            out.push_str(&format!("    {name}\n"));
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("\nthe failing model thread was in:\n{out}")
    }
}

fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                FIRST_PANIC_SITE.with(|s| {
                    let mut s = s.borrow_mut();
                    if s.is_some() {
                        return;
                    }
                    let site = info
                        .location()
                        .map_or_else(|| "?".into(), |l| format!("{}:{}", l.file(), l.line()));
                    // A violation quotes the trace itself; for any other panic (loom's own
                    // limits, a plain bug) note where the model was. The stack is captured
                    // only then: symbolising it costs tens of milliseconds.
                    let violation = info.payload().downcast_ref::<Raised>().is_some();
                    let context = if violation {
                        String::new()
                    } else {
                        let trace = mmlab_engine::trace::render_observed(
                            mmlab_engine::check::LOOM_TRACE_EVENTS,
                        )
                        .map(|t| format!("\ntrace of this interleaving, in execution order:\n{t}"))
                        .unwrap_or_default();
                        format!("{}{trace}", model_stack())
                    };
                    *s = Some((site, context));
                });
            } else {
                previous(info);
            }
        }));
    });
}

/// Explore a hand-built model — a reduced regression test, not a catalog scenario — within
/// `bound`, pinned as [`explore`] pins it (`MMLAB_LOOM_BOUND` overrides it,
/// `LOOM_MAX_PREEMPTIONS` does not). Every execution runs `model`, which returns the
/// violations its oracles reported and the domain trace of that execution; any violation
/// fails the test with the trace of the interleaving that produced it. Prints the executions
/// and the time they took under `name`, and returns the executions.
pub fn assert_model_clean(
    name: &str,
    bound: Bound,
    model: impl Fn() -> (Vec<mmlab_engine::check::Violation>, String) + Sync + Send + 'static,
) -> u64 {
    let bound = bound_override().unwrap_or(bound);
    let mut builder = Builder::new();
    builder.preemption_bound = bound.as_loom();
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = MAX_BRANCHES;
    }
    let executions = Arc::new(AtomicU64::new(0));
    let counted = executions.clone();
    let started = Instant::now();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        let (violations, trace) = model();
        assert!(
            violations.is_empty(),
            "{}\ntrace:\n{trace}",
            violations
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    });
    let n = executions.load(Ordering::Relaxed);
    println!(
        "{name}: {n} executions ({bound:?}) in {:.2?}",
        started.elapsed()
    );
    n
}
