//! The lost-store oracle has no false positives: a CPU that already caches a page writable and
//! dirty keeps storing to it while munmap or MADV_DONTNEED tears it down. A store before the
//! teardown returns may land in the old page (legitimately: the flush has not happened yet);
//! after it returns, the store faults — SIGSEGV after munmap, a fresh page after
//! MADV_DONTNEED, through a new PTE and a new TLB entry. Neither is a lost store, in any
//! interleaving (`negative_controls.rs` has the broken munmap that makes one).
//!
//! ```text
//! storer (cpu0, entry cached W+D)         zapper (cpu1)
//! store 8; store 9                        munmap | MADV_DONTNEED of va 0
//!   (through the entry, or faulting)        zap: clear, flush (IPI to cpu0), free; return
//! ```
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::{Oracle, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{Error, access, munmap};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};

#[derive(Debug)]
struct LostStore;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `munmap`: stores through a cached entry racing munmap
    Munmap,
    /// `dontneed`: stores through a cached entry racing MADV_DONTNEED, then refaulting
    Dontneed,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Munmap, Variant::Dontneed];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Munmap => {
                VariantInfo::clean("munmap", "stores through a cached entry racing munmap")
            }
            Variant::Dontneed => VariantInfo::clean(
                "dontneed",
                "stores through a cached entry racing MADV_DONTNEED, then refaulting",
            ),
        }
    }
}

impl Scenario for LostStore {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "lost-store",
        title: "stores racing munmap / MADV_DONTNEED are never reported lost",
        commit: "(oracle check)",
        source: concat!(
            "//! ",
            "stores racing munmap / MADV_DONTNEED are never reported lost"
        ),
        oracles: &[Oracle::LostStore],
        long_running: false,
    };
    fn run(&self, variant: Variant, _size: Size, env: &Env) -> Outcome {
        let munmap_it = match variant {
            Variant::Munmap => true,
            Variant::Dontneed => false,
        };
        let w = Arc::new(World::new(WorldConfig::tiny(2), Kernel::default()));
        let mm = mm_alloc(&w).expect("an mm slot");
        let vma = mmap(&w, mm, 0, 1, MapKind::Anon).expect("a VMA slot");
        access::store(&w, 0, mm, 0, 7).expect("a store faults the page in");
        let (ws, wz) = (w.clone(), w.clone());
        env.run(vec![
            (
                "storer",
                Box::new(move || {
                    for v in [8, 9] {
                        match access::store(&ws, 0, mm, 0, v) {
                            Ok(()) => {}
                            Err(Error::Segv) if munmap_it => {}
                            Err(e) => panic!("store failed: {e:?}"),
                        }
                    }
                }),
            ),
            (
                "zapper",
                Box::new(move || {
                    if munmap_it {
                        munmap::munmap(&wz, mm, vma).expect("a mapped VMA");
                    } else {
                        munmap::madvise_dontneed(&wz, mm, 0, 1).expect("a mapped range");
                    }
                }),
            ),
        ]);
        quiescent::check_world(&w);
        Outcome {
            violations: env.sink.take(),
            ..Outcome::default()
        }
    }
}

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Munmap => Bound::Unbounded,
        Variant::Dontneed => Bound::Unbounded,
    }
}

#[test]
fn stores_racing_munmap_are_never_reported_lost() {
    explore(&LostStore, Variant::Munmap, bound(Variant::Munmap)).assert_clean();
}

#[test]
fn stores_racing_madv_dontneed_and_refaulting_are_never_reported_lost() {
    explore(&LostStore, Variant::Dontneed, bound(Variant::Dontneed)).assert_clean();
}
