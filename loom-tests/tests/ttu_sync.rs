//! ttu-sync under loom: zap racing THP split's unmap (732ed55823fc). With TTU_SYNC the walk
//! waits on the PTL for an empty-looking PTE, so no interleaving leaves the page mapped;
//! without it, loom finds the one where the unlocked PVMW skip sees the cleared PTE before
//! the zapper drops the rmap, and I2 fires.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::ttu_sync::TtuSync;

#[test]
fn fixed_split_unmaps_the_page_in_every_interleaving() {
    explore(&TtuSync, "fixed", Bound::Preemptions(6)).assert_clean();
}

#[test]
fn no_ttu_sync_is_caught_by_i2() {
    explore(&TtuSync, "no-ttu-sync", Bound::Preemptions(3)).assert_caught();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(&TtuSync, &["fixed", "no-ttu-sync"]);
}

/// What a developer sees when a clean-expected exploration fails: the race variant explored
/// as if it had to be clean. `loom-tests/report.sh` runs it and pastes the output into
/// docs/LOOM.md.
#[test]
#[ignore = "demonstrates a failure report; run by loom-tests/report.sh"]
fn failure_report_example() {
    explore(&TtuSync, "no-ttu-sync", Bound::Preemptions(3)).assert_clean();
}
