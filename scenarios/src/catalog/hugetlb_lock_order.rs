//! `hugetlb-lock-order`: hugetlb migration taking `i_mmap_rwsem` under the folio lock —
//! b7880cb166ab "migrate: correct lock ordering for hugetlb file folios" (Matthew Wilcox,
//! January 2026; a syzbot deadlock). 336bf30eb765 (2020) had made `unmap_and_move_huge_page`
//! drop the `i_mmap_rwsem` it trylocked for `try_to_migrate` before `remove_migration_ptes`,
//! which then walks the file's rmap taking it again, for read — under the folio lock. In the
//! hugetlb hierarchy `i_mmap_rwsem` sits *above* the folio lock (the hugetlbfs order of the
//! `mm/rmap.c` header), and
//! `hugetlbfs_punch_hole` takes them in that order:
//!
//! ```text
//! unmap_and_move_huge_page() (migrator)    hugetlbfs_punch_hole() (hole-puncher)
//! --------------------------------------   --------------------------------------
//! folio_trylock(H)                 [H held]
//! i_mmap_trylock_write()  (the sanctioned
//!   inversion: a trylock)
//! try_to_migrate(H, TTU_RMAP_LOCKED)
//!   PTE -> migration entry
//! move_to_new_folio(N, H)
//! i_mmap_unlock_write()   (before the fix)
//!                                          i_mmap_lock_write()
//!                                          filemap_lock_folio(H) -> sleeps on H
//! remove_migration_ptes(locked = false)
//!   rmap_walk_file: i_mmap_lock_read()
//!     -> sleeps behind the writer
//!                  AB-BA: neither side can go on                          [I15]
//! ```
//!
//! The fix keeps the write lock it trylocked held across `remove_migration_ptes` (walking with
//! `locked = true`), restoring what c0d0381ade79 did for file hugetlb: under a hugetlb folio
//! lock, `i_mmap_rwsem` may only be trylocked or already held.
//!
//! Oracle: I15, lockdep. The blocking `i_mmap_lock_read` under the folio lock is against the
//! declared hugetlb order, and lockdep checks before it blocks: the inversion is reported the
//! first time it is taken, whether or not the hole-puncher is there to close the cycle. Under
//! loom the report panics, so the model never reaches the deadlock; on real threads the
//! deadlock may still follow the report, and the watchdog unwinds it (a `hang`, also declared).

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;

use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::migrate::{self, NewPagePool};
use mmlab_engine::ops::mmap::{mm_alloc, mmap};
use mmlab_engine::ops::{access, hugetlb};

/// The scenario.
#[derive(Debug)]
pub struct HugetlbLockOrder;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: i_mmap_rwsem held for write across remove_migration_ptes (b7880cb166ab)
    Fixed,
    /// `imap-after-folio`: 336bf30eb765..b7880cb166ab: remove_migration_ptes takes i_mmap_rwsem under the folio lock
    ImapAfterFolio,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::ImapAfterFolio];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "i_mmap_rwsem held for write across remove_migration_ptes (b7880cb166ab)",
            ),
            Variant::ImapAfterFolio => VariantInfo::race(
                "imap-after-folio",
                "336bf30eb765..b7880cb166ab: remove_migration_ptes takes i_mmap_rwsem under the folio lock",
            ),
        }
    }
}

impl Scenario for HugetlbLockOrder {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "hugetlb-lock-order",
        title: "hugetlb migration vs hole punch: i_mmap_rwsem taken under the folio lock",
        commit: "b7880cb166ab",
        source: include_str!("hugetlb_lock_order.rs"),
        oracles: &[Oracle::I15Lockdep, Oracle::Hang],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::ImapAfterFolio => {
                kernel.migrate.unmap_and_move_huge_page =
                    migrate::unmap_and_move_huge_page_pre_b7880cb166ab
            }
        }
        let w = kit::world(size, 2, kernel, |c| c.files = vec![(2, true)]);
        let folios = match size {
            Size::Tiny => 1,
            Size::Stress => 2,
        };
        let rounds = kit::rounds(size, 8) as u64;
        let file = w.file(0);
        // One mm maps the hugetlbfs file shared and faults its folios in.
        let mm = mm_alloc(&w).expect("mm");
        let shared = kit::shared_file(file, 0);
        mmap(&w, mm, 0, 2, shared).expect("mmap");
        for index in 0..folios {
            access::store(&w, 0, mm, index, index + 1).expect("fault the folio in");
        }
        // A newpage for every migration that can succeed.
        let pool = NewPagePool::new(&w, (folios * rounds) as usize);
        let (wm, wp) = (w.clone(), w.clone());
        let actors = vec![
            actor("migrator", move || {
                for _ in 0..rounds {
                    for index in 0..folios {
                        kit::migrate_hugetlb_index(&wm, &pool, file, index);
                    }
                }
            }),
            actor("hole-puncher", move || {
                for _ in 0..rounds {
                    for index in 0..folios {
                        hugetlb::hugetlbfs_punch_hole(&wp, file, index);
                    }
                }
            }),
        ];
        kit::run(env, &w, actors)
    }
}
