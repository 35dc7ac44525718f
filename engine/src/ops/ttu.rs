//! `try_to_unmap` (reclaim, file THP split) and `try_to_migrate` (migration, anon THP split),
//! with their per-VMA `try_to_unmap_one` / `try_to_migrate_one` (split apart by a98a2f0c8ce1).
//!
//! Callers hold the page lock (the guard is the proof) and a page reference. Each `_one` runs
//! inside an mmu-notifier bracket (never under a PTL), finds the PTE with
//! `page_vma_mapped_walk` — which skips an empty-looking PTE without its PTL unless
//! `TTU_SYNC` — and clears it under the PTL, flushing the TLB before the PTL is dropped
//! (`ptep_clear_flush`), moving the dirty bit to the page and removing the rmap.

use crate::check::{self, Oracle};
use crate::mm::pte::Pte;
use crate::mm::{Mapping, Pfn, VmaId, World, vm};
use crate::ops::mlock::MlockScheme;
use crate::ops::pvmw::{PVMW_SYNC, page_vma_mapped_walk};
use crate::ops::rmap_walk::{AnonLock, HeldRmapLock, RmapWalkControl, rmap_walk, rmap_walk_locked};
use crate::ops::{hugetlb, notifier, page_alloc, pgtable, rmap};
use crate::protocol::Notifier;
use crate::sync::{Ordering, PageLockGuard};

/// `TTU_SPLIT_HUGE_PMD` (no PMD mappings are modelled: accepted and ignored).
pub const TTU_SPLIT_HUGE_PMD: u32 = 0x4;
/// `TTU_IGNORE_MLOCK`: unmap even from VM_LOCKED VMAs.
pub const TTU_IGNORE_MLOCK: u32 = 0x8;
/// `TTU_SYNC`: the PVMW takes the PTL even for empty-looking PTEs (732ed55823fc).
pub const TTU_SYNC: u32 = 0x10;
/// `TTU_RMAP_LOCKED`: the caller holds the rmap lock (`rmap_walk_locked`).
pub const TTU_RMAP_LOCKED: u32 = 0x80;

/// What a `_one` installs in place of the PTE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replace {
    /// try_to_unmap of a file page: nothing (the locked page cannot be re-faulted meanwhile).
    Nothing,
    /// try_to_migrate: a migration entry.
    MigrationEntry,
}

