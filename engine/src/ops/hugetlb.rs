//! hugetlb, as much as seed 001 and its catalog entries need: a hugetlbfs file whose page
//! tables can be shared between mms (`huge_pmd_share` / `huge_pmd_unshare`), its lock classes
//! (`hugetlbfs_i_mmap_rwsem_key`, the hugetlb folio lock; KERNEL.md §1.2), its migration
//! (`unmap_and_move_huge_page`) and `hugetlbfs_punch_hole`.
//!
//! Simplification: a "huge page" is an ordinary model page of a hugetlbfs file, and the shared
//! "PMD table" is a PTE table of the model: what matters to the races is that one table entry
//! maps the page for every sharer, so the mapcount counts entries, not mms.

use crate::mm::{FileId, Mm, MmId, MmuGather, PageTable, TableId, VmaId, World, vm};
use crate::ops::pvmw::PvmwItem;
use crate::ops::{tlb, zap};
use crate::sync::{Ordering, SpinLock};

/// `huge_pte_lockptr` for the model's PMD-sized hugetlb pages: `pmd_lockptr(mm, pte)`, the
/// split PMD lock of the table page that holds the entry (`ptlock_ptr(pmd_ptdesc(pmd))`, one
/// lock for every mm sharing that table) with split PMD locks, `&mm->page_table_lock` without
/// (include/linux/hugetlb.h). The model's hugetlb "PMD table" is one of its PTE tables, so
/// this is [`World::pte_lockptr`] on that table.
///
/// Simplification: one switch, `Protocol::split_ptl`, stands for both `USE_SPLIT_PTE_PTLOCKS`
/// and `USE_SPLIT_PMD_PTLOCKS` (the latter is the former plus
/// `CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK`, which x86-64 and arm64 select).
pub fn huge_pte_lockptr<'a>(w: &'a World, mm: &'a Mm, table: &'a PageTable) -> &'a SpinLock<()> {
    w.pte_lockptr(mm, table)
}

/// Is `CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING` on? Since 188cac58a8bc ("mm/hugetlb: enforce
/// that PMD PT sharing has split PMD PT locks", 6.12) it depends on split PMD locks: "sharing
/// page tables between processes but falling back to per-MM page table locks cannot possibly
/// work" — each sharer would serialise on its own `mm->page_table_lock`. Without it
/// `huge_pmd_share` and `adjust_range_if_pmd_sharing_possible` are empty stubs and
/// `huge_pmd_unshare` never finds a shared table.
///
/// Simplification: earlier kernels built without split PTLs (`NR_CPUS <
/// CONFIG_SPLIT_PTLOCK_CPUS`) did share under per-mm locks; the model follows 6.12+ there.
pub fn pmd_sharing_configured(w: &World) -> bool {
    w.protocol.split_ptl
}

/// `adjust_range_if_pmd_sharing_possible`: the notifier range must cover the whole shared
/// table, because sharing cannot be known until the page tables are locked.
/// Without `CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING` it is the empty stub.
pub fn adjust_range_if_pmd_sharing_possible(w: &World, vma: VmaId, va: u64) -> (u64, u64) {
    let v = w.vmas.get(vma);
    if pmd_sharing_configured(w) && v.has(vm::HUGETLB) && v.has(vm::SHARED) {
        let per = w.cfg.ptes_per_table as u64;
        (va / per * per, (va / per + 1) * per)
    } else {
        (va, va + 1)
    }
}

/// `huge_pmd_share`: at fault time, point this mm's PMD slot at a table another mm already
/// populated for the same file range, instead of allocating one. Needs `i_mmap_rwsem` read
/// (to walk i_mmap) and, to populate the slot, the shared table's `huge_pte_lock`. Returns
/// the table if shared.
pub fn huge_pmd_share(w: &World, mm_id: MmId, vma_id: VmaId, va: u64) -> Option<TableId> {
    let v = w.vmas.get(vma_id);
    let info = v.info.get();
    let file = info.file?;
    // want_pmd_share
    if !pmd_sharing_configured(w) || !v.has(vm::HUGETLB) || !v.has(vm::SHARED) {
        return None;
    }
    let per = w.cfg.ptes_per_table as u64;
    let (lo, hi) = (va / per * per, (va / per + 1) * per);
    // Only a table whose whole span lies inside the VMA, at the same file alignment, can be
    // shared (`vma_shareable`, `page_table_shareable`).
    if lo < info.start || hi > info.end {
        return None;
    }
    let index = info.index_of(lo);
    let imap = w.files.get(file).i_mmap.read();
    for &other in imap.vmas.iter().filter(|&&o| o != vma_id) {
        let oi = w.vmas.get(other).info.get();
        let Some(ova) = oi.address(index) else {
            continue;
        };
        if ova % per != 0 || ova + per > oi.end || oi.mm == mm_id {
            continue;
        }
        let omm = w.mms.get(oi.mm);
        let Some(t) = omm.pmd_table((ova / per) as usize) else {
            continue;
        };
        let mm = w.mms.get(mm_id);
        // `ptl = huge_pte_lock(h, mm, spte)`: the lock of the table being shared.
        let _ptl = huge_pte_lockptr(w, mm, w.tables.get(t)).lock();
        let slot = (lo / per) as usize;
        if mm.pmd_table(slot).is_some() {
            return None;
        }
        w.tables.get(t).share_count.fetch_add(1, Ordering::SeqCst);
        mm.pmd[slot].store(t.pack() + 1, Ordering::SeqCst);
        w.trace(
            "huge_pmd_share",
            mm_id,
            format_args!("slot {slot} -> shared {t}"),
        );
        return Some(t);
    }
    None
}

