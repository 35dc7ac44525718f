//! The rmap entries of the kernel function table reach every caller at any depth: a world
//! built with one replaced entry runs the replacement from each path that calls the kernel
//! function, so a historical patch written as one function changes every path alike. Each
//! test counts the calls of a replacement (which then does what the default does) and fails
//! if a path calls the default by name instead of through `w.kernel.rmap`.
//!
//! `rwc->anon_lock` is the table's `anon_lock` for the walkers that set it in the kernel —
//! try_to_migrate (migration, the anon THP split) and page_mlock. try_to_unmap of an anon page
//! needs swap, which is not modelled, and `folio_mkclean` sets no `anon_lock` (it returns
//! early for a folio without an address_space): neither reaches it.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Pfn, VmaId, World, WorldConfig};
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages, putback_lru_page};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::pvmw::{self, PvmwFlags, PvmwItem};
use mmlab_engine::ops::reclaim::{Reclaimed, reclaim_page};
use mmlab_engine::ops::rmap_walk::{self, LockedAnonVma};
use mmlab_engine::ops::ttu::{self, TtuFlags};
use mmlab_engine::ops::{access, mkclean, munlock, page_alloc, split};
use std::cell::Cell;

thread_local! {
    /// Calls of the replaced entry on this test's thread (every path here runs on it).
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn calls() -> usize {
    CALLS.with(Cell::get)
}

fn count() {
    CALLS.with(|c| c.set(c.get() + 1));
}

fn counting_anon_lock(w: &World, pfn: Pfn) -> Option<LockedAnonVma<'_>> {
    count();
    rmap_walk::page_lock_anon_vma_read(w, pfn)
}

fn counting_try_to_unmap_one(w: &World, pfn: Pfn, vma: VmaId, va: u64, f: TtuFlags) -> bool {
    count();
    ttu::try_to_unmap_one(w, pfn, vma, va, f)
}

fn counting_pvmw(
    w: &World,
    pfn: Pfn,
    vma: VmaId,
    va: u64,
    flags: PvmwFlags,
) -> Option<PvmwItem<'_>> {
    count();
    pvmw::page_vma_mapped_walk(w, pfn, vma, va, flags)
}

fn world(kernel: Kernel) -> (World, Sink) {
    CALLS.with(|c| c.set(0));
    let w = World::new(WorldConfig::stress(2), kernel);
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

fn shared_file(w: &World) -> MapKind {
    MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    }
}

fn mapped_pfn(w: &World, mm: MmId, va: u64) -> Pfn {
    w.pte_at(mm, va).and_then(|p| p.pfn()).expect("mapped")
}

