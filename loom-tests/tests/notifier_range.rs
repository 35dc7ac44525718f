//! notifier-range under loom (the 4.4 backport of 017b1660df89, 369ea8242c0f, e649b3f0188f):
//! a secondary MMU mirrors
//! an mm whose shared hugetlb table a migration unshares. With start/end brackets (range
//! widened for PMD sharing) and the device's sequence check, no interleaving leaves the device
//! translating to a page that was unmapped or freed; the 4.4 single-page `invalidate_page`
//! after the PTL, and a refresh without `mmu_invalidate_retry`, each leave one (I13).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::notifier_range::{NotifierRange, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(7),
        Variant::InvalidatePageAfterPtl => Bound::Preemptions(3),
        Variant::RefreshWithoutSeq => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_never_leaves_a_stale_secondary_translation() {
    explore(&NotifierRange, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn invalidate_page_after_ptl_is_caught_by_i13() {
    explore(
        &NotifierRange,
        Variant::InvalidatePageAfterPtl,
        bound(Variant::InvalidatePageAfterPtl),
    )
    .assert_caught();
}

#[test]
fn refresh_without_seq_is_caught_by_i13() {
    explore(
        &NotifierRange,
        Variant::RefreshWithoutSeq,
        bound(Variant::RefreshWithoutSeq),
    )
    .assert_caught();
}
