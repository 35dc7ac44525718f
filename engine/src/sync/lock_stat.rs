//! lock_stat: per-class contention accounting, after the kernel's `/proc/lock_stat`
//! (`kernel/locking/lockdep.c`, CONFIG_LOCK_STAT).
//!
//! Per class: acquisitions, contentions, wait time (total, max, log2 histogram) and hold time
//! (total, max). Per call site: contentions and wait time, so the report can name the places
//! that wait (lock_stat's "contention points"). Counters are plain `std` atomics: this is
//! observer state, off under loom, and its cost when on is measured by `benches/locks.rs`.

use super::ObserverMutex;
use super::class::LockClass;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Buckets of the wait-time histogram: bucket `i` counts waits in `[2^i, 2^(i+1))` ns.
pub const HIST_BUCKETS: usize = 40;

/// One class's counters.
#[derive(Debug)]
pub struct ClassStats {
    acquisitions: AtomicU64,
    contentions: AtomicU64,
    wait_total_ns: AtomicU64,
    wait_max_ns: AtomicU64,
    hold_total_ns: AtomicU64,
    hold_max_ns: AtomicU64,
    wait_hist: [AtomicU64; HIST_BUCKETS],
}

impl ClassStats {
    const fn new() -> Self {
        ClassStats {
            acquisitions: AtomicU64::new(0),
            contentions: AtomicU64::new(0),
            wait_total_ns: AtomicU64::new(0),
            wait_max_ns: AtomicU64::new(0),
            hold_total_ns: AtomicU64::new(0),
            hold_max_ns: AtomicU64::new(0),
            wait_hist: [const { AtomicU64::new(0) }; HIST_BUCKETS],
        }
    }

    fn reset(&self) {
        for c in [
            &self.acquisitions,
            &self.contentions,
            &self.wait_total_ns,
            &self.wait_max_ns,
            &self.hold_total_ns,
            &self.hold_max_ns,
        ] {
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

static KERNEL: [ClassStats; 19] = [const { ClassStats::new() }; 19];

fn named() -> &'static ObserverMutex<HashMap<&'static str, &'static ClassStats>> {
    static NAMED: std::sync::OnceLock<ObserverMutex<HashMap<&'static str, &'static ClassStats>>> =
        std::sync::OnceLock::new();
    NAMED.get_or_init(Default::default)
}

type SiteKey = (LockClass, &'static str, u32);

fn sites() -> &'static ObserverMutex<HashMap<SiteKey, (u64, u64)>> {
    static SITES: std::sync::OnceLock<ObserverMutex<HashMap<SiteKey, (u64, u64)>>> =
        std::sync::OnceLock::new();
    SITES.get_or_init(Default::default)
}

fn stats(class: LockClass) -> &'static ClassStats {
    match class.ordinal() {
        Some(i) => &KERNEL[i],
        None => {
            let LockClass::Named(name) = class else {
                unreachable!("every kernel class has an ordinal")
            };
            named()
                .lock()
                .entry(name)
                .or_insert_with(|| Box::leak(Box::new(ClassStats::new())))
        }
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Record an acquisition; `wait` is `Some` if it was contended.
#[inline]
pub(crate) fn acquired(class: LockClass, wait: Option<Duration>, site: &'static Location<'static>) {
    let s = stats(class);
    s.acquisitions.fetch_add(1, Relaxed);
    if let Some(wait) = wait {
        contended(class, s, ns(wait), site);
    }
}

#[cold]
fn contended(class: LockClass, s: &ClassStats, wait: u64, site: &'static Location<'static>) {
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

/// Record a release after holding for `hold`.
#[inline]
pub(crate) fn released(class: LockClass, hold: Duration) {
    let s = stats(class);
    let hold = ns(hold);
    s.hold_total_ns.fetch_add(hold, Relaxed);
    s.hold_max_ns.fetch_max(hold, Relaxed);
}

fn snap(class: LockClass, s: &ClassStats) -> ClassSnapshot {
    ClassSnapshot {
        class,
        acquisitions: s.acquisitions.load(Relaxed),
        contentions: s.contentions.load(Relaxed),
        wait_total_ns: s.wait_total_ns.load(Relaxed),
        wait_max_ns: s.wait_max_ns.load(Relaxed),
        hold_total_ns: s.hold_total_ns.load(Relaxed),
        hold_max_ns: s.hold_max_ns.load(Relaxed),
        wait_hist: s.wait_hist.iter().map(|b| b.load(Relaxed)).collect(),
    }
}

/// One class's counters now.
pub fn class_snapshot(class: LockClass) -> ClassSnapshot {
    snap(class, stats(class))
}

/// Every class with at least one acquisition, sorted by wait total (most first), as
/// /proc/lock_stat sorts.
pub fn snapshot() -> Vec<ClassSnapshot> {
    let mut out: Vec<ClassSnapshot> = LockClass::KERNEL
        .iter()
        .map(|&c| class_snapshot(c))
        .chain(
            named()
                .lock()
                .iter()
                .map(|(n, s)| snap(LockClass::Named(n), s)),
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

/// Zero every counter (`echo 0 > /proc/lock_stat`).
pub fn reset() {
    for s in &KERNEL {
        s.reset();
    }
    for s in named().lock().values() {
        s.reset();
    }
    sites().lock().clear();
}
