//! The migration, fault and mlock entries of the kernel function table are what every caller
//! runs: a world whose table has one entry replaced by a recording wrapper of the default sees
//! the wrapper called from each path that reaches that step in the kernel. Each test fails if
//! one of those callers calls the function by path instead of through `w.kernel`.
//!
//! The wrappers are plain `fn`s (table entries are function pointers, which capture nothing),
//! so each records into a static of its own test.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn};
use mmlab_engine::check::Sink;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::mm_struct::MmMap;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{FileId, MmId, Pfn, World, WorldConfig, pg};
use mmlab_engine::ops::migrate::{self, MigrateResult, NewPagePool};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::LockedPage;
use mmlab_engine::ops::{Error, access, fault, mlock, munlock, pgtable, rmap_walk, ttu};
use mmlab_engine::sync::RwSemReadGuard;
use std::sync::{Arc, Mutex};

/// A world running `kernel` with one `(pages, hugetlb)` file, its sink installed.
fn world(kernel: Kernel, file: (usize, bool)) -> (Arc<World>, Sink) {
    let mut cfg = WorldConfig::stress(2);
    cfg.files = vec![file];
    let w = Arc::new(World::new(cfg, kernel));
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

fn no_violations(sink: &Sink) {
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

fn mapped_pfn(w: &World, mm: MmId, va: u64) -> Pfn {
    w.pte_at(mm, va)
        .and_then(|p| p.pfn())
        .expect("the page is mapped")
}

static MOVED: Mutex<Vec<Pfn>> = Mutex::new(Vec::new());

/// `move_to_new_page` that records the old page, then moves it as the kernel does.
fn recording_move_to_new_page(w: &World, new: Pfn, old: Pfn) -> MigrateResult {
    MOVED.lock().unwrap().push(old);
    migrate::move_to_new_page(w, new, old)
}

#[test]
fn a_replaced_move_to_new_page_is_what_migrate_pages_and_hugetlb_migration_run() {
    let mut kernel = Kernel::default();
    kernel.migrate.move_to_new_page = recording_move_to_new_page;

    // migrate_pages → unmap_and_move → __unmap_and_move → move_to_new_page.
    let (w, sink) = world(kernel, (2, false));
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 5).unwrap();
    let anon = mapped_pfn(&w, mm, 0);
    assert!(migrate::isolate_lru_page(&w, anon));
    let pool = NewPagePool::new(&w, 1);
    assert!(migrate::migrate_pages(&w, &pool, &[anon]).is_empty());
    assert_eq!(
        *MOVED.lock().unwrap(),
        [anon],
        "migrate_pages moved through the table"
    );
    assert_eq!(access::load(&w, 0, mm, 0), Ok(5));
    no_violations(&sink);

    // unmap_and_move_huge_page → move_to_new_page (the kernel's move_to_new_folio).
    let (w, sink) = world(kernel, (2, true));
    let mm = mm_alloc(&w).unwrap();
    let shared = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    mmap(&w, mm, 0, 1, shared).unwrap();
    access::store(&w, 0, mm, 0, 6).unwrap();
    let huge = mapped_pfn(&w, mm, 0);
    assert!(migrate::isolate_lru_page(&w, huge));
    let pool = NewPagePool::new(&w, 1);
    assert_eq!(
        (w.kernel.migrate.unmap_and_move_huge_page)(&w, &pool, huge),
        MigrateResult::Success
    );
    assert_eq!(
        *MOVED.lock().unwrap(),
        [anon, huge],
        "hugetlb migration moved through the table"
    );
    assert_eq!(access::load(&w, 0, mm, 0), Ok(6));
    no_violations(&sink);
}

static WAITED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// `migration_entry_wait` that records the address and returns at once (the migration it
/// would wait for is the test thread itself).
fn recording_migration_entry_wait(
    _w: &World,
    _mm: MmId,
    va: u64,
    _map: &RwSemReadGuard<'_, MmMap>,
) {
    WAITED.lock().unwrap().push(va);
}

#[test]
fn a_replaced_migration_entry_wait_is_what_anon_and_file_faults_on_a_migration_entry_run() {
    let mut kernel = Kernel::default();
    kernel.fault.migration_entry_wait = recording_migration_entry_wait;
    let (w, sink) = world(kernel, (2, false));
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    let file = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    mmap(&w, mm, 1, 1, file).unwrap();
    for va in [0, 1] {
        access::store(&w, 0, mm, va, 7).unwrap();
        let pfn = mapped_pfn(&w, mm, va);
        // Half a migration: isolated, locked, anon_vma pinned, PTE -> migration entry.
        assert!(migrate::isolate_lru_page(&w, pfn));
        let page = mmlab_engine::ops::pagemap::lock_page(&w, pfn);
        let av = rmap_walk::page_get_anon_vma(&w, pfn);
        ttu::try_to_migrate(&w, &page, ttu::TtuFlags::empty());
        assert!(matches!(w.pte_at(mm, va), Some(Pte::Migration { .. })));

        // The fault runs on its own thread: this one holds the page lock, which is below
        // mmap_lock.
        let wf = w.clone();
        join(spawn("faulter", &sink, move || {
            fault::do_user_addr_fault(&wf, mm, va, false)
        }))
        .unwrap();
        assert_eq!(WAITED.lock().unwrap().last(), Some(&va));

        migrate::remove_migration_ptes(&w, pfn, &page, None);
        if let Some(av) = av {
            pgtable::put_anon_vma(&w, av);
        }
        drop(page);
        migrate::putback_lru_page(&w, pfn);
    }
    assert_eq!(*WAITED.lock().unwrap(), [0, 1]);
    no_violations(&sink);
}

static FAULTED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// `filemap_fault` that records the index, then finds or reads the page as the kernel does.
fn recording_filemap_fault(w: &World, file: FileId, index: u64) -> Result<LockedPage<'_>, Error> {
    FAULTED.lock().unwrap().push(index);
    fault::filemap_fault(w, file, index)
}

