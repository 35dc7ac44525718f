//! Zap: `unmap_vmas`, `zap_page_range_single`, `unmap_single_vma`, `unmap_page_range`, and
//! `zap_pte_range` decomposed as mm/memory.c decomposes it today: `do_zap_pte_range` (skip a
//! run of empty PTEs, then one entry), `zap_present_ptes` / `zap_present_folio_ptes` (a present
//! PTE: clear it, move its dirty bit to the page, remove or delay the rmap, gather the page)
//! and `zap_nonpresent_ptes` (a migration or swap entry). Every level is an entry of
//! [`ZapOps`], and every caller reaches the next level through `w.kernel.zap`, so replacing
//! one step changes munmap, exit, MADV_DONTNEED and hugetlb's unmap alike.
//!
//! `zap_pte_range` never takes the page lock: it serialises with rmap walkers only through the
//! PTL, while the VMA is still linked in the rmap trees (`free_pgtables` unlinks it later).
//! Inside one PTL section it clears the PTE, moves the dirty bit to the page, and removes the
//! rmap — when, the kernel has changed across generations, each an alternative entry here:
//!
//! ```text
//! ≤6.1 (_v6_1)                6.2+ (default, 5df397dec7c4)     2023 RFC (_rfc_batch_all)
//! SPIN(ptl)                   SPIN(ptl)                        SPIN(ptl)
//!  clear pte; dirty->page      clear pte; dirty->page           clear pte; dirty->page
//!  page_remove_rmap            dirty file: delay, force flush   every page: delay
//!  gather page                 else page_remove_rmap            dirty file: force flush
//! [force] TLB flush            gather page                      [force] TLB flush
//! UNSPIN(ptl)                 [force] TLB flush; tlb_flush_rmaps tlb_flush_rmaps
//! [force] free pages          UNSPIN(ptl)                      UNSPIN(ptl)
//!                             [force] free pages               [force] free pages
//! ```
//!
//! [`zap_pte_range_rmaps_after_unlock`] is the 6.2 scheme with `tlb_flush_rmaps` moved after
//! `UNSPIN`: the wrong design that the rule of Ryan Roberts' RFC ("mm/mmu_gather: generalize
//! mmu_gather rmap removal mechanism", 2023) forbids. [`ZapOps::v6_1`],
//! [`ZapOps::rfc_batch_all`] and [`ZapOps::rmaps_after_unlock`] are the tables of each era.
//!
//! Simplification: no large folios, so every `nr` the present and non-present steps return is
//! 1; no `zap_details` (every zap zaps everything, COW copies included).

use crate::mm::page::Mapping;
use crate::mm::pte::Pte;
use crate::mm::{MmId, MmuGather, Pfn, VmaId, World};
use crate::ops::pgtable_generic::{LockedPte, pte_offset_map_lock};
use crate::ops::{rmap, tlb_ubc};
use crate::race_window;

/// `zap_pte_range`'s `force_flush` and `force_break`, which it passes down by pointer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZapForce {
    /// Flush the TLB before the PTL is released (a dirty file PTE was zapped, 1cf35d47712d;
    /// or the gather's batch is full), then free the gathered pages after it.
    pub flush: bool,
    /// The gather's batch is full: stop this PTE table here and come back for the rest.
    pub brk: bool,
}

/// `pmd_addr_end`: the end of `[addr, end)`'s part in the PTE table that covers `addr`.
pub fn pmd_addr_end(w: &World, addr: u64, end: u64) -> u64 {
    let per = w.cfg.ptes_per_table as u64;
    end.min((addr / per + 1) * per)
}

/// `zap_pte_range` (mm/memory.c): zap `[start, end)` of the PTE table covering `start` under
/// its PTL. Returns the first address not zapped: the end of the table's part of the range,
/// or where a full gather batch stopped it (`force_break`; the caller comes back).
pub fn zap_pte_range(w: &World, tlb: &mut MmuGather, vma: VmaId, start: u64, end: u64) -> u64 {
    let end = pmd_addr_end(w, start, end);
    let Some((pte, addr, force)) = zap_pte_range_locked(w, tlb, vma, start, end) else {
        return end;
    };
    // Do the actual TLB flush before dropping ptl.
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu_tlbonly)(w, tlb);
        (w.kernel.tlb.tlb_flush_rmaps)(w, tlb);
    }
    drop(pte); // pte_unmap_unlock
    race_window!("zap_pte_range: PTL released, pages not yet freed");
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu)(w, tlb);
    }
    addr
}

