//! `page_vma_mapped_walk` for one small page: find the PTE mapping a page in one VMA and return
//! it **with its PTL held** (`true ⇒ ptl held; false ⇒ unlocked`, mm/page_vma_mapped.c).
//!
//! Without `PVMW_SYNC` an empty-looking PTE is skipped after an unlocked atomic read, exactly as
//! the kernel does — the fast path that `TTU_SYNC` exists to close (732ed55823fc):
//!
//! ```text
//! zap_pte_range()                       unmap_folio() without TTU_SYNC
//!   SPIN(ptl)
//!   ptep_get_and_clear_full()
//!                                         PVMW: unlocked read sees none -> skip
//!                                         walk ends; folio_mapped() is still TRUE -> BUG
//!   page_remove_rmap()
//!   UNSPIN(ptl)
//! ```

use crate::mm::pte::Pte;
use crate::mm::{Pfn, VmaId, World};
use crate::ops::pgtable_generic::{LockedPte, pte_offset_map_lock, pte_offset_map_nolock};
use crate::race_window;

bitflags::bitflags! {
    /// `pvmw->flags` (include/linux/rmap.h).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PvmwFlags: u32 {
        /// `PVMW_SYNC`: always take the PTL before deciding.
        const SYNC = 1 << 0;
        /// `PVMW_MIGRATION`: look for migration entries of the page, not present PTEs.
        const MIGRATION = 1 << 1;
    }
}

/// `PVMW_SYNC`, spelt as the kernel spells it at a call site.
pub const PVMW_SYNC: PvmwFlags = PvmwFlags::SYNC;
/// `PVMW_MIGRATION`, spelt as the kernel spells it at a call site.
pub const PVMW_MIGRATION: PvmwFlags = PvmwFlags::MIGRATION;

/// A found mapping (`pvmw.pte` with `pvmw.ptl` held). Dropping the item releases the PTL.
#[derive(Debug)]
pub struct PvmwItem<'w> {
    /// The PTE, its PTL held: clear or change it through its methods.
    pub pte: LockedPte<'w>,
    /// The PTE's value when the walk checked it under the PTL. The hardware walker may set
    /// its dirty and accessed bits since: a caller that clears the PTE uses the value the
    /// clear returns, not this one.
    pub value: Pte,
}

/// `check_pte`: does `pte` map `pfn` the way `flags` asks (a present PTE, or with
/// `PVMW_MIGRATION` a migration entry)?
pub fn check_pte(pte: Pte, pfn: Pfn, flags: PvmwFlags) -> bool {
    match pte {
        Pte::Present { pfn: p, .. } if !flags.contains(PVMW_MIGRATION) => p == pfn,
        Pte::Migration { pfn: p, .. } if flags.contains(PVMW_MIGRATION) => p == pfn,
        _ => false,
    }
}

/// `page_vma_mapped_walk` of `pfn` at `va` in `vma` (6.5+: `map_pte` over
/// `pte_offset_map_nolock` / `pte_offset_map_lock`, 0d940a9b270b's series).
///
/// With `PVMW_SYNC` the stricter lookup: `pte_offset_map_lock`, which re-checks the PMD under
/// the PTL. Without it, `pte_offset_map_nolock` (the RCU section keeps the table's memory a
/// PTE table), the unlocked pre-check, then `spin_lock(ptl)` with no PMD re-check: a table
/// retracted meanwhile is empty (its retractor cleared or found every PTE none), so
/// `check_pte` fails on it and the walk moves on, holding nothing freed. A PMD found none is
/// the walk's `restart` finding nothing mapped.
pub fn page_vma_mapped_walk<'w>(
    w: &'w World,
    pfn: Pfn,
    vma: VmaId,
    va: u64,
    flags: PvmwFlags,
) -> Option<PvmwItem<'w>> {
    let mm_id = w.vmas.get(vma).info.get().mm;
    let (_, index) = w.pte_slot(va);
    let pte = if flags.contains(PVMW_SYNC) {
        // Use the stricter lookup.
        pte_offset_map_lock(w, mm_id, va)?
    } else {
        let map = pte_offset_map_nolock(w, mm_id, va)?;
        // The unlocked fast path: a racy read, no PTL.
        let v = map.table.ptep_get_lockless(index);
        race_window!("page_vma_mapped_walk: unlocked pre-check");
        if precheck_skips(v, flags) {
            w.trace(
                "page_vma_mapped_walk: skip (unlocked)",
                format_args!("va {:#x}", va << 12),
                v,
            );
            return None;
        }
        let ptl = w.pte_lockptr(w.mms.get(mm_id), map.table).lock();
        LockedPte::mapped(w, mm_id, va, map.tid, index, ptl, Some(map.rcu))
    };
    this_pte(w, pte, pfn, va, flags)
}

/// The unlocked pre-check's verdict: nothing of the kind the walk looks for is there.
fn precheck_skips(v: Pte, flags: PvmwFlags) -> bool {
    if flags.contains(PVMW_MIGRATION) {
        !matches!(v, Pte::Migration { .. })
    } else {
        !v.is_present()
    }
}

/// `this_pte: if (check_pte(pvmw)) return true;` — under the PTL.
fn this_pte<'w>(
    w: &'w World,
    pte: LockedPte<'w>,
    pfn: Pfn,
    va: u64,
    flags: PvmwFlags,
) -> Option<PvmwItem<'w>> {
    let value = pte.get();
    if check_pte(value, pfn, flags) {
        Some(PvmwItem { pte, value })
    } else {
        w.trace(
            "page_vma_mapped_walk: not mapped (locked)",
            format_args!("va {:#x}", va << 12),
            value,
        );
        None
    }
}

/// `page_vma_mapped_walk` before 6.5: the PMD read once (`pmd_none` ends the walk) and
/// trusted, `pte_offset_map` without RCU, the pre-check unless `PVMW_SYNC`, then the PTL.
/// Safe only while no table can be freed under a walker holding an rmap lock — what
/// 8d3c106e19e8 restored for khugepaged's file retraction.
pub fn page_vma_mapped_walk_v6_4<'w>(
    w: &'w World,
    pfn: Pfn,
    vma: VmaId,
    va: u64,
    flags: PvmwFlags,
) -> Option<PvmwItem<'w>> {
    let mm_id = w.vmas.get(vma).info.get().mm;
    let mm = w.mms.get(mm_id);
    let (slot, index) = w.pte_slot(va);
    // pmd_none: nothing mapped at this level (the table was never populated, or freed).
    let tid = mm.pmd_table(slot)?;
    let table = w.tables.get(tid);
    if !flags.contains(PVMW_SYNC) {
        // The unlocked fast path: a racy read, no PTL.
        let v = table.ptep_get_lockless(index);
        race_window!("page_vma_mapped_walk: unlocked pre-check");
        if precheck_skips(v, flags) {
            w.trace(
                "page_vma_mapped_walk: skip (unlocked)",
                format_args!("va {:#x}", va << 12),
                v,
            );
            return None;
        }
    }
    let ptl = w.pte_lockptr(mm, w.tables.get(tid)).lock();
    let pte = LockedPte::mapped(w, mm_id, va, tid, index, ptl, None);
    this_pte(w, pte, pfn, va, flags)
}
