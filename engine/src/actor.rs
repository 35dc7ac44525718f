//! Actors: the threads of a scenario, each playing one kernel path on one simulated CPU.
//!
//! [`Env`] is what a scenario gets from whoever runs it — the loom suite or the stress runner
//! — and [`Env::run`] spawns the actors, joins them, and turns what went wrong into
//! violations: an actor's panic is reported (never a hang), and in real mode a watchdog
//! unwinds every actor of an iteration that stops making progress and reports the hang with
//! each thread's held locks and what it waits for (from lockdep's held-lock state).
//!
//! Where the actors run is [`Env::harness`]: a fresh thread per actor per iteration
//! ([`Harness::Spawn`], the default, and what loom always does), a [`Crew`] of long-lived
//! threads parked between iterations ([`Harness::Crew`], the stress runner's default: thread
//! creation cost more than the model's own work), or one after another on the caller's thread
//! ([`Harness::Inline`], for benchmarks that measure the model's work without any harness).
//! Every actor gets the same per-thread setup in each (sink, trace actor, lockdep name, abort
//! flag, race injector from the seed and its CPU index), so an iteration's seed decides the
//! same delays whichever harness ran it.

use crate::race::{self, Injector};
use crate::report::{Oracle, Sink, Violation, panic_message};
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
    /// Where the iteration's violations go: the one sink of the iteration, owned here because
    /// the Env is what exists before the world is built and after it is gone, and what the
    /// runner, the watchdog and every actor thread share. Installed only by the Env itself
    /// (on the scenario's own thread by [`Env::play`], on each actor's thread by
    /// [`Env::run`]); drained once, by whoever turns the iteration into an outcome (the
    /// scenario, or the runner for an iteration that never returned one).
    pub sink: Sink,
    /// The watchdog's bound: an iteration with no progress for this long is a hang.
    pub hang_after: Duration,
    /// Bumped by actors as they make progress; the watchdog reads it.
    pub progress: Arc<AtomicU64>,
    /// Set by the runner to ask long-running actors to stop early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// Where [`Env::run`] runs the actors (real mode; loom always spawns model threads).
    pub harness: Harness,
}

/// Where [`Env::run`] runs a scenario's actors in real mode.
#[derive(Debug, Clone, Default)]
pub enum Harness {
    /// A new thread per actor per iteration, joined at its end.
    #[default]
    Spawn,
    /// Long-lived threads: the first actor on the calling thread, actor `i > 0` on the crew's
    /// worker `i`, which parks between iterations. A worker whose actor panicked, ended
    /// holding a lock, or never came back is retired and replaced by a fresh thread at the
    /// next iteration (and a calling thread learns it from [`take_unfit`]).
    Crew(Arc<Crew>),
    /// One after another, in order, on the calling thread, with no watchdog: what the actors'
    /// own work costs without any harness (benchmarks). An actor that waits for another one
    /// would wait forever here; [`running_inline`] lets a helper that paces itself by another
    /// actor (the catalog's `Overlap`) run its fixed count instead.
    Inline,
}

