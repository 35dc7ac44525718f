//! mixed under loom: the random workload at its Tiny size — two actors, a handful of
//! operations drawn from a fixed seed (loom models must be deterministic) over a shared mm and
//! file and an mm of each actor's own — with every quiescent oracle checked at the end.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, assert_covers_every_variant, explore};
use mmlab_scenarios::catalog::mixed::Mixed;

#[test]
fn fixed_keeps_every_oracle_in_every_interleaving() {
    explore(&Mixed, "fixed", Bound::Preemptions(6)).assert_clean();
}

#[test]
fn every_variant_has_a_loom_test() {
    assert_covers_every_variant(&Mixed, &["fixed"]);
}
