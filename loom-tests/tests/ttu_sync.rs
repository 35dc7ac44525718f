//! ttu-sync under loom: zap racing THP split's unmap (732ed55823fc). With TTU_SYNC the walk
//! waits on the PTL for an empty-looking PTE, so no interleaving leaves the page mapped;
//! without it, loom finds the one where the unlocked PVMW skip sees the cleared PTE before
//! the zapper drops the rmap, and I2 fires.
//!
//! The PMD form: a PMD-mapped THP, `zap_huge_pmd` against `split_huge_page`. With TTU_SYNC
//! the walk takes and drops the PMD lock at an empty PMD; without it, on a kernel whose
//! `try_to_migrate_one` meets the PMD in its walk (60fbb14396d5), the walk steps over the PMD
//! `zap_huge_pmd` has just cleared and I2 fires; with the PMD split before the walk
//! (`split_huge_pmd_address`, the kernel until 60fbb14396d5) the split's PMD lock waits for
//! the zap, and no interleaving fails even without TTU_SYNC.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::ttu_sync::{TtuSync, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(6),
        Variant::NoTtuSync => Bound::Preemptions(3),
        // The PMD form: 11,342 / 21 / 6,965 executions at these bounds (about 2 s for each
        // clean one; bound 8 took minutes on two loaded cores).
        Variant::FixedPmd => Bound::Preemptions(5),
        Variant::NoTtuSyncPmd => Bound::Preemptions(2),
        Variant::NoTtuSyncPmdSplitFirst => Bound::Preemptions(5),
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

#[test]
fn fixed_pmd_split_waits_for_zap_huge_pmd_in_every_interleaving() {
    explore(&TtuSync, Variant::FixedPmd, bound(Variant::FixedPmd)).assert_clean();
}

#[test]
fn no_ttu_sync_pmd_is_caught_by_i2() {
    explore(
        &TtuSync,
        Variant::NoTtuSyncPmd,
        bound(Variant::NoTtuSyncPmd),
    )
    .assert_caught();
}

#[test]
fn no_ttu_sync_pmd_split_first_is_clean_the_split_waits_on_the_pmd_lock() {
    explore(
        &TtuSync,
        Variant::NoTtuSyncPmdSplitFirst,
        bound(Variant::NoTtuSyncPmdSplitFirst),
    )
    .assert_clean();
}

/// What a developer sees when a clean-expected exploration fails: the race variant explored
/// as if it had to be clean. `loom-tests/report.sh` runs it and pastes the output into
/// docs/LOOM.md.
#[test]
#[ignore = "demonstrates a failure report; run by loom-tests/report.sh"]
fn failure_report_example() {
    explore(&TtuSync, Variant::NoTtuSync, bound(Variant::NoTtuSync)).assert_clean();
}
