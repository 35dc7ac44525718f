//! notifier-range under loom (the 4.4 backport of 017b1660df89, 369ea8242c0f, e649b3f0188f):
//! a secondary MMU mirrors
//! an mm whose shared hugetlb table a migration unshares. With start/end brackets (range
//! widened for PMD sharing) and the device's sequence check, no interleaving leaves the device
//! translating to a page that was unmapped or freed; the 4.4 single-page `invalidate_page`
//! after the PTL, and a refresh without `mmu_invalidate_retry`, each leave one (I13).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::notifier_range::NotifierRange;

#[test]
fn fixed_never_leaves_a_stale_secondary_translation() {
    explore(&NotifierRange, "fixed", Bound::Preemptions(7)).assert_clean();
}

#[test]
fn invalidate_page_after_ptl_is_caught_by_i13() {
    explore(
        &NotifierRange,
        "invalidate-page-after-ptl",
        Bound::Preemptions(3),
    )
    .assert_caught();
}

#[test]
fn refresh_without_seq_is_caught_by_i13() {
    explore(&NotifierRange, "refresh-without-seq", Bound::Preemptions(3)).assert_caught();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(
        &NotifierRange,
        &["fixed", "invalidate-page-after-ptl", "refresh-without-seq"],
    );
}
