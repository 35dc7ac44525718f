//! TLB flushing and the mmu_gather life cycle: `flush_tlb_range`, `tlb_gather_mmu`,
//! `tlb_flush_mmu_tlbonly`, `tlb_flush_rmaps`, `tlb_flush_mmu`, `tlb_finish_mmu` — each an
//! entry of [`TlbOps`], and each reached through `w.kernel.tlb` by every caller (the zap's
//! forced flushes, `ptep_clear_flush`, munmap, exit, MADV_DONTNEED, hugetlb's unshare), so a
//! replaced `tlb_finish_mmu` or `flush_tlb_range` runs on every path.

use crate::check::{self, Oracle};
use crate::mm::{MmId, MmuGather, World};
use crate::ops::{page_alloc, rmap};
use crate::sync::{Ordering, hw_lock};

/// `flush_tlb_range`: shoot down `[start, end)` of `mm` on every CPU that ran it. Each target
/// CPU's TLB lock is taken, as an IPI waits for its target.
///
/// Simplification: every shootdown is synchronous; there is no deferred (batched) flush
/// (`TTU_BATCH_FLUSH`, `flush_tlb_batched_pending`).
pub fn flush_tlb_range(w: &World, mm: MmId, start: u64, end: u64) {
    let ran = w
        .mms
        .get(mm)
        .cpus_ran
        .load(std::sync::atomic::Ordering::SeqCst);
    for (c, cpu) in w.cpus.iter().enumerate() {
        if ran & (1 << c) != 0 {
            hw_lock(&cpu.tlb).retain(|e| !(e.mm == mm && start <= e.va && e.va < end));
        }
    }
    w.trace(
        "flush_tlb_range",
        mm,
        format_args!("{:#x}-{:#x}", start << 12, end << 12),
    );
    (w.kernel.notifier.arch_invalidate_secondary_tlbs)(w, mm, start, end);
}

/// `tlb_gather_mmu` / `tlb_gather_mmu_fullmm`: `mm->tlb_flush_pending++`.
pub fn tlb_gather_mmu(w: &World, mm: MmId, fullmm: bool) -> MmuGather {
    w.mms
        .get(mm)
        .tlb_flush_pending
        .fetch_add(1, Ordering::SeqCst);
    MmuGather::new(mm, fullmm, w.cfg.gather_batch)
}

/// `tlb_flush_mmu_tlbonly`: if anything was cleared or a table queued, `tlb_flush`, then
/// `__tlb_reset_range`. `tlb_flush` (include/asm-generic/tlb.h; x86's passes the same range to
/// `flush_tlb_mm_range`) flushes the whole mm only for `fullmm` (exit, or a nested gather
/// that `tlb_finish_mmu` turned into one), else exactly `[tlb->start, tlb->end)`: the cleared
/// PTEs' addresses plus one page at each freed table's address (`pte_free_tlb`).
///
/// Simplification: `freed_tables` only forces the flush (the model's walker has no
/// paging-structure caches to invalidate), and `tlb_update_vma_flags` (the VM_EXEC/VM_HUGETLB
/// hints `tlb_flush` passes on) is not modelled.
pub fn tlb_flush_mmu_tlbonly(w: &World, tlb: &mut MmuGather) {
    if tlb.range.is_none() && !tlb.freed_tables {
        return;
    }
    let (start, end) = if tlb.fullmm {
        (0, u64::MAX)
    } else {
        // An empty range with freed_tables set is ruled out by pte_free_tlb's own range
        // adjustment; (0, 0) would flush nothing.
        tlb.range.unwrap_or_default()
    };
    if start < end {
        (w.kernel.tlb.flush_tlb_range)(w, tlb.mm, start, end);
    }
    tlb.tlb_reset_range();
}

/// `tlb_flush_rmaps`: remove the delayed rmaps (5df397dec7c4). Must run under the PTL of the
/// table whose PTEs were cleared (the rule Ryan Roberts' 2023 "mm/mmu_gather: generalize
/// mmu_gather rmap removal mechanism" states; I15(d) in docs/MODEL.md §3).
pub fn tlb_flush_rmaps(w: &World, tlb: &mut MmuGather) {
    if !tlb.delayed_rmap {
        return;
    }
    for g in tlb.pages.iter_mut().filter(|g| g.delay_rmap) {
        rmap::page_remove_rmap(w, g.pfn, g.vma);
        g.delay_rmap = false;
    }
    tlb.delayed_rmap = false;
    w.trace("tlb_flush_rmaps", tlb.mm, "");
}

