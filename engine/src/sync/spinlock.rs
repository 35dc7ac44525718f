//! `SpinLock`: the kernel's spinlock_t — the split PTL, `mm->page_table_lock`, `i_pages`,
//! `lru_lock`, `zone->lock`.
//!
//! Holding one is atomic context: lockdep reports any sleeping lock taken under it. Real mode
//! spins briefly, then yields to the OS, so that an oversubscribed machine (more actor threads
//! than cores) does not crawl.
//!
//! Under loom a waiter does not spin: it blocks on the lock's address (`wait::block_on`) and the
//! unlock wakes it. The kernel's waiter spins (a CPU busy in `queued_spin_lock_slowpath`), but a
//! spinning CPU does nothing but look at the lock word, and the only thing it can see change
//! is the release: every spin that finds the lock still held is an interleaving with no new
//! behaviour, and each was a scheduling point for loom to branch on (loom's documentation:
//! spin loops explode the state space). A blocked model thread is not scheduled until the
//! unlock; then, like a spinner that sees the release, it races for the lock with everyone
//! else (no hand-off: the unlock releases the lock word as before, with a swap instead of a
//! store under loom, see `unlock`). What the model gives up is a spinner's cost in time, which
//! loom does not measure.
//!
//! Built on lock_api 0.5's `RawMutex` so the guard carries the acquisition's state.

use super::acquire::{self, Acquisition, LockId, Site};
use super::class::{LockClass, LockKind};
use super::held::Mode;
use super::lockdep::Attempt;
use super::wait::recheck;
use super::{AtomicBool, Ordering, block_on, wake_all};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

/// Spins before yielding to the OS in real mode.
const SPINS_BEFORE_YIELD: u32 = 64;

/// The raw spinlock: one word, and the class it belongs to.
pub struct RawSpinLock {
    locked: AtomicBool,
    class: LockClass,
}

impl fmt::Debug for RawSpinLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawSpinLock({}, locked: {})",
            self.class,
            self.locked.load(Ordering::Relaxed)
        )
    }
}

impl RawSpinLock {
    fn new(class: LockClass) -> Self {
        RawSpinLock {
            locked: AtomicBool::new(false),
            class,
        }
    }

    #[inline]
    fn instance(&self) -> usize {
        self as *const Self as usize
    }

    #[inline]
    fn id(&self) -> LockId {
        LockId {
            class: self.class,
            kind: LockKind::Spin,
            instance: self.instance(),
        }
    }

    #[inline]
    fn try_fast(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    fn lock_with(&self, subclass: u8, site: Site) -> Acquisition {
        let lockdep = acquire::before(self.id(), subclass, Attempt::Blocking, site);
        let wait = if self.try_fast() {
            None
        } else {
            self.lock_slow(lockdep, site)
        };
        acquire::after(
            self.id(),
            subclass,
            Mode::Exclusive,
            Attempt::Blocking,
            lockdep,
            wait,
            site,
        )
    }

    #[cold]
    fn lock_slow(&self, lockdep: bool, site: Site) -> Option<std::time::Instant> {
        let start = acquire::contended(self.class, lockdep, site);
        if super::LOOM {
            // Block until an unlock, then race for the lock again (see the module's note).
            while !self.try_fast() {
                block_on(self.instance(), || recheck(&self.locked));
            }
            return start;
        }
        let mut spins = 0;
        loop {
            // Test before test-and-set, so waiters spin on a shared cache line.
            while self.locked.load(Ordering::Relaxed) {
                spins += 1;
                if spins % SPINS_BEFORE_YIELD == 0 {
                    super::yield_now();
                } else {
                    super::spin_loop();
                }
            }
            if self.try_fast() {
                return start;
            }
        }
    }

    #[inline]
    fn try_lock_with(&self, site: Site) -> Option<Acquisition> {
        let lockdep = acquire::before(self.id(), 0, Attempt::Try, site);
        self.try_fast().then(|| {
            acquire::after(
                self.id(),
                0,
                Mode::Exclusive,
                Attempt::Try,
                lockdep,
                None,
                site,
            )
        })
    }
}

// SAFETY: `locked` is acquired with an Acquire CAS from false to true and released with a
// Release store, so at most one guard exists at a time and the data's accesses are ordered.
unsafe impl lock_api::RawMutex for RawSpinLock {
    // Real mode builds a const lock of no particular class; under loom the facade's const
    // constructor refuses (loom atomics are not const), and nothing in mmlab uses INIT.
    const INIT: Self = RawSpinLock {
        locked: super::const_atomic_bool(false),
        class: LockClass::Named("spinlock (INIT)"),
    };
    type Guard = Acquisition;

