//! The runner: every selected (scenario, variant) pair, iteration after iteration, judged.
//!
//! For each pair, in catalog order, the runner walks the pair's global iteration indices that
//! its shard owns ([`super::shard`]), derives each iteration's seed ([`super::seed`]), builds
//! an [`Env`] (seed, injection, threads, watchdog bound, the run's stop flag), and runs the
//! scenario once at [`Size::Stress`](crate::scenario::Size::Stress) through
//! `iteration.rs`, which survives panics and hangs. It stops a pair when:
//!
//! - the pair is a `race` variant and an iteration fired: first violation is what a race run
//!   is for, and the rest of its time goes to the pairs after it;
//! - the pair's budget is spent (a `clean` variant always uses its whole share: silence is
//!   only evidence in proportion to the time spent listening);
//! - the stop flag is set (Ctrl-C): the current iteration finishes first.
//!
//! A long-running scenario (`About::long_running`) runs its actors for a duration rather
//! than once: under a time budget it is given the rest of its share (so it usually runs once),
//! under `--iterations` each iteration lasts [`LONG_ITERATION`].

use super::config::HarnessKind;
use super::config::{Budget, LONG_ITERATION, MIN_LONG_ITERATION, RunConfig};
use super::iteration::{self, IterationOutcome, Iterations};
use super::seed::iteration_seed;
use super::select::Pair;
use super::shard::Shard;
use super::usage::UsageError;
use super::verdict::{self, Verdict};
use crate::scenario::Expect;
use mmlab_engine::actor::{self, Crew, Env, Harness};
use mmlab_engine::check::{Oracle, Violation};
use mmlab_engine::sync::held;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many violations are kept per pair (all are counted).
pub const MAX_RECORDED: usize = 100;

/// One violation, as kept in a result and written by `run --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationRecord {
    /// The oracle that fired.
    pub oracle: Oracle,
    /// What it saw.
    pub message: String,
    /// The call sites involved, `file:line`, most recent first.
    pub sites: Vec<String>,
    /// The seed of the iteration it fired in: `--seed` of its replay.
    pub seed: u64,
    /// The global index of that iteration.
    pub iteration: u64,
}

/// The first iteration of a pair that fired, kept whole: what `mmlab run` prints.
#[derive(Debug, Clone)]
pub struct FirstFailure {
    /// Its seed.
    pub seed: u64,
    /// Its global index.
    pub iteration: u64,
    /// Time from the pair's start to the end of that iteration.
    pub at: Duration,
    /// Every violation it reported, in the order they were reported.
    pub violations: Vec<Violation>,
    /// Which of them heads the story: the first that fired one of the scenario's own oracles
    /// (the catch), else the first.
    pub headline: usize,
    /// Its domain trace, as the scenario rendered it.
    pub trace: String,
    /// The command that replays it.
    pub replay: String,
    /// It never returned: its threads were abandoned.
    pub abandoned: bool,
}

/// What one (scenario, variant) pair did.
#[derive(Debug, Clone)]
pub struct PairResult {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The variant's name.
    pub variant: &'static str,
    /// What the variant expects.
    pub expected: Expect,
    /// Iterations run.
    pub iterations: u64,
    /// Wall-clock time spent on the pair (so far, while it runs).
    pub elapsed: Duration,
    /// Iterations that reported at least one violation.
    pub failed_iterations: u64,
    /// Violations reported, in all.
    pub violations_total: u64,
    /// The first [`MAX_RECORDED`] violations.
    pub violations: Vec<ViolationRecord>,
    /// The first iteration that fired, in full.
    pub first: Option<FirstFailure>,
    /// An iteration fired one of the scenario's own oracles (see [`super::verdict`]).
    pub caught: bool,
    /// An iteration fired, but none of the scenario's own oracles.
    pub stray: bool,
    /// Iterations abandoned because they never returned.
    pub abandoned: u64,
    /// Operations completed, by kind, summed over iterations (long-running workloads).
    pub ops: BTreeMap<&'static str, u64>,
    /// The run was stopped (Ctrl-C) while this pair was running: its budget is not spent.
    pub interrupted: bool,
}

