//! The runner, driven through its library API with scenarios made for the purpose: every
//! verdict of the table, replayable seeds, shards that partition the seed space, hangs and
//! panics reported without stopping the run, Ctrl-C, and JSON written whole.
#![cfg(not(mmlab_loom))]

use mmlab_engine::actor::Env;
use mmlab_engine::check::{self, Oracle};
use mmlab_engine::sync::{LockClass, RwSem};
use mmlab_engine::trace::Trace;
use mmlab_scenarios::scenario::{
    About, AnyScenario, Expect, Outcome, Scenario, ScenarioVariant, Size, VariantInfo,
};
use mmlab_scenarios::stress::json_file::JsonFile;
use mmlab_scenarios::stress::{
    Budget, Pair, Quiet, RunConfig, RunReport, Shard, Verdict, report, run, select,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

type Actors = Vec<mmlab_scenarios::kit::Actor>;

// ---------------------------------------------------------------------------------------------
// Scenarios for the runner to judge.

/// Two actors touch a page; whether the "race" fires is decided by the iteration seed alone,
/// so a seed that fired once fires again.
/// Each test has its own (a scenario's name is a constant, and seeds derive from it): `ID`
/// indexes [`FLAKY_NAMES`].
struct Flaky<const ID: usize> {
    seen: Mutex<Vec<(String, u64)>>,
}

/// The names of the tests' [`Flaky`] scenarios.
const FLAKY_NAMES: &[&str] = &[
    "flaky-verdicts",
    "flaky-all-ok",
    "flaky-stop",
    "flaky-cap",
    "flaky-seeds",
    "flaky-replay",
    "flaky-shards",
    "flaky-empty-shard",
    "flaky-duration",
    "flaky-after-deadlock",
    "flaky-after-stuck",
    "flaky-after-panics",
    "flaky-after-stop",
    "flaky-print",
    "flaky-json",
    "ttu-sync",
    "flaky-harness",
];
const FLAKY_VERDICTS: usize = 0;
const FLAKY_ALL_OK: usize = 1;
const FLAKY_STOP: usize = 2;
const FLAKY_CAP: usize = 3;
const FLAKY_SEEDS: usize = 4;
const FLAKY_REPLAY: usize = 5;
const FLAKY_SHARDS: usize = 6;
const FLAKY_EMPTY_SHARD: usize = 7;
const FLAKY_DURATION: usize = 8;
const FLAKY_AFTER_DEADLOCK: usize = 9;
const FLAKY_AFTER_STUCK: usize = 10;
const FLAKY_AFTER_PANICS: usize = 11;
const FLAKY_AFTER_STOP: usize = 12;
const FLAKY_PRINT: usize = 13;
const FLAKY_JSON: usize = 14;
const TTU_SYNC: usize = 15;
const FLAKY_HARNESS: usize = 16;

impl<const ID: usize> Flaky<ID> {
    const fn new() -> Self {
        Flaky {
            seen: Mutex::new(Vec::new()),
        }
    }

    /// Seeds run so far of `variant`, in order; forgets them.
    fn take_seen(&self, variant: &str) -> Vec<u64> {
        let mut seen = self.seen.lock().unwrap();
        let out = seen
            .iter()
            .filter(|(v, _)| v == variant)
            .map(|&(_, s)| s)
            .collect();
        seen.retain(|(v, _)| v != variant);
        out
    }
}

/// One seed in four fires.
fn fires(seed: u64) -> bool {
    SmallRng::seed_from_u64(seed).random_range(0..4) == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlakyVariant {
    Fixed,
    Race,
    Instant,
    Never,
    WrongOracle,
    BrokenFix,
}

impl ScenarioVariant for FlakyVariant {
    const ALL: &'static [Self] = &[
        FlakyVariant::Fixed,
        FlakyVariant::Race,
        FlakyVariant::Instant,
        FlakyVariant::Never,
        FlakyVariant::WrongOracle,
        FlakyVariant::BrokenFix,
    ];
    fn info(self) -> VariantInfo {
        match self {
            FlakyVariant::Fixed => VariantInfo::clean("fixed", "never fires"),
            FlakyVariant::Race => VariantInfo::race("race", "fires for one seed in four"),
            FlakyVariant::Instant => VariantInfo::race("instant", "fires every iteration"),
            FlakyVariant::Never => VariantInfo::race("never", "a race the runner cannot see"),
            FlakyVariant::WrongOracle => VariantInfo::race(
                "wrong-oracle",
                "fires an oracle the scenario does not declare",
            ),
            FlakyVariant::BrokenFix => VariantInfo::clean(
                "broken-fix",
                "a fix that does not fix: fires every iteration",
            ),
        }
    }
}

impl<const ID: usize> Scenario for Flaky<ID> {
    type Variant = FlakyVariant;
    const ABOUT: About = About {
        name: FLAKY_NAMES[ID],
        title: "a race decided by the seed",
        commit: "none: a test scenario",
        source: concat!(
            "//! ",
            "Two actors; the writer reports I2 when the seed says so."
        ),
        oracles: &[Oracle::I2TtuSync],
        long_running: false,
    };
    fn run(&self, variant: FlakyVariant, size: Size, env: &Env) -> Outcome {
        assert_eq!(size, Size::Stress);
        self.seen
            .lock()
            .unwrap()
            .push((variant.info().name.to_string(), env.seed));
        let fire = match variant {
            FlakyVariant::Race => fires(env.seed),
            FlakyVariant::Instant | FlakyVariant::WrongOracle | FlakyVariant::BrokenFix => true,
            FlakyVariant::Fixed | FlakyVariant::Never => false,
        };
        let oracle = match variant {
            FlakyVariant::WrongOracle => Oracle::Bug,
            FlakyVariant::Fixed
            | FlakyVariant::Race
            | FlakyVariant::Instant
            | FlakyVariant::Never
            | FlakyVariant::BrokenFix => Oracle::I2TtuSync,
        };
        let trace = Arc::new(Trace::default());
        let (t1, t2) = (trace.clone(), trace.clone());
        let actors: Actors = vec![
            (
                "migrate",
                Box::new(move || t1.record("try_to_migrate", "pfn 1", "unmapped")),
            ),
            (
                "fault",
                Box::new(move || {
                    t2.record("do_swap_page", "pfn 1", "mapped");
                    if fire {
                        check::violation(oracle, "pfn 1 still mapped after try_to_migrate");
                    }
                }),
            ),
        ];
        env.run(actors);
        let violations = env.sink.take();
        let trace = if violations.is_empty() {
            String::new()
        } else {
            trace.render(20)
        };
        Outcome {
            violations,
            trace,
            ops: Vec::new(),
        }
    }
}

/// Panics: in an actor, or in the scenario's own thread.
struct Panicky;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PanickyVariant {
    Actor,
    Setup,
}

impl ScenarioVariant for PanickyVariant {
    const ALL: &'static [Self] = &[PanickyVariant::Actor, PanickyVariant::Setup];
    fn info(self) -> VariantInfo {
        match self {
            PanickyVariant::Actor => VariantInfo::clean("actor", "an actor panics"),
            PanickyVariant::Setup => VariantInfo::clean("setup", "building the world panics"),
        }
    }
}

impl Scenario for Panicky {
    type Variant = PanickyVariant;
    const ABOUT: About = About {
        name: "panicky",
        title: "panics",
        commit: "",
        source: "",
        oracles: &[],
        long_running: false,
    };
    fn run(&self, variant: PanickyVariant, _size: Size, env: &Env) -> Outcome {
        match variant {
            PanickyVariant::Setup => panic!("boom in setup"),
            PanickyVariant::Actor => {}
        }
        let actors: Actors = vec![
            ("quiet", Box::new(|| {})),
            ("loud", Box::new(|| panic!("boom in actor"))),
        ];
        env.run(actors);
        Outcome {
            violations: env.sink.take(),
            ..Outcome::default()
        }
    }
}

/// Two actors take two rwsems in opposite orders and deadlock (ABBA); the watchdog must
/// report it and unwind them.
struct Deadlock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeadlockVariant {
    Abba,
    AbbaClean,
}

impl ScenarioVariant for DeadlockVariant {
    const ALL: &'static [Self] = &[DeadlockVariant::Abba, DeadlockVariant::AbbaClean];
    fn info(self) -> VariantInfo {
        match self {
            DeadlockVariant::Abba => {
                VariantInfo::race("abba", "deadlocks; the hang is the expected catch")
            }
            DeadlockVariant::AbbaClean => {
                VariantInfo::clean("abba-clean", "deadlocks, though it claims to be clean")
            }
        }
    }
}

impl Scenario for Deadlock {
    type Variant = DeadlockVariant;
    const ABOUT: About = About {
        name: "deadlock",
        title: "ABBA",
        commit: "",
        source: "",
        oracles: &[Oracle::Hang],
        long_running: false,
    };
    fn run(&self, _variant: DeadlockVariant, _size: Size, env: &Env) -> Outcome {
        let x = Arc::new(RwSem::new(LockClass::Named("runner-test-x"), ()));
        let y = Arc::new(RwSem::new(LockClass::Named("runner-test-y"), ()));
        let both = Arc::new(Barrier::new(2));
        let (x1, y1, b1) = (x.clone(), y.clone(), both.clone());
        let actors: Actors = vec![
            (
                "ab",
                Box::new(move || {
                    let _a = x1.write();
                    b1.wait();
                    let _b = y1.write();
                }),
            ),
            (
                "ba",
                Box::new(move || {
                    let _b = y.write();
                    both.wait();
                    let _a = x.write();
                }),
            ),
        ];
        env.run(actors);
        Outcome {
            violations: env.sink.take(),
            ..Outcome::default()
        }
    }
}

/// An actor that sleeps forever outside any lock: the watchdog reports it but cannot unwind
/// it, so the runner must abandon the iteration. [`STUCK_RELEASE`] lets it go at the end.
struct Stuck;
static STUCK_RELEASE: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StuckVariant {
    Fixed,
}

impl ScenarioVariant for StuckVariant {
    const ALL: &'static [Self] = &[StuckVariant::Fixed];
    fn info(self) -> VariantInfo {
        match self {
            StuckVariant::Fixed => VariantInfo::clean("fixed", "never returns"),
        }
    }
}

impl Scenario for Stuck {
    type Variant = StuckVariant;
    const ABOUT: About = About {
        name: "stuck",
        title: "an actor the watchdog cannot unwind",
        commit: "",
        source: "",
        oracles: &[],
        long_running: false,
    };
    fn run(&self, _variant: StuckVariant, _size: Size, env: &Env) -> Outcome {
        let actors: Actors = vec![(
            "sleeper",
            Box::new(|| {
                while !STUCK_RELEASE.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }),
        )];
        env.run(actors);
        // Since 725b938 the engine's watchdog gives up on an actor it cannot unwind and
        // `env.run` returns; the scenario's own thread is what the runner must abandon.
        while !STUCK_RELEASE.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        Outcome {
            violations: env.sink.take(),
            ..Outcome::default()
        }
    }
}

/// Sets the stop flag (as Ctrl-C does) during its third iteration.
struct Stopper {
    runs: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopperVariant {
    Fixed,
}

impl ScenarioVariant for StopperVariant {
    const ALL: &'static [Self] = &[StopperVariant::Fixed];
    fn info(self) -> VariantInfo {
        match self {
            StopperVariant::Fixed => {
                VariantInfo::clean("fixed", "stops the run on its third iteration")
            }
        }
    }
}

impl Scenario for Stopper {
    type Variant = StopperVariant;
    const ABOUT: About = About {
        name: "stopper",
        title: "presses Ctrl-C",
        commit: "",
        source: "",
        oracles: &[],
        long_running: false,
    };
    fn run(&self, _variant: StopperVariant, _size: Size, env: &Env) -> Outcome {
        if self.runs.fetch_add(1, Ordering::SeqCst) == 2 {
            env.stop.store(true, Ordering::SeqCst);
        }
        Outcome::default()
    }
}

/// A long-running workload: actors loop until `Env::should_stop`; `late` reports at the end.
struct Workload {
    durations: Mutex<Vec<Option<Duration>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkloadVariant {
    Fixed,
    Late,
}

impl ScenarioVariant for WorkloadVariant {
    const ALL: &'static [Self] = &[WorkloadVariant::Fixed, WorkloadVariant::Late];
    fn info(self) -> VariantInfo {
        match self {
            WorkloadVariant::Fixed => VariantInfo::clean("fixed", "loops quietly"),
            WorkloadVariant::Late => VariantInfo::race("late", "reports when its time is up"),
        }
    }
}

impl Scenario for Workload {
    type Variant = WorkloadVariant;
    const ABOUT: About = About {
        name: "workload",
        title: "runs for a duration",
        commit: "",
        source: "",
        oracles: &[Oracle::LostStore],
        long_running: true,
    };
    fn run(&self, variant: WorkloadVariant, _size: Size, env: &Env) -> Outcome {
        self.durations.lock().unwrap().push(env.duration);
        let ops = Arc::new(AtomicU64::new(0));
        let late = match variant {
            WorkloadVariant::Fixed => false,
            WorkloadVariant::Late => true,
        };
        let actors: Actors = (0..env.threads.min(4))
            .map(|_| {
                let env = env.clone();
                let ops = ops.clone();
                let body: Box<dyn FnOnce() + Send> = Box::new(move || {
                    let start = Instant::now();
                    while !env.should_stop(start) {
                        ops.fetch_add(1, Ordering::Relaxed);
                        env.tick();
                        std::thread::sleep(Duration::from_micros(200));
                    }
                });
                ("worker", body)
            })
            .collect();
        env.run(actors);
        if late {
            check::violation(Oracle::LostStore, "a store returned success and vanished");
        }
        Outcome {
            violations: env.sink.take(),
            trace: String::new(),
            ops: vec![("store", ops.load(Ordering::Relaxed))],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn pairs(s: &'static dyn AnyScenario, variants: &[&str]) -> Vec<Pair> {
    variants
        .iter()
        .flat_map(|v| select::select(&[s], Some(s.name()), Some(v)).unwrap())
        .collect()
}

fn config(seed: u64, budget: Budget) -> RunConfig {
    let mut cfg = RunConfig::new(seed);
    cfg.budget = budget;
    cfg.threads = 2;
    cfg.hang_after = Duration::from_millis(300);
    cfg
}

fn run_quiet(pairs: &[Pair], cfg: &RunConfig) -> RunReport {
    run(pairs, cfg, &mut Quiet).expect("a valid configuration")
}

fn result<'a>(r: &'a RunReport, variant: &str) -> &'a mmlab_scenarios::stress::PairResult {
    r.results
        .iter()
        .find(|p| p.variant == variant)
        .unwrap_or_else(|| panic!("no result for {variant}"))
}

// ---------------------------------------------------------------------------------------------
// The verdict table.

#[test]
fn every_verdict_of_the_table_is_reached() {
    static S: Flaky<FLAKY_VERDICTS> = Flaky::new();
    let all: Vec<&str> = FlakyVariant::ALL.iter().map(|v| v.info().name).collect();
    let r = run_quiet(&pairs(&S, &all), &config(11, Budget::Iterations(60)));
    let verdict = |v| result(&r, v).verdict();
    assert_eq!(verdict("fixed"), Verdict::Ok);
    assert_eq!(verdict("race"), Verdict::Ok);
    assert_eq!(verdict("instant"), Verdict::Ok);
    assert_eq!(verdict("never"), Verdict::Missed);
    assert_eq!(verdict("wrong-oracle"), Verdict::Unexpected);
    assert_eq!(verdict("broken-fix"), Verdict::Unexpected);
    assert_eq!(result(&r, "fixed").observed(), Expect::Clean);
    assert_eq!(result(&r, "never").observed(), Expect::Clean);
    assert_eq!(result(&r, "broken-fix").observed(), Expect::Race);
    assert_eq!(r.tally(), (3, 1, 2));
    assert_eq!(r.exit_code(), 1);
    assert!(!r.interrupted);
}

#[test]
fn a_run_where_everything_is_as_expected_exits_zero() {
    static S: Flaky<FLAKY_ALL_OK> = Flaky::new();
    let r = run_quiet(
        &pairs(&S, &["fixed", "race"]),
        &config(3, Budget::Iterations(60)),
    );
    assert!(r.all_ok(), "{r:?}");
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn race_variants_stop_at_their_first_violation_and_clean_ones_use_their_share() {
    static S: Flaky<FLAKY_STOP> = Flaky::new();
    let r = run_quiet(
        &pairs(&S, &["race", "instant", "fixed", "broken-fix"]),
        &config(5, Budget::Iterations(60)),
    );
    let race = result(&r, "race");
    let first = race.first.as_ref().expect("caught");
    assert_eq!(race.iterations, first.iteration + 1);
    assert_eq!(race.failed_iterations, 1);
    assert_eq!(result(&r, "instant").iterations, 1);
    assert_eq!(result(&r, "fixed").iterations, 60);
    let broken = result(&r, "broken-fix");
    assert_eq!(broken.iterations, 60);
    assert_eq!(broken.failed_iterations, 60);
    assert_eq!(broken.violations_total, 60);
    assert_eq!(broken.violations.len(), 60);
}

#[test]
fn recorded_violations_are_capped_but_all_are_counted() {
    static S: Flaky<FLAKY_CAP> = Flaky::new();
    let r = run_quiet(
        &pairs(&S, &["broken-fix"]),
        &config(5, Budget::Iterations(150)),
    );
    let broken = result(&r, "broken-fix");
    assert_eq!(broken.violations_total, 150);
    assert_eq!(
        broken.violations.len(),
        mmlab_scenarios::stress::runner::MAX_RECORDED
    );
}

// ---------------------------------------------------------------------------------------------
// Seeds and replay.

#[test]
fn iteration_zero_runs_the_run_seed_and_runs_repeat_their_seeds() {
    static S: Flaky<FLAKY_SEEDS> = Flaky::new();
    let p = pairs(&S, &["fixed"]);
    run_quiet(&p, &config(1234, Budget::Iterations(20)));
    let first = S.take_seen("fixed");
    run_quiet(&p, &config(1234, Budget::Iterations(20)));
    let again = S.take_seen("fixed");
    run_quiet(&p, &config(1235, Budget::Iterations(20)));
    let other = S.take_seen("fixed");
    assert_eq!(first.len(), 20);
    assert_eq!(first[0], 1234);
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_eq!(first.iter().collect::<HashSet<_>>().len(), 20);
}

#[test]
fn a_printed_replay_command_reruns_the_failing_seed() {
    static S: Flaky<FLAKY_REPLAY> = Flaky::new();
    let p = pairs(&S, &["race"]);
    // Find a run whose catch is not at iteration 0, so the replay seed differs from the run's.
    let (run_seed, first) = (100..200)
        .find_map(|seed| {
            let r = run_quiet(&p, &config(seed, Budget::Iterations(60)));
            let f = r.results[0].first.clone()?;
            (f.iteration > 0).then_some((seed, f))
        })
        .expect("some seed catches the race after iteration 0");
    assert_ne!(first.seed, run_seed);
    assert!(
        first.replay.contains(&format!(
            "cargo run --release -p mmlab-scenarios --bin mmlab -- run flaky-replay --variant race --seed {} --iterations 1",
            first.seed
        )),
        "{}",
        first.replay
    );
    S.take_seen("race");
    let replay = run_quiet(&p, &config(first.seed, Budget::Iterations(1)));
    assert_eq!(S.take_seen("race"), vec![first.seed]);
    let again = &replay.results[0];
    assert_eq!(again.verdict(), Verdict::Ok);
    assert_eq!(again.first.as_ref().map(|f| f.seed), Some(first.seed));
}

#[test]
fn shards_partition_the_seeds_of_the_unsharded_run() {
    static S: Flaky<FLAKY_SHARDS> = Flaky::new();
    let p = pairs(&S, &["fixed"]);
    run_quiet(&p, &config(77, Budget::Iterations(31)));
    let whole: Vec<u64> = S.take_seen("fixed");
    let mut union = Vec::new();
    for k in 1..=4 {
        let mut cfg = config(77, Budget::Iterations(31));
        cfg.shard = Shard::new(k, 4).unwrap();
        let r = run_quiet(&p, &cfg);
        let seen = S.take_seen("fixed");
        assert_eq!(r.results[0].iterations, seen.len() as u64);
        assert_eq!(seen.len() as u64, cfg.shard.count_below(31));
        union.extend(seen);
    }
    assert_eq!(union.len(), whole.len(), "shards overlap or miss seeds");
    let union: HashSet<u64> = union.into_iter().collect();
    assert_eq!(union, whole.into_iter().collect::<HashSet<u64>>());
}

#[test]
fn a_shard_with_no_iterations_is_refused() {
    static S: Flaky<FLAKY_EMPTY_SHARD> = Flaky::new();
    let mut cfg = config(1, Budget::Iterations(2));
    cfg.shard = Shard::new(3, 4).unwrap();
    let err = run(&pairs(&S, &["fixed"]), &cfg, &mut Quiet).unwrap_err();
    assert!(err.0.contains("shard 3/4"), "{err}");
    assert!(S.take_seen("fixed").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Time budgets and long-running scenarios.

#[test]
fn a_duration_budget_is_spent_and_time_from_a_caught_race_is_handed_on() {
    static S: Flaky<FLAKY_DURATION> = Flaky::new();
    let p = pairs(&S, &["instant", "fixed"]);
    let r = run_quiet(&p, &config(9, Budget::Duration(Duration::from_millis(600))));
    let instant = result(&r, "instant");
    let fixed = result(&r, "fixed");
    assert_eq!(instant.iterations, 1);
    assert!(fixed.iterations > 1);
    // Its even share would be 300ms; the race's unused time makes it more.
    assert!(
        fixed.elapsed >= Duration::from_millis(350),
        "fixed ran {:?}",
        fixed.elapsed
    );
    assert!(r.elapsed < Duration::from_secs(20), "{:?}", r.elapsed);
}

#[test]
fn a_long_running_scenario_runs_for_its_share_and_replays_by_duration() {
    static S: Workload = Workload {
        durations: Mutex::new(Vec::new()),
    };
    let p = pairs(&S, &["fixed"]);
    let r = run_quiet(&p, &config(2, Budget::Duration(Duration::from_millis(500))));
    let fixed = &r.results[0];
    assert_eq!(fixed.verdict(), Verdict::Ok);
    assert!(
        fixed.ops.get("store").copied().unwrap_or(0) > 0,
        "{fixed:?}"
    );
    let given = S.durations.lock().unwrap().clone();
    let first = given[0].expect("a long-running scenario is given a duration");
    assert!(
        first > Duration::from_millis(300) && first <= Duration::from_millis(500),
        "{first:?}"
    );

    let late = run_quiet(
        &pairs(&S, &["late"]),
        &config(2, Budget::Duration(Duration::from_millis(300))),
    );
    let f = late.results[0].first.as_ref().expect("reported");
    assert!(
        f.replay.contains("--seed 2 --duration 300ms"),
        "{}",
        f.replay
    );
    assert!(!f.replay.contains("--iterations"), "{}", f.replay);
}

// ---------------------------------------------------------------------------------------------
// Hangs, panics, Ctrl-C: reported, and the run goes on (or stops when asked).

#[test]
fn a_deadlock_is_reported_with_its_locks_and_the_run_goes_on() {
    static AFTER: Flaky<FLAKY_AFTER_DEADLOCK> = Flaky::new();
    let mut p = pairs(&Deadlock, &["abba", "abba-clean"]);
    p.extend(pairs(&AFTER, &["fixed"]));
    let started = Instant::now();
    let r = run_quiet(&p, &config(4, Budget::Iterations(3)));
    assert!(started.elapsed() < Duration::from_secs(60));
    let abba = result(&r, "abba");
    assert_eq!(abba.verdict(), Verdict::Ok, "{abba:?}");
    assert_eq!(abba.iterations, 1);
    let hang = abba
        .violations
        .iter()
        .find(|v| v.oracle == Oracle::Hang)
        .expect("a hang report");
    assert!(hang.message.contains("runner-test-x"), "{}", hang.message);
    assert!(hang.message.contains("runner-test-y"), "{}", hang.message);
    assert_eq!(abba.abandoned, 0, "the watchdog unwinds sleeping waiters");
    let clean = result(&r, "abba-clean");
    assert_eq!(clean.verdict(), Verdict::Unexpected);
    assert_eq!(clean.iterations, 3);
    assert_eq!(result(&r, "fixed").iterations, 3);
    assert_eq!(result(&r, "fixed").verdict(), Verdict::Ok);
}

#[test]
fn an_iteration_that_never_returns_is_abandoned_and_the_run_goes_on() {
    static AFTER: Flaky<FLAKY_AFTER_STUCK> = Flaky::new();
    let mut p = pairs(&Stuck, &["fixed"]);
    p.extend(pairs(&AFTER, &["fixed"]));
    let mut cfg = config(4, Budget::Iterations(1));
    cfg.hang_after = Duration::from_millis(200);
    let r = run_quiet(&p, &cfg);
    STUCK_RELEASE.store(true, Ordering::SeqCst);
    let stuck = &r.results[0];
    assert_eq!(stuck.verdict(), Verdict::Unexpected);
    assert_eq!(stuck.abandoned, 1);
    assert!(stuck.first.as_ref().is_some_and(|f| f.abandoned));
    assert!(
        stuck
            .violations
            .iter()
            .any(|v| v.oracle == Oracle::Hang && v.message.contains("abandoned")),
        "{stuck:?}"
    );
    assert_eq!(r.results[1].verdict(), Verdict::Ok);
}

#[test]
fn panics_in_actors_and_in_setup_are_reported_and_the_run_goes_on() {
    static AFTER: Flaky<FLAKY_AFTER_PANICS> = Flaky::new();
    let mut p = pairs(&Panicky, &["actor", "setup"]);
    p.extend(pairs(&AFTER, &["fixed"]));
    let r = run_quiet(&p, &config(8, Budget::Iterations(2)));
    for (variant, text) in [("actor", "boom in actor"), ("setup", "boom in setup")] {
        let res = result(&r, variant);
        assert_eq!(res.verdict(), Verdict::Unexpected);
        assert_eq!(res.iterations, 2);
        let v = &res.violations[0];
        assert_eq!(v.oracle, Oracle::Panic);
        assert!(v.message.contains(text), "{}", v.message);
    }
    assert!(
        result(&r, "setup").violations[0]
            .message
            .contains("outside its actors")
    );
    assert_eq!(result(&r, "fixed").verdict(), Verdict::Ok);
}

#[test]
fn ctrl_c_finishes_the_current_iteration_and_reports_what_was_done() {
    static STOPPER: Stopper = Stopper {
        runs: AtomicU64::new(0),
    };
    static AFTER: Flaky<FLAKY_AFTER_STOP> = Flaky::new();
    let mut p = pairs(&STOPPER, &["fixed"]);
    p.extend(pairs(&AFTER, &["fixed"]));
    let r = run_quiet(&p, &config(1, Budget::Iterations(100)));
    assert!(r.interrupted);
    assert_eq!(r.results.len(), 1, "the next pair never started");
    assert_eq!(r.results[0].iterations, 3);
    assert!(r.results[0].interrupted);
    assert_eq!(r.exit_code(), 130);
    assert!(report::summary(&r).contains("interrupted, 1 pair(s) not started"));
    assert!(AFTER.take_seen("fixed").is_empty());
}

// ---------------------------------------------------------------------------------------------
// What is printed and written.

#[test]
fn a_failure_prints_its_oracle_trace_and_replay_and_counts_the_rest() {
    static S: Flaky<FLAKY_PRINT> = Flaky::new();
    let r = run_quiet(
        &pairs(&S, &["broken-fix", "fixed"]),
        &config(21, Budget::Iterations(4)),
    );
    let text = report::failure(result(&r, "broken-fix")).expect("a failure to print");
    assert!(
        text.starts_with("== flaky-print/broken-fix: UNEXPECTED (expected clean): [I2-ttu-sync]"),
        "{text}"
    );
    assert!(text.contains("[I2-ttu-sync] pfn 1 still mapped"), "{text}");
    assert!(
        text.contains("do_swap_page"),
        "the trace is printed: {text}"
    );
    assert!(
        text.contains(
            "replay: cargo run --release -p mmlab-scenarios --bin mmlab -- run flaky-print --variant broken-fix --seed 21 --iterations 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("3 more violations in 3 further iterations"),
        "{text}"
    );
    assert!(report::failure(result(&r, "fixed")).is_none());

    let table = report::table(&r);
    assert!(table.lines().next().unwrap().starts_with("scenario"));
    assert!(
        table.contains("UNEXPECTED") && table.contains("OK"),
        "{table}"
    );
    let summary = report::summary(&r);
    assert!(
        summary.starts_with("2 pairs: 1 OK, 0 MISSED, 1 UNEXPECTED"),
        "{summary}"
    );
}

#[test]
fn the_json_report_keeps_the_contract_and_is_written_whole() {
    static S: Flaky<FLAKY_JSON> = Flaky::new();
    let r = run_quiet(
        &pairs(&S, &["fixed", "instant", "never"]),
        &config(31, Budget::Iterations(5)),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let file = JsonFile::prepare(&path).unwrap();
    assert!(!path.exists(), "nothing appears before the commit");
    file.commit(&report::to_json(&r)).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["out.json"], "no temporary file is left behind");

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["seed"], 31);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for res in results {
        for key in [
            "scenario",
            "variant",
            "expected",
            "observed",
            "iterations",
            "elapsed_s",
            "first_violation_s",
            "verdict",
            "violations",
        ] {
            assert!(res.get(key).is_some(), "missing {key} in {res}");
        }
    }
    let fixed = &results[0];
    assert_eq!(fixed["variant"], "fixed");
    assert_eq!(fixed["expected"], "clean");
    assert_eq!(fixed["observed"], "clean");
    assert_eq!(fixed["verdict"], "OK");
    assert_eq!(fixed["iterations"], 5);
    assert!(fixed["first_violation_s"].is_null());
    let instant = &results[1];
    assert_eq!(instant["observed"], "race");
    assert!(instant["first_violation_s"].is_f64());
    let v = &instant["violations"][0];
    assert_eq!(v["oracle"], "I2-ttu-sync");
    assert_eq!(v["seed"], 31);
    assert!(v["message"].as_str().unwrap().contains("still mapped"));
    assert_eq!(results[2]["verdict"], "MISSED");
}

#[test]
fn an_unwritable_json_path_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("out.json");
    let err = JsonFile::prepare(&missing).unwrap_err();
    assert!(err.0.contains("cannot write --json"), "{err}");
    let err = JsonFile::prepare(dir.path()).unwrap_err();
    assert!(err.0.contains("directory"), "{err}");

    // A prepared file that is never committed leaves nothing behind.
    let path = dir.path().join("out.json");
    drop(JsonFile::prepare(&path).unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Selection.

#[test]
fn names_that_match_nothing_suggest_the_nearest() {
    static S: Flaky<TTU_SYNC> = Flaky::new();
    let catalog: [&'static dyn AnyScenario; 2] = [&S, &Deadlock];
    let err = select::select(&catalog, Some("ttu-snyc"), None).unwrap_err();
    assert!(err.0.contains("did you mean 'ttu-sync'"), "{err}");
    let err = select::select(&catalog, Some("ttu-sync"), Some("brokn-fix")).unwrap_err();
    assert!(err.0.contains("did you mean 'broken-fix'"), "{err}");
    assert!(err.0.contains("its variants: fixed, race"), "{err}");
    let err = select::select(&catalog, Some("all"), Some("nope")).unwrap_err();
    assert!(
        err.0.contains("unknown variant 'nope' for any scenario"),
        "{err}"
    );

    let fixed = select::select(&catalog, None, Some("fixed")).unwrap();
    assert_eq!(fixed.len(), 1, "only the scenarios that have it");
    let all = select::select(&catalog, Some("all"), Some("all")).unwrap();
    assert_eq!(all.len(), FlakyVariant::ALL.len() + 2);
}

// ---------------------------------------------------------------------------------------------
// The harness: long-lived threads (the default) or threads per iteration (`--harness spawn`).

#[test]
fn the_harness_changes_no_seed_and_no_verdict() {
    use mmlab_scenarios::stress::config::HarnessKind;
    static S: Flaky<FLAKY_HARNESS> = Flaky::new();
    let all: Vec<&str> = FlakyVariant::ALL.iter().map(|v| v.info().name).collect();
    let mut p = pairs(&S, &all);
    p.extend(pairs(&Panicky, &["actor", "setup"]));
    p.extend(pairs(&Deadlock, &["abba"]));
    let mut seen = Vec::new();
    let mut verdicts = Vec::new();
    for harness in [HarnessKind::Crew, HarnessKind::Spawn] {
        let mut cfg = config(17, Budget::Iterations(40));
        cfg.harness = harness;
        let r = run_quiet(&p, &cfg);
        seen.push(all.iter().map(|v| S.take_seen(v)).collect::<Vec<_>>());
        verdicts.push(
            r.results
                .iter()
                .map(|res| {
                    (
                        res.variant,
                        res.verdict(),
                        res.iterations,
                        res.first.as_ref().map(|f| f.seed),
                    )
                })
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(verdicts[0], verdicts[1]);
}

/// Never returns from its first iteration (until released); returns at once from the others.
struct StuckOnce {
    runs: AtomicU64,
    seeds: Mutex<Vec<u64>>,
}
static STUCK_ONCE_RELEASE: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StuckOnceVariant {
    Fixed,
}

impl ScenarioVariant for StuckOnceVariant {
    const ALL: &'static [Self] = &[StuckOnceVariant::Fixed];
    fn info(self) -> VariantInfo {
        match self {
            StuckOnceVariant::Fixed => {
                VariantInfo::clean("fixed", "the first iteration is abandoned")
            }
        }
    }
}

impl Scenario for StuckOnce {
    type Variant = StuckOnceVariant;
    const ABOUT: About = About {
        name: "stuck-once",
        title: "its first iteration never returns",
        commit: "",
        source: "",
        oracles: &[],
        long_running: false,
    };
    fn run(&self, _variant: StuckOnceVariant, _size: Size, env: &Env) -> Outcome {
        self.seeds.lock().unwrap().push(env.seed);
        if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
            // What the watchdog would report for an actor it cannot unwind.
            env.sink
                .push(check::Violation::new(Oracle::Hang, "no progress"));
            while !STUCK_ONCE_RELEASE.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Outcome::default()
    }
}

#[test]
fn after_an_abandoned_iteration_the_pair_goes_on_with_the_next_seed_on_a_fresh_thread() {
    use mmlab_scenarios::stress::config::HarnessKind;
    use mmlab_scenarios::stress::seed::iteration_seed;
    for harness in [HarnessKind::Crew, HarnessKind::Spawn] {
        static S: StuckOnce = StuckOnce {
            runs: AtomicU64::new(0),
            seeds: Mutex::new(Vec::new()),
        };
        S.runs.store(0, Ordering::SeqCst);
        S.seeds.lock().unwrap().clear();
        STUCK_ONCE_RELEASE.store(false, Ordering::SeqCst);
        let mut cfg = config(6, Budget::Iterations(3));
        cfg.hang_after = Duration::from_millis(100);
        cfg.harness = harness;
        let r = run_quiet(&pairs(&S, &["fixed"]), &cfg);
        STUCK_ONCE_RELEASE.store(true, Ordering::SeqCst);
        let res = &r.results[0];
        assert_eq!(res.iterations, 3, "{harness:?}");
        assert_eq!(res.abandoned, 1, "{harness:?}");
        assert_eq!(res.failed_iterations, 1, "{harness:?}");
        assert_eq!(res.first.as_ref().map(|f| f.iteration), Some(0));
        let expected: Vec<u64> = (0..3)
            .map(|i| iteration_seed(6, "stuck-once", "fixed", i))
            .collect();
        assert_eq!(*S.seeds.lock().unwrap(), expected, "{harness:?}");
    }
}
