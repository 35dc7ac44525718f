//! Reclaim's deferred TLB flush (mm/rmap.c, 6.1–6.6): the per-task `tlbflush_unmap_batch`
//! (`current->tlb_ubc`), filled by `try_to_unmap_one` when the caller passes
//! `TTU_BATCH_FLUSH` (`should_defer_flush`, `set_tlb_ubc_flush_pending`) and flushed by the
//! caller with `try_to_unmap_flush_dirty` (before `pageout`) and `try_to_unmap_flush` (before
//! the folios are freed) — 72b252aed506 "mm: send one IPI per CPU to TLB flush all entries
//! after unmapping pages" (v4.3) and d950c9477d51 "mm: defer flush of writable TLB entries".
//!
//! Between the clear and the flush a CPU may still cache the old translation of a PTE that is
//! now none. Every path that changes a PTE and relies on "none means nothing to flush" must
//! first call [`flush_tlb_batched_pending`] under the PTL — 3ea277194daa "mm, mprotect: flush
//! TLB if potentially racing with a parallel reclaim leaving stale TLB entries" (Mel Gorman,
//! v4.13): `zap_pte_range`, `change_pte_range`, `move_ptes` (and madvise's free/cold/pageout
//! walkers, not modelled). It reads `mm->tlb_flush_batched`, which
//! [`set_tlb_ubc_flush_pending`] bumps under the PTL of the PTE it cleared.
//!
//! The batch is a per-thread value here, as it is per-task in the kernel: under loom a model
//! thread-local (each actor its own batch). x86's `arch_tlbbatch_add_pending` ORs the mm's
//! `mm_cpumask` into the batch's cpumask and (6.6+) invalidates the mm's secondary TLBs at
//! once (`mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, -1UL)`); `arch_tlbbatch_flush`
//! flushes those CPUs' whole TLBs.
//!
//! Simplification: `arch_tlbbatch_should_defer` asks whether a CPU other than the reclaimer's
//! own runs the mm; the reclaimer runs on no simulated CPU, so the flush is deferred whenever
//! any CPU ran the mm (when none did, no TLB can hold the entry and there is nothing to flush
//! either way). `inc_mm_tlb_gen` (x86's lazy-TLB generation) is not modelled.

use crate::mm::pte::Pte;
use crate::mm::{MmId, World};
use crate::ops::rmap_types::{TTU_BATCH_FLUSH, TtuFlags};
use crate::sync::hw_lock;
use crate::sync::observer::Ordering;
use std::cell::RefCell;

/// `TLB_FLUSH_BATCH_FLUSHED_SHIFT` (include/linux/mm_types_task.h): the "flushed" half of
/// `mm->tlb_flush_batched`.
pub const TLB_FLUSH_BATCH_FLUSHED_SHIFT: u32 = 16;
/// `TLB_FLUSH_BATCH_PENDING_MASK`: the "pending" half.
pub const TLB_FLUSH_BATCH_PENDING_MASK: u32 = (1 << (TLB_FLUSH_BATCH_FLUSHED_SHIFT - 1)) - 1;
/// `TLB_FLUSH_BATCH_PENDING_LARGE`: past it, pending and flushed restart at 1 and 0.
pub const TLB_FLUSH_BATCH_PENDING_LARGE: u32 = TLB_FLUSH_BATCH_PENDING_MASK / 2;

/// `struct tlbflush_unmap_batch` (include/linux/mm_types_task.h) with x86's
/// `arch_tlbflush_unmap_batch` (a cpumask).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlbflushUnmapBatch {
    /// `arch.cpumask`: the CPUs whose TLBs the batch must flush (bit c = cpu c).
    pub cpumask: u64,
    /// `flush_required`: some PTE was cleared without its flush.
    pub flush_required: bool,
    /// `writable`: one of them was dirty (so possibly writable): flush before I/O.
    pub writable: bool,
}

crate::sync::thread_local! {
    /// `current->tlb_ubc`.
    static TLB_UBC: RefCell<TlbflushUnmapBatch> = RefCell::new(TlbflushUnmapBatch::default());
}

/// The current task's batch, as it stands (tests and traces).
pub fn current_tlb_ubc() -> TlbflushUnmapBatch {
    TLB_UBC.with(|b| *b.borrow())
}

/// `should_defer_flush`: the caller passed `TTU_BATCH_FLUSH` and
/// `arch_tlbbatch_should_defer` (x86: some other CPU runs the mm; see the module's
/// simplification).
pub fn should_defer_flush(w: &World, mm: MmId, flags: TtuFlags) -> bool {
    if !flags.contains(TTU_BATCH_FLUSH) {
        return false;
    }
    w.mms.get(mm).cpus_ran.load(Ordering::SeqCst) != 0
}

