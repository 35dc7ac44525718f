//! Transparent huge pages at the PMD level (docs/MODEL.md §15): the THP fault maps a huge PMD
//! with the entire mapcount and one reference, the walker and the TLB use it, MADV_DONTNEED of
//! the whole PMD zaps it (`zap_huge_pmd`) and of part of it splits it (`__split_huge_pmd`,
//! mapcounts moved to the pages), NUMA hinting makes it protnone and the hinting fault maps it
//! back; the quiescent I1 check sees a wrong entire mapcount (negative control). Fork of a THP
//! (`copy_huge_pmd`) is in `thp_migration.rs`.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::page::Compound;
use mmlab_engine::mm::{MmId, Pmd, Pte, World, WorldConfig};
use mmlab_engine::ops::access::{load, store};
use mmlab_engine::ops::huge_memory::{HugeMemoryOps, change_prot_numa, madvise_hugepage};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munmap::{madvise_dontneed, munmap};
use mmlab_engine::sync::Ordering;

const PER: u64 = 8;

/// A world with 8-page PMDs, one mm with a 16-page anonymous VMA made `MADV_HUGEPAGE`.
fn world(kernel: Kernel) -> (World, Sink, MmId, mmlab_engine::mm::VmaId) {
    let sink = Sink::new();
    sink.install();
    let w = World::new(WorldConfig::stress(2), kernel);
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2 * PER, MapKind::Anon).unwrap();
    madvise_hugepage(&w, mm, 0, 2 * PER).unwrap();
    (w, sink, mm, vma)
}

fn free_frames(w: &World) -> usize {
    w.free_pages.lock().len()
}

fn huge_head(w: &World, mm: MmId, slot: usize) -> mmlab_engine::mm::Pfn {
    match w.mms.get(mm).pmdp_get_lockless(slot) {
        Pmd::Huge { pfn, .. } => pfn,
        other => panic!("pmd {slot} is {other}, not huge"),
    }
}

