//! migrate-vs-fault under loom: faults on migration entries vs the migration's refcount freeze
//! (ffa65753c431). Waiters that queue under the PTL and hold no reference never make the
//! freeze fail; waiters that sleep holding a page reference do, and loom finds the
//! interleaving where migration gives up.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::migrate_vs_fault::MigrateVsFault;

#[test]
fn fixed_migration_completes_in_every_interleaving() {
    explore(&MigrateVsFault, "fixed", Bound::Preemptions(7)).assert_clean();
}

#[test]
fn wait_takes_ref_is_caught_failing_the_freeze() {
    explore(&MigrateVsFault, "wait-takes-ref", Bound::Preemptions(3)).assert_caught();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(&MigrateVsFault, &["fixed", "wait-takes-ref"]);
}
