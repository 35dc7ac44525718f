//! `delayed-rmap`: zap vs writeback vs a store through a stale TLB entry — 5df397dec7c4 "mm:
//! delay page_remove_rmap() until after the TLB has been flushed" (Linus Torvalds, Nov 2022,
//! v6.2), and Ryan Roberts' "[PATCH v1 2/4] mm/mmu_gather: generalize mmu_gather rmap removal
//! mechanism" (2023 RFC: remove every rmap in one batch per table, always before the PTL is
//! released).
//!
//! ```text
//! zap (MADV_DONTNEED), v6.1             writeback                  cpu B (stale TLB: W+D)
//! -----------------------------------   ------------------------   ----------------------
//! SPIN(ptl)
//! ptep_get_and_clear_full  (D=1)
//! set_page_dirty
//! page_remove_rmap  -> mapcount 0
//!                                       lock_page
//!                                       folio_mkclean: !mapped -> 0
//!                                       TestClearPageDirty
//!                                       write data to disk
//!                                                                  store -> lands in page
//! TLB flush; UNSPIN(ptl)
//!   => page clean, data newer than the disk, no dirty PTE: reclaim loses it   [I4]
//! ```
//!
//! 6.2 delays the rmap removal of a dirty file page until after the TLB flush, still under
//! the PTL: `folio_mkclean` then sees the page mapped, walks to the PTE, waits on the PTL, and
//! only snapshots once no CPU can write through the old translation.
//!
//! `rmap-after-ptl` moves `tlb_flush_rmaps` after the PTL release — the design that RFC's rule
//! forbids: a `TTU_SYNC` walker (THP split's `unmap_folio`) then finds the PTE empty under the
//! PTL while the page still counts as mapped (I2).
//!
//! Oracles: I4 (lost dirty data) for `immediate-rmap`; I2 for `rmap-after-ptl`.

use crate::kit::{self, Actor, Overlap, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Pfn, World};
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::zap::ZapOps;
use mmlab_engine::ops::{access, mkclean, munmap, page_alloc};
use mmlab_engine::sync::Arc;

/// The scenario.
#[derive(Debug)]
pub struct DelayedRmap;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: v6.2: dirty file rmaps removed after the TLB flush, under the PTL (5df397dec7c4)
    Fixed,
    /// `batch-all`: 2023 RFC: every rmap removed per table before the PTL is released
    BatchAll,
    /// `immediate-rmap`: before v6.2: page_remove_rmap right after the PTE clear
    ImmediateRmap,
    /// `rmap-after-ptl`: wrong: delayed rmaps removed after the PTL is released
    RmapAfterPtl,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[
        Variant::Fixed,
        Variant::BatchAll,
        Variant::ImmediateRmap,
        Variant::RmapAfterPtl,
    ];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "v6.2: dirty file rmaps removed after the TLB flush, under the PTL (5df397dec7c4)",
            ),
            Variant::BatchAll => VariantInfo::clean(
                "batch-all",
                "2023 RFC: every rmap removed per table before the PTL is released",
            ),
            Variant::ImmediateRmap => VariantInfo::race(
                "immediate-rmap",
                "before v6.2: page_remove_rmap right after the PTE clear",
            ),
            Variant::RmapAfterPtl => VariantInfo::race(
                "rmap-after-ptl",
                "wrong: delayed rmaps removed after the PTL is released",
            ),
        }
    }
}

/// Which workload an iteration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// zap + stale-TLB writer + writeback (I4).
    LostDirty,
    /// zap + THP split's TTU_SYNC unmap (I2).
    SyncWalker,
}

fn pfn_at(w: &World, mm: MmId, va: u64) -> Option<Pfn> {
    w.pte_at(mm, va)?.pfn()
}

