//! The zap patch (`my_patch::zap_patch`) tried against the catalog's zap scenarios under loom:
//! every world of this test binary runs the patched `zap_present_folio_ptes`. Without the
//! forced flush, a dirty shared page's delayed rmap removal is still pending when the gather
//! frees the page — loom finds it at once (I1: pages freed while still counted as mapped);
//! the scenarios that zap no dirty file page stay clean.
#![cfg(mmlab_loom)]

use mmlab_engine::check::Oracle;
use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::delayed_rmap::{self, DelayedRmap};
use mmlab_scenarios::catalog::ttu_sync::{self, TtuSync};
use mmlab_scenarios::patch;
use my_patch::sva_flush::{self, SvaFlush};
use my_patch::zap_patch::PATCH;

/// Every test of this binary runs the patched kernel.
fn patched() {
    patch::apply(PATCH).expect("this test binary runs one patch");
}

#[test]
fn the_patch_frees_pages_with_their_rmaps_pending_in_delayed_rmap_fixed() {
    patched();
    let e = explore(
        &DelayedRmap,
        delayed_rmap::Variant::Fixed,
        Bound::Preemptions(3),
    );
    let oracle = e.failure.as_ref().and_then(|f| f.oracle());
    assert_eq!(oracle, Some(Oracle::I1Mapcount), "{}", e.failure_report());
}

#[test]
fn ttu_sync_fixed_stays_clean_with_the_patch() {
    patched();
    explore(&TtuSync, ttu_sync::Variant::Fixed, Bound::Preemptions(6)).assert_clean();
}

#[test]
fn sva_flush_fixed_stays_clean_with_the_patch() {
    patched();
    explore(&SvaFlush, sva_flush::Variant::Fixed, Bound::Unbounded).assert_clean();
}
