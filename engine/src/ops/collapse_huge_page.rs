//! khugepaged's collapse of an anonymous PMD range into a THP (mm/khugepaged.c, 6.1 and
//! 6.4–6.6): `hpage_collapse_scan_pmd` (`khugepaged_scan_pmd` before 6.1's rename) looks at
//! the range's PTEs under `mmap_lock` read and the PTL; if they qualify,
//! `collapse_huge_page` allocates the THP, takes `mmap_lock` for write, revalidates, removes
//! the PTE table from the PMD and copies the small pages into the huge one, which it maps by
//! the PMD; the old table is deposited for a later split.
//!
//! Locks, in the kernel's order (`collapse_huge_page`):
//!
//! ```text
//! mmap_read_lock; hugepage_vma_revalidate; find_pmd_or_thp_or_none; mmap_read_unlock
//!   (the THP is allocated before: "release the mmap_lock read lock" first)
//! mmap_write_lock; hugepage_vma_revalidate; check_pmd_still_valid
//! vma_start_write(vma)                        6.4+ (55fd6fccad31); collapse_huge_page_v6_3 without
//! anon_vma_lock_write(vma->anon_vma)          "prevent all access to pagetables with the exception
//!                                              of gup_fast later handled by the ptep_clear_flush
//!                                              and the VM handled by the anon_vma lock + PG_lock"
//! mmu_notifier_invalidate_range_start
//! pmd_lock; pmdp_collapse_flush; spin_unlock   the table detached, TLBs flushed
//! mmu_notifier_invalidate_range_end
//! tlb_remove_table_sync_one                    (GUP-fast: not modelled)
//! pte_offset_map_lock(the detached table)
//!   __collapse_huge_page_isolate: per PTE — none (up to max_ptes_none), else an anon page:
//!   trylock_page, refcount == mapcount (no GUP pin), isolate from the LRU
//! spin_unlock(pte_ptl)
//!   failure: pmd_lock; pmd_populate(the old table); anon_vma_unlock_write; out
//! anon_vma_unlock_write
//! __collapse_huge_page_copy: copy each page (none: zeroes); then per PTE release_pte_page,
//!   spin_lock(ptl); ptep_clear; page_remove_rmap; spin_unlock; free_page_and_swap_cache
//! pmd_lock; page_add_new_anon_rmap(THP); lru_cache_add; pgtable_trans_huge_deposit(old table);
//!   set_pmd_at(huge PMD, dirty, maybe writable); spin_unlock
//! mmap_write_unlock
//! ```
//!
//! A fault on the range waits: a fault under `mmap_lock` read for the writer, a fault under
//! the VMA lock (6.4+) for `vma_start_write` — which in turn waits for a fault that holds the
//! VMA read-locked. The ≤6.3 form ([`collapse_huge_page_v6_3`]) has no VMA lock to take: in
//! 6.3 no fault runs under one.
//!
//! Simplifications (docs/MODEL.md §16): swap entries, the zero page and PTE-mapped THPs in the
//! range are not collapsed (a non-present PTE or a compound page aborts; no
//! `__collapse_huge_page_swapin`); `max_ptes_none` is `HPAGE_PMD_NR - 1`, the shared-PTE limit
//! is not applied; "referenced" is a young PTE (no `page_is_young`, `PageReferenced` or
//! `mmu_notifier_test_young`); a `VM_LOCKED` VMA is left alone (as the model's `collapse_file`
//! skips mlocked ranges: no mlock of the new THP); no memcg charge, no `khugepaged_mm_slot`
//! scan list — the caller names the mm and range.

use crate::mm::page::{Compound, pg};
use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{MmId, Pfn, VmaId, World};
use crate::ops::fault::find_vma;
use crate::ops::huge_memory::thp_vma_suitable;
use crate::ops::khugepaged_scan::ScanResult;
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::pgtable_generic::{LockedPte, pmdp_collapse_flush, pte_offset_map_lock};
use crate::ops::pmd_lock::{pmd_lock, pmdp_get_lockless};
use crate::ops::vma_lock::{mmap_write_unlock, vma_start_write};
use crate::ops::{anon_vma, migrate, mlock, page_alloc, rmap};
use crate::race_window;
use crate::report::{Oracle, violation};
use crate::sync::Ordering;