impl PairResult {
    fn new(pair: &Pair) -> Self {
        PairResult {
            scenario: pair.scenario.name(),
            variant: pair.variant.name,
            expected: pair.variant.expected,
            iterations: 0,
            elapsed: Duration::ZERO,
            failed_iterations: 0,
            violations_total: 0,
            violations: Vec::new(),
            first: None,
            caught: false,
            stray: false,
            abandoned: 0,
            ops: BTreeMap::new(),
            interrupted: false,
        }
    }

    /// `race` if any oracle fired, else `clean`.
    pub fn observed(&self) -> Expect {
        if self.violations_total > 0 {
            Expect::Race
        } else {
            Expect::Clean
        }
    }

    /// The verdict (see [`super::verdict`]).
    pub fn verdict(&self) -> Verdict {
        match self.expected {
            Expect::Clean if self.violations_total == 0 => Verdict::Ok,
            Expect::Clean => Verdict::Unexpected,
            Expect::Race if self.stray => Verdict::Unexpected,
            Expect::Race if self.caught => Verdict::Ok,
            Expect::Race => Verdict::Missed,
        }
    }

    /// Time from the pair's start to the end of its first failing iteration.
    pub fn first_violation(&self) -> Option<Duration> {
        self.first.as_ref().map(|f| f.at)
    }
}

/// What a whole run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run seed.
    pub seed: u64,
    /// Actor threads (`Env::threads`).
    pub threads: usize,
    /// Race-window injection on?
    pub inject: bool,
    /// The shard this process ran.
    pub shard: Shard,
    /// The budget asked for.
    pub budget: Budget,
    /// One result per pair that started, in order.
    pub results: Vec<PairResult>,
    /// Pairs selected (some may not have started if the run was stopped).
    pub pairs_selected: usize,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Stopped by Ctrl-C before its budget was spent.
    pub interrupted: bool,
}

impl RunReport {
    /// How many results have each verdict: (OK, MISSED, UNEXPECTED).
    pub fn tally(&self) -> (usize, usize, usize) {
        self.results
            .iter()
            .fold((0, 0, 0), |(ok, missed, unexpected), r| match r.verdict() {
                Verdict::Ok => (ok + 1, missed, unexpected),
                Verdict::Missed => (ok, missed + 1, unexpected),
                Verdict::Unexpected => (ok, missed, unexpected + 1),
            })
    }

    /// Was every verdict OK?
    pub fn all_ok(&self) -> bool {
        self.results.iter().all(|r| r.verdict() == Verdict::Ok)
    }

    /// The process exit status: 130 if interrupted (the run is incomplete, whatever it found
    /// so far — the printed table and the JSON say what that was), else 0 if every verdict is
    /// OK and 1 if any is MISSED or UNEXPECTED.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            super::EXIT_INTERRUPTED
        } else if self.all_ok() {
            super::EXIT_OK
        } else {
            super::EXIT_UNEXPECTED
        }
    }
}

/// Watches a run as it goes: the command line draws progress and prints failures; tests use
/// [`Quiet`]. Every method has a do-nothing default.
pub trait Observer {
    /// The run is about to start `pairs` pairs within `budget` (`None`: an iteration budget).
    fn run_started(&mut self, _cfg: &RunConfig, _pairs: &[Pair], _budget: Option<Duration>) {}
    /// Pair number `index` starts, with `share` of the time budget (`None`: iterations).
    fn pair_started(&mut self, _index: usize, _pair: &Pair, _share: Option<Duration>) {}
    /// An iteration of the current pair finished; `result` is the pair's result so far.
    fn iteration_done(&mut self, _result: &PairResult) {}
    /// A pair finished.
    fn pair_done(&mut self, _result: &PairResult) {}
}

/// An observer that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {}

/// How a pair's iterations end.
#[derive(Debug, Clone, Copy)]
enum Share {
    /// Stop starting iterations at this instant (after at least one).
    Until(Instant),
    /// Global indices below this.
    Below(u64),
}

