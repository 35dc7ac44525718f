//! Truncation and hole punching (ops/truncate.rs, docs/MODEL.md §20), one thread unless
//! said: `ftruncate` unmaps every mapping of the range and frees its page-cache pages; a fault
//! beyond `i_size` gets SIGBUS; a punched range reads as zeros again; the fault before
//! 730633f0b7f9 adds a page while a punch holds `invalidate_lock` exclusive; and I23's
//! negative control on a state built by hand (a cached page whose block was freed under it).
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn};
use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{FileId, MmId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{Error, access, fault, mkclean, truncate};
use mmlab_engine::sync::Arc;

fn world(kernel: Kernel) -> (Arc<World>, Sink) {
    let cfg = WorldConfig {
        files: vec![(2, false)],
        ..WorldConfig::tiny(2)
    };
    let w = Arc::new(World::new(cfg, kernel));
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

/// `mmap(0, 2, MAP_SHARED, file)` in a new mm.
fn shared_mapping(w: &World, file: FileId) -> MmId {
    let mm = mm_alloc(w).expect("mm");
    let kind = MapKind::File {
        file,
        pgoff: 0,
        shared: true,
    };
    mmap(w, mm, 0, 2, kind).expect("mmap");
    mm
}

fn cached(w: &World, file: FileId, index: usize) -> bool {
    w.files.get(file).i_pages.lock().pages[index].is_some()
}

#[test]
fn ftruncate_unmaps_every_mapping_and_frees_the_cache_pages() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let (a, b) = (shared_mapping(&w, file), shared_mapping(&w, file));
    access::store(&w, 0, a, 0, 7).unwrap();
    access::load(&w, 1, b, 0).unwrap();
    access::load(&w, 1, b, 1).unwrap();
    let live = w.pages.live().len();
    assert_eq!(live, 2, "two page-cache pages");
    truncate::ftruncate(&w, file, 0);
    for mm in [a, b] {
        for va in 0..2 {
            assert!(
                w.pte_at(mm, va).is_none_or(|p| p.is_none()),
                "{mm} va {va} still mapped after ftruncate"
            );
        }
    }
    assert!(!cached(&w, file, 0) && !cached(&w, file, 1));
    assert!(w.pages.live().is_empty(), "the truncated pages are freed");
    assert_eq!(w.files.get(file).i_size_read(), 0);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn a_fault_beyond_eof_gets_sigbus_and_a_regrown_file_reads_zeros() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let mm = shared_mapping(&w, file);
    access::store(&w, 0, mm, 1, 9).unwrap();
    mkclean::writeback(&w, file, 1);
    truncate::ftruncate(&w, file, 1);
    assert_eq!(access::load(&w, 0, mm, 1), Err(Error::Bus));
    assert_eq!(access::load(&w, 0, mm, 0), Ok(0));
    // Grown back: the old block was freed with the truncation, the page is a hole.
    truncate::ftruncate(&w, file, 2);
    assert_eq!(access::load(&w, 0, mm, 1), Ok(0));
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn filemap_fault_sigbus_with_the_page_locked_when_i_size_dropped_after_the_first_check() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    // The page is cached (by an earlier read) when i_size drops under the fault: the lookup
    // finds it, and the check under the page lock refuses it.
    fault::filemap_fault(&w, file, 1).unwrap().unlock();
    let f = w.files.get(file);
    f.i_size.store(1, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        fault::filemap_fault(&w, file, 1).map(|p| p.pfn()).err(),
        Some(Error::Bus)
    );
    f.i_size.store(2, std::sync::atomic::Ordering::SeqCst);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn punch_hole_discards_the_data_and_a_refault_reads_zeros() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let mm = shared_mapping(&w, file);
    access::store(&w, 0, mm, 0, 42).unwrap();
    access::store(&w, 0, mm, 1, 43).unwrap();
    mkclean::writeback(&w, file, 0);
    truncate::punch_hole(&w, file, 0, 1);
    assert!(!cached(&w, file, 0), "the punched page is evicted");
    assert_eq!(w.files.get(file).block(0), 0, "a hole");
    assert_eq!(w.files.get(file).i_size_read(), 2, "KEEP_SIZE");
    assert_eq!(access::load(&w, 0, mm, 0), Ok(0));
    assert_eq!(access::load(&w, 0, mm, 1), Ok(43), "outside the hole: kept");
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

/// The fault of 5.14 and before does not wait for a hole punch's `invalidate_lock`; the
/// modern one does (engine/tests/invalidate_lock.rs).
#[test]
fn filemap_fault_v5_14_adds_a_page_while_invalidate_lock_is_held_exclusive() {
    let mut kernel = Kernel::default();
    kernel.fault.filemap_fault = fault::filemap_fault_v5_14;
    let (w, sink) = world(kernel);
    let file = w.file(0);
    let mm = shared_mapping(&w, file);
    let punch = w.files.get(file).invalidate_lock.write();
    let fault = {
        let w = w.clone();
        spawn("fault-v5-14", &sink, move || access::load(&w, 0, mm, 0))
    };
    assert_eq!(join(fault), Ok(0), "no wait for invalidate_lock");
    assert!(cached(&w, file, 0));
    drop(punch);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

/// I23's negative control at rest: a cached page read from block 1, the block freed under it
/// (a punch's block freeing without its eviction) — the state 730633f0b7f9's race leaves.
#[test]
fn i23_fires_on_a_cached_page_whose_block_was_freed() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let mm = shared_mapping(&w, file);
    access::load(&w, 0, mm, 0).unwrap();
    w.files.get(file).block_free(0);
    quiescent::check_page_over_hole(&w);
    let v = sink.take();
    assert!(
        v.iter().any(|v| v.oracle == Oracle::I23PageOverHole),
        "I23 did not fire: {v:?}"
    );
    // A page read from the hole afterwards is no violation.
    truncate::punch_hole(&w, file, 0, 1);
    access::load(&w, 0, mm, 0).unwrap();
    quiescent::check_page_over_hole(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
