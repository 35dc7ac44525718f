//! `mlock-page-lock`: mlocking a page without its page lock, racing migration — 57e68e9cd65b
//! "mm: try_to_unmap_cluster() should lock_page() before mlocking" (Vlastimil Babka, 2014,
//! CVE-2014-3122). Old mlock scheme (≤5.17), where PG_mlocked is set under the page lock "to
//! serialise with page migration".
//!
//! ```text
//! reclaim: try_to_unmap_cluster (holds Q)     migration of P (holds P's lock)
//! ----------------------------------------    ----------------------------------------
//! nonlinear VM_LOCKED VMA: for each page
//!   P in the cluster:                          __unmap_and_move: PGLOCK(P)
//!     mlock_vma_page(P)   (P not ours!)          migrate_page_copy: PG_mlocked P -> N
//!       BUG_ON(!PageLocked(P))    [I12]
//!       or PG_mlocked set on P after it was
//!       moved: left on the old page       [I11]
//! ```
//!
//! The fix trylocks each page before mlocking it and skips the pages it cannot lock.
//!
//! Oracles: I12 (`mlock_vma_page` with the page unlocked — the kernel's own BUG_ON) and I11.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{MmId, Pfn, World};
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages, putback_lru_page};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::pagemap::trylock_page;
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::{access, munlock, page_alloc};

/// The scenario.
#[derive(Debug)]
pub struct MlockPageLock;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: 57e68e9cd65b: trylock the page before mlock_vma_page
    Fixed,
    /// `mlock-without-page-lock`: before 57e68e9cd65b: try_to_unmap_cluster mlocks pages it has not locked
    MlockWithoutPageLock,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::MlockWithoutPageLock];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "57e68e9cd65b: trylock the page before mlock_vma_page",
            ),
            Variant::MlockWithoutPageLock => VariantInfo::race(
                "mlock-without-page-lock",
                "before 57e68e9cd65b: try_to_unmap_cluster mlocks pages it has not locked",
            ),
        }
    }
}

/// The page mapped at `va` (under its PTL), with a reference.
fn follow(w: &World, mm: MmId, va: u64) -> Option<Pfn> {
    let pte = pte_offset_map_lock(w, mm, va)?;
    let pfn = pte.get().pfn()?;
    page_alloc::get_page_unless_zero(w, pfn).then_some(pfn)
}

impl Scenario for MlockPageLock {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "mlock-page-lock",
        title: "mlock_vma_page without the page lock vs migration (CVE-2014-3122)",
        commit: "57e68e9cd65b",
        source: include_str!("mlock_page_lock.rs"),
        oracles: &[Oracle::I12MlockLocking, Oracle::I11Mlock],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let locked = match variant {
            Variant::Fixed => true,
            Variant::MlockWithoutPageLock => false,
        };
        let mut kernel = Kernel::default();
        kernel.mlock.scheme = MlockScheme::PageMlock;
        let w = kit::world(size, 2, kernel, |_| {});
        let file = w.file(0);
        let mm = mm_alloc(&w).expect("mm");
        let vma = kit::mmap_shared_file(&w, mm, 0, 2, file);
        access::store(&w, 0, mm, 0, 1).expect("populate");
        munlock::mlock(&w, mm, vma).expect("mlock");
        let rounds = kit::rounds(size, 4);
        let (wm, wr) = (w.clone(), w.clone());
        let actors = vec![
            actor("migrate", move || {
                let pool = NewPagePool::new(&wm, rounds);
                for _ in 0..rounds {
                    let Some(p) = follow(&wm, mm, 0) else { return };
                    page_alloc::put_page(&wm, p);
                    if !isolate_lru_page(&wm, p) {
                        continue;
                    }
                    for f in migrate_pages(&wm, &pool, &[p]) {
                        putback_lru_page(&wm, f);
                    }
                }
            }),
            actor("reclaim", move || {
                for _ in 0..rounds {
                    // try_to_unmap_cluster: reclaim holds Q (page 1) and walks the cluster
                    // around it in the VM_LOCKED VMA, mlocking what it finds mapped.
                    // As the kernel does, it scans the cluster under the PTL of its table and
                    // mlocks only present pages: without the PTL a page could be migrated away
                    // and freed between the PTE read and the mlock, whatever the page lock.
                    let Some(q) = follow(&wr, mm, 1) else { return };
                    if let Some(qg) = trylock_page(&wr, q) {
                        if let Some(ptl) = pte_offset_map_lock(&wr, mm, 0)
                            && let Pte::Present { pfn: p, .. } = ptl.get()
                        {
                            if locked {
                                if let Some(pg) = trylock_page(&wr, p) {
                                    (wr.kernel.mlock.mlock_vma_page)(&wr, p);
                                    drop(pg);
                                }
                            } else {
                                (wr.kernel.mlock.mlock_vma_page)(&wr, p);
                            }
                            drop(ptl);
                        }
                        drop(qg);
                    }
                    page_alloc::put_page(&wr, q);
                }
            }),
        ];
        kit::run(env, &w, actors)
    }
}
