//! munlock-pagevec under loom: `__munlock_pagevec` racing a truncation (3b25df93c6e3). v3.12
//! drops a skipped page's follow_page pin inside phase 1, under `lru_lock`; when the
//! truncation has unmapped the page and deleted it from the page cache first, that pin is
//! the last and the free path's `__page_cache_release` takes `lru_lock` again: loom finds the
//! interleaving and lockdep (I15) reports the recursion. v3.13 releases those pins after
//! `spin_unlock`: clean in every interleaving.
#![cfg(mmlab_loom)]

use mmlab_engine::check::Oracle;
use mmlab_loom_tests::{Bound, Failure, explore};
use mmlab_scenarios::catalog::munlock_pagevec::{MunlockPagevec, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(3),
        Variant::Pre3b25df93c6e3 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_releases_pins_after_lru_lock_in_every_interleaving() {
    explore(&MunlockPagevec, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn pre_3b25df93c6e3_is_caught_by_i15() {
    let e = explore(
        &MunlockPagevec,
        Variant::Pre3b25df93c6e3,
        bound(Variant::Pre3b25df93c6e3),
    );
    assert_eq!(
        e.failure.as_ref().and_then(Failure::oracle),
        Some(Oracle::I15Lockdep),
        "{}",
        e.failure_report()
    );
    e.assert_caught();
}