    #[track_caller]
    #[inline]
    fn lock(&self) -> Acquisition {
        self.lock_with(0, Location::caller())
    }

    #[track_caller]
    #[inline]
    fn try_lock(&self) -> Option<Acquisition> {
        self.try_lock_with(Location::caller())
    }

    // Only lock_api calls this (a guard's drop, `MutexGuard::unlocked`), from code that is not
    // `#[track_caller]`: its location would be lock_api's, so none is recorded.
    #[inline]
    unsafe fn unlock(&self, guard: Acquisition) {
        acquire::release(guard, None);
        if super::LOOM {
            // A swap, not a store: every write to a word that loom waiters re-check must be a
            // read-modify-write (`wait::recheck`). Then wake the blocked waiters; under loom
            // that costs no scheduling point (the wait queue is invisible to loom), so no
            // waiter count is kept in the lock word.
            self.locked.swap(false, Ordering::Release);
            wake_all(self.instance());
        } else {
            self.locked.store(false, Ordering::Release);
        }
    }

    fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

/// A spinlock protecting `T`, of a lock class.
pub struct SpinLock<T> {
    inner: lock_api::Mutex<RawSpinLock, T>,
}

/// Proof that a [`SpinLock`] is held (guards are proof, as crossbeam-epoch's `&Guard` is).
pub struct SpinLockGuard<'a, T> {
    inner: lock_api::MutexGuard<'a, RawSpinLock, T>,
}

impl<T> SpinLock<T> {
    /// A new, unlocked spinlock of `class`.
    pub fn new(class: LockClass, data: T) -> Self {
        SpinLock {
            inner: lock_api::Mutex::from_raw(RawSpinLock::new(class), data),
        }
    }

    fn raw(&self) -> &RawSpinLock {
        // SAFETY: we only read the raw lock's class and call its lock methods, which is what
        // the Mutex itself does; we never unlock through it without a guard.
        unsafe { self.inner.raw() }
    }

    /// The lock's class.
    pub fn class(&self) -> LockClass {
        self.raw().class
    }

    /// `spin_lock`.
    #[track_caller]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        self.lock_nested(0)
    }

    /// `spin_lock_nested`: take a second lock of a class already held, declaring `subclass`
    /// (e.g. `SINGLE_DEPTH_NESTING` for mremap's second PTL).
    #[track_caller]
    pub fn lock_nested(&self, subclass: u8) -> SpinLockGuard<'_, T> {
        let acq = self.raw().lock_with(subclass, Location::caller());
        SpinLockGuard {
            // SAFETY: `acq` is the state of the acquisition just made.
            inner: unsafe { self.inner.make_guard_unchecked(acq) },
        }
    }

    /// `might_lock` (include/linux/lockdep.h): tell lockdep this path may take the lock here,
    /// without taking it — lockdep checks the acquisition (order, recursion) as if it were
    /// made. Used where the model leaves out an acquisition the kernel makes (see the caller's
    /// `Simplification:`).
    #[track_caller]
    pub fn might_lock(&self) {
        acquire::before(self.raw().id(), 0, Attempt::Blocking, Location::caller());
    }

    /// `spin_trylock`: never blocks; exempt from lockdep's order checks.
    #[track_caller]
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let acq = self.raw().try_lock_with(Location::caller())?;
        Some(SpinLockGuard {
            // SAFETY: `acq` is the state of the acquisition just made.
            inner: unsafe { self.inner.make_guard_unchecked(acq) },
        })
    }

    /// `spin_is_locked`: a racy snapshot.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// The lock's identity (its address), as lockdep sees it.
    pub fn instance(&self) -> usize {
        self.raw().instance()
    }
}

impl<T> SpinLockGuard<'_, T> {
    /// `spin_unlock`, explicitly (dropping the guard does the same).
    pub fn unlock(self) {}

    /// The identity of the lock this guard holds.
    pub fn instance(&self) -> usize {
        lock_api::MutexGuard::mutex(&self.inner).raw_instance()
    }
}

trait RawInstance {
    fn raw_instance(&self) -> usize;
}

impl<T> RawInstance for lock_api::Mutex<RawSpinLock, T> {
    fn raw_instance(&self) -> usize {
        // SAFETY: reading the raw lock's address only.
        unsafe { self.raw() }.instance()
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SpinLock({}, locked: {})",
            self.class(),
            self.is_locked()
        )
    }
}

impl<T: fmt::Debug> fmt::Debug for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpinLockGuard({:?})", &*self.inner)
    }
}
