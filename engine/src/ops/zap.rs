//! Zap: `zap_pte_range` with the mmu_gather, `unmap_page_range`, `unmap_vmas`.
//!
//! `zap_pte_range` never takes the page lock: it serialises with rmap walkers only through the
//! PTL, while the VMA is still linked in the rmap trees (`free_pgtables` unlinks it later).
//! Inside one PTL section it clears the PTE, moves the dirty bit to the page, and removes the
//! rmap — with `Protocol::rmap_removal` choosing when, across the kernel's generations:
//!
//! ```text
//! Immediate (≤6.1)            DelayedDirtyFile (6.2+)          BatchAll (2023 RFC)
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
//! `AfterPtlRelease` is the delayed scheme with `tlb_flush_rmaps` moved after `UNSPIN`: the
//! wrong design that the rule of Ryan Roberts' RFC ("mm/mmu_gather: generalize mmu_gather rmap
//! removal mechanism", 2023) forbids.

use crate::mm::page::Mapping;
use crate::mm::pte::{Pte, ptep_get_and_clear};
use crate::mm::{MmId, MmuGather, VmaId, World};
use crate::ops::rmap;
use crate::ops::tlb::{tlb_flush_mmu, tlb_flush_mmu_tlbonly, tlb_flush_rmaps};
use crate::protocol::RmapRemoval;
use crate::race_window;
use crate::sync::Ordering;

/// `zap_pte_range`: zap `[start, end)` of one PTE table (the table covering `start`).
/// Returns the first address not zapped (the end of the table's part of the range).
pub fn zap_pte_range(w: &World, tlb: &mut MmuGather, vma_id: VmaId, start: u64, end: u64) -> u64 {
    let vma = w.vmas.get(vma_id);
    let mm_id = vma.info.get().mm;
    let mm = w.mms.get(mm_id);
    let per = w.cfg.ptes_per_table as u64;
    let table_end = end.min((start / per + 1) * per);
    let (slot, _) = w.pte_slot(start);
    let Some(tid) = mm.pmd_table(slot) else {
        return table_end;
    };
    let table = w.tables.get(tid);
    let policy = w.kernel.protocol.rmap_removal;
    let mut addr = start;
    while addr < table_end {
        let ptl = w.pte_lockptr(mm, table).lock();
        let mut force_flush = false;
        // The first of a run of empty PTEs passed over (`if (pte_none(ptent)) continue;`),
        // traced once per run when it ends, so that a skipped slot shows in the story.
        let mut empty_from = None;
        while addr < table_end {
            let va = addr;
            addr += 1;
            let (_, i) = w.pte_slot(va);
            let entry = &table.entries[i];
            let pte = Pte::decode(entry.load(Ordering::SeqCst));
            if !pte.is_none() {
                trace_pte_none_run(w, mm_id, &mut empty_from, va);
            }
            match pte {
                Pte::None => {
                    empty_from.get_or_insert(va);
                    continue;
                }
                Pte::Present { .. } => {
                    // ptep_get_and_clear_full: atomic read-and-clear, returning the HW bits
                    // (x86: `ptep_get_and_clear` unless `full`, when no other CPU can use the
                    // mm; the model always clears atomically).
                    let old = ptep_get_and_clear(&ptl, entry);
                    let Pte::Present { pfn, dirty, .. } = old else {
                        continue;
                    };
                    w.trace(
                        "zap_pte_range: ptep_get_and_clear_full",
                        format_args!("{mm_id} va {:#x}", va << 12),
                        old,
                    );
                    tlb.tlb_remove_tlb_entry(va);
                    race_window!("zap_pte_range: pte cleared, rmap not yet removed");
                    let page = w.page(pfn);
                    let file = matches!(page.mapping(), Mapping::File(_));
                    let mut delay = policy == RmapRemoval::BatchAll;
                    if file && dirty {
                        rmap::set_page_dirty(w, pfn);
                        // 1cf35d47712d: flush before dropping the PTL when a dirty PTE is zapped.
                        force_flush = true;
                        if matches!(
                            policy,
                            RmapRemoval::DelayedDirtyFile | RmapRemoval::AfterPtlRelease
                        ) {
                            delay = true;
                        }
                    }
                    mm.rss.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    if !delay {
                        rmap::page_remove_rmap(w, pfn, vma_id);
                        race_window!("zap_pte_range: rmap removed, TLB not yet flushed");
                    }
                    if tlb.tlb_remove_page(pfn, vma_id, delay) {
                        force_flush = true;
                        break;
                    }
                }
                Pte::Migration { .. } | Pte::Swap(_) => {
                    // Migration entries hold no mapcount; the entry just goes.
                    entry.store(0, Ordering::SeqCst);
                    mm.rss.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    w.trace(
                        "zap_pte_range: clear non-present",
                        format_args!("{mm_id} va {:#x}", va << 12),
                        "",
                    );
                }
            }
        }
        trace_pte_none_run(w, mm_id, &mut empty_from, addr);
        match policy {
            RmapRemoval::Immediate | RmapRemoval::AfterPtlRelease => {
                if force_flush {
                    tlb_flush_mmu_tlbonly(w, tlb);
                }
            }
            RmapRemoval::DelayedDirtyFile => {
                if force_flush {
                    tlb_flush_mmu_tlbonly(w, tlb);
                    tlb_flush_rmaps(w, tlb);
                }
            }
            RmapRemoval::BatchAll => {
                if force_flush {
                    tlb_flush_mmu_tlbonly(w, tlb);
                }
                tlb_flush_rmaps(w, tlb);
            }
        }
        drop(ptl);
        race_window!("zap_pte_range: PTL released, pages not yet freed");
        if policy == RmapRemoval::AfterPtlRelease {
            tlb_flush_rmaps(w, tlb);
        }
        if force_flush {
            tlb_flush_mmu(w, tlb);
        }
    }
    table_end
}