impl Scenario for DelayedRmap {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "delayed-rmap",
        title: "zap vs writeback: lost dirty data through a stale writable TLB entry",
        commit: "5df397dec7c4",
        source: include_str!("delayed_rmap.rs"),
        oracles: &[Oracle::I4LostDirty, Oracle::I2TtuSync],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let zap = match variant {
            Variant::Fixed => ZapOps::default(),
            Variant::BatchAll => ZapOps::rfc_batch_all(),
            Variant::ImmediateRmap => ZapOps::v6_1(),
            Variant::RmapAfterPtl => ZapOps::rmaps_after_unlock(),
        };
        let workload = match variant {
            Variant::ImmediateRmap => Workload::LostDirty,
            Variant::RmapAfterPtl => Workload::SyncWalker,
            // The clean variants face both workloads, alternating by seed in stress mode.
            Variant::Fixed | Variant::BatchAll if size == Size::Stress && env.seed % 2 == 1 => {
                Workload::SyncWalker
            }
            Variant::Fixed | Variant::BatchAll => Workload::LostDirty,
        };
        let kernel = Kernel {
            zap,
            ..Kernel::default()
        };
        let w = kit::world(size, 3, kernel, |_| {});
        let pages: u64 = match size {
            Size::Tiny => 1,
            Size::Stress => 4,
        };
        let file = w.file(0);
        let mm = mm_alloc(&w).expect("mm");
        kit::mmap_shared_file(&w, mm, 0, pages, file);
        // cpu1 stores first: its TLB now holds writable, dirty entries.
        for va in 0..pages {
            access::store(&w, 1, mm, va, 1).expect("populate");
        }
        // The stale-TLB writer's stores: one is the race (it must land after writeback's
        // snapshot); loom needs no more, stress repeats it.
        let stores = kit::rounds(size, 2) as u64;
        let tiny = size == Size::Tiny;
        let actors: Vec<Actor> = match workload {
            Workload::LostDirty => {
                let (wz, wb, wc) = (w.clone(), w.clone(), w.clone());
                // At Stress size writeback and the writer keep going while the zap runs
                // (Overlap), so that they meet its window; at Tiny they run once.
                let overlap = Overlap::new(size);
                let (ob, oc, oz) = (overlap.clone(), overlap.clone(), overlap);
                // The zapper last: under loom the last actor runs first, inline, so the race
                // (zap preempted between its rmap removal and its TLB flush) is one
                // preemption away. The writer stays cpu1, whose TLB holds the stale entry.
                vec![
                    actor("writeback", move || {
                        oc.repeat(1, |_| {
                            for index in 0..pages {
                                mkclean::writeback(&wc, file, index);
                            }
                        });
                    }),
                    actor("writer", move || {
                        ob.repeat(1, |round| {
                            let first = 2 + round as u64 * stores;
                            for value in first..first + stores {
                                for va in 0..pages {
                                    if tiny {
                                        // The race is the store through the stale entry; a store
                                        // that faults instead (TLB flushed) is not retried under
                                        // loom, where the refault path only multiplies the
                                        // interleavings without touching the race.
                                        let _ = access::hw_access(&wb, 1, mm, va, Some(value));
                                    } else {
                                        let _ = access::store(&wb, 1, mm, va, value);
                                    }
                                }
                            }
                        });
                    }),
                    actor("zap", move || {
                        oz.wait_for(2);
                        let _ = munmap::madvise_dontneed(&wz, mm, 0, pages);
                        oz.finish();
                    }),
                ]
            }
            Workload::SyncWalker => {
                let pfns: Vec<Pfn> = (0..pages).filter_map(|va| pfn_at(&w, mm, va)).collect();
                for &p in &pfns {
                    page_alloc::get_page(&w, p);
                }
                let (wz, ws): (Arc<World>, Arc<World>) = (w.clone(), w.clone());
                // The zapper last, as above: its preemption after the PTL release is the race.
                vec![
                    actor("split", move || {
                        for pfn in pfns {
                            let page = lock_page(&ws, pfn);
                            (ws.kernel.rmap.unmap_folio)(&ws, &page, None);
                            page.unlock();
                            page_alloc::put_page(&ws, pfn);
                        }
                    }),
                    actor("zap", move || {
                        let _ = munmap::madvise_dontneed(&wz, mm, 0, pages);
                    }),
                ]
            }
        };
        kit::run(env, &w, actors)
    }
}