#[test]
fn a_replaced_filemap_fault_is_what_read_shared_and_cow_faults_run() {
    let mut kernel = Kernel::default();
    kernel.fault.filemap_fault = recording_filemap_fault;
    let (w, sink) = world(kernel, (3, false));
    let mm = mm_alloc(&w).unwrap();
    let file = w.file(0);
    mmap(
        &w,
        mm,
        0,
        2,
        MapKind::File {
            file,
            pgoff: 0,
            shared: true,
        },
    )
    .unwrap();
    mmap(
        &w,
        mm,
        2,
        1,
        MapKind::File {
            file,
            pgoff: 2,
            shared: false,
        },
    )
    .unwrap();
    access::load(&w, 0, mm, 0).unwrap(); // do_read_fault, index 0
    access::store(&w, 0, mm, 1, 1).unwrap(); // do_shared_fault, index 1
    access::store(&w, 0, mm, 2, 2).unwrap(); // do_cow_fault, index 2
    assert_eq!(*FAULTED.lock().unwrap(), [0, 1, 2]);
    assert!(w.page(mapped_pfn(&w, mm, 2)).is_anon(), "the COW copy");
    no_violations(&sink);
}

static MLOCKED_COUNT: Mutex<Vec<Pfn>> = Mutex::new(Vec::new());

/// `mlock_folio` that records the page, then counts it as the kernel does.
fn recording_mlock_folio(w: &World, pfn: Pfn) {
    MLOCKED_COUNT.lock().unwrap().push(pfn);
    mlock::mlock_folio(w, pfn);
}

static MLOCKED_PAGE: Mutex<Vec<Pfn>> = Mutex::new(Vec::new());

/// `mlock_vma_page` (≤5.17) that records the page, then sets PG_mlocked as the kernel does.
fn recording_mlock_vma_page(w: &World, pfn: Pfn) {
    MLOCKED_PAGE.lock().unwrap().push(pfn);
    mlock::mlock_vma_page(w, pfn);
}

/// mlock(2) of a two-page VMA whose page 0 is mapped: mlock's own walk mlocks page 0, and its
/// populate faults page 1 in, which the fault path mlocks. Returns (page 0, page 1).
fn mlock_half_mapped(w: &World, kind: MapKind) -> (Pfn, Pfn) {
    let mm = mm_alloc(w).unwrap();
    let vma = mmap(w, mm, 0, 2, kind).unwrap();
    access::store(w, 0, mm, 0, 1).unwrap();
    munlock::mlock(w, mm, vma).unwrap();
    let (p0, p1) = (mapped_pfn(w, mm, 0), mapped_pfn(w, mm, 1));
    assert!(w.page(p0).test(pg::MLOCKED) && w.page(p1).test(pg::MLOCKED));
    munlock::munlock(w, mm, vma).unwrap();
    (p0, p1)
}

#[test]
fn a_replaced_mlock_step_is_what_mlock_and_the_mlocking_fault_run() {
    // 5.18+: mlock_folio, from mlock_pte_range and from the new-anon fault.
    let mut kernel = Kernel::default();
    kernel.mlock.mlock_folio = recording_mlock_folio;
    let (w, sink) = world(kernel, (2, false));
    let (p0, p1) = mlock_half_mapped(&w, MapKind::Anon);
    let seen = MLOCKED_COUNT.lock().unwrap().clone();
    assert!(seen.contains(&p0), "mlock(2)'s walk: {seen:?}");
    assert!(seen.contains(&p1), "the fault in a VM_LOCKED VMA: {seen:?}");
    no_violations(&sink);

    // ≤5.17: mlock_vma_page, from follow_page(FOLL_MLOCK) and from the file fault.
    let mut kernel = Kernel::default();
    kernel.mlock.scheme = MlockScheme::PageMlock;
    kernel.mlock.mlock_vma_page = recording_mlock_vma_page;
    let (w, sink) = world(kernel, (2, false));
    let file = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    let (p0, p1) = mlock_half_mapped(&w, file);
    let seen = MLOCKED_PAGE.lock().unwrap().clone();
    assert!(seen.contains(&p0), "mlock(2)'s walk: {seen:?}");
    assert!(seen.contains(&p1), "the fault in a VM_LOCKED VMA: {seen:?}");
    no_violations(&sink);
}
