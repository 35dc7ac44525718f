//! anon-vma-degree under loom (2555283eb40d, CVE-2022-42703): after the fork/mprotect sequence
//! of the scenario, mprotect's `vma_merge` races reclaim's `folio_referenced` of a page whose
//! anon_vma the merge may free. The degree rule (v3.19 .. v5.19) gave the two VMAs one
//! anon_vma with different chains, so the merge orphans the page in every interleaving (I9 at
//! the walk when the merge comes first, I16/I17 at quiescence always); the rule of the fix gives
//! them different anon_vmas, nothing merges, and no interleaving is wrong.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::anon_vma_degree::{AnonVmaDegree, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        // Every interleaving: 56 executions.
        Variant::Fixed => Bound::Unbounded,
        // Caught by I9 in the first execution (the merge, then the walk).
        Variant::DegreeV5_19 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_never_merges_vmas_of_different_chains() {
    explore(&AnonVmaDegree, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn degree_v5_19_is_caught_with_a_dangling_page_mapping() {
    explore(
        &AnonVmaDegree,
        Variant::DegreeV5_19,
        bound(Variant::DegreeV5_19),
    )
    .assert_caught();
}