/// Run `pairs` under `cfg`, telling `observer` as it goes.
pub fn run(
    pairs: &[Pair],
    cfg: &RunConfig,
    observer: &mut dyn Observer,
) -> Result<RunReport, UsageError> {
    cfg.check(pairs)?;
    let started = Instant::now();
    let total = cfg.budget.total(pairs.len());
    observer.run_started(cfg, pairs, total);
    let mut results = Vec::with_capacity(pairs.len());
    let mut interrupted = false;
    // One crew of actor threads for the whole run; its idle workers exit when it is dropped.
    let harness = match cfg.harness {
        HarnessKind::Crew => Harness::Crew(Crew::new()),
        HarnessKind::Spawn => Harness::Spawn,
    };
    for (index, pair) in pairs.iter().enumerate() {
        if cfg.stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let share = match (total, cfg.budget) {
            (Some(total), _) => {
                let left = total.saturating_sub(started.elapsed());
                let pairs_left = u32::try_from(pairs.len() - index).unwrap_or(u32::MAX);
                Share::Until(Instant::now() + left / pairs_left)
            }
            (None, Budget::Iterations(n)) => Share::Below(n),
            // `Budget::total` is `None` only for iteration budgets.
            (None, _) => Share::Below(1),
        };
        let share_time = match share {
            Share::Until(t) => Some(t.saturating_duration_since(Instant::now())),
            Share::Below(_) => None,
        };
        observer.pair_started(index, pair, share_time);
        let result = run_pair(pair, cfg, &harness, share, observer);
        interrupted |= result.interrupted;
        observer.pair_done(&result);
        results.push(result);
        if interrupted {
            break;
        }
    }
    Ok(RunReport {
        seed: cfg.seed,
        threads: cfg.threads,
        inject: cfg.inject,
        shard: cfg.shard,
        budget: cfg.budget,
        results,
        pairs_selected: pairs.len(),
        elapsed: started.elapsed(),
        interrupted,
    })
}

fn run_pair(
    pair: &Pair,
    cfg: &RunConfig,
    harness: &Harness,
    share: Share,
    observer: &mut dyn Observer,
) -> PairResult {
    match harness {
        Harness::Crew(_) => run_pair_crew(pair, cfg, harness, share, observer),
        _ => run_pair_spawn(pair, cfg, share, observer),
    }
}

/// When the next iteration of a pair should not start: its budget is spent.
fn share_spent(share: Share, iterations: u64, index: u64) -> bool {
    match share {
        Share::Until(t) => iterations > 0 && Instant::now() >= t,
        Share::Below(n) => index >= n,
    }
}

/// A long-running iteration's duration (`None` for one that runs once).
fn long_duration(long: bool, share: Share) -> Option<Duration> {
    long.then(|| match share {
        Share::Until(t) => {
            nearest_ms(t.saturating_duration_since(Instant::now())).max(MIN_LONG_ITERATION)
        }
        Share::Below(_) => LONG_ITERATION,
    })
}

/// The iteration's environment, as every harness builds it.
fn iteration_env(cfg: &RunConfig, seed: u64, duration: Option<Duration>) -> Env {
    let mut env = Env::new(seed);
    env.inject = cfg.inject;
    env.threads = cfg.threads;
    env.hang_after = cfg.hang_after;
    env.duration = duration;
    env.stop = cfg.stop.clone();
    env
}

