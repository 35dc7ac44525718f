//! migrate-newpage under loom: migration's newpage, locked by a speculative locker and
//! released outside its pool (Hugh Dickins, "mm: make page migration's newpage handling more
//! robust", 2015). Trylocking the newpage and always
//! returning an unused one to `put_new_page` is clean in every interleaving; the old
//! `BUG_ON(!trylock_page(newpage))` and the putback to the wrong pool are both found.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::migrate_newpage::{MigrateNewpage, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(4),
        Variant::BugOnLockedNewpage => Bound::Preemptions(2),
        Variant::PutbackWrongPool => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_newpage_handling_is_clean_in_every_interleaving() {
    explore(&MigrateNewpage, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

/// Bound 2: the BUG fires only in `move_to_new_page`, once the old page is unmapped, and bound 2
/// finds it quickly; docs/LOOM.md has the executions it takes.
#[test]
fn bug_on_locked_newpage_is_caught() {
    explore(
        &MigrateNewpage,
        Variant::BugOnLockedNewpage,
        bound(Variant::BugOnLockedNewpage),
    )
    .assert_caught();
}

#[test]
fn putback_wrong_pool_is_caught() {
    explore(
        &MigrateNewpage,
        Variant::PutbackWrongPool,
        bound(Variant::PutbackWrongPool),
    )
    .assert_caught();
}
