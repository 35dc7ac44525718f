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
        // Bound 5 since faults go through the per-VMA lock (6.4+): each fault and each
        // mmap_lock writer adds loom operations (rcu_read_lock, the trylock, vma_end_read,
        // vma_start_write), and bound 6 would explore about a million executions (bound 3:
        // 2,552; bound 4: 18,854; bound 5: 114,826, 91 s on the shared 2-core machine at load
        // average 15). Before per-VMA locks: 213,520 at bound 6.
        Variant::Fixed => Bound::Preemptions(5),
        // The <=6.3 faults (mmap_lock only), with the writers' vma_start_write still taken:
        // bound 4, 8,835 executions (bound 3: 1,370).
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
