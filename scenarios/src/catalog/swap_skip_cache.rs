//! `swap-skip-cache`: two faults on one swap entry of a `SWP_SYNCHRONOUS_IO` device —
//! 13ddaf26be32 "mm/swap: fix race when skipping swapcache" (Kairui Song, February 2024,
//! v6.8; thread "[PATCH v4] mm/swap: fix race when skipping swapcache", linux-mm). The path
//! that skips the swap cache came with 0bcac06f27d7 "mm, swap: skip swapcache for swapin of
//! synchronous device" (4.15): from then until 6.8, two threads of one process faulting on the
//! same swap PTE each read the slot into a folio of their own, and nothing but `pte_same`
//! stood between the slower one and a stale page.
//!
//! ```text
//! do_swap_page() (cpu0, a read)          do_swap_page() (cpu1, a write), same entry
//! ------------------------------------   ------------------------------------------
//! __swap_count(entry) == 1: skip cache   __swap_count(entry) == 1: skip cache
//! alloc folio A, swap_read_folio(A)      alloc folio B, swap_read_folio(B)
//! <slow>                                 pte_same, swap_free(entry): the slot is free
//!                                        set_pte_at(B); the store lands in B
//!                                        reclaim: add_to_swap gets the same slot,
//!                                        try_to_unmap: the PTE is the same swap entry
//!                                        again, pageout writes B's data to it
//! pte_same(): the same entry — passes
//! swap_free(entry): B's slot freed
//! set_pte_at(A): the stale folio is mapped, cpu1's store is lost       [lost-store]
//! ```
//!
//! The fix: the skipping path first claims the slot's `SWAP_HAS_CACHE` with
//! `swapcache_prepare` ("Prevent parallel swapin from proceeding with the cache flag"); a
//! second fault that finds it taken sleeps a tick and returns, to fault again once the first
//! has mapped its folio and `swapcache_clear`ed; meanwhile the slot cannot be freed and
//! reused. (01626a182302 later replaced the one-tick sleep by a wait queue; not modelled.)
//!
//! Oracle: the lost store (cpu1's store, recorded when it landed in B, is not in the page the
//! PTE maps at rest). The slot counts stay consistent (I20 holds in both variants): the ABA
//! loses data, not a slot.
//!
//! Simplification (docs/MODEL.md §17): the model's swap allocator takes the lowest free slot,
//! so the freed slot is the one reused; the kernel's reuses it when the device is nearly full
//! or its per-CPU cluster lands there.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::WorldConfig;
use mmlab_engine::mm::swap::swp;
use mmlab_engine::ops::access;
use mmlab_engine::ops::do_swap_page;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::reclaim::{Reclaimed, reclaim_anon_page};

/// The scenario.
#[derive(Debug)]
pub struct SwapSkipCache;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since 13ddaf26be32 (6.8): `swapcache_prepare` before the direct read.
    Fixed,
    /// 0bcac06f27d7 (4.15) to 13ddaf26be32: the direct read with nothing held.
    NoSwapcachePrepare,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::NoSwapcachePrepare];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "the skipping swap-in claims SWAP_HAS_CACHE with swapcache_prepare (13ddaf26be32)",
            ),
            Variant::NoSwapcachePrepare => VariantInfo::race(
                "no-swapcache-prepare",
                "before 13ddaf26be32: two faults read one entry; pte_same passes on the reused slot (ABA)",
            ),
        }
    }
}

impl Scenario for SwapSkipCache {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "swap-skip-cache",
        title: "two swap-ins of one entry skipping the swap cache: the pte_same ABA",
        commit: "13ddaf26be32",
        source: include_str!("swap_skip_cache.rs"),
        oracles: &[Oracle::LostStore, Oracle::I20SwapMap],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        if variant == Variant::NoSwapcachePrepare {
            kernel.fault.do_swap_page = do_swap_page::do_swap_page_v6_7;
        }
        // One mm, one VMA, one PTE, and pages for the first swap-out and the two faults'
        // folios, at every size: the race is on one entry.
        let _ = size;
        let w = kit::world(size, 2, kernel, |c| *c = WorldConfig::single(3, vec![]));
        // swapon of a zram-like device.
        w.swap.set_flag(swp::SYNCHRONOUS_IO, true);
        let mm = mm_alloc(&w).expect("mm");
        mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap");
        access::store(&w, 0, mm, 0, 1).expect("populate");
        let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
        assert_eq!(reclaim_anon_page(&w, pfn), Reclaimed::Freed, "swapped out");
        let (wr, ww) = (w.clone(), w.clone());
        let actors = vec![
            actor("write-reclaim", move || {
                // A write fault swaps the entry in, the store lands, and reclaim swaps the
                // page out again — to the slot the fault freed.
                if access::store(&ww, 0, mm, 0, 2).is_ok()
                    && let Some(pfn) = ww.pte_at(mm, 0).and_then(|p| p.pfn())
                {
                    let _ = reclaim_anon_page(&ww, pfn);
                }
            }),
            // Last: under loom it runs first, so that one preemption after its read is the
            // race.
            actor("read", move || {
                let _ = access::load(&wr, 1, mm, 0);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
