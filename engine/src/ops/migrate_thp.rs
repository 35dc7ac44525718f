//! Migration of a PMD-mapped THP without splitting it: PMD migration entries
//! (616b8371539a "mm: thp: enable thp migration in generic path", 4.14, and 84c3fc4e9c56 "mm:
//! thp: check pmd migration entry in common path" of the same series), as 6.1–6.6 run them.
//!
//! ```text
//! migrate_pages → unmap_and_move (a THP, a THP newpage: alloc_migration_target's order)
//!   folio_trylock(src)                                  (folio_lock when forced)
//!   anon_vma = folio_get_anon_vma(src)
//!   folio_trylock(dst)
//!   try_to_migrate(src, 0) → try_to_migrate_one per VMA:
//!     page_vma_mapped_walk: a huge PMD, SPIN(pmd_lock)
//!       set_pmd_migration_entry:  pmdp_invalidate; set_page_dirty if dirty;
//!                                 set_pmd_at(migration entry, write if the PMD was);
//!                                 page_remove_rmap(compound); put_page
//!     a PTE of a PTE-mapped THP: the order-0 nuke, per subpage
//!   move_to_new_folio → migrate_folio → folio_migrate_mapping:
//!       anonymous, no mapping: folio_ref_count(src) == expected_count (1: the isolation's)
//!       else -EAGAIN; folio_migrate_copy (every subpage), folio_migrate_flags
//!   remove_migration_ptes(src, dst or src) → remove_migration_pte per VMA:
//!     page_vma_mapped_walk(PVMW_SYNC | PVMW_MIGRATION):
//!       a PMD migration entry, SPIN(pmd_lock) → remove_migration_pmd:
//!                                 get_page(new); mk_huge_pmd, maybe_pmd_mkwrite if writable;
//!                                 page_add_anon_rmap(RMAP_COMPOUND); set_pmd_at
//!       a PTE migration entry (a PMD entry split meanwhile, 84c3fc4e9c56): the subpage's
//!   folio_unlock(dst); put_anon_vma; folio_unlock(src)   wakes pmd_migration_entry_wait
//! ```
//!
//! Locks in order: the folio lock → (the anon_vma lock, read, in the rmap walk) → the PMD lock
//! or a PTE lock, as the order-0 migration (mm/rmap.c's header).
//!
//! Who meets a PMD migration entry, and what they do (each under the PMD lock):
//! `__handle_mm_fault` → [`crate::ops::huge_memory::pmd_migration_entry_wait`]; `zap_huge_pmd` clears it, no rmap and
//! no reference to drop (`huge_memory::zap_huge_pmd`); `__split_huge_pmd` turns it into a PTE
//! table of migration entries ([`crate::ops::huge_memory::__split_huge_pmd_migration_locked`], the
//! "pmd_migration" arm 84c3fc4e9c56 added); `change_huge_pmd` leaves it (NUMA hinting has no
//! write bit to take from the model's entry to change); fork copies it read-only
//! (`copy_huge_pmd`'s `is_swap_pmd` arm, [`crate::ops::huge_memory::copy_huge_pmd`]).
//!
//! Simplifications (docs/MODEL.md §6, §15): the newpage is allocated here
//! (`alloc_migration_target`), not taken from a pool; one attempt per call (the caller
//! retries, as `migrate_pages`' passes do); the migration entries record no exclusivity, dirty
//! or young bit (6.1's 2e3468778dbe keeps them), so the PMD comes back clean, young and
//! `PG_anon_exclusive` cleared, as the model's PTE path does; anonymous THPs only.

use crate::mm::page::pg;
use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{MmId, Pfn, VmaId, World};
use crate::ops::huge_memory::remove_migration_pmd;
use crate::ops::migrate::{__unmap_and_move_common, MigrateResult, folio_copy};
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::pgtable_generic::LockedPte;
use crate::ops::pmd_lock::pmd_lock;
use crate::ops::pvmw::{PVMW_MIGRATION, PVMW_SYNC, PageVmaMappedWalk};
use crate::ops::rmap_walk::{RmapWalkControl, rmap_walk};
use crate::ops::ttu::TtuFlags;
use crate::ops::{page_alloc, rmap, ttu};
use crate::race_window;
use crate::sync::Ordering;