/// `--harness spawn`: each iteration on new threads, the runner waiting for each.
fn run_pair_spawn(
    pair: &Pair,
    cfg: &RunConfig,
    share: Share,
    observer: &mut dyn Observer,
) -> PairResult {
    let started = Instant::now();
    let mut result = PairResult::new(pair);
    let mut iterations = Iterations::new(pair.scenario, pair.variant);
    let long = pair.scenario.long_running();
    for index in cfg.shard.indices() {
        if share_spent(share, result.iterations, index) {
            break;
        }
        let duration = long_duration(long, share);
        let seed = iteration_seed(cfg.seed, pair.scenario.name(), pair.variant.name, index);
        let env = iteration_env(cfg, seed, duration);
        let it = iterations.run_one(&env);
        result.iterations += 1;
        let at = started.elapsed();
        result.elapsed = at;
        record(&mut result, pair, cfg, index, seed, duration, at, it);
        observer.iteration_done(&result);
        if cfg.stop.load(Ordering::SeqCst) {
            result.interrupted = true;
            break;
        }
        if pair.variant.expected == Expect::Race && result.failed_iterations > 0 {
            break;
        }
    }
    result.elapsed = started.elapsed();
    result
}

/// The iteration a pair's loop thread is running, for the runner's hang check.
struct Running {
    index: u64,
    seed: u64,
    duration: Option<Duration>,
    sink: mmlab_engine::check::Sink,
}

/// Where a pair's loop thread leaves its reports. It does not wake the runner for each
/// iteration (the runner looks every `POLL`; an iteration's time is taken on the loop's
/// thread): on a two-core machine that wake-up would take a core from the next iteration's
/// actors. Only the last report wakes it.
struct Mailbox {
    /// Protected by: its own mutex.
    reports: Mutex<Vec<Report>>,
    runner: std::thread::Thread,
    /// The runner gave up on the thread: whatever it posts now is not read.
    abandoned: AtomicBool,
}

impl Mailbox {
    /// Leave `report`; false if the runner has abandoned the thread (it should stop).
    fn post(&self, report: Report) -> bool {
        if self.abandoned.load(Ordering::SeqCst) {
            return false;
        }
        let last = matches!(report, Report::End { .. });
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
        if last {
            self.runner.unpark();
        }
        true
    }
}

/// What a pair's loop thread tells the runner.
enum Report {
    /// An iteration finished, `at` after the pair started.
    Done {
        index: u64,
        seed: u64,
        duration: Option<Duration>,
        at: Duration,
        it: IterationOutcome,
    },
    /// The loop ended: its budget is spent, its race was caught, or it was stopped
    /// (`interrupted`); or (`retire_after`) its thread is unfit for more after that index and
    /// the runner should go on from there on a fresh one.
    End {
        interrupted: bool,
        retire_after: Option<u64>,
    },
}