/// `huge_pmd_unshare` from `try_to_unmap_one`/`try_to_migrate_one` (017b1660df89): if the
/// table under `item` is shared, drop this mm's reference to it and flush this mm's TLB over
/// the whole table; the entry (and the page's mapcount) stay for the other sharers. The caller
/// holds `i_mmap_rwsem` for write (TTU_RMAP_LOCKED). Returns whether it unshared.
pub fn try_unshare(w: &World, item: &PvmwItem<'_>, vma_id: VmaId, va: u64) -> bool {
    let v = w.vmas.get(vma_id);
    if !w.protocol.hugetlb_unshare_in_ttu || !v.has(vm::HUGETLB) || !v.has(vm::SHARED) {
        return false;
    }
    if item.table.share_count.load(Ordering::SeqCst) <= 1 {
        return false;
    }
    let mm_id = v.info.get().mm;
    let per = w.cfg.ptes_per_table as u64;
    let slot = (va / per) as usize;
    w.mms.get(mm_id).pmd[slot].store(0, Ordering::SeqCst);
    item.table.share_count.fetch_sub(1, Ordering::SeqCst);
    tlb::flush_tlb_range(w, mm_id, va / per * per, (va / per + 1) * per);
    w.trace("huge_pmd_unshare", mm_id, format_args!("slot {slot}"));
    true
}

/// `__unmap_hugepage_range` for munmap/exit of a hugetlb VMA: under `i_mmap_rwsem` write (it
/// may unshare); a shared table is unshared, an exclusive one zapped.
pub fn unmap_hugepage_range(w: &World, tlb: &mut MmuGather, vma_id: VmaId, start: u64, end: u64) {
    let info = w.vmas.get(vma_id).info.get();
    let Some(file) = info.file else { return };
    let _imap = w.files.get(file).i_mmap.write();
    let mm = w.mms.get(info.mm);
    let per = w.cfg.ptes_per_table as u64;
    let (mut addr, end) = (start.max(info.start), end.min(info.end));
    while addr < end {
        let slot = (addr / per) as usize;
        if let Some(t) = mm.pmd_table(slot) {
            let table = w.tables.get(t);
            if table.share_count.load(Ordering::SeqCst) > 1 {
                // `ptl = huge_pte_lock(h, mm, ptep)`, then `huge_pmd_unshare` under it.
                let _ptl = huge_pte_lockptr(w, mm, table).lock();
                mm.pmd[slot].store(0, Ordering::SeqCst);
                table.share_count.fetch_sub(1, Ordering::SeqCst);
                tlb::flush_tlb_range(w, info.mm, addr / per * per, (addr / per + 1) * per);
                w.trace(
                    "huge_pmd_unshare (unmap)",
                    info.mm,
                    format_args!("slot {slot}"),
                );
                addr = (addr / per + 1) * per;
                continue;
            }
        }
        addr = zap::zap_pte_range(w, tlb, vma_id, addr, end);
    }
}

/// `hugetlbfs_punch_hole`: `i_mmap_rwsem` write (to unmap), then each folio's lock — the
/// hugetlb order, in which i_mmap_rwsem is above the folio lock.
pub fn hugetlbfs_punch_hole(w: &World, file: FileId, index: u64) {
    let f = w.files.get(file);
    let imap = f.i_mmap.write();
    let cached = f.i_pages.lock().pages[index as usize];
    if let Some(pfn) = cached
        && crate::ops::page_alloc::get_page_unless_zero(w, pfn)
    {
        let page = w.page(pfn);
        let g = page.lock().lock();
        w.trace("hugetlbfs_punch_hole: folio locked", pfn, "");
        // Removing the folio needs it unmapped; the model only takes the locks the race is
        // made of and leaves the page in place.
        drop(g);
        crate::ops::page_alloc::put_page(w, pfn);
    }
    drop(imap);
}
