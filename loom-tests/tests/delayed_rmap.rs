//! delayed-rmap under loom: zap vs writeback vs a store through a stale writable TLB entry
//! (5df397dec7c4). The delayed (and batched) rmap removal keeps the dirty page's rmap until
//! the TLB is flushed, under the PTL: no interleaving loses dirty data. Removing the rmap right
//! after the PTE clear loses it (I4); removing it after the PTL is released lets a TTU_SYNC
//! walker (THP split) find the PTE empty while the page still counts as mapped (I2).
//!
//! At Tiny the stale-TLB writer makes one store through the hardware and does not refault
//! (the refault path multiplied the interleavings more than a hundredfold without touching
//! the race), and the zapper is the actor loom runs first. The clean variants face the
//! lost-dirty workload here; the sync-walker workload runs against them in stress mode only.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::delayed_rmap::{DelayedRmap, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(5),
        Variant::BatchAll => Bound::Preemptions(5),
        Variant::ImmediateRmap => Bound::Preemptions(3),
        Variant::RmapAfterPtl => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_keeps_dirty_data_in_every_interleaving() {
    explore(&DelayedRmap, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn batch_all_keeps_dirty_data_in_every_interleaving() {
    explore(&DelayedRmap, Variant::BatchAll, bound(Variant::BatchAll)).assert_clean();
}

#[test]
fn immediate_rmap_is_caught_losing_dirty_data() {
    explore(
        &DelayedRmap,
        Variant::ImmediateRmap,
        bound(Variant::ImmediateRmap),
    )
    .assert_caught();
}

#[test]
fn rmap_after_ptl_is_caught_by_the_sync_walker() {
    explore(
        &DelayedRmap,
        Variant::RmapAfterPtl,
        bound(Variant::RmapAfterPtl),
    )
    .assert_caught();
}
