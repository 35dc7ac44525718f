//! hugetlb, as much as 017b1660df89 and its catalog entries need: a hugetlbfs file whose page
//! tables can be shared between mms (`huge_pmd_share` / `huge_pmd_unshare`), its lock classes
//! (`hugetlbfs_i_mmap_rwsem_key`, the hugetlb folio lock; docs/MODEL.md §1), its migration
//! (`unmap_and_move_huge_page`) and `hugetlbfs_punch_hole`.
//!
//! Simplification: a "huge page" is an ordinary model page of a hugetlbfs file, and the shared
//! "PMD table" is a PTE table of the model: what matters to the races is that one table entry
//! maps the page for every sharer, so the mapcount counts entries, not mms.

use crate::mm::{FileId, MmId, MmuGather, TableId, VmaId, World, vm};
use crate::ops::pvmw::PvmwItem;
use crate::ops::{tlb, zap};
use crate::sync::Ordering;

/// `adjust_range_if_pmd_sharing_possible`: the notifier range must cover the whole shared
/// table, because sharing cannot be known until the page tables are locked.
pub fn adjust_range_if_pmd_sharing_possible(w: &World, vma: VmaId, va: u64) -> (u64, u64) {
    let v = w.vmas.get(vma);
    if v.has(vm::HUGETLB) && v.has(vm::SHARED) {
        let per = w.cfg.ptes_per_table as u64;
        (va / per * per, (va / per + 1) * per)
    } else {
        (va, va + 1)
    }
}

/// `huge_pmd_share`: at fault time, point this mm's PMD slot at a table another mm already
/// populated for the same file range, instead of allocating one. Needs `i_mmap_rwsem` read
/// (to walk i_mmap) and `page_table_lock`. Returns the table if shared.
pub fn huge_pmd_share(w: &World, mm_id: MmId, vma_id: VmaId, va: u64) -> Option<TableId> {
    let v = w.vmas.get(vma_id);
    let info = v.info.get();
    let file = info.file?;
    if !v.has(vm::HUGETLB) || !v.has(vm::SHARED) {
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
        let _ptl = mm.page_table_lock.lock();
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
                let _ptl = table.ptl.lock();
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
