//! `pmd-unlocked-check`: MADV_DONTNEED's unlocked huge-PMD check racing NUMA balancing's
//! `change_huge_pmd` — ced108037c2a "thp: fix MADV_DONTNEED vs. numa balancing race"
//! (Kirill A. Shutemov, April 2017, v4.11).
//!
//! Both paths run under `mmap_lock` held for read. `change_huge_pmd` (from `task_numa_work` →
//! `change_prot_numa`) held the PMD lock but rewrote the entry by clearing it first
//! (`pmdp_huge_get_and_clear_notify`, then `set_pmd_at`); `zap_pmd_range` reads the PMD
//! without any lock:
//!
//! ```text
//! madvise_dontneed() -> zap_pmd_range()  change_prot_numa() -> change_huge_pmd()
//! ------------------------------------   ------------------------------------------
//!                                        SPIN(pmd_lock)
//!                                        pmdp_huge_get_and_clear_notify() -> none
//! pmd_trans_huge(*pmd)?   no  (no lock)
//! pmd_none_or_trans_huge_or_clear_bad()
//!   -> skip this PMD
//!                                        set_pmd_at(pmd_modify(PAGE_NONE))
//!                                        UNSPIN(pmd_lock)
//! madvise returns: the THP is still mapped                                     [I14]
//! ```
//!
//! The fix (and every kernel since) rewrites the entry with `pmdp_invalidate`, which leaves
//! it non-present to the hardware but `pmd_trans_huge` — never `pmd_none` — to software: the
//! unlocked check sends the zap to `zap_huge_pmd`, which waits for the PMD lock and zaps what
//! `change_huge_pmd` set. The comment above `pmdp_invalidate_ad` in today's `change_huge_pmd`
//! tells this very story.
//!
//! The same unlocked check lost two more races the same way, fixed the same month in the same
//! series: 58ceeb6bec86 "thp: fix MADV_DONTNEED vs. MADV_FREE race" (`madvise_free_huge_pmd`)
//! and 5b7abeae3af8 "thp: fix MADV_DONTNEED vs clear soft dirty race"
//! (`clear_soft_dirty_pmd`); neither path is modelled (no MADV_FREE, no soft-dirty bit), so
//! this scenario has the NUMA variant only (docs/MODEL.md §15).
//!
//! Oracle: I14, checked as MADV_DONTNEED returns: nothing maps the range.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::huge_memory::{HugeMemoryOps, change_prot_numa, madvise_hugepage};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap};

/// The scenario.
#[derive(Debug)]
pub struct PmdUnlockedCheck;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since ced108037c2a: `change_huge_pmd` invalidates, never clears.
    Fixed,
    /// v4.10 and earlier: `change_huge_pmd` clears the PMD before it sets the NUMA entry.
    NumaV4_10,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::NumaV4_10];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "change_huge_pmd rewrites the PMD with pmdp_invalidate (ced108037c2a)",
            ),
            Variant::NumaV4_10 => VariantInfo::race(
                "numa-v4-10",
                "before ced108037c2a: change_huge_pmd leaves the PMD none while it holds the lock",
            ),
        }
    }
}

impl Scenario for PmdUnlockedCheck {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "pmd-unlocked-check",
        title: "MADV_DONTNEED's unlocked huge-PMD check vs NUMA balancing",
        commit: "ced108037c2a",
        source: include_str!("pmd_unlocked_check.rs"),
        oracles: &[Oracle::I14ZapCompletion],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let kernel = Kernel {
            thp: match variant {
                Variant::Fixed => HugeMemoryOps::default(),
                Variant::NumaV4_10 => HugeMemoryOps::v4_10(),
            },
            ..Kernel::default()
        };
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
        let pmds = match size {
            Size::Tiny => 1,
            Size::Stress => 4,
        };
        let len = pmds * per;
        let mm = mm_alloc(&w).expect("mm");
        mmap(&w, mm, 0, len, MapKind::Anon).expect("mmap");
        madvise_hugepage(&w, mm, 0, len).expect("MADV_HUGEPAGE");
        for pmd in 0..pmds {
            access::store(&w, 0, mm, pmd * per, pmd + 1).expect("THP fault");
        }
        let (wd, wn) = (w.clone(), w.clone());
        let actors = vec![
            actor("dontneed", move || {
                let _ = munmap::madvise_dontneed(&wd, mm, 0, len);
            }),
            actor("numa", move || {
                change_prot_numa(&wn, mm, 0, len);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
