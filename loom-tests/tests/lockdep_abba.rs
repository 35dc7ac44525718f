//! A deadlock-shaped race under loom: two paths take `mmap_lock` and `i_mmap_rwsem` in
//! opposite orders (the ABBA shape of hugetlb-lock-order, with the plain mm classes).
//!
//! ```text
//! in-order: down_read(mmap_lock)        inverted: down_write(i_mmap_rwsem)
//!           down_write(i_mmap_rwsem)              down_read(mmap_lock)   <- lockdep: I15
//! ```
//!
//! Loom cannot survive a real deadlock of the model: with every thread blocked it panics in its
//! scheduler, and unwinding from there has aborted whole test processes (loom #291). Lockdep
//! checks each blocking acquisition *before* it blocks, and under loom its report is a panic,
//! so the inverted acquisition ends the execution before any interleaving can deadlock: the
//! exploration reports I15 instead of hanging or aborting. The order itself is mm/rmap.c's
//! (`mmap_lock` above `i_mmap_rwsem`).
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::sync::{LockClass, RwSem};
use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::scenario::{Expect, Outcome, Scenario, Size, Variant};
use std::sync::Arc;

/// Two paths, two locks; the `inverted` variant takes them against the mm order.
#[derive(Debug)]
struct Abba;

const VARIANTS: &[Variant] = &[
    Variant {
        name: "in-order",
        expected: Expect::Clean,
        summary: "both paths take mmap_lock, then i_mmap_rwsem",
    },
    Variant {
        name: "inverted",
        expected: Expect::Race,
        summary: "the second path takes i_mmap_rwsem, then mmap_lock: ABBA",
    },
];

impl Scenario for Abba {
    fn name(&self) -> &'static str {
        "lockdep-abba"
    }
    fn title(&self) -> &'static str {
        "ABBA on mmap_lock and i_mmap_rwsem: lockdep fires before the deadlock"
    }
    fn commit(&self) -> &'static str {
        "mm/rmap.c lock order"
    }
    fn story(&self) -> String {
        self.title().to_string()
    }
    fn variants(&self) -> &'static [Variant] {
        VARIANTS
    }
    fn oracles(&self) -> &'static [Oracle] {
        &[Oracle::I15Lockdep]
    }
    fn run(&self, variant: &str, _size: Size, env: &Env) -> Outcome {
        let locks = Arc::new((
            RwSem::new(LockClass::MmapLock, ()),
            RwSem::new(LockClass::IMmapRwsem, ()),
        ));
        let inverted = variant == "inverted";
        let (a, b) = (locks.clone(), locks);
        env.run(vec![
            (
                "fault",
                Box::new(move || {
                    let _mmap = a.0.read();
                    let _i_mmap = a.1.write();
                }),
            ),
            (
                "truncate",
                Box::new(move || {
                    if inverted {
                        let _i_mmap = b.1.write();
                        let _mmap = b.0.read();
                    } else {
                        let _mmap = b.0.read();
                        let _i_mmap = b.1.write();
                    }
                }),
            ),
        ]);
        Outcome {
            violations: env.sink.take(),
            ..Outcome::default()
        }
    }
}

#[test]
fn in_order_never_deadlocks() {
    explore(&Abba, "in-order", Bound::Unbounded).assert_clean();
}

#[test]
fn inverted_is_reported_by_lockdep_before_it_can_deadlock() {
    explore(&Abba, "inverted", Bound::Unbounded).assert_caught();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(&Abba, &["in-order", "inverted"]);
}
