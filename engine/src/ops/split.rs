//! The split-unmap step of `split_huge_page`: `unmap_folio` (`unmap_page` before the folio
//! conversion) — `try_to_migrate` (anon) or `try_to_unmap` (file) with `TTU_SYNC` under the
//! folio lock,
//! then the "still mapped" assertion (`VM_BUG_ON_PAGE(!unmap_success)` before 504e070dc08f
//! made it a VM_WARN), then `remap_page` on failure.
//!
//! Simplification: [`split_unmap_and_remap`] acts on one page (order 0): the race of the
//! `ttu-sync` scenario's PTE form — PVMW skipping an empty-looking PTE without the PTL while a
//! zapper sits between PTE clear and rmap removal — is the same for every subpage of a
//! PTE-mapped THP. The split of a real compound page, PMD-mapped, is
//! [`crate::ops::split_huge_page`].

use crate::check::{self, Oracle};
use crate::mm::World;
use crate::ops::migrate::remove_migration_ptes;
use crate::ops::pagemap::LockedPage;
use crate::ops::rmap_walk::HeldRmapLock;
use crate::ops::ttu::{
    TTU_IGNORE_MLOCK, TTU_RMAP_LOCKED, TTU_SPLIT_HUGE_PMD, TTU_SYNC, TtuFlags, try_to_migrate,
    try_to_migrate_locked, try_to_unmap,
};

/// The body `unmap_folio` and its 5.12 form `unmap_page` share: anon pages get migration
/// entries (`try_to_migrate`; 5.12: `try_to_unmap` with `TTU_SPLIT_FREEZE`), file pages are
/// unmapped with `TTU_IGNORE_MLOCK` added; then the "still mapped" assertion
/// (`VM_BUG_ON_PAGE(!unmap_success)`, a VM_WARN since 504e070dc08f) as the I2 oracle. Returns
/// whether the page ended up unmapped (`!folio_mapped`).
///
/// `held` is the rmap lock the caller holds across the split, passed on with
/// `TTU_RMAP_LOCKED` as the kernel's callers do: the anon_vma root rwsem for write, which
/// [`crate::ops::split_huge_page::split_huge_page`] takes. Simplification: the order-0 split
/// step of the `ttu-sync` scenario ([`split_unmap_and_remap`]) pins the anon_vma instead and
/// passes `None`, so its walk takes the rmap lock itself.
pub fn unmap_folio_flags(
    w: &World,
    page: &LockedPage<'_>,
    held: Option<&HeldRmapLock<'_, '_>>,
    ttu_flags: TtuFlags,
) -> bool {
    let pfn = page.pfn();
    let anon = w.page(pfn).is_anon();
    let unmapped = match (anon, held) {
        (true, Some(h)) => try_to_migrate_locked(w, page, ttu_flags | TTU_RMAP_LOCKED, h),
        (true, None) => try_to_migrate(w, page, ttu_flags),
        (false, _) => try_to_unmap(w, page, ttu_flags | TTU_IGNORE_MLOCK),
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
                w.page_mapcount(pfn),
                if ttu_flags.contains(TTU_SYNC) {
                    " with TTU_SYNC"
                } else {
                    " without TTU_SYNC"
                }
            ),
        );
    }
    unmapped
}

/// `unmap_folio` (mm/huge_memory.c; `unmap_page` until the folio conversion): `TTU_SYNC`
/// since 732ed55823fc ("mm/thp: try_to_unmap() use TTU_SYNC for safe splitting", 5.13), so
/// that PVMW takes the PTL even for an empty-looking PTE — and the PMD lock for an empty PMD —
/// and waits for a zapper between its clear and its rmap removal.
pub fn unmap_folio(w: &World, page: &LockedPage<'_>, held: Option<&HeldRmapLock<'_, '_>>) -> bool {
    unmap_folio_flags(w, page, held, TTU_SPLIT_HUGE_PMD | TTU_SYNC)
}

/// `unmap_page` of 5.12, before 732ed55823fc: no `TTU_SYNC`, so the walk may skip an
/// empty-looking PTE (or PMD) without its lock while the page is still counted as mapped.
pub fn unmap_page_v5_12(
    w: &World,
    page: &LockedPage<'_>,
    held: Option<&HeldRmapLock<'_, '_>>,
) -> bool {
    unmap_folio_flags(w, page, held, TTU_SPLIT_HUGE_PMD)
}

/// The split-unmap step and its undo: `unmap_folio` (through the table), then `remap_page`
/// (anon: the migration entries go back to the page) — what a failed or completed split does
/// with the mappings.
///
/// The kernel's anon split holds the anon_vma root rwsem for write across the whole split; the
/// model pins the anon_vma instead (`folio_get_anon_vma`), which keeps it alive for the remap
/// walk without adding a lock the modelled race does not involve.
pub fn split_unmap_and_remap(w: &World, page: &LockedPage<'_>) -> bool {
    let pfn = page.pfn();
    let anon = w.page(pfn).is_anon();
    let pinned = if anon {
        (w.kernel.rmap.page_get_anon_vma)(w, pfn)
    } else {
        None
    };
    if anon && pinned.is_none() {
        // Not mapped any more: nothing to split-unmap.
        return true;
    }
    let ok = (w.kernel.rmap.unmap_folio)(w, page, None);
    if let Some(av) = pinned {
        remove_migration_ptes(w, pfn, page, None);
        crate::ops::pgtable::put_anon_vma(w, av);
    }
    ok
}
