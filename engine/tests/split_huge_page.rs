//! `split_huge_page` of an anonymous THP (docs/MODEL.md §15, "THP split"): a PMD-mapped THP
//! is split into order-0 pages, each mapped where its part of the THP was, its data kept; a
//! PTE-mapped one too; an extra reference makes the split fail with every mapping restored;
//! the folio walk of `page_vma_mapped_walk` finds the huge PMD (lock held) or each PTE of a
//! PTE-mapped THP; `try_to_migrate` of a PMD-mapped THP with `TTU_SPLIT_HUGE_PMD` leaves
//! migration entries and an unmapped folio in both the in-walk (60fbb14396d5) and the
//! before-walk split.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::page::Compound;
use mmlab_engine::mm::{MmId, Pfn, Pmd, Pte, VmaId, World, WorldConfig};
use mmlab_engine::ops::access::{load, store};
use mmlab_engine::ops::huge_memory::madvise_hugepage;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munmap::{madvise_dontneed, munmap};
use mmlab_engine::ops::page_alloc::{get_page, put_page};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::pvmw::{PVMW_SYNC, PageVmaMappedWalk, PvmwFlags};
use mmlab_engine::ops::split_huge_page::{SplitError, split_huge_page};
use mmlab_engine::ops::ttu::{
    TTU_SPLIT_HUGE_PMD, TTU_SYNC, try_to_migrate, try_to_migrate_one_v6_14,
};
use mmlab_engine::sync::Ordering;

const PER: u64 = 8;

/// A world with 8-page PMDs, one mm with a 16-page anonymous VMA made `MADV_HUGEPAGE`, and
/// its first PMD faulted as a THP with `100 + va` stored in each page.
fn thp_world(kernel: Kernel) -> (World, Sink, MmId, VmaId, Pfn) {
    let sink = Sink::new();
    sink.install();
    let w = World::new(WorldConfig::stress(2), kernel);
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2 * PER, MapKind::Anon).unwrap();
    madvise_hugepage(&w, mm, 0, 2 * PER).unwrap();
    for va in 0..PER {
        store(&w, 0, mm, va, 100 + va).unwrap();
    }
    let Pmd::Huge { pfn: head, .. } = w.mms.get(mm).pmdp_get_lockless(0) else {
        panic!("not a huge PMD")
    };
    (w, sink, mm, vma, head)
}

fn free_frames(w: &World) -> usize {
    w.free_pages.lock().len()
}

/// After a split: each page of the old THP is order-0, mapped by its PTE once, with one
/// reference for the PTE (and `extra` more on the head: the caller's), and the data kept.
fn assert_split(w: &World, mm: MmId, head: Pfn, extra: i32) {
    for va in 0..PER {
        let sub = w.subpage(head, va as usize);
        let page = w.page(sub);
        assert_eq!(page.compound.get(), Compound::Single, "{sub}");
        assert!(matches!(w.pte_at(mm, va), Some(Pte::Present { pfn, .. }) if pfn == sub));
        assert_eq!(page.mapcount.load(Ordering::SeqCst), 1, "{sub}");
        let want = 1 + if va == 0 { extra } else { 0 };
        assert_eq!(page.refcount.load(Ordering::SeqCst), want, "{sub}");
        assert!(page.is_anon());
        assert_eq!(load(w, 0, mm, va).unwrap(), 100 + va, "data kept");
    }
    assert_eq!(w.page(head).entire_mapcount.load(Ordering::SeqCst), 0);
}

