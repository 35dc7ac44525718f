//! The domain trace: which thread did what, to which object, in execution order.
//!
//! A failure prints it (STYLE.md item 12): each line is (sequence, thread, cpu, step, object,
//! value), with steps named as the kernel names them, so a kernel developer can read the
//! interleaving without knowing loom or the runner. The trace is observer state: a `std`
//! mutex that loom does not see, and under loom it is in execution order by construction
//! (loom runs one thread at a time). It keeps the last [`Trace::CAPACITY`] events.

use crate::sync::ObserverMutex;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;

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

/// A bounded, ordered log of events.
#[derive(Debug)]
pub struct Trace {
    events: ObserverMutex<(u64, VecDeque<Event>)>,
    /// Off: `record` returns before formatting anything (benchmarks of the bare paths).
    enabled: std::sync::atomic::AtomicBool,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            events: ObserverMutex::default(),
            enabled: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

crate::sync::thread_local! {
    static ACTOR: Cell<(&'static str, usize)> = Cell::new(("main", 0));
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
            object: object.to_string(),
            value: value.to_string(),
        });
    }

    /// The events, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().1.iter().cloned().collect()
    }

    /// The last `n` events, formatted one per line.
    pub fn render(&self, n: usize) -> String {
        let g = self.events.lock();
        let skip = g.1.len().saturating_sub(n);
        let mut out = String::new();
        if skip > 0 {
            out.push_str(&format!("  ... {skip} earlier events not shown\n"));
        }
        out.push_str(&format!(
            "  {:>5}  {:<12} {:<4}  {:<44} {:<20} {}\n",
            "seq", "thread", "cpu", "step", "object", "value"
        ));
        for e in g.1.iter().skip(skip) {
            out.push_str(&format!("  {e}\n"));
        }
        out
    }
}
