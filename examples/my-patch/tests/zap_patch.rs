//! The zap patch (`my_patch::zap_patch`) tried under loom against the catalog's zap scenarios
//! and the loom suite's zap smoke models (`mmlab_loom_tests::zap_smoke`): every world of this
//! test binary runs the patched `zap_present_folio_ptes`. Without the forced flush, a dirty
//! shared page's delayed rmap removal is still pending when the gather frees the page — loom
//! finds it at once (I1: pages freed while still counted as mapped); what zaps no dirty file
//! page stays clean.
#![cfg(mmlab_loom)]

use mmlab_engine::check::{Oracle, panic_message};
use mmlab_loom_tests::zap_smoke::{self, Memory, Zapper};
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

#[test]
fn the_zap_smoke_of_a_dirty_shared_file_page_catches_the_patch() {
    patched();
    let failed = std::panic::catch_unwind(|| {
        zap_smoke::explore(
            "shared-file store vs munmap, patched",
            zap_smoke::stays_clean(Memory::SharedFile, Zapper::Munmap),
        )
    })
    .expect_err("the patched zap frees a page with its rmap pending");
    let message = panic_message(&*failed);
    assert!(message.contains("[I1-mapcount]"), "{message}");
}

#[test]
fn the_zap_smoke_of_an_anon_page_stays_clean_with_the_patch() {
    patched();
    zap_smoke::explore(
        "anon store vs munmap, patched",
        zap_smoke::stays_clean(Memory::Anon, Zapper::Munmap),
    );
}
