//! `ttu-sync`: zap racing THP split's unmap — 732ed55823fc "mm/thp: try_to_unmap() use
//! TTU_SYNC for safe splitting" (Hugh Dickins, June 2021), and a98a2f0c8ce1 "mm/rmap: split
//! migration into its own function" (Alistair Popple, 2021: the try_to_migrate split it rides
//! on). Latent for five years after fec89c109f3a.
//!
//! ```text
//! zap_pte_range() (munmap)               unmap_folio() (split, page locked)
//! ------------------------------------   ------------------------------------------
//! SPIN(ptl)
//! ptep_get_and_clear_full()  -> none
//!                                        rmap walk still finds the VMA (not unlinked)
//!                                        PVMW: unlocked read sees none -> skip
//!                                        walk ends; folio_mapped() still TRUE
//!                                        => VM_BUG_ON_PAGE(!unmap_success)     [I2]
//! page_remove_rmap()  (mapcount 0)
//! UNSPIN(ptl)
//! ```
//!
//! With `TTU_SYNC` the walk takes the PTL even for an empty-looking PTE, so it waits until the
//! zapper has dropped the rmap, and returns with the page unmapped.
//!
//! **The PMD form** (`*-pmd` variants): the page is a PMD-mapped THP, the zap is
//! `zap_huge_pmd` and the split is the whole `split_huge_page` (anon_vma root write lock,
//! `unmap_folio` → `try_to_migrate_one`, refcount freeze, `__split_huge_page`). The same
//! patch added the PMD half to `page_vma_mapped_walk`: "If PVMW_SYNC, take and drop THP pmd
//! lock so that we cannot return prematurely, while zap_huge_pmd() has cleared *pmd but not
//! decremented compound_mapcount()".
//!
//! ```text
//! zap_huge_pmd() (munmap)                try_to_migrate_one() (split, folio locked)
//! ------------------------------------   ------------------------------------------
//! SPIN(pmd lock)
//! pmdp_huge_get_and_clear_full() -> none
//!                                        PVMW: pmdp_get_lockless sees none
//!                                          without PVMW_SYNC: step over the PMD
//!                                        walk ends; folio_mapped() still TRUE  [I2]
//! page_remove_rmap(compound)  (entire mapcount 0)
//! UNSPIN(pmd lock)
//! ```
//!
//! The walk meets the PMD first only since 60fbb14396d5 moved `try_to_migrate_one`'s PMD
//! split into its walk (`split_huge_pmd_locked` under the PMD lock the walk returned). From
//! fec89c109f3a until then the split came first — `split_huge_pmd_address`, which takes the
//! PMD lock and so waits for `zap_huge_pmd` to finish — and the PMD form could not fail even
//! without `TTU_SYNC`: `no-ttu-sync-pmd-split-first` is that kernel, clean.
//!
//! Oracle: I2, the in-path assertion of `unmap_folio`.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::Pmd;
use mmlab_engine::ops::huge_memory::madvise_hugepage;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::split_huge_page::split_huge_page;
use mmlab_engine::ops::{access, munmap, page_alloc, split, ttu};

/// The scenario.
#[derive(Debug)]
pub struct TtuSync;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since 732ed55823fc.
    Fixed,
    /// Before it.
    NoTtuSync,
    /// The PMD form, the kernel since 732ed55823fc (and 60fbb14396d5).
    FixedPmd,
    /// The PMD form before 732ed55823fc, on a kernel whose walk meets the PMD first.
    NoTtuSyncPmd,
    /// The PMD form before 732ed55823fc with the PMD split before the walk (fec89c109f3a to
    /// 60fbb14396d5): clean.
    NoTtuSyncPmdSplitFirst,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[
        Variant::Fixed,
        Variant::NoTtuSync,
        Variant::FixedPmd,
        Variant::NoTtuSyncPmd,
        Variant::NoTtuSyncPmdSplitFirst,
    ];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => {
                VariantInfo::clean("fixed", "unmap_folio passes TTU_SYNC (732ed55823fc)")
            }
            Variant::NoTtuSync => VariantInfo::race(
                "no-ttu-sync",
                "before 732ed55823fc: PVMW skips an empty-looking PTE without the PTL",
            ),
            Variant::FixedPmd => VariantInfo::clean(
                "fixed-pmd",
                "PMD-mapped THP vs zap_huge_pmd: PVMW_SYNC takes and drops the PMD lock (732ed55823fc)",
            ),
            Variant::NoTtuSyncPmd => VariantInfo::race(
                "no-ttu-sync-pmd",
                "PMD-mapped THP, no TTU_SYNC, the split in the walk (60fbb14396d5): PVMW steps over the cleared PMD",
            ),
            Variant::NoTtuSyncPmdSplitFirst => VariantInfo::clean(
                "no-ttu-sync-pmd-split-first",
                "PMD-mapped THP, no TTU_SYNC, split_huge_pmd_address before the walk: its PMD lock waits for the zap",
            ),
        }
    }
}

