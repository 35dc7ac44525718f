//! khugepaged's PTE-table retraction for a file THP (mm/khugepaged.c): once the page cache
//! holds a huge page over a PMD-aligned range, the PTE table that maps the range in each VMA
//! is removed, so that the next fault maps the huge page by its PMD. Two functions do it:
//! [`collapse_pte_mapped_thp`] (for one mm and address: the PTEs must all map the huge page's
//! subpages; they are unmapped, then the table removed) and [`retract_page_tables`] (from
//! `collapse_file`, for every VMA of the file: the table must already be empty).
//!
//! Removing a table changes a non-terminal entry (the PMD), which every walker reads without
//! a lock and then trusts unless it re-validates; three eras differ in how the walkers are
//! kept off a table being removed (Jann Horn's message of 8d3c106e19e8 states the rule: page
//! walks start under `mmap_lock`, the anon_vma lock or `i_mmap_rwsem`, "only one of these
//! needs to be held" — so a retractor must hold all of them for write):
//!
//! | era | caller holds | retractor takes | the table is freed |
//! |---|---|---|---|
//! | ≤6.0 ([`collapse_pte_mapped_thp_v6_0`]) | `mmap_lock` write | folio lock, PTL, `pmd_lock` | at once (`pte_free`) |
//! | 6.1–6.4 ([`collapse_pte_mapped_thp_v6_1`], [`retract_page_tables_v6_4`]) | `mmap_lock` write | + `i_mmap_rwsem` write; a VMA with an anon_vma is skipped | at once |
//! | 6.5+ ([`collapse_pte_mapped_thp`], [`retract_page_tables`]) | `mmap_lock` read, or nothing | `pmd_lock` + PTL nested | after a grace period (`pte_free_defer`) |
//!
//! In 6.5+ the walkers re-validate instead (`pte_offset_map_lock`'s `pmd_same` under the PTL,
//! `ops::pgtable_generic`) and map tables under RCU.
//!
//! Simplifications: the model has no compound pages and no huge PMD mapping (see
//! docs/MODEL.md §16): "the huge page" is the run of page-cache pages of the file at the
//! range's indices, its lock is the lock of the first (the head's `folio_lock`), and
//! `folio_page(folio, i) == page` is "the PTE maps the page cache's page at index
//! `pgoff + i`". After retraction the range refaults by PTEs (no `set_huge_pmd`,
//! `install_pmd` is false). `userfaultfd_wp`, `hugepage_vma_check` and the mm-exit checks
//! are not modelled.

use crate::mm::pte::Pte;
use crate::mm::{FileId, Mm, MmId, PageTable, Pfn, VmaId, World};
use crate::ops::fault::find_vma;
use crate::ops::pagemap::{LockedPage, lock_page};
use crate::ops::pgtable_generic::{
    pmdp_collapse_flush, pmdp_get_lockless, pte_free, pte_free_defer, pte_offset_map_lock,
    pte_offset_map_nolock,
};
use crate::ops::{page_alloc, rmap, vma_lock};
use crate::race_window;
use crate::sync::SpinLockGuard;
use crate::sync::lockdep::SINGLE_DEPTH_NESTING;

pub use crate::ops::khugepaged_scan::ScanResult;

/// The huge page of a file range, as the model has it: the page-cache pages at
/// `pgoff..pgoff + ptes_per_table`, all present. `None` if a page is missing.
fn file_thp(w: &World, file: FileId, pgoff: u64) -> Option<Vec<Pfn>> {
    let per = w.cfg.ptes_per_table as u64;
    let cache = w.files.get(file).i_pages.lock();
    (pgoff..pgoff + per)
        .map(|i| cache.pages.get(i as usize).copied().flatten())
        .collect()
}

/// `filemap_lock_folio` of the huge page: a reference and the head's lock.
fn lock_thp(w: &World, head: Pfn) -> Option<LockedPage<'_>> {
    if !page_alloc::get_page_unless_zero(w, head) {
        return None;
    }
    Some(lock_page(w, head))
}

/// `folio_unlock` + `folio_put` (`drop_folio:`).
fn unlock_thp(w: &World, head: LockedPage<'_>) {
    let pfn = head.pfn();
    head.unlock();
    page_alloc::put_page(w, pfn);
}

