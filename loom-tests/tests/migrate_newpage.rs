//! migrate-newpage under loom: migration's newpage, locked by a speculative locker and
//! released outside its pool (seed 004, Hugh Dickins 2015). Trylocking the newpage and always
//! returning an unused one to `put_new_page` is clean in every interleaving; the old
//! `BUG_ON(!trylock_page(newpage))` and the putback to the wrong pool are both found.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::migrate_newpage::MigrateNewpage;

#[test]
fn fixed_newpage_handling_is_clean_in_every_interleaving() {
    explore(&MigrateNewpage, "fixed", Bound::Preemptions(4)).assert_clean();
}

/// Bound 2: it finds the counterexample after about 800 executions; bound 3 explores some
/// 15,000 first.
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