/// `remove_migration_pte` of a THP for one VMA (mm/migrate.c, 6.1–6.6), `rmap_one` of
/// `remove_migration_ptes(src, dst, false)`: walk the old folio's range with `PVMW_SYNC |
/// PVMW_MIGRATION`; a PMD migration entry → [`remove_migration_pmd`]; a PTE migration entry of
/// subpage `i` (a PTE-mapped THP, or a PMD entry `__split_huge_pmd` split meanwhile) → a
/// present PTE of the new folio's subpage `i`, a reference to the new folio and a `_mapcount`.
pub fn remove_migration_pte_folio(w: &World, old: Pfn, new: Pfn, vma: VmaId, va: u64) -> bool {
    let nr = w.cfg.ptes_per_table;
    let mut walk = PageVmaMappedWalk::new(w, old, nr, vma, va, PVMW_SYNC | PVMW_MIGRATION);
    while walk.page_vma_mapped_walk() {
        if let Some(pmd) = walk.pmd() {
            remove_migration_pmd(w, pmd, vma, new);
            continue;
        }
        let pte = walk.pte().expect("the walk returns a PMD or a PTE");
        remove_migration_pte_sub(w, pte, old, new, vma);
    }
    true
}

/// The PTE arm of [`remove_migration_pte_folio`], the PTL held.
fn remove_migration_pte_sub(w: &World, pte: &LockedPte<'_>, old: Pfn, new: Pfn, vma: VmaId) {
    let Pte::Migration { pfn, write } = pte.get() else {
        return;
    };
    let i = (pfn.idx - old.idx) as usize;
    let sub = w.subpage(new, i);
    page_alloc::get_page(w, new);
    rmap::page_add_anon_rmap(w, pte, sub, vma);
    let entry = Pte::Present {
        pfn: sub,
        write: write && w.vmas.get(vma).has(vm::WRITE),
        dirty: false,
        young: true,
    };
    pte.set_pte_at(entry);
    w.trace("remove_migration_pte", pte, entry);
}

/// `remove_migration_ptes(src, dst, false)` of a THP: the rmap walk of `target` (the new folio
/// on success, whose `mapping` and `index` were copied; the old one on failure), restoring each
/// VMA's migration entries of `old` towards it.
pub fn remove_migration_ptes_folio(w: &World, old: Pfn, target: &LockedPage<'_>) {
    let new = target.pfn();
    w.trace("remove_migration_ptes", old, format_args!("-> {new}"));
    let mut one = |vma: VmaId, va: u64| remove_migration_pte_folio(w, old, new, vma, va);
    let mut rwc = RmapWalkControl::new(&mut one);
    rmap_walk(w, target, &mut rwc);
}

/// `move_to_new_folio` → `migrate_folio` of an anonymous THP (mm/migrate.c, 6.1–6.6):
/// `folio_migrate_mapping` with no mapping checks `folio_ref_count(src) == expected_count`
/// (1, the isolation's: every mapping is a migration entry now, and the entries hold no
/// reference) and moves `index` and `mapping` (here per frame, where the model keeps them);
/// `folio_migrate_copy` copies every subpage and `folio_migrate_flags` the head's flags.
///
/// 6.1–6.6 do not freeze an anonymous folio outside the swap cache (`folio_ref_freeze` is in
/// the `mapping` arm): a late `get_page_unless_zero` (GUP-fast) is what `folio_maybe_dma_pinned`
/// and the exclusive bit guard against, neither reachable here.
pub fn move_to_new_folio_thp(w: &World, new: Pfn, old: Pfn) -> MigrateResult {
    let nr = w.cfg.ptes_per_table;
    if w.folio_mapped(old) {
        return MigrateResult::Again;
    }
    let refs = w.page(old).refcount.load(Ordering::SeqCst);
    if refs != 1 {
        w.trace(
            "folio_migrate_mapping: extra refs",
            old,
            format_args!("ref={refs}"),
        );
        return MigrateResult::Again;
    }
    race_window!("folio_migrate_mapping: refcount checked, not yet copied");
    for i in 0..nr {
        let (o, n) = (w.page(w.subpage(old, i)), w.page(w.subpage(new, i)));
        n.index
            .store(o.index.load(Ordering::SeqCst), Ordering::SeqCst);
        n.mapping
            .store(o.mapping.load(Ordering::SeqCst), Ordering::SeqCst);
        n.flags.fetch_or(
            o.flags.load(Ordering::SeqCst) & pg::UPTODATE,
            Ordering::SeqCst,
        );
        folio_copy(w, w.subpage(new, i), w.subpage(old, i));
    }
    (w.kernel.migrate.folio_migrate_flags)(w, new, old);
    w.trace("move_to_new_folio", old, format_args!("-> THP {new}"));
    MigrateResult::Success
}

