//! The report types: what a violation is ([`Violation`], [`Oracle`], [`Site`]), where it goes
//! ([`Sink`]), and how a loom execution learns that it failed ([`Raised`]).
//!
//! It sits just above the sync facade's primitives and the trace: the lock kinds' lockdep, the
//! arenas' use-after-free check and every kernel path report through it, and it imports
//! nothing of theirs (`engine/tests/layering.rs` checks that). The oracles that judge a world
//! (`check::quiescent`) sit above `mm`, in `check`, which re-exports everything here.
//!
//! Two kinds of oracle feed it (docs/MODEL.md §3): in-path assertions, like the kernel's
//! `VM_BUG_ON`, raised at the point where the path checks its own postcondition; and quiescent
//! invariants, checked when the actors are done. Either way a violation is a value delivered to
//! the current thread's [`Sink`]. On real threads whoever owns the sink (the [`Env`] of an
//! iteration, or a test's own) drains it once the actors are done; under loom [`report`] also
//! panics with a [`Raised`] payload, which is how loom learns that an interleaving failed.
//!
//! [`Env`]: crate::actor::Env

use crate::sync::ObserverMutex;
use crate::trace;
use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;

/// A call site, as `#[track_caller]` gives it.
pub type Site = &'static Location<'static>;

/// Which invariant or assertion fired. The I-numbers are defined in docs/MODEL.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Oracle {
    /// I1: mapcount equals the mappings (plus pending delayed rmaps).
    I1Mapcount,
    /// I2: after try_to_unmap/try_to_migrate with TTU_SYNC, the page is unmapped.
    I2TtuSync,
    /// I3: no page freed while a TLB (CPU or secondary) can reach it.
    I3FreeBeforeFlush,
    /// I4: no lost dirty data through a stale writable TLB entry.
    I4LostDirty,
    /// I5: a dirty PTE's D bit reaches the page in the same PTL section.
    I5DirtyPropagation,
    /// I6: migration entries live only while the page is locked by its migrator.
    I6MigrationEntry,
    /// I7: the migration refcount gate.
    I7RefFreeze,
    /// I8: a fault on a migration entry never maps, never holds a ref across the sleep.
    I8MigrationFault,
    /// I9: anon_vma lifetime.
    I9AnonVma,
    /// I11: mlock functional state.
    I11Mlock,
    /// I12: mlock locking rule.
    I12MlockLocking,
    /// I13: secondary MMU consistency (either kind: `mm::secondary`).
    I13SecondaryMmu,
    /// I14: zap completion — checked as munmap and MADV_DONTNEED return.
    I14ZapCompletion,
    /// I15: lock discipline (lockdep).
    I15Lockdep,
    /// I16: a mapped VMA is reachable through rmap.
    I16RmapReachable,
    /// I17: anon_vma trees are consistent — a mapped anonymous page's anon_vma is live and its
    /// tree holds every VMA that maps the page; a live anon_vma's root is live; the counters
    /// of the era match the trees.
    I17AnonVmaTree,
    /// I18: a write made for a private mapping lands in an anonymous page of that mm — never
    /// in a page-cache page, nor in a page another mm maps.
    I18CowWrite,
    /// I19: after fork, neither side sees the other's later writes (through its mappings or
    /// a page reference GUP took for it).
    I19CowIsolation,
    /// I20: the swap device's counts match the page tables and the swap cache, at rest — each
    /// slot's `swap_map` count is the number of swap PTEs naming it, its `SWAP_HAS_CACHE` is
    /// set exactly when the swap cache holds a folio for it (PG_swapcache, `folio->swap` that
    /// slot), and no swap PTE names a free slot.
    I20SwapMap,
    /// I22: the OOM reaper never unmaps a VMA that `exit_mmap`'s munlock is walking without
    /// `mmap_lock` (27ae357fa82b, CVE-2018-1000200).
    I22OomReapMunlock,
    /// I23: no page-cache page holds the data of a block its file no longer has — after a
    /// hole punch or a truncation returns, no page over the range brings the freed block's
    /// data back (docs/MODEL.md §20).
    I23PageOverHole,
    /// A stale (freed) object id was used: a use-after-free.
    StaleId,
    /// A store that returned success is not in the page; or a store landed, through a TLB
    /// entry older than a munmap/MADV_DONTNEED of its address that had returned, in a page
    /// the mm no longer maps there (checked as it lands: see [`crate::mm::unmap_log`]).
    LostStore,
    /// A `BUG_ON`-style assertion of a kernel path.
    Bug,
    /// Page-pool accounting (migration's `put_new_page`).
    PoolAccounting,
    /// No progress: a livelock or a starvation shape (e.g. refcount freezes that keep failing).
    Progress,
    /// The watchdog saw no progress for its bound: a hang (deadlock or lost wakeup).
    Hang,
    /// An actor panicked outside the lab's own assertions.
    Panic,
}

