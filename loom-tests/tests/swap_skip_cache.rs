//! swap-skip-cache under loom: two faults on one swap entry of a `SWP_SYNCHRONOUS_IO` device
//! (13ddaf26be32). Without `swapcache_prepare`, loom finds the interleaving where the read
//! fault has read the slot into its folio, the write fault maps its own, stores, and reclaim
//! swaps it out to the same slot — the PTE is the same swap entry again, the read fault's
//! `pte_same` passes and maps its stale folio: the store is lost. With it, the second fault
//! backs off until the first has mapped and cleared the slot's `SWAP_HAS_CACHE`.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::swap_skip_cache::{SwapSkipCache, Variant};

/// Every variant's pinned bound, one exhaustive `match`.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(3),
        Variant::NoSwapcachePrepare => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_second_swapin_backs_off_in_every_interleaving() {
    explore(&SwapSkipCache, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn no_swapcache_prepare_is_caught_by_the_lost_store_oracle() {
    explore(
        &SwapSkipCache,
        Variant::NoSwapcachePrepare,
        bound(Variant::NoSwapcachePrepare),
    )
    .assert_caught();
}
