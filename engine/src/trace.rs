//! The domain trace: which thread did what, to which object, in execution order.
//!
//! A failure prints it (as shuttle's `runtime/failure.rs` prints its schedule): each line is
//! (sequence, thread, cpu, step, object, value), with steps named as the kernel names them, so a kernel developer can read the
//! interleaving without knowing loom or the runner. The trace is observer state: a `std`
//! mutex that loom does not see, and under loom it is in execution order by construction
//! (loom runs one thread at a time). It keeps each thread's last [`Trace::CAPACITY`] events (a
//! chatty thread evicts only its own) until a violation is marked in it ([`mark_violation`],
//! called by [`crate::report::report`]); from then on it evicts nothing and keeps
//! [`Trace::AFTER_MARK`] more, so that the steps that led to the violation are still there when
//! the failing iteration ends. [`Trace::render`] tells the actors' story around the mark.
//!
//! Under loom a violation ends the execution with a panic before the scenario can print
//! anything, so the world's trace is also *observed*: [`Trace::observe`] makes it the trace
//! that [`crate::report::report`] quotes in its panic payload ([`render_observed`]). That is how
//! a loom counterexample reaches the developer as a kernel-level interleaving.

use crate::sync::{ObserverMutex, observer};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Weak};

/// One step.
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the run.
    pub seq: u64,
    /// The actor that made it.
    pub thread: &'static str,
    /// The simulated CPU the actor runs on.
    pub cpu: usize,
    /// The kernel step (`ptep_get_and_clear_full`, `try_to_unmap_one: ptep_clear_flush`).
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

/// The log itself.
type Log = ObserverMutex<LogState>;

/// The kept events and what the log knows about the ones it did not keep.
#[derive(Debug, Default)]
struct LogState {
    /// The next sequence number.
    next: u64,
    /// Each thread's kept events, oldest first: one ring per thread, so that a chatty thread
    /// evicts its own old steps, never the other actors'.
    threads: Vec<(&'static str, VecDeque<Event>)>,
    /// Events recorded since the first violation mark, once there is one.
    after_mark: Option<usize>,
    /// Events not kept because [`Trace::AFTER_MARK`] were already kept after the mark.
    dropped_after_mark: u64,
}

impl LogState {
    /// Every kept event, in sequence order.
    fn merged(&self) -> Vec<&Event> {
        let mut all: Vec<&Event> = self.threads.iter().flat_map(|(_, q)| q.iter()).collect();
        all.sort_by_key(|e| e.seq);
        all
    }

