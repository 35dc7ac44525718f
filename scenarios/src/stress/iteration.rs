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

use crate::scenario::{Outcome, Scenario, Size};
use mmlab_engine::actor::Env;
use mmlab_engine::check::{Oracle, Violation};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often the runner looks at a running iteration's sink for a hang report.
const POLL: Duration = Duration::from_millis(20);

/// What one iteration produced.
#[derive(Debug, Default)]
pub(crate) struct IterationOutcome {
    /// The scenario's outcome, with anything left in the sink merged in.
    pub(crate) outcome: Outcome,
    /// The iteration never returned; its threads were abandoned.
    pub(crate) abandoned: bool,
}

/// Run `variant` of `scenario` once at stress size in `env`.
pub(crate) fn run_one(
    scenario: &'static dyn Scenario,
    variant: &'static str,
    env: &Env,
) -> IterationOutcome {
    let (tx, rx) = mpsc::channel();
    let env_for_thread = env.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("{}/{variant}", scenario.name()))
        .spawn(move || {
            let env = env_for_thread;
            env.sink.install();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                scenario.run(variant, Size::Stress, &env)
            }));
            // The receiver is gone only if the runner abandoned this iteration.
            let _ = tx.send(r.map_err(|p| panic_message(p.as_ref())));
        });
    let handle = match spawned {
        Ok(h) => h,
        Err(e) => {
            let mut outcome = Outcome::default();
            outcome.violations.push(Violation::new(
                Oracle::Panic,
                format!("cannot spawn the iteration's thread: {e}"),
            ));
            return IterationOutcome {
                outcome,
                abandoned: false,
            };
        }
    };
    let grace = env.hang_after.saturating_mul(2) + Duration::from_secs(1);
    let mut hang_seen: Option<Instant> = None;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(result) => {
                let _ = handle.join();
                let mut outcome = match result {
                    Ok(outcome) => outcome,
                    Err(msg) => Outcome {
                        violations: vec![Violation::new(
                            Oracle::Panic,
                            format!(
                                "scenario {} panicked outside its actors: {msg}",
                                scenario.name()
                            ),
                        )],
                        ..Outcome::default()
                    },
                };
                merge_leftovers(&mut outcome, env.sink.take());
                return IterationOutcome {
                    outcome,
                    abandoned: false,
                };
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = handle.join();
                let mut outcome = Outcome::default();
                merge_leftovers(&mut outcome, env.sink.take());
                return IterationOutcome {
                    outcome,
                    abandoned: false,
                };
            }
            Err(RecvTimeoutError::Timeout) => {
                if hang_seen.is_none()
                    && env.sink.snapshot().iter().any(|v| v.oracle == Oracle::Hang)
                {
                    hang_seen = Some(Instant::now());
                }
                if hang_seen.is_some_and(|t| t.elapsed() >= grace) {
                    let mut outcome = Outcome::default();
                    merge_leftovers(&mut outcome, env.sink.take());
                    outcome.violations.push(Violation::new(
                        Oracle::Hang,
                        format!(
                            "the iteration did not return within {grace:?} of the watchdog's \
                             report (a thread that cannot be unwound, e.g. spinning on a \
                             spinlock); its threads were abandoned"
                        ),
                    ));
                    // Dropping the handle detaches the thread.
                    drop(handle);
                    return IterationOutcome {
                        outcome,
                        abandoned: true,
                    };
                }
            }
        }
    }
}

/// Add what the sink still holds to `outcome`, unless the scenario already returned it
/// (scenarios may drain the sink with `take` or copy it with `snapshot`).
fn merge_leftovers(outcome: &mut Outcome, leftovers: Vec<Violation>) {
    for v in leftovers {
        let dup = outcome
            .violations
            .iter()
            .any(|o| o.oracle == v.oracle && o.message == v.message && o.sites == v.sites);
        if !dup {
            outcome.violations.push(v);
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "non-string panic payload".to_string())
}
