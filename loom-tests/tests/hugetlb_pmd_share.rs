//! hugetlb-pmd-share under loom (017b1660df89): two mms share a hugetlb page table; one
//! migrates the page while the other's CPU holds a writable TLB entry for it. The fixed walk
//! unshares the table for each sharer (flushing that mm's TLB) and goes on until the page is
//! really unmapped; without unsharing it stops after the first sharer, and the second keeps
//! writing the old page after the copy (a lost store, or the old page freed under its TLB).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::hugetlb_pmd_share::{HugetlbPmdShare, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(6),
        Variant::NoUnshare => Bound::Preemptions(3),
    }
}

/// The fix: bound 6 (`bound`) is about 200,000 executions, 35 s. Since the fault takes
/// `hugetlb_fault`'s fault mutex and hugetlb VMA lock (and the walk
/// `hugetlb_vma_trylock_write`), an unbounded exploration no longer ends within two minutes.
#[test]
fn fixed_migrates_a_shared_table_page_without_losing_a_store() {
    explore(&HugetlbPmdShare, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn no_unshare_is_caught_by_a_lost_store_or_i3() {
    explore(
        &HugetlbPmdShare,
        Variant::NoUnshare,
        bound(Variant::NoUnshare),
    )
    .assert_caught();
}
