//! One iteration, run so that nothing it does can take the runner down with it.
//!
//! `Env::run` already turns an actor's panic into an `Oracle::Panic` violation and a stalled
//! iteration into an `Oracle::Hang` (its watchdog unwinds sleeping waiters). Two things are
//! left for the runner:
//!
//! - the scenario's own thread (building the world, checking quiescent invariants) may panic:
//!   it runs under `catch_unwind` and its panic is reported like an actor's;
//! - an iteration may never return even after the watchdog fired — a thread spinning on a
//!   spinlock cannot be unwound, and `Env::run` joins its actors. So the iteration runs on a
//!   thread of its own; once the sink holds a hang report and the iteration has not come back
//!   within a further grace period, the runner reports that and moves on, leaving the stuck
//!   threads behind (they are leaked, never killed: Rust cannot kill a thread).
//!
//! This is the `--harness spawn` path (and `contention`'s): a new thread per iteration. The
//! crew's path (`runner`'s `run_pair_crew`) runs a pair's whole loop on one long-lived
//! thread and uses the same pieces ([`play`], [`outcome_of`], [`abandoned`]).

use crate::scenario::{AnyScenario, Outcome, Size, VariantRef};
use mmlab_engine::actor::Env;
use mmlab_engine::check::{Oracle, Sink, Violation, panic_message};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often the runner looks at a running iteration's sink for a hang report.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// What one iteration produced.
#[derive(Debug, Default)]
pub(crate) struct IterationOutcome {
    /// The scenario's outcome (or, if it returned none, what its sink held).
    pub(crate) outcome: Outcome,
    /// The iteration never returned; its threads were abandoned.
    pub(crate) abandoned: bool,
}

/// Runs one pair's iterations, each so that nothing it does can take the runner down.
pub(crate) struct Iterations {
    scenario: &'static dyn AnyScenario,
    variant: VariantRef,
}

/// What the scenario's own thread sends back: its outcome, or its panic's message.
pub(crate) type Returned = Result<Outcome, String>;

/// How waiting for an iteration ended.
enum Waited {
    /// The scenario's thread sent its result.
    Returned(Returned),
    /// The scenario's thread ended without sending one.
    Gone,
    /// It never came back: reported, and its threads left behind.
    Abandoned(IterationOutcome),
}

impl Iterations {
    /// For `variant` of `scenario`.
    pub(crate) fn new(scenario: &'static dyn AnyScenario, variant: VariantRef) -> Self {
        Iterations { scenario, variant }
    }

    fn thread_name(&self) -> String {
        format!("{}/{}", self.scenario.name(), self.variant.name)
    }

    /// Run the variant once at stress size in `env`, on a thread of its own, started for this
    /// iteration and joined at its end.
    pub(crate) fn run_one(&mut self, env: &Env) -> IterationOutcome {
        let (tx, rx) = mpsc::channel();
        let env_for_thread = env.clone();
        let (scenario, variant) = (self.scenario, self.variant);
        let spawned = std::thread::Builder::new()
            .name(self.thread_name())
            .spawn(move || {
                let env = env_for_thread;
                // The receiver is gone only if the runner abandoned this iteration.
                let _ = tx.send(play(scenario, variant, &env));
            });
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => return cannot_spawn(&e),
        };
        match wait(&rx, env) {
            Waited::Returned(result) => {
                let _ = handle.join();
                outcome_of(self.scenario, Some(result), &env.sink)
            }
            Waited::Gone => {
                let _ = handle.join();
                outcome_of(self.scenario, None, &env.sink)
            }
            // Dropping the handle detaches the thread.
            Waited::Abandoned(it) => it,
        }
    }
}

/// The iteration's outcome from what its scenario thread returned (`None`: nothing).
///
/// The iteration's sink is drained once: by the scenario, into the outcome it returns
/// (`kit::run`); or, for an iteration that returned no outcome (it panicked outside its
/// actors, or its thread ended without a word), here, from `sink`.
pub(crate) fn outcome_of(
    scenario: &dyn AnyScenario,
    result: Option<Returned>,
    sink: &Sink,
) -> IterationOutcome {
    let outcome = match result {
        Some(Ok(outcome)) => outcome,
        Some(Err(msg)) => {
            let mut violations = sink.take();
            violations.push(Violation::new(
                Oracle::Panic,
                format!(
                    "scenario {} panicked outside its actors: {msg}",
                    scenario.name()
                ),
            ));
            Outcome {
                violations,
                ..Outcome::default()
            }
        }
        None => Outcome {
            violations: sink.take(),
            ..Outcome::default()
        },
    };
    IterationOutcome {
        outcome,
        abandoned: false,
    }
}

/// How long after the watchdog's hang report an iteration may still return.
pub(crate) fn grace(hang_after: Duration) -> Duration {
    hang_after.saturating_mul(2) + Duration::from_secs(1)
}

/// The outcome of an iteration that never returned: what `sink` holds (its only drain), and
/// why it was left.
pub(crate) fn abandoned(sink: &Sink, grace: Duration) -> IterationOutcome {
    let mut outcome = Outcome {
        violations: sink.take(),
        ..Outcome::default()
    };
    outcome.violations.push(Violation::new(
        Oracle::Hang,
        format!(
            "the iteration did not return within {grace:?} of the watchdog's \
             report (a thread that cannot be unwound, e.g. spinning on a \
             spinlock); its threads were abandoned"
        ),
    ));
    IterationOutcome {
        outcome,
        abandoned: true,
    }
}

/// The scenario's own thread's work: the scenario, played in `env` (its sink this thread's),
/// its panic caught.
pub(crate) fn play(scenario: &'static dyn AnyScenario, variant: VariantRef, env: &Env) -> Returned {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        env.play(|| scenario.run_variant(variant, Size::Stress, env))
    }))
    .map_err(|p| panic_message(p.as_ref()))
}

pub(crate) fn cannot_spawn(e: &std::io::Error) -> IterationOutcome {
    let mut outcome = Outcome::default();
    outcome.violations.push(Violation::new(
        Oracle::Panic,
        format!("cannot spawn the iteration's thread: {e}"),
    ));
    IterationOutcome {
        outcome,
        abandoned: false,
    }
}

/// Wait for the scenario thread behind `rx`; once the sink holds a hang report and nothing
/// has come back within a further grace period, give up on it.
fn wait(rx: &mpsc::Receiver<Returned>, env: &Env) -> Waited {
    let grace = grace(env.hang_after);
    let mut hang_seen: Option<Instant> = None;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(result) => return Waited::Returned(result),
            Err(RecvTimeoutError::Disconnected) => return Waited::Gone,
            Err(RecvTimeoutError::Timeout) => {
                if hang_seen.is_none()
                    && env.sink.snapshot().iter().any(|v| v.oracle == Oracle::Hang)
                {
                    hang_seen = Some(Instant::now());
                }
                if hang_seen.is_some_and(|t| t.elapsed() >= grace) {
                    return Waited::Abandoned(abandoned(&env.sink, grace));
                }
            }
        }
    }
}
