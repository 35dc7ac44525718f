//! `mremap-rmap-locks`: mremap's PMD move racing reclaim's `try_to_unmap` — CVE-2022-41222,
//! 97113eb39fa7 "mm/mremap: hold the rmap lock in write mode when moving page table
//! entries." (Aneesh Kumar K.V, June 2021; v5.14, 5.13.3 in stable; Project Zero issue 2347).
//! `Fixes:` 2c91bd4a4e2e "mm: speed up mremap by 20x on large regions" and c49dd3401802 "mm:
//! speedup mremap on 1GB or larger regions". The CVE's description names the PUD move; the
//! commit takes the rmap locks for the PMD move the same way, and its message draws the PMD
//! race, which is the one modelled here (the model has no PUD level).
//!
//! `copy_vma` puts the new VMA after the old one in rmap order and so says
//! `need_rmap_locks = false`: a walker that misses the old PTE finds the new one later. That
//! holds for PTEs moved under their PTLs. `move_normal_pmd` moves a whole PTE table by its
//! PMD entry under the PMD lock alone, while a walker may hold the table's PTL:
//!
//! ```text
//! mremap (cpu2)                    reclaim: try_to_unmap_one (cpu1)   user (cpu0)
//! -------------------------------  ---------------------------------  -------------------
//! mmap_write_lock
//! copy_vma: new VMA after the old
//!                                  i_mmap_lock_read
//!                                  old VMA: addr = old_addr
//!                                  lock(pte_ptl)   (the table)
//! move_normal_pmd, no rmap locks:
//!   lock(pmd_ptl)
//!   pmd_clear(old_pmd)
//!   pmd_populate(new_pmd, table)
//!   flush_tlb_range(old_addr)
//!   unlock(pmd_ptl)
//!                                                                     load new_addr: the
//!                                                                     TLB caches it -> pfn
//!                                  ptep_clear_flush(old_addr): clears
//!                                    the PTE now at new_addr, flushes
//!                                    old_addr only
//!                                  __remove_mapping: the page freed
//!                                                                     stale TLB entry:
//!                                                                     use-after-free [I3]
//! ```
//!
//! The same missing lock lets the walk come after the PMD entry moved but before mremap's
//! flush of the old range (`pmd_populate`, then `flush_tlb_range`): the walker finds the page
//! through the new VMA, flushes the new address and frees the page while a TLB entry of the
//! old address, loaded before the move, is still there — I3 again.
//!
//! Since 97113eb39fa7 every `NORMAL_PMD` move takes the rmap locks (`i_mmap_rwsem` and the
//! anon_vma root, for write), so a walker is either done before the table moves or walks
//! after it, finding the page at the new address and flushing that.
//!
//! Variants: `fixed` (the modern `move_page_tables`) and `need-rmap-locks-v5-13`
//! (`move_page_tables_v5_13`: the rmap locks only if `need_rmap_locks`) — the one line the
//! patch changed, through the `mremap` group of the kernel table.
//!
//! Oracle: I3 — a page freed while a CPU's TLB still maps it (`free_unref_page`'s check).

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::{access, fault, mremap, reclaim};

/// The scenario.
#[derive(Debug)]
pub struct MremapRmapLocks;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since 97113eb39fa7.
    Fixed,
    /// Before it: `move_normal_pmd` takes the rmap locks only if `copy_vma` asked.
    NeedRmapLocksV5_13,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::NeedRmapLocksV5_13];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "every NORMAL_PMD move under the rmap locks, write mode (97113eb39fa7)",
            ),
            Variant::NeedRmapLocksV5_13 => VariantInfo::race(
                "need-rmap-locks-v5-13",
                "v5.13 move_page_tables: move_normal_pmd without the rmap locks for a new VMA",
            ),
        }
    }
}

impl Scenario for MremapRmapLocks {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "mremap-rmap-locks",
        title: "mremap's PMD move vs try_to_unmap: a stale TLB entry to a freed page",
        commit: "97113eb39fa7",
        source: include_str!("mremap_rmap_locks.rs"),
        oracles: &[Oracle::I3FreeBeforeFlush],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::NeedRmapLocksV5_13 => {
                kernel.mremap.move_page_tables = mremap::move_page_tables_v5_13
            }
        }
        // One PTE table's span of a shared file, moved between the first two PMD slots.
        let w = kit::world(size, 3, kernel, |cfg| {
            if size == Size::Tiny {
                cfg.pages = 1;
                cfg.mms = 1;
                cfg.anon_vmas = 1;
                cfg.tables = 1;
                cfg.ptes_per_table = 1;
                cfg.files = vec![(1, false)];
                cfg.tlb_entries = 1;
            }
        });
        let span = w.cfg.ptes_per_table as u64;
        let rounds = kit::rounds(size, 40);
        let mm = mm_alloc(&w).expect("mm");
        let file = w.file(0);
        kit::mmap_shared_file(&w, mm, 0, span, file);
        for va in 0..span {
            fault::do_user_addr_fault(&w, mm, va, false).expect("populate");
        }
        let (wm, wr, wu) = (w.clone(), w.clone(), w.clone());
        // The last actor is the one loom runs first, inline: mremap, to be preempted between
        // copy_vma and move_normal_pmd.
        let actors = vec![
            actor("user", move || {
                for _ in 0..rounds {
                    match size {
                        // The hardware alone: a TLB fill through whatever table is there.
                        Size::Tiny => {
                            let _ = access::hw_access(&wu, 0, mm, span, None);
                        }
                        // Faulting the pages back in after reclaim, where a VMA maps them.
                        Size::Stress => {
                            for va in 0..2 * span {
                                let _ = access::load(&wu, 0, mm, va);
                            }
                        }
                    }
                }
            }),
            actor("reclaim", move || {
                for _ in 0..rounds {
                    for index in 0..span {
                        reclaim::reclaim_page(&wr, file, index);
                    }
                }
            }),
            actor("mremap", move || {
                for r in 0..rounds {
                    let (from, to) = if r % 2 == 0 { (0, span) } else { (span, 0) };
                    mremap::mremap(&wm, mm, from, span, span, to).expect("mremap");
                }
            }),
        ];
        kit::run(env, &w, actors)
    }
}