/// `hugepage_vma_revalidate(mm, address, expect_anon = true)`: the VMA at `haddr` must still be
/// an anonymous `VM_HUGEPAGE` VMA covering the whole PMD range ("Anon VMA expected"), with an
/// anon_vma; and (the model's choice, module docs) not `VM_LOCKED`.
fn hugepage_vma_revalidate(w: &World, vmas: &[VmaId], haddr: u64) -> Result<VmaId, ScanResult> {
    let vma = find_vma(w, vmas, haddr).ok_or(ScanResult::VmaCheck)?;
    let v = w.vmas.get(vma);
    if !thp_vma_suitable(w, vma, haddr) || v.anon_vma().is_none() || v.has(vm::LOCKED) {
        return Err(ScanResult::VmaCheck);
    }
    Ok(vma)
}

/// `find_pmd_or_thp_or_none`: a PTE table at `haddr`, else why not.
fn find_pmd_or_thp_or_none(w: &World, mm: MmId, haddr: u64) -> Result<(), ScanResult> {
    match pmdp_get_lockless(w, mm, w.pte_slot(haddr).0) {
        Pmd::Table(_) => Ok(()),
        Pmd::None => Err(ScanResult::PmdNone),
        _ => Err(ScanResult::PmdMapped),
    }
}

/// `is_refcount_suitable(page)`: no reference but the mappings' (a GUP pin, a migration, an
/// isolation holds one more): `page_count(page) == total_mapcount(page)`.
fn is_refcount_suitable(w: &World, pfn: Pfn) -> bool {
    let p = w.page(pfn);
    p.refcount.load(Ordering::SeqCst) == p.mapcount.load(Ordering::SeqCst)
}

/// `hpage_collapse_scan_pmd(mm, vma, address, ..)` (6.1+; `khugepaged_scan_pmd` before) with
/// its caller's `mmap_read_lock` (`khugepaged_scan_mm_slot`): under the PTL, every PTE of the
/// PMD range at `haddr` is none (at most `max_ptes_none`) or maps an order-0 anonymous page
/// on the LRU, unlocked, with no extra reference; at least one is writable and one young.
/// Then, the read lock dropped, [`crate::kernel::Kernel`]'s `khugepaged.collapse_huge_page`.
pub fn khugepaged_scan_pmd(w: &World, mm_id: MmId, haddr: u64) -> ScanResult {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
    if let Err(r) = hugepage_vma_revalidate(w, &map.vmas, haddr) {
        return r;
    }
    if let Err(r) = find_pmd_or_thp_or_none(w, mm_id, haddr) {
        return r;
    }
    let Some(pte) = pte_offset_map_lock(w, mm_id, haddr) else {
        return ScanResult::PmdNone;
    };
    let result = scan_ptes(w, pte, haddr);
    drop(map); // collapse_huge_page: mmap_read_unlock before the allocation
    if result != ScanResult::Succeed {
        return result;
    }
    (w.kernel.khugepaged.collapse_huge_page)(w, mm_id, haddr)
}

