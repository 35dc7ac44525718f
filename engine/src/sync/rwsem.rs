//! `RwSem`: the kernel's rw_semaphore — `mmap_lock`, `i_mmap_rwsem`, the anon_vma root rwsem.
//!
//! Sleeping, and **writer-preferring once a writer waits**: a queued writer blocks new readers,
//! as the kernel's rwsem does (`rwsem_down_read_slowpath` queues behind a waiting writer, and
//! `down_read_trylock` fails while `RWSEM_FLAG_WAITERS` is set). That property is what turns
//! the old munlock's per-page `i_mmap_rwsem` reads into a convoy at exit, where every exiting
//! mm needs the write lock in `unlink_file_vma` ("mm/munlock: delete page_mlock() and all its
//! works", Hugh Dickins, 2022).
//!
//! Simplification: the kernel hands the lock off in queue order to bound starvation
//! (`RWSEM_FLAG_HANDOFF`); here woken waiters race for it. Writers still win over new readers.
//! Simplification: a reader never takes the rwsem while a writer is queued; the kernel's
//! `rwsem_down_read_slowpath` lets a reader steal a rwsem that no writer holds, waiters or
//! not, unless a handoff is pending (reader optimistic lock stealing).

use super::acquire::{self, Acquisition, LockId, Site};
use super::class::{LockClass, LockKind};
use super::held::Mode;
use super::lockdep::{self, Attempt};
use super::wait::recheck;
use super::{AtomicU32, Ordering, block_on, wake_all};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

/// Held for write.
const WRITER: u32 = 1 << 31;
/// One waiting writer (bits 16..31 count them).
const WAITING_WRITER: u32 = 1 << 16;
const WAITING_MASK: u32 = 0x7fff << 16;
/// Reader count (bits 0..16).
const READER_MASK: u32 = 0xffff;

/// The raw rwsem: one state word, a sleeper count, and the class.
pub struct RawRwSem {
    state: AtomicU32,
    sleepers: AtomicU32,
    class: LockClass,
}

impl fmt::Debug for RawRwSem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Ordering::Relaxed);
        write!(
            f,
            "RawRwSem({}, writer: {}, readers: {}, waiting writers: {})",
            self.class,
            s & WRITER != 0,
            s & READER_MASK,
            (s & WAITING_MASK) >> 16
        )
    }
}

impl RawRwSem {
    fn new(class: LockClass) -> Self {
        RawRwSem {
            state: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
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
            kind: LockKind::Sleep,
            instance: self.instance(),
        }
    }

    #[inline]
    fn key(&self) -> usize {
        &self.state as *const AtomicU32 as usize
    }

