//! `split_huge_page` of an anonymous THP (mm/huge_memory.c, 6.x: `split_huge_page_to_list`,
//! `split_huge_page_to_list_to_order` since 6.8, at order 0): a compound page, PMD- or
//! PTE-mapped, becomes `HPAGE_PMD_NR` order-0 pages, each mapped where its part of the THP was.
//!
//! ```text
//! folio_lock(folio)                                     (the caller: `page` is the proof)
//! anon_vma = folio_get_anon_vma(folio)                  -EBUSY if not mapped
//! anon_vma_lock_write(anon_vma)                         the root rwsem, across the split
//! can_split_folio(): mapcount == refcount - 1           racy; -EAGAIN if extra pins
//! unmap_folio(folio)                                    TTU_RMAP_LOCKED | TTU_SPLIT_HUGE_PMD
//!   try_to_migrate(folio)                               | TTU_SYNC (732ed55823fc)
//!     try_to_migrate_one(vma): page_vma_mapped_walk
//!       a PMD: split_huge_pmd_locked(freeze)            PTEs of migration entries
//!       a PTE: ptep_clear_flush, migration entry
//! folio_ref_freeze(folio, 1 + extra_pins)               fails while a zapper still holds a
//!   __split_huge_page()                                  reference: remap_page, -EAGAIN
//!     __split_huge_page_tail() for each tail            own refcount, flags, PG_locked
//!     remap_page()                                      migration entries -> present PTEs
//!     unlock_page + put_page of each tail
//! anon_vma_unlock_write; put_anon_vma
//! ```
//!
//! Lock order: the folio lock, then the anon_vma root rwsem (write), then — inside the walk —
//! the PMD lock or a PTE lock (mm/rmap.c's header: `folio_lock` → `anon_vma->rwsem` →
//! `page_table_lock or pte_lock`).
//!
//! Oracle: I2 — `unmap_folio`'s "still mapped" assertion (`VM_BUG_ON_PAGE(!unmap_success)`,
//! [`crate::ops::split::unmap_folio_flags`]) — fires when the walk returned while the folio
//! is still mapped; the quiescent checks then see every frame's mapcount and refcount.
//!
//! Simplifications (docs/MODEL.md §6, §15): anonymous THPs only (no file or shmem THP, no
//! swap cache: `extra_pins` is 0), no deferred split queue (`split_queue_lock`), no memcg and
//! no LRU lock (the tails inherit the head's PG_lru, as `lru_add_page_tail` puts them beside
//! it); split to order 0 only.

use crate::mm::page::{Compound, pg};
use crate::mm::{Pfn, VmaId, World};
use crate::ops::anon_vma::{anon_vma_lock_write, put_anon_vma};
use crate::ops::page_alloc;
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::rmap_walk::{HeldRmapLock, RmapWalkControl, rmap_walk_vmas};
use crate::race_window;
use crate::sync::Ordering;

/// Why `split_huge_page` failed (the kernel's errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// `-EBUSY`: no anon_vma to pin — the folio is no longer mapped.
    Busy,
    /// `-EAGAIN`: someone else holds a reference (`can_split_folio`, or the refcount freeze
    /// failed after the unmap): the mappings were restored.
    Again,
}

/// The frames of the THP headed by `head`: `nr` of them (`folio_nr_pages`), or `None` for an
/// order-0 page.
fn thp_nr(w: &World, head: Pfn) -> Option<usize> {
    match w.page(head).compound.get() {
        Compound::Head { nr } => Some(nr as usize),
        _ => None,
    }
}

/// `folio_mapcount` (6.x, the total): PMD mappings plus every frame's PTE mappings.
fn folio_mapcount(w: &World, head: Pfn, nr: usize) -> i32 {
    w.page(head).entire_mapcount.load(Ordering::SeqCst)
        + (0..nr)
            .map(|i| w.page(w.subpage(head, i)).mapcount.load(Ordering::SeqCst))
            .sum::<i32>()
}