/// The PTE loop of `hpage_collapse_scan_pmd`, the PTL held by `pte` (dropped on return:
/// `pte_unmap_unlock`).
fn scan_ptes(w: &World, mut pte: LockedPte<'_>, haddr: u64) -> ScanResult {
    let per = w.cfg.ptes_per_table;
    let (mut none, mut writable, mut referenced) = (0, false, false);
    for i in 0..per {
        pte.move_to(haddr + i as u64);
        let (pfn, write, young) = match pte.get() {
            Pte::None => {
                none += 1;
                if none < per {
                    // khugepaged_max_ptes_none = HPAGE_PMD_NR - 1
                    continue;
                }
                return ScanResult::ExceedNonePte;
            }
            Pte::Present {
                pfn, write, young, ..
            } => (pfn, write, young),
            // is_swap_pte: no swap-in here (module docs).
            _ => return ScanResult::PteNonPresent,
        };
        writable |= write;
        referenced |= young;
        let p = w.page(pfn);
        if !p.test(pg::ANON) || !matches!(p.compound.get(), Compound::Single) {
            return ScanResult::Fail;
        }
        // "Check if the page has any GUP (or other external) pins."
        if !is_refcount_suitable(w, pfn) {
            return ScanResult::PageCount;
        }
        if !p.test(pg::LRU) {
            return ScanResult::PageLru;
        }
        if p.lock().is_locked() {
            return ScanResult::PageLock;
        }
    }
    if !writable {
        ScanResult::PageRo
    } else if !referenced {
        ScanResult::LackReferencedPage
    } else {
        ScanResult::Succeed
    }
}

/// `collapse_huge_page(mm, address, referenced, unmapped, cc)` (6.4+, 55fd6fccad31's
/// `vma_start_write`): module docs.
pub fn collapse_huge_page(w: &World, mm_id: MmId, haddr: u64) -> ScanResult {
    collapse(w, mm_id, haddr, true)
}

/// `collapse_huge_page` of 6.1–6.3: no per-VMA lock to take (55fd6fccad31 added
/// `vma_start_write` with the per-VMA locks in 6.4).
pub fn collapse_huge_page_v6_3(w: &World, mm_id: MmId, haddr: u64) -> ScanResult {
    collapse(w, mm_id, haddr, false)
}