    /// Events recorded and not kept before the first mark (evicted from their thread's ring).
    fn evicted(&self) -> u64 {
        let kept: usize = self.threads.iter().map(|(_, q)| q.len()).sum();
        self.next - kept as u64 - self.dropped_after_mark
    }
}

/// A bounded, ordered log of events.
#[derive(Debug)]
pub struct Trace {
    // A `std` Arc (observer state), shared with the observed slot below.
    events: Arc<Log>,
    /// Off: `record` returns before formatting anything (benchmarks of the bare paths).
    enabled: observer::AtomicBool,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            events: Arc::default(),
            enabled: observer::AtomicBool::new(true),
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

/// The observed trace (see [`Trace::observe`]) rendered as [`Trace::render`] does, in at most
/// about `n` lines; `None` when no trace is observed on this thread, or when it is being
/// written (a panic raised while an event is being recorded must not deadlock on the trace).
pub fn render_observed(n: usize) -> Option<String> {
    let log = OBSERVED.with(|o| o.borrow().clone())?;
    let g = log.try_lock()?;
    Some(render_events(&g, n))
}

/// The step of the event that marks a violation (see [`mark_violation`]).
pub const VIOLATION_STEP: &str = "*** VIOLATION";

/// The thread name of setup and of quiescent checks: what runs outside the actors.
const MAIN: &str = "main";

// The log this OS thread last recorded into, so that a violation can mark the trace of the
// world it happened in without being handed the world (`report::report` knows only the
// sink). A `std` thread-local for the reason given for OBSERVED; weak, so that it keeps no
// finished world's log alive.
std::thread_local! {
    static LAST_LOG: RefCell<Weak<Log>> = const { RefCell::new(Weak::new()) };
}

/// Mark a violation in the trace this thread last recorded into: an event with step
/// [`VIOLATION_STEP`], the oracle's name as object, and `first_line` with `site` as value, at
/// the point of the interleaving where it was found. Called by [`crate::report::report`]
/// (plain arguments, not the `Violation`: the trace sits below the report types); a no-op if
/// this thread recorded into no live trace, or if that trace is being written (a violation
/// raised from inside a `Display` of a trace value).
pub fn mark_violation(oracle: &str, first_line: &str, site: Option<&Location<'static>>) {
    let Some(log) = LAST_LOG.with(|l| l.borrow().upgrade()) else {
        return;
    };
    let (thread, cpu) = actor();
    let mut value = first_line.to_string();
    if let Some(site) = site {
        value.push_str(&format!(" (at {}:{})", site.file(), site.line()));
    }
    let object = format!("[{oracle}]");
    let Some(mut g) = log.try_lock() else {
        return;
    };
    push(&mut g, thread, cpu, VIOLATION_STEP, object, value);
}

/// Append an event. Until the first violation mark each thread's ring keeps its last
/// [`Trace::CAPACITY`] events; from the mark on nothing is evicted and at most
/// [`Trace::AFTER_MARK`] more are kept, so that the actors' steps that led to the violation
/// survive the rest of the run (a failing iteration goes on until its actors finish).
fn push(
    g: &mut LogState,
    thread: &'static str,
    cpu: usize,
    step: &'static str,
    object: String,
    value: String,
) {
    let seq = g.next;
    g.next += 1;
    let evict = match g.after_mark {
        Some(n) if n >= Trace::AFTER_MARK => {
            g.dropped_after_mark += 1;
            return;
        }
        Some(n) => {
            g.after_mark = Some(n + 1);
            false
        }
        None => {
            if step == VIOLATION_STEP {
                g.after_mark = Some(0);
            }
            true
        }
    };
    let ring = match g.threads.iter().position(|(t, _)| *t == thread) {
        Some(i) => &mut g.threads[i].1,
        None => {
            g.threads.push((thread, VecDeque::new()));
            &mut g.threads.last_mut().expect("just pushed").1
        }
    };
    if evict && ring.len() == Trace::CAPACITY {
        ring.pop_front();
    }
    ring.push_back(Event {
        seq,
        thread,
        cpu,
        step,
        object,
        value,
    });
}

/// Which events of a trace a rendering of about `budget` lines keeps: all of them if they fit
/// (a loom counterexample, setup included); else the story of the actors around the (first)
/// violation mark, not the setup before the first actor step nor the chattiest thread's whole
/// output.
///
/// * Events before the first actor step (thread `main`: setup) are dropped.
/// * Up to the mark (or to the end, if nothing is marked), each thread keeps its most recent
///   events within a fair share of the budget: shares are filled smallest thread first, so a
///   thread with few steps keeps them all and a chatty helper (writeback, a recycler) gets
///   what is left. The mark itself is always kept.
/// * After the mark, the first events (at most an eighth of the budget) show what the other
///   actors were doing as it was found.
fn keep(events: &[&Event], budget: usize) -> Vec<bool> {
    let n = events.len();
    if n <= budget {
        return vec![true; n];
    }
    let mut kept = vec![false; n];
    let start = events.iter().position(|e| e.thread != MAIN).unwrap_or(0);
    let mark = events.iter().position(|e| e.step == VIOLATION_STEP);
    let focus_end = mark.map_or(n, |m| m + 1);
    let after = n - focus_end;
    let after_budget = after.min(budget / 8);
    let before_budget = budget.saturating_sub(after_budget).max(1);
    // Per-thread counts in the focus region, then water-filled shares.
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for e in &events[start..focus_end] {
        match counts.iter_mut().find(|(t, _)| *t == e.thread) {
            Some((_, c)) => *c += 1,
            None => counts.push((e.thread, 1)),
        }
    }
    counts.sort_by_key(|&(_, c)| c);
    let mut share: Vec<(&'static str, usize)> = Vec::new();
    let mut left = before_budget;
    for (i, &(t, c)) in counts.iter().enumerate() {
        let fair = left / (counts.len() - i);
        let take = c.min(fair.max(1));
        share.push((t, take));
        left = left.saturating_sub(take);
    }
    for i in (start..focus_end).rev() {
        let e = events[i];
        if let Some((_, q)) = share.iter_mut().find(|(t, _)| *t == e.thread)
            && (*q > 0 || e.step == VIOLATION_STEP)
        {
            *q = q.saturating_sub(1);
            kept[i] = true;
        }
    }
    for k in kept.iter_mut().skip(focus_end).take(after_budget) {
        *k = true;
    }
    kept
}

fn render_events(log: &LogState, budget: usize) -> String {
    let events = log.merged();
    let kept = keep(&events, budget);
    let mut out = String::new();
    let evicted = log.evicted();
    if evicted > 0 {
        out.push_str(&format!(
            "  ... {evicted} earlier events were not kept by the trace (it keeps {} a thread)\n",
            Trace::CAPACITY
        ));
    }
    out.push_str(&format!(
        "  {:>5}  {:<12} {:<4}  {:<44} {:<20} {}\n",
        "seq", "thread", "cpu", "step", "object", "value"
    ));
    let setup_end = events.iter().position(|e| e.thread != MAIN).unwrap_or(0);
    // Dropped events since the last kept one, per thread, in order of first appearance.
    let mut gap: Vec<(&'static str, usize)> = Vec::new();
    let flush = |out: &mut String, gap: &mut Vec<(&'static str, usize)>, setup: bool| {
        for (t, c) in gap.drain(..) {
            let what = if setup { "setup events" } else { "events" };
            out.push_str(&format!("  ... {c} {what} of thread {t} elided\n"));
        }
    };
    for (i, e) in events.iter().enumerate() {
        if kept[i] {
            flush(&mut out, &mut gap, false);
            out.push_str(&format!("  {e}\n"));
        } else {
            match gap.iter_mut().find(|(t, _)| *t == e.thread) {
                Some((_, c)) => *c += 1,
                None => gap.push((e.thread, 1)),
            }
            if i + 1 == setup_end {
                flush(&mut out, &mut gap, true);
            }
        }
    }
    flush(&mut out, &mut gap, false);
    if log.dropped_after_mark > 0 {
        out.push_str(&format!(
            "  ... {} later events were not kept (the trace keeps {} after the first violation)\n",
            log.dropped_after_mark,
            Trace::AFTER_MARK
        ));
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
    /// Events kept per thread (its most recent) until the first violation mark.
    pub const CAPACITY: usize = 1024;
    /// Events kept after the first violation mark.
    pub const AFTER_MARK: usize = 1024;

    /// Turn recording on or off (on by default; a failure's story needs it).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, observer::Ordering::Relaxed);
    }

    /// Record a step by the current actor. Call sites pass `format_args!` and lazy `Display`
    /// values, so nothing is formatted (or allocated) when the trace is off.
    pub fn record(&self, step: &'static str, object: impl fmt::Display, value: impl fmt::Display) {
        if !self.enabled.load(observer::Ordering::Relaxed) {
            return;
        }
        let (thread, cpu) = actor();
        // Formatted before the lock is taken: a Display that reads model state (a loom
        // atomic) can end the execution with a panic, which must not leave the trace locked.
        let (object, value) = (object.to_string(), value.to_string());
        push(&mut self.events.lock(), thread, cpu, step, object, value);
        LAST_LOG.with(|l| {
            let mut l = l.borrow_mut();
            if !std::ptr::eq(l.as_ptr(), Arc::as_ptr(&self.events)) {
                *l = Arc::downgrade(&self.events);
            }
        });
    }

    /// The events, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().merged().into_iter().cloned().collect()
    }

    /// The story of the run in about `n` lines, one event a line: from the first actor step
    /// (setup elided), around the first violation mark (or the end), each thread's most
    /// recent steps within a fair share of the lines, and a few steps after the mark; each
    /// run of left-out events is counted per thread ("... 35 events of thread writeback
    /// elided").
    pub fn render(&self, n: usize) -> String {
        render_events(&self.events.lock(), n)
    }

    /// Make this the trace that violations raised as loom panics quote (the world does this
    /// under loom when it is built; the newest world wins). Observer-side only: no model
    /// state, no scheduling point.
    pub fn observe(&self) {
        OBSERVED.with(|o| *o.borrow_mut() = Some(self.events.clone()));
    }
}
