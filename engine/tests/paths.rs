//! Single-thread tests of each path of the simulated kernel: every counter balances, and the
//! quiescent oracles hold.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pg;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::zap::ZapOps;
use mmlab_engine::ops::{access, exit, munmap};
use mmlab_engine::sync::Ordering;

fn world(kernel: Kernel) -> (World, Sink) {
    world_with(WorldConfig::stress(2), kernel)
}

fn world_with(cfg: WorldConfig, kernel: Kernel) -> (World, Sink) {
    let w = World::new(cfg, kernel);
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

fn free_pages(w: &World) -> usize {
    w.free_pages.lock().len()
}

fn finish(w: &World, sink: &Sink) -> Vec<Violation> {
    quiescent::check_world(w);
    sink.take()
}

#[test]
fn anon_fault_then_munmap_frees_every_page_and_balances_counters() {
    let (w, sink) = world(Kernel::default());
    let before = free_pages(&w);
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 20, MapKind::Anon).unwrap();
    for va in 0..20 {
        access::store(&w, 0, mm, va, 100 + va).unwrap();
    }
    for va in 0..20 {
        assert_eq!(access::load(&w, 0, mm, va).unwrap(), 100 + va);
    }
    assert_eq!(free_pages(&w), before - 20);
    assert_eq!(
        w.mms.get(mm).rss.load(std::sync::atomic::Ordering::SeqCst),
        20
    );
    munmap::munmap(&w, mm, vma).unwrap();
    assert_eq!(
        free_pages(&w),
        before,
        "every page went back to the allocator"
    );
    assert_eq!(
        w.mms.get(mm).rss.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert!(w.tables.live().is_empty(), "page tables freed");
    assert!(w.anon_vmas.live().is_empty(), "anon_vma freed");
    assert_eq!(
        access::load(&w, 0, mm, 3),
        Err(mmlab_engine::ops::Error::Segv),
        "a load after munmap faults"
    );
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn dirty_shared_file_page_stays_dirty_in_the_page_cache_after_zap() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(
        &w,
        mm,
        0,
        4,
        MapKind::File {
            file,
            pgoff: 0,
            shared: true,
        },
    )
    .unwrap();
    access::store(&w, 1, mm, 2, 77).unwrap();
    munmap::munmap(&w, mm, vma).unwrap();
    let pfn = w.files.get(file).i_pages.lock().pages[2].expect("page stays cached");
    let page = w.page(pfn);
    assert!(page.test(pg::DIRTY), "the PTE's dirty bit reached the page");
    assert_eq!(page.data[1].load(Ordering::SeqCst), 77);
    assert_eq!(page.mapcount.load(Ordering::SeqCst), 0);
    assert_eq!(
        page.refcount.load(Ordering::SeqCst),
        1,
        "only the page cache holds it"
    );
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn private_file_write_copies_on_write_and_leaves_the_file_alone() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(
        &w,
        mm,
        8,
        4,
        MapKind::File {
            file,
            pgoff: 0,
            shared: false,
        },
    )
    .unwrap();
    assert_eq!(access::load(&w, 0, mm, 8).unwrap(), 0);
    access::store(&w, 0, mm, 8, 5).unwrap();
    assert_eq!(access::load(&w, 0, mm, 8).unwrap(), 5);
    let cached = w.files.get(file).i_pages.lock().pages[0].unwrap();
    assert_eq!(
        w.page(cached).data[0].load(Ordering::SeqCst),
        0,
        "the page cache copy is untouched"
    );
    assert!(!w.page(cached).test(pg::DIRTY));
    munmap::munmap(&w, mm, vma).unwrap();
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn exit_mmap_leaves_no_vma_table_or_anon_page_behind() {
    let (w, sink) = world(Kernel::default());
    let before = free_pages(&w);
    let file = w.file(0);
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 10, MapKind::Anon).unwrap();
    mmap(
        &w,
        mm,
        16,
        10,
        MapKind::File {
            file,
            pgoff: 0,
            shared: true,
        },
    )
    .unwrap();
    for va in (0..10).chain(16..26) {
        access::store(&w, 0, mm, va, va).unwrap();
    }
    exit::exit_mmap(&w, mm);
    assert!(w.vmas.live().is_empty());
    assert!(w.tables.live().is_empty());
    assert!(w.mms.live().is_empty());
    assert!(w.files.get(file).i_mmap.read().vmas.is_empty());
    assert_eq!(
        free_pages(&w),
        before - 10,
        "only the 10 page-cache pages remain allocated"
    );
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn madvise_dontneed_zaps_and_refault_reads_back_shared_data() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let mm = mm_alloc(&w).unwrap();
    mmap(
        &w,
        mm,
        0,
        8,
        MapKind::File {
            file,
            pgoff: 0,
            shared: true,
        },
    )
    .unwrap();
    let anon = mmap(&w, mm, 8, 8, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 1, 11).unwrap();
    access::store(&w, 0, mm, 9, 22).unwrap();
    munmap::madvise_dontneed(&w, mm, 0, 16).unwrap();
    assert_eq!(
        access::load(&w, 0, mm, 1).unwrap(),
        11,
        "tlb_flush3: shared file data survives"
    );
    assert_eq!(
        access::load(&w, 0, mm, 9).unwrap(),
        0,
        "tlb_flush2: anonymous memory reads zero"
    );
    let _ = anon;
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn every_rmap_removal_gives_the_same_end_state_single_threaded() {
    let mut ends = Vec::new();
    for (policy, zap) in [
        ("v6_1", ZapOps::v6_1()),
        ("default", ZapOps::default()),
        ("rfc_batch_all", ZapOps::rfc_batch_all()),
        ("rmaps_after_unlock", ZapOps::rmaps_after_unlock()),
    ] {
        let (w, sink) = world_with(
            WorldConfig {
                gather_batch: 3,
                ..WorldConfig::stress(2)
            },
            Kernel {
                zap,
                ..Kernel::default()
            },
        );
        let file = w.file(0);
        let mm = mm_alloc(&w).unwrap();
        let f = mmap(
            &w,
            mm,
            0,
            12,
            MapKind::File {
                file,
                pgoff: 0,
                shared: true,
            },
        )
        .unwrap();
        let a = mmap(&w, mm, 16, 12, MapKind::Anon).unwrap();
        for va in (0..12).step_by(2).chain(16..28) {
            access::store(&w, 0, mm, va, va * 3).unwrap();
        }
        for va in (1..12).step_by(2) {
            access::load(&w, 0, mm, va).unwrap();
        }
        munmap::munmap(&w, mm, f).unwrap();
        munmap::munmap(&w, mm, a).unwrap();
        let cache: Vec<_> = w
            .files
            .get(file)
            .i_pages
            .lock()
            .pages
            .iter()
            .map(|p| {
                p.map(|pfn| {
                    (
                        w.page(pfn).test(pg::DIRTY),
                        w.page(pfn).mapcount.load(Ordering::SeqCst),
                        w.page(pfn).data[0].load(Ordering::SeqCst),
                    )
                })
            })
            .collect();
        ends.push((free_pages(&w), cache));
        let v = finish(&w, &sink);
        assert!(v.is_empty(), "{policy:?}: {v:?}");
    }
    assert!(ends.windows(2).all(|p| p[0] == p[1]), "{ends:?}");
}