/// `zap_pte_range` before 3ea277194daa ("mm, mprotect: flush TLB if potentially racing with a
/// parallel reclaim leaving stale TLB entries", v4.13): no `flush_tlb_batched_pending` under
/// the PTL. Otherwise the modern function, so that it differs from [`zap_pte_range`] only by
/// what that patch added ([`ZapOps::v4_12`]).
pub fn zap_pte_range_v4_12(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    start: u64,
    end: u64,
) -> u64 {
    let end = pmd_addr_end(w, start, end);
    let mm = w.vmas.get(vma).info.get().mm;
    let Some(pte) = pte_offset_map_lock(w, mm, start) else {
        return end;
    };
    let (pte, addr, force) = zap_pte_range_loop(w, tlb, vma, pte, end);
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu_tlbonly)(w, tlb);
        (w.kernel.tlb.tlb_flush_rmaps)(w, tlb);
    }
    drop(pte); // pte_unmap_unlock
    race_window!("zap_pte_range: PTL released, pages not yet freed");
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu)(w, tlb);
    }
    addr
}

/// `zap_pte_range` before 5df397dec7c4 ("mm: delay page_remove_rmap() until after the TLB has
/// been flushed", v6.2): no `tlb_flush_rmaps` before the unlock (no rmap was ever delayed).
/// Pair it with [`zap_present_folio_ptes_v6_1`] ([`ZapOps::v6_1`]).
pub fn zap_pte_range_v6_1(w: &World, tlb: &mut MmuGather, vma: VmaId, start: u64, end: u64) -> u64 {
    let end = pmd_addr_end(w, start, end);
    let Some((pte, addr, force)) = zap_pte_range_locked(w, tlb, vma, start, end) else {
        return end;
    };
    // Do the actual TLB flush before dropping ptl.
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu_tlbonly)(w, tlb);
    }
    drop(pte); // pte_unmap_unlock
    race_window!("zap_pte_range: PTL released, pages not yet freed");
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu)(w, tlb);
    }
    addr
}

/// `zap_pte_range` of Ryan Roberts' 2023 RFC ("mm/mmu_gather: generalize mmu_gather rmap
/// removal mechanism"): every gathered page's rmap is removed by `tlb_flush_rmaps` before the
/// unlock, whether or not a flush was forced. Pair it with
/// [`zap_present_folio_ptes_rfc_batch_all`] ([`ZapOps::rfc_batch_all`]).
pub fn zap_pte_range_rfc_batch_all(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    start: u64,
    end: u64,
) -> u64 {
    let end = pmd_addr_end(w, start, end);
    let Some((pte, addr, force)) = zap_pte_range_locked(w, tlb, vma, start, end) else {
        return end;
    };
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu_tlbonly)(w, tlb);
    }
    (w.kernel.tlb.tlb_flush_rmaps)(w, tlb);
    drop(pte); // pte_unmap_unlock
    race_window!("zap_pte_range: PTL released, pages not yet freed");
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu)(w, tlb);
    }
    addr
}

/// Deliberately wrong: the 6.2 `zap_pte_range` with `tlb_flush_rmaps` moved after the PTL is
/// released — what the RFC's rule ("rmap removal for PTEs cleared under a PTL must happen
/// before that PTL is released") protects: a `TTU_SYNC` walker then sees an empty PTE under
/// the PTL while the page is still counted as mapped. [`ZapOps::rmaps_after_unlock`].
pub fn zap_pte_range_rmaps_after_unlock(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    start: u64,
    end: u64,
) -> u64 {
    let end = pmd_addr_end(w, start, end);
    let Some((pte, addr, force)) = zap_pte_range_locked(w, tlb, vma, start, end) else {
        return end;
    };
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu_tlbonly)(w, tlb);
    }
    drop(pte); // pte_unmap_unlock
    race_window!("zap_pte_range: PTL released, pages not yet freed");
    (w.kernel.tlb.tlb_flush_rmaps)(w, tlb);
    if force.flush {
        (w.kernel.tlb.tlb_flush_mmu)(w, tlb);
    }
    addr
}