/// `can_split_folio(folio, 1, &extra_pins)`: the racy check before the unmap — every reference
/// but the caller's is a mapping's (`folio_mapcount(folio) == folio_ref_count(folio) -
/// extra_pins - 1`; `extra_pins` is 0 for an anonymous folio outside the swap cache).
pub fn can_split_folio(w: &World, head: Pfn) -> bool {
    let nr = thp_nr(w, head).unwrap_or(1);
    let mapcount = folio_mapcount(w, head, nr);
    let refcount = w.page(head).refcount.load(Ordering::SeqCst);
    let ok = mapcount == refcount - 1;
    w.trace(
        "can_split_folio",
        head,
        format_args!(
            "mapcount {mapcount} refcount {refcount}: {}",
            if ok { "yes" } else { "extra pins" }
        ),
    );
    ok
}

/// `folio_ref_freeze(folio, count)`: the refcount goes from exactly `count` to 0 in one
/// atomic step, or nothing changes. A frozen folio takes no new reference
/// (`get_page_unless_zero` fails), so the split may rewrite its frames.
pub fn folio_ref_freeze(w: &World, head: Pfn, count: i32) -> bool {
    let ok = w
        .page(head)
        .refcount
        .compare_exchange(count, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    w.trace(
        "folio_ref_freeze",
        head,
        if ok {
            "frozen"
        } else {
            "refcount not as expected"
        },
    );
    ok
}

/// `remap_page(folio, nr)`: turn the migration entries `unmap_folio` left back into present
/// PTEs — for each of the `nr` frames from `head`, `remove_migration_ptes(page, page,
/// RMP_LOCKED)`: a walk of the anon_vma tree the caller holds (`held`) at the frame's index,
/// and the table's `remove_migration_pte` in each VMA (a reference and a `_mapcount` per PTE
/// restored). Before `__split_huge_page` the frames are still one THP (the references go to
/// the head); after it, each its own page.
pub fn remap_page(w: &World, head: Pfn, nr: usize, held: &HeldRmapLock<'_, '_>) {
    let vmas = held.vmas(w);
    for i in 0..nr {
        let sub = w.subpage(head, i);
        let index = w.page(sub).index.load(Ordering::SeqCst);
        let remove_migration_pte = w.kernel.migrate.remove_migration_pte;
        let mut one = |vma: VmaId, va: u64| remove_migration_pte(w, sub, sub, vma, va);
        let mut rwc = RmapWalkControl::new(&mut one);
        rmap_walk_vmas(w, &vmas, index, &mut rwc);
    }
    w.trace("remap_page", head, format_args!("{nr} pages"));
}

/// `__split_huge_page` (6.x, anonymous, to order 0), the folio locked, unmapped and frozen:
/// each tail becomes its own page (`__split_huge_page_tail`: `page_ref_unfreeze(page_tail,
/// 1)`, the head's flags copied — PG_locked among them — its `compound_head` cleared; the
/// model's tails already carry `mapping` and `index`), then the head (`page_ref_inc`: the
/// caller's reference), `remap_page`, and every page but the caller's is unlocked and put
/// (`free_page_and_swap_cache`): a page no PTE maps again is freed here.
///
/// The frames' compound state is rewritten while the folio is frozen: no path can take a
/// reference to it, and the model has no lockless walker (GUP-fast) that would read it
/// meanwhile.
pub fn __split_huge_page(w: &World, page: &LockedPage<'_>, held: &HeldRmapLock<'_, '_>) {
    let head = page.pfn();
    let nr = thp_nr(w, head).expect("__split_huge_page of a THP");
    let hp = w.page(head);
    let inherited = hp.flags.load(Ordering::SeqCst)
        & (pg::ANON | pg::SWAPBACKED | pg::UPTODATE | pg::DIRTY | pg::LRU);
    let mut tails = Vec::with_capacity(nr - 1);
    for i in (1..nr).rev() {
        let sub = w.subpage(head, i);
        let tail = w.page(sub);
        // PG_locked is copied from the head before the tail leaves the compound page
        // (`clear_compound_head` comes after the flags), so a migration-entry waiter that
        // finds it a page of its own finds it locked. The frame's lock is free (no path locks
        // a tail), so the trylock is that copy.
        let locked = trylock_page(w, sub).expect("a tail frame's PG_locked is free");
        tail.flags.fetch_or(inherited, Ordering::SeqCst);
        tail.compound.set(Compound::Single);
        tail.refcount.store(1, Ordering::SeqCst); // page_ref_unfreeze(page_tail, 1)
        tails.push(locked);
    }
    hp.compound.set(Compound::Single);
    hp.refcount.fetch_add(1, Ordering::SeqCst); // page_ref_inc(head): the caller's
    w.trace(
        "__split_huge_page",
        head,
        format_args!("{nr} order-0 pages"),
    );
    race_window!("__split_huge_page: split, not yet remapped");
    remap_page(w, head, nr, held);
    for tail in tails {
        let sub = tail.pfn();
        tail.unlock();
        page_alloc::put_page(w, sub); // free_page_and_swap_cache
    }
}

/// `split_huge_page(page)` of the anonymous THP headed by `page`'s frame, which the caller
/// has locked and holds a reference to (module docs for the steps). `Ok` leaves `page` an
/// order-0 page, still locked and referenced by the caller; an order-0 page is left alone.
pub fn split_huge_page(w: &World, page: &LockedPage<'_>) -> Result<(), SplitError> {
    let head = page.pfn();
    if thp_nr(w, head).is_none() {
        return Ok(());
    }
    // folio_get_anon_vma: pin the anon_vma of a mapped folio.
    let Some(av) = (w.kernel.rmap.page_get_anon_vma)(w, head) else {
        w.trace("split_huge_page", head, "-EBUSY: no anon_vma");
        return Err(SplitError::Busy);
    };
    let locked = anon_vma_lock_write(w, av);
    let ret = {
        let held = HeldRmapLock::AnonVmaWrite(&locked, av);
        if !can_split_folio(w, head) {
            Err(SplitError::Again)
        } else {
            (w.kernel.rmap.unmap_folio)(w, page, Some(&held));
            race_window!("split_huge_page: unmapped, refcount not yet frozen");
            if folio_ref_freeze(w, head, 1) {
                __split_huge_page(w, page, &held);
                Ok(())
            } else {
                let nr = thp_nr(w, head).expect("still a THP");
                remap_page(w, head, nr, &held);
                Err(SplitError::Again)
            }
        }
    };
    w.trace(
        "split_huge_page",
        head,
        match ret {
            Ok(()) => "split",
            Err(_) => "-EAGAIN",
        },
    );
    locked.unlock(); // anon_vma_unlock_write
    put_anon_vma(w, av);
    ret
}

/// `split_huge_pages_pid` (mm/huge_memory.c, the debugfs `split_huge_pages` interface) for the
/// one address `va` of `mm`: under `mmap_lock` read, find the THP a huge PMD maps there and
/// take a reference under the PMD lock (`folio_walk_start` / `follow_page` with `FOLL_GET`),
/// `folio_trylock` it (skip if busy), `split_folio`, unlock and put. A THP already split to
/// PTEs is not found here (the model looks at huge PMDs only). Returns the split's result, or
/// `None` if nothing was tried.
pub fn split_huge_pages_pid(
    w: &World,
    mm: crate::mm::MmId,
    va: u64,
) -> Option<Result<(), SplitError>> {
    let m = w.mms.get(mm);
    let map = m.mmap_lock.read();
    let (slot, _) = w.pte_slot(va);
    let head = {
        let pmd = crate::ops::pmd_lock::pmd_lock(w, mm, slot);
        match pmd.get() {
            crate::mm::Pmd::Huge { pfn, .. } => {
                page_alloc::get_page(w, pfn);
                Some(pfn)
            }
            _ => None,
        }
    }?;
    let ret = match trylock_page(w, head) {
        Some(page) => {
            let r = split_huge_page(w, &page);
            page.unlock();
            Some(r)
        }
        None => None,
    };
    page_alloc::put_page(w, head);
    drop(map);
    ret
}
