//! `migrate-vs-fault`: faults on migration entries racing the migration — the selftest
//! `tools/testing/selftests/mm/migration.c` (a migrator ping-pongs a page while readers fault on
//! it), and ffa65753c431 "mm/migrate.c: rework migration_entry_wait() to not take a pageref"
//! (Alistair Popple, 2022, v5.17).
//!
//! ```text
//! migrator (__unmap_and_move)            reader (fault on the migration entry)
//! -----------------------------------    --------------------------------------------
//! PGLOCK(P); try_to_migrate: PTE->entry
//!                                        SPIN(ptl); sees entry
//!                                        [≤5.16] get_page_unless_zero(P)  REF(P)++
//!                                        UNSPIN(ptl); sleep on PG_locked
//! move_to_new_page: REF(P) != expected
//!   -> -EAGAIN; restore PTEs; PGUNLOCK
//! (retry: the reader has not run yet, it
//!  still holds its reference)  ... x10
//!   => migrate_pages gives up              [progress]
//! ```
//!
//! v5.17+ queues the waiter on the page's wait queue while still holding the PTL and takes no
//! reference: the migrator's refcount freeze no longer sees the waiters (I7, I8).
//!
//! Oracles: I6 (no migration entry outlives its migration), I7/I8 (in-path), and for
//! `wait-takes-ref` a progress oracle: a migration that fails every pass of `migrate_pages`.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::{self, Oracle};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::access;
use mmlab_engine::ops::fault;
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages, putback_lru_page};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};

/// The scenario.
#[derive(Debug)]
pub struct MigrateVsFault;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: v5.17+: waiters queue under the PTL and hold no reference (ffa65753c431)
    Fixed,
    /// `wait-takes-ref`: before ffa65753c431: waiters hold a page reference while they sleep
    WaitTakesRef,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::WaitTakesRef];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "v5.17+: waiters queue under the PTL and hold no reference (ffa65753c431)",
            ),
            Variant::WaitTakesRef => VariantInfo::race(
                "wait-takes-ref",
                "before ffa65753c431: waiters hold a page reference while they sleep",
            ),
        }
    }
}

impl Scenario for MigrateVsFault {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "migrate-vs-fault",
        title: "faults on migration entries vs the migration's refcount freeze",
        commit: "ffa65753c431",
        source: include_str!("migrate_vs_fault.rs"),
        oracles: &[
            Oracle::Progress,
            Oracle::I6MigrationEntry,
            Oracle::I7RefFreeze,
            Oracle::I8MigrationFault,
        ],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::WaitTakesRef => {
                kernel.fault.migration_entry_wait = fault::migration_entry_wait_v5_16
            }
        }
        let readers = match size {
            Size::Tiny => 1,
            Size::Stress => 2,
        };
        let w = kit::world(size, readers + 1, kernel, |_| {});
        let mm = mm_alloc(&w).expect("mm");
        mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap");
        // Every CPU's word of the page holds 7: each reader checks its own across migration.
        for cpu in 0..=readers {
            access::store(&w, cpu, mm, 0, 7).expect("populate");
        }
        let rounds = kit::rounds(size, 4);
        let loads = kit::rounds(size, 200);
        let mut actors = Vec::new();
        let wm = w.clone();
        actors.push(actor("migrator", move || {
            let pool = NewPagePool::new(&wm, rounds);
            for round in 0..rounds {
                let Some(pfn) = wm.pte_at(mm, 0).and_then(|p| p.pfn()) else { return };
                if !isolate_lru_page(&wm, pfn) {
                    continue;
                }
                let failed = migrate_pages(&wm, &pool, &[pfn]);
                for &p in &failed {
                    putback_lru_page(&wm, p);
                }
                if !failed.is_empty() {
                    check::violation(
                        Oracle::Progress,
                        format!("round {round}: migrate_pages gave up on {pfn}: every pass failed its refcount freeze while faults waited"),
                    );
                    return;
                }
            }
        }));
        for r in 0..readers {
            let wr = w.clone();
            let name = ["reader1", "reader2"][r];
            actors.push(actor(name, move || {
                for _ in 0..loads {
                    match access::load(&wr, r + 1, mm, 0) {
                        Ok(7) => {}
                        Ok(v) => check::violation(
                            Oracle::LostStore,
                            format!("{name} read {v}, not 7, across migration"),
                        ),
                        Err(e) => check::violation(
                            Oracle::I8MigrationFault,
                            format!("{name}'s fault failed: {e:?}"),
                        ),
                    }
                }
            }));
        }
        kit::run(env, &w, actors)
    }
}
