//! ttu-sync under loom: zap racing THP split's unmap (732ed55823fc). With TTU_SYNC the walk
//! waits on the PTL for an empty-looking PTE, so no interleaving leaves the page mapped;
//! without it, loom finds the one where the unlocked PVMW skip sees the cleared PTE before
//! the zapper drops the rmap, and I2 fires.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::ttu_sync::{TtuSync, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(6),
        Variant::NoTtuSync => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_split_unmaps_the_page_in_every_interleaving() {
    explore(&TtuSync, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn no_ttu_sync_is_caught_by_i2() {
    explore(&TtuSync, Variant::NoTtuSync, bound(Variant::NoTtuSync)).assert_caught();
}

/// What a developer sees when a clean-expected exploration fails: the race variant explored
/// as if it had to be clean. `loom-tests/report.sh` runs it and pastes the output into
/// docs/LOOM.md.
#[test]
#[ignore = "demonstrates a failure report; run by loom-tests/report.sh"]
fn failure_report_example() {
    explore(&TtuSync, Variant::NoTtuSync, bound(Variant::NoTtuSync)).assert_clean();
}