/// Trace the run of empty PTEs `[*from, end)` that `zap_pte_range` skipped, if there is one.
fn trace_pte_none_run(w: &World, mm: MmId, from: &mut Option<u64>, end: u64) {
    if let Some(start) = from.take() {
        w.trace(
            "zap_pte_range: pte_none, skip",
            format_args!("{mm} va {:#x}-{:#x}", start << 12, end << 12),
            format_args!("{} empty", end - start),
        );
    }
}

/// `unmap_page_range` of one VMA over `[start, end)` (clipped to the VMA).
///
/// Simplification: no `tlb_start_vma`/`tlb_end_vma`. The kernel's `tlb_end_vma` flushes and
/// resets the gathered range at each VMA boundary (unless `fullmm` or
/// `CONFIG_MMU_GATHER_MERGE_VMAS`); here what is not force-flushed waits for
/// `tlb_finish_mmu`, so a stale TLB window stays open longer than in the kernel.
pub fn unmap_page_range(w: &World, tlb: &mut MmuGather, vma_id: VmaId, start: u64, end: u64) {
    if w.vmas.get(vma_id).has(crate::mm::vm::HUGETLB) {
        crate::ops::hugetlb::unmap_hugepage_range(w, tlb, vma_id, start, end);
        return;
    }
    let info = w.vmas.get(vma_id).info.get();
    let (mut addr, end) = (start.max(info.start), end.min(info.end));
    while addr < end {
        addr = zap_pte_range(w, tlb, vma_id, addr, end);
    }
}

/// `unmap_vmas`: zap `[start, end)` of each VMA, inside one mmu-notifier bracket
/// (MMU_NOTIFY_UNMAP; sleeps allowed, no PTL held).
pub fn unmap_vmas(w: &World, tlb: &mut MmuGather, vmas: &[VmaId], start: u64, end: u64) {
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, tlb.mm, start, end);
    for &v in vmas {
        unmap_page_range(w, tlb, v, start, end);
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): unmap_vmas and the zap levels.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZapOps {}
