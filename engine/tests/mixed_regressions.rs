//! Engine bugs found by the `mixed` scenario, each reduced to its smallest single-thread
//! reproduction.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pg;
use mmlab_engine::mm::{World, WorldConfig, vm};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, migrate, munlock, munmap, reclaim, ttu};
use mmlab_engine::sync::Ordering;

/// `mlock(2)` of a VMA that is already VM_LOCKED changes nothing (`mlock_fixup`: `newflags ==
/// oldflags`, nothing to do). The model used to walk the VMA again and count every mapped
/// page a second time in its `mlock_count`, so that the one rmap removal of munmap left the
/// page PG_mlocked with no mapping: stranded (I11).
#[test]
fn mlock_of_a_locked_vma_does_not_count_its_pages_twice() {
    for scheme in [MlockScheme::MlockCount, MlockScheme::PageMlock] {
        let mut kernel = Kernel::default();
        kernel.mlock.scheme = scheme;
        let w = World::new(WorldConfig::stress(1), kernel);
        let sink = Sink::new();
        sink.install();
        let mm = mm_alloc(&w).unwrap();
        let shared = MapKind::File {
            file: w.file(0),
            pgoff: 0,
            shared: true,
        };
        let vma = mmap(&w, mm, 0, 1, shared).unwrap();
        access::store(&w, 0, mm, 0, 7).unwrap();
        let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
        munlock::mlock(&w, mm, vma).unwrap();
        munlock::mlock(&w, mm, vma).unwrap();
        if scheme == MlockScheme::MlockCount {
            assert_eq!(
                w.page(pfn).mlock_count.load(Ordering::SeqCst),
                1,
                "{scheme:?}"
            );
        }
        munmap::munmap(&w, mm, vma).unwrap();
        assert!(
            !w.page(pfn).test(pg::MLOCKED),
            "{scheme:?}: stranded PG_mlocked"
        );
        quiescent::check_world(&w);
        let fired: Vec<Oracle> = sink.take().iter().map(|v| v.oracle).collect();
        assert!(fired.is_empty(), "{scheme:?}: {fired:?}");
    }
}