/// The default harness: the pair's whole loop on one long-lived thread (its iterations' actors
/// on the run's crew), which reports each iteration as it ends and goes straight on to the
/// next, so the runner's bookkeeping never stands between two iterations. Every decision is
/// the spawning loop's — budget, seeds, early stop of a caught race, Ctrl-C after the current
/// iteration — taken on the loop's thread; the runner records and watches. An iteration that
/// never returns is abandoned as in `iteration::run_one` (same grace, same report), and the
/// pair goes on from the next index on a fresh thread.
fn run_pair_crew(
    pair: &Pair,
    cfg: &RunConfig,
    harness: &Harness,
    share: Share,
    observer: &mut dyn Observer,
) -> PairResult {
    let started = Instant::now();
    let mut result = PairResult::new(pair);
    let mut resume_after: Option<u64> = None;
    'threads: loop {
        let mailbox = Arc::new(Mailbox {
            reports: Mutex::new(Vec::new()),
            runner: std::thread::current(),
            abandoned: AtomicBool::new(false),
        });
        let running: Arc<Mutex<Option<Running>>> = Arc::default();
        let spawned = {
            let (cfg, harness, running) = (cfg.clone(), harness.clone(), running.clone());
            let tx = mailbox.clone();
            let (scenario, variant) = (pair.scenario, pair.variant);
            let mut iterations = result.iterations;
            // The first iteration's duration is taken here, as the spawning loop takes it,
            // not after the thread has started: a long-running iteration's replay prints it.
            let mut first_duration = Some(long_duration(pair.scenario.long_running(), share));
            std::thread::Builder::new()
                .name(format!("{}/{}", scenario.name(), variant.name))
                .spawn(move || {
                    let long = scenario.long_running();
                    for index in cfg.shard.indices() {
                        if resume_after.is_some_and(|r| index <= r) {
                            continue;
                        }
                        if share_spent(share, iterations, index) {
                            break;
                        }
                        let duration = first_duration
                            .take()
                            .unwrap_or_else(|| long_duration(long, share));
                        let seed = iteration_seed(cfg.seed, scenario.name(), variant.name, index);
                        let mut env = iteration_env(&cfg, seed, duration);
                        env.harness = harness.clone();
                        *running.lock().unwrap_or_else(|e| e.into_inner()) = Some(Running {
                            index,
                            seed,
                            duration,
                            sink: env.sink.clone(),
                        });
                        let returned = iteration::play(scenario, variant, &env);
                        // A panic may have left this thread's lockdep state inconsistent (a
                        // lock taken and never released), and so may an actor it played
                        // itself (the crew runs an iteration's first actor on the thread that
                        // calls `Env::run`): a fresh thread takes over after it.
                        let fit = returned.is_ok()
                            && held::held_classes().is_empty()
                            && !actor::take_unfit();
                        let it = iteration::outcome_of(scenario, Some(returned), &env.sink);
                        let failed = !it.outcome.violations.is_empty();
                        let at = started.elapsed();
                        iterations += 1;
                        let done = Report::Done {
                            index,
                            seed,
                            duration,
                            at,
                            it,
                        };
                        if !tx.post(done) {
                            return;
                        }
                        let interrupted = cfg.stop.load(Ordering::SeqCst);
                        if interrupted || (variant.expected == Expect::Race && failed) {
                            tx.post(Report::End {
                                interrupted,
                                retire_after: None,
                            });
                            return;
                        }
                        if !fit {
                            tx.post(Report::End {
                                interrupted: false,
                                retire_after: Some(index),
                            });
                            return;
                        }
                    }
                    tx.post(Report::End {
                        interrupted: false,
                        retire_after: None,
                    });
                })
        };
        let spawned_thread = match spawned {
            Ok(h) => h,
            Err(e) => {
                // As the spawning harness reports an iteration it cannot start.
                let index = resume_after.map_or(0, |r| r + 1);
                let seed = iteration_seed(cfg.seed, pair.scenario.name(), pair.variant.name, index);
                result.iterations += 1;
                let at = started.elapsed();
                result.elapsed = at;
                record(
                    &mut result,
                    pair,
                    cfg,
                    index,
                    seed,
                    None,
                    at,
                    iteration::cannot_spawn(&e),
                );
                observer.iteration_done(&result);
                break;
            }
        };
        let mut hang_seen: Option<(u64, Instant)> = None;
        loop {
            std::thread::park_timeout(iteration::POLL);
            // Read before the reports: a thread that had finished by then has posted all of
            // them.
            let finished = spawned_thread.is_finished();
            let reports =
                std::mem::take(&mut *mailbox.reports.lock().unwrap_or_else(|e| e.into_inner()));
            let mut reported = false;
            for report in reports {
                reported = true;
                match report {
                    Report::Done {
                        index,
                        seed,
                        duration,
                        at,
                        it,
                    } => {
                        result.iterations += 1;
                        result.elapsed = at;
                        record(&mut result, pair, cfg, index, seed, duration, at, it);
                        observer.iteration_done(&result);
                    }
                    Report::End {
                        interrupted,
                        retire_after,
                    } => {
                        result.interrupted = interrupted;
                        match retire_after {
                            Some(index) => {
                                resume_after = Some(index);
                                continue 'threads;
                            }
                            None => break 'threads,
                        }
                    }
                }
            }
            if finished {
                // Ended without its last word: only a panic outside `play` could do that.
                break 'threads;
            }
            if reported {
                // Progress: no hang to look for yet.
                continue;
            }
            let guard = running.lock().unwrap_or_else(|e| e.into_inner());
            let Some(now) = guard.as_ref() else {
                continue;
            };
            let grace = iteration::grace(cfg.hang_after);
            match hang_seen {
                Some((index, t)) if index == now.index => {
                    if t.elapsed() < grace {
                        continue;
                    }
                }
                _ => {
                    hang_seen = now
                        .sink
                        .snapshot()
                        .iter()
                        .any(|v| v.oracle == Oracle::Hang)
                        .then(|| (now.index, Instant::now()));
                    continue;
                }
            }
            // Abandoned: the thread is left behind (the mailbox tells it, should it
            // ever come back), and the pair goes on from the next index.
            mailbox.abandoned.store(true, Ordering::SeqCst);
            let (index, seed, duration) = (now.index, now.seed, now.duration);
            let it = iteration::abandoned(&now.sink, grace);
            drop(guard);
            result.iterations += 1;
            let at = started.elapsed();
            result.elapsed = at;
            record(&mut result, pair, cfg, index, seed, duration, at, it);
            observer.iteration_done(&result);
            if cfg.stop.load(Ordering::SeqCst) {
                result.interrupted = true;
                break 'threads;
            }
            if pair.variant.expected == Expect::Race && result.failed_iterations > 0 {
                break 'threads;
            }
            resume_after = Some(index);
            continue 'threads;
        }
    }
    result.elapsed = started.elapsed();
    result
}