impl Oracle {
    /// The oracle's short name, as printed and as loom tests match on it.
    pub fn name(self) -> &'static str {
        use Oracle::*;
        match self {
            I1Mapcount => "I1-mapcount",
            I2TtuSync => "I2-ttu-sync",
            I3FreeBeforeFlush => "I3-free-before-flush",
            I4LostDirty => "I4-lost-dirty",
            I5DirtyPropagation => "I5-dirty-propagation",
            I6MigrationEntry => "I6-migration-entry",
            I7RefFreeze => "I7-ref-freeze",
            I8MigrationFault => "I8-migration-fault",
            I9AnonVma => "I9-anon-vma",
            I11Mlock => "I11-mlock",
            I12MlockLocking => "I12-mlock-locking",
            I13SecondaryMmu => "I13-secondary-mmu",
            I14ZapCompletion => "I14-zap-completion",
            I15Lockdep => "I15-lockdep",
            I16RmapReachable => "I16-rmap-reachable",
            I17AnonVmaTree => "I17-anon-vma-tree",
            I18CowWrite => "I18-cow-write",
            I19CowIsolation => "I19-cow-isolation",
            I20SwapMap => "I20-swap-map",
            I22OomReapMunlock => "I22-oom-reap-munlock",
            I23PageOverHole => "I23-page-over-hole",
            StaleId => "stale-id",
            LostStore => "lost-store",
            Bug => "BUG",
            PoolAccounting => "pool-accounting",
            Progress => "progress",
            Hang => "hang",
            Panic => "panic",
        }
    }
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One oracle firing: which, what it saw, and where (every call site involved: for lockdep the
/// acquisition being made and the one that makes it wrong).
#[derive(Debug, Clone)]
pub struct Violation {
    /// The oracle that fired.
    pub oracle: Oracle,
    /// What it saw, in kernel terms.
    pub message: String,
    /// The call sites involved, most recent first.
    pub sites: Vec<Site>,
}

impl Violation {
    /// A violation at the caller's site.
    #[track_caller]
    pub fn new(oracle: Oracle, message: impl Into<String>) -> Self {
        Violation {
            oracle,
            message: message.into(),
            sites: vec![Location::caller()],
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.oracle, self.message)?;
        for s in &self.sites {
            write!(f, "\n    at {}:{}", s.file(), s.line())?;
        }
        Ok(())
    }
}

/// Where violations go: one per iteration (the [`Env`](crate::actor::Env)'s) or per test.
/// Observer state, invisible to loom. A clone is a handle on the same list.
///
/// Protected by: its `ObserverMutex` (every thread of the iteration pushes; its owner drains).
#[derive(Debug, Clone, Default)]
pub struct Sink(Arc<ObserverMutex<Vec<Violation>>>);

/// At most this many violations are kept per sink; a run that keeps failing the same way does
/// not need a million copies.
const SINK_CAP: usize = 256;

impl Sink {
    /// A new, empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a violation.
    pub fn push(&self, v: Violation) {
        let mut list = self.0.lock();
        if list.len() < SINK_CAP {
            list.push(v);
        }
    }

    /// A copy of what has been recorded.
    pub fn snapshot(&self) -> Vec<Violation> {
        self.0.lock().clone()
    }

    /// Take what has been recorded, leaving the sink empty.
    pub fn take(&self) -> Vec<Violation> {
        std::mem::take(&mut *self.0.lock())
    }

    /// Has `oracle` fired?
    pub fn fired(&self, oracle: Oracle) -> bool {
        self.0.lock().iter().any(|v| v.oracle == oracle)
    }

    /// Has anything been recorded?
    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }

    /// Make this the sink of the current thread, for as long as the thread lives or until
    /// another is installed. Returns the sink it replaces, if any. (A test's own threads call
    /// this; an `Env`'s threads get the Env's sink from the Env itself.)
    pub fn install(&self) -> Option<Sink> {
        CURRENT.with(|c| c.borrow_mut().replace(self.clone()))
    }

    /// Make this the sink of the current thread until the returned guard is dropped, which puts
    /// back the one it replaced (or none).
    pub fn install_scoped(&self) -> Installed {
        Installed(Some(self.install()))
    }
}

