//! migrate-vs-fault under loom: faults on migration entries vs the migration's refcount freeze
//! (ffa65753c431). Waiters that queue under the PTL and hold no reference never make the
//! freeze fail; waiters that sleep holding a page reference do, and loom finds the
//! interleaving where migration gives up.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::migrate_vs_fault::{MigrateVsFault, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(7),
        Variant::WaitTakesRef => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_migration_completes_in_every_interleaving() {
    explore(&MigrateVsFault, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn wait_takes_ref_is_caught_failing_the_freeze() {
    explore(
        &MigrateVsFault,
        Variant::WaitTakesRef,
        bound(Variant::WaitTakesRef),
    )
    .assert_caught();
}
