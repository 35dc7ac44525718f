//! exec-stack-migration under loom: exec's `shift_arg_pages` moving the temporary stack while
//! its page is migrated (a8bef8ff6ea1). Migration that skips a `VM_STACK_INCOMPLETE_SETUP`
//! VMA leaves no migration entry behind in any interleaving within the bound; the 2.6.34
//! kernel, whose `remove_migration_ptes` may look at the stack's new address before
//! `move_page_tables` carried the entry there, is caught leaving one (I6).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::exec_stack_migration::{ExecStackMigration, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(3),
        Variant::SkipNoneV2_6_34 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_leaves_no_migration_entry_in_every_interleaving() {
    explore(&ExecStackMigration, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn skip_none_v2_6_34_is_caught_leaving_a_migration_entry() {
    explore(
        &ExecStackMigration,
        Variant::SkipNoneV2_6_34,
        bound(Variant::SkipNoneV2_6_34),
    )
    .assert_caught();
}