/// The part of `zap_pte_range` every generation shares: `pte_offset_map_lock`, then the
/// `do { ... } while (pte += nr, addr += PAGE_SIZE * nr, addr != end)` loop over
/// `do_zap_pte_range` until `end` or `force_break`. Returns the PTE (its PTL still held), the
/// first address not zapped and the force flags; `None` when no PTE table covers `start`
/// (zap_pmd_range's `pmd_none` skip).
///
/// Under the PTL, before the first PTE is read, `flush_tlb_batched_pending(mm)`
/// (3ea277194daa): a PTE reclaim cleared with its flush deferred reads as none, and the zap
/// would neither flush it nor wait for reclaim's flush.
pub fn zap_pte_range_locked<'w>(
    w: &'w World,
    tlb: &mut MmuGather,
    vma: VmaId,
    start: u64,
    end: u64,
) -> Option<(LockedPte<'w>, u64, ZapForce)> {
    let mm = w.vmas.get(vma).info.get().mm;
    let pte = pte_offset_map_lock(w, mm, start)?;
    tlb_ubc::flush_tlb_batched_pending(w, mm);
    Some(zap_pte_range_loop(w, tlb, vma, pte, end))
}

/// The loop of [`zap_pte_range_locked`] once the PTL is held: `do_zap_pte_range` until `end`
/// or `force_break`.
pub fn zap_pte_range_loop<'w>(
    w: &'w World,
    tlb: &mut MmuGather,
    vma: VmaId,
    mut pte: LockedPte<'w>,
    end: u64,
) -> (LockedPte<'w>, u64, ZapForce) {
    let start = pte.va();
    let mut force = ZapForce::default();
    let mut addr = start;
    loop {
        let nr = (w.kernel.zap.do_zap_pte_range)(w, tlb, vma, &mut pte, end, &mut force);
        addr += nr;
        if force.brk || addr == end {
            return (pte, addr, force);
        }
        pte.move_to(addr);
    }
}

/// `do_zap_pte_range` (mm/memory.c, 6.13+): skip the run of empty PTEs from `pte` (traced as
/// one step, so that a skipped slot shows in the story), then zap the entry after it. Returns
/// how many PTEs from `pte`'s position on entry it consumed; `pte` is left at the last one.
pub fn do_zap_pte_range(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    pte: &mut LockedPte<'_>,
    end: u64,
    force: &mut ZapForce,
) -> u64 {
    let start = pte.va();
    let mut ptent = pte.get();
    let mut nr = 0;
    // Skip all consecutive none ptes.
    if ptent.is_none() {
        nr = 1;
        while start + nr < end {
            pte.move_to(start + nr);
            ptent = pte.get();
            if !ptent.is_none() {
                break;
            }
            nr += 1;
        }
        trace_pte_none_run(w, pte.mm(), start, start + nr);
        if start + nr == end {
            return nr;
        }
    }
    nr + if ptent.is_present() {
        (w.kernel.zap.zap_present_ptes)(w, tlb, vma, pte, ptent, force)
    } else {
        (w.kernel.zap.zap_nonpresent_ptes)(w, tlb, vma, pte, ptent)
    }
}

/// Trace the run of empty PTEs `[start, end)` that `do_zap_pte_range` skipped.
pub fn trace_pte_none_run(w: &World, mm: MmId, start: u64, end: u64) {
    w.trace(
        "zap_pte_range: pte_none, skip",
        format_args!("{mm} va {:#x}-{:#x}", start << 12, end << 12),
        format_args!("{} empty", end - start),
    );
}

