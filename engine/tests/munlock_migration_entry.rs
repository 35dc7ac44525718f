//! A munlock walk that meets a migration entry (5.18+): `mlock_pte_range` skips a non-present
//! PTE, so the page under migration is not munlocked by it. If the migration then fails and
//! remaps the page into the VMA — now without VM_LOCKED — after an earlier failed pass had
//! remapped it into the still-VM_LOCKED VMA (setting PG_mlocked on the isolated folio, with no
//! count), the folio goes back to the LRU mlocked with nothing mlocking it: the kernel leaves
//! it unevictable until it is freed (`lru_add_fn`: "Err on the safe side, underestimate, let
//! page reclaim fix it"). I11 must not call that page stranded; it must still call any other
//! mlocked page with no mapping stranded.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig, pg};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::{access, migrate, munlock, ttu};
use mmlab_engine::sync::Ordering;

fn world() -> (World, mmlab_engine::mm::MmId, mmlab_engine::mm::VmaId) {
    let mut kernel = Kernel::default();
    kernel.mlock.scheme = MlockScheme::MlockCount;
    let w = World::new(WorldConfig::stress(1), kernel);
    let mm = mm_alloc(&w).unwrap();
    let shared = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    let vma = mmap(&w, mm, 0, 1, shared).unwrap();
    access::store(&w, 0, mm, 0, 7).unwrap();
    (w, mm, vma)
}

#[test]
fn munlock_walk_records_the_page_whose_migration_entry_it_skipped() {
    let (w, mm, vma) = world();
    munlock::mlock(&w, mm, vma).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    let page = w.page(pfn);
    assert!(page.test(pg::MLOCKED));

    // A migration has the page isolated, locked and unmapped to a migration entry.
    assert!(migrate::isolate_lru_page(&w, pfn));
    let guard = lock_page(&w, pfn);
    ttu::try_to_migrate(&w, &guard, ttu::TtuFlags::empty());
    assert!(!page.mapped(), "the PTE is a migration entry");

    // munlock(2): VM_LOCKED cleared, the walk passes the migration entry.
    munlock::munlock(&w, mm, vma).unwrap();
    assert!(
        page.munlock_missed.load(Ordering::SeqCst),
        "the walk recorded that it could not munlock the page"
    );

    // The migration fails and restores the PTE; the page goes back to the LRU.
    migrate::remove_migration_ptes(&w, pfn, &guard, None);
    drop(guard);
    migrate::putback_lru_page(&w, pfn);
    assert!(page.mapped());
}

#[test]
fn i11_spares_a_page_the_munlock_walk_missed_and_no_other() {
    for missed in [false, true] {
        let (w, mm, _vma) = world();
        let sink = Sink::new();
        sink.install();
        // A page cache page the shared mapping mapped, left mlocked with no mapping.
        let pfn = w.files.get(w.file(0)).i_pages.lock().pages[0].unwrap();
        let page = w.page(pfn);
        mmlab_engine::ops::munmap::munmap_range(&w, mm, 0, 1).unwrap();
        assert!(!page.mapped());
        page.test_set(pg::MLOCKED);
        page.munlock_missed.store(missed, Ordering::SeqCst);
        quiescent::check_world(&w);
        let stranded = sink
            .take()
            .iter()
            .any(|v| v.oracle == Oracle::I11Mlock && v.message.contains("stranded"));
        assert_eq!(
            stranded, !missed,
            "I11 calls a page mlocked with no mapping stranded unless a munlock walk missed it"
        );
    }
}
