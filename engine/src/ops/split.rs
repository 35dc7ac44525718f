//! The split-unmap step of `split_huge_page`: `unmap_folio` (5.13+: `unmap_page`) —
//! `try_to_migrate` (anon) or `try_to_unmap` (file) with `TTU_SYNC` under the folio lock,
//! then the "still mapped" assertion (`VM_BUG_ON_PAGE(!unmap_success)` before 504e070dc08f
//! made it a VM_WARN), then `remap_page` on failure.
//!
//! Simplification: the step acts on one page (order 0). The race it is about — PVMW skipping
//! an empty-looking PTE without the PTL while a zapper sits between PTE clear and rmap removal
//! — is the same for every subpage of a PTE-mapped THP; modelling the compound page would add
//! state to explore but no interleaving.

use crate::check::{self, Oracle};
use crate::mm::{Pfn, World};
use crate::ops::migrate::remove_migration_ptes;
use crate::ops::ttu::{
    TTU_IGNORE_MLOCK, TTU_SPLIT_HUGE_PMD, TTU_SYNC, try_to_migrate, try_to_unmap,
};
use crate::sync::PageLockGuard;

/// `unmap_folio`: returns whether the page ended up unmapped. Reports I2 if it did not
/// although `TTU_SYNC` was passed.
pub fn unmap_folio(w: &World, pfn: Pfn, page: &PageLockGuard<'_>) -> bool {
    let sync = if w.kernel.protocol.ttu_sync {
        TTU_SYNC
    } else {
        0
    };
    let anon = w.page(pfn).is_anon();
    let unmapped = if anon {
        try_to_migrate(w, pfn, page, TTU_SPLIT_HUGE_PMD | sync)
    } else {
        try_to_unmap(w, pfn, page, TTU_SPLIT_HUGE_PMD | TTU_IGNORE_MLOCK | sync)
    };
    w.trace(
        "unmap_folio",
        pfn,
        if unmapped { "unmapped" } else { "STILL MAPPED" },
    );
    if !unmapped {
        check::violation(
            Oracle::I2TtuSync,
            format!(
                "VM_BUG_ON_PAGE(!unmap_success): {pfn} still mapped (mapcount {}) after unmap_folio{}",
                w.page(pfn).mapcount.load(crate::sync::Ordering::SeqCst),
                if sync == 0 {
                    " without TTU_SYNC"
                } else {
                    " with TTU_SYNC"
                }
            ),
        );
    }
    unmapped
}

/// The split-unmap step and its undo: `unmap_folio`, then `remap_page` (anon: the migration
/// entries go back to the page) — what a failed or completed split does with the mappings.
///
/// The kernel's anon split holds the anon_vma root rwsem for write across the whole split; the
/// model pins the anon_vma instead (`folio_get_anon_vma`), which keeps it alive for the remap
/// walk without adding a lock the modelled race does not involve.
pub fn split_unmap_and_remap(w: &World, pfn: Pfn, page: &PageLockGuard<'_>) -> bool {
    let anon = w.page(pfn).is_anon();
    let pinned = if anon {
        crate::ops::rmap_walk::page_get_anon_vma(w, pfn)
    } else {
        None
    };
    if anon && pinned.is_none() {
        // Not mapped any more: nothing to split-unmap.
        return true;
    }
    let ok = unmap_folio(w, pfn, page);
    if let Some(av) = pinned {
        remove_migration_ptes(w, pfn, pfn, page, None);
        crate::ops::pgtable::put_anon_vma(w, av);
    }
    ok
}
