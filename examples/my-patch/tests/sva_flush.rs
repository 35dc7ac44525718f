//! sva-flush under loom: MADV_DONTNEED vs a device TLB that refills from the CPU page table
//! (34ee645e83b6). With the secondary-TLB invalidation at the flush no interleaving leaves
//! the device a translation to a freed page; with only start/end, loom finds the one where
//! the device translates while the zap is under way and the page is freed first (I13).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use my_patch::sva_flush::{SvaFlush, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile. The fix is
/// explored in every interleaving (51 executions); the bug is found within 3 preemptions.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Unbounded,
        Variant::NoInvalidateRange => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_device_never_keeps_a_freed_page() {
    explore(&SvaFlush, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn no_invalidate_range_is_caught_by_i13() {
    explore(
        &SvaFlush,
        Variant::NoInvalidateRange,
        bound(Variant::NoInvalidateRange),
    )
    .assert_caught();
}