/// The current thread's previous sink, put back when this is dropped ([`Sink::install_scoped`]).
#[derive(Debug)]
#[must_use = "the sink is uninstalled when this is dropped"]
pub struct Installed(Option<Option<Sink>>);

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
}

crate::sync::thread_local! {
    static CURRENT: RefCell<Option<Sink>> = RefCell::new(None);
}

/// A process-wide fallback for threads that never installed a sink (a user's own thread):
/// nothing reported is ever dropped silently.
fn fallback() -> &'static Sink {
    static FALLBACK: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();
    FALLBACK.get_or_init(Sink::new)
}

/// The current thread's sink (or the process-wide fallback).
pub fn current_sink() -> Sink {
    CURRENT
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| fallback().clone())
}

static PANIC_UNDER_LOOM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Under loom, raise each report as a panic (the default: that is how loom learns an
/// interleaving failed). A test that wants to count caught and clean executions of a model —
/// a negative control — turns it off and reads the sink instead. Process-wide.
pub fn set_panic_under_loom(on: bool) {
    PANIC_UNDER_LOOM.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// How many of the observed trace's last events a loom violation's panic payload quotes.
pub const LOOM_TRACE_EVENTS: usize = 120;

/// The payload of the panic with which [`report`] ends a loom execution: the violation itself
/// (typed, so that the loom harness reads the oracle from it instead of parsing a message) and
/// the domain trace of the interleaving so far (the world's observed trace, see
/// [`crate::trace::Trace::observe`]), in execution order: the counterexample as a kernel
/// developer reads it. Loom re-raises a model thread's panic with its payload unchanged.
#[derive(Debug, Clone)]
pub struct Raised {
    /// What fired.
    pub violation: Violation,
    /// The observed trace, rendered, if a world's trace was observed on this thread.
    pub trace: Option<String>,
}

impl Raised {
    /// Raise `violation` as a panic with this payload, quoting the observed trace.
    pub fn raise(violation: Violation) -> ! {
        let trace = trace::render_observed(LOOM_TRACE_EVENTS);
        std::panic::panic_any(Raised { violation, trace })
    }
}

impl fmt::Display for Raised {
    /// `mmlab violation [ORACLE] message`, the sites, then the trace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mmlab violation {}", self.violation)?;
        if let Some(t) = &self.trace {
            write!(f, "\ntrace of this interleaving, in execution order:\n{t}")?;
        }
        Ok(())
    }
}

/// The text of a panic payload: a [`Raised`] violation's report, a `panic!` message, or a
/// placeholder for any other payload. The one place that reads payloads (the actors' harness,
/// the stress runner and the loom harness all call it).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(r) = payload.downcast_ref::<Raised>() {
        return r.to_string();
    }
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

/// Report a violation to the current thread's sink, and mark it in the trace this thread last
/// recorded into. Under loom it is also raised as a panic with a [`Raised`] payload (unless
/// the thread is already unwinding, or [`set_panic_under_loom`] turned that off), which is how
/// loom learns that this interleaving failed — and it stops the execution before a reported
/// inversion can deadlock it.
pub fn report(v: Violation) {
    trace::mark_violation(
        v.oracle.name(),
        v.message.lines().next().unwrap_or_default(),
        v.sites.first().copied(),
    );
    let raise = crate::sync::LOOM && PANIC_UNDER_LOOM.load(std::sync::atomic::Ordering::SeqCst);
    let raised = (raise && !std::thread::panicking()).then(|| v.clone());
    current_sink().push(v);
    if let Some(v) = raised {
        Raised::raise(v);
    }
}

/// Report a violation of `oracle` at the caller's site.
#[track_caller]
pub fn violation(oracle: Oracle, message: impl Into<String>) {
    report(Violation::new(oracle, message));
}

/// `VM_BUG_ON`-style assertion: if `cond` is false, report `oracle` with the message.
/// Returns `cond` so a path can decide whether to go on.
#[track_caller]
pub fn vm_bug_on_not(cond: bool, oracle: Oracle, message: impl FnOnce() -> String) -> bool {
    if !cond {
        report(Violation::new(oracle, message()));
    }
    cond
}
