//! lock_stat: per-class contention accounting, after the kernel's `/proc/lock_stat`
//! (`kernel/locking/lockdep.c`, CONFIG_LOCK_STAT).
//!
//! Per class: acquisitions, contentions, wait time (total, max, log2 histogram) and hold time
//! (total, max). Per call site: contentions and wait time, so the report can name the places
//! that wait (lock_stat's "contention points"). Counters are plain `std` atomics: this is
//! observer state, off under loom, and its cost when on is measured by `benches/locks.rs`.
//!
//! What makes it cheap: every acquisition touches its class's acquisition count and, at the
//! release, its hold time, so for the kernel's classes those three counters are kept per
//! thread (`Hot`), written by their owner with plain loads and stores and summed when a
//! snapshot is taken: the fast path does no shared read-modify-write. Hold time is read from the
//! CPU's timestamp counter where there is one (x86_64 `rdtsc`, as the kernel's lock_stat reads
//! `local_clock`), and converted to ns when a snapshot is taken; wait time is measured with
//! `Instant`, on the contended path only. `LockClass::Named` classes (tests, user scenarios)
//! keep all their counters shared and are looked up by name, which costs a global lock per
//! acquisition and release.

use super::ObserverMutex;
use super::class::LockClass;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Buckets of the wait-time histogram: bucket `i` counts waits in `[2^i, 2^(i+1))` ns.
pub const HIST_BUCKETS: usize = 40;

/// The kernel's classes: one slot each, by [`LockClass::ordinal`].
const KERNEL_CLASSES: usize = LockClass::KERNEL.len();

/// The counters every acquisition touches. Hold times are in [`ticks`].
#[derive(Debug)]
struct Hot {
    acquisitions: AtomicU64,
    hold_total: AtomicU64,
    hold_max: AtomicU64,
}

impl Hot {
    const fn new() -> Self {
        Hot {
            acquisitions: AtomicU64::new(0),
            hold_total: AtomicU64::new(0),
            hold_max: AtomicU64::new(0),
        }
    }

    /// Count an acquisition: by the owning thread only (a load and a store, not an RMW).
    #[inline]
    fn own_acquired(&self) {
        let n = &self.acquisitions;
        n.store(n.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Count a hold of `hold` ticks: by the owning thread only.
    #[inline]
    fn own_released(&self, hold: u64) {
        let t = &self.hold_total;
        t.store(t.load(Relaxed).wrapping_add(hold), Relaxed);
        if hold > self.hold_max.load(Relaxed) {
            self.hold_max.store(hold, Relaxed);
        }
    }

    /// Count an acquisition on counters that threads share.
    fn shared_acquired(&self) {
        self.acquisitions.fetch_add(1, Relaxed);
    }

    /// Count a hold on counters that threads share.
    fn shared_released(&self, hold: u64) {
        self.hold_total.fetch_add(hold, Relaxed);
        self.hold_max.fetch_max(hold, Relaxed);
    }

    /// Add `other` into these (shared) counters.
    fn absorb(&self, other: &Hot) {
        self.acquisitions
            .fetch_add(other.acquisitions.load(Relaxed), Relaxed);
        self.shared_released(other.hold_total.load(Relaxed));
        self.hold_max
            .fetch_max(other.hold_max.load(Relaxed), Relaxed);
    }

    /// (acquisitions, hold total, hold max) now.
    fn read(&self) -> (u64, u64, u64) {
        (
            self.acquisitions.load(Relaxed),
            self.hold_total.load(Relaxed),
            self.hold_max.load(Relaxed),
        )
    }

    fn reset(&self) {
        self.acquisitions.store(0, Relaxed);
        self.hold_total.store(0, Relaxed);
        self.hold_max.store(0, Relaxed);
    }
}

/// One class's shared counters. For a kernel class, `hot` holds what exited threads counted
/// (live threads count in their own `ThreadStats`); for a named class, everything.
#[derive(Debug)]
pub struct ClassStats {
    hot: Hot,
    contentions: AtomicU64,
    wait_total_ns: AtomicU64,
    wait_max_ns: AtomicU64,
    wait_hist: [AtomicU64; HIST_BUCKETS],
}

impl ClassStats {
    const fn new() -> Self {
        ClassStats {
            hot: Hot::new(),
            contentions: AtomicU64::new(0),
            wait_total_ns: AtomicU64::new(0),
            wait_max_ns: AtomicU64::new(0),
            wait_hist: [const { AtomicU64::new(0) }; HIST_BUCKETS],
        }
    }

    fn reset(&self) {
        self.hot.reset();
        for c in [&self.contentions, &self.wait_total_ns, &self.wait_max_ns] {
            c.store(0, Relaxed);
        }
        for b in &self.wait_hist {
            b.store(0, Relaxed);
        }
    }
}

/// A copy of one class's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSnapshot {
    /// The class.
    pub class: LockClass,
    /// Successful acquisitions.
    pub acquisitions: u64,
    /// Acquisitions that had to wait.
    pub contentions: u64,
    /// Total time spent waiting, ns.
    pub wait_total_ns: u64,
    /// Longest wait, ns.
    pub wait_max_ns: u64,
    /// Total time held, ns.
    pub hold_total_ns: u64,
    /// Longest hold, ns.
    pub hold_max_ns: u64,
    /// Wait-time histogram: bucket `i` counts waits in `[2^i, 2^(i+1))` ns.
    pub wait_hist: Vec<u64>,
}

/// One contention point: a call site that had to wait for a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSnapshot {
    /// The class waited for.
    pub class: LockClass,
    /// Where.
    pub site: String,
    /// How many times it waited there.
    pub contentions: u64,
    /// Total wait there, ns.
    pub wait_total_ns: u64,
}

