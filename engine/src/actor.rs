//! Actors: the threads of a scenario, each playing one kernel path on one simulated CPU.
//!
//! [`Env`] is what a scenario gets from whoever runs it — the loom suite or the stress runner
//! — and [`Env::run`] spawns the actors, joins them, and turns what went wrong into
//! violations: an actor's panic is reported (never a hang), and in real mode a watchdog
//! unwinds every actor of an iteration that stops making progress and reports the hang with
//! each thread's held locks and what it waits for (from lockdep's held-lock state).

use crate::check::{Oracle, Sink, Violation};
use crate::race::{self, Injector};
use crate::sync::{self, held};
use crate::trace;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the watchdog waits before unwinding a stalled iteration in which lockdep has
/// already reported an inversion (the deadlock it predicted), instead of `Env::hang_after`.
pub const PREDICTED_DEADLOCK: Duration = Duration::from_millis(100);

/// An actor: its name (printed in traces and watchdog reports) and its body.
pub type Actor = (&'static str, Box<dyn FnOnce() + Send + 'static>);

/// How a scenario's actors are run.
#[derive(Debug, Clone)]
pub struct Env {
    /// The iteration's seed: actors derive their injectors (and any workload randomness) from it.
    pub seed: u64,
    /// Stall threads at race windows (stress mode); ignored under loom.
    pub inject: bool,
    /// How long a long-running scenario (`mixed`) should run its actors.
    pub duration: Option<Duration>,
    /// A hint for scenarios whose actor count scales (`mixed`): how many actors to run.
    pub threads: usize,
    /// Where violations go.
    pub sink: Sink,
    /// The watchdog's bound: an iteration with no progress for this long is a hang.
    pub hang_after: Duration,
    /// Bumped by actors as they make progress; the watchdog reads it.
    pub progress: Arc<AtomicU64>,
    /// Set by the runner to ask long-running actors to stop early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

/// A spawned loom actor's body until its thread starts.
///
/// Loom hands a spawned closure to its thread only at the spawner's next context switch. If
/// the inline actor fails (a violation panics) before that switch, loom's scheduler drops the
/// queued closure while unwinding, outside its execution context; dropping the loom objects
/// the body holds (the world's `Arc`) would then panic again, and a panic during unwinding
/// aborts the whole test process. So a body dropped during a panic is leaked instead: only a
/// failing execution's world, once per exploration.
struct Unstarted(Option<Box<dyn FnOnce() + Send + 'static>>);

impl Drop for Unstarted {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(body) = self.0.take()
        {
            std::mem::forget(body);
        }
    }
}

impl Env {
    /// An environment for one iteration.
    pub fn new(seed: u64) -> Self {
        Env {
            seed,
            inject: false,
            duration: None,
            threads: 2,
            sink: Sink::new(),
            hang_after: Duration::from_secs(5),
            progress: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Note progress (long-running actors call this per operation).
    pub fn tick(&self) {
        self.progress.fetch_add(1, Ordering::Relaxed);
    }

    /// Should a long-running actor stop?
    pub fn should_stop(&self, started: Instant) -> bool {
        self.stop.load(Ordering::Relaxed) || self.duration.is_none_or(|d| started.elapsed() >= d)
    }

    /// Run `actors` (name, body) concurrently, each on its own simulated CPU (its index), and
    /// wait for all of them. Violations land in `self.sink`.
    pub fn run(&self, actors: Vec<Actor>) {
        self.sink.install();
        if sync::LOOM {
            self.run_loom(actors);
        } else {
            self.run_real(actors);
        }
    }

    fn run_loom(&self, actors: Vec<Actor>) {
        let mut handles = Vec::new();
        let n = actors.len();
        let mut actors = actors.into_iter();
        // Loom models need the main thread to play one actor: run the last one inline, as the
        // kernel's loom tests conventionally do, which saves a thread in the model.
        let last = if n > 1 { actors.next_back() } else { None };
        for (cpu, (name, body)) in actors.enumerate() {
            let sink = self.sink.clone();
            let body = Unstarted(Some(body));
            handles.push(sync::thread::spawn(move || {
                let mut body = body;
                sink.install();
                trace::set_actor(name, cpu);
                if let Some(body) = body.0.take() {
                    body();
                }
            }));
        }
        if let Some((name, body)) = last {
            trace::set_actor(name, n - 1);
            body();
            trace::set_actor("main", n);
        }
        for h in handles {
            if h.join().is_err() {
                self.sink.push(Violation::new(
                    Oracle::Panic,
                    "an actor panicked under loom",
                ));
            }
        }
    }

    fn run_real(&self, actors: Vec<Actor>) {
        let abort = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let watcher = std::thread::current();
        let n = actors.len() as u64;
        let mut handles = Vec::new();
        for (cpu, (name, body)) in actors.into_iter().enumerate() {
            let sink = self.sink.clone();
            let abort = abort.clone();
            let done_here = done.clone();
            let watcher = watcher.clone();
            let inject = self.inject.then(|| {
                Injector::new(self.seed ^ (cpu as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            });
            let spawned = std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    sink.install();
                    trace::set_actor(name, cpu);
                    held::set_thread_name(name);
                    sync::wait::set_abort_flag(Some(abort));
                    race::install(inject);
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
                    race::install(None);
                    sync::wait::set_abort_flag(None);
                    if let Err(payload) = r
                        && payload.downcast_ref::<sync::wait::Aborted>().is_none()
                    {
                        let msg = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "non-string panic".into());
                        sink.push(Violation::new(
                            Oracle::Panic,
                            format!("actor {name} panicked: {msg}"),
                        ));
                    }
                    done_here.fetch_add(1, Ordering::SeqCst);
                    watcher.unpark();
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    self.sink.push(Violation::new(
                        Oracle::Panic,
                        format!("cannot spawn actor {name}: {e}"),
                    ));
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        if self.watch(&done, n, &abort) {
            for h in handles {
                let _ = h.join();
            }
        }
        // Otherwise some actor is stuck where the watchdog cannot unwind it (spinning on a
        // spinlock held forever): its thread is abandoned rather than joined, so the run goes
        // on; the hang is already reported.
    }

    /// The watchdog: wait until every actor is done (each unparks this thread when it
    /// finishes); if progress stalls for `hang_after`, report a hang with every thread's held
    /// locks, then unwind the actors. Returns whether every actor finished.
    fn watch(&self, done: &AtomicU64, n: u64, abort: &AtomicBool) -> bool {
        let mut last = (
            self.progress.load(Ordering::Relaxed),
            done.load(Ordering::SeqCst),
        );
        let mut since = Instant::now();
        while done.load(Ordering::SeqCst) < n {
            std::thread::park_timeout(Duration::from_millis(10));
            let now = (
                self.progress.load(Ordering::Relaxed),
                done.load(Ordering::SeqCst),
            );
            if now != last {
                last = now;
                since = Instant::now();
                continue;
            }
            // Once lockdep has reported an inversion, a short stall is the deadlock it
            // predicted: unwind after PREDICTED_DEADLOCK rather than the full bound.
            let bound = if self.sink.fired(Oracle::I15Lockdep) {
                self.hang_after.min(PREDICTED_DEADLOCK)
            } else {
                self.hang_after
            };
            if since.elapsed() >= bound {
                let mut msg = format!("no progress for {bound:?}; threads and their locks:");
                for (name, held, waiting) in held::all_threads() {
                    msg.push_str(&format!("\n  {name}:"));
                    for h in held {
                        msg.push_str(&format!("\n    holds {h}"));
                    }
                    if let Some((class, site)) = waiting {
                        msg.push_str(&format!(
                            "\n    waits for {class} at {}:{}",
                            site.file(),
                            site.line()
                        ));
                    }
                }
                self.sink.push(Violation::new(Oracle::Hang, msg));
                abort.store(true, Ordering::SeqCst);
                // Waiters wake within their recheck period and unwind; spinners are not
                // abortable (a spinlock held forever is a bug the watchdog cannot unwind), so
                // give up on joining after a further bound rather than hang the runner.
                let give_up = Instant::now() + self.hang_after;
                while done.load(Ordering::SeqCst) < n && Instant::now() < give_up {
                    std::thread::park_timeout(Duration::from_millis(5));
                }
                return done.load(Ordering::SeqCst) == n;
            }
        }
        true
    }
}