/// `zap_present_ptes` (mm/memory.c, 789753e17c4d and the batching after it): find the folio
/// of the present PTE `ptent` (`vm_normal_page`) and zap it with `zap_present_folio_ptes`.
/// Returns how many PTEs it zapped.
///
/// Simplification: every present PTE maps a normal, small page (no zero page, no PFN maps,
/// no large-folio batch), so the answer is always 1.
pub fn zap_present_ptes(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    pte: &LockedPte<'_>,
    ptent: Pte,
    force: &mut ZapForce,
) -> u64 {
    let Some(folio) = ptent.pfn() else { return 1 };
    (w.kernel.zap.zap_present_folio_ptes)(w, tlb, vma, pte, folio, force);
    1
}

/// Is `folio` a page-cache page (`!folio_test_anon`)? Private COW copies are anonymous.
pub fn folio_is_file(w: &World, folio: Pfn) -> bool {
    matches!(w.page(folio).mapping(), Mapping::File(_))
}

/// `zap_present_folio_ptes` (mm/memory.c, 6.2+ in substance): clear the PTE
/// (`ptep_get_and_clear_full`, whose returned dirty bit is the one that counts), move a dirty
/// file PTE's dirty bit to the folio and delay its rmap removal until after the TLB flush
/// (5df397dec7c4: `tlb_delay_rmap`, forcing the flush under the PTL), else remove the rmap
/// now; gather the folio (`__tlb_remove_folio_pages`), forcing flush and break when the batch
/// is full.
pub fn zap_present_folio_ptes(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    pte: &LockedPte<'_>,
    folio: Pfn,
    force: &mut ZapForce,
) {
    let ptent = pte.ptep_get_and_clear_full(tlb.fullmm);
    tlb.tlb_remove_tlb_entry(pte.va());
    race_window!("zap_pte_range: pte cleared, rmap not yet removed");
    let dirty_file = folio_is_file(w, folio) && matches!(ptent, Pte::Present { dirty: true, .. });
    if dirty_file {
        rmap::set_page_dirty(w, folio);
        force.flush = true;
    }
    let delay_rmap = dirty_file; // tlb_delay_rmap()
    zap_rss_dec(w, pte.mm());
    if !delay_rmap {
        rmap::page_remove_rmap(w, folio, vma);
        race_window!("zap_pte_range: rmap removed, TLB not yet flushed");
    }
    if tlb.tlb_remove_page(folio, vma, delay_rmap) {
        force.flush = true;
        force.brk = true;
    }
}

/// The present-PTE step before 5df397dec7c4 (≤ v6.1): `page_remove_rmap` right after the
/// clear, before the TLB flush — the page can look unmapped while a stale writable TLB entry
/// still writes to it. The default with one line changed: `let delay_rmap = false;`.
pub fn zap_present_folio_ptes_v6_1(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    pte: &LockedPte<'_>,
    folio: Pfn,
    force: &mut ZapForce,
) {
    let ptent = pte.ptep_get_and_clear_full(tlb.fullmm);
    tlb.tlb_remove_tlb_entry(pte.va());
    race_window!("zap_pte_range: pte cleared, rmap not yet removed");
    let dirty_file = folio_is_file(w, folio) && matches!(ptent, Pte::Present { dirty: true, .. });
    if dirty_file {
        rmap::set_page_dirty(w, folio);
        force.flush = true;
    }
    let delay_rmap = false;
    zap_rss_dec(w, pte.mm());
    if !delay_rmap {
        rmap::page_remove_rmap(w, folio, vma);
        race_window!("zap_pte_range: rmap removed, TLB not yet flushed");
    }
    if tlb.tlb_remove_page(folio, vma, delay_rmap) {
        force.flush = true;
        force.brk = true;
    }
}

