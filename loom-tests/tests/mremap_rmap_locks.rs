//! mremap-rmap-locks under loom: mremap's `move_normal_pmd` racing reclaim's
//! `try_to_unmap_one` and a user load (97113eb39fa7, CVE-2022-41222). With every PMD move
//! under the rmap locks the walk is done before the table moves or finds the page at its new
//! address; without them (v5.13, `need_rmap_locks` false for a new VMA) loom finds the
//! interleaving in which the walker, holding the moved table's PTL, clears the PTE now at the
//! new address and flushes the old one, while the user's TLB keeps the new address: the page
//! is freed under it, and I3 fires.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::mremap_rmap_locks::{MremapRmapLocks, Variant};

/// Every variant's pinned bound, one exhaustive `match`.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(4),
        Variant::NeedRmapLocksV5_13 => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_never_frees_a_page_a_tlb_still_maps() {
    explore(&MremapRmapLocks, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn need_rmap_locks_v5_13_is_caught_by_i3() {
    explore(
        &MremapRmapLocks,
        Variant::NeedRmapLocksV5_13,
        bound(Variant::NeedRmapLocksV5_13),
    )
    .assert_caught();
}

/// What a developer sees when a clean-expected exploration fails: the race variant explored
/// as if it had to be clean (`loom-tests/report.sh` runs it).
#[test]
#[ignore = "demonstrates a failure report; run by loom-tests/report.sh"]
fn failure_report_example() {
    explore(
        &MremapRmapLocks,
        Variant::NeedRmapLocksV5_13,
        bound(Variant::NeedRmapLocksV5_13),
    )
    .assert_clean();
}
