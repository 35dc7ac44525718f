//! A patch applies to every world `kit::world` builds, after the variant's own table, and a
//! process runs one patch. (Its own test binary: a patch is process-wide.)
#![cfg(not(mmlab_loom))]

use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, World};
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::zap;
use mmlab_scenarios::kit;
use mmlab_scenarios::patch::{self, Patch};
use mmlab_scenarios::scenario::Size;
use std::sync::atomic::{AtomicUsize, Ordering};

static CALLS: AtomicUsize = AtomicUsize::new(0);

fn flush_nothing(_w: &World, _mm: MmId, _start: u64, _end: u64) {
    CALLS.fetch_add(1, Ordering::SeqCst);
}

const PATCH: Patch = Patch {
    name: "test-no-flush",
    summary: "flush_tlb_range does nothing",
    apply: |k: &mut Kernel| k.tlb.flush_tlb_range = flush_nothing,
};

#[test]
fn a_patch_reaches_every_world_and_overrides_the_variant_and_a_second_is_refused() {
    // Before: a variant's table is what the world runs.
    let era = Kernel {
        zap: zap::ZapOps::v6_1(),
        ..Kernel::default()
    };
    let before = kit::world(Size::Tiny, 2, era, |_| {});
    assert!(std::ptr::fn_addr_eq(
        before.kernel.tlb.flush_tlb_range,
        Kernel::default().tlb.flush_tlb_range as fn(&World, MmId, u64, u64)
    ));
    assert!(patch::applied().is_none());

    patch::apply(PATCH).expect("the first patch");
    patch::apply(PATCH).expect("the same patch again is a no-op");
    let other = Patch {
        name: "another",
        ..PATCH
    };
    assert_eq!(
        patch::apply(other).map_err(|p| p.name),
        Err("test-no-flush")
    );

    // After: the patched entry, on top of the variant's own choices (which stay).
    let after = kit::world(Size::Tiny, 2, era, |_| {});
    let mm = mm_alloc(&after).expect("mm");
    (after.kernel.tlb.flush_tlb_range)(&after, mm, 0, 1);
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        1,
        "the patched flush_tlb_range ran"
    );
    assert!(std::ptr::fn_addr_eq(
        after.kernel.zap.zap_present_folio_ptes,
        zap::ZapOps::v6_1().zap_present_folio_ptes
    ));
}
