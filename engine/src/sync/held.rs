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

type Shared = Arc<ObserverMutex<ThreadLocks>>;

fn registry() -> &'static ObserverMutex<Vec<Weak<ObserverMutex<ThreadLocks>>>> {
    static REGISTRY: std::sync::OnceLock<ObserverMutex<Vec<Weak<ObserverMutex<ThreadLocks>>>>> =
        std::sync::OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

super::thread_local! {
    static MINE: Shared = {
        let s: Shared = Arc::new(ObserverMutex::new(ThreadLocks {
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
