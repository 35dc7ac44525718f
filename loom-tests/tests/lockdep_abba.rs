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
use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use std::sync::Arc;

/// Two paths, two locks; the `inverted` variant takes them against the mm order.
#[derive(Debug)]
struct Abba;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `in-order`: both paths take mmap_lock, then i_mmap_rwsem
    InOrder,
    /// `inverted`: the second path takes i_mmap_rwsem, then mmap_lock: ABBA
    Inverted,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::InOrder, Variant::Inverted];
    fn info(self) -> VariantInfo {
        match self {
            Variant::InOrder => {
                VariantInfo::clean("in-order", "both paths take mmap_lock, then i_mmap_rwsem")
            }
            Variant::Inverted => VariantInfo::race(
                "inverted",
                "the second path takes i_mmap_rwsem, then mmap_lock: ABBA",
            ),
        }
    }
}

impl Scenario for Abba {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "lockdep-abba",
        title: "ABBA on mmap_lock and i_mmap_rwsem: lockdep fires before the deadlock",
        commit: "mm/rmap.c lock order",
        source: concat!(
            "//! ",
            "ABBA on mmap_lock and i_mmap_rwsem: lockdep fires before the deadlock"
        ),
        oracles: &[Oracle::I15Lockdep],
        long_running: false,
    };
    fn run(&self, variant: Variant, _size: Size, env: &Env) -> Outcome {
        let locks = Arc::new((
            RwSem::new(LockClass::MmapLock, ()),
            RwSem::new(LockClass::IMmapRwsem, ()),
        ));
        let inverted = match variant {
            Variant::InOrder => false,
            Variant::Inverted => true,
        };
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

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::InOrder => Bound::Unbounded,
        Variant::Inverted => Bound::Unbounded,
    }
}

#[test]
fn in_order_never_deadlocks() {
    explore(&Abba, Variant::InOrder, bound(Variant::InOrder)).assert_clean();
}

#[test]
fn inverted_is_reported_by_lockdep_before_it_can_deadlock() {
    explore(&Abba, Variant::Inverted, bound(Variant::Inverted)).assert_caught();
}