/// The checks every era makes before it locks the page: `vma_lookup(mm, haddr)`, a file VMA
/// covering the whole PMD range. Returns the VMA, its file and the range's first index.
fn vma_check(w: &World, vmas: &[VmaId], haddr: u64) -> Option<(VmaId, FileId, u64)> {
    let per = w.cfg.ptes_per_table as u64;
    // haddr = addr & HPAGE_PMD_MASK: the callers pass the PMD range's first address.
    if !haddr.is_multiple_of(per) {
        return None;
    }
    let vma = find_vma(w, vmas, haddr)?;
    // VM_NO_KHUGEPAGED (hugetlbfs is not khugepaged's).
    if w.vmas.get(vma).has(crate::mm::vma::vm::HUGETLB) {
        return None;
    }
    let info = w.vmas.get(vma).info.get();
    let file = info.file?;
    // range_in_vma(vma, haddr, haddr + HPAGE_PMD_SIZE)
    if info.start > haddr || info.end < haddr + per {
        return None;
    }
    Some((vma, file, info.index_of(haddr)))
}

/// Does every present PTE of the table at `haddr` map the huge page's subpage (step 1)?
/// `None`: abort (a PTE maps another page, or is not present).
fn ptes_map_thp(
    pte: &mut crate::ops::pgtable_generic::LockedPte<'_>,
    haddr: u64,
    thp: &[Pfn],
) -> Option<usize> {
    let mut count = 0;
    for (i, &sub) in thp.iter().enumerate() {
        pte.move_to(haddr + i as u64);
        match pte.get() {
            Pte::None => continue,
            Pte::Present { pfn, .. } if pfn == sub => count += 1,
            _ => return None,
        }
    }
    Some(count)
}

