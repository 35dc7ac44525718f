//! `find_get_entry` (ops/truncate.rs): truncation's page-cache lookup does not skip a folio
//! whose refcount it finds frozen — it looks again (`xas_reset; goto retry`), and takes the
//! folio that migration stored in its place. The lookup that skipped it let a hole punch
//! leave the migrated copy in the cache over the freed block: the I4 that `mixed`'s
//! `fault-v6-3` reported at seed `0x5eed ^ 103718` (docs/MODEL.md §15).
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_until};
use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::migrate::{self, NewPagePool};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, mkclean, munmap, page_alloc, truncate};
use mmlab_engine::sync::{Arc, Ordering};

/// A hole punch whose lookup meets the page cache page frozen by `move_to_new_page`
/// (`page_ref_freeze` under `i_pages`; the lookup reads the slot and takes its reference
/// without that lock, as the kernel's RCU lookup does) must end with nothing cached over the
/// hole — neither the old page nor the copy migration puts in its slot.
///
/// The test plays migration's freeze by hand at the instant the lookup sees it (the page
/// isolated, its refcount frozen from the cache's and the isolation's references to 0), waits
/// until the punch has met it — its lookup traced the failed `folio_try_get`, or (the model
/// before the fix) the punch returned, having skipped the page and freed the block — then
/// unfreezes and lets the real `migrate_pages` run. Before the fix the migrated copy, clean
/// and holding the written data, stayed cached over the freed block: I4 ("holds data the disk
/// lacks, but is clean") and I23 fired at rest.
#[test]
fn a_hole_punch_does_not_skip_a_page_frozen_by_migration() {
    let cfg = WorldConfig {
        files: vec![(2, false)],
        ..WorldConfig::tiny(2)
    };
    let w = Arc::new(World::new(cfg, Kernel::default()));
    let sink = Sink::new();
    sink.install();
    let file = w.file(0);
    let mm = mm_alloc(&w).expect("mm");
    let shared = MapKind::File {
        file,
        pgoff: 0,
        shared: true,
    };
    mmap(&w, mm, 0, 2, shared).expect("mmap");
    // A written page, unmapped (the zap moves the PTE's dirty bit to the page) and written
    // back: clean, its data on the disk, in a block of its own.
    access::store(&w, 0, mm, 0, 42).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
    munmap::madvise_dontneed(&w, mm, 0, 1).unwrap();
    assert!(mkclean::writeback(&w, file, 0), "written back");
    assert_ne!(w.files.get(file).block(0), 0, "a block behind index 0");

    // Migration: isolated (`isolate_lru_page`), then the refcount frozen as
    // `move_to_new_page`'s `page_ref_freeze(page, 2)` freezes it.
    assert!(migrate::isolate_lru_page(&w, pfn));
    let page = w.page(pfn);
    assert!(
        page.refcount
            .compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok(),
        "the cache's and the isolation's references only"
    );

    let punch = {
        let w = w.clone();
        spawn("punch", &sink, move || truncate::punch_hole(&w, file, 0, 1))
    };
    wait_until("the punch to meet the frozen page", || {
        punch.is_finished()
            || w.trace
                .events()
                .iter()
                .any(|e| e.step == "find_get_entry: folio_try_get failed, xas_reset")
    });

    // The freeze ends as migration's does: the real migrate_pages moves the page (its copy
    // takes the slot) unless the punch's lookup has pinned it first.
    page.refcount.store(2, Ordering::SeqCst);
    let pool = NewPagePool::new(&w, 1);
    for left in migrate::migrate_pages(&w, &pool, &[pfn]) {
        migrate::putback_lru_page(&w, left);
    }
    for unused in pool.available() {
        page_alloc::put_page(&w, unused);
    }
    join(punch);

    let f = w.files.get(file);
    assert_eq!(f.block(0), 0, "the hole's block is freed");
    let cached = f.i_pages.lock().pages[0];
    quiescent::check_world(&w);
    let fired: Vec<_> = sink.take();
    assert!(
        cached.is_none() && fired.is_empty(),
        "index 0 still caches {cached:?} after the hole punch; at rest: {fired:?}\n{}",
        w.trace.render(60)
    );
    // A refault reads the hole: zeros.
    assert_eq!(access::load(&w, 0, mm, 0), Ok(0));
    quiescent::check_world(&w);
    let fired: Vec<Oracle> = sink.take().iter().map(|v| v.oracle).collect();
    assert!(fired.is_empty(), "{fired:?}");
}