    /// `__down_read_trylock`: a compare-and-swap loop that starts from a guess of the unlocked
    /// value and retries with the value each failure returns, as long as no writer holds or
    /// waits ("Optimize for the case when the rwsem is not locked at all",
    /// kernel/locking/rwsem.c). It fails only when a reader may not enter, never because
    /// another reader changed the count meanwhile; and it reads the word only through
    /// read-modify-writes, which under loom return the newest value (a separate load could
    /// return an older one, and loom would explore every such stale start).
    #[inline]
    fn try_read_fast(&self) -> bool {
        let mut s = 0;
        while s & (WRITER | WAITING_MASK) == 0 && s & READER_MASK != READER_MASK {
            match self
                .state
                .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    /// Take the write lock if no writer or reader holds it; `queued` says this writer counted
    /// itself as waiting (and so guesses the word holds just its own claim). Like
    /// [`Self::try_read_fast`], a compare-and-swap loop from a guess (`rwsem_write_trylock`
    /// tries the unlocked value once; here a change in the waiting-writer count does not make
    /// the attempt fail).
    #[inline]
    fn try_write_fast(&self, queued: bool) -> bool {
        let mut s = if queued { WAITING_WRITER } else { 0 };
        while s & (WRITER | READER_MASK) == 0 {
            let new = if queued {
                (s - WAITING_WRITER) | WRITER
            } else {
                s | WRITER
            };
            match self
                .state
                .compare_exchange(s, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    fn sleep(&self, blocked: impl Fn(u32) -> bool) {
        if super::LOOM {
            // No sleeper count under loom: it only spares real-mode unlocks a trip to the
            // wait queue, and under loom that trip is free while every count update and check
            // would be one more scheduling point on the lock and unlock paths.
            block_on(self.key(), || blocked(recheck(&self.state)));
            return;
        }
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        // Counted out on the way out, also when the watchdog unwinds the wait.
        let _sleeping = OnDrop(|| {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        });
        block_on(self.key(), || blocked(recheck(&self.state)));
    }

    #[inline]
    fn wake(&self) {
        if super::LOOM || self.sleepers.load(Ordering::SeqCst) > 0 {
            wake_all(self.key());
        }
    }

    #[inline]
    fn read_with(&self, site: Site) -> Acquisition {
        let lockdep = acquire::before(self.id(), 0, Attempt::Blocking, site);
        let wait = if self.try_read_fast() {
            None
        } else {
            self.read_slow(lockdep, site)
        };
        acquire::after(
            self.id(),
            0,
            Mode::Shared,
            Attempt::Blocking,
            lockdep,
            wait,
            site,
        )
    }

    #[cold]
    fn read_slow(&self, lockdep: bool, site: Site) -> Option<std::time::Instant> {
        let start = acquire::contended(self.class, lockdep, site);
        while !self.try_read_fast() {
            self.sleep(|s| s & (WRITER | WAITING_MASK) != 0);
        }
        start
    }

    #[inline]
    fn write_with(&self, site: Site) -> Acquisition {
        self.write_nested_with(site, 0)
    }

    #[inline]
    fn write_nested_with(&self, site: Site, subclass: u8) -> Acquisition {
        let lockdep = acquire::before(self.id(), subclass, Attempt::Blocking, site);
        let wait = if self.try_write_fast(false) {
            None
        } else {
            self.write_slow(lockdep, site)
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
    fn write_slow(&self, lockdep: bool, site: Site) -> Option<std::time::Instant> {
        let start = acquire::contended(self.class, lockdep, site);
        // Queue: from now on new readers wait behind us (writer preference).
        self.state.fetch_add(WAITING_WRITER, Ordering::SeqCst);
        // If the wait unwinds (the stress watchdog aborts a hung iteration), withdraw the
        // claim: a waiting writer that is gone would block every reader from then on. Real
        // mode only: a loom model thread unwinds from a wait only when loom has ended the
        // execution (a deadlock it reports), and a loom operation made then panics again.
        let queued = (!super::LOOM).then(|| {
            OnDrop(|| {
                self.state.fetch_sub(WAITING_WRITER, Ordering::SeqCst);
                self.wake();
            })
        });
        while !self.try_write_fast(true) {
            self.sleep(|s| s & (WRITER | READER_MASK) != 0);
        }
        // The claim became the lock (try_write_fast(true) consumed it).
        std::mem::forget(queued);
        start
    }

    #[inline]
    fn try_read_with(&self, site: Site) -> Option<Acquisition> {
        let lockdep = acquire::before(self.id(), 0, Attempt::Try, site);
        self.try_read_fast().then(|| {
            acquire::after(
                self.id(),
                0,
                Mode::Shared,
                Attempt::Try,
                lockdep,
                None,
                site,
            )
        })
    }

    #[inline]
    fn try_write_with(&self, site: Site) -> Option<Acquisition> {
        let lockdep = acquire::before(self.id(), 0, Attempt::Try, site);
        self.try_write_fast(false).then(|| {
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

    #[inline]
    fn unlock_read(&self, acq: Acquisition, site: Option<Site>) {
        acquire::release(acq, site);
        let prev = self.state.fetch_sub(1, Ordering::SeqCst);
        // The last reader out wakes a waiting writer.
        if prev & READER_MASK == 1 {
            self.wake();
        }
    }

    #[inline]
    fn unlock_write(&self, acq: Acquisition, site: Option<Site>) {
        acquire::release(acq, site);
        self.state.fetch_and(!WRITER, Ordering::SeqCst);
        self.wake();
    }

    fn downgrade_write(&self, acq: Acquisition) -> Acquisition {
        if acq.tracked() {
            lockdep::downgraded(acq.instance());
        }
        // Writer -> one reader, atomically: no other writer can get in between.
        let _ = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                Some((s & !WRITER) + 1)
            });
        self.wake();
        acq
    }
}

/// Runs its closure when dropped: undoes a waiter's bookkeeping if its wait unwinds.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

// SAFETY: readers are admitted only while WRITER is clear (and the reader count is raised with
// an Acquire CAS); the writer is admitted only while WRITER and the reader count are both clear.
// Releases are SeqCst read-modify-writes, so data accesses are ordered across holders.
unsafe impl lock_api::RawRwLock for RawRwSem {
    // See RawSpinLock::INIT.
    const INIT: Self = RawRwSem {
        state: super::const_atomic_u32(0),
        sleepers: super::const_atomic_u32(0),
        class: LockClass::Named("rwsem (INIT)"),
    };
    type SharedGuard = Acquisition;
    type ExclusiveGuard = Acquisition;

    #[track_caller]
    #[inline]
    fn lock_shared(&self) -> Acquisition {
        self.read_with(Location::caller())
    }

    #[track_caller]
    #[inline]
    fn try_lock_shared(&self) -> Option<Acquisition> {
        self.try_read_with(Location::caller())
    }

    // Only lock_api calls the unlocks, from code that is not `#[track_caller]` (a guard's
    // drop): its location would be lock_api's, so none is recorded.
    #[inline]
    unsafe fn unlock_shared(&self, guard: Acquisition) {
        self.unlock_read(guard, None);
    }

    #[track_caller]
    #[inline]
    fn lock_exclusive(&self) -> Acquisition {
        self.write_with(Location::caller())
    }

    #[track_caller]
    #[inline]
    fn try_lock_exclusive(&self) -> Option<Acquisition> {
        self.try_write_with(Location::caller())
    }

    #[inline]
    unsafe fn unlock_exclusive(&self, guard: Acquisition) {
        self.unlock_write(guard, None);
    }

    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (WRITER | READER_MASK) != 0
    }

    fn is_locked_exclusive(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITER != 0
    }
}

// SAFETY: `downgrade_write` turns the writer into one reader in a single atomic update.
unsafe impl lock_api::RawRwLockDowngrade for RawRwSem {
    unsafe fn downgrade(&self, guard: Acquisition) -> Acquisition {
        self.downgrade_write(guard)
    }
}

/// A sleeping, writer-preferring reader/writer semaphore protecting `T`.
pub struct RwSem<T> {
    inner: lock_api::RwLock<RawRwSem, T>,
}

/// Proof that an [`RwSem`] is held for read.
pub struct RwSemReadGuard<'a, T> {
    inner: lock_api::RwLockReadGuard<'a, RawRwSem, T>,
}

/// Proof that an [`RwSem`] is held for write.
pub struct RwSemWriteGuard<'a, T> {
    inner: lock_api::RwLockWriteGuard<'a, RawRwSem, T>,
}

impl<T> RwSem<T> {
    /// A new rwsem of `class`.
    pub fn new(class: LockClass, data: T) -> Self {
        RwSem {
            inner: lock_api::RwLock::from_raw(RawRwSem::new(class), data),
        }
    }

    fn raw(&self) -> &RawRwSem {
        // SAFETY: only the raw lock's acquisition methods and fields are used; unlocks go
        // through guards.
        unsafe { self.inner.raw() }
    }

    /// The lock's class.
    pub fn class(&self) -> LockClass {
        self.raw().class
    }

    /// `down_read`.
    #[track_caller]
    pub fn read(&self) -> RwSemReadGuard<'_, T> {
        let acq = self.raw().read_with(Location::caller());
        RwSemReadGuard {
            // SAFETY: `acq` is the state of the shared acquisition just made.
            inner: unsafe { self.inner.make_read_guard_unchecked(acq) },
        }
    }

    /// `down_write`.
    #[track_caller]
    pub fn write(&self) -> RwSemWriteGuard<'_, T> {
        let acq = self.raw().write_with(Location::caller());
        RwSemWriteGuard {
            // SAFETY: `acq` is the state of the exclusive acquisition just made.
            inner: unsafe { self.inner.make_write_guard_unchecked(acq) },
        }
    }

    /// `down_write_nested(sem, subclass)`: take a second rwsem of a class already held,
    /// declaring the nesting (`mmap_write_lock_nested(mm, SINGLE_DEPTH_NESTING)` in
    /// `dup_mmap`), so that lockdep accepts it.
    #[track_caller]
    pub fn write_nested(&self, subclass: u8) -> RwSemWriteGuard<'_, T> {
        let acq = self.raw().write_nested_with(Location::caller(), subclass);
        RwSemWriteGuard {
            // SAFETY: `acq` is the state of the exclusive acquisition just made.
            inner: unsafe { self.inner.make_write_guard_unchecked(acq) },
        }
    }

    /// `down_read_trylock`: fails while a writer holds the lock or waits for it.
    #[track_caller]
    pub fn try_read(&self) -> Option<RwSemReadGuard<'_, T>> {
        let acq = self.raw().try_read_with(Location::caller())?;
        Some(RwSemReadGuard {
            // SAFETY: as in `read`.
            inner: unsafe { self.inner.make_read_guard_unchecked(acq) },
        })
    }

    /// `down_write_trylock`.
    #[track_caller]
    pub fn try_write(&self) -> Option<RwSemWriteGuard<'_, T>> {
        let acq = self.raw().try_write_with(Location::caller())?;
        Some(RwSemWriteGuard {
            // SAFETY: as in `write`.
            inner: unsafe { self.inner.make_write_guard_unchecked(acq) },
        })
    }

