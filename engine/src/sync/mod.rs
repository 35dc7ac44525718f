//! The sync facade: the one place that chooses between loom and real primitives.
//!
//! Everything else in the engine imports its atomics, threads, waiting and thread-locals from
//! here, never from `std` or `loom` directly (after tokio's `src/loom/mod.rs`).
//! The switch is `--cfg mmlab_loom`, prefixed so that it flips nothing in dependencies
//! (after crossbeam PR #658).
//!
//! On top of the primitives sit the kernel's lock kinds, one per file: [`SpinLock`] (PTL,
//! `page_table_lock`, `i_pages`, `lru_lock`), [`RwSem`] (`mmap_lock`, `i_mmap_rwsem`, the anon_vma
//! root rwsem), [`PageLock`] (the PG_locked bit) and [`rcu`]. Each acquisition goes through
//! [`lockdep`] (class-based order checking) and [`lock_stat`] (contention accounting).

mod acquire;
pub mod class;
pub mod held;
pub mod lock_stat;
pub mod lockdep;
pub mod order;
pub mod page_lock;
pub mod rcu;
pub mod rwsem;
pub mod spinlock;
pub mod wait;

pub use acquire::Acquisition;
pub use class::LockClass;
pub use page_lock::{PageLock, PageLockGuard};
pub use rwsem::{RwSem, RwSemReadGuard, RwSemReadHeld, RwSemWriteGuard};
pub use spinlock::{SpinLock, SpinLockGuard};
pub(crate) use wait::{block_on, wake_all};

/// Is this build a loom model? Code outside the facade branches on this constant (which the
/// compiler folds) instead of on the cfg, so the cfg stays in this one file.
pub const LOOM: bool = cfg!(mmlab_loom);

#[cfg(not(mmlab_loom))]
mod imp {
    pub use std::sync::Arc;
    pub use std::sync::atomic::{
        AtomicBool, AtomicI32, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        fence,
    };
    pub use std::thread;

    /// A busy-wait hint. Real mode: the CPU's pause instruction.
    #[inline]
    pub fn spin_loop() {
        std::hint::spin_loop();
    }

    /// Give the CPU away. Real mode: the OS scheduler's yield.
    #[inline]
    pub fn yield_now() {
        std::thread::yield_now();
    }

    /// A const-constructed atomic, for lock_api's `INIT` constants.
    pub const fn const_atomic_bool(v: bool) -> AtomicBool {
        AtomicBool::new(v)
    }

    /// A const-constructed atomic, for lock_api's `INIT` constants.
    pub const fn const_atomic_u32(v: u32) -> AtomicU32 {
        AtomicU32::new(v)
    }

    /// A point in time for lock_stat and the watchdog; `None` under loom, which has no clock.
    #[inline]
    pub fn now() -> Option<std::time::Instant> {
        Some(std::time::Instant::now())
    }

    /// Sleep on `key` (a lock word's address) unless `validate` finds the sleeper no longer
    /// blocked, until woken by [`unpark_all`] or until `deadline`. Real mode: parking_lot_core's
    /// hashed wait queues, with `validate` run under the bucket's lock; the same idea as the
    /// kernel's hashed page wait queues (`folio_waitqueue`), where `folio_wait_bit_common` sets
    /// PG_waiters and tests the bit under the queue's lock. Returns whether it slept.
    pub(crate) fn park(
        key: usize,
        validate: impl FnOnce() -> bool,
        deadline: std::time::Instant,
    ) -> bool {
        // SAFETY: `key` is the address of a lock word owned by the caller's lock;
        // parking_lot_core only uses it as a hash key. `validate` runs under the bucket lock
        // and does not call back into parking_lot.
        let r = unsafe {
            parking_lot_core::park(
                key,
                validate,
                || {},
                |_, _| {},
                parking_lot_core::DEFAULT_PARK_TOKEN,
                Some(deadline),
            )
        };
        !matches!(r, parking_lot_core::ParkResult::Invalid)
    }

