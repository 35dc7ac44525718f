//! lockdep: class-based lock-order checking, after the kernel's `kernel/locking/lockdep.c`.
//!
//! On every acquisition the thread's held classes are checked (I15, docs/MODEL.md §3):
//!
//! * a blocking acquisition against the declared order ([`super::order`]) is reported the first
//!   time it is taken, whether or not this run deadlocks — that is lockdep's value over waiting
//!   for a deadlock;
//! * for pairs the declared order says nothing about, the order is learned from what is seen,
//!   and the reverse order is reported when it first appears ("possible circular locking
//!   dependency"); learning keeps direct edges only, not their transitive closure;
//! * a sleeping lock (RwSem, PageLock, RCU synchronize) taken while a spinlock or an RCU read
//!   section is held is reported ("sleeping function called from invalid context");
//! * release of a lock that is not held is reported ("bad unlock balance");
//! * nesting two locks of one class without a declared subclass is reported (recursive
//!   locking, or the kernel's missing `*_nested` annotation).
//!
//! Trylocks are exempt from order and nesting checks, as in lockdep: they cannot deadlock.
//! RCU read sections are exempt from ordering; they only make the context atomic.

use super::ObserverMutex;
use super::class::{LockClass, LockId, LockKind};
use super::held::{self, HeldLock, Mode};
use super::order::{self, Relation};
use crate::report::Site;
use crate::report::{self as check, Oracle, Violation};
use std::collections::HashMap;

/// `SINGLE_DEPTH_NESTING` (include/linux/lockdep.h): the subclass a path declares for the
/// second lock of a class it already holds (`spin_lock_nested`, `down_write_nested`).
pub const SINGLE_DEPTH_NESTING: u8 = 1;

/// How an acquisition is attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]

pub enum Attempt {
    /// A blocking acquisition: checked against the order.
    Blocking,
    /// A trylock: exempt from ordering.
    Try,
}

/// Orders learned between unordered classes: (outer, inner) → (outer's site, inner's site) of
/// the first time it was seen.
type Learned = HashMap<(LockClass, LockClass), (Site, Site)>;

fn learned() -> &'static ObserverMutex<Learned> {
    static LEARNED: std::sync::OnceLock<ObserverMutex<Learned>> = std::sync::OnceLock::new();
    LEARNED.get_or_init(Default::default)
}

fn fmt_site(s: Site) -> String {
    format!("{}:{}", s.file(), s.line())
}

/// Check an acquisition that is about to be attempted (before blocking, so that an inversion
/// is reported before any deadlock can happen). What it finds is reported to the thread's sink
/// (and, under loom, raised); nothing is returned, because no caller could do anything with it
/// but report it.
pub(crate) fn check_acquire(lock: LockId, subclass: u8, attempt: Attempt, site: Site) {
    let LockId {
        class,
        kind,
        instance,
    } = lock;
    let mut found: Vec<Violation> = Vec::new();
    held::with(|t| {
        let may_sleep = kind == LockKind::Sleep && attempt == Attempt::Blocking;
        if let Some(atomic) = t
            .held
            .iter()
            .rev()
            .find(|h| may_sleep && h.kind != LockKind::Sleep)
        {
            found.push(Violation {
                oracle: Oracle::I15Lockdep,
                message: format!(
                    "BUG: sleeping function called from invalid context: {class} taken while \
                     holding {} (taken at {})",
                    atomic.class,
                    fmt_site(atomic.site)
                ),
                sites: vec![site, atomic.site],
            });
        }
        if attempt == Attempt::Try || class == LockClass::Rcu {
            return;
        }
        for h in &t.held {
            // A trylocked lock still orders what is taken under it, as in lockdep: only
            // the trylock itself is exempt.
            if h.class == LockClass::Rcu {
                continue;
            }
            if h.class == class {
                if h.instance == instance {
                    found.push(Violation {
                        oracle: Oracle::I15Lockdep,
                        message: format!(
                            "WARNING: possible recursive locking detected: {class} is already \
                             held (taken at {}) and is taken again: deadlock",
                            fmt_site(h.site)
                        ),
                        sites: vec![site, h.site],
                    });
                } else if h.subclass == subclass {
                    found.push(Violation {
                        oracle: Oracle::I15Lockdep,
                        message: format!(
                            "WARNING: possible recursive locking detected: two locks of class \
                             {class} nested without a declared subclass (first taken at {})",
                            fmt_site(h.site)
                        ),
                        sites: vec![site, h.site],
                    });
                }
                continue;
            }
            match order::relation(h.class, class) {
                Relation::InOrder => {}
                Relation::Inverted => found.push(Violation {
                    oracle: Oracle::I15Lockdep,
                    message: format!(
                        "WARNING: lock order inversion: {class} taken while holding {} (taken at \
                         {}); the mm order (mm/rmap.c) puts {class} above {}",
                        h.class,
                        fmt_site(h.site),
                        h.class
                    ),
                    sites: vec![site, h.site],
                }),
                Relation::Unordered => {
                    let mut edges = learned().lock();
                    if let Some(&(s_outer, s_inner)) = edges.get(&(class, h.class)) {
                        found.push(Violation {
                            oracle: Oracle::I15Lockdep,
                            message: format!(
                                "WARNING: possible circular locking dependency detected: {class} \
                                 taken while holding {} (taken at {}), but {} was taken while \
                                 holding {class} before ({} under {})",
                                h.class,
                                fmt_site(h.site),
                                h.class,
                                fmt_site(s_inner),
                                fmt_site(s_outer)
                            ),
                            sites: vec![site, h.site, s_inner, s_outer],
                        });
                    }
                    edges.entry((h.class, class)).or_insert((h.site, site));
                }
            }
        }
    });
    for v in found {
        check::report(v);
    }
}

