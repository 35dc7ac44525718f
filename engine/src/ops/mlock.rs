//! mlock state of pages under both schemes (docs/MODEL.md §4, [`MlockOps::scheme`]).
//!
//! 5.18+ ([`MlockScheme::MlockCount`]): `mlock_folio` / `munlock_folio` from rmap add/remove
//! under the PTL, counting VM_LOCKED mappings in `mlock_count` under `lru_lock`. The kernel
//! batches these per CPU (`mlock_fbatch`) and drains under `lru_lock`; the model drains at
//! once — the batching changes when, not what, and no modelled race depends on it.
//!
//! ≤5.17 ([`MlockScheme::PageMlock`]): PG_mlocked is set by `mlock_vma_page` with the page
//! locked and cleared by `clear_page_mlock` when the last mapping goes, or by munlock's rmap
//! walk (`page_mlock`) when no other VM_LOCKED VMA maps the page.
//!
//! Which scheme a world runs is data ([`MlockOps::scheme`]): it is a whole era of the kernel,
//! read by every path that mlocks or munlocks (fault, rmap add/remove, reclaim, migration,
//! munmap, exit), not one function's version. The steps of both schemes are entries of
//! [`MlockOps`], called through `w.kernel.mlock`.

use crate::check::{self, Oracle};
use crate::mm::page::pg;
use crate::mm::{Pfn, VmaId, World, vm};
use crate::ops::pagemap::LockedPage;
use crate::sync::Ordering;

/// The mlock scheme: which era of mlock a world runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MlockScheme {
    /// ≤ v5.17: PG_mlocked set under the page lock; munlock walks the rmap per page
    /// (`page_mlock`) under `i_mmap_rwsem` / anon_vma read; munmap and exit munlock every
    /// VM_LOCKED VMA first (`munlock_vma_pages_all`).
    PageMlock,
    /// v5.18+ (Hugh Dickins' munlock series: 07ca76067308, a213e5cf71cb, ...; default):
    /// `mlock_count` kept by rmap add/remove under the PTL; no rmap walk, no page lock.
    #[default]
    MlockCount,
}

/// `mlock_folio` (5.18+): one more VM_LOCKED mapping.
pub fn mlock_folio(w: &World, pfn: Pfn) {
    let page = w.page(pfn);
    let _lru = w.lru_lock.lock();
    page.test_set(pg::MLOCKED);
    // __mlock_folio: "if (!folio_test_clear_lru(folio)) return" — a folio isolated from the
    // LRU (by migration, by reclaim) keeps its count. The count errs low, never high: reclaim
    // restores an mlock it finds missing ("Restore the mlock which got missed").
    if !page.test(pg::LRU) {
        w.trace("mlock_folio: isolated, count unchanged", pfn, "PG_mlocked");
        return;
    }
    if page.test(pg::UNEVICTABLE) {
        page.mlock_count.fetch_add(1, Ordering::SeqCst);
    } else {
        page.flags.fetch_or(pg::UNEVICTABLE, Ordering::SeqCst);
        page.mlock_count.store(1, Ordering::SeqCst);
    }
    w.trace(
        "mlock_folio",
        pfn,
        format_args!("mlock_count={}", page.mlock_count.load(Ordering::SeqCst)),
    );
}

/// `mlock_vma_folio` (5.18+, mm/internal.h): `mlock_folio` only if `(vma->vm_flags &
/// (VM_LOCKED|VM_SPECIAL)) == VM_LOCKED`. "VM_IO check prevents migration from
/// double-counting during mlock" (34b6792380ce, "mm/munlock: mlock_pte_range() when mlocking
/// or munlocking"): mlock()'s `mlock_vma_pages_range` sets VM_LOCKED|VM_IO, counts every
/// mapped folio with its own page-table walk, then clears VM_IO; a concurrent
/// `mlock_vma_folio` (reclaim's try_to_unmap_one, remove_migration_pte) in that window would
/// count a folio the walk counts too. The caller holds the PTL of the mapping.
///
/// Simplification: of VM_SPECIAL (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP) only VM_IO
/// is modelled — no modelled VMA ever has the others.
pub fn mlock_vma_folio(w: &World, pfn: Pfn, vma: VmaId) {
    let flags = w.vmas.get(vma).flags.load(Ordering::SeqCst);
    if flags & (vm::LOCKED | vm::IO) == vm::LOCKED {
        (w.kernel.mlock.mlock_folio)(w, pfn);
    } else {
        w.trace("mlock_vma_folio: not for this vma", pfn, vma);
    }
}

/// `munlock_folio` (5.18+): one VM_LOCKED mapping fewer.
pub fn munlock_folio(w: &World, pfn: Pfn) {
    let page = w.page(pfn);
    let _lru = w.lru_lock.lock();
    // __munlock_folio
    if page.test(pg::UNEVICTABLE) {
        let c = page.mlock_count.load(Ordering::SeqCst);
        if c > 0 {
            page.mlock_count.store(c - 1, Ordering::SeqCst);
            if c > 1 {
                return;
            }
        }
    }
    page.test_clear(pg::MLOCKED);
    page.test_clear(pg::UNEVICTABLE);
    w.trace("munlock_folio", pfn, "evictable");
}

