//! Single-thread tests of the rmap-side paths: migration, reclaim, munlock, writeback, split.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pg;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{MmId, Pfn, World, WorldConfig};
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::reclaim::{Reclaimed, reclaim_page};
use mmlab_engine::ops::{access, exit, mkclean, munlock, munmap, split};
use mmlab_engine::sync::Ordering;

fn world(kernel: Kernel) -> (World, Sink) {
    let w = World::new(WorldConfig::stress(2), kernel);
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

fn with_scheme(scheme: MlockScheme) -> Kernel {
    let mut kernel = Kernel::default();
    kernel.mlock.scheme = scheme;
    kernel
}

fn pte(w: &World, mm: MmId, va: u64) -> Pte {
    w.pte_at(mm, va).expect("a table covers va")
}

fn mapped_pfn(w: &World, mm: MmId, va: u64) -> Pfn {
    pte(w, mm, va).pfn().expect("mapped")
}

#[test]
fn migration_moves_every_mapping_with_contents_dirty_and_mlock() {
    for scheme in [MlockScheme::PageMlock, MlockScheme::MlockCount] {
        let (w, sink) = world(with_scheme(scheme));
        let file = w.file(0);
        let mms: Vec<MmId> = (0..3).map(|_| mm_alloc(&w).unwrap()).collect();
        for (k, &mm) in mms.iter().enumerate() {
            let v = mmap(
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
            access::store(&w, k % 2, mm, 1, 40 + k as u64).unwrap();
            if k == 0 {
                munlock::mlock(&w, mm, v).unwrap();
            }
        }
        let old = mapped_pfn(&w, mms[0], 1);
        assert!(w.page(old).test(pg::MLOCKED));
        let pool = NewPagePool::new(&w, 2);
        assert!(isolate_lru_page(&w, old));
        assert!(migrate_pages(&w, &pool, &[old]).is_empty(), "migrated");
        let new = mapped_pfn(&w, mms[0], 1);
        assert_ne!(new, old);
        for &mm in &mms {
            assert_eq!(
                mapped_pfn(&w, mm, 1),
                new,
                "every former mapping now maps the new page"
            );
        }
        let page = w.page(new);
        assert_eq!(page.mapcount.load(Ordering::SeqCst), 3);
        assert_eq!(
            page.data[0].load(Ordering::SeqCst),
            42,
            "cpu0's last store moved"
        );
        assert_eq!(
            page.data[1].load(Ordering::SeqCst),
            41,
            "cpu1's last store moved"
        );
        assert!(page.test(pg::DIRTY), "{scheme:?}: dirty carried over");
        assert!(page.test(pg::MLOCKED), "{scheme:?}: mlock carried over");
        assert!(!w.pages.is_live(old), "the old page was freed");
        assert_eq!(w.files.get(file).i_pages.lock().pages[1], Some(new));
        quiescent::check_world(&w);
        let v = sink.take();
        assert!(v.is_empty(), "{scheme:?}: {v:?}");
    }
}

#[test]
fn anonymous_migration_keeps_private_data() {
    let (w, sink) = world(Kernel::default());
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 4, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 2, 9).unwrap();
    let old = mapped_pfn(&w, mm, 2);
    let pool = NewPagePool::new(&w, 1);
    assert!(isolate_lru_page(&w, old));
    assert!(migrate_pages(&w, &pool, &[old]).is_empty());
    assert_ne!(mapped_pfn(&w, mm, 2), old);
    assert_eq!(access::load(&w, 0, mm, 2).unwrap(), 9);
    quiescent::check_world(&w);
    assert!(sink.take().is_empty());
}

#[test]
fn reclaim_refuses_a_vm_locked_mapping_under_both_schemes() {
    for scheme in [MlockScheme::PageMlock, MlockScheme::MlockCount] {
        let (w, sink) = world(with_scheme(scheme));
        let file = w.file(0);
        let mm = mm_alloc(&w).unwrap();
        let v = mmap(
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
        munlock::mlock(&w, mm, v).unwrap();
        for index in 0..4 {
            assert_ne!(
                reclaim_page(&w, file, index),
                Reclaimed::Freed,
                "{scheme:?}"
            );
            assert!(pte(&w, mm, index).is_present());
        }
        munlock::munlock(&w, mm, v).unwrap();
        assert_eq!(
            reclaim_page(&w, file, 0),
            Reclaimed::Freed,
            "{scheme:?}: evictable after munlock"
        );
        quiescent::check_world(&w);
        let v = sink.take();
        assert!(v.is_empty(), "{scheme:?}: {v:?}");
    }
}

#[test]
fn each_munlock_scheme_leaves_no_page_mlocked_after_the_last_locked_mapping_goes() {
    for scheme in [MlockScheme::PageMlock, MlockScheme::MlockCount] {
        let (w, sink) = world(with_scheme(scheme));
        let file = w.file(0);
        let a = mm_alloc(&w).unwrap();
        let b = mm_alloc(&w).unwrap();
        let va = mmap(
            &w,
            a,
            0,
            4,
            MapKind::File {
                file,
                pgoff: 0,
                shared: true,
            },
        )
        .unwrap();
        let vb = mmap(
            &w,
            b,
            0,
            4,
            MapKind::File {
                file,
                pgoff: 0,
                shared: true,
            },
        )
        .unwrap();
        munlock::mlock(&w, a, va).unwrap();
        munlock::mlock(&w, b, vb).unwrap();
        let p = mapped_pfn(&w, a, 0);
        munmap::munmap(&w, a, va).unwrap();
        assert!(w.page(p).test(pg::MLOCKED), "{scheme:?}: b still mlocks it");
        exit::exit_mmap(&w, b);
        for pfn in w.files.get(file).i_pages.lock().pages.iter().flatten() {
            assert!(
                !w.page(*pfn).test(pg::MLOCKED),
                "{scheme:?}: {pfn} stranded mlocked"
            );
            assert!(
                !w.page(*pfn).test(pg::UNEVICTABLE),
                "{scheme:?}: {pfn} stranded unevictable"
            );
        }
        quiescent::check_world(&w);
        let v = sink.take();
        assert!(v.is_empty(), "{scheme:?}: {v:?}");
    }
}

#[test]
fn writeback_after_a_store_leaves_the_page_clean_and_the_data_saved() {
    let (w, sink) = world(Kernel::default());
    let file = w.file(0);
    let mm = mm_alloc(&w).unwrap();
    mmap(
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
    access::store(&w, 1, mm, 3, 1234).unwrap();
    assert!(mkclean::writeback(&w, file, 3));
    let p = mapped_pfn(&w, mm, 3);
    assert!(!w.page(p).test(pg::DIRTY));
    assert!(
        matches!(
            pte(&w, mm, 3),
            Pte::Present {
                write: false,
                dirty: false,
                ..
            }
        ),
        "write-protected and clean"
    );
    assert_eq!(
        w.files.get(file).backing[3][1].load(std::sync::atomic::Ordering::SeqCst),
        1234
    );
    // The next store write-faults and dirties the page again.
    access::store(&w, 1, mm, 3, 99).unwrap();
    assert!(w.page(p).test(pg::DIRTY));
    quiescent::check_world(&w);
    assert!(sink.take().is_empty());
}

#[test]
fn split_unmap_with_ttu_sync_unmaps_and_remaps() {
    let (w, sink) = world(Kernel::default());
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 4, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 1, 5).unwrap();
    let p = mapped_pfn(&w, mm, 1);
    // Split's caller holds a reference and the page lock.
    mmlab_engine::ops::page_alloc::get_page(&w, p);
    let g = mmlab_engine::ops::pagemap::lock_page(&w, p);
    assert!(
        split::split_unmap_and_remap(&w, &g),
        "{}",
        w.trace.render(30)
    );
    drop(g);
    mmlab_engine::ops::page_alloc::put_page(&w, p);
    assert_eq!(pte(&w, mm, 1).pfn(), Some(p), "{}", w.trace.render(30));
    let r = access::load(&w, 0, mm, 1);
    assert_eq!(r, Ok(5), "{}", w.trace.render(40));
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(
        v.iter().all(|v| v.oracle != Oracle::I2TtuSync) && v.is_empty(),
        "{v:?}"
    );
}
