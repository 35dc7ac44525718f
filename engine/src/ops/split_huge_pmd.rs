//! The PMD split that freezes: `__split_huge_pmd_locked(vma, pmd, haddr, freeze = true)` — a
//! huge PMD becomes a PTE table of migration entries in one step under the PMD lock — and
//! `split_huge_pmd_address`, the form `try_to_migrate_one` called before its walk until
//! 60fbb14396d5.
//!
//! Who calls them (mm/rmap.c, mm/huge_memory.c):
//!
//! * `try_to_migrate_one` with `TTU_SPLIT_HUGE_PMD` (the anon THP split's `unmap_folio`):
//!   since 60fbb14396d5 ("mm/huge_memory: adjust try_to_migrate_one() and
//!   split_huge_pmd_locked()", Gavin Guo, 2025) it splits inside its
//!   `page_vma_mapped_walk` loop, under the PMD lock the walk returned
//!   (`split_huge_pmd_locked(vma, pvmw.address, pvmw.pmd, true)`, then
//!   `page_vma_mapped_walk_restart`); before it (a98a2f0c8ce1, 5.14, to 60fbb14396d5) it
//!   called `split_huge_pmd_address(vma, address, true, folio)` before the walk — as
//!   `try_to_unmap_one` with `TTU_SPLIT_FREEZE` did since fec89c109f3a (4.5).
//! * The non-freezing split (`__split_huge_pmd`, zap of part of a PMD, mprotect, the wp
//!   fault) is the PMD level's own ([`crate::ops::huge_memory::__split_huge_pmd_locked`]).
//!
//! Locks: the PMD lock (held by the caller of [`split_huge_pmd_locked`], taken by
//! [`split_huge_pmd_address`] inside an mmu-notifier bracket); the new PTE table is filled
//! before `pmd_populate` makes it reachable, so no PTE lock is taken (as in the kernel).

use crate::mm::page::pg;
use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::{Pfn, VmaId, World};
use crate::ops::huge_memory;
use crate::ops::pmd_lock::{LockedPmd, pmd_lock};
use crate::ops::{page_alloc, rmap};
use crate::race_window;
use crate::sync::Ordering;

/// `split_huge_pmd_locked(vma, address, pmd, freeze)` (mm/huge_memory.c, 6.x), the PMD lock
/// held by the caller: split the huge PMD `pmd` of `vma`. Without `freeze` it is the PMD
/// level's split ([`huge_memory::__split_huge_pmd_locked`]: one present PTE, one reference
/// and one `_mapcount` per page). With `freeze`, for an anonymous THP:
///
/// ```text
/// old_pmd = pmdp_invalidate(vma, haddr, pmd);         // never pmd_none meanwhile
/// folio_try_share_anon_rmap_pmd()                     // PG_anon_exclusive cleared
/// pgtable = pgtable_trans_huge_withdraw(mm, pmd);
/// for each page: set_pte_at(..., swp_entry_to_pte(make_*_migration_entry(page + i)));
/// folio_remove_rmap_pmd(folio, page, vma);            // entire mapcount down, no _mapcount up
/// put_page(page);                                     // the PMD's reference
/// smp_wmb(); pmd_populate(mm, pmd, pgtable);
/// ```
///
/// The folio leaves the split unmapped: its mappings are migration entries, which hold no
/// reference and no mapcount (`remap_page` or `remove_migration_ptes` turn them back).
///
/// Simplification: the model's migration entries record no exclusivity
/// (`make_readable_exclusive_migration_entry`), so `PG_anon_exclusive` is cleared and the
/// page comes back shared, as the PTE step of `try_to_migrate_one` does (MODEL.md §6).
pub fn split_huge_pmd_locked(w: &World, vma: VmaId, pmd: &LockedPmd<'_>, freeze: bool) {
    if !freeze {
        huge_memory::__split_huge_pmd_locked(w, vma, pmd);
        return;
    }
    let old = pmd.pmdp_invalidate();
    let (head, write, dirty) = match old {
        Pmd::Huge {
            pfn, write, dirty, ..
        }
        | Pmd::Invalid {
            pfn, write, dirty, ..
        } => (pfn, write, dirty),
        _ => return,
    };
    race_window!("__split_huge_pmd_locked(freeze): pmd invalidated, entries not yet made");
    if dirty {
        rmap::set_page_dirty(w, head);
    }
    w.page(head).test_clear(pg::ANON_EXCLUSIVE);
    let table_id = pmd.withdraw_table_for_split("__split_huge_pmd_locked");
    let table = w.tables.get(table_id);
    let nr = w.cfg.ptes_per_table;
    for (i, e) in table.entries.iter().enumerate().take(nr) {
        let entry = Pte::Migration {
            pfn: w.subpage(head, i),
            write,
        };
        e.store(entry.encode(), Ordering::SeqCst);
    }
    w.trace(
        "__split_huge_pmd_locked(freeze): set_pte_at",
        pmd,
        format_args!("{nr} migration entries of {head}"),
    );
    rmap::page_remove_rmap_pmd(w, pmd, head, vma);
    page_alloc::put_page(w, head);
    pmd.pmd_populate(table_id);
}