/// The present-PTE step of Ryan Roberts' 2023 RFC ("mm/mmu_gather: generalize mmu_gather
/// rmap removal mechanism"): every folio's rmap removal is delayed to `tlb_flush_rmaps`; the
/// TLB flush is still forced only by a dirty file PTE. The default with one line changed:
/// `let delay_rmap = true;`.
pub fn zap_present_folio_ptes_rfc_batch_all(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    pte: &LockedPte<'_>,
    folio: Pfn,
    force: &mut ZapForce,
) {
    let ptent = pte.ptep_get_and_clear_full(tlb.fullmm);
    tlb.tlb_remove_tlb_entry(pte.va());
    race_window!("zap_pte_range: pte cleared, rmap not yet removed");
    let dirty_file = folio_is_file(w, folio) && matches!(ptent, Pte::Present { dirty: true, .. });
    if dirty_file {
        rmap::set_page_dirty(w, folio);
        force.flush = true;
    }
    let delay_rmap = true;
    zap_rss_dec(w, pte.mm());
    if !delay_rmap {
        rmap::page_remove_rmap(w, folio, vma);
        race_window!("zap_pte_range: rmap removed, TLB not yet flushed");
    }
    if tlb.tlb_remove_page(folio, vma, delay_rmap) {
        force.flush = true;
        force.brk = true;
    }
}