fn clean(w: &World, sink: &Sink) {
    quiescent::check_world(w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

/// An anon page mapped at va 0 of a fresh mm.
fn anon_page(w: &World) -> (MmId, Pfn) {
    let mm = mm_alloc(w).unwrap();
    mmap(w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(w, 0, mm, 0, 7).unwrap();
    (mm, mapped_pfn(w, mm, 0))
}

#[test]
fn a_replaced_anon_lock_is_used_by_try_to_migrate_migration_and_the_split() {
    let mut kernel = Kernel::default();
    kernel.rmap.anon_lock = counting_anon_lock;
    let (w, sink) = world(kernel);

    // try_to_migrate, called directly, then the migration entries restored.
    let (mm, pfn) = anon_page(&w);
    assert!(isolate_lru_page(&w, pfn));
    let page = lock_page(&w, pfn);
    let av = rmap_walk::page_get_anon_vma(&w, pfn).unwrap();
    assert!(ttu::try_to_migrate(&w, &page, TtuFlags::empty()));
    assert_eq!(calls(), 1, "try_to_migrate");
    mmlab_engine::ops::migrate::remove_migration_ptes(&w, pfn, &page, None);
    mmlab_engine::ops::pgtable::put_anon_vma(&w, av);
    page.unlock();
    putback_lru_page(&w, pfn);

    // migrate_pages: __unmap_and_move → try_to_migrate.
    let pool = NewPagePool::new(&w, 1);
    assert!(isolate_lru_page(&w, pfn));
    assert!(migrate_pages(&w, &pool, &[pfn]).is_empty());
    assert_eq!(calls(), 2, "migration");
    assert_eq!(access::load(&w, 0, mm, 0).unwrap(), 7);

    // The THP split of an anon page: unmap_folio → try_to_migrate.
    let pfn = mapped_pfn(&w, mm, 0);
    page_alloc::get_page(&w, pfn);
    let page = lock_page(&w, pfn);
    assert!(split::split_unmap_and_remap(&w, &page));
    page.unlock();
    page_alloc::put_page(&w, pfn);
    assert_eq!(calls(), 3, "split");
    clean(&w, &sink);
}

#[test]
fn a_replaced_anon_lock_is_used_by_page_mlock() {
    // page_mlock walks anon pages too; a second mapping of an anon page needs fork, which is
    // not modelled — so this calls it directly on a mapped, mlocked anon page.
    let mut kernel = Kernel::default();
    kernel.mlock.scheme = MlockScheme::PageMlock;
    kernel.rmap.anon_lock = counting_anon_lock;
    let (w, sink) = world(kernel);
    let (_mm, pfn) = anon_page(&w);
    let page = lock_page(&w, pfn);
    munlock::page_mlock(&w, &page);
    page.unlock();
    assert_eq!(calls(), 1, "page_mlock");
    clean(&w, &sink);
}

#[test]
fn a_replaced_try_to_unmap_one_is_used_by_reclaim_and_the_split() {
    let mut kernel = Kernel::default();
    kernel.rmap.try_to_unmap_one = counting_try_to_unmap_one;
    let (w, sink) = world(kernel);
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 4, shared_file(&w)).unwrap();
    access::load(&w, 0, mm, 0).unwrap();
    access::load(&w, 0, mm, 1).unwrap();

    // Reclaim of a mapped page-cache page: try_to_unmap → try_to_unmap_one.
    assert_eq!(reclaim_page(&w, w.file(0), 0), Reclaimed::Freed);
    assert_eq!(calls(), 1, "reclaim");

    // The THP split of a file page: unmap_folio → try_to_unmap → try_to_unmap_one.
    let pfn = mapped_pfn(&w, mm, 1);
    page_alloc::get_page(&w, pfn);
    let page = lock_page(&w, pfn);
    assert!(split::split_unmap_and_remap(&w, &page));
    page.unlock();
    page_alloc::put_page(&w, pfn);
    assert_eq!(calls(), 2, "split");
    clean(&w, &sink);
}

#[test]
fn a_replaced_page_vma_mapped_walk_is_used_by_every_walker() {
    let mut kernel = Kernel::default();
    kernel.mlock.scheme = MlockScheme::PageMlock;
    kernel.rmap.page_vma_mapped_walk = counting_pvmw;
    let (w, sink) = world(kernel);
    let file = w.file(0);
    let a = mm_alloc(&w).unwrap();
    let b = mm_alloc(&w).unwrap();
    let va = mmap(&w, a, 0, 4, shared_file(&w)).unwrap();
    let vb = mmap(&w, b, 0, 4, shared_file(&w)).unwrap();
    access::store(&w, 0, a, 0, 5).unwrap();
    access::load(&w, 1, b, 0).unwrap();
    let mut seen = 0;
    let mut step = |what: &str| {
        assert!(
            calls() > seen,
            "{what} bypassed the table's page_vma_mapped_walk"
        );
        seen = calls();
    };

    // Writeback: folio_mkclean → page_mkclean_one.
    assert!(mkclean::writeback(&w, file, 0));
    step("page_mkclean_one");

    // Migration: try_to_migrate_one, then remove_migration_pte.
    let pfn = mapped_pfn(&w, a, 0);
    let pool = NewPagePool::new(&w, 1);
    assert!(isolate_lru_page(&w, pfn));
    let before = calls();
    assert!(migrate_pages(&w, &pool, &[pfn]).is_empty());
    assert!(
        calls() >= before + 4,
        "try_to_migrate_one and remove_migration_pte, for both mappings: {} calls",
        calls() - before
    );
    step("migration");

    // Munlock (≤5.17): a page mapped by another VM_LOCKED VMA is re-mlocked by page_mlock.
    munlock::mlock(&w, a, va).unwrap();
    munlock::mlock(&w, b, vb).unwrap();
    munlock::munlock(&w, a, va).unwrap();
    step("page_mlock");
    munlock::munlock(&w, b, vb).unwrap();

    // Reclaim: try_to_unmap_one.
    assert_eq!(reclaim_page(&w, file, 0), Reclaimed::Freed);
    step("try_to_unmap_one");
    clean(&w, &sink);
}