    /// `rwsem_is_locked`: a racy snapshot (read or write).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Is a writer waiting for it (a racy snapshot)?
    pub fn has_waiting_writer(&self) -> bool {
        self.raw().state.load(Ordering::Relaxed) & WAITING_MASK != 0
    }
}

/// A read hold of an rwsem that is not tied to the rwsem it was taken on: the kernel's
/// `anon_vma_unlock_read(anon_vma)` is `up_read(&anon_vma->root->rwsem)` — an up_read of the
/// rwsem the unlocker finds *then* through `anon_vma->root`, not necessarily the one the
/// matching `down_read` took. Dropping it releases the rwsem it was taken on (the common,
/// correct case); [`RwSem::up_read`] releases whichever rwsem the caller names.
#[must_use = "dropping the hold releases the rwsem it was taken on"]
pub struct RwSemReadHeld<'a> {
    sem: &'a RawRwSem,
    acq: Option<Acquisition>,
}

impl RwSemReadHeld<'_> {
    /// The rwsem this hold was taken on (its address: lockdep's instance).
    pub fn instance(&self) -> usize {
        self.sem.instance()
    }
}

impl Drop for RwSemReadHeld<'_> {
    fn drop(&mut self) {
        if let Some(acq) = self.acq.take() {
            self.sem.unlock_read(acq, None);
        }
    }
}