/// `collapse_pte_mapped_thp(mm, addr, install_pmd = false)` (6.5+, 1d65b771bc08's series:
/// "mm/khugepaged: collapse_pte_mapped_thp() with mmap_read_lock()"), with its caller
/// `khugepaged_scan_mm_slot`'s `mmap_read_lock`:
///
/// ```text
/// mmap_read_lock; vma checks; filemap_lock_folio(head)
/// step 1: pte_offset_map_lock; every present PTE maps folio_page(folio, i), else abort
///         pte_unmap_unlock; mmu_notifier_invalidate_range_start
/// step 2: pte_offset_map_nolock; spin_lock(ptl); the check again, ptep_clear +
///         folio_remove_rmap_pte; pte_unmap; spin_unlock(ptl)
/// step 3: folio_ref_sub(nr_ptes); add_mm_counter(-nr_ptes)
/// step 4: pml = pmd_lock; spin_lock_nested(ptl); pmdp_collapse_flush; unlock both;
///         mmu_notifier_invalidate_range_end; pte_free_defer
/// ```
///
/// Safe against every walker without `mmap_lock` write: a walker that mapped the table
/// either locked the PTL before step 4 (which then waits for it) or re-validates the PMD
/// after (`pte_offset_map_lock`) or finds the table emptied (`page_vma_mapped_walk`'s
/// `check_pte`), and the table's memory outlives its RCU section.
pub fn collapse_pte_mapped_thp(w: &World, mm_id: MmId, haddr: u64) -> ScanResult {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
    // (6.4+ per-VMA locks: the 6.5 retraction relies on the PTL nesting, not vma_start_write.)
    let Some((vma, file, pgoff)) = vma_check(w, &map.vmas, haddr) else {
        return ScanResult::VmaCheck;
    };
    let Some(thp) = file_thp(w, file, pgoff) else {
        return ScanResult::PageNull;
    };
    let Some(folio) = lock_thp(w, thp[0]) else {
        return ScanResult::PageNull;
    };
    let per = w.cfg.ptes_per_table as u64;
    if pmdp_get_lockless(w, mm_id, haddr).is_none() {
        unlock_thp(w, folio);
        return ScanResult::PmdNone;
    }
    // step 1: check all mapped PTEs are to the right huge page.
    let Some(mut pte) = pte_offset_map_lock(w, mm_id, haddr) else {
        unlock_thp(w, folio);
        return ScanResult::PmdNone;
    };
    if ptes_map_thp(&mut pte, haddr, &thp).is_none() {
        drop(pte);
        unlock_thp(w, folio);
        return ScanResult::Fail;
    }
    drop(pte); // pte_unmap_unlock
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, haddr, haddr + per);
    // step 2: clear page table and adjust rmap, under the PTL taken again.
    let Some(map2) = pte_offset_map_nolock(w, mm_id, haddr) else {
        (w.kernel.notifier.invalidate_range_end)(w, bracket);
        unlock_thp(w, folio);
        return ScanResult::Fail;
    };
    let tid = map2.tid;
    let ptl = w.pte_lockptr(mm, map2.table).lock();
    let mut pte = crate::ops::pgtable_generic::LockedPte::mapped(
        w,
        mm_id,
        haddr,
        tid,
        0,
        ptl,
        Some(map2.rcu),
    );
    let mut unmapped = Vec::new();
    for (i, &sub) in thp.iter().enumerate() {
        pte.move_to(haddr + i as u64);
        match pte.get() {
            Pte::None => continue,
            // "Must clear entry, or a racing truncate may re-remove it."
            Pte::Present { pfn, .. } if pfn == sub => {
                pte.ptep_get_and_clear();
                rmap::page_remove_rmap(w, sub, vma);
                unmapped.push(sub);
            }
            // A COW or a swap/migration entry since step 1: abort (the cleared ones stay
            // cleared; their references are dropped below, as `abort:` does after
            // `flush_tlb_mm`).
            _ => {
                drop(pte);
                (w.kernel.tlb.flush_tlb_range)(w, mm_id, haddr, haddr + per);
                drop_refs(w, mm_id, &unmapped);
                (w.kernel.notifier.invalidate_range_end)(w, bracket);
                unlock_thp(w, folio);
                return ScanResult::Fail;
            }
        }
    }
    drop(pte); // pte_unmap; spin_unlock(ptl)
    // step 3: set proper refcount and mm_counters.
    drop_refs(w, mm_id, &unmapped);
    // step 4: remove empty page table.
    race_window!("collapse_pte_mapped_thp: before pmd_lock");
    {
        let (pml, ptl) = pmd_lock_ptl_nested(w, mm, w.tables.get(tid));
        pmdp_collapse_flush(w, mm_id, haddr);
        drop(ptl);
        drop(pml);
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    pte_free_defer(w, tid);
    unlock_thp(w, folio);
    drop(map);
    ScanResult::Succeed
}

/// `pml = pmd_lock(mm, pmd); ptl = pte_lockptr(mm, pmd); if (ptl != pml)
/// spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);` (6.5+ `collapse_pte_mapped_thp` step 4,
/// `retract_page_tables`): the PMD lock, then the table's PTL nested unless it is the same
/// lock (split PTE locks off: both are `mm->page_table_lock`).
fn pmd_lock_ptl_nested<'w>(
    w: &'w World,
    mm: &'w Mm,
    table: &'w PageTable,
) -> (SpinLockGuard<'w, ()>, Option<SpinLockGuard<'w, ()>>) {
    let pml_lock = w.pmd_lockptr(mm);
    let ptl_lock = w.pte_lockptr(mm, table);
    let pml = pml_lock.lock();
    let ptl =
        (!std::ptr::eq(pml_lock, ptl_lock)).then(|| ptl_lock.lock_nested(SINGLE_DEPTH_NESTING));
    (pml, ptl)
}

/// Step 3: `folio_ref_sub(folio, nr_ptes)` and `add_mm_counter(mm, mm_counter_file(folio),
/// -nr_ptes)` — in the model one reference of each unmapped subpage (each mapping held its
/// own; the page cache's keeps the page).
fn drop_refs(w: &World, mm: MmId, unmapped: &[Pfn]) {
    for &pfn in unmapped {
        page_alloc::put_page(w, pfn);
    }
    w.mms
        .get(mm)
        .rss
        .fetch_sub(unmapped.len() as i64, std::sync::atomic::Ordering::Relaxed);
}

