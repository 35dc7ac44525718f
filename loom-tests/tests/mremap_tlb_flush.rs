//! mremap-tlb-flush under loom: mremap's `move_ptes` racing `ftruncate` (eb66ae030829,
//! CVE-2018-18281). Flushing the old range before the PTLs are dropped, no interleaving lets
//! the truncation free the page while another CPU's TLB maps it at the old address; flushing
//! after (4.18), loom finds the one in which the truncation zaps the new address, flushes it
//! and frees the page between the unlock and the flush: I3 fires.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::mremap_tlb_flush::{MremapTlbFlush, Variant};

/// Every variant's pinned bound, one exhaustive `match`.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(3),
        Variant::MovePtesV4_18 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_never_frees_a_page_a_tlb_still_maps() {
    explore(&MremapTlbFlush, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn move_ptes_v4_18_is_caught_by_i3() {
    explore(
        &MremapTlbFlush,
        Variant::MovePtesV4_18,
        bound(Variant::MovePtesV4_18),
    )
    .assert_caught();
}
