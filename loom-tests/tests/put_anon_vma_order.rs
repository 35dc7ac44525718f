//! put-anon-vma-order under loom (624483f3ea82): a migrator's pin makes its put the child
//! anon_vma's last, racing the child's exit. The fixed `__put_anon_vma` frees the child before
//! it drops the root's reference, so no interleaving reads a freed root; the v3.15 order frees
//! the root first, and loom finds the interleaving where `anon_vma_free(child)` reads it.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::put_anon_vma_order::{PutAnonVmaOrder, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        // Every interleaving: 1,934 executions.
        Variant::Fixed => Bound::Unbounded,
        Variant::RootFreedFirst => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_frees_the_child_before_its_root_in_every_interleaving() {
    explore(&PutAnonVmaOrder, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn root_freed_first_is_caught_reading_the_freed_root() {
    explore(
        &PutAnonVmaOrder,
        Variant::RootFreedFirst,
        bound(Variant::RootFreedFirst),
    )
    .assert_caught();
}