/// `collapse_pte_mapped_thp` of 6.1–6.4: 8d3c106e19e8 ("mm/khugepaged: take the right locks
/// for page table retraction", Jann Horn, 6.1) on top of [`collapse_pte_mapped_thp_v6_0`]
/// — a private mapping that was written to (`vma->anon_vma`) is left alone ("Without this,
/// we'd have to also lock the anon_vma"), and `i_mmap_lock_write` is held from before the
/// PTL of step 1 to after the table is freed, so no rmap walker (`i_mmap_rwsem` read) can be
/// inside the table; `collapse_and_free_pmd` then asserts the write locks instead of taking
/// `pmd_lock`.
pub fn collapse_pte_mapped_thp_v6_1(w: &World, mm_id: MmId, haddr: u64) -> ScanResult {
    collapse_pte_mapped_thp_old(w, mm_id, haddr, true)
}

/// `collapse_pte_mapped_thp` before 8d3c106e19e8 (27e1f8273113 "khugepaged: enable collapse
/// pmd for pte-mapped THP", 5.4, to 6.0), with its caller
/// `khugepaged_collapse_pte_mapped_thps`' `mmap_write_trylock` (the model waits):
///
/// ```text
/// mmap_write_lock; vma checks; find_lock_page(head)
/// step 1: pte_offset_map_lock; every present PTE maps hpage + i, else abort
/// step 2: page_remove_rmap of each (the PTEs are left in the table)
///         pte_unmap_unlock
/// step 3: page_ref_sub(hpage, count); add_mm_counter(-count)
/// step 4: collapse_and_free_pmd: pmd_lock; pmdp_collapse_flush; spin_unlock;
///         pte_free                                    <- at once
/// ```
///
/// `mmap_lock` write keeps out faults, GUP and munmap, but not the rmap walkers, which start
/// under `i_mmap_rwsem` (or the anon_vma lock) alone — a truncation's `unmap_mapping_range`
/// zapping the range, `page_vma_mapped_walk` of reclaim or migration — and `pmd_lock` is
/// not the lock they take on the table. A walker that read the PMD before step 4 uses the
/// table after `pte_free`: a use-after-free; and since the freed table still holds the PTEs
/// whose rmap step 2 removed, a zap through it removes them again (mapcount below zero).
pub fn collapse_pte_mapped_thp_v6_0(w: &World, mm_id: MmId, haddr: u64) -> ScanResult {
    collapse_pte_mapped_thp_old(w, mm_id, haddr, false)
}

/// The ≤6.4 `collapse_pte_mapped_thp`, with (`right_locks`, 8d3c106e19e8) or without the
/// rmap write locks.
fn collapse_pte_mapped_thp_old(
    w: &World,
    mm_id: MmId,
    haddr: u64,
    right_locks: bool,
) -> ScanResult {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.write();
    let Some((vma, file, pgoff)) = vma_check(w, &map.vmas, haddr) else {
        return ScanResult::VmaCheck;
    };
    // "Symmetry with retract_page_tables(): Exclude MAP_PRIVATE mappings that got written
    // to." (8d3c106e19e8)
    if right_locks && w.vmas.get(vma).anon_vma().is_some() {
        return ScanResult::VmaCheck;
    }
    let Some(thp) = file_thp(w, file, pgoff) else {
        return ScanResult::PageNull;
    };
    let Some(hpage) = lock_thp(w, thp[0]) else {
        return ScanResult::PageNull;
    };
    // mm_find_pmd
    if pmdp_get_lockless(w, mm_id, haddr).is_none() {
        unlock_thp(w, hpage);
        return ScanResult::PmdNone;
    }
    // "We need to lock the mapping so that from here on, only GUP-fast and hardware page
    // walks can access the parts of the page tables that we're operating on."
    let i_mmap = right_locks.then(|| w.files.get(file).i_mmap.write());
    let Some(mut pte) = pte_offset_map_lock(w, mm_id, haddr) else {
        drop(i_mmap);
        unlock_thp(w, hpage);
        return ScanResult::PmdNone;
    };
    let tid = pmdp_get_lockless(w, mm_id, haddr).expect("mmap_lock write: the table stays");
    // step 1: check all mapped PTEs are to the right huge page.
    if ptes_map_thp(&mut pte, haddr, &thp).is_none() {
        drop(pte); // abort: pte_unmap_unlock
        drop(i_mmap);
        unlock_thp(w, hpage);
        return ScanResult::Fail;
    }
    // step 2: adjust rmap — the PTEs themselves are left as they are.
    let mut unmapped = Vec::new();
    for (i, &sub) in thp.iter().enumerate() {
        pte.move_to(haddr + i as u64);
        if pte.get().is_none() {
            continue;
        }
        rmap::page_remove_rmap(w, sub, vma);
        unmapped.push(sub);
    }
    drop(pte); // pte_unmap_unlock
    // step 3: set proper refcount and mm_counters.
    drop_refs(w, mm_id, &unmapped);
    // step 4: collapse pmd (collapse_and_free_pmd).
    race_window!("collapse_pte_mapped_thp: before collapse_and_free_pmd");
    let pml = (!right_locks).then(|| w.pmd_lockptr(mm).lock()); // pmd_lock
    pmdp_collapse_flush(w, mm_id, haddr);
    drop(pml);
    pte_free(w, tid);
    drop(i_mmap);
    unlock_thp(w, hpage);
    drop(map);
    ScanResult::Succeed
}

