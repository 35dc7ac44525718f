//! migrate-newpage under loom: migration's newpage, locked by a speculative locker and
//! released outside its pool (Hugh Dickins, "mm: make page migration's newpage handling more
//! robust", 2015). Trylocking the newpage and always
//! returning an unused one to `put_new_page` is clean in every interleaving; the old
//! `BUG_ON(!trylock_page(newpage))` and the putback to the wrong pool are both found.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::migrate_newpage::MigrateNewpage;

#[test]
fn fixed_newpage_handling_is_clean_in_every_interleaving() {
    explore(&MigrateNewpage, "fixed", Bound::Preemptions(4)).assert_clean();
}

/// Bound 2: the BUG fires only in `move_to_new_page`, once the old page is unmapped, and bound 2
/// finds it quickly; docs/LOOM.md has the executions it takes.
#[test]
fn bug_on_locked_newpage_is_caught() {
    explore(
        &MigrateNewpage,
        "bug-on-locked-newpage",
        Bound::Preemptions(2),
    )
    .assert_caught();
}

#[test]
fn putback_wrong_pool_is_caught() {
    explore(&MigrateNewpage, "putback-wrong-pool", Bound::Preemptions(3)).assert_caught();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(
        &MigrateNewpage,
        &["fixed", "bug-on-locked-newpage", "putback-wrong-pool"],
    );
}
