//! `/proc/PID/clear_refs` with `4` (`CLEAR_REFS_SOFT_DIRTY`), fs/proc/task_mmu.c of v4.4–v4.10:
//! `clear_refs_write` walks every VMA of the mm under `mmap_lock` read and write-protects
//! every mapping, so that the next write faults and sets the soft-dirty bit again
//! (Documentation/vm/soft-dirty.txt).
//!
//! ```text
//! clear_refs_write(CLEAR_REFS_SOFT_DIRTY)
//!   down_read(&mm->mmap_sem)
//!   mmu_notifier_invalidate_range_start(mm, 0, -1)
//!   walk_page_range(0, ~0UL): walk_pmd_range, a pmd_none PMD skipped
//!     clear_refs_pte_range(pmd)
//!       ptl = pmd_trans_huge_lock(pmd, vma)
//!       if (ptl) clear_soft_dirty_pmd(); spin_unlock(ptl)      a huge PMD
//!       else pte_offset_map_lock; clear_soft_dirty() per PTE   a PTE table
//!   mmu_notifier_invalidate_range_end(mm, 0, -1)
//!   flush_tlb_mm(mm)
//!   up_read(&mm->mmap_sem)
//! ```
//!
//! `clear_soft_dirty_pmd` of that era (326c2597a, Laurent Dufour, 2015, to 5b7abeae3af8 "thp:
//! fix MADV_DONTNEED vs clear soft dirty race", v4.11) rewrote the huge PMD by clearing it:
//! `pmdp_huge_get_and_clear`, `pmd_wrprotect`, `pmd_clear_soft_dirty`, `set_pmd_at` — under the
//! PMD lock, but `pmd_none` in between to whoever reads it without that lock: MADV_DONTNEED's
//! `zap_pmd_range` (5b7abeae3af8) and the freeze's `split_huge_pmd_address` of v4.5–v4.6
//! (33f4751e9960, scenario `freeze-page-pmd-check`).
//!
//! Simplifications (docs/MODEL.md §6, §22): the model has no soft-dirty bit (on PTEs, PMDs or
//! swap entries) and no `VM_SOFTDIRTY`, so the walk stays under `mmap_lock` read (the
//! kernel's first clear of a `VM_SOFTDIRTY` VMA upgrades to write for the VMA flags) and
//! what it does to a mapping is the write-protection; a present PTE is write-protected in one
//! atomic update (`ptep_modify_prot_start` / `ptep_modify_prot_commit`, as
//! `change_pte_range`), swap and migration entries are left alone; `flush_tlb_mm` is a range
//! flush of each VMA. Only this era's `clear_soft_dirty_pmd` is modelled (not the
//! `pmdp_invalidate` form of 5b7abeae3af8 on).

use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::{MmId, VmaId, World};
use crate::ops::pgtable_generic::pte_offset_map_lock;
use crate::ops::pmd_lock::{LockedPmd, pmd_trans_huge_lock};
use crate::race_window;

/// `clear_soft_dirty_pmd(vma, addr, pmdp)` (v4.4–v4.10), the PMD lock held: clear the huge
/// PMD (`pmdp_huge_get_and_clear`), write-protect the entry (`pmd_wrprotect`;
/// `pmd_clear_soft_dirty` has no bit to clear here) and set it back (`set_pmd_at`). Between
/// the two the PMD is `pmd_none`. A PMD migration entry (4.14+, whose form only clears its
/// swap soft-dirty bit) is left as it is.
pub fn clear_soft_dirty_pmd(w: &World, pmd: &LockedPmd<'_>) {
    if !matches!(pmd.get(), Pmd::Huge { .. }) {
        return;
    }
    let old = pmd.pmdp_huge_get_and_clear();
    race_window!("clear_soft_dirty_pmd: pmd cleared, not yet set");
    if let Pmd::Huge {
        pfn,
        dirty,
        young,
        protnone,
        ..
    } = old
    {
        pmd.set_pmd_at(Pmd::Huge {
            pfn,
            write: false,
            dirty,
            young,
            protnone,
        });
    }
    w.trace("clear_soft_dirty_pmd", pmd, "wrprotect");
}

/// `clear_soft_dirty(vma, addr, pte)` for each PTE of `[addr, end)` under the table's PTL: a
/// present PTE loses its write bit; a swap or migration entry keeps what it is.
fn clear_soft_dirty_ptes(w: &World, mm: MmId, addr: u64, end: u64) {
    let Some(mut pte) = pte_offset_map_lock(w, mm, addr) else {
        return;
    };
    for va in addr..end {
        pte.move_to(va);
        if let Pte::Present { write: true, .. } = pte.get() {
            w.trace(
                "clear_soft_dirty: ptep_modify_prot_start",
                &pte,
                "wrprotect",
            );
            pte.ptep_set_wrprotect();
        }
    }
}

/// `clear_refs_pte_range(pmd, addr, end, walk)` with `CLEAR_REFS_SOFT_DIRTY`: a huge PMD under
/// `pmd_trans_huge_lock` (its lock kept only if still huge) through
/// [`clear_soft_dirty_pmd`]; else, unless `pmd_trans_unstable` (none or huge: nothing to walk),
/// the PTEs under their PTL.
pub fn clear_refs_pte_range(w: &World, vma: VmaId, addr: u64, end: u64) {
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(addr);
    if let Some(pmd) = pmd_trans_huge_lock(w, mm, slot) {
        clear_soft_dirty_pmd(w, &pmd);
        return;
    }
    clear_soft_dirty_ptes(w, mm, addr, end);
}

/// `clear_refs_write` with `CLEAR_REFS_SOFT_DIRTY` ("echo 4 > /proc/PID/clear_refs") on `mm`
/// (module docs for the steps). Returns the PMDs walked.
pub fn clear_refs_write_soft_dirty(w: &World, mm_id: MmId) -> usize {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
    let per = w.cfg.ptes_per_table as u64;
    let all = (w.cfg.pmds_per_mm as u64) * per;
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, 0, all);
    let mut walked = 0;
    for &v in &map.vmas {
        let info = w.vmas.get(v).info.get();
        let mut addr = info.start;
        while addr < info.end {
            let next = info.end.min((addr / per + 1) * per);
            let (slot, _) = w.pte_slot(addr);
            // walk_pmd_range: `if (pmd_none(*pmd)) continue;` without the lock.
            if !mm.pmdp_get_lockless(slot).is_none() {
                clear_refs_pte_range(w, v, addr, next);
                walked += 1;
            }
            addr = next;
        }
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    for &v in &map.vmas {
        let info = w.vmas.get(v).info.get();
        (w.kernel.tlb.flush_tlb_range)(w, mm_id, info.start, info.end); // flush_tlb_mm
    }
    drop(map);
    w.trace(
        "clear_refs_write",
        mm_id,
        format_args!("CLEAR_REFS_SOFT_DIRTY: {walked} pmds"),
    );
    walked
}