fn unmap_one(w: &World, pfn: Pfn, vma_id: VmaId, va: u64, flags: u32, replace: Replace) -> bool {
    let vma = w.vmas.get(vma_id);
    let mm_id = vma.info.get().mm;
    let pvmw_flags = if flags & TTU_SYNC != 0 { PVMW_SYNC } else { 0 };
    let (start, end) = hugetlb::adjust_range_if_pmd_sharing_possible(w, vma_id, va);
    let bracket = (w.kernel.protocol.notifier == Notifier::StartEnd)
        .then(|| notifier::invalidate_range_start(w, mm_id, start, end));
    let mut ret = true;
    let mut invalidated_page_after_ptl = false;
    if let Some(item) = page_vma_mapped_walk(w, pfn, vma_id, va, pvmw_flags) {
        debug_assert!(item.pte.is_present(), "PVMW returns present PTEs");
        if replace == Replace::Nothing && flags & TTU_IGNORE_MLOCK == 0 && vma.has(vm::LOCKED) {
            // "Restore the mlock which got missed": reclaim leaves VM_LOCKED mappings alone.
            match w.kernel.mlock.scheme {
                // v5.15 try_to_unmap_one: `mlock_vma_page(page)` (order 0), under the page
                // lock the caller holds; PG_mlocked is a flag, setting it twice is harmless.
                MlockScheme::PageMlock => (w.kernel.mlock.mlock_vma_page)(w, pfn),
                // 5.18+: `mlock_vma_folio(folio, vma, false)`, which declines a VMA whose
                // VM_SPECIAL bits are set — in particular the VM_IO that mlock()'s own
                // page-table walk sets while it counts the VMA's folios.
                MlockScheme::MlockCount => (w.kernel.mlock.mlock_vma_folio)(w, pfn, vma_id),
            }
            w.trace("try_to_unmap_one: VM_LOCKED, keep", vma_id, pfn);
            drop(item);
            ret = false;
        } else if let unshare @ (hugetlb::Unshare::Unshared | hugetlb::Unshare::VmaLockBusy) =
            hugetlb::try_unshare(w, &item, vma_id, va)
        {
            drop(item);
            if unshare == hugetlb::Unshare::VmaLockBusy {
                // hugetlb_vma_trylock_write failed: `goto walk_abort`.
                ret = false;
            } else {
                // huge_pmd_unshare: this mm no longer sees the shared table; the mapcount
                // (which counts table entries, not mms) is unchanged, so the walk goes on.
                // With 4.4's notifiers the `goto out_unmap` still ends in a single-page
                // `invalidate_page` (the 4.4 backport of 017b1660df89): the rest of the
                // table's range is never invalidated.
                invalidated_page_after_ptl =
                    w.kernel.protocol.notifier == Notifier::InvalidatePageAfterPtl;
            }
        } else {
            // "Nuke the page table entry": `pteval = ptep_clear_flush(vma, address, pvmw.pte)`
            // — clear and flush before the PTL is released, and keep the value the clear
            // returned: the hardware may have set its dirty bit since the walk looked.
            let pteval = pgtable::ptep_clear_flush(w, &item.ptl, mm_id, va, item.entry());
            w.trace(
                match replace {
                    Replace::Nothing => "try_to_unmap_one: ptep_clear_flush",
                    Replace::MigrationEntry => "try_to_migrate_one: ptep_clear_flush",
                },
                format_args!("{mm_id} va {:#x}", va << 12),
                pteval,
            );
            let Pte::Present { write, dirty, .. } = pteval else {
                unreachable!("only the PTL holder clears a present PTE: {pteval}")
            };
            // "Move the dirty bit to the physical page now the pte is gone": pte_dirty(pteval).
            if dirty {
                rmap::set_page_dirty(w, pfn);
            }
            if replace == Replace::MigrationEntry {
                // `pte_write(pteval)`: a writable or a readable migration entry.
                let entry = Pte::Migration { pfn, write };
                item.entry().store(entry.encode(), Ordering::SeqCst);
                w.trace(
                    "try_to_migrate_one: set migration entry",
                    format_args!("va {:#x}", va << 12),
                    entry,
                );
            } else {
                w.mms
                    .get(mm_id)
                    .rss
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
            rmap::page_remove_rmap(w, pfn, vma_id);
            drop(item);
            page_alloc::put_page(w, pfn);
            invalidated_page_after_ptl =
                w.kernel.protocol.notifier == Notifier::InvalidatePageAfterPtl;
        }
    }
    if invalidated_page_after_ptl {
        // 4.4-era `mmu_notifier_invalidate_page`, after the PTL was dropped (aac2fea94f7a).
        crate::race_window!("try_to_unmap_one: PTL dropped, secondary not yet invalidated");
        notifier::invalidate_page(w, mm_id, va);
    }
    if let Some(b) = bracket {
        notifier::invalidate_range_end(w, b);
    }
    ret
}

/// `try_to_unmap_one`.
pub fn try_to_unmap_one(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: u32) -> bool {
    unmap_one(w, pfn, vma, va, flags, Replace::Nothing)
}

/// `try_to_migrate_one`.
pub fn try_to_migrate_one(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: u32) -> bool {
    unmap_one(w, pfn, vma, va, flags, Replace::MigrationEntry)
}

fn walk(
    w: &World,
    pfn: Pfn,
    page: &PageLockGuard<'_>,
    flags: u32,
    held: Option<&HeldRmapLock<'_, '_>>,
    replace: Replace,
) -> bool {
    let p = w.page(pfn);
    // Simplification: anonymous try_to_unmap needs swap (swap entries, `swap_duplicate`),
    // which is not modelled: it is reported as a BUG instead of being run.
    if replace == Replace::Nothing && matches!(p.mapping(), Mapping::Anon(_)) {
        check::violation(
            Oracle::Bug,
            format!("try_to_unmap of anonymous {pfn}: swap is not modelled"),
        );
        return false;
    }
    let mut one = |vma: VmaId, va: u64| unmap_one(w, pfn, vma, va, flags, replace);
    let done = || !p.mapped();
    let mut rwc = RmapWalkControl {
        rmap_one: &mut one,
        done: Some(&done),
        invalid_vma: None,
        anon_lock: AnonLock::LockAnonVmaRead,
    };
    match held {
        Some(h) => rmap_walk_locked(w, pfn, h, &mut rwc),
        None => rmap_walk(w, pfn, page, &mut rwc),
    }
    !p.mapped()
}

/// `try_to_unmap`: returns whether the page is no longer mapped (`!folio_mapped`).
pub fn try_to_unmap(w: &World, pfn: Pfn, page: &PageLockGuard<'_>, flags: u32) -> bool {
    walk(w, pfn, page, flags, None, Replace::Nothing)
}

/// `try_to_migrate`: every mapping becomes a migration entry; returns `!folio_mapped`.
pub fn try_to_migrate(w: &World, pfn: Pfn, page: &PageLockGuard<'_>, flags: u32) -> bool {
    walk(w, pfn, page, flags, None, Replace::MigrationEntry)
}

/// `try_to_migrate(…, TTU_RMAP_LOCKED)`: the caller holds the rmap lock.
pub fn try_to_migrate_locked(
    w: &World,
    pfn: Pfn,
    page: &PageLockGuard<'_>,
    flags: u32,
    held: &HeldRmapLock<'_, '_>,
) -> bool {
    walk(
        w,
        pfn,
        page,
        flags | TTU_RMAP_LOCKED,
        Some(held),
        Replace::MigrationEntry,
    )
}
