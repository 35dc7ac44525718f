//! The domain trace: which thread did what, to which object, in execution order.
//!
//! A failure prints it (as shuttle's `runtime/failure.rs` prints its schedule): each line is
//! (sequence, thread, cpu, step, object, value), with steps named as the kernel names them,
//! so a kernel developer can read the interleaving without knowing loom or the runner. The
//! trace is observer state: a `std` mutex that loom does not see, and under loom it is in
//! execution order by construction (loom runs one thread at a time). It keeps the last
//! [`Trace::CAPACITY`] events.
//!
//! Under loom a violation ends the execution with a panic before the scenario can print
//! anything, so the world's trace is also *observed*: [`Trace::observe`] makes it the trace
//! that [`crate::check::report`] quotes in its panic message ([`render_observed`]). That is how
//! a loom counterexample reaches the developer as a kernel-level interleaving.

use crate::sync::ObserverMutex;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

/// One step.
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the run.
    pub seq: u64,
    /// The actor that made it.
    pub thread: &'static str,
    /// The simulated CPU the actor runs on.
    pub cpu: usize,
    /// The kernel step (`zap_pte_range: ptep_get_and_clear_full`).
    pub step: &'static str,
    /// The object (`pfn 3`, `mm 1 va 0x2000`).
    pub object: String,
    /// What it saw or wrote.
    pub value: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>5}  {:<12} cpu{}  {:<44} {:<20} {}",
            self.seq, self.thread, self.cpu, self.step, self.object, self.value
        )
    }
}

/// The log itself: the next sequence number and the kept events.
type Log = ObserverMutex<(u64, VecDeque<Event>)>;

/// A bounded, ordered log of events.
#[derive(Debug)]
pub struct Trace {
    // A `std` Arc (observer state), shared with the observed slot below.
    events: Arc<Log>,
    /// Off: `record` returns before formatting anything (benchmarks of the bare paths).
    enabled: std::sync::atomic::AtomicBool,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            events: Arc::default(),
            enabled: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

crate::sync::thread_local! {
    static ACTOR: Cell<(&'static str, usize)> = Cell::new(("main", 0));
}

// The observed trace. Deliberately a `std` thread-local, not the facade's: under loom every
// model thread is a coroutine on the test's own OS thread, so a `std` thread-local is one slot
// per model — the world built by the model's main thread is seen by every actor — and tests
// running in parallel (one OS thread each) do not see each other's worlds. In real mode it is
// never set (violations do not panic there; the runner prints the trace itself).
//
// It holds the log itself, not a weak handle: a failure loom raises after the world is gone
// (its own limits, checked at the execution's last scheduling point) still gets the trace of
// the execution that failed. Only the newest world's log is kept.
std::thread_local! {
    static OBSERVED: RefCell<Option<Arc<Log>>> = const { RefCell::new(None) };
}

/// Stop observing any trace on this thread (a loom harness calls this at the start of each
/// execution, so that a model without a world never quotes an older model's trace).
pub fn forget_observed() {
    OBSERVED.with(|o| *o.borrow_mut() = None);
}

/// The last `n` events of the observed trace (see [`Trace::observe`]), rendered; `None` when
/// no trace is observed on this thread, or when it is being written (a panic raised while an
/// event is being recorded must not deadlock on the trace).
pub fn render_observed(n: usize) -> Option<String> {
    let log = OBSERVED.with(|o| o.borrow().clone())?;
    let g = log.try_lock()?;
    Some(render_events(&g.1, n))
}

fn render_events(events: &VecDeque<Event>, n: usize) -> String {
    let skip = events.len().saturating_sub(n);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("  ... {skip} earlier events not shown\n"));
    }
    out.push_str(&format!(
        "  {:>5}  {:<12} {:<4}  {:<44} {:<20} {}\n",
        "seq", "thread", "cpu", "step", "object", "value"
    ));
    for e in events.iter().skip(skip) {
        out.push_str(&format!("  {e}\n"));
    }
    out
}

/// Name the current thread's actor and its CPU (the runner does this for each actor).
pub fn set_actor(name: &'static str, cpu: usize) {
    ACTOR.with(|a| a.set((name, cpu)));
}

/// The current actor's (name, cpu).
pub fn actor() -> (&'static str, usize) {
    ACTOR.with(|a| a.get())
}

impl Trace {
    /// Events kept (the most recent).
    pub const CAPACITY: usize = 4096;

    /// Turn recording on or off (on by default; a failure's story needs it).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Record a step by the current actor. Call sites pass `format_args!` and lazy `Display`
    /// values, so nothing is formatted (or allocated) when the trace is off.
    pub fn record(&self, step: &'static str, object: impl fmt::Display, value: impl fmt::Display) {
        if !self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let (thread, cpu) = actor();
        // Formatted before the lock is taken: a Display that reads model state (a loom
        // atomic) can end the execution with a panic, which must not leave the trace locked.
        let (object, value) = (object.to_string(), value.to_string());
        let mut g = self.events.lock();
        let seq = g.0;
        g.0 += 1;
        if g.1.len() == Self::CAPACITY {
            g.1.pop_front();
        }
        g.1.push_back(Event {
            seq,
            thread,
            cpu,
            step,
            object,
            value,
        });
    }

    /// The events, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().1.iter().cloned().collect()
    }

    /// The last `n` events, formatted one per line.
    pub fn render(&self, n: usize) -> String {
        render_events(&self.events.lock().1, n)
    }

    /// Make this the trace that violations raised as loom panics quote (the world does this
    /// under loom when it is built; the newest world wins). Observer-side only: no model
    /// state, no scheduling point.
    pub fn observe(&self) {
        OBSERVED.with(|o| *o.borrow_mut() = Some(self.events.clone()));
    }
}
