//! `PageLock`: PG_locked, the page (folio) lock — a bit in the page's flags word.
//!
//! Sleeping, with waiters on a hashed wait queue keyed by the flags word's address (real mode:
//! parking_lot_core, the same idea as the kernel's `folio_waitqueue`). A `PG_waiters` bit says
//! someone sleeps, so that `unlock_page` only wakes when it must (`folio_unlock` →
//! `folio_wake_bit` when PG_waiters is set).
//!
//! The lock is a view over a flags word it does not own: `PageLock::new(&page.flags, class)`.
//! Besides lock / trylock / unlock it offers the two waits the kernel's migration protocol is
//! made of: `folio_wait_locked` (wait without taking it), and
//! `migration_entry_wait_on_locked` (v5.17+, ffa65753c431): queue as a waiter while still
//! holding the PTL, then drop the PTL and sleep — so no page reference is needed to keep the
//! page alive while enqueueing.

use super::acquire::{self, Acquisition, LockId, Site};
use super::class::{LockClass, LockKind};
use super::held::Mode;
use super::lockdep::{self, Attempt};
use super::{AtomicU32, Ordering, block_on, wake_all};
use crate::report::{self as check, Oracle, Violation};
use std::fmt;
use std::panic::Location;

/// PG_locked.
pub const PG_LOCKED: u32 = 1 << 0;
/// PG_waiters: someone sleeps on this page's wait queue.
pub const PG_WAITERS: u32 = 1 << 1;

/// A view of the PG_locked bit of one flags word.
#[derive(Clone, Copy)]
pub struct PageLock<'a> {
    flags: &'a AtomicU32,
    class: LockClass,
}

/// Proof that a page is locked. Dropping it unlocks the page (`unlock_page`).
pub struct PageLockGuard<'a> {
    lock: PageLock<'a>,
    acq: Option<Acquisition>,
}

impl fmt::Debug for PageLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageLock({}, locked: {})", self.class, self.is_locked())
    }
}

impl fmt::Debug for PageLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageLockGuard({:?})", self.lock)
    }
}

impl<'a> PageLock<'a> {
    /// The PG_locked bit of `flags`, as a lock of `class` (`PageLock`, or `HugetlbFolioLock`
    /// for hugetlb folios, whose order differs).
    pub fn new(flags: &'a AtomicU32, class: LockClass) -> Self {
        PageLock { flags, class }
    }

    #[inline]
    fn instance(&self) -> usize {
        self.flags as *const AtomicU32 as usize
    }

    #[inline]
    fn id(&self) -> LockId {
        LockId {
            class: self.class,
            kind: LockKind::Sleep,
            instance: self.instance(),
        }
    }

    /// `PageLocked`: a racy snapshot.
    pub fn is_locked(&self) -> bool {
        self.flags.load(Ordering::Acquire) & PG_LOCKED != 0
    }

    #[inline]
    fn try_fast(&self) -> bool {
        self.flags.fetch_or(PG_LOCKED, Ordering::Acquire) & PG_LOCKED == 0
    }

    /// Sleep until the page looks unlocked. PG_waiters is set and PG_locked tested in one
    /// atomic step, inside the wait queue's lock (real mode: the bucket lock), as
    /// `folio_wait_bit_common` sets PG_waiters and tests the bit under `q->lock`; that one
    /// read-modify-write is also the re-check that keeps a loom waiter from missing the unlock
    /// (`wait::block_on`).
    ///
    /// Returns whether it slept; when it returns `false` the page was unlocked at the re-check,
    /// which is the newest value of the flags word (a read-modify-write), so a caller waiting
    /// only for the unlock loops on this rather than on a separate load that loom could answer
    /// with an older value.
    fn sleep_while_locked(&self) -> bool {
        let f = self.flags;
        block_on(self.instance(), || {
            f.fetch_or(PG_WAITERS, Ordering::SeqCst) & PG_LOCKED != 0
        })
    }