/// `retract_page_tables(mapping, pgoff)` (6.5+, 1d65b771bc08 "mm/khugepaged:
/// retract_page_tables() without mmap or vma lock"): called by `collapse_file` with the new
/// huge folio locked, after every old page was unmapped — so each VMA's table over the range
/// is empty. Under `i_mmap_rwsem` **read**, for each VMA of the file over `pgoff`: skip one
/// with an anon_vma; `pmd_lock`, the PTL nested; the anon_vma check again (a racing
/// userfaultfd may have filled the table: the PTL is what excludes it now); then
/// `pmdp_collapse_flush`, unlock, `pte_free_defer`. No `mmap_lock`, no VMA lock: a walker
/// keeps itself safe (`pte_offset_map_lock`'s `pmd_same`, RCU).
///
/// Returns how many tables it removed.
pub fn retract_page_tables(w: &World, file: FileId, pgoff: u64) -> usize {
    let per = w.cfg.ptes_per_table as u64;
    let imap = w.files.get(file).i_mmap.read();
    let mut retracted = 0;
    for &vma in &imap.vmas {
        let v = w.vmas.get(vma);
        // "Check vma->anon_vma to exclude MAP_PRIVATE mappings that got written to."
        if v.anon_vma().is_some() {
            continue;
        }
        let info = v.info.get();
        let Some(addr) = retract_addr(info, pgoff, per) else {
            continue;
        };
        let mm_id = info.mm;
        let mm = w.mms.get(mm_id);
        let Some(tid) = pmdp_get_lockless(w, mm_id, addr) else {
            continue;
        };
        let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, addr, addr + per);
        let freed = {
            let (pml, ptl) = pmd_lock_ptl_nested(w, mm, w.tables.get(tid));
            // Repeat the anon_vma check under the PTL; and the PMD may have changed since the
            // lockless look (the model's pmd_lock also guards its populate).
            let freed = if v.anon_vma().is_some() || pmdp_get_lockless(w, mm_id, addr) != Some(tid)
            {
                None
            } else {
                pmdp_collapse_flush(w, mm_id, addr)
            };
            drop(ptl);
            drop(pml);
            freed
        };
        (w.kernel.notifier.invalidate_range_end)(w, bracket);
        if let Some(t) = freed {
            pte_free_defer(w, t);
            retracted += 1;
        }
    }
    drop(imap);
    retracted
}

/// The address of file page `pgoff` in a VMA (`vma->vm_start + ((pgoff - vma->vm_pgoff) <<
/// PAGE_SHIFT)`), if the whole PMD range from it is inside the VMA and aligned.
fn retract_addr(info: crate::mm::vma::VmaInfo, pgoff: u64, per: u64) -> Option<u64> {
    let addr = info.address(pgoff)?;
    (addr.is_multiple_of(per) && info.end >= addr + per).then_some(addr)
}

