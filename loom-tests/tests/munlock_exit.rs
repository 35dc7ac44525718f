//! munlock-exit under loom: two mms mlock one file page and exit together ("mm/munlock:
//! delete page_mlock() and all its works", Hugh Dickins, v5.18). Both
//! mlock schemes — v5.18's mlock_count and the old page_mlock rmap walk, which re-mlocks the
//! page for the other exit's VMA until that exit clears VM_LOCKED — leave no page stranded
//! PG_mlocked in any interleaving. The old one is slow (a convoy on i_mmap_rwsem), not wrong,
//! which is the stress runner's business, as is the reclaimer (Stress only).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::munlock_exit::{MunlockExit, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::MlockCount => Bound::Unbounded,
        Variant::PageMlock => Bound::Preemptions(5),
    }
}

#[test]
fn mlock_count_keeps_mlock_state_in_every_interleaving() {
    explore(
        &MunlockExit,
        Variant::MlockCount,
        bound(Variant::MlockCount),
    )
    .assert_clean();
}

#[test]
fn page_mlock_keeps_mlock_state_in_every_interleaving() {
    explore(&MunlockExit, Variant::PageMlock, bound(Variant::PageMlock)).assert_clean();
}
