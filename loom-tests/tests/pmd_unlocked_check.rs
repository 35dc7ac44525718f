//! pmd-unlocked-check under loom: MADV_DONTNEED's unlocked huge-PMD check racing NUMA
//! balancing's `change_huge_pmd` (ced108037c2a). With `pmdp_invalidate` the PMD is never
//! `pmd_none` to the unlocked check, so every interleaving zaps the THP; with the v4.10
//! clear-then-set, loom finds the one where `zap_pmd_range` reads the cleared PMD, skips it,
//! and MADV_DONTNEED returns with the THP still mapped (I14).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::pmd_unlocked_check::{PmdUnlockedCheck, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Unbounded,
        Variant::NumaV4_10 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_madv_dontneed_zaps_the_thp_in_every_interleaving() {
    explore(&PmdUnlockedCheck, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn numa_v4_10_is_caught_by_i14() {
    explore(
        &PmdUnlockedCheck,
        Variant::NumaV4_10,
        bound(Variant::NumaV4_10),
    )
    .assert_caught();
}
