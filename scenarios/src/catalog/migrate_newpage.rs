//! `migrate-newpage`: page migration's handling of its newpage — "[PATCH 04/24] mm: make page
//! migration's newpage handling more robust" (Hugh Dickins, Feb 2015), written for huge
//! tmpfs's custom pool of newpages (`get_new_page` / `put_new_page`).
//!
//! Two bugs the patch removed, each a variant:
//!
//! ```text
//! bug-on-locked-newpage                       speculative locker (stale lookup)
//! ----------------------------------------    ---------------------------------
//!                                              get_page_unless_zero(N); trylock(N)
//! __unmap_and_move: PGLOCK(P) ...
//! move_to_new_page: if (!trylock_page(N))
//!                       BUG();          [BUG]
//!                                              unlock(N); put_page(N)
//!
//! putback-wrong-pool                          munmap
//! ----------------------------------------    ---------------------------------
//! isolate P (REF 2), N = get_new_page()
//!                                              zap: P's mapping reference goes
//! unmap_and_move: page_count(P) == 1:
//!   "freed under us", rc = SUCCESS
//! out: rc == SUCCESS -> putback_lru_page(N)
//!   => an unused N leaves its pool       [pool accounting]
//! ```
//!
//! The fix trylocks N at the level of P and backs off with -EAGAIN, and resets `put_new_page`
//! only when N was really used, so an unused N always returns to its pool.
//!
//! Oracles: the `BUG_ON` as a violation; pool accounting.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::migrate::{
    self, NewPagePool, isolate_lru_page, migrate_pages, putback_lru_page,
};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap, page_alloc};
use mmlab_engine::race_window;
use mmlab_engine::sync::Arc;

/// The scenario.
#[derive(Debug)]
pub struct MigrateNewpage;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: v4.4+: trylock newpage, back off; unused newpage always to put_new_page
    Fixed,
    /// `bug-on-locked-newpage`: pre-2015 BUG_ON(!trylock_page(newpage)) in move_to_new_page
    BugOnLockedNewpage,
    /// `putback-wrong-pool`: pre-2015: the freed-under-us success path releases newpage with putback_lru_page
    PutbackWrongPool,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[
        Variant::Fixed,
        Variant::BugOnLockedNewpage,
        Variant::PutbackWrongPool,
    ];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "v4.4+: trylock newpage, back off; unused newpage always to put_new_page",
            ),
            Variant::BugOnLockedNewpage => VariantInfo::race(
                "bug-on-locked-newpage",
                "pre-2015 BUG_ON(!trylock_page(newpage)) in move_to_new_page",
            ),
            Variant::PutbackWrongPool => VariantInfo::race(
                "putback-wrong-pool",
                "pre-2015: the freed-under-us success path releases newpage with putback_lru_page",
            ),
        }
    }
}

impl Scenario for MigrateNewpage {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "migrate-newpage",
        title: "migration's newpage: locked by a speculative locker, released outside its pool",
        commit: "mm: make page migration's newpage handling more robust (Hugh Dickins, 2015)",
        source: include_str!("migrate_newpage.rs"),
        oracles: &[Oracle::Bug, Oracle::PoolAccounting],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::BugOnLockedNewpage => {
                kernel.migrate.__unmap_and_move = migrate::__unmap_and_move_v4_3
            }
            Variant::PutbackWrongPool => {
                kernel.migrate.unmap_and_move = migrate::unmap_and_move_v4_3
            }
        }
        let w = kit::world(size, 3, kernel, |_| {});
        let mm = mm_alloc(&w).expect("mm");
        let vma = mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap");
        access::store(&w, 0, mm, 0, 3).expect("populate");
        let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
        assert!(
            isolate_lru_page(&w, pfn),
            "a freshly faulted page is on the LRU"
        );
        let pool = Arc::new(NewPagePool::new(&w, 2));
        let (wm, wx, wz) = (w.clone(), w.clone(), w.clone());
        let (pm, px) = (pool.clone(), pool.clone());
        let tries = kit::rounds(size, 8);
        let actors = vec![
            actor("migrator", move || {
                let failed = migrate_pages(&wm, &pm, &[pfn]);
                for p in failed {
                    putback_lru_page(&wm, p);
                }
            }),
            actor("speculative", move || {
                // A stale lookup (a page-cache or pfn walker holding an old pointer) that
                // briefly locks whatever page now sits there: here, the pool's pages.
                for _ in 0..tries {
                    for n in px.available() {
                        if !page_alloc::get_page_unless_zero(&wx, n) {
                            continue;
                        }
                        if let Some(g) = wx.page(n).lock().try_lock() {
                            race_window!("speculative locker: newpage locked");
                            drop(g);
                        }
                        page_alloc::put_page(&wx, n);
                    }
                }
            }),
            actor("munmap", move || {
                let _ = munmap::munmap(&wz, mm, vma);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