/// `set_tlb_ubc_flush_pending(mm, pteval, uaddr)`, the PTL held: if the cleared PTE was
/// accessible, add the mm's CPUs to the batch (`arch_tlbbatch_add_pending`, which also
/// invalidates the secondary TLBs), mark the flush required, bump the pending half of
/// `mm->tlb_flush_batched` (restarting both halves when pending grows large), and if the PTE
/// was dirty mark the batch writable ("the caller must use try_to_unmap_flush_dirty() or
/// try_to_unmap_flush() before the page is queued for IO").
pub fn set_tlb_ubc_flush_pending(w: &World, mm_id: MmId, pteval: Pte, va: u64) {
    // pte_accessible(): present (no PROT_NONE PTEs are modelled).
    let Pte::Present { dirty, .. } = pteval else {
        return;
    };
    let mm = w.mms.get(mm_id);
    let cpus = mm.cpus_ran.load(Ordering::SeqCst);
    TLB_UBC.with(|b| {
        let mut b = b.borrow_mut();
        b.cpumask |= cpus;
        b.flush_required = true;
        if dirty {
            b.writable = true;
        }
    });
    (w.kernel.notifier.arch_invalidate_secondary_tlbs)(w, mm_id, 0, u64::MAX);
    let batch = mm.tlb_flush_batched.load(Ordering::SeqCst);
    if batch & TLB_FLUSH_BATCH_PENDING_MASK > TLB_FLUSH_BATCH_PENDING_LARGE {
        // Under the PTL no other increment races this one in the model (a racing one under
        // another PTL would make the kernel's atomic_try_cmpxchg retry).
        mm.tlb_flush_batched.store(1, Ordering::SeqCst);
    } else {
        mm.tlb_flush_batched.fetch_add(1, Ordering::SeqCst);
    }
    w.trace(
        "set_tlb_ubc_flush_pending",
        format_args!("{mm_id} va {:#x}", va << 12),
        format_args!("cpumask {cpus:#b}{}", if dirty { ", writable" } else { "" }),
    );
}

/// `arch_tlbbatch_flush` (x86: `flush_tlb_multi(&batch->cpumask, &full_flush_tlb_info)`):
/// every TLB entry of every CPU in the mask goes — the batch does not know which mms or
/// addresses it covers.
pub fn arch_tlbbatch_flush(w: &World, cpumask: u64) {
    for (c, cpu) in w.cpus.iter().enumerate() {
        if cpumask & (1 << c) != 0 {
            hw_lock(&cpu.tlb).clear();
        }
    }
    w.trace(
        "arch_tlbbatch_flush",
        format_args!("cpumask {cpumask:#b}"),
        "",
    );
}

/// `try_to_unmap_flush`: flush the current task's batch if anything is pending, and empty it.
pub fn try_to_unmap_flush(w: &World) {
    let b = TLB_UBC.with(|b| std::mem::take(&mut *b.borrow_mut()));
    if !b.flush_required {
        return;
    }
    arch_tlbbatch_flush(w, b.cpumask);
}

/// `try_to_unmap_flush_dirty`: flush only if a cleared PTE was dirty (writable): reclaim calls
/// it before `pageout`, so that no CPU writes the page through a stale entry once its I/O has
/// started.
pub fn try_to_unmap_flush_dirty(w: &World) {
    if TLB_UBC.with(|b| b.borrow().writable) {
        try_to_unmap_flush(w);
    }
}

/// `flush_tlb_batched_pending(mm)` (6.x): called by a PTE modifier under the PTL, before it
/// reads the PTEs. If reclaim deferred a flush since the last one here (pending ≠ flushed),
/// flush the whole mm (`arch_flush_tlb_batched_pending` = `flush_tlb_mm`), then record the
/// pending count as flushed — unless another deferral came in meanwhile (the cmpxchg fails
/// and the next caller flushes again).
pub fn flush_tlb_batched_pending(w: &World, mm_id: MmId) {
    let mm = w.mms.get(mm_id);
    let batch = mm.tlb_flush_batched.load(Ordering::SeqCst);
    let pending = batch & TLB_FLUSH_BATCH_PENDING_MASK;
    let flushed = batch >> TLB_FLUSH_BATCH_FLUSHED_SHIFT;
    if pending != flushed {
        w.trace(
            "flush_tlb_batched_pending",
            mm_id,
            format_args!("pending {pending} flushed {flushed}"),
        );
        flush_tlb_mm(w, mm_id);
        let _ = mm.tlb_flush_batched.compare_exchange(
            batch,
            pending | (pending << TLB_FLUSH_BATCH_FLUSHED_SHIFT),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

/// `flush_tlb_mm` (x86: `flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL, ...)`): the whole mm, on the
/// CPUs that ran it, through the table's `flush_tlb_range`.
pub fn flush_tlb_mm(w: &World, mm: MmId) {
    (w.kernel.tlb.flush_tlb_range)(w, mm, 0, u64::MAX);
}

/// Is a deferred flush of `mm` not yet caught up by `flush_tlb_batched_pending`? (Tests.)
pub fn tlb_flush_batched_pending(w: &World, mm: MmId) -> bool {
    let batch = w.mms.get(mm).tlb_flush_batched.load(Ordering::SeqCst);
    batch & TLB_FLUSH_BATCH_PENDING_MASK != batch >> TLB_FLUSH_BATCH_FLUSHED_SHIFT
}
