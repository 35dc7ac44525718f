//! `retract-page-tables`: khugepaged's PTE-table retraction of a file THP racing a truncation
//! — 8d3c106e19e8 "mm/khugepaged: take the right locks for page table retraction" (Jann
//! Horn, 6.1; Fixes: 27e1f8273113 "khugepaged: enable collapse pmd for pte-mapped THP",
//! 5.4). Page walks start under `mmap_lock`, an anon_vma lock *or* `i_mmap_rwsem`, any one
//! of them, read; retracting a table changes a non-terminal entry (the PMD), so the
//! retractor must hold all of them for write. `collapse_pte_mapped_thp` held only
//! `mmap_lock` and `pmd_lock`, and "the shmem/file THP path was getting it wrong, making it
//! possible for concurrent rmap-based operations to cause corruption".
//!
//! ```text
//! collapse_pte_mapped_thp() (≤6.0)            unmap_mapping_range() (truncate)
//! mmap_write_lock; lock_page(hpage)            i_mmap_lock_read   (no mmap_lock)
//! step 1-2 under the PTL: PTEs map hpage+i,
//!   page_remove_rmap of each (PTEs left)
//! step 3: page_ref_sub                         zap_page_range_single
//!                                                pte_offset_map_lock: PMD -> table
//! step 4: pmd_lock; pmdp_collapse_flush;         spin_lock(ptl)
//!   pte_free(table)           <- freed under      zap_pte_range: the PTEs still there
//!                                the walker        => page_remove_rmap again   [I1]
//!                                                  => the freed table's PTL, its PTEs [StaleId]
//! ```
//!
//! The fix (6.1–6.4, `v6-1`) takes `i_mmap_lock_write` around steps 1–4 (and skips a VMA
//! with an anon_vma, so the anon_vma lock need not be taken). Since 6.5 (`fixed`, 1d65b771bc08
//! and its series) the retraction runs under `mmap_lock` *read* — or none — and the walkers
//! keep themselves safe: `pte_offset_map_lock` re-checks the PMD under the PTL the retractor
//! takes nested in `pmd_lock`, step 2 clears the PTEs it unmaps, and the table is freed after
//! an RCU grace period (`pte_free_defer`) that every walker's mapping is inside.
//!
//! The mapping is MAP_PRIVATE, read-faulted (no COW copy, so no anon_vma: the 6.1 exclusion
//! of written-to private mappings does not apply and the locks alone decide).
//!
//! Oracles: `StaleId` (the table used after `pte_free`) and I1 (a mapcount below zero: the
//! rmap removed twice).

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::khugepaged::KhugepagedOps;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pgtable_generic::PgtableOps;
use mmlab_engine::ops::{access, pvmw, unmap_mapping};

/// The scenario.
#[derive(Debug)]
pub struct RetractPageTables;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// 6.5+: retraction under `mmap_lock` read; `pte_offset_map_lock` re-validates; RCU free.
    Fixed,
    /// 6.1–6.4: 8d3c106e19e8's `i_mmap_lock_write`; walkers trust the PMD.
    V6_1,
    /// ≤6.0: `collapse_pte_mapped_thp` without the rmap write locks.
    CollapseV6_0,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::V6_1, Variant::CollapseV6_0];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "6.5+: pte_offset_map_lock re-checks the PMD under the PTL, pte_free_defer \
                 (1d65b771bc08's series)",
            ),
            Variant::V6_1 => VariantInfo::clean(
                "v6-1",
                "8d3c106e19e8 (6.1-6.4): collapse_pte_mapped_thp holds i_mmap_rwsem for write",
            ),
            Variant::CollapseV6_0 => VariantInfo::race(
                "collapse-pte-mapped-thp-v6-0",
                "before 8d3c106e19e8: the table freed under an rmap walker holding i_mmap_rwsem \
                 read",
            ),
        }
    }
}

/// The kernel of `variant`.
pub fn kernel(variant: Variant) -> Kernel {
    let before_6_5 = |khugepaged| {
        let mut k = Kernel {
            pgtable: PgtableOps::v6_4(),
            khugepaged,
            ..Kernel::default()
        };
        k.rmap.page_vma_mapped_walk = pvmw::page_vma_mapped_walk_v6_4;
        k
    };
    match variant {
        Variant::Fixed => Kernel::default(),
        Variant::V6_1 => before_6_5(KhugepagedOps::v6_1()),
        Variant::CollapseV6_0 => before_6_5(KhugepagedOps::v6_0()),
    }
}

impl Scenario for RetractPageTables {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "retract-page-tables",
        title: "khugepaged's file PTE-table retraction vs a truncation's rmap walk",
        commit: "8d3c106e19e8",
        source: include_str!("retract_page_tables.rs"),
        oracles: &[Oracle::StaleId, Oracle::I1Mapcount],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let w = kit::world(size, 2, kernel(variant), |cfg| {
            // One file as large as one PTE table: the file THP's range.
            cfg.files = vec![(cfg.ptes_per_table, false)];
        });
        let per = w.cfg.ptes_per_table as u64;
        let file = w.file(0);
        let mm = mm_alloc(&w).expect("mm");
        let kind = MapKind::File {
            file,
            pgoff: 0,
            shared: false,
        };
        mmap(&w, mm, 0, per, kind).expect("mmap of the file, MAP_PRIVATE");
        for va in 0..per {
            access::load(&w, 0, mm, va).expect("read fault");
        }
        let (wk, wt) = (w.clone(), w.clone());
        let actors = vec![
            actor("truncate", move || {
                unmap_mapping::unmap_mapping_range(&wt, file, 0, per);
            }),
            actor("khugepaged", move || {
                (wk.kernel.khugepaged.collapse_pte_mapped_thp)(&wk, mm, 0);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