/// The two eras' `collapse_huge_page`; `vma_lock` is what 55fd6fccad31 added.
fn collapse(w: &World, mm_id: MmId, haddr: u64, vma_lock: bool) -> ScanResult {
    let mm = w.mms.get(mm_id);
    let nr = w.cfg.ptes_per_table;
    // alloc_charge_hpage: "Before allocating the hugepage, release the mmap_lock read lock."
    let Some(hpage) = page_alloc::alloc_compound_page(w, nr) else {
        return ScanResult::AllocHugePageFail;
    };
    {
        let map = mm.mmap_lock.read();
        let r = hugepage_vma_revalidate(w, &map.vmas, haddr)
            .and_then(|_| find_pmd_or_thp_or_none(w, mm_id, haddr));
        drop(map);
        if let Err(r) = r {
            page_alloc::put_page(w, hpage);
            return r;
        }
    }
    race_window!("collapse_huge_page: mmap_lock dropped before mmap_write_lock");
    // "Prevent all access to pagetables with the exception of gup_fast later handled by the
    // ptep_clear_flush and the VM handled by the anon_vma lock + PG_lock."
    let map = mm.mmap_lock.write();
    let vma = match hugepage_vma_revalidate(w, &map.vmas, haddr)
        .and_then(|v| find_pmd_or_thp_or_none(w, mm_id, haddr).map(|_| v))
    {
        Ok(v) => v,
        Err(r) => {
            mmap_write_unlock(w, mm_id, map);
            page_alloc::put_page(w, hpage);
            return r;
        }
    };
    if vma_lock {
        vma_start_write(w, &map, vma);
    }
    let av = w
        .vmas
        .get(vma)
        .anon_vma()
        .expect("revalidated: an anon_vma");
    let anon = anon_vma::anon_vma_lock_write(w, av);
    let per = nr as u64;
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, haddr, haddr + per);
    let slot = w.pte_slot(haddr).0;
    // "This removes any huge TLB entry from the CPU so we won't allow huge and small TLB
    // entries for the same virtual address to avoid the risk of CPU bugs in that area."
    let tid = {
        let pmd = pmd_lock(w, mm_id, slot);
        let t = pmdp_collapse_flush(w, mm_id, haddr).expect("check_pmd_still_valid: a table");
        drop(pmd);
        t
    };
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    w.trace("tlb_remove_table_sync_one", mm_id, "");
    race_window!("collapse_huge_page: table detached, pages not yet isolated");
    // pte_offset_map_lock(mm, &_pmd, address, &pte_ptl): the detached table.
    let table = w.tables.get(tid);
    let ptl = w.pte_lockptr(mm, table).lock();
    let pte = LockedPte::new(w, mm_id, haddr, table, 0, ptl);
    let isolated = __collapse_huge_page_isolate(w, pte, vma, haddr);
    let isolated = match isolated {
        Ok(pages) => pages,
        Err(r) => {
            // "We can only use set_pmd_at when establishing hugepmds and never for
            // establishing regular pmds that points to regular pagetables. Use pmd_populate
            // for that."
            let pmd = pmd_lock(w, mm_id, slot);
            pmd.pmd_populate(tid);
            drop(pmd);
            anon.unlock();
            mmap_write_unlock(w, mm_id, map);
            page_alloc::put_page(w, hpage);
            return r;
        }
    };
    // "All pages are isolated and locked so anon_vma rmap can't run anymore."
    anon.unlock();
    __collapse_huge_page_copy(w, mm_id, vma, haddr, tid, hpage, isolated);
    let pmd = pmd_lock(w, mm_id, slot);
    if !pmd.get().is_none() {
        // BUG_ON(!pmd_none(*pmd)): a fault populated the PMD behind the collapse's locks.
        violation(
            Oracle::Bug,
            format!(
                "collapse_huge_page: BUG_ON(!pmd_none(*pmd)): {:?}",
                pmd.get()
            ),
        );
    }
    rmap::page_add_new_anon_rmap_pmd(w, &pmd, hpage, vma);
    mlock::lru_cache_add_inactive_or_unevictable(w, hpage, vma);
    pmd.pgtable_trans_huge_deposit(tid);
    pmd.set_pmd_at(Pmd::Huge {
        pfn: hpage,
        write: w.vmas.get(vma).has(vm::WRITE), // maybe_pmd_mkwrite(pmd_mkdirty(_pmd))
        dirty: true,
        young: true,
        protnone: false,
    });
    drop(pmd);
    w.trace(
        "collapse_huge_page",
        mm_id,
        format_args!("{:#x} -> {hpage}", haddr << 12),
    );
    mmap_write_unlock(w, mm_id, map);
    ScanResult::Succeed
}

/// A page `__collapse_huge_page_isolate` took: locked, isolated from the LRU (one
/// reference), at its PTE's index (`None`: the PTE was none).
type Isolated<'w> = Vec<Option<LockedPage<'w>>>;

