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
//! Oracle: I2, the in-path assertion of `unmap_folio`.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::{access, munmap, page_alloc, split};

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
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::NoTtuSync];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => {
                VariantInfo::clean("fixed", "unmap_folio passes TTU_SYNC (732ed55823fc)")
            }
            Variant::NoTtuSync => VariantInfo::race(
                "no-ttu-sync",
                "before 732ed55823fc: PVMW skips an empty-looking PTE without the PTL",
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
            Variant::Fixed => {}
            Variant::NoTtuSync => kernel.rmap.unmap_folio = split::unmap_page_v5_12,
        }
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
}
