//! mlock-page-lock under loom: mlock_vma_page without the page lock vs migration
//! (CVE-2014-3122, 57e68e9cd65b). Trylocking the page before mlocking it is clean in every
//! interleaving; mlocking a page reclaim has not locked is found breaking the mlock locking
//! rule while migration holds the page.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::mlock_page_lock::{MlockPageLock, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(7),
        Variant::MlockWithoutPageLock => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_mlocks_only_locked_pages_in_every_interleaving() {
    explore(&MlockPageLock, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn mlock_without_page_lock_is_caught() {
    explore(
        &MlockPageLock,
        Variant::MlockWithoutPageLock,
        bound(Variant::MlockWithoutPageLock),
    )
    .assert_caught();
}
