//! munlock-exit under loom: two mms mlock one file page and exit together ("mm/munlock:
//! delete page_mlock() and all its works", Hugh Dickins, v5.18). Both
//! mlock schemes — v5.18's mlock_count and the old page_mlock rmap walk, which re-mlocks the
//! page for the other exit's VMA until that exit clears VM_LOCKED — leave no page stranded
//! PG_mlocked in any interleaving. The old one is slow (a convoy on i_mmap_rwsem), not wrong,
//! which is the stress runner's business, as is the reclaimer (Stress only).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::munlock_exit::MunlockExit;

#[test]
fn mlock_count_keeps_mlock_state_in_every_interleaving() {
    explore(&MunlockExit, "mlock-count", Bound::Unbounded).assert_clean();
}

#[test]
fn page_mlock_keeps_mlock_state_in_every_interleaving() {
    explore(&MunlockExit, "page-mlock", Bound::Preemptions(5)).assert_clean();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(&MunlockExit, &["mlock-count", "page-mlock"]);
}