#[allow(clippy::too_many_arguments)]
fn record(
    result: &mut PairResult,
    pair: &Pair,
    cfg: &RunConfig,
    index: u64,
    seed: u64,
    duration: Option<Duration>,
    at: Duration,
    it: IterationOutcome,
) {
    let outcome = it.outcome;
    for (name, n) in &outcome.ops {
        *result.ops.entry(name).or_insert(0) += n;
    }
    if it.abandoned {
        result.abandoned += 1;
    }
    if outcome.violations.is_empty() {
        return;
    }
    result.failed_iterations += 1;
    result.violations_total += outcome.violations.len() as u64;
    if verdict::catches(pair.scenario, &outcome.violations) {
        result.caught = true;
    } else if pair.variant.expected == Expect::Race {
        result.stray = true;
    }
    for v in &outcome.violations {
        if result.violations.len() >= MAX_RECORDED {
            break;
        }
        result.violations.push(ViolationRecord {
            oracle: v.oracle,
            message: v.message.clone(),
            sites: v
                .sites
                .iter()
                .map(|s| format!("{}:{}", s.file(), s.line()))
                .collect(),
            seed,
            iteration: index,
        });
    }
    if result.first.is_none() {
        let declared = pair.scenario.oracles();
        let headline = outcome
            .violations
            .iter()
            .position(|v| declared.contains(&v.oracle))
            .unwrap_or(0);
        result.first = Some(FirstFailure {
            seed,
            iteration: index,
            at,
            headline,
            violations: outcome.violations,
            trace: outcome.trace,
            replay: replay_command(pair, seed, cfg, duration),
            abandoned: it.abandoned,
        });
    }
}

/// Rounded to the nearest millisecond, so that a long-running iteration's duration prints
/// exactly in its replay command, and the replay (whose budget starts a few microseconds
/// before its iteration does) rounds back to the same value.
fn nearest_ms(d: Duration) -> Duration {
    let ms = d.as_micros().saturating_add(500) / 1000;
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// The command that replays one iteration: its seed becomes the run seed, so it is iteration 0
/// of the replay. A long-running iteration is replayed for the duration it was given; the
/// thread count and injection are repeated because the scenario's actors depend on them.
pub fn replay_command(
    pair: &Pair,
    seed: u64,
    cfg: &RunConfig,
    duration: Option<Duration>,
) -> String {
    let budget = match duration {
        Some(d) => format!("--duration {}ms", d.as_millis()),
        None => "--iterations 1".to_string(),
    };
    format!(
        "{} run {} --variant {} --seed {seed} {budget} --threads {}{}",
        cfg.program.invocation(),
        pair.scenario.name(),
        pair.variant.name,
        cfg.threads,
        if cfg.inject { "" } else { " --no-inject" }
    )
}
