//! `filemap_fault` takes `mapping->invalidate_lock` shared when it has to bring a page into
//! the page cache, and not when the page is cached and uptodate.
//!
//! mm/filemap.c `filemap_fault` (5.15+, v6.x): a cache miss takes
//! `filemap_invalidate_lock_shared` before `__filemap_get_folio(FGP_CREAT)` ("See comment in
//! filemap_create_folio() why we need invalidate_lock": truncation and hole punching hold it
//! exclusive between evicting the cache and freeing the blocks); a cached folio that is not
//! uptodate takes it too; it is released once the folio is locked and found uptodate. A hit on
//! an uptodate folio does not take it.
//!
//! ```text
//! hole punch (this test)             fault on a cached page      fault on an uncached page
//! filemap_invalidate_lock
//!                                    filemap_get_folio: hit,
//!                                    uptodate: maps it
//!                                                                filemap_get_folio: miss
//!                                                                invalidate_lock_shared: waits
//! filemap_invalidate_unlock
//!                                                                add, read, map
//! ```
#![cfg(not(mmlab_loom))]

mod common;

use common::{blocked_on, join, spawn, wait_until};
use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::access;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::sync::{Arc, LockClass};

#[test]
fn a_fault_that_adds_a_page_to_the_cache_waits_for_invalidate_lock_and_a_hit_does_not() {
    let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
    let sink = Sink::new();
    sink.install();
    let file = w.file(0);
    let shared = MapKind::File {
        file,
        pgoff: 0,
        shared: true,
    };
    let (a, b) = (mm_alloc(&w).unwrap(), mm_alloc(&w).unwrap());
    mmap(&w, a, 0, 2, shared).unwrap();
    mmap(&w, b, 0, 2, shared).unwrap();
    // Page 1 is cached (faulted by mm b); page 0 is not.
    access::load(&w, 1, b, 1).unwrap();

    let punch = w.files.get(file).invalidate_lock.write();
    let hit = {
        let w = w.clone();
        spawn("fault-cached", &sink, move || access::load(&w, 0, a, 1))
    };
    join(hit).expect("a fault on a cached, uptodate page needs no invalidate_lock");

    let miss = {
        let w = w.clone();
        spawn("fault-uncached", &sink, move || access::load(&w, 0, a, 0))
    };
    wait_until(
        "the uncached fault to block on invalidate_lock or to finish",
        || blocked_on("fault-uncached", LockClass::InvalidateLock) || miss.is_finished(),
    );
    assert!(
        !miss.is_finished(),
        "a fault added a page to the page cache while invalidate_lock was held exclusive: \
         filemap_fault must take it shared on a cache miss"
    );
    drop(punch);
    join(miss).expect("the fault completes once invalidate_lock is released");
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