/// `tlb_flush_mmu`: flush, then free the gathered pages (drop the references the PTEs had).
pub fn tlb_flush_mmu(w: &World, tlb: &mut MmuGather) {
    (w.kernel.tlb.tlb_flush_mmu_tlbonly)(w, tlb);
    if tlb.delayed_rmap {
        check::violation(
            Oracle::I1Mapcount,
            "tlb_flush_mmu with rmap removals still pending",
        );
        (w.kernel.tlb.tlb_flush_rmaps)(w, tlb);
    }
    tlb_batch_pages_flush(w, tlb);
}

/// `tlb_batch_pages_flush` (mm/mmu_gather.c): drop the references the gathered pages' PTEs
/// had (`free_pages_and_swap_cache`). Only after a TLB flush covering their addresses (I3).
pub fn tlb_batch_pages_flush(w: &World, tlb: &mut MmuGather) {
    for g in std::mem::take(&mut tlb.pages) {
        page_alloc::put_page(w, g.pfn);
    }
}

/// `tlb_finish_mmu` (mm/mmu_gather.c): if another gather ran on this mm meanwhile
/// (`mm_tlb_flush_nested`: a parallel MADV_DONTNEED may have cleared PTEs this one found
/// empty and not flushed them yet), become `fullmm`, reset the range and mark `freed_tables`,
/// so the final flush covers everything; otherwise flush the range gathered — freed tables
/// widen it only by their own addresses (`pte_free_tlb`). Then free queued page tables and
/// `tlb_flush_pending--`.
pub fn tlb_finish_mmu(w: &World, mut tlb: MmuGather) {
    let mm = w.mms.get(tlb.mm);
    if mm.tlb_flush_pending.load(Ordering::SeqCst) > 1 {
        tlb.fullmm = true;
        tlb.tlb_reset_range();
        tlb.freed_tables = true;
    }
    (w.kernel.tlb.tlb_flush_mmu)(w, &mut tlb);
    tlb_table_flush(w, &mut tlb);
    mm.tlb_flush_pending.fetch_sub(1, Ordering::SeqCst);
}

/// `tlb_table_flush` (mm/mmu_gather.c): free the page tables queued by `pte_free_tlb`, after
/// the flush that fenced the hardware walker off them. A table freed with a live PTE is the
/// kernel's "bad pte" BUG (I10).
pub fn tlb_table_flush(w: &World, tlb: &mut MmuGather) {
    for t in std::mem::take(&mut tlb.tables) {
        let table = w.tables.get(t);
        for i in 0..table.entries.len() {
            let pte = table.ptep_get_lockless(i);
            if !pte.is_none() {
                check::violation(
                    Oracle::Bug,
                    format!("freeing {t} with pte {i} = {pte} (I10)"),
                );
            }
        }
        w.tables.free(t);
        w.trace("free_pte_table", t, "");
    }
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the
/// mmu_gather and TLB flush functions.
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`] (above the paths).
#[derive(Debug, Clone, Copy)]
pub struct TlbOps {
    /// `flush_tlb_range` (also `flush_tlb_page`, and the flush of `ptep_clear_flush`).
    pub flush_tlb_range: fn(&World, MmId, u64, u64),
    /// `tlb_gather_mmu` / `tlb_gather_mmu_fullmm` (`fullmm`).
    pub tlb_gather_mmu: fn(&World, MmId, bool) -> MmuGather,
    /// `tlb_flush_mmu_tlbonly`: flush the gathered range.
    pub tlb_flush_mmu_tlbonly: fn(&World, &mut MmuGather),
    /// `tlb_flush_rmaps`: remove the delayed rmaps (5df397dec7c4).
    pub tlb_flush_rmaps: fn(&World, &mut MmuGather),
    /// `tlb_flush_mmu`: flush, then free the gathered pages.
    pub tlb_flush_mmu: fn(&World, &mut MmuGather),
    /// `tlb_finish_mmu`: the final flush, the page tables, `tlb_flush_pending--`.
    pub tlb_finish_mmu: fn(&World, MmuGather),
}