/// `retract_page_tables` of 6.1–6.4 (after 8d3c106e19e8): `i_mmap_lock_write`; for each VMA
/// without an anon_vma, `mmap_write_trylock(mm)` (else leave it to a later
/// `collapse_pte_mapped_thp`, `khugepaged_add_pte_mapped_thp`: "We use trylock due to lock
/// inversion: we need to acquire mmap_lock while holding page lock. Fault path does it in
/// reverse order"); 6.4's `vma_try_start_write(vma)` ("trylock for the same lock inversion
/// as above", 55fd6fccad31 with its fix folded in: a fault holding the VMA lock read may wait
/// for the page lock `collapse_file` holds); the anon_vma checked again ("that check is racy
/// because ->anon_vma can be populated under the mmap lock in read mode"); then
/// `collapse_and_free_pmd`: `pmdp_collapse_flush`, `pte_free` at once; `mmap_write_unlock`
/// (which ends the VMA's write lock). In 6.1–6.3 no fault read-locks a VMA, so the trylock
/// always succeeds there: one function serves the four releases.
pub fn retract_page_tables_v6_4(w: &World, file: FileId, pgoff: u64) -> usize {
    let per = w.cfg.ptes_per_table as u64;
    let imap = w.files.get(file).i_mmap.write();
    let mut retracted = 0;
    for &vma in &imap.vmas {
        let v = w.vmas.get(vma);
        if v.anon_vma().is_some() {
            continue;
        }
        let info = v.info.get();
        let Some(addr) = retract_addr(info, pgoff, per) else {
            continue;
        };
        let mm_id = info.mm;
        if pmdp_get_lockless(w, mm_id, addr).is_none() {
            continue;
        }
        let Some(map) = w.mms.get(mm_id).mmap_lock.try_write() else {
            w.trace("retract_page_tables: mmap_write_trylock failed", mm_id, "");
            continue;
        };
        // unlock_next: on each failure below.
        if !vma_lock::vma_try_start_write(w, &map, vma) {
            w.trace("retract_page_tables: vma_try_start_write failed", vma, "");
        } else if v.anon_vma().is_some() {
            // result = SCAN_PAGE_ANON
        } else if let Some(t) = pmdp_collapse_flush(w, mm_id, addr) {
            pte_free(w, t);
            retracted += 1;
        }
        vma_lock::mmap_write_unlock(w, mm_id, map);
    }
    drop(imap);
    retracted
}

