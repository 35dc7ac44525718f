//! punch-hole-fault under loom: a hole punch racing a page fault that fills the page cache
//! (730633f0b7f9, v5.15). With `filemap_fault` taking `invalidate_lock` shared on a miss, the
//! fault's page is either in the cache before the punch evicts it or read after the blocks are
//! freed; without it (the generic fault of 5.14), loom finds the interleaving in which the
//! fault reads block 1, the punch evicts nothing and frees the block, and the fault caches the
//! freed block's data over the hole: I23 fires.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::punch_hole_fault::{PunchHoleFault, Variant};

/// Every variant's pinned bound, one exhaustive `match`.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(3),
        Variant::FilemapFaultV5_14 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_never_caches_a_freed_block() {
    explore(&PunchHoleFault, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn filemap_fault_v5_14_is_caught_by_i23() {
    explore(
        &PunchHoleFault,
        Variant::FilemapFaultV5_14,
        bound(Variant::FilemapFaultV5_14),
    )
    .assert_caught();
}