/// `rss[mm_counter(folio)]--` (added to the mm by `add_mm_rss_vec`). The counter is
/// statistics, a `std` atomic invisible to loom.
pub fn zap_rss_dec(w: &World, mm: MmId) {
    w.mms
        .get(mm)
        .rss
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// `zap_nonpresent_ptes` (mm/memory.c): a migration or swap entry holds no mapcount; it is
/// cleared (`clear_not_present_full_ptes`) and the mm's counter dropped. Returns 1. A genuine
/// swap entry ("hence a private anon page") first gives back its slot count with
/// `free_swap_and_cache`, under the PTL, which also frees a swap-cache folio nothing else
/// needs.
///
/// Simplification: no `zap_details`, so `should_zap_cows` is always true (no caller of the
/// model zaps only the file pages of a range).
pub fn zap_nonpresent_ptes(
    w: &World,
    tlb: &mut MmuGather,
    _vma: VmaId,
    pte: &LockedPte<'_>,
    ptent: Pte,
) -> u64 {
    if let Some(entry) = ptent.swap_offset() {
        crate::ops::free_swap::free_swap_and_cache(w, entry);
    }
    pte.pte_clear_not_present_full(tlb.fullmm);
    zap_rss_dec(w, pte.mm());
    1
}

/// `unmap_page_range` of one VMA over `[start, end)` (clipped to the VMA): `zap_pmd_range` for
/// each PMD (the model's page table has one level above the PMDs, so `zap_pud_range`'s loop
/// is this one), coming back to a table whose zap a full batch stopped.
///
/// Simplification: no `tlb_start_vma`/`tlb_end_vma`. The kernel's `tlb_end_vma` flushes and
/// resets the gathered range at each VMA boundary (unless `fullmm` or
/// `CONFIG_MMU_GATHER_MERGE_VMAS`); here what is not force-flushed waits for
/// `tlb_finish_mmu`, so a stale TLB window stays open longer than in the kernel.
pub fn unmap_page_range(w: &World, tlb: &mut MmuGather, vma: VmaId, start: u64, end: u64) {
    let info = w.vmas.get(vma).info.get();
    let (mut addr, end) = (start.max(info.start), end.min(info.end));
    while addr < end {
        addr = (w.kernel.zap.zap_pmd_range)(w, tlb, vma, addr, end);
    }
}

/// `zap_pmd_range` (mm/memory.c) for the PMD covering `addr`: the unlocked checks, then
/// `zap_pte_range`. Returns the first address not zapped (the PMD's end, or where a full
/// gather batch stopped `zap_pte_range`; the caller comes back).
///
/// ```text
/// if (is_swap_pmd(*pmd) || pmd_trans_huge(*pmd) || pmd_devmap(*pmd)) {   // no lock
///         if (next - addr != HPAGE_PMD_SIZE)
///                 __split_huge_pmd(vma, pmd, addr, false, NULL);
///         else if (zap_huge_pmd(tlb, vma, pmd, addr))
///                 goto next;
///         /* fall through */
/// }
/// if (pmd_none_or_trans_huge_or_clear_bad(pmd))                        // no lock
///         goto next;
/// next = zap_pte_range(tlb, vma, pmd, addr, next, details);
/// ```
///
/// Both reads are made without the PMD lock, under `mmap_lock` read only — which is why a
/// path that changes a huge PMD under the same `mmap_lock` read must never leave it
/// `pmd_none` in between (ced108037c2a; `pmd-unlocked-check`). The second check is
/// `pmd_none_or_trans_huge_or_clear_bad` (≤6.4); 6.5+ tests `pmd_none` and lets
/// `pte_offset_map_lock` refuse a huge PMD, which for the model's entries decides the same.
///
/// Simplification: in a world where no VMA was ever made THP-eligible
/// ([`World::thp`]) no PMD can be huge, and the unlocked reads are left to
/// `pte_offset_map_lock`'s own, so the scenarios without THP explore no extra loom branch
/// points.
pub fn zap_pmd_range(w: &World, tlb: &mut MmuGather, vma: VmaId, addr: u64, end: u64) -> u64 {
    let next = pmd_addr_end(w, addr, end);
    if w.thp.load(std::sync::atomic::Ordering::SeqCst) {
        let mm = w.vmas.get(vma).info.get().mm;
        let (slot, _) = w.pte_slot(addr);
        let m = w.mms.get(mm);
        let pmd = m.pmdp_get_lockless(slot);
        w.trace("zap_pmd_range", format_args!("{mm} pmd {slot}"), pmd);
        if pmd.is_swap_pmd() || pmd.is_trans_huge() {
            if next - addr != w.cfg.ptes_per_table as u64 {
                (w.kernel.thp.split_huge_pmd)(w, vma, addr);
            } else if (w.kernel.thp.zap_huge_pmd)(w, tlb, vma, addr) {
                return next;
            }
        }
        race_window!("zap_pmd_range: between the unlocked pmd checks");
        let again = m.pmdp_get_lockless(slot);
        if again.none_or_trans_huge_or_clear_bad() {
            w.trace(
                "zap_pmd_range: pmd_none_or_trans_huge_or_clear_bad, skip",
                format_args!("{mm} pmd {slot}"),
                again,
            );
            return next;
        }
    }
    (w.kernel.zap.zap_pte_range)(w, tlb, vma, addr, next)
}

/// `unmap_single_vma`: a hugetlb VMA goes to `__unmap_hugepage_range_final`
/// ([`crate::ops::hugetlb::unmap_hugepage_range`]), any other to `unmap_page_range`.
pub fn unmap_single_vma(w: &World, tlb: &mut MmuGather, vma: VmaId, start: u64, end: u64) {
    if w.vmas.get(vma).has(crate::mm::vm::HUGETLB) {
        crate::ops::hugetlb::unmap_hugepage_range(w, tlb, vma, start, end);
    } else {
        (w.kernel.zap.unmap_page_range)(w, tlb, vma, start, end);
    }
}

/// `unmap_vmas`: zap `[start, end)` of each VMA, inside one mmu-notifier bracket
/// (MMU_NOTIFY_UNMAP; sleeps allowed, no PTL held).
pub fn unmap_vmas(w: &World, tlb: &mut MmuGather, vmas: &[VmaId], start: u64, end: u64) {
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, tlb.mm, start, end);
    for &v in vmas {
        (w.kernel.zap.unmap_single_vma)(w, tlb, v, start, end);
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
}

/// `zap_page_range_single` (MADV_DONTNEED's zap of one VMA): its own gather and notifier
/// bracket around `unmap_single_vma`, then `tlb_finish_mmu`.
pub fn zap_page_range_single(w: &World, vma: VmaId, start: u64, end: u64) {
    let mm = w.vmas.get(vma).info.get().mm;
    let mut tlb = (w.kernel.tlb.tlb_gather_mmu)(w, mm, false);
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm, start, end);
    (w.kernel.zap.unmap_single_vma)(w, &mut tlb, vma, start, end);
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    (w.kernel.tlb.tlb_finish_mmu)(w, tlb);
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the zap
/// levels, from `unmap_vmas` down to one present PTE, and `free_pgtables` after them. The
/// default is the modern kernel (its `Default` is implemented in [`crate::kernel`], above the
/// paths); the constructors below are the historical generations of the rmap removal.
#[derive(Debug, Clone, Copy)]
pub struct ZapOps {
    /// `unmap_vmas` (munmap, exit).
    pub unmap_vmas: fn(&World, &mut MmuGather, &[VmaId], u64, u64),
    /// `zap_page_range_single` (MADV_DONTNEED).
    pub zap_page_range_single: fn(&World, VmaId, u64, u64),
    /// `unmap_single_vma`: hugetlb or `unmap_page_range`.
    pub unmap_single_vma: fn(&World, &mut MmuGather, VmaId, u64, u64),
    /// `unmap_page_range`: `zap_pmd_range` per PMD.
    pub unmap_page_range: fn(&World, &mut MmuGather, VmaId, u64, u64),
    /// `zap_pmd_range`: the unlocked huge-PMD checks, `zap_huge_pmd` or `__split_huge_pmd`,
    /// then `zap_pte_range`.
    pub zap_pmd_range: fn(&World, &mut MmuGather, VmaId, u64, u64) -> u64,
    /// `zap_pte_range`. Alternatives: [`zap_pte_range_v4_12`] (before 3ea277194daa),
    /// [`zap_pte_range_v6_1`] (before 5df397dec7c4),
    /// [`zap_pte_range_rfc_batch_all`] (2023 RFC), [`zap_pte_range_rmaps_after_unlock`]
    /// (deliberately wrong).
    pub zap_pte_range: fn(&World, &mut MmuGather, VmaId, u64, u64) -> u64,
    /// `do_zap_pte_range`: skip empty PTEs, then one present or non-present entry.
    pub do_zap_pte_range:
        fn(&World, &mut MmuGather, VmaId, &mut LockedPte<'_>, u64, &mut ZapForce) -> u64,
    /// `zap_present_ptes`: the folio of a present PTE.
    pub zap_present_ptes:
        fn(&World, &mut MmuGather, VmaId, &LockedPte<'_>, Pte, &mut ZapForce) -> u64,
    /// `zap_present_folio_ptes`. Alternatives: [`zap_present_folio_ptes_v6_1`] (before
    /// 5df397dec7c4), [`zap_present_folio_ptes_rfc_batch_all`] (2023 RFC).
    pub zap_present_folio_ptes:
        fn(&World, &mut MmuGather, VmaId, &LockedPte<'_>, Pfn, &mut ZapForce),
    /// `zap_nonpresent_ptes`: a migration or swap entry.
    pub zap_nonpresent_ptes: fn(&World, &mut MmuGather, VmaId, &LockedPte<'_>, Pte) -> u64,
    /// `free_pgtables` (mm/memory.c, [`crate::ops::pgtable::free_pgtables`]): after the zap,
    /// unlink the VMAs from the rmap trees and queue their page tables on the gather.
    pub free_pgtables: fn(&World, &mut MmuGather, &[VmaId], &[VmaId]),
}
impl ZapOps {
    /// ≤ v4.12, before 3ea277194daa: `zap_pte_range` does not catch up with reclaim's
    /// deferred flushes (`flush_tlb_batched_pending`).
    pub fn v4_12() -> Self {
        ZapOps {
            zap_pte_range: zap_pte_range_v4_12,
            ..ZapOps::default()
        }
    }

    /// ≤ v6.1, before 5df397dec7c4: every rmap removed right after its PTE is cleared.
    pub fn v6_1() -> Self {
        ZapOps {
            zap_pte_range: zap_pte_range_v6_1,
            zap_present_folio_ptes: zap_present_folio_ptes_v6_1,
            ..ZapOps::default()
        }
    }

    /// Ryan Roberts' 2023 RFC: every rmap removed in one batch per PTE table, under the PTL.
    pub fn rfc_batch_all() -> Self {
        ZapOps {
            zap_pte_range: zap_pte_range_rfc_batch_all,
            zap_present_folio_ptes: zap_present_folio_ptes_rfc_batch_all,
            ..ZapOps::default()
        }
    }

    /// Deliberately wrong: 6.2's delayed rmaps removed after the PTL is released.
    pub fn rmaps_after_unlock() -> Self {
        ZapOps {
            zap_pte_range: zap_pte_range_rmaps_after_unlock,
            ..ZapOps::default()
        }
    }
}
