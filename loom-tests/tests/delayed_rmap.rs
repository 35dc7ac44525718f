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

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::delayed_rmap::DelayedRmap;

#[test]
fn fixed_keeps_dirty_data_in_every_interleaving() {
    explore(&DelayedRmap, "fixed", Bound::Preemptions(5)).assert_clean();
}

#[test]
fn batch_all_keeps_dirty_data_in_every_interleaving() {
    explore(&DelayedRmap, "batch-all", Bound::Preemptions(5)).assert_clean();
}

#[test]
fn immediate_rmap_is_caught_losing_dirty_data() {
    explore(&DelayedRmap, "immediate-rmap", Bound::Preemptions(3)).assert_caught();
}

#[test]
fn rmap_after_ptl_is_caught_by_the_sync_walker() {
    explore(&DelayedRmap, "rmap-after-ptl", Bound::Preemptions(3)).assert_caught();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(
        &DelayedRmap,
        &["fixed", "batch-all", "immediate-rmap", "rmap-after-ptl"],
    );
}
