//! A locked page: [`LockedPage`], the page's pfn and its PG_locked guard together, from
//! [`lock_page`] or [`trylock_page`] (include/linux/pagemap.h, mm/filemap.c's `__folio_lock`).
//!
//! A callee that needs "the page, locked" (rmap_walk, try_to_unmap, move_to_new_page, ...)
//! takes a `&LockedPage`: it cannot be handed a pfn and the guard of some other page.

use crate::mm::{Pfn, World};
use crate::sync::PageLockGuard;

/// A page whose PG_locked this thread holds. Dropping it unlocks the page (`unlock_page`).
#[derive(Debug)]
pub struct LockedPage<'w> {
    pfn: Pfn,
    guard: PageLockGuard<'w>,
}

impl<'w> LockedPage<'w> {
    /// The page.
    pub fn pfn(&self) -> Pfn {
        self.pfn
    }

    /// The PG_locked guard (for a lock-level operation such as handing the lock over).
    pub fn guard(&self) -> &PageLockGuard<'w> {
        &self.guard
    }

    /// `unlock_page`, explicitly (dropping it does the same; this records the call site).
    #[track_caller]
    pub fn unlock(self) {
        self.guard.unlock();
    }

    /// Split into the pfn and the guard (for a path that hands PG_locked over).
    pub fn into_parts(self) -> (Pfn, PageLockGuard<'w>) {
        (self.pfn, self.guard)
    }
}

/// `lock_page` / `folio_lock`: sleep until PG_locked is ours.
#[track_caller]
pub fn lock_page(w: &World, pfn: Pfn) -> LockedPage<'_> {
    LockedPage {
        pfn,
        guard: w.page(pfn).lock().lock(),
    }
}

/// `trylock_page` / `folio_trylock`: PG_locked if it is free now.
#[track_caller]
pub fn trylock_page(w: &World, pfn: Pfn) -> Option<LockedPage<'_>> {
    Some(LockedPage {
        pfn,
        guard: w.page(pfn).lock().try_lock()?,
    })
}
