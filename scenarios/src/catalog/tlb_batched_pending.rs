//! `tlb-batched-pending`: reclaim's deferred TLB flush against a PTE modifier that finds the
//! PTE already none — 3ea277194daa "mm, mprotect: flush TLB if potentially racing with a
//! parallel reclaim leaving stale TLB entries" (Mel Gorman, v4.13; the race reported by Nadav
//! Amit). Latent since the batched flush itself, 72b252aed506 / d950c9477d51 (v4.3).
//!
//! ```text
//! cpu0 (user)                            reclaim (shrink_folio_list, TTU_BATCH_FLUSH)
//! ------------------------------------   ------------------------------------------
//! store: PTE W D A cached in cpu0's TLB
//!                                        try_to_unmap_one: SPIN(ptl)
//!                                          ptep_get_and_clear      (no flush)
//!                                          set_tlb_ubc_flush_pending: tlb_flush_batched++
//!                                        UNSPIN(ptl)
//! madvise(MADV_DONTNEED)
//!   zap_pte_range: SPIN(ptl)
//!     [v4.12: no flush_tlb_batched_pending]
//!     pte_none -> skip, nothing to flush
//!   UNSPIN(ptl); tlb_finish_mmu: nothing gathered, no flush
//! madvise returns: cpu0 still caches the
//!   translation MADV_DONTNEED removed               [I14]
//! store through the stale W D entry:
//!   lands in the page the mm no longer maps          [lost-store]
//!                                        try_to_unmap_flush_dirty; pageout; free
//! ```
//!
//! With the fix, `zap_pte_range` calls `flush_tlb_batched_pending(mm)` under the PTL: reclaim's
//! increment of `mm->tlb_flush_batched` was made under the same PTL, so the zap sees it and
//! flushes the whole mm before it reads the PTE; the store after MADV_DONTNEED faults and maps
//! the page afresh. The patch put the same call in `change_pte_range` (mprotect: a write
//! through the stale entry after PROT_READ), `move_ptes` (mremap) and
//! `madvise_free_pte_range`; the model has all but the last, and this scenario drives the
//! zap, whose aftermath the existing lost-store oracle judges.
//!
//! The reclaimer is `reclaim_pages` (MADV_PAGEOUT's and DAMON's: `folio_isolate_lru`, then
//! `shrink_folio_list` with `ignore_references`), so that the page's accessed bit does not
//! send it back to the list first; kswapd's `shrink_inactive_list` runs the same
//! `shrink_folio_list` with the same `TTU_BATCH_FLUSH`.
//!
//! Oracles: I14 (as MADV_DONTNEED returns, no TLB caches a translation it removed — the
//! first to fire), then lost-store (a store through a TLB entry older than a MADV_DONTNEED of
//! its address that has returned). I3 stands behind them: reclaim frees the page only after
//! `try_to_unmap_flush`.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Pte, World};
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::zap::ZapOps;
use mmlab_engine::ops::{access, munmap, vmscan};

/// The scenario.
#[derive(Debug)]
pub struct TlbBatchedPending;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since 3ea277194daa.
    Fixed,
    /// `zap_pte_range` before it (v4.3 to v4.12): no `flush_tlb_batched_pending`.
    ZapPteRangeV4_12,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::ZapPteRangeV4_12];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "zap_pte_range calls flush_tlb_batched_pending under the PTL (3ea277194daa)",
            ),
            Variant::ZapPteRangeV4_12 => VariantInfo::race(
                "zap-pte-range-v4-12",
                "before 3ea277194daa: MADV_DONTNEED finds the PTE reclaim cleared and flushes nothing",
            ),
        }
    }
}

impl Scenario for TlbBatchedPending {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "tlb-batched-pending",
        title: "reclaim's deferred TLB flush vs MADV_DONTNEED: a store through the stale entry",
        commit: "3ea277194daa",
        source: include_str!("tlb_batched_pending.rs"),
        oracles: &[
            Oracle::I14ZapCompletion,
            Oracle::LostStore,
            Oracle::I3FreeBeforeFlush,
        ],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let zap = match variant {
            Variant::Fixed => ZapOps::default(),
            Variant::ZapPteRangeV4_12 => ZapOps::v4_12(),
        };
        let kernel = Kernel {
            zap,
            ..Kernel::default()
        };
        let w = kit::world(size, 2, kernel, |_| {});
        let pages: u64 = match size {
            Size::Tiny => 1,
            Size::Stress => 4,
        };
        let rounds = kit::rounds(size, 50);
        let file = w.file(0);
        let mm = mm_alloc(&w).expect("mm");
        kit::mmap_shared_file(&w, mm, 0, pages, file);
        // cpu0 stores first: its TLB holds writable, dirty entries, the PTEs are dirty.
        for va in 0..pages {
            access::store(&w, 0, mm, va, 1).expect("populate");
        }
        let tiny = size == Size::Tiny;
        let (wu, wr) = (w.clone(), w.clone());
        let actors = vec![
            actor("user", move || {
                // At stress size each round's stores fault the pages back in (dirty, cached
                // writable in cpu0's TLB) for the reclaimer's next pass.
                for round in 0..rounds as u64 {
                    let _ = munmap::madvise_dontneed(&wu, mm, 0, pages);
                    for va in 0..pages {
                        if tiny {
                            // The race is the store through the stale entry; a store that
                            // faults instead (TLB flushed) is not retried under loom.
                            let _ = access::hw_access(&wu, 0, mm, va, Some(2 + round));
                        } else {
                            let _ = access::store(&wu, 0, mm, va, 2 + round);
                        }
                    }
                }
            }),
            // Last: under loom it runs first, inline, so that one preemption after its
            // deferred unmap is the race.
            actor("reclaim", move || {
                for _ in 0..rounds {
                    for va in 0..pages {
                        reclaim_one(&wr, mm, va);
                    }
                }
            }),
        ];
        kit::run(env, &w, actors)
    }
}

/// Reclaim the page `mm` maps at `va`, if any, as MADV_PAGEOUT's walker
/// (`madvise_cold_or_pageout_pte_range`) does: under the PTL, `folio_isolate_lru` of the
/// folio the PTE maps; then, the PTL dropped, `reclaim_pages`. (The walker's `mmap_lock` and
/// its own young-bit clearing are left out: the reclaim side of the race is `shrink_folio_list`.)
fn reclaim_one(w: &World, mm: MmId, va: u64) {
    let Some(pte) = pte_offset_map_lock(w, mm, va) else {
        return;
    };
    let Pte::Present { pfn, .. } = pte.get() else {
        return;
    };
    let isolated = vmscan::folio_isolate_lru(w, pfn);
    drop(pte);
    if isolated {
        vmscan::reclaim_pages(w, vec![pfn]);
    }
}
