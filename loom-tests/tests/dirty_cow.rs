//! dirty-cow under loom: a `FOLL_FORCE` write GUP (`/proc/self/mem`) racing MADV_DONTNEED of
//! its read-only private file mapping (CVE-2016-5195, 19be0eaffa3a). Before the fix,
//! `faultin_page` drops `FOLL_WRITE` after the COW fault, and loom finds the interleaving where
//! the zap runs between that fault and the retry: the retry read-faults the page-cache page in
//! and the write lands there (I18). With `FOLL_COW` (4.9–5.18) the retry needs a dirty PTE and
//! faults a new private copy; in the modern kernel it needs a `PageAnonExclusive` page. Neither
//! leaves an interleaving in which the write reaches the page cache.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::dirty_cow::{DirtyCow, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        // 17,245 executions, about 3 s on the 2-core machine.
        Variant::Fixed => Bound::Preemptions(7),
        // 24,725 executions, about 5 s (bound 7: 63,008, 12 s).
        Variant::FollCow => Bound::Preemptions(6),
        Variant::NoFollCow => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_write_never_reaches_the_page_cache() {
    explore(&DirtyCow, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn foll_cow_write_never_reaches_the_page_cache() {
    explore(&DirtyCow, Variant::FollCow, bound(Variant::FollCow)).assert_clean();
}

#[test]
fn no_foll_cow_is_caught_by_i18() {
    explore(&DirtyCow, Variant::NoFollCow, bound(Variant::NoFollCow)).assert_caught();
}
