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
        // Faults through the per-VMA lock (6.4+), a test of its own: each fault and each
        // mmap_lock writer adds loom operations (the read trylock, `vma_end_read`, the writers'
        // `vma_start_write`), so each bound explores about seven times the executions of the
        // mmap_lock-only fault below (bound 3: 2,552; bound 4: 18,854; bound 5: 114,826), and
        // bound 6 (about a million) does not fit the suite's budget.
        Variant::Fixed => Bound::Preemptions(5),
        // The <=6.3 faults (mmap_lock only): the bound this workload has always had.
        Variant::FaultV63 => Bound::Preemptions(6),
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
