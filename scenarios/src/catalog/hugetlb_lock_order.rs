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

use super::common::{self, actor};
use crate::scenario::{Expect, Outcome, Scenario, Size, Variant};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::migrate::{self, NewPagePool};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, hugetlb};

/// The scenario.
#[derive(Debug)]
pub struct HugetlbLockOrder;

const VARIANTS: &[Variant] = &[
    Variant {
        name: "fixed",
        expected: Expect::Clean,
        summary: "i_mmap_rwsem held for write across remove_migration_ptes (b7880cb166ab)",
    },
    Variant {
        name: "imap-after-folio",
        expected: Expect::Race,
        summary: "336bf30eb765..b7880cb166ab: remove_migration_ptes takes i_mmap_rwsem under the folio lock",
    },
];

impl Scenario for HugetlbLockOrder {
    fn name(&self) -> &'static str {
        "hugetlb-lock-order"
    }
    fn title(&self) -> &'static str {
        "hugetlb migration vs hole punch: i_mmap_rwsem taken under the folio lock"
    }
    fn commit(&self) -> &'static str {
        "b7880cb166ab"
    }
    fn story(&self) -> String {
        common::story(include_str!("hugetlb_lock_order.rs"))
    }
    fn variants(&self) -> &'static [Variant] {
        VARIANTS
    }
    fn oracles(&self) -> &'static [Oracle] {
        &[Oracle::I15Lockdep, Oracle::Hang]
    }
    fn run(&self, variant: &str, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        if variant != "fixed" {
            kernel.migrate.unmap_and_move_huge_page =
                migrate::unmap_and_move_huge_page_pre_b7880cb166ab;
        }
        let w = common::world(size, 2, kernel, |c| c.files = vec![(2, true)]);
        let folios = match size {
            Size::Tiny => 1,
            Size::Stress => 2,
        };
        let rounds = common::rounds(size, 8) as u64;
        let file = w.file(0);
        // One mm maps the hugetlbfs file shared and faults its folios in.
        let mm = mm_alloc(&w).expect("mm");
        let shared = MapKind::File {
            file,
            pgoff: 0,
            shared: true,
        };
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
                        common::migrate_hugetlb_index(&wm, &pool, file, index);
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
        common::run(env, &w, actors)
    }
}
