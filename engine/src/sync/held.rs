//! Per-thread held-lock state: what lockdep checks against, and what the watchdog prints.
//!
//! Each thread keeps a stack of [`HeldLock`]s in a thread-local (loom's `thread_local!` under
//! loom, because loom runs every model thread on one OS thread). The state is also registered
//! in a process-wide list so that the stress runner's watchdog can print, for a hung
//! iteration, every thread's held locks and what it is waiting for.

use super::ObserverMutex;
use super::class::{LockClass, LockKind};
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exclusive: a spinlock, a page lock, an rwsem held for write.
    Exclusive,
    /// Shared: an rwsem held for read, an RCU read section.
    Shared,
}

/// One lock a thread holds.
#[derive(Debug, Clone)]
pub struct HeldLock {
    /// The lock's class.
    pub class: LockClass,
    /// The lock's kind: a spinlock or an RCU read section makes the holder atomic.
    pub kind: LockKind,
    /// The declared nesting subclass (0 unless `*_nested` was used).
    pub subclass: u8,
    /// The lock instance (its address): identifies the lock for release checks.
    pub instance: usize,
    /// Where it was taken.
    pub site: &'static Location<'static>,
    /// How it is held.
    pub mode: Mode,
    /// Taken with a trylock (exempt from order checks).
    pub trylock: bool,
}

impl fmt::Display for HeldLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Exclusive => "",
            Mode::Shared => " (read)",
        };
        write!(
            f,
            "{}{} at {}:{}",
            self.class,
            mode,
            self.site.file(),
            self.site.line()
        )
    }
}

/// A thread's lock state.
#[derive(Debug, Default)]
pub struct ThreadLocks {
    /// The thread's name, for the watchdog's report.
    pub name: String,
    /// Held locks, oldest first.
    pub held: Vec<HeldLock>,
    /// The lock the thread is blocked on, if any: (class, site of the attempt).
    pub waiting: Option<(LockClass, &'static Location<'static>)>,
}

/// The lock around one thread's [`ThreadLocks`]. Its owner takes it around every acquisition
/// and release while lockdep is on; the watchdog takes it only to copy a hung iteration's
/// state. A test-and-set lock released by a plain store costs one atomic read-modify-write per
/// section, where `parking_lot::Mutex` costs two (its unlock is a compare-and-swap that looks
/// for parked threads); with three sections per lock+unlock that took about a quarter off
/// lockdep's cost (docs/PERFORMANCE.md). Nobody parks on it: the owner never waits unless the
/// watchdog is
/// copying, which takes microseconds. Plain `std` atomics: like [`ObserverMutex`], this is the
/// lab's notebook, invisible to loom.
#[derive(Debug)]
struct RawOwnerLock(AtomicBool);

// SAFETY: the flag goes from false to true only by an Acquire compare-and-swap, and back only by
// the holder's Release store, so at most one guard exists at a time and each holder sees what
// the previous one wrote.
unsafe impl lock_api::RawMutex for RawOwnerLock {
    const INIT: Self = RawOwnerLock(AtomicBool::new(false));
    type Guard = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) -> lock_api::GuardNoSend {
        loop {
            if let Some(g) = self.try_lock() {
                return g;
            }
            while self.0.load(Ordering::Relaxed) {
                std::thread::yield_now();
            }
        }
    }

    #[inline]
    fn try_lock(&self) -> Option<lock_api::GuardNoSend> {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then(lock_api::GuardNoSend::new)
    }

    #[inline]
    unsafe fn unlock(&self, _: lock_api::GuardNoSend) {
        self.0.store(false, Ordering::Release);
    }

    fn is_locked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

type OwnerMutex<T> = lock_api::Mutex<RawOwnerLock, T>;
type Shared = Arc<OwnerMutex<ThreadLocks>>;

fn registry() -> &'static ObserverMutex<Vec<Weak<OwnerMutex<ThreadLocks>>>> {
    static REGISTRY: std::sync::OnceLock<ObserverMutex<Vec<Weak<OwnerMutex<ThreadLocks>>>>> =
        std::sync::OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

super::thread_local! {
    static MINE: Shared = {
        let s: Shared = Arc::new(OwnerMutex::new(ThreadLocks {
            name: std::thread::current().name().unwrap_or("?").to_string(),
            ..Default::default()
        }));
        if !super::LOOM {
            let mut reg = registry().lock();
            reg.retain(|w| w.strong_count() > 0);
            reg.push(Arc::downgrade(&s));
        }
        s
    };
}

/// Run `f` on the current thread's lock state.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&mut ThreadLocks) -> R) -> R {
    MINE.with(|m| f(&mut m.lock()))
}

/// Name the current thread in watchdog reports (actors call this when they start).
pub fn set_thread_name(name: &str) {
    with(|t| t.name = name.to_string());
}

/// The classes the current thread holds, oldest first.
pub fn held_classes() -> Vec<LockClass> {
    with(|t| t.held.iter().map(|h| h.class).collect())
}

/// Does the current thread hold a lock of `class`?
pub fn holds(class: LockClass) -> bool {
    with(|t| t.held.iter().any(|h| h.class == class))
}

/// One thread's lock state as the watchdog prints it: its name, its held locks (oldest first),
/// and what it waits for, if anything: (class, site of the attempt).
pub type ThreadSnapshot = (
    String,
    Vec<HeldLock>,
    Option<(LockClass, &'static Location<'static>)>,
);

/// A snapshot of every live thread's lock state (real mode), for the watchdog.
pub fn all_threads() -> Vec<ThreadSnapshot> {
    let reg = registry().lock();
    reg.iter()
        .filter_map(|w| w.upgrade())
        .map(|s| {
            let t = s.lock();
            (t.name.clone(), t.held.clone(), t.waiting)
        })
        .filter(|(_, held, waiting)| !held.is_empty() || waiting.is_some())
        .collect()
}
