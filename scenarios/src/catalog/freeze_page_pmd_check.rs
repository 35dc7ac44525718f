//! `freeze-page-pmd-check`: THP split's freeze racing clear_refs' soft-dirty clearing of the
//! huge PMD — 33f4751e9960 "mm: thp: move pmd check inside ptl for freeze_page()" (Naoya
//! Horiguchi, 2016; posted against v4.7-rc4, the crash reported on v4.6).
//!
//! Both paths run under `mmap_lock` read: `migrate_pages(2)` → `queue_pages_pte_range`
//! splits a PMD-mapped THP (`split_huge_page` → `freeze_page` → `try_to_unmap(TTU_MIGRATION |
//! TTU_SPLIT_HUGE_PMD)` → `try_to_unmap_one` → `split_huge_pmd_address(vma, addr, true,
//! page)`), and `echo 4 > /proc/PID/clear_refs` write-protects the same PMD
//! (`clear_soft_dirty_pmd`: `pmdp_huge_get_and_clear`, then `set_pmd_at`, under the PMD
//! lock). `split_huge_pmd_address` of v4.5–v4.6 checked the PMD without that lock:
//!
//! ```text
//! clear_refs_write() -> clear_refs_pte_range()   split_huge_page() -> freeze_page()
//! --------------------------------------------   ---------------------------------------
//! SPIN(pmd lock)  (pmd_trans_huge_lock)
//! pmdp_huge_get_and_clear()  -> none
//!                                                 split_huge_pmd_address(freeze):
//!                                                   !pmd_present(*pmd)  (no lock) -> return
//!                                                 the rmap walk finds no PTE mapping it:
//!                                                 the THP is still mapped by the PMD
//!                                                 => VM_BUG_ON(ret) in freeze_page  [I2]
//! set_pmd_at(pmd_wrprotect(pmd))
//! UNSPIN(pmd lock)
//! ```
//!
//! The fix dropped the unlocked checks and made `__split_huge_pmd` check the PMD — and that it
//! still maps the page — under the PMD lock, which waits for `clear_soft_dirty_pmd` to set the
//! entry back. `clear_soft_dirty_pmd` itself stopped clearing the PMD later (5b7abeae3af8
//! "thp: fix MADV_DONTNEED vs clear soft dirty race", v4.11); both variants here run its
//! v4.4–v4.10 form, so that only the split's check differs.
//!
//! The model's path around the split is its pre-`TTU_SYNC`, split-first kernel
//! (`unmap_page` of 5.12, `try_to_migrate_one` splitting with `split_huge_pmd_address` before
//! its walk, as 4.6's `try_to_unmap_one` did); the variants differ in one table entry,
//! `thp.split_huge_pmd_address`. Simplifications (docs/MODEL.md §22): the splitter is the
//! debugfs `split_huge_pages_pid` (the same steps as `queue_pages_pte_range`'s: a reference
//! taken under the PMD lock, the page locked, `split_huge_page`); 4.6's `try_to_unmap_one`
//! failed on any PMD left unsplit (`page_check_address` finds PTEs only), while the model's
//! walk splits a PMD it meets huge again, so the model catches the subset of interleavings
//! where the walk too reads the PMD while it is cleared.
//!
//! Oracle: I2, `freeze_page`'s `VM_BUG_ON(ret)` — `unmap_folio`'s
//! `VM_BUG_ON_PAGE(!unmap_success)` today — checked in the path.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::huge_memory::{HugeMemoryOps, madvise_hugepage};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::split_huge_page::split_huge_pages_pid;
use mmlab_engine::ops::task_mmu::clear_refs_write_soft_dirty;
use mmlab_engine::ops::{access, split, ttu};

/// The scenario.
#[derive(Debug)]
pub struct FreezePagePmdCheck;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Since 33f4751e9960: the PMD checked under the PMD lock in `__split_huge_pmd`.
    Fixed,
    /// v4.5–v4.6: `split_huge_pmd_address` checks the PMD without the lock.
    V4_6,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::V4_6];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "the freeze's PMD check under the PMD lock (33f4751e9960)",
            ),
            Variant::V4_6 => VariantInfo::race(
                "v4-6",
                "before 33f4751e9960: split_huge_pmd_address reads the PMD clear_refs holds cleared, skips the split",
            ),
        }
    }
}

impl Scenario for FreezePagePmdCheck {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "freeze-page-pmd-check",
        title: "THP freeze's unlocked PMD check vs clear_refs soft-dirty",
        commit: "33f4751e9960",
        source: include_str!("freeze_page_pmd_check.rs"),
        oracles: &[Oracle::I2TtuSync],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel {
            thp: match variant {
                Variant::Fixed => HugeMemoryOps::default(),
                Variant::V4_6 => HugeMemoryOps::v4_6(),
            },
            ..Kernel::default()
        };
        // The split-first, pre-TTU_SYNC kernel (module docs), in both variants.
        kernel.rmap.unmap_folio = split::unmap_page_v5_12;
        kernel.rmap.try_to_migrate_one = ttu::try_to_migrate_one_v6_14;
        let w = kit::world(size, 2, kernel, |cfg| {
            if size == Size::Tiny {
                // One THP of two pages, the PTE table deposited with it, one mm, one VMA.
                cfg.pages = 2;
                cfg.mms = 1;
                cfg.vmas = 1;
                cfg.anon_vmas = 1;
                cfg.tables = 1;
                cfg.pmds_per_mm = 1;
                cfg.files = vec![];
                cfg.tlb_entries = 1;
            }
        });
        let per = w.cfg.ptes_per_table as u64;
        // The report's reproducer kept clearing soft-dirty bits while `migratepages` ran: on
        // real threads clear_refs goes over the THPs again and again while they are split.
        let (thps, clears) = match size {
            Size::Tiny => (1, 1),
            Size::Stress => (4, 16),
        };
        let len = thps * per;
        let mm = mm_alloc(&w).expect("mm");
        mmap(&w, mm, 0, len, MapKind::Anon).expect("mmap");
        madvise_hugepage(&w, mm, 0, len).expect("MADV_HUGEPAGE");
        for t in 0..thps {
            access::store(&w, 0, mm, t * per, t + 1).expect("THP fault");
        }
        let (wc, ws) = (w.clone(), w.clone());
        let actors = vec![
            actor("clear_refs", move || {
                for _ in 0..clears {
                    clear_refs_write_soft_dirty(&wc, mm);
                }
            }),
            // Last: under loom it runs first, so that one preemption before its unlocked
            // check and one inside clear_soft_dirty_pmd are the race.
            actor("split", move || {
                for t in 0..thps {
                    let _ = split_huge_pages_pid(&ws, mm, t * per);
                }
            }),
        ];
        kit::run(env, &w, actors)
    }
}