    /// Wake every thread sleeping on `key`.
    pub(crate) fn unpark_all(key: usize) {
        // SAFETY: `key` is the address of a lock word the caller owns (see `park`).
        unsafe {
            parking_lot_core::unpark_all(key, parking_lot_core::DEFAULT_UNPARK_TOKEN);
        }
    }

    /// Declare a thread-local: `std::thread_local!` in real mode.
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __mmlab_thread_local {
        ($($t:tt)*) => { std::thread_local!($($t)*); };
    }
}

#[cfg(mmlab_loom)]
mod imp {
    pub use loom::sync::Arc;
    pub use loom::sync::atomic::{
        AtomicBool, AtomicI32, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        fence,
    };
    pub use loom::thread;

    /// A busy-wait hint. Loom: a yield, so that a spinning model stays finite (loom's docs:
    /// "spin loops must call yield_now").
    #[inline]
    pub fn spin_loop() {
        loom::thread::yield_now();
    }

    /// Give the CPU away. Loom: a scheduling point that lets every other thread run first.
    #[inline]
    pub fn yield_now() {
        loom::thread::yield_now();
    }

    /// Loom atomics are not const: lock_api's `INIT` constants cannot exist under loom. The
    /// engine never uses them (every lock is built with its class); a user who does gets this
    /// message at compile time.
    pub const fn const_atomic_bool(_: bool) -> AtomicBool {
        panic!("loom atomics cannot be built in a const: construct mmlab locks with ::new")
    }

    /// See [`const_atomic_bool`].
    pub const fn const_atomic_u32(_: u32) -> AtomicU32 {
        panic!("loom atomics cannot be built in a const: construct mmlab locks with ::new")
    }

    /// Loom has no clock: lock_stat and the watchdog are compiled out.
    #[inline]
    pub fn now() -> Option<std::time::Instant> {
        None
    }

    // The model's wait queue: who sleeps on which key, for this execution only (a loom
    // `lazy_static` is rebuilt for every execution, so no handle outlives its model thread).
    // The list itself is invisible to loom: a `std` mutex, never contended (loom runs one model
    // thread at a time on one OS thread), held across no loom operation. That is what makes
    // `park`'s check-then-sleep atomic with respect to `unpark_all`: loom switches threads only
    // at a loom operation, so between `validate`'s one atomic read-modify-write and the sleep
    // nobody else runs, and a waker's update of the lock word and its look at this list are
    // likewise one step.
    loom::lazy_static! {
        static ref WAITERS: std::sync::Mutex<Vec<(usize, loom::thread::Thread)>> =
            std::sync::Mutex::new(Vec::new());
    }

    fn waiters() -> std::sync::MutexGuard<'static, Vec<(usize, loom::thread::Thread)>> {
        WAITERS.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleep on `key` unless `validate` finds the sleeper no longer blocked, until woken by
    /// [`unpark_all`]. Loom: the thread is queued and `loom::thread::park`ed, which blocks it
    /// in the model (it is not scheduled until woken; if every thread is blocked loom reports
    /// the deadlock). `validate` must read the lock word with one read-modify-write (see
    /// `wait::block_on`). There is no deadline: loom has no clock and no watchdog. Returns
    /// whether it slept.
    pub(crate) fn park(
        key: usize,
        validate: impl FnOnce() -> bool,
        _deadline: std::time::Instant,
    ) -> bool {
        if !validate() {
            return false;
        }
        let me = loom::thread::current();
        waiters().push((key, me.clone()));
        loom::thread::park();
        // `unpark_all` dequeued us before waking us; loom's `park` may also return without a
        // wake ("callers should be prepared for this possibility"), so leave the queue either
        // way.
        waiters().retain(|(_, t)| t.id() != me.id());
        true
    }

    /// Wake every thread sleeping on `key`: dequeue them, then unpark each (loom's unpark
    /// also orders everything the waker did before it before what the woken thread does next).
    pub(crate) fn unpark_all(key: usize) {
        let woken: Vec<loom::thread::Thread> = {
            let mut q = waiters();
            let mut woken = Vec::new();
            q.retain(|(k, t)| {
                if *k == key {
                    woken.push(t.clone());
                    false
                } else {
                    true
                }
            });
            woken
        };
        for t in woken {
            t.unpark();
        }
    }

