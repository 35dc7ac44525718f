//! gup-cow-fork under loom: a child's vmsplice (a `FOLL_GET` read GUP) of a page fork shared,
//! then its munmap, racing the parent's write (CVE-2020-29374, 17839856fd58). Up to 5.7 loom
//! finds the order in which the parent's write fault sees a mapcount of one and reuses the page
//! the pipe still holds: the child reads the parent's later write (I19). 5.8's forced COW
//! break, 5.9's `page_count` rule and 5.19's `PageAnonExclusive` leave no such interleaving.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::gup_cow_fork::{GupCowFork, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        // 9,414 executions each, about 2 s.
        Variant::Fixed => Bound::Preemptions(7),
        Variant::PageCount => Bound::Preemptions(7),
        // The forced COW break doubles the child's faults: 15,989 executions at 4 (4 s),
        // 72,863 at 5 (19 s).
        Variant::GupBreaksCow => Bound::Preemptions(4),
        Variant::Pre17839856fd58 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_keeps_the_child_isolated_in_every_interleaving() {
    explore(&GupCowFork, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn page_count_keeps_the_child_isolated_in_every_interleaving() {
    explore(&GupCowFork, Variant::PageCount, bound(Variant::PageCount)).assert_clean();
}

#[test]
fn gup_breaks_cow_keeps_the_child_isolated_in_every_interleaving() {
    explore(
        &GupCowFork,
        Variant::GupBreaksCow,
        bound(Variant::GupBreaksCow),
    )
    .assert_clean();
}

#[test]
fn pre_17839856fd58_is_caught_by_i19() {
    explore(
        &GupCowFork,
        Variant::Pre17839856fd58,
        bound(Variant::Pre17839856fd58),
    )
    .assert_caught();
}
