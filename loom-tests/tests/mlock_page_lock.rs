//! mlock-page-lock under loom: mlock_vma_page without the page lock vs migration
//! (CVE-2014-3122, 57e68e9cd65b). Trylocking the page before mlocking it is clean in every
//! interleaving; mlocking a page reclaim has not locked is found breaking the mlock locking
//! rule while migration holds the page.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::mlock_page_lock::MlockPageLock;

#[test]
fn fixed_mlocks_only_locked_pages_in_every_interleaving() {
    explore(&MlockPageLock, "fixed", Bound::Preemptions(7)).assert_clean();
}

#[test]
fn mlock_without_page_lock_is_caught() {
    explore(
        &MlockPageLock,
        "mlock-without-page-lock",
        Bound::Preemptions(3),
    )
    .assert_caught();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(&MlockPageLock, &["fixed", "mlock-without-page-lock"]);
}
