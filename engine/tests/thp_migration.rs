//! Migration of a PMD-mapped THP without splitting it (docs/MODEL.md §15): PMD migration
//! entries (`set_pmd_migration_entry`, `remove_migration_pmd`), a fault that waits on one
//! (`pmd_migration_entry_wait`), fork sharing a THP by huge PMDs (`copy_huge_pmd`, its
//! migration-entry arm and its pinned-THP fallback), and the walkers that meet a PMD
//! migration entry: `zap_huge_pmd` and `__split_huge_pmd` (84c3fc4e9c56).
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_until};
use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::page::{Compound, GUP_PIN_COUNTING_BIAS};
use mmlab_engine::mm::{MmId, Pfn, Pmd, Pte, World, WorldConfig, pg};
use mmlab_engine::ops::access::{load, store};
use mmlab_engine::ops::fork::dup_mm;
use mmlab_engine::ops::huge_memory::madvise_hugepage;
use mmlab_engine::ops::migrate::MigrateResult;
use mmlab_engine::ops::migrate_thp::{
    ThpMigrated, migrate_thp_at, move_to_new_folio_thp, remove_migration_ptes_folio,
};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munmap::{madvise_dontneed, munmap};
use mmlab_engine::ops::pagemap::{LockedPage, lock_page, trylock_page};
use mmlab_engine::ops::{page_alloc, pgtable, rmap_walk, ttu};
use mmlab_engine::sync::{Arc, Ordering};

const PER: u64 = 8;

/// A world with 8-page PMDs and one mm whose 16-page anonymous VMA is `MADV_HUGEPAGE`'d, its
/// first PMD a THP holding `100 + va` at each page.
fn world() -> (Arc<World>, Sink, MmId, mmlab_engine::mm::VmaId) {
    let sink = Sink::new();
    sink.install();
    let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2 * PER, MapKind::Anon).unwrap();
    madvise_hugepage(&w, mm, 0, 2 * PER).unwrap();
    for va in 0..PER {
        store(&w, 0, mm, va, 100 + va).unwrap();
    }
    (w, sink, mm, vma)
}

fn huge(w: &World, mm: MmId, slot: usize) -> Option<(Pfn, bool)> {
    match w.mms.get(mm).pmdp_get_lockless(slot) {
        Pmd::Huge { pfn, write, .. } => Some((pfn, write)),
        _ => None,
    }
}

fn free_frames(w: &World) -> usize {
    w.free_pages.lock().len()
}

/// The first half of `unmap_and_move` of the THP at PMD 0 of `mm`, by hand: isolate it, lock
/// it, pin its anon_vma, `try_to_migrate` (the huge PMD becomes a migration entry).
fn unmap_thp(w: &World, mm: MmId) -> (Pfn, LockedPage<'_>, mmlab_engine::mm::AnonVmaId) {
    let (head, _) = huge(w, mm, 0).expect("a huge PMD");
    page_alloc::get_page(w, head);
    assert!(w.page(head).test_clear(pg::LRU), "isolate_lru_page");
    let folio = lock_page(w, head);
    let av = rmap_walk::page_get_anon_vma(w, head).expect("a mapped THP has an anon_vma");
    assert!(ttu::try_to_migrate(w, &folio, ttu::TtuFlags::empty()));
    (head, folio, av)
}

/// The second half: a new THP, `move_to_new_folio`, `remove_migration_ptes` to it, unlock,
/// drop the isolation and allocation references. Returns the new head.
fn move_thp(w: &World, old: Pfn, folio: LockedPage<'_>, av: mmlab_engine::mm::AnonVmaId) -> Pfn {
    let new = page_alloc::alloc_compound_page(w, PER as usize).unwrap();
    let newfolio = trylock_page(w, new).unwrap();
    assert_eq!(move_to_new_folio_thp(w, new, old), MigrateResult::Success);
    w.page(new).test_set(pg::LRU);
    remove_migration_ptes_folio(w, old, &newfolio);
    drop(newfolio);
    pgtable::put_anon_vma(w, av);
    drop(folio);
    page_alloc::put_page(w, old);
    page_alloc::put_page(w, new);
    new
}