    /// `lock_page` / `folio_lock`: sleep until the page is ours.
    ///
    /// Simplification: woken waiters race for PG_locked and a waiter re-checks until it sees
    /// the bit clear (the pre-5.9 shape); there is no exclusive handoff to a waiter after
    /// `sysctl_page_lock_unfairness` steals (5.9+ `folio_wait_bit_common`).
    #[track_caller]
    #[inline]
    pub fn lock(self) -> PageLockGuard<'a> {
        let site = Location::caller();
        let lockdep = acquire::before(self.id(), 0, Attempt::Blocking, site);
        let wait = if self.try_fast() {
            None
        } else {
            self.lock_slow(lockdep, site)
        };
        let acq = acquire::after(
            self.id(),
            0,
            Mode::Exclusive,
            Attempt::Blocking,
            lockdep,
            wait,
            site,
        );
        PageLockGuard {
            lock: self,
            acq: Some(acq),
        }
    }

    #[cold]
    fn lock_slow(&self, lockdep: bool, site: Site) -> Option<std::time::Instant> {
        let start = acquire::contended(self.class, lockdep, site);
        while !self.try_fast() {
            self.sleep_while_locked();
        }
        start
    }

    /// `trylock_page` / `folio_trylock`: never blocks; exempt from lockdep's ordering, which is
    /// why migration may trylock a second page while holding one (Hugh Dickins, 2015: "mm:
    /// page migration trylock newpage at same level as oldpage").
    #[track_caller]
    #[inline]
    pub fn try_lock(self) -> Option<PageLockGuard<'a>> {
        let site = Location::caller();
        let lockdep = acquire::before(self.id(), 0, Attempt::Try, site);
        self.try_fast().then(|| {
            let acq = acquire::after(
                self.id(),
                0,
                Mode::Exclusive,
                Attempt::Try,
                lockdep,
                None,
                site,
            );
            PageLockGuard {
                lock: self,
                acq: Some(acq),
            }
        })
    }

    /// `folio_wait_locked` / `wait_on_page_locked`: sleep until the page is unlocked, without
    /// taking it.
    #[track_caller]
    pub fn wait_unlocked(self) {
        lockdep::might_sleep("wait_on_page_locked");
        // folio_wait_locked: sleep only if the page looks locked; then until it is not.
        if self.is_locked() {
            while self.sleep_while_locked() {}
        }
    }

    /// `migration_entry_wait_on_locked` (v5.17+): enqueue on the page's wait queue while the
    /// caller still holds `ptl`, then drop it and sleep until the page is unlocked. The page
    /// cannot go away meanwhile without a reference: its migrator must take this PTL to remove
    /// the entry, and holds its own reference until it has.
    #[track_caller]
    pub fn wait_unlocked_releasing<G>(self, ptl: G) {
        // Enqueue: set PG_waiters under the PTL, as the kernel adds the wait-queue entry.
        self.flags.fetch_or(PG_WAITERS, Ordering::SeqCst);
        drop(ptl);
        lockdep::might_sleep("migration_entry_wait_on_locked");
        while self.sleep_while_locked() {}
    }

    /// `unlock_page` without a guard, for paths that hand the lock over as the kernel does.
    /// Unlocking a page that is not locked is the kernel's
    /// `VM_BUG_ON_FOLIO(!folio_test_locked(folio))`, reported here as a `BUG` violation.
    #[track_caller]
    pub fn unlock_unowned(self) {
        let site = Location::caller();
        if !self.clear_and_wake() {
            self.report_not_locked(None, Some(site));
            return;
        }
        if super::switches::lockdep() {
            lockdep::released(self.class, self.instance(), Some(site), None);
        }
    }

    /// Clear PG_locked and PG_waiters, waking the page's waiters if PG_waiters was set. Returns
    /// whether the page was locked: the test and the clear are one atomic step, as in
    /// `folio_unlock`'s `clear_bit_unlock_is_negative_byte`, so that two racing unlocks cannot
    /// both pass a check made before the clear.
    ///
    /// (On x86 this is a compare-and-swap loop. Clearing PG_locked alone with one `lock btr` and
    /// then loading PG_waiters was measured slower on the benchmark machine, by 3-5 ns per
    /// unlock.)
    #[inline]
    fn clear_and_wake(&self) -> bool {
        let prev = self
            .flags
            .fetch_and(!(PG_LOCKED | PG_WAITERS), Ordering::SeqCst);
        if prev & PG_WAITERS != 0 {
            wake_all(self.instance());
        }
        prev & PG_LOCKED != 0
    }

    /// `VM_BUG_ON_FOLIO(!folio_test_locked(folio))`: an unlock at `site` (`None`: a guard's
    /// drop) found the page unlocked; `taken` is where the unlocking guard locked it, if the
    /// unlock was a guard's. Out of line, so that the unlock paths stay small enough to inline.
    #[cold]
    #[inline(never)]
    fn report_not_locked(&self, taken: Option<Site>, site: Option<Site>) {
        let what = match taken {
            Some(t) => format!(
                "{} (locked at {}:{}) was unlocked behind its owner's back",
                self.class,
                t.file(),
                t.line()
            ),
            None => format!("unlock_page of an unlocked page ({})", self.class),
        };
        check::report(Violation {
            oracle: Oracle::Bug,
            message: format!("VM_BUG_ON_FOLIO(!folio_test_locked(folio)): {what}"),
            sites: site.into_iter().chain(taken).collect(),
        });
    }
}

impl<'a> PageLockGuard<'a> {
    /// `unlock_page`, explicitly (dropping the guard does the same).
    #[track_caller]
    #[inline]
    pub fn unlock(mut self) {
        self.release(Some(Location::caller()));
    }

    /// Unlock at `site`; `None` when the guard is dropped, whose location (drop glue in the
    /// standard library) `#[track_caller]` cannot see past. Reports then name where the guard
    /// was taken.
    #[inline]
    fn release(&mut self, site: Option<Site>) {
        if let Some(acq) = self.acq.take() {
            if !self.lock.clear_and_wake() {
                self.lock.report_not_locked(Some(acq.site()), site);
            }
            acquire::release(acq, site);
        }
    }

    /// The lock this guard holds.
    pub fn page_lock(&self) -> PageLock<'a> {
        self.lock
    }

    /// Give up the guard but keep the page locked and lockdep's record of it, for a path that
    /// will unlock with [`PageLock::unlock_unowned`] (the kernel's hand-over of PG_locked).
    pub fn into_raw(mut self) {
        // Discarding the acquisition state releases nothing: lockdep's held record stays until
        // `unlock_unowned` removes it.
        self.acq = None;
    }
}

impl Drop for PageLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.release(None);
    }
}