std::thread_local! {
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set when an actor this thread played under [`Harness::Crew`] panicked or ended holding
    /// a lock: its lockdep state may be inconsistent, and it should not play another.
    static UNFIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Did an actor played on this thread by [`Harness::Crew`] (the first actor of an iteration
/// runs on the thread that called [`Env::run`]) panic or end holding a lock since the last
/// call? A long-lived thread that calls `Env::run` should then let a fresh thread take over.
pub fn take_unfit() -> bool {
    UNFIT.with(|u| u.replace(false))
}

/// Is the current thread running an actor under [`Harness::Inline`]?
pub fn running_inline() -> bool {
    INLINE.with(|i| i.get())
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
            harness: Harness::Spawn,
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

    /// Play an iteration's own thread: run `f` (a scenario's setup, its [`Env::run`], its
    /// quiescent checks) with this Env's sink as the thread's sink, and put the thread's
    /// previous sink back afterwards, even if `f` panics. Whoever calls a scenario calls it
    /// through this (the stress runner, the loom harness, benchmarks, tests), so that nothing a
    /// scenario reports outside its actors can miss the iteration's sink.
    pub fn play<R>(&self, f: impl FnOnce() -> R) -> R {
        let _installed = self.sink.install_scoped();
        f()
    }

    /// [`enter_actor`] with this Env's sink and actor `cpu`'s injector.
    fn enter_actor(&self, name: &'static str, cpu: usize) {
        enter_actor(&self.sink, name, cpu, self.injector(cpu));
    }

    /// Run `actors` (name, body) concurrently, each on its own simulated CPU (its index), and
    /// wait for all of them. Violations land in `self.sink`: each actor's thread reports there.
    /// The calling thread's own sink is not touched (see [`Env::play`]).
    pub fn run(&self, actors: Vec<Actor>) {
        if sync::LOOM {
            self.run_loom(actors);
        } else {
            match &self.harness {
                Harness::Spawn => self.run_real(actors),
                Harness::Crew(crew) => self.run_crew(crew, actors),
                Harness::Inline => self.run_inline(actors),
            }
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
            let env = self.clone();
            let body = Unstarted(Some(body));
            handles.push(sync::thread::spawn(move || {
                let mut body = body;
                env.enter_actor(name, cpu);
                if let Some(body) = body.0.take() {
                    body();
                }
            }));
        }
        if let Some((name, body)) = last {
            let previous = self.sink.install();
            trace::set_actor(name, n - 1);
            body();
            trace::set_actor("main", n);
            if let Some(previous) = previous {
                previous.install();
            }
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

    /// The race injector of the actor on simulated CPU `cpu`: derived from the iteration's
    /// seed and the CPU index only, whichever thread runs it.
    fn injector(&self, cpu: usize) -> Option<Injector> {
        self.inject.then(|| {
            Injector::new(self.seed ^ (cpu as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        })
    }

    fn run_real(&self, actors: Vec<Actor>) {
        let abort = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let watcher = std::thread::current();
        let n = actors.len() as u64;
        let mut handles = Vec::new();
        for (cpu, (name, body)) in actors.into_iter().enumerate() {
            let job = Job {
                name,
                cpu,
                body,
                sink: self.sink.clone(),
                abort: abort.clone(),
                inject: self.injector(cpu),
                done: done.clone(),
                watcher: watcher.clone(),
                // A new thread's start-up latency is its skew.
                skew: Duration::ZERO,
            };
            let spawned = std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    let (done, watcher) = (job.done.clone(), job.watcher.clone());
                    job.run();
                    done.fetch_add(1, Ordering::SeqCst);
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

    /// As [`Self::run_real`], on long-lived threads instead of new ones: the first actor on the
    /// calling thread itself, the others on the crew's workers (actor `i` on worker `i`),
    /// watched by the crew's one watchdog thread instead of this one. Each actor handed to
    /// another thread costs a wake-up to start it and one to report it done; on a loaded
    /// two-core machine those wake-ups, not the model, were most of a short iteration.
    ///
    /// Why the first: spawned actors start in order, the first a thread creation ahead of the
    /// next, and several races (migrate-vs-fault's wait-takes-ref, without injection) need
    /// that head start of the first actor (the migrator) to be sampled as often as before. The
    /// first actor here starts while the workers are still waking up, much as it did then.
    /// Playing the last actor instead caught wait-takes-ref in none of 5 runs of 5 s without
    /// injection (it ran ahead of the migrator), and in 4 of 6 runs of 4 s when held until the
    /// workers' actors had started; spawning, and this, caught it in 6 of 6.
    ///
    /// An actor the watchdog could not unwind keeps its thread: a worker is retired
    /// (abandoned) and replaced at the next iteration; the calling thread stays stuck, and the
    /// stress runner abandons it.
    fn run_crew(&self, crew: &Crew, actors: Vec<Actor>) {
        let abort = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let me = std::thread::current();
        let n = actors.len();
        let mut actors = actors;
        let first = (!actors.is_empty()).then(|| actors.remove(0));
        let job = |cpu: usize, name: &'static str, body| Job {
            name,
            cpu,
            body,
            sink: self.sink.clone(),
            abort: abort.clone(),
            inject: self.injector(cpu),
            done: done.clone(),
            watcher: me.clone(),
            skew: start_skew(self.seed, cpu),
        };
        for (i, (name, body)) in actors.into_iter().enumerate() {
            let cpu = i + 1;
            if let Err(e) = crew.dispatch(cpu, job(cpu, name, body)) {
                self.sink.push(Violation::new(
                    Oracle::Panic,
                    format!("cannot spawn actor {name}: {e}"),
                ));
                done.fetch_add(1, Ordering::SeqCst);
            }
        }
        // The watchdog needs the Env's progress, sink and bounds, not the crew it runs on (a
        // Watched holding the crew would keep it alive from its own watchdog).
        let mut watched_env = self.clone();
        watched_env.harness = Harness::Spawn;
        let watched = Arc::new(Watched {
            env: watched_env,
            done: done.clone(),
            n: n as u64,
            abort: abort.clone(),
            gave_up: AtomicBool::new(false),
            waiter: me.clone(),
        });
        crew.watch(&watched);
        if let Some((name, body)) = first {
            let identity = (
                trace::actor(),
                std::thread::current().name().unwrap_or("?").to_string(),
            );
            if !job(0, name, body).run() {
                UNFIT.with(|u| u.set(true));
            }
            trace::set_actor(identity.0.0, identity.0.1);
            held::set_thread_name(&identity.1);
            done.fetch_add(1, Ordering::SeqCst);
        }
        let over =
            || done.load(Ordering::SeqCst) >= n as u64 || watched.gave_up.load(Ordering::SeqCst);
        spin_until(over);
        while !over() {
            std::thread::park_timeout(Duration::from_millis(10));
        }
        crew.unwatch(&watched);
        if watched.gave_up.load(Ordering::SeqCst) {
            crew.retire_busy();
        }
    }

    /// Every actor in turn on this thread, with an actor's setup (no abort flag: there is no
    /// watchdog), then this thread's own identity back.
    fn run_inline(&self, actors: Vec<Actor>) {
        let before = trace::actor();
        let thread_name = std::thread::current().name().unwrap_or("?").to_string();
        INLINE.with(|i| i.set(true));
        let _installed = self.sink.install_scoped();
        for (cpu, (name, body)) in actors.into_iter().enumerate() {
            self.enter_actor(name, cpu);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
            race::install(None);
            if let Err(payload) = r {
                report_panic(&self.sink, name, payload.as_ref());
            }
        }
        INLINE.with(|i| i.set(false));
        held::set_thread_name(&thread_name);
        trace::set_actor(before.0, before.1);
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
            let bound = self.stall_bound();
            if since.elapsed() >= bound {
                let msg = hang_message(bound);
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

    /// How long a stall may last before it is a hang. Once lockdep has reported an inversion,
    /// a short stall is the deadlock it predicted: unwind after [`PREDICTED_DEADLOCK`] rather
    /// than the full bound.
    fn stall_bound(&self) -> Duration {
        if self.sink.fired(Oracle::I15Lockdep) {
            self.hang_after.min(PREDICTED_DEADLOCK)
        } else {
            self.hang_after
        }
    }
}

/// The hang report: the stall, and every thread's held locks and what it waits for.
fn hang_message(bound: Duration) -> String {
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
    msg
}

/// Report an actor's panic, unless it is the watchdog's unwinding ([`sync::wait::Aborted`]).
fn report_panic(sink: &Sink, name: &str, payload: &(dyn std::any::Any + Send)) {
    if payload.downcast_ref::<sync::wait::Aborted>().is_some() {
        return;
    }
    sink.push(Violation::new(
        Oracle::Panic,
        format!("actor {name} panicked: {}", panic_message(payload)),
    ));
}

/// What every actor's thread does before its body, whichever harness runs it: the
/// iteration's sink (the one place an actor's thread gets it), the actor's trace identity and
/// lockdep name, and its race injector.
fn enter_actor(sink: &Sink, name: &'static str, cpu: usize, inject: Option<Injector>) {
    sink.install();
    trace::set_actor(name, cpu);
    held::set_thread_name(name);
    race::install(inject);
}

/// One actor of one iteration, with everything its thread needs to play it.
struct Job {
    name: &'static str,
    cpu: usize,
    body: Box<dyn FnOnce() + Send + 'static>,
    sink: Sink,
    abort: Arc<AtomicBool>,
    inject: Option<Injector>,
    /// Counts finished actors; bumped by whoever ran the job, after it.
    done: Arc<AtomicU64>,
    /// The thread running [`Env::watch`], unparked after `done` is bumped.
    watcher: std::thread::Thread,
    /// How long the actor waits before its body starts ([`start_skew`]).
    skew: Duration,
}

impl Job {
    /// Play the actor on the current thread: install its identity, run its body, report a
    /// panic, clear the per-iteration state. Returns whether the thread is fit for another
    /// actor: the body returned normally and left no lock held in lockdep's state (an unwound
    /// or panicked body may have left it inconsistent, and a fresh thread is cheap next to a
    /// false report).
    fn run(self) -> bool {
        let Job {
            name,
            cpu,
            body,
            sink,
            abort,
            inject,
            skew,
            ..
        } = self;
        spin_for(skew);
        enter_actor(&sink, name, cpu, inject);
        sync::wait::set_abort_flag(Some(abort));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        race::install(None);
        sync::wait::set_abort_flag(None);
        let clean = r.is_ok();
        if let Err(payload) = r {
            report_panic(&sink, name, payload.as_ref());
        }
        clean && held::held_classes().is_empty()
    }
}

/// The most an actor on the crew waits before its body starts.
const MAX_START_SKEW_NS: u64 = 20_000;

/// How long actor `cpu` of the iteration seeded `seed` waits before its body starts, on the
/// crew: 0 to [`MAX_START_SKEW_NS`], a pure function of the seed (so a replay repeats it).
///
/// Why: a new thread per actor starts its body after a creation latency that varies by tens of
/// microseconds from one iteration to the next, and that variation is what lets a race with
/// no injected window (`--no-inject`) line its two sides up. Warm crew threads start within
/// one wake-up of each other every time. Measured side by side on ttu-sync's `no-ttu-sync`
/// without injection, seeds 1..=7: the median iteration that first caught it was 2,738 with no
/// skew, 843 with up to 20 µs, 1,139 with up to 40 µs, for 14% and 22% fewer iterations a
/// second on `fixed` (docs/PERFORMANCE.md, "Stress harness").
fn start_skew(seed: u64, cpu: usize) -> Duration {
    // splitmix64's finaliser: every bit of the seed and the CPU moves the result.
    let mut z = seed ^ (cpu as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Duration::from_nanos(z % MAX_START_SKEW_NS)
}

/// How long a crew thread spins on its condition before it parks.
const IDLE_SPIN: Duration = Duration::from_micros(50);

/// Spin until `cond` holds, for at most [`IDLE_SPIN`]; returns whether it holds. Why: a parked
/// thread's wake-up (a futex wake, and on an idle core the exit from its idle state) costs tens
/// of microseconds — as much as a whole iteration of a small scenario — and the crew's threads
/// hand work to each other twice an iteration. A worker that has just finished an actor and
/// the thread waiting for an iteration's last actor usually see their condition change within
/// that bound; past it they park as before, so an oversubscribed run loses at most the bound.
fn spin_until(cond: impl Fn() -> bool) -> bool {
    let until = Instant::now() + IDLE_SPIN;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        for _ in 0..64 {
            std::hint::spin_loop();
        }
    }
}

/// Busy-wait for `d`: a sleep's granularity (tens of microseconds at best) is the size of the
/// whole skew.
fn spin_for(d: Duration) {
    if d.is_zero() {
        return;
    }
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Long-lived actor threads for [`Harness::Crew`]: worker `i` (`i > 0`) plays the actor on
/// simulated CPU `i` of every iteration it is given, and parks in between (the first actor is
/// the calling thread's). Dropping the crew lets its idle workers and its watchdog exit.
#[derive(Debug, Default)]
pub struct Crew {
    /// Worker `i`, if it has been started and not retired.
    ///
    /// Protected by: its own mutex (only the thread running [`Env::run`] takes it).
    workers: std::sync::Mutex<Vec<Option<Worker>>>,
    /// The iteration being watched, and the watchdog thread's handle once started.
    ///
    /// Protected by: its own mutex (the thread running [`Env::run`] sets it, the watchdog
    /// reads it).
    watchdog: Arc<std::sync::Mutex<Watchdog>>,
}

/// The crew's one watchdog: a thread that looks at the running iterations every 10 ms, started
/// by the first iteration and gone when the crew is dropped.
#[derive(Debug, Default)]
struct Watchdog {
    /// The iterations running now: one, unless a thread the stress runner abandoned has come
    /// back and runs its actors beside the live iteration's.
    current: Vec<Arc<Watched>>,
    thread: Option<std::thread::Thread>,
    closing: bool,
}

/// One iteration under the crew's watchdog.
#[derive(Debug)]
struct Watched {
    env: Env,
    done: Arc<AtomicU64>,
    n: u64,
    abort: Arc<AtomicBool>,
    /// The watchdog reported a hang and an actor still did not finish within a further
    /// `hang_after`: stop waiting for it.
    gave_up: AtomicBool,
    /// The thread waiting for the iteration, unparked on giving up.
    waiter: std::thread::Thread,
}

#[derive(Debug)]
struct Worker {
    thread: std::thread::Thread,
    shared: Arc<WorkerShared>,
}

#[derive(Default)]
struct WorkerShared {
    /// The next actor to play.
    ///
    /// Protected by: its own mutex (the dispatcher puts, the worker takes).
    job: std::sync::Mutex<Option<Job>>,
    /// Given a job and not finished with it yet. Cleared by the worker before it bumps the
    /// job's `done`, so a watchdog that saw every actor done sees every worker idle.
    busy: AtomicBool,
    /// The crew gave up on this worker (or the worker on itself): exit instead of parking.
    retired: AtomicBool,
}

impl std::fmt::Debug for WorkerShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerShared")
            .field("busy", &self.busy)
            .field("retired", &self.retired)
            .finish_non_exhaustive()
    }
}

impl Crew {
    /// An empty crew: workers are started by the first iteration that needs them.
    pub fn new() -> Arc<Self> {
        Arc::new(Crew::default())
    }

    /// Hand `job` to worker `cpu`, starting it (or its replacement) if needed.
    fn dispatch(&self, cpu: usize, job: Job) -> std::io::Result<()> {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if workers.len() <= cpu {
            workers.resize_with(cpu + 1, || None);
        }
        // A worker still busy is stuck in an actor of an iteration the watchdog gave up on
        // (one whose caller never came back to retire it): abandon it too.
        let fit = workers[cpu].as_ref().is_some_and(|w| {
            !w.shared.retired.load(Ordering::SeqCst) && !w.shared.busy.load(Ordering::SeqCst)
        });
        if !fit && let Some(w) = workers[cpu].take() {
            w.shared.retired.store(true, Ordering::SeqCst);
            w.thread.unpark();
        }
        if !fit {
            workers[cpu] = Some(Worker::start(cpu)?);
        }
        let w = workers[cpu].as_ref().expect("just started");
        w.shared.busy.store(true, Ordering::SeqCst);
        *w.shared.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
        w.thread.unpark();
        Ok(())
    }

    /// Watch `w` (an iteration that just started), starting the watchdog thread if needed.
    fn watch(&self, w: &Arc<Watched>) {
        let mut dog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner());
        dog.current.push(w.clone());
        if dog.thread.is_none() {
            let shared = Arc::downgrade(&self.watchdog);
            // Without a watchdog a hang would go unreported, but the iteration still ends
            // when its actors do; the next iteration tries again.
            if let Ok(h) = std::thread::Builder::new()
                .name("watchdog".into())
                .spawn(move || Watchdog::main(&shared))
            {
                dog.thread = Some(h.thread().clone());
            }
        }
    }

    /// Stop watching `w`.
    fn unwatch(&self, w: &Arc<Watched>) {
        let mut dog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner());
        dog.current.retain(|c| !Arc::ptr_eq(c, w));
    }

    /// Give up on every worker still busy (the watchdog could not unwind its actor): it is
    /// abandoned, never joined, and exits if its actor ever returns.
    fn retire_busy(&self) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        for slot in workers.iter_mut() {
            if slot
                .as_ref()
                .is_some_and(|w| w.shared.busy.load(Ordering::SeqCst))
                && let Some(w) = slot.take()
            {
                w.shared.retired.store(true, Ordering::SeqCst);
                w.thread.unpark();
            }
        }
    }

    /// Workers started and not retired.
    pub fn live_workers(&self) -> usize {
        let workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        workers
            .iter()
            .flatten()
            .filter(|w| !w.shared.retired.load(Ordering::SeqCst))
            .count()
    }
}

/// What the watchdog thread knows of the iteration it watches: the iteration, the last
/// (progress, done) seen, since when, and the give-up deadline once it has reported a hang.
type Tracked = (Arc<Watched>, (u64, u64), Instant, Option<Instant>);

impl Watchdog {
    /// Every 10 ms, for each watched iteration: has it made progress (an actor ticked or
    /// finished)? If not for its stall bound, report the hang and unwind its actors, as
    /// [`Env::watch`] does; if an actor still has not finished a further `hang_after` later,
    /// give up on it.
    fn main(shared: &std::sync::Weak<std::sync::Mutex<Watchdog>>) {
        let mut tracked: Vec<Tracked> = Vec::new();
        loop {
            std::thread::park_timeout(Duration::from_millis(10));
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let current = {
                let dog = shared.lock().unwrap_or_else(|e| e.into_inner());
                if dog.closing {
                    return;
                }
                dog.current.clone()
            };
            drop(shared);
            tracked.retain(|t| current.iter().any(|w| Arc::ptr_eq(w, &t.0)));
            for w in current {
                let now = (
                    w.env.progress.load(Ordering::Relaxed),
                    w.done.load(Ordering::SeqCst),
                );
                let i = match tracked.iter().position(|t| Arc::ptr_eq(&t.0, &w)) {
                    Some(i) => i,
                    None => {
                        tracked.push((w.clone(), now, Instant::now(), None));
                        tracked.len() - 1
                    }
                };
                let t = &mut tracked[i];
                if now.1 >= w.n || w.gave_up.load(Ordering::SeqCst) {
                    continue;
                }
                match t.3 {
                    None if now != t.1 => {
                        t.1 = now;
                        t.2 = Instant::now();
                    }
                    None => {
                        let bound = w.env.stall_bound();
                        if t.2.elapsed() >= bound {
                            w.env
                                .sink
                                .push(Violation::new(Oracle::Hang, hang_message(bound)));
                            w.abort.store(true, Ordering::SeqCst);
                            t.3 = Some(Instant::now() + w.env.hang_after);
                        }
                    }
                    Some(deadline) if Instant::now() >= deadline => {
                        w.gave_up.store(true, Ordering::SeqCst);
                        w.waiter.unpark();
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        {
            let mut dog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner());
            dog.closing = true;
            dog.current.clear();
            if let Some(t) = &dog.thread {
                t.unpark();
            }
        }
        let workers = self.workers.get_mut().unwrap_or_else(|e| e.into_inner());
        for w in workers.iter().flatten() {
            w.shared.retired.store(true, Ordering::SeqCst);
            w.thread.unpark();
        }
    }
}

impl Worker {
    fn start(cpu: usize) -> std::io::Result<Worker> {
        let shared = Arc::new(WorkerShared::default());
        let mine = shared.clone();
        let handle = std::thread::Builder::new()
            .name(format!("actor-cpu{cpu}"))
            .spawn(move || Worker::main(&mine))?;
        Ok(Worker {
            thread: handle.thread().clone(),
            shared,
        })
    }

    /// Take a job, play it, signal it done; park when there is none; exit once retired.
    fn main(shared: &WorkerShared) {
        loop {
            let job = shared.job.lock().unwrap_or_else(|e| e.into_inner()).take();
            match job {
                Some(job) => {
                    let (done, watcher) = (job.done.clone(), job.watcher.clone());
                    if !job.run() {
                        shared.retired.store(true, Ordering::SeqCst);
                    }
                    shared.busy.store(false, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                    watcher.unpark();
                }
                None if shared.retired.load(Ordering::SeqCst) => return,
                None => {
                    let dispatched = || {
                        shared.busy.load(Ordering::SeqCst) || shared.retired.load(Ordering::SeqCst)
                    };
                    if !spin_until(dispatched) {
                        std::thread::park();
                    }
                }
            }
        }
    }
}