/// `unmap_and_move` of an isolated anonymous THP headed by `old` (the caller holds the
/// isolation reference, PG_lru cleared): a new THP (`alloc_migration_target`, none: -ENOMEM),
/// then under the old folio's lock and its pinned anon_vma, `try_to_migrate` (PMD migration
/// entries), [`move_to_new_folio_thp`], and `remove_migration_ptes` towards the new THP or
/// back to the old one. On success the new THP goes on the LRU and the isolation reference on
/// the old one is dropped (the old THP is freed with it); on failure the new one is freed and
/// the caller still holds the old one (`putback_movable_pages`).
pub fn unmap_and_move_thp(w: &World, old: Pfn, force: bool) -> MigrateResult {
    let Some(new) = page_alloc::alloc_compound_page(w, w.cfg.ptes_per_table) else {
        return MigrateResult::NoMem;
    };
    let rc = if w.page(old).refcount.load(Ordering::SeqCst) == 1 {
        w.trace("unmap_and_move: freed under us", old, "");
        MigrateResult::Success
    } else {
        __unmap_and_move_common(w, old, force, |page| {
            let Some(newpage) = trylock_page(w, new) else {
                return MigrateResult::Again;
            };
            let was_mapped = w.folio_mapped(old);
            if was_mapped {
                ttu::try_to_migrate(w, page, TtuFlags::empty());
            }
            race_window!("unmap_and_move(THP): migration entries installed, not yet copied");
            let rc = move_to_new_folio_thp(w, new, old);
            if rc == MigrateResult::Success {
                w.page(new).test_set(pg::LRU);
            }
            if was_mapped {
                let target = if rc == MigrateResult::Success {
                    &newpage
                } else {
                    page
                };
                remove_migration_ptes_folio(w, old, target);
            }
            drop(newpage);
            rc
        })
    };
    if rc == MigrateResult::Success {
        page_alloc::put_page(w, old); // the isolation's
    }
    page_alloc::put_page(w, new); // the allocation's: on the LRU and mapped, or freed
    rc
}

/// What [`migrate_thp_at`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThpMigrated {
    /// No huge PMD maps a THP at the address, or it could not be isolated.
    NotFound,
    /// Migrated to a new THP.
    Migrated,
    /// Every pass failed; the THP is back on the LRU.
    Failed,
}

/// `migrate_pages` of the one THP a huge PMD of `mm` maps at `va` (as `move_pages(2)` or NUMA
/// balancing's `migrate_misplaced_page` reach it): under `mmap_lock` read, take a reference
/// under the PMD lock (`follow_page` with `FOLL_GET`), isolate it (`isolate_lru_page`: PG_lru
/// cleared), then up to three passes of [`unmap_and_move_thp`] (the folio lock forced from the
/// third), and `putback_lru_page` if none succeeded.
pub fn migrate_thp_at(w: &World, mm: MmId, va: u64) -> ThpMigrated {
    let m = w.mms.get(mm);
    let map = m.mmap_lock.read();
    let (slot, _) = w.pte_slot(va);
    let head = {
        let pmd = pmd_lock(w, mm, slot);
        match pmd.get() {
            Pmd::Huge { pfn, .. } => {
                page_alloc::get_page(w, pfn);
                Some(pfn)
            }
            _ => None,
        }
    };
    drop(map);
    let Some(head) = head else {
        return ThpMigrated::NotFound;
    };
    if !w.page(head).test_clear(pg::LRU) {
        page_alloc::put_page(w, head);
        return ThpMigrated::NotFound;
    }
    for pass in 0..3 {
        if unmap_and_move_thp(w, head, pass >= 2) == MigrateResult::Success {
            return ThpMigrated::Migrated;
        }
    }
    crate::ops::migrate::putback_lru_page(w, head);
    ThpMigrated::Failed
}
