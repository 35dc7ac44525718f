//! mixed under loom: the random workload at its Tiny size — two actors, a handful of
//! operations drawn from a fixed seed (loom models must be deterministic) over a shared mm and
//! file and an mm of each actor's own — with every quiescent oracle checked at the end.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::mixed::{Mixed, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(6),
        // The mmap_lock-only faults of <=6.3: a smaller bound, to keep the suite's time.
        Variant::FaultV63 => Bound::Preemptions(4),
    }
}

#[test]
fn fixed_keeps_every_oracle_in_every_interleaving() {
    explore(&Mixed, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn fault_v6_3_keeps_every_oracle_in_every_interleaving() {
    explore(&Mixed, Variant::FaultV63, bound(Variant::FaultV63)).assert_clean();
}