/// `collapse_file` as far as the retraction needs it: lock every page-cache page of the PMD
/// range (`folio_trylock`, else `SCAN_PAGE_LOCK`), unmap each mapped one (`try_to_unmap`),
/// then — the pages still locked, so no fault can map them again — `retract_page_tables`,
/// then unlock. Returns how many tables it removed, or
/// `None` if the range could not be collapsed (a page missing, locked or still mapped).
///
/// Simplification: no huge page is allocated, nothing is copied and the page cache keeps the
/// old pages (the xarray is not replaced): the model has no compound pages. The dirty and
/// writeback checks of a non-shmem file are not made. The kernel unmaps with
/// `TTU_IGNORE_MLOCK | TTU_BATCH_FLUSH` and lets an mlocked range refault huge; the model
/// passes no flags, so a VM_LOCKED mapping keeps its page (checked under the PTL by
/// `try_to_unmap_one`) and the collapse gives up — the model has no huge refault to restore
/// the mlocked range, and I11 holds every VM_LOCKED page resident at rest; for the same
/// reason a range with an mlocked (or unevictable) page is skipped, as the model's reclaim
/// skips one.
pub fn collapse_file(w: &World, file: FileId, pgoff: u64) -> Option<usize> {
    if w.files.get(file).hugetlb || !pgoff.is_multiple_of(w.cfg.ptes_per_table as u64) {
        return None;
    }
    let thp = file_thp(w, file, pgoff)?;
    let mut locked = Vec::new();
    let mut ok = true;
    for &pfn in &thp {
        if !page_alloc::get_page_unless_zero(w, pfn) {
            ok = false;
            break;
        }
        match crate::ops::pagemap::trylock_page(w, pfn) {
            Some(page) => locked.push(page),
            None => {
                page_alloc::put_page(w, pfn);
                ok = false;
                break;
            }
        }
    }
    // The pages must still be the file's at their indices (truncation, migration), and (the
    // model's choice, as its reclaim's) none of them mlocked.
    ok = ok
        && file_thp(w, file, pgoff).as_deref() == Some(&thp[..])
        && thp.iter().all(|&pfn| {
            let p = w.page(pfn);
            !p.test(crate::mm::page::pg::MLOCKED) && !p.test(crate::mm::page::pg::UNEVICTABLE)
        });
    // `folio_isolate_lru` of each page before it is unmapped (else SCAN_DEL_PAGE_LRU): an
    // isolated folio keeps its mlock count, so a VM_LOCKED mapping met by `try_to_unmap`
    // ("Restore the mlock which got missed") cannot count an mlock twice.
    let mut isolated = Vec::new();
    if ok {
        for page in &locked {
            if !w.page(page.pfn()).test_clear(crate::mm::page::pg::LRU) {
                ok = false;
                break;
            }
            isolated.push(page.pfn());
        }
    }
    if ok {
        for page in &locked {
            if w.page(page.pfn()).mapped()
                && !crate::ops::ttu::try_to_unmap(
                    w,
                    page,
                    crate::ops::rmap_types::TtuFlags::empty(),
                )
            {
                ok = false;
                break;
            }
        }
    }
    let retracted = ok.then(|| (w.kernel.khugepaged.retract_page_tables)(w, file, pgoff));
    // The model keeps the old pages in the page cache (no new THP replaces them): each goes
    // back on the LRU (`folio_putback_lru`) before it is unlocked.
    for pfn in isolated {
        w.page(pfn).test_set(crate::mm::page::pg::LRU);
    }
    for page in locked {
        unlock_thp(w, page);
    }
    retracted
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]).
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`].
#[derive(Debug, Clone, Copy)]
pub struct KhugepagedOps {
    /// `collapse_pte_mapped_thp` with its caller's `mmap_lock`. Default
    /// [`collapse_pte_mapped_thp`] (6.5+); alternatives [`collapse_pte_mapped_thp_v6_1`]
    /// (8d3c106e19e8), [`collapse_pte_mapped_thp_v6_0`] (before it).
    pub collapse_pte_mapped_thp: fn(&World, MmId, u64) -> ScanResult,
    /// `retract_page_tables` (from `collapse_file`). Default [`retract_page_tables`] (6.5+);
    /// alternative [`retract_page_tables_v6_4`].
    pub retract_page_tables: fn(&World, FileId, u64) -> usize,
    /// `collapse_huge_page` (anonymous; from `khugepaged_scan_pmd`). Default
    /// [`collapse_huge_page::collapse_huge_page`] (6.4+: `vma_start_write`); alternative
    /// [`collapse_huge_page::collapse_huge_page_v6_3`].
    ///
    /// [`collapse_huge_page::collapse_huge_page`]: crate::ops::collapse_huge_page::collapse_huge_page
    /// [`collapse_huge_page::collapse_huge_page_v6_3`]: crate::ops::collapse_huge_page::collapse_huge_page_v6_3
    pub collapse_huge_page: fn(&World, MmId, u64) -> ScanResult,
}

impl KhugepagedOps {
    /// 6.1–6.4: 8d3c106e19e8's locks, tables freed at once.
    pub fn v6_1() -> Self {
        KhugepagedOps {
            collapse_pte_mapped_thp: collapse_pte_mapped_thp_v6_1,
            retract_page_tables: retract_page_tables_v6_4,
            collapse_huge_page: crate::ops::collapse_huge_page::collapse_huge_page_v6_3,
        }
    }

    /// ≤6.0: `collapse_pte_mapped_thp` without the rmap write locks.
    pub fn v6_0() -> Self {
        KhugepagedOps {
            collapse_pte_mapped_thp: collapse_pte_mapped_thp_v6_0,
            retract_page_tables: retract_page_tables_v6_4,
            collapse_huge_page: crate::ops::collapse_huge_page::collapse_huge_page_v6_3,
        }
    }
}