/// `lru_cache_add_inactive_or_unevictable`: a new page goes on the LRU, mlocked if its VMA is
/// VM_LOCKED (both schemes).
pub fn lru_cache_add_inactive_or_unevictable(w: &World, pfn: Pfn, vma: VmaId) {
    let page = w.page(pfn);
    page.flags.fetch_or(pg::LRU, Ordering::SeqCst);
    let flags = w.vmas.get(vma).flags.load(Ordering::SeqCst);
    if flags & (vm::LOCKED | vm::IO) == vm::LOCKED {
        match w.kernel.mlock.scheme {
            MlockScheme::MlockCount => {
                // Counted by mlock_folio from the rmap add of the new-anon path.
                (w.kernel.mlock.mlock_folio)(w, pfn);
            }
            MlockScheme::PageMlock => {
                if !page.test_set(pg::MLOCKED) {
                    page.flags.fetch_or(pg::UNEVICTABLE, Ordering::SeqCst);
                }
            }
        }
    }
}

/// Old scheme: `mlock_vma_page` for a file page being mapped into a VM_LOCKED VMA with the
/// page locked (the fault path holds it): the `mlock_vma_page` entry. I12: the page must be
/// locked. Nothing under the 5.18+ scheme, where the rmap add counts it.
pub fn mlock_vma_page_locked(w: &World, page: &LockedPage<'_>, vma: VmaId) {
    if w.kernel.mlock.scheme != MlockScheme::PageMlock || !w.vmas.get(vma).has(vm::LOCKED) {
        return;
    }
    (w.kernel.mlock.mlock_vma_page)(w, page.pfn());
}

/// `mlock_vma_page` (≤5.17): set PG_mlocked; "serialise with page migration" — the caller
/// must hold the page lock (BUG_ON(!PageLocked(page)), 57e68e9cd65b).
#[track_caller]
pub fn mlock_vma_page(w: &World, pfn: Pfn) {
    let page = w.page(pfn);
    if !page.lock().is_locked() {
        check::violation(
            Oracle::I12MlockLocking,
            format!("BUG_ON(!PageLocked(page)) in mlock_vma_page of {pfn}"),
        );
    }
    if !page.test_set(pg::MLOCKED) {
        page.flags.fetch_or(pg::UNEVICTABLE, Ordering::SeqCst);
        w.trace("mlock_vma_page", pfn, "PG_mlocked");
    }
}

/// `clear_page_mlock` (≤5.17): the last mapping went; the page is no longer mlocked.
pub fn clear_page_mlock(w: &World, pfn: Pfn) {
    let page = w.page(pfn);
    if page.test_clear(pg::MLOCKED) {
        page.test_clear(pg::UNEVICTABLE);
        w.trace("clear_page_mlock", pfn, "");
    }
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the mlock
/// and munlock steps, and which scheme they belong to.
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`] (above the paths).
#[derive(Debug, Clone, Copy)]
pub struct MlockOps {
    /// The mlock era (data, not one function's version: every mlocking path reads it).
    pub scheme: MlockScheme,
    /// `mlock_folio` (5.18+, mm/mlock.c): one more VM_LOCKED mapping of the folio.
    pub mlock_folio: fn(&World, Pfn),
    /// `munlock_folio` (5.18+): one VM_LOCKED mapping fewer.
    pub munlock_folio: fn(&World, Pfn),
    /// `mlock_vma_folio` (5.18+, mm/internal.h): `mlock_folio` if the VMA is VM_LOCKED and not
    /// VM_SPECIAL.
    pub mlock_vma_folio: fn(&World, Pfn, VmaId),
    /// `mlock_vma_page` (≤5.17): set PG_mlocked, page locked by the caller (I12 checks it).
    pub mlock_vma_page: fn(&World, Pfn),
    /// `clear_page_mlock` (≤5.17): the last mapping went.
    pub clear_page_mlock: fn(&World, Pfn),
    /// `munlock_vma_pages_range` (≤5.17) / `mlock_vma_pages_range(…, !VM_LOCKED)` (5.18+):
    /// clear VM_LOCKED on a VMA and munlock its pages (munlock(2), and munmap/exit under the
    /// old scheme).
    pub munlock_vma_pages_range: fn(&World, VmaId),
    /// `munlock_vma_page` (≤5.17), the page locked.
    pub munlock_vma_page: fn(&World, &LockedPage<'_>),
    /// `page_mlock` (≤5.17, formerly `try_to_munlock`): the rmap walk that re-mlocks a page
    /// another VM_LOCKED VMA still maps.
    pub page_mlock: fn(&World, &LockedPage<'_>),
    /// `__munlock_pagevec` (3.12–5.17): munlock a batch of pinned pages, reached from
    /// [`crate::ops::munlock_pagevec::munlock_vma_pages_range_v5_17`]. Default
    /// [`crate::ops::munlock_pagevec::__munlock_pagevec`] (3b25df93c6e3); alternative
    /// [`crate::ops::munlock_pagevec::__munlock_pagevec_v3_12`].
    pub __munlock_pagevec: fn(&World, Vec<Pfn>),
}