/// `__collapse_huge_page_isolate(vma, address, pte, cc, ..)`: each PTE of the detached table,
/// under its PTL (`pte`, dropped on return), is none (counted against `max_ptes_none`) or an
/// order-0 anonymous page that is trylocked, has no reference but its mappings', and is
/// isolated from the LRU. On failure every page taken so far is released
/// (`release_pte_pages`: unlocked and put back on the LRU).
fn __collapse_huge_page_isolate<'w>(
    w: &'w World,
    mut pte: LockedPte<'w>,
    _vma: VmaId,
    haddr: u64,
) -> Result<Isolated<'w>, ScanResult> {
    let per = w.cfg.ptes_per_table;
    let mut taken: Isolated<'w> = Vec::new();
    let (mut none, mut writable, mut referenced) = (0, false, false);
    let mut result = ScanResult::Succeed;
    for i in 0..per {
        pte.move_to(haddr + i as u64);
        let (pfn, write, young) = match pte.get() {
            Pte::None => {
                none += 1;
                if none < per {
                    // khugepaged_max_ptes_none = HPAGE_PMD_NR - 1
                    taken.push(None);
                    continue;
                }
                result = ScanResult::ExceedNonePte;
                break;
            }
            Pte::Present {
                pfn, write, young, ..
            } => (pfn, write, young),
            _ => {
                result = ScanResult::PteNonPresent;
                break;
            }
        };
        let p = w.page(pfn);
        if !p.test(pg::ANON) || !matches!(p.compound.get(), Compound::Single) {
            result = ScanResult::Fail;
            break;
        }
        // "We can do it before isolate_lru_page because the page can't be freed from under
        // us. NOTE: PG_lock is needed to serialize against split_huge_page when invoked from
        // the VM."
        let Some(page) = trylock_page(w, pfn) else {
            result = ScanResult::PageLock;
            break;
        };
        // "Check if the page has any GUP (or other external) pins."
        if !is_refcount_suitable(w, pfn) {
            page.unlock();
            result = ScanResult::PageCount;
            break;
        }
        // "Isolate the page to avoid collapsing an hugepage currently in use by the VM."
        if !migrate::isolate_lru_page(w, pfn) {
            page.unlock();
            result = ScanResult::DelPageLru;
            break;
        }
        writable |= write;
        referenced |= young;
        taken.push(Some(page));
    }
    drop(pte); // spin_unlock(pte_ptl)
    if result == ScanResult::Succeed {
        result = if !writable {
            ScanResult::PageRo
        } else if !referenced {
            ScanResult::LackReferencedPage
        } else {
            return Ok(taken);
        };
    }
    // out: release_pte_pages
    for page in taken.into_iter().flatten() {
        release_pte_page(w, page);
    }
    Err(result)
}

/// `release_pte_page`: unlock the page and put it back on the LRU (`putback_lru_page`, which
/// drops the isolation's reference).
fn release_pte_page(w: &World, page: LockedPage<'_>) {
    let pfn = page.pfn();
    page.unlock();
    migrate::putback_lru_page(w, pfn);
}

/// `__collapse_huge_page_copy` + `__collapse_huge_page_copy_succeeded`: copy each small page
/// into the THP's subpage (zeroes for a none PTE: `clear_user_highpage`, and the rss counts
/// it), then per PTE `release_pte_page`, and under the PTL `ptep_clear` + `page_remove_rmap`,
/// then `free_page_and_swap_cache` (the mapping's reference). The table stays detached: it is
/// deposited with the huge PMD. (Copies do not fail in the model: no
/// `__collapse_huge_page_copy_failed`.)
fn __collapse_huge_page_copy(
    w: &World,
    mm_id: MmId,
    vma: VmaId,
    haddr: u64,
    tid: crate::mm::TableId,
    hpage: Pfn,
    isolated: Isolated<'_>,
) {
    let mm = w.mms.get(mm_id);
    let table = w.tables.get(tid);
    for (i, src) in isolated.iter().enumerate() {
        let dst = w.page(w.subpage(hpage, i));
        for (cpu, word) in dst.data.iter().enumerate() {
            let v = src
                .as_ref()
                .map_or(0, |p| w.page(p.pfn()).data[cpu].load(Ordering::SeqCst));
            word.store(v, Ordering::SeqCst);
        }
        dst.flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
    }
    race_window!("__collapse_huge_page_copy: copied, small pages not yet released");
    let mut none = 0;
    for (i, src) in isolated.into_iter().enumerate() {
        let Some(page) = src else {
            none += 1;
            continue;
        };
        let pfn = page.pfn();
        release_pte_page(w, page);
        // "ptl mostly unnecessary, but preempt has to be disabled to update the per-cpu
        // stats inside page_remove_rmap()."
        let ptl = w.pte_lockptr(mm, table).lock();
        let pte = LockedPte::new(w, mm_id, haddr + i as u64, table, i, ptl);
        pte.ptep_get_and_clear(); // ptep_clear
        rmap::page_remove_rmap(w, pfn, vma);
        drop(pte);
        page_alloc::put_page(w, pfn); // free_page_and_swap_cache
    }
    mm.rss.fetch_add(none, std::sync::atomic::Ordering::Relaxed);
}