#[test]
fn a_pmd_mapped_thp_splits_into_order_0_pages_mapped_where_it_was() {
    let (w, sink, mm, vma, head) = thp_world(Kernel::default());
    let free = free_frames(&w);
    get_page(&w, head);
    let page = lock_page(&w, head);
    assert_eq!(split_huge_page(&w, &page), Ok(()));
    assert!(matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)));
    page.unlock();
    assert_split(&w, mm, head, 1);
    put_page(&w, head);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
    // The pages go one by one now: MADV_DONTNEED of two of them frees two frames.
    madvise_dontneed(&w, mm, 0, 2).unwrap();
    assert_eq!(free_frames(&w), free + 2);
    munmap(&w, mm, vma).unwrap();
    assert_eq!(free_frames(&w), free + PER as usize);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn a_pte_mapped_thp_splits_too() {
    let (w, sink, mm, _, head) = thp_world(Kernel::default());
    // MADV_DONTNEED of part of the PMD splits the PMD (`__split_huge_pmd`), not the page.
    madvise_dontneed(&w, mm, PER - 1, PER).unwrap();
    assert!(matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)));
    assert!(matches!(w.page(head).compound.get(), Compound::Head { .. }));
    get_page(&w, head);
    let page = lock_page(&w, head);
    assert_eq!(split_huge_page(&w, &page), Ok(()));
    page.unlock();
    for va in 0..PER - 1 {
        let sub = w.subpage(head, va as usize);
        assert_eq!(w.page(sub).compound.get(), Compound::Single);
        assert_eq!(w.page(sub).mapcount.load(Ordering::SeqCst), 1);
        assert_eq!(load(&w, 0, mm, va).unwrap(), 100 + va);
    }
    let last = w.subpage(head, PER as usize - 1);
    assert!(
        !w.pages.is_live(last),
        "the page no PTE maps is freed by the split"
    );
    put_page(&w, head);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn an_extra_reference_fails_the_split_and_leaves_the_thp_mapped() {
    let (w, sink, mm, _, head) = thp_world(Kernel::default());
    get_page(&w, head);
    get_page(&w, head); // someone else's pin
    let page = lock_page(&w, head);
    assert_eq!(split_huge_page(&w, &page), Err(SplitError::Again));
    page.unlock();
    // can_split_folio refused before anything was unmapped: still PMD-mapped.
    assert!(matches!(
        w.mms.get(mm).pmdp_get_lockless(0),
        Pmd::Huge { .. }
    ));
    assert!(matches!(w.page(head).compound.get(), Compound::Head { .. }));
    put_page(&w, head);
    put_page(&w, head);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn the_folio_walk_finds_the_huge_pmd_with_its_lock_held_then_each_pte() {
    let (w, sink, mm, vma, head) = thp_world(Kernel::default());
    {
        let mut walk = PageVmaMappedWalk::new(&w, head, PER as usize, vma, 0, PVMW_SYNC);
        assert!(walk.page_vma_mapped_walk());
        let pmd = walk.pmd().expect("a PMD mapping");
        assert!(matches!(pmd.get(), Pmd::Huge { pfn, .. } if pfn == head));
        assert!(walk.pte().is_none());
        assert!(
            !walk.page_vma_mapped_walk(),
            "the only PMD mapping was the last"
        );
    }
    madvise_dontneed(&w, mm, 2, 3).unwrap(); // PTE-mapped now, one PTE gone
    for flags in [PVMW_SYNC, PvmwFlags::empty()] {
        let mut walk = PageVmaMappedWalk::new(&w, head, PER as usize, vma, 0, flags);
        let mut found = Vec::new();
        while walk.page_vma_mapped_walk() {
            assert!(walk.pmd().is_none());
            let pte = walk.pte().expect("a PTE mapping");
            assert!(pte.get().is_present());
            found.push(walk.address());
        }
        assert_eq!(found, vec![0, 1, 3, 4, 5, 6, 7], "{flags:?}");
    }
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn try_to_migrate_splits_the_pmd_into_migration_entries_in_the_walk_or_before_it() {
    for kernel in [
        Kernel::default(),
        Kernel {
            rmap: mmlab_engine::ops::rmap_walk::RmapOps {
                try_to_migrate_one: try_to_migrate_one_v6_14,
                ..Kernel::default().rmap
            },
            ..Kernel::default()
        },
    ] {
        let (w, sink, mm, _, head) = thp_world(kernel);
        get_page(&w, head);
        let page = lock_page(&w, head);
        assert!(try_to_migrate(&w, &page, TTU_SPLIT_HUGE_PMD | TTU_SYNC));
        assert!(!w.folio_mapped(head));
        for va in 0..PER {
            let sub = w.subpage(head, va as usize);
            assert!(matches!(w.pte_at(mm, va), Some(Pte::Migration { pfn, .. }) if pfn == sub));
        }
        assert_eq!(
            w.page(head).refcount.load(Ordering::SeqCst),
            1,
            "only ours: the PMD's reference went with it"
        );
        page.unlock();
        drop(sink);
    }
}