    /// Declare a thread-local: `loom::thread_local!` under loom, because loom runs every model
    /// thread on one OS thread and a `std` thread-local would be shared between them.
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __mmlab_thread_local {
        ($($t:tt)*) => { loom::thread_local!($($t)*); };
    }
}

pub use crate::__mmlab_thread_local as thread_local;
pub use imp::*;

/// The model's "hardware" lock: a simulated CPU's TLB, which a shootdown must wait for as an
/// IPI waits for the target CPU to finish its current instruction. Loom sees it (the TLB's
/// interleavings are the races), lockdep does not: the TLB model's own synchronisation is
/// hardware, outside the kernel lock order (docs/MODEL.md §2).
#[cfg(not(mmlab_loom))]
pub type HwMutex<T> = parking_lot::Mutex<T>;
/// See the real-mode definition.
#[cfg(mmlab_loom)]
pub type HwMutex<T> = loom::sync::Mutex<T>;

/// Lock a [`HwMutex`], smoothing over loom's poisoning `Result`.
#[cfg(not(mmlab_loom))]
pub fn hw_lock<T>(m: &HwMutex<T>) -> parking_lot::MutexGuard<'_, T> {
    m.lock()
}
/// Lock a [`HwMutex`], smoothing over loom's poisoning `Result`.
#[cfg(mmlab_loom)]
pub fn hw_lock<T>(m: &HwMutex<T>) -> loom::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A field written only while its object is unreachable (freshly allocated from an arena) and
/// read freely once the object is published under a modelled lock. Loom need not see these
/// accesses — the modelled lock that publishes the object orders them — so a `std`-side lock
/// keeps them out of the state space while staying sound on real threads.
#[derive(Debug, Default)]
pub struct Frozen<T: Copy>(parking_lot::RwLock<T>);

impl<T: Copy> Frozen<T> {
    /// A new cell.
    pub fn new(v: T) -> Self {
        Frozen(parking_lot::RwLock::new(v))
    }
    /// Read it.
    #[inline]
    pub fn get(&self) -> T {
        *self.0.read()
    }
    /// Set it (only while the object is unreachable).
    pub fn set(&self, v: T) {
        *self.0.write() = v;
    }
}

/// Observer-side state (the domain trace, collected violations, lock_stat's call-site table):
/// a plain `std` mutex in both modes. It is deliberately invisible to loom: it is the lab's
/// notebook, not part of the modelled kernel, and must not add interleavings to explore.
pub type ObserverMutex<T> = parking_lot::Mutex<T>;

/// Observer-side atomics: plain `std` atomics in both modes, for the lab's counters and
/// instruments (arena generations, the disk's words, rss), never for state a kernel path
/// synchronises on. Naming the module at the declaration (`observer::AtomicI64`) says which
/// fields loom does not see; a modelled field uses the facade's own atomics above.
pub mod observer {
    pub use std::sync::atomic::{
        AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}

/// Runtime switches for the instrumentation. Both default on (tests and stress); benchmarks
/// turn them off unless asked. Under loom, stats are compiled out and lockdep's order check
/// always runs.
pub mod switches {
    use std::sync::atomic::{AtomicBool, Ordering};

    static STATS: AtomicBool = AtomicBool::new(true);
    static LOCKDEP: AtomicBool = AtomicBool::new(true);

    /// Is lock_stat collecting? Always false under loom.
    #[inline]
    pub fn stats() -> bool {
        !super::LOOM && STATS.load(Ordering::Relaxed)
    }

    /// Is lockdep checking? Always true under loom.
    #[inline]
    pub fn lockdep() -> bool {
        super::LOOM || LOCKDEP.load(Ordering::Relaxed)
    }

    /// Turn lock_stat on or off (process-wide).
    pub fn set_stats(on: bool) {
        STATS.store(on, Ordering::Relaxed);
    }

    /// Turn lockdep on or off (process-wide).
    pub fn set_lockdep(on: bool) {
        LOCKDEP.store(on, Ordering::Relaxed);
    }
}