/// Reclaim works on folios it has isolated from the LRU (`isolate_lru_folios`), and
/// `__mlock_folio` leaves the `mlock_count` of an isolated folio alone ("count stays low").
/// So when reclaim's `try_to_unmap_one` meets a VM_LOCKED mapping and "restores the mlock
/// which got missed", the count does not move. The model's `mlock_folio` counted an isolated
/// folio anyway, and its reclaim did not isolate: a reclaim that passed its "unevictable and
/// mapped" check just before an mlock() walk counted the page, then met the new VM_LOCKED
/// mapping in try_to_unmap, counted it a second time — and after munmap the page stayed
/// PG_mlocked with no mapping (I11), erring high where the kernel errs low.
#[test]
fn restoring_the_mlock_of_an_isolated_page_does_not_count_it_twice() {
    let w = World::new(WorldConfig::stress(1), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let file = w.file(0);
    let shared = MapKind::File {
        file,
        pgoff: 0,
        shared: true,
    };
    let vma = mmap(&w, mm, 0, 1, shared).unwrap();
    access::store(&w, 0, mm, 0, 7).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    // Reclaim has isolated the page and passed its checks when mlock() counts it.
    assert!(migrate::isolate_lru_page(&w, pfn));
    munlock::mlock(&w, mm, vma).unwrap();
    let guard = mmlab_engine::ops::pagemap::lock_page(&w, pfn);
    assert!(
        !ttu::try_to_unmap(&w, &guard, ttu::TtuFlags::empty()),
        "kept: VM_LOCKED"
    );
    drop(guard);
    migrate::putback_lru_page(&w, pfn);
    assert!(w.page(pfn).test(pg::MLOCKED), "the mlock was restored");
    munmap::munmap(&w, mm, vma).unwrap();
    assert!(!w.page(pfn).test(pg::MLOCKED), "stranded PG_mlocked");
    quiescent::check_world(&w);
    let fired: Vec<Oracle> = sink.take().iter().map(|v| v.oracle).collect();
    assert!(fired.is_empty(), "{fired:?}");
}

/// Since the model counts mlocks only on the LRU (as `__mlock_folio` does), a migration must
/// put its newpage on the LRU before `remove_migration_ptes` ("__unmap_and_move() push good
/// newpage to LRU", 5.18), or the VM_LOCKED mappings it restores are never counted.
#[test]
fn a_migrated_page_in_a_locked_vma_is_counted() {
    let w = World::new(WorldConfig::stress(1), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let shared = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    let vma = mmap(&w, mm, 0, 1, shared).unwrap();
    munlock::mlock(&w, mm, vma).unwrap();
    let pfn_at = |w: &World| w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    let old = pfn_at(&w);
    let pool = migrate::NewPagePool::new(&w, 1);
    assert!(migrate::isolate_lru_page(&w, old));
    assert!(migrate::migrate_pages(&w, &pool, &[old]).is_empty());
    let new = pfn_at(&w);
    assert_ne!(new, old);
    let page = w.page(new);
    assert!(page.test(pg::MLOCKED) && page.test(pg::UNEVICTABLE) && page.test(pg::LRU));
    assert_eq!(page.mlock_count.load(Ordering::SeqCst), 1);
    munmap::munmap(&w, mm, vma).unwrap();
    assert!(!w.page(new).test(pg::MLOCKED));
    quiescent::check_world(&w);
    let fired: Vec<Oracle> = sink.take().iter().map(|v| v.oracle).collect();
    assert!(fired.is_empty(), "{fired:?}");
}

/// Reclaim leaves a PG_mlocked folio alone (`!folio_evictable` -> activate_locked), whatever
/// its `mlock_count` says. The model's reclaim skipped only "unevictable and mapped" folios:
/// an mlocked folio whose count was not kept (mlocked while isolated) was unmapped from a VMA
/// that munlock(2) had just cleared VM_LOCKED on — before munlock's page-table walk reached it,
/// so nobody munlocked it — and freed mlocked (I11).
#[test]
fn reclaim_leaves_an_mlocked_page_alone() {
    let w = World::new(WorldConfig::stress(1), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let file = w.file(0);
    let shared = MapKind::File {
        file,
        pgoff: 0,
        shared: true,
    };
    let vma = mmap(&w, mm, 0, 1, shared).unwrap();
    access::store(&w, 0, mm, 0, 7).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    // mlock() while someone has the page isolated: PG_mlocked, not counted.
    assert!(migrate::isolate_lru_page(&w, pfn));
    munlock::mlock(&w, mm, vma).unwrap();
    migrate::putback_lru_page(&w, pfn);
    assert!(w.page(pfn).test(pg::MLOCKED));
    // munlock(2) has cleared VM_LOCKED; its walk has not reached the page yet.
    w.vmas
        .get(vma)
        .flags
        .fetch_and(!vm::LOCKED, Ordering::SeqCst);
    assert_eq!(
        reclaim::reclaim_page(&w, file, 0),
        reclaim::Reclaimed::Skipped
    );
    let fired: Vec<Oracle> = sink.take().iter().map(|v| v.oracle).collect();
    assert!(fired.is_empty(), "{fired:?}");
}

/// `get_page_unless_zero` on a page found by a lockless lookup (the page cache read under
/// `i_pages` and then dropped, as writeback and reclaim do) may race with the page being
/// freed and its frame reallocated: the kernel's speculative `folio_try_get` then takes a
/// reference on the new folio, and the caller's identity re-check puts it back. The model
/// checked the frame's generation *before* the increment only, so it could answer "got it"
/// for the old generation: the caller then used a stale pfn (a use-after-free report) and
/// held a reference on somebody else's page.
#[test]
fn a_speculative_reference_on_a_recycled_frame_is_refused() {
    use mmlab_engine::actor::Env;
    use mmlab_engine::ops::page_alloc;
    use std::sync::Arc;
    for seed in 0..300u64 {
        let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
        let pfn = page_alloc::alloc_page(&w).unwrap();
        let mut env = Env::new(seed);
        env.inject = true;
        let (wg, wr) = (w.clone(), w.clone());
        let getter = move || {
            if page_alloc::get_page_unless_zero(&wg, pfn) {
                let _ = wg.page(pfn);
                page_alloc::put_page(&wg, pfn);
            }
        };
        let recycler = move || {
            page_alloc::put_page(&wr, pfn);
            // If that was the last reference (the getter had not taken one first), the frame
            // comes straight back (the free list is LIFO), under a new generation.
            if !wr.pages.is_live(pfn) {
                let again = page_alloc::alloc_page(&wr).unwrap();
                assert_eq!(again.idx, pfn.idx);
            }
        };
        env.run(vec![
            ("getter", Box::new(getter)),
            ("recycler", Box::new(recycler)),
        ]);
        let fired: Vec<Oracle> = env.sink.take().iter().map(|v| v.oracle).collect();
        assert!(fired.is_empty(), "seed {seed}: {fired:?}");
    }
}