static KERNEL: [ClassStats; KERNEL_CLASSES] = [const { ClassStats::new() }; KERNEL_CLASSES];

fn named() -> &'static ObserverMutex<HashMap<&'static str, &'static ClassStats>> {
    static NAMED: OnceLock<ObserverMutex<HashMap<&'static str, &'static ClassStats>>> =
        OnceLock::new();
    NAMED.get_or_init(Default::default)
}

type SiteKey = (LockClass, &'static str, u32);

fn sites() -> &'static ObserverMutex<HashMap<SiteKey, (u64, u64)>> {
    static SITES: OnceLock<ObserverMutex<HashMap<SiteKey, (u64, u64)>>> = OnceLock::new();
    SITES.get_or_init(Default::default)
}

/// One thread's counters for the kernel's classes.
#[derive(Debug)]
struct ThreadStats([Hot; KERNEL_CLASSES]);

/// Live threads' counters. A thread's are added into [`KERNEL`] and dropped from here when it
/// exits, under this lock, so that a snapshot (which holds it) counts each exactly once.
fn threads() -> &'static ObserverMutex<Vec<Arc<ThreadStats>>> {
    static THREADS: OnceLock<ObserverMutex<Vec<Arc<ThreadStats>>>> = OnceLock::new();
    THREADS.get_or_init(Default::default)
}

/// A thread's registration: retires its counters when the thread exits.
#[derive(Debug)]
struct Registration(Arc<ThreadStats>);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut live = threads().lock();
        for (shared, mine) in KERNEL.iter().zip(&self.0.0) {
            shared.hot.absorb(mine);
        }
        live.retain(|t| !Arc::ptr_eq(t, &self.0));
    }
}

// A `std` thread-local even under loom: lock_stat is off there, and this is observer state.
std::thread_local! {
    static MINE: Registration = {
        anchor();
        let s = Arc::new(ThreadStats([const { Hot::new() }; KERNEL_CLASSES]));
        threads().lock().push(s.clone());
        Registration(s)
    };
}

/// The clock of hold times: the CPU's timestamp counter on x86_64, which costs a few ns where
/// `Instant::now` costs several times that (it reads the same counter, then scales it).
#[cfg(target_arch = "x86_64")]
#[inline]
fn ticks() -> u64 {
    // SAFETY: `rdtsc` has no preconditions; every x86_64 CPU has it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The clock of hold times: elsewhere, ns since the [`anchor`].
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn ticks() -> u64 {
    ns(anchor().0.elapsed())
}

/// A point on both clocks, taken before the first tick is counted (when a thread or a named
/// class first counts), from which a snapshot converts ticks to ns.
fn anchor() -> &'static (Instant, u64) {
    static ANCHOR: OnceLock<(Instant, u64)> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let now = Instant::now();
        // Off x86_64 ticks count ns from this very point (and `ticks` would recurse here).
        let ticks_now = if cfg!(target_arch = "x86_64") {
            ticks()
        } else {
            0
        };
        (now, ticks_now)
    })
}

/// ns per tick, measured over the time since the anchor.
fn ns_per_tick() -> f64 {
    let (t0, k0) = *anchor();
    let elapsed_ns = t0.elapsed().as_nanos() as f64;
    let elapsed_ticks = ticks().saturating_sub(k0) as f64;
    if elapsed_ticks > 0.0 {
        elapsed_ns / elapsed_ticks
    } else {
        1.0
    }
}

fn named_stats(name: &'static str) -> &'static ClassStats {
    anchor();
    named()
        .lock()
        .entry(name)
        .or_insert_with(|| Box::leak(Box::new(ClassStats::new())))
}

fn stats(class: LockClass) -> &'static ClassStats {
    match class {
        LockClass::Named(name) => named_stats(name),
        _ => &KERNEL[class.ordinal().expect("every kernel class has an ordinal")],
    }
}

fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Record an acquisition; `wait_start` is `Some` if it was contended. Returns the hold's start,
/// for [`released`].
#[inline]
pub(crate) fn acquired(
    class: LockClass,
    wait_start: Option<Instant>,
    site: &'static Location<'static>,
) -> u64 {
    // `try_with`: a lock taken by another thread-local's destructor, after ours is gone, counts
    // on the shared counters.
    let counted = class
        .ordinal()
        .is_some_and(|i| MINE.try_with(|m| m.0.0[i].own_acquired()).is_ok());
    if !counted {
        stats(class).hot.shared_acquired();
    }
    if let Some(start) = wait_start {
        contended(class, ns(start.elapsed()), site);
    }
    ticks()
}

#[cold]
fn contended(class: LockClass, wait: u64, site: &'static Location<'static>) {
    let s = stats(class);
    s.contentions.fetch_add(1, Relaxed);
    s.wait_total_ns.fetch_add(wait, Relaxed);
    s.wait_max_ns.fetch_max(wait, Relaxed);
    let bucket = (63 - wait.max(1).leading_zeros() as usize).min(HIST_BUCKETS - 1);
    s.wait_hist[bucket].fetch_add(1, Relaxed);
    let mut sites = sites().lock();
    let e = sites
        .entry((class, site.file(), site.line()))
        .or_insert((0, 0));
    e.0 += 1;
    e.1 += wait;
}

/// Record a release of a hold that [`acquired`] started at `since`.
#[inline]
pub(crate) fn released(class: LockClass, since: u64) {
    let hold = ticks().saturating_sub(since);
    let counted = class
        .ordinal()
        .is_some_and(|i| MINE.try_with(|m| m.0.0[i].own_released(hold)).is_ok());
    if !counted {
        stats(class).hot.shared_released(hold);
    }
}

fn snap(class: LockClass, s: &ClassStats, scale: f64) -> ClassSnapshot {
    // Lock the live threads first: a thread that exits meanwhile is then either still listed or
    // already added into `s`, never both, never neither.
    let live = threads().lock();
    let (mut acquisitions, mut hold_total, mut hold_max) = s.hot.read();
    if let Some(i) = class.ordinal() {
        for t in live.iter() {
            let (a, total, max) = t.0[i].read();
            acquisitions += a;
            hold_total += total;
            hold_max = hold_max.max(max);
        }
    }
    let to_ns = |ticks: u64| (ticks as f64 * scale) as u64;
    ClassSnapshot {
        class,
        acquisitions,
        contentions: s.contentions.load(Relaxed),
        wait_total_ns: s.wait_total_ns.load(Relaxed),
        wait_max_ns: s.wait_max_ns.load(Relaxed),
        hold_total_ns: to_ns(hold_total),
        hold_max_ns: to_ns(hold_max),
        wait_hist: s.wait_hist.iter().map(|b| b.load(Relaxed)).collect(),
    }
}

/// One class's counters now.
pub fn class_snapshot(class: LockClass) -> ClassSnapshot {
    snap(class, stats(class), ns_per_tick())
}

/// Every class with at least one acquisition, sorted by wait total (most first), as
/// /proc/lock_stat sorts.
pub fn snapshot() -> Vec<ClassSnapshot> {
    let scale = ns_per_tick();
    let named: Vec<_> = named().lock().iter().map(|(&n, &s)| (n, s)).collect();
    let mut out: Vec<ClassSnapshot> = LockClass::KERNEL
        .iter()
        .map(|&c| snap(c, stats(c), scale))
        .chain(
            named
                .into_iter()
                .map(|(n, s)| snap(LockClass::Named(n), s, scale)),
        )
        .filter(|s| s.acquisitions > 0)
        .collect();
    out.sort_by(|a, b| {
        b.wait_total_ns
            .cmp(&a.wait_total_ns)
            .then(b.contentions.cmp(&a.contentions))
    });
    out
}

/// The contention points, most wait first.
pub fn sites_snapshot() -> Vec<SiteSnapshot> {
    let mut out: Vec<SiteSnapshot> = sites()
        .lock()
        .iter()
        .map(
            |(&(class, file, line), &(contentions, wait_total_ns))| SiteSnapshot {
                class,
                site: format!("{file}:{line}"),
                contentions,
                wait_total_ns,
            },
        )
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.wait_total_ns));
    out
}

/// Zero every counter (`echo 0 > /proc/lock_stat`). Threads that are taking locks meanwhile
/// may keep a count from just before: each owns its counters and writes them without a
/// read-modify-write.
pub fn reset() {
    let live = threads().lock();
    for s in &KERNEL {
        s.reset();
    }
    for t in live.iter() {
        for h in &t.0 {
            h.reset();
        }
    }
    for s in named().lock().values() {
        s.reset();
    }
    sites().lock().clear();
}
