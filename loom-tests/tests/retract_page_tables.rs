//! retract-page-tables under loom: khugepaged's `collapse_pte_mapped_thp` racing a
//! truncation's `unmap_mapping_range` (8d3c106e19e8). Before the fix loom finds the order in
//! which the truncation's zap, under `i_mmap_rwsem` read only, maps the PTE table the
//! retraction then frees (StaleId) or zaps the PTEs whose rmap the retraction already removed
//! (I1). With `i_mmap_rwsem` held for write (6.1–6.4), or with 6.5's re-validating
//! `pte_offset_map_lock` and RCU-deferred free, no interleaving does.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::retract_page_tables::{RetractPageTables, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        // 1,755 executions (2.3 s on a loaded 2-core machine); 280 at bound 3.
        Variant::Fixed => Bound::Preemptions(5),
        // 373 executions (0.5 s); 98 at bound 3.
        Variant::V6_1 => Bound::Preemptions(5),
        // Caught by I1 in 5 executions.
        Variant::CollapseV6_0 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_revalidates_and_defers_the_free_in_every_interleaving() {
    explore(&RetractPageTables, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn v6_1_excludes_the_rmap_walker_in_every_interleaving() {
    explore(&RetractPageTables, Variant::V6_1, bound(Variant::V6_1)).assert_clean();
}

#[test]
fn collapse_v6_0_is_caught() {
    explore(
        &RetractPageTables,
        Variant::CollapseV6_0,
        bound(Variant::CollapseV6_0),
    )
    .assert_caught();
}