impl fmt::Debug for RwSemReadHeld<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RwSemReadHeld({:?})", self.sem)
    }
}

impl<T> RwSem<T> {
    /// `down_read`, as a hold that may be released through another path to the rwsem
    /// ([`RwSemReadHeld`]); the data is not reachable through it.
    #[track_caller]
    pub fn read_held(&self) -> RwSemReadHeld<'_> {
        let acq = self.raw().read_with(Location::caller());
        RwSemReadHeld {
            sem: self.raw(),
            acq: Some(acq),
        }
    }

    /// `down_read_trylock`, as a [`RwSemReadHeld`].
    #[track_caller]
    pub fn try_read_held(&self) -> Option<RwSemReadHeld<'_>> {
        let acq = self.raw().try_read_with(Location::caller())?;
        Some(RwSemReadHeld {
            sem: self.raw(),
            acq: Some(acq),
        })
    }

    /// `up_read(sem)` with `held`, a read hold taken on this rwsem or — when the unlocker
    /// found the rwsem through a pointer that changed meanwhile — on another one. The
    /// release is of *this* rwsem, as the kernel's is: if this thread does not hold it, lockdep
    /// reports "bad unlock balance" (I15), this rwsem loses a reader it never had if it has
    /// any (the kernel's count goes wrong the same way; with no reader at all the decrement is
    /// skipped, where `DEBUG_RWSEMS` would warn of a negative count), and the rwsem `held` was
    /// taken on stays read-locked for good.
    #[track_caller]
    pub fn up_read(&self, mut held: RwSemReadHeld<'_>) {
        let site = Location::caller();
        let acq = held.acq.take().expect("a hold is released once");
        let raw = self.raw();
        if std::ptr::eq(raw, held.sem) {
            raw.unlock_read(acq, Some(site));
            return;
        }
        if acq.tracked() {
            lockdep::released(raw.class, raw.instance(), Some(site), Some(acq.site()));
        }
        let had_reader = raw
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                (s & READER_MASK != 0).then(|| s - 1)
            });
        if let Ok(prev) = had_reader
            && prev & READER_MASK == 1
        {
            raw.wake();
        }
        // The rwsem `held` was taken on is never released: `acq` goes out of scope unreleased
        // (lockdep keeps its record of it), as the kernel forgets it.
    }
}

impl<'a, T> RwSemWriteGuard<'a, T> {
    /// `downgrade_write`: become a reader without letting a writer in between (munmap's
    /// `mmap_write_downgrade`).
    pub fn downgrade(self) -> RwSemReadGuard<'a, T> {
        RwSemReadGuard {
            inner: lock_api::RwLockWriteGuard::downgrade(self.inner),
        }
    }

    /// `up_write`, explicitly.
    pub fn unlock(self) {}
}

impl<T> RwSemReadGuard<'_, T> {
    /// `up_read`, explicitly.
    pub fn unlock(self) {}
}

impl<T> Deref for RwSemReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> Deref for RwSemWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for RwSemWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> fmt::Debug for RwSem<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw().fmt(f)
    }
}

impl<T: fmt::Debug> fmt::Debug for RwSemReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RwSemReadGuard({:?})", &*self.inner)
    }
}

impl<T: fmt::Debug> fmt::Debug for RwSemWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RwSemWriteGuard({:?})", &*self.inner)
    }
}