#[test]
fn fork_shares_a_thp_by_read_only_huge_pmds() {
    let (w, sink, mm, _) = world();
    let (head, _) = huge(&w, mm, 0).unwrap();
    let child = dup_mm(&w, mm).unwrap();
    assert_eq!(huge(&w, mm, 0), Some((head, false)), "pmdp_set_wrprotect");
    assert_eq!(huge(&w, child, 0), Some((head, false)));
    let page = w.page(head);
    assert_eq!(page.entire_mapcount.load(Ordering::SeqCst), 2);
    assert_eq!(page.refcount.load(Ordering::SeqCst), 2);
    assert!(!page.test(pg::ANON_EXCLUSIVE));
    for va in 0..PER {
        assert_eq!(load(&w, 0, child, va).unwrap(), 100 + va);
    }
    // A write in the child: do_huge_pmd_wp_page splits, the PTE level copies (COW).
    store(&w, 0, child, 3, 999).unwrap();
    assert_eq!(load(&w, 0, child, 3).unwrap(), 999);
    assert_eq!(load(&w, 0, mm, 3).unwrap(), 103);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn fork_splits_a_maybe_pinned_thp_instead() {
    let (w, sink, mm, _) = world();
    let (head, _) = huge(&w, mm, 0).unwrap();
    // folio_maybe_dma_pinned: as a FOLL_PIN would leave it.
    w.page(head)
        .refcount
        .fetch_add(GUP_PIN_COUNTING_BIAS, Ordering::SeqCst);
    let child = dup_mm(&w, mm).unwrap();
    assert!(
        matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)),
        "page_try_dup_anon_rmap failed: the parent's PMD split (-EAGAIN)"
    );
    for va in 0..PER {
        let sub = w.subpage(head, va as usize);
        assert!(matches!(w.pte_at(child, va), Some(Pte::Present { pfn, .. }) if pfn == sub));
        assert_eq!(load(&w, 0, child, va).unwrap(), 100 + va);
    }
    w.page(head)
        .refcount
        .fetch_sub(GUP_PIN_COUNTING_BIAS, Ordering::SeqCst);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn a_thp_mapped_by_huge_pmds_in_two_mms_migrates_whole() {
    let (w, sink, mm, _) = world();
    let child = dup_mm(&w, mm).unwrap();
    let (old, _) = huge(&w, mm, 0).unwrap();
    let free = free_frames(&w);
    assert_eq!(migrate_thp_at(&w, child, 0), ThpMigrated::Migrated);
    let (new, write) = huge(&w, mm, 0).expect("the parent maps a THP by a huge PMD again");
    assert_ne!(new, old);
    assert!(!write, "a readable migration entry comes back read-only");
    assert_eq!(huge(&w, child, 0), Some((new, false)));
    let page = w.page(new);
    assert_eq!(page.compound.get(), Compound::Head { nr: PER as u32 });
    assert_eq!(page.entire_mapcount.load(Ordering::SeqCst), 2);
    assert_eq!(page.refcount.load(Ordering::SeqCst), 2);
    assert!(page.test(pg::LRU));
    assert_eq!(
        free_frames(&w),
        free,
        "the old THP freed, the new one allocated"
    );
    assert!(!w.pages.is_live(old), "the old head is freed");
    for va in 0..PER {
        assert_eq!(load(&w, 0, mm, va).unwrap(), 100 + va);
        assert_eq!(load(&w, 0, child, va).unwrap(), 100 + va);
    }
    store(&w, 0, mm, 5, 55).unwrap();
    assert_eq!(load(&w, 0, child, 5).unwrap(), 105);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn a_writable_thp_migrates_writable_and_keeps_its_data() {
    let (w, sink, mm, _) = world();
    let (old, folio, av) = unmap_thp(&w, mm);
    match w.mms.get(mm).pmdp_get_lockless(0) {
        Pmd::Migration { pfn, write } => assert!(pfn == old && write),
        other => panic!("set_pmd_migration_entry left {other}"),
    }
    assert_eq!(w.page(old).entire_mapcount.load(Ordering::SeqCst), 0);
    assert_eq!(
        w.page(old).refcount.load(Ordering::SeqCst),
        1,
        "only the isolation's reference: the entry holds none"
    );
    assert!(matches!(w.pte_at(mm, 2), Some(Pte::Migration { .. })));
    let new = move_thp(&w, old, folio, av);
    assert_eq!(huge(&w, mm, 0), Some((new, true)));
    store(&w, 0, mm, 2, 22).unwrap();
    assert_eq!(
        huge(&w, mm, 0),
        Some((new, true)),
        "no fault: written in place"
    );
    assert_eq!(load(&w, 0, mm, 7).unwrap(), 107);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn a_fault_on_a_pmd_migration_entry_waits_then_sees_the_new_thp() {
    let (w, sink, mm, _) = world();
    let (old, folio, av) = unmap_thp(&w, mm);
    let faulter = {
        let w = w.clone();
        // cpu0's word of the page: the model's pages keep one word per CPU.
        spawn("faulter", &sink, move || load(&w, 0, mm, 4))
    };
    // pmd_migration_entry_wait: queued on the folio lock (PG_waiters set under the PMD lock).
    wait_until("the faulter to sleep on the migrating THP's lock", || {
        w.page(old).flags.load(Ordering::SeqCst) & pg::WAITERS != 0
    });
    assert!(!faulter.is_finished());
    let new = move_thp(&w, old, folio, av);
    assert_eq!(join(faulter).unwrap(), 104);
    assert_eq!(huge(&w, mm, 0).map(|h| h.0), Some(new));
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn munmap_zaps_a_pmd_migration_entry_and_the_migration_finds_nothing_to_restore() {
    let (w, sink, mm, vma) = world();
    let (old, folio, av) = unmap_thp(&w, mm);
    let rss = w.mms.get(mm).rss.load(std::sync::atomic::Ordering::Relaxed);
    // Another thread: munmap takes mmap_lock, above the folio lock this one holds.
    let unmapper = {
        let w = w.clone();
        spawn("munmap", &sink, move || munmap(&w, mm, vma))
    };
    join(unmapper).unwrap();
    assert_eq!(
        w.mms.get(mm).rss.load(std::sync::atomic::Ordering::Relaxed),
        rss - PER as i64,
        "zap_huge_pmd: the entry's pages leave the rss"
    );
    assert_eq!(w.page(old).refcount.load(Ordering::SeqCst), 1);
    let new = move_thp(&w, old, folio, av);
    assert!(!w.pages.is_live(old) && !w.pages.is_live(new), "both freed");
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn madv_dontneed_of_part_of_a_pmd_migration_entry_splits_it_first() {
    let (w, sink, mm, _) = world();
    let (old, folio, av) = unmap_thp(&w, mm);
    let zapper = {
        let w = w.clone();
        spawn("madvise", &sink, move || madvise_dontneed(&w, mm, 2, 4))
    };
    join(zapper).unwrap();
    assert!(
        matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)),
        "__split_huge_pmd: the migration entry became a PTE table (84c3fc4e9c56)"
    );
    assert!(
        matches!(w.pte_at(mm, 1), Some(Pte::Migration { pfn, .. }) if pfn == w.subpage(old, 1))
    );
    assert_eq!(w.pte_at(mm, 2), Some(Pte::None));
    let new = move_thp(&w, old, folio, av);
    for va in 0..PER {
        match va {
            2 | 3 => assert_eq!(w.pte_at(mm, va), Some(Pte::None)),
            _ => {
                let sub = w.subpage(new, va as usize);
                assert!(matches!(w.pte_at(mm, va), Some(Pte::Present { pfn, .. }) if pfn == sub));
                assert_eq!(load(&w, 0, mm, va).unwrap(), 100 + va);
            }
        }
    }
    assert_eq!(
        w.page(new).refcount.load(Ordering::SeqCst),
        PER as i32 - 2,
        "one reference per PTE"
    );
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}