impl Scenario for TtuSync {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "ttu-sync",
        title: "zap vs THP split's unmap: the unlocked PVMW skip",
        commit: "732ed55823fc",
        source: include_str!("ttu_sync.rs"),
        oracles: &[Oracle::I2TtuSync],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed | Variant::FixedPmd => {}
            Variant::NoTtuSync | Variant::NoTtuSyncPmd => {
                kernel.rmap.unmap_folio = split::unmap_page_v5_12
            }
            Variant::NoTtuSyncPmdSplitFirst => {
                kernel.rmap.unmap_folio = split::unmap_page_v5_12;
                kernel.rmap.try_to_migrate_one = ttu::try_to_migrate_one_v6_14;
            }
        }
        match variant {
            Variant::Fixed | Variant::NoTtuSync => run_pte(kernel, size, env),
            Variant::FixedPmd | Variant::NoTtuSyncPmd | Variant::NoTtuSyncPmdSplitFirst => {
                run_pmd(kernel, size, env)
            }
        }
    }
}

/// The PTE form: order-0 pages, `zap_pte_range` against the split's unmap step.
fn run_pte(kernel: Kernel, size: Size, env: &Env) -> Outcome {
    let w = kit::world(size, 2, kernel, |_| {});
    let pages = match size {
        Size::Tiny => 1,
        Size::Stress => 4,
    };
    let mm = mm_alloc(&w).expect("mm");
    let vma = mmap(&w, mm, 0, pages, MapKind::Anon).expect("mmap");
    let mut pfns = Vec::new();
    for va in 0..pages {
        access::store(&w, 0, mm, va, va + 1).expect("populate");
        let pfn = w.pte_at(mm, va).and_then(|p| p.pfn()).expect("mapped");
        // The splitter's reference (it holds the THP).
        page_alloc::get_page(&w, pfn);
        pfns.push(pfn);
    }
    let (wz, ws) = (w.clone(), w.clone());
    let split_pfns = pfns.clone();
    let actors = vec![
        actor("zap", move || {
            let _ = munmap::munmap(&wz, mm, vma);
        }),
        actor("split", move || {
            for pfn in split_pfns {
                let page = lock_page(&ws, pfn);
                split::split_unmap_and_remap(&ws, &page);
                page.unlock();
                page_alloc::put_page(&ws, pfn);
            }
        }),
    ];
    kit::run(env, &w, actors)
}

/// The PMD form: PMD-mapped THPs (`MADV_HUGEPAGE`, one THP fault per PMD), munmap's
/// `zap_huge_pmd` against `split_huge_page`. The splitter holds a reference to each THP, as
/// the kernel's callers do (`deferred_split_scan`, `split_huge_page_to_list` from reclaim);
/// whether its split succeeds or backs off (-EAGAIN while the zapper's gather still holds
/// the PMD's reference) is the kernel's business — I2 and the quiescent checks judge it.
fn run_pmd(kernel: Kernel, size: Size, env: &Env) -> Outcome {
    let w = kit::world(size, 2, kernel, |_| {});
    let per = w.cfg.ptes_per_table as u64;
    let thps = match size {
        Size::Tiny => 1,
        Size::Stress => 2,
    };
    let mm = mm_alloc(&w).expect("mm");
    let vma = mmap(&w, mm, 0, thps * per, MapKind::Anon).expect("mmap");
    madvise_hugepage(&w, mm, 0, thps * per).expect("MADV_HUGEPAGE");
    let mut heads = Vec::new();
    for t in 0..thps {
        access::store(&w, 0, mm, t * per, t + 1).expect("THP fault");
        let Pmd::Huge { pfn, .. } = w.mms.get(mm).pmdp_get_lockless(t as usize) else {
            panic!("the THP fault left no huge PMD")
        };
        page_alloc::get_page(&w, pfn);
        heads.push(pfn);
    }
    let (wz, ws) = (w.clone(), w.clone());
    let actors = vec![
        actor("split", move || {
            for head in heads {
                let page = lock_page(&ws, head);
                let _ = split_huge_page(&ws, &page);
                page.unlock();
                page_alloc::put_page(&ws, head);
            }
        }),
        // Last: under loom it runs first, so that one preemption inside zap_huge_pmd is the
        // race.
        actor("zap", move || {
            let _ = munmap::munmap(&wz, mm, vma);
        }),
    ];
    kit::run(env, &w, actors)
}
