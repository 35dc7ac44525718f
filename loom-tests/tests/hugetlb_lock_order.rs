//! hugetlb-lock-order under loom (b7880cb166ab): hugetlb migration vs a hole punch. In the
//! hugetlb order `i_mmap_rwsem` sits above the folio lock; the fixed migration keeps the
//! i_mmap write lock it trylocked across `remove_migration_ptes`, so no interleaving takes a
//! blocking i_mmap acquisition under the folio lock. The 2020–2026 code dropped it and took it
//! again for read under the folio lock: lockdep reports the inversion when it is taken — before
//! blocking, so loom never reaches the deadlock (loom aborts the process on a real one).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::hugetlb_lock_order::{HugetlbLockOrder, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(6),
        Variant::ImapAfterFolio => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_takes_no_lock_against_the_hugetlb_order_in_any_interleaving() {
    explore(&HugetlbLockOrder, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn imap_after_folio_is_reported_by_lockdep_before_it_deadlocks() {
    explore(
        &HugetlbLockOrder,
        Variant::ImapAfterFolio,
        bound(Variant::ImapAfterFolio),
    )
    .assert_caught();
}
