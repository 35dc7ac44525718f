//! RCU: read-side critical sections and waiting for a grace period.
//!
//! In the model RCU guards exactly what it guards in the kernel's rmap: the lookup of an
//! anon_vma from `page->mapping` (`page_lock_anon_vma_read`, `page_get_anon_vma`), which is
//! safe because the anon_vma slab is `SLAB_TYPESAFE_BY_RCU`. The model's arenas are
//! type-stable by construction (a slot is recycled, never returned), so what RCU must give us
//! is the *context rule*: a read section is atomic context, no sleeping inside it. lockdep
//! tracks it as class `rcu_read_lock`, exempt from ordering.
//!
//! Real mode pins crossbeam-epoch for the section (a real grace-period mechanism) and
//! `synchronize_rcu` waits for the epoch to advance past every section that was open. Under
//! loom we chose a small counting model instead of crossbeam-epoch's own loom mode: that mode
//! is gated on crossbeam's `crossbeam_loom` cfg, which would flip the dependency for the whole
//! build, and its internal state would add interleavings that are crossbeam's business, not
//! the kernel's. The counting model (readers inside; `synchronize_rcu` sleeps until none is) is
//! stronger than RCU — it waits for readers that started after the call too — which can hide
//! no race that RCU would expose in this model, since nothing here relies on a grace period
//! ending early.

use super::acquire::{self, Acquisition, LockId};
use super::class::{LockClass, LockKind};
use super::held::Mode;
use super::lockdep::{self, Attempt};
use super::{AtomicUsize, Ordering, block_on, wake_all};
use std::fmt;
use std::panic::Location;

/// An RCU domain (the world owns two: see [`Rcu::observed`]).
pub struct Rcu {
    readers: AtomicUsize,
    /// [`Rcu::observed`]'s reader count, used instead of `readers` when `observed` is set.
    observed_readers: super::observer::AtomicUsize,
    observed: bool,
}

impl fmt::Debug for Rcu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rcu(readers: {})", self.readers.load(Ordering::Relaxed))
    }
}

/// An open read-side critical section.
pub struct RcuReadGuard<'a> {
    rcu: &'a Rcu,
    epoch: Option<crossbeam_epoch::Guard>,
    acq: Option<Acquisition>,
}

impl fmt::Debug for RcuReadGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RcuReadGuard")
    }
}

impl Default for Rcu {
    fn default() -> Self {
        Self::new()
    }
}

impl Rcu {
    /// A new domain.
    pub fn new() -> Self {
        Rcu {
            readers: AtomicUsize::new(0),
            observed_readers: super::observer::AtomicUsize::new(0),
            observed: false,
        }
    }

    /// A domain whose reader count is observer state (invisible to loom), for the read
    /// sections of page-table walkers (`__pte_offset_map` .. `pte_unmap`, 6.5+). Every
    /// `pte_offset_map_lock` of every path opens one, so a loom-visible count would add two
    /// branch points to every PTE lock of every scenario, and no new order: a walker's
    /// `rcu_read_lock` sits right before its lockless PMD read and its `rcu_read_unlock` right
    /// after its PTL release (both loom operations), and the grace-period wait
    /// ([`Rcu::synchronize`]) checks the count and parks in one loom step, so loom already
    /// runs every check of the count before or after each section. Real mode counts too (no
    /// crossbeam pin): the waiter re-checks on every wake and every 20 ms.
    pub fn observed() -> Self {
        Rcu {
            observed: true,
            ..Rcu::new()
        }
    }

    fn instance(&self) -> usize {
        self as *const Self as usize
    }

    fn id(&self) -> LockId {
        LockId {
            class: LockClass::Rcu,
            kind: LockKind::RcuRead,
            instance: self.instance(),
        }
    }

    /// `rcu_read_lock`.
    #[track_caller]
    pub fn read_lock(&self) -> RcuReadGuard<'_> {
        let site = Location::caller();
        let lockdep = acquire::before(self.id(), 0, Attempt::Blocking, site);
        let epoch = if self.observed {
            self.observed_readers
                .fetch_add(1, super::observer::Ordering::SeqCst);
            None
        } else {
            self.readers.fetch_add(1, Ordering::SeqCst);
            (!super::LOOM).then(crossbeam_epoch::pin)
        };
        let acq = acquire::after(
            self.id(),
            0,
            Mode::Shared,
            Attempt::Blocking,
            lockdep,
            None,
            site,
        );
        RcuReadGuard {
            rcu: self,
            epoch,
            acq: Some(acq),
        }
    }

    /// `synchronize_rcu`: may sleep; returns after every read section open at the call closed.
    #[track_caller]
    pub fn synchronize(&self) {
        lockdep::might_sleep("synchronize_rcu");
        if self.observed {
            // The last reader out wakes us (`Drop`); the count is read and the sleep begun
            // with no loom operation between them, and in real mode under the wait queue's
            // bucket lock, which the waker's unpark takes.
            while self
                .observed_readers
                .load(super::observer::Ordering::SeqCst)
                != 0
            {
                block_on(self.instance(), || {
                    self.observed_readers
                        .load(super::observer::Ordering::SeqCst)
                        != 0
                });
            }
            return;
        }
        if super::LOOM {
            // Sleep until the last reader leaves (its `rcu_read_unlock` wakes us), re-checking
            // after every wake. The re-check is a read-modify-write (`wait::block_on`), and
            // SeqCst rather than `wait::recheck`'s Relaxed: `synchronize_rcu` implies a full
            // memory barrier, so whatever a reader did inside its section is visible once this
            // returns.
            while block_on(self.instance(), || {
                self.readers.fetch_add(0, Ordering::SeqCst) != 0
            }) {}
            return;
        }
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        crossbeam_epoch::pin()
            .defer(move || flag.store(true, std::sync::atomic::Ordering::Release));
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            crossbeam_epoch::pin().flush();
            super::yield_now();
        }
    }

    /// Readers inside right now (a snapshot, for oracles).
    pub fn readers(&self) -> usize {
        if self.observed {
            self.observed_readers
                .load(super::observer::Ordering::SeqCst)
        } else {
            self.readers.load(Ordering::SeqCst)
        }
    }
}

impl RcuReadGuard<'_> {
    /// `rcu_read_unlock`, explicitly.
    pub fn unlock(self) {}
}

impl Drop for RcuReadGuard<'_> {
    fn drop(&mut self) {
        if let Some(acq) = self.acq.take() {
            acquire::release(acq, None);
        }
        drop(self.epoch.take());
        if self.rcu.observed {
            let before = self
                .rcu
                .observed_readers
                .fetch_sub(1, super::observer::Ordering::SeqCst);
            if before == 1 {
                wake_all(self.rcu.instance());
            }
            return;
        }
        let before = self.rcu.readers.fetch_sub(1, Ordering::SeqCst);
        if super::LOOM && before == 1 {
            // The last reader out wakes a waiting `synchronize` (free under loom: the wait
            // queue is invisible to it).
            wake_all(self.rcu.instance());
        }
    }
}