/// Record a successful acquisition.
pub(crate) fn acquired(lock: LockId, subclass: u8, mode: Mode, attempt: Attempt, site: Site) {
    held::with(|t| {
        t.waiting = None;
        t.held.push(HeldLock {
            class: lock.class,
            kind: lock.kind,
            subclass,
            instance: lock.instance,
            site,
            mode,
            trylock: attempt == Attempt::Try,
        });
    });
}

/// Record that the thread is about to block on `class` (for the watchdog).
pub(crate) fn waiting(class: LockClass, site: Site) {
    held::with(|t| t.waiting = Some((class, site)));
}

/// Record a release at `site` (`None`: a guard was dropped, and drop glue hides the caller).
/// Reports "bad unlock balance" if the lock is not held by this thread, naming the release
/// site and `taken`, where the releasing guard acquired it, whichever are known.
pub(crate) fn released(class: LockClass, instance: usize, site: Option<Site>, taken: Option<Site>) {
    let missing = held::with(
        |t| match t.held.iter().rposition(|h| h.instance == instance) {
            Some(i) => {
                t.held.remove(i);
                false
            }
            None => true,
        },
    );
    if missing {
        let taken_at = taken.map_or(String::new(), |s| format!(" (taken at {})", fmt_site(s)));
        check::report(Violation {
            oracle: Oracle::I15Lockdep,
            message: format!(
                "WARNING: bad unlock balance detected: {class}{taken_at} released but not held \
                 by this thread"
            ),
            sites: site.into_iter().chain(taken).collect(),
        });
    }
}

/// Change the mode of a held lock (rwsem downgrade).
pub(crate) fn downgraded(instance: usize) {
    held::with(|t| {
        if let Some(h) = t.held.iter_mut().rev().find(|h| h.instance == instance) {
            h.mode = Mode::Shared;
        }
    });
}

/// Check that sleeping is allowed here (for waits that are not acquisitions:
/// `synchronize_rcu`, `folio_wait_locked`, notifier callbacks that may sleep).
#[track_caller]
pub fn might_sleep(what: &str) {
    if !super::switches::lockdep() {
        return;
    }
    let site = std::panic::Location::caller();
    let atomic = held::with(|t| {
        t.held
            .iter()
            .rev()
            .find(|h| h.kind != LockKind::Sleep)
            .cloned()
    });
    if let Some(h) = atomic {
        check::report(Violation {
            oracle: Oracle::I15Lockdep,
            message: format!(
                "BUG: sleeping function called from invalid context: {what} while holding {} \
                 (taken at {})",
                h.class,
                fmt_site(h.site)
            ),
            sites: vec![site, h.site],
        });
    }
}

/// Assert that the current thread holds a lock of `class` (`lockdep_assert_held`).
#[track_caller]
pub fn assert_held(class: LockClass) {
    if super::switches::lockdep() && !held::holds(class) {
        check::report(Violation::new(
            Oracle::I15Lockdep,
            format!("lockdep_assert_held({class}) failed: not held"),
        ));
    }
}

/// Does the current thread hold a lock of `class` (`lockdep_is_held`)? Observer state: no
/// loom operation.
pub fn is_held(class: LockClass) -> bool {
    held::holds(class)
}

/// Forget the order learned between unordered classes (tests that reuse class names).
pub fn forget_learned() {
    learned().lock().clear();
}