#[test]
fn the_thp_fault_maps_a_huge_pmd_with_its_entire_mapcount() {
    let (w, sink, mm, _) = world(Kernel::default());
    let free = free_frames(&w);
    store(&w, 0, mm, 3, 33).unwrap();
    let head = huge_head(&w, mm, 0);
    let page = w.page(head);
    assert_eq!(page.compound.get(), Compound::Head { nr: PER as u32 });
    assert_eq!(page.entire_mapcount.load(Ordering::SeqCst), 1);
    assert_eq!(page.refcount.load(Ordering::SeqCst), 1);
    assert_eq!(
        free - free_frames(&w),
        PER as usize,
        "one THP of PER frames"
    );
    assert!(
        w.mms.get(mm).pmd_table(0).is_none(),
        "pmd_table: no PTE table at a huge PMD"
    );
    assert!(
        w.mms.get(mm).pmd_huge_pte[0].load(std::sync::atomic::Ordering::SeqCst) != 0,
        "a PTE table deposited"
    );
    // Every page of the PMD is the THP's subpage, and the mapcount counts it.
    for i in 0..PER {
        let sub = w.subpage(head, i as usize);
        assert!(matches!(w.pte_at(mm, i), Some(Pte::Present { pfn, .. }) if pfn == sub));
        assert_eq!(w.page_mapcount(sub), 1);
        assert_eq!(w.compound_head(sub), head);
    }
    assert_eq!(load(&w, 0, mm, 3).unwrap(), 33);
    assert_eq!(
        w.page(w.subpage(head, 3)).data[0].load(Ordering::SeqCst),
        33
    );
    // A second PMD faults its own THP.
    store(&w, 1, mm, PER + 1, 7).unwrap();
    assert_ne!(huge_head(&w, mm, 1), head);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn madv_dontneed_of_the_whole_pmd_zaps_the_huge_pmd() {
    let (w, sink, mm, _) = world(Kernel::default());
    let free = free_frames(&w);
    let tables = w.tables.live().len();
    store(&w, 0, mm, 1, 11).unwrap();
    let head = huge_head(&w, mm, 0);
    madvise_dontneed(&w, mm, 0, PER).unwrap();
    assert_eq!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::None);
    assert!(!w.pages.is_live(head), "the THP is freed after the flush");
    assert_eq!(free_frames(&w), free, "every frame back");
    assert_eq!(w.tables.live().len(), tables, "the deposited table freed");
    assert_eq!(
        w.mms.get(mm).rss.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    // The range faults again, a new THP.
    assert_eq!(load(&w, 0, mm, 1).unwrap(), 0);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn madv_dontneed_of_part_of_the_pmd_splits_it_and_moves_the_mapcounts() {
    let (w, sink, mm, _) = world(Kernel::default());
    let free = free_frames(&w);
    for va in 0..PER {
        store(&w, 0, mm, va, 100 + va).unwrap();
    }
    let head = huge_head(&w, mm, 0);
    madvise_dontneed(&w, mm, 0, 2).unwrap();
    let table = w.mms.get(mm).pmd_table(0).expect("split into a PTE table");
    let _ = table;
    assert_eq!(w.page(head).entire_mapcount.load(Ordering::SeqCst), 0);
    for va in 0..PER {
        let sub = w.subpage(head, va as usize);
        if va < 2 {
            assert_eq!(w.pte_at(mm, va), Some(Pte::None));
            assert_eq!(w.page(sub).mapcount.load(Ordering::SeqCst), 0);
        } else {
            assert!(matches!(w.pte_at(mm, va), Some(Pte::Present { pfn, .. }) if pfn == sub));
            assert_eq!(w.page(sub).mapcount.load(Ordering::SeqCst), 1);
            assert_eq!(load(&w, 0, mm, va).unwrap(), 100 + va, "data kept");
        }
    }
    // One reference per PTE still mapping it, on the head.
    assert_eq!(w.page(head).refcount.load(Ordering::SeqCst), PER as i32 - 2);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
    // The rest goes with the VMA, and the whole THP with its last reference.
    let vma = w.mms.get(mm).mmap_lock.read().vmas[0];
    munmap(&w, mm, vma).unwrap();
    assert!(!w.pages.is_live(head));
    assert_eq!(free_frames(&w), free);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn numa_hinting_makes_the_pmd_protnone_and_the_hinting_fault_maps_it_back() {
    for kernel in [
        Kernel::default(),
        Kernel {
            thp: HugeMemoryOps::v4_10(),
            ..Kernel::default()
        },
    ] {
        let (w, sink, mm, _) = world(kernel);
        store(&w, 0, mm, 2, 5).unwrap();
        let head = huge_head(&w, mm, 0);
        assert_eq!(change_prot_numa(&w, mm, 0, PER), PER);
        assert!(matches!(
            w.mms.get(mm).pmdp_get_lockless(0),
            Pmd::Huge { protnone: true, pfn, .. } if pfn == head
        ));
        assert!(
            w.cpus[0].tlb.lock().iter().all(|e| e.mm != mm),
            "flushed after the change"
        );
        store(&w, 0, mm, 2, 6).unwrap();
        assert!(matches!(
            w.mms.get(mm).pmdp_get_lockless(0),
            Pmd::Huge { protnone: false, write: true, pfn, .. } if pfn == head
        ));
        assert_eq!(load(&w, 0, mm, 2).unwrap(), 6);
        quiescent::check_world(&w);
        assert!(sink.is_empty(), "{:?}", sink.take());
    }
}

#[test]
fn a_vma_without_madv_hugepage_faults_small_pages() {
    let sink = Sink::new();
    sink.install();
    let w = World::new(WorldConfig::stress(1), Kernel::default());
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, PER, MapKind::Anon).unwrap();
    store(&w, 0, mm, 0, 1).unwrap();
    assert!(matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)));
    assert!(!w.thp.load(std::sync::atomic::Ordering::SeqCst));
    assert!(sink.is_empty());
}

#[test]
fn a_wrong_entire_mapcount_is_caught_at_rest() {
    let (w, sink, mm, _) = world(Kernel::default());
    store(&w, 0, mm, 0, 1).unwrap();
    let head = huge_head(&w, mm, 0);
    w.page(head).entire_mapcount.fetch_add(1, Ordering::SeqCst);
    quiescent::check_world(&w);
    assert!(sink.fired(Oracle::I1Mapcount), "{:?}", sink.take());
    w.page(head).entire_mapcount.fetch_sub(1, Ordering::SeqCst);
}