/// `split_huge_pmd_address(vma, address, freeze, folio)` → `__split_huge_pmd` (mm/huge_memory.c,
/// 33f4751e9960 to 6.x): inside an mmu-notifier bracket over the PMD's range, take the PMD
/// lock and split the PMD if it still maps `folio` (`if (folio && folio != pmd_folio(*pmd))
/// goto out`).
///
/// The PMD is checked under its lock since 33f4751e9960 ("mm: thp: move pmd check inside ptl
/// for freeze_page()", Naoya Horiguchi, 2016, posted against v4.7-rc4): before it,
/// [`split_huge_pmd_address_v4_6`] looked at the PMD without the lock, and took a PMD another
/// path held cleared under that lock for "nothing to split".
///
/// The PMD lock is what makes the pre-60fbb14396d5 `try_to_migrate_one` safe against
/// `zap_huge_pmd` even without `TTU_SYNC`: the split waits until the zapper has cleared the
/// PMD *and* removed the rmap, both under that lock, before the walk looks.
pub fn split_huge_pmd_address(w: &World, vma: VmaId, va: u64, freeze: bool, folio: Pfn) {
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(va);
    let per = w.cfg.ptes_per_table as u64;
    let haddr = slot as u64 * per;
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm, haddr, haddr + per);
    let pmd = pmd_lock(w, mm, slot);
    let now = pmd.get();
    if now.is_trans_huge() && now.pfn() == Some(folio) {
        split_huge_pmd_locked(w, vma, &pmd, freeze);
    } else {
        w.trace(
            "__split_huge_pmd: nothing to split",
            &pmd,
            format_args!("{now}"),
        );
    }
    drop(pmd);
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
}

/// `split_huge_pmd_address(vma, address, freeze, page)` of v4.5–v4.6 (fec89c109f3a to
/// 33f4751e9960), the form `freeze_page` → `try_to_unmap_one(TTU_SPLIT_HUGE_PMD)` called:
///
/// ```text
/// pmd = pmd_offset(pud, address);
/// if (!pmd_present(*pmd) || (!pmd_trans_huge(*pmd) && !pmd_devmap(*pmd)))
///         return;                                   // no lock held
/// VM_BUG_ON(freeze && !page);
/// if (page && page != pmd_page(*pmd))
///         return;
/// __split_huge_pmd(vma, pmd, address, freeze);      // mmu notifier, pmd_lock,
///                                                   // if (pmd_trans_huge(*pmd)) split
/// ```
///
/// The checks read the PMD without its lock. `clear_soft_dirty_pmd` of the same era
/// ([`crate::ops::task_mmu::clear_soft_dirty_pmd`]) holds the PMD lock while the PMD is
/// `pmd_none` (`pmdp_huge_get_and_clear` then `set_pmd_at`): read then, the PMD is "not
/// present" and the split is skipped while the page is still mapped by it — the freeze leaves
/// it mapped and `freeze_page`'s `VM_BUG_ON(ret)` fires (I2). Under the lock `__split_huge_pmd`
/// re-checked only `pmd_trans_huge`, not the page: the fix moved the page check there too.
/// The fixed form is [`split_huge_pmd_address`].
pub fn split_huge_pmd_address_v4_6(w: &World, vma: VmaId, va: u64, freeze: bool, page: Pfn) {
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(va);
    let pmde = w.mms.get(mm).pmdp_get_lockless(slot);
    w.trace(
        "split_huge_pmd_address: unlocked check",
        format_args!("{mm} pmd {slot}"),
        pmde,
    );
    if !pmde.is_present() || !pmde.is_trans_huge() || pmde.pfn() != Some(page) {
        return;
    }
    race_window!("split_huge_pmd_address: pmd checked without the lock, not yet locked");
    let per = w.cfg.ptes_per_table as u64;
    let haddr = slot as u64 * per;
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm, haddr, haddr + per);
    let pmd = pmd_lock(w, mm, slot);
    let now = pmd.get();
    if now.is_trans_huge() {
        split_huge_pmd_locked(w, vma, &pmd, freeze);
    } else {
        w.trace(
            "__split_huge_pmd: nothing to split",
            &pmd,
            format_args!("{now}"),
        );
    }
    drop(pmd);
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
}

impl huge_memory::HugeMemoryOps {
    /// v4.5–v4.6, before 33f4751e9960: `split_huge_pmd_address` checks the PMD without the
    /// PMD lock ([`split_huge_pmd_address_v4_6`]). Here rather than beside the struct because
    /// this file imports `huge_memory`, not the other way round.
    pub fn v4_6() -> Self {
        huge_memory::HugeMemoryOps {
            split_huge_pmd_address: split_huge_pmd_address_v4_6,
            ..huge_memory::HugeMemoryOps::default()
        }
    }
}
