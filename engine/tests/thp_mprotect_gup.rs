//! mprotect and get_user_pages on huge PMDs (docs/MODEL.md §15): mprotect of a whole huge PMD
//! write-protects it in place under the PMD lock (`change_huge_pmd`), and a store then faults
//! (SIGSEGV in a read-only VMA); mprotect of part of one splits the VMA and, at the new bound,
//! the huge PMD (`vma_adjust_trans_huge`), so that no huge PMD maps across two VMAs and only the
//! protected half loses its write bit; GUP of a THP subpage takes the folio's reference or pin
//! (`follow_trans_huge_pmd`), unpins through the head, and a write GUP of a read-only huge PMD
//! without FOLL_FORCE is refused. Every world ends clean at rest (the quiescent checks).
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::mm::{MmId, Pfn, Pmd, Pte, VmaId, World, WorldConfig};
use mmlab_engine::ops::Error;
use mmlab_engine::ops::access::{load, store};
use mmlab_engine::ops::gup::{
    FOLL_FORCE, FOLL_PIN, FOLL_WRITE, get_user_pages_remote, unpin_user_page,
};
use mmlab_engine::ops::huge_memory::madvise_hugepage;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::mprotect::mprotect;
use mmlab_engine::ops::munmap::munmap_range;
use mmlab_engine::sync::Ordering;

const PER: u64 = 8;

/// A world with 8-page PMDs, one mm with a 16-page anonymous VMA made `MADV_HUGEPAGE`, its
/// first PMD faulted in as a THP.
fn world() -> (World, Sink, MmId, VmaId, Pfn) {
    let sink = Sink::new();
    sink.install();
    let w = World::new(WorldConfig::stress(2), Kernel::default());
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2 * PER, MapKind::Anon).unwrap();
    madvise_hugepage(&w, mm, 0, 2 * PER).unwrap();
    store(&w, 0, mm, 1, 11).unwrap();
    let head = match w.mms.get(mm).pmdp_get_lockless(0) {
        Pmd::Huge { pfn, .. } => pfn,
        other => panic!("the store faulted {other}, not a THP"),
    };
    (w, sink, mm, vma, head)
}

fn at_rest(w: &World, sink: &Sink, mm: MmId) {
    quiescent::check_world(w);
    munmap_range(w, mm, 0, 2 * PER).unwrap();
    quiescent::check_world(w);
    assert!(sink.is_empty(), "violations: {:?}", sink.take());
}

#[test]
fn mprotect_of_a_whole_huge_pmd_write_protects_it_in_place() {
    let (w, sink, mm, _, head) = world();
    mprotect(&w, mm, 0, PER, vm::READ).unwrap();
    match w.mms.get(mm).pmdp_get_lockless(0) {
        Pmd::Huge {
            pfn, write, dirty, ..
        } => {
            assert_eq!(pfn, head, "the same THP, not split");
            assert!(!write, "change_huge_pmd cleared the write bit");
            assert!(dirty, "and kept the dirty bit");
        }
        other => panic!("mprotect left {other}"),
    }
    assert_eq!(
        store(&w, 0, mm, 2, 5),
        Err(Error::Segv),
        "a store to the read-only VMA faults: the stale writable TLB entry was flushed"
    );
    assert_eq!(load(&w, 1, mm, 1).unwrap(), 0, "cpu1's word of the page");
    assert_eq!(load(&w, 0, mm, 1).unwrap(), 11, "the data stays");
    at_rest(&w, &sink, mm);
}

#[test]
fn mprotect_of_part_of_a_huge_pmd_splits_it_at_the_new_bound() {
    let (w, sink, mm, _, head) = world();
    mprotect(&w, mm, 0, PER / 2, vm::READ).unwrap();
    assert!(
        matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)),
        "vma_adjust_trans_huge split the huge PMD the new bound cuts"
    );
    for va in 0..PER {
        let Some(Pte::Present { pfn, write, .. }) = w.pte_at(mm, va) else {
            panic!("va {va}: not mapped after the split");
        };
        assert_eq!(pfn, w.subpage(head, va as usize));
        assert_eq!(
            write,
            va >= PER / 2,
            "va {va}: only the protected half is write-protected"
        );
    }
    assert_eq!(store(&w, 0, mm, 1, 5), Err(Error::Segv));
    store(&w, 0, mm, PER / 2 + 1, 6).unwrap();
    at_rest(&w, &sink, mm);
}

#[test]
fn gup_of_a_thp_subpage_pins_the_folio_and_unpins_through_the_head() {
    let (w, sink, mm, _, head) = world();
    let before = w.page(head).refcount.load(Ordering::SeqCst);
    let map = w.mms.get(mm).mmap_lock.read();
    let pages = get_user_pages_remote(&w, mm, 3, 1, FOLL_PIN | FOLL_WRITE, &map).unwrap();
    drop(map);
    assert_eq!(pages, vec![w.subpage(head, 3)], "the subpage at va 3");
    let pinned = w.page(head).refcount.load(Ordering::SeqCst);
    assert!(
        pinned > before + 1,
        "FOLL_PIN's bias is on the head: {before} -> {pinned}"
    );
    assert!(
        matches!(
            w.mms.get(mm).pmdp_get_lockless(0),
            Pmd::Huge {
                young: true,
                dirty: true,
                ..
            }
        ),
        "touch_pmd marked the PMD young and dirty"
    );
    unpin_user_page(&w, pages[0]);
    assert_eq!(w.page(head).refcount.load(Ordering::SeqCst), before);
    at_rest(&w, &sink, mm);
}

#[test]
fn a_write_gup_of_a_read_only_huge_pmd_needs_force_and_a_cow_mapping() {
    let (w, sink, mm, _, head) = world();
    mprotect(&w, mm, 0, 2 * PER, vm::READ).unwrap();
    let map = w.mms.get(mm).mmap_lock.read();
    assert_eq!(
        get_user_pages_remote(&w, mm, 2, 1, FOLL_PIN | FOLL_WRITE, &map),
        Err(Error::Segv),
        "check_vma_flags: no VM_WRITE, no FOLL_FORCE"
    );
    // FOLL_FORCE on a private read-only mapping: the THP is exclusive to this mm, so
    // can_follow_write_pmd lets the write through without a fault.
    let pages =
        get_user_pages_remote(&w, mm, 2, 1, FOLL_PIN | FOLL_WRITE | FOLL_FORCE, &map).unwrap();
    drop(map);
    assert_eq!(pages, vec![w.subpage(head, 2)]);
    assert!(matches!(
        w.mms.get(mm).pmdp_get_lockless(0),
        Pmd::Huge { write: false, .. }
    ));
    unpin_user_page(&w, pages[0]);
    at_rest(&w, &sink, mm);
}

#[test]
fn gup_of_a_pte_mapped_thp_subpage_counts_on_the_head() {
    // mprotect of half the PMD splits it: the THP stays one folio, mapped by eight PTEs.
    let (w, sink, mm, _, head) = world();
    mprotect(&w, mm, 0, PER / 2, vm::READ).unwrap();
    assert!(matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)));
    let sub = w.subpage(head, 5);
    let before = w.page(head).refcount.load(Ordering::SeqCst);
    let map = w.mms.get(mm).mmap_lock.read();
    let pages = get_user_pages_remote(&w, mm, 5, 1, FOLL_PIN | FOLL_WRITE, &map).unwrap();
    drop(map);
    assert_eq!(pages, vec![sub], "follow_page_pte returns the subpage");
    assert_eq!(
        w.page(sub).refcount.load(Ordering::SeqCst),
        0,
        "a tail's own count is never touched: try_grab_page counts on the folio"
    );
    assert!(w.page(head).refcount.load(Ordering::SeqCst) > before + 1);
    unpin_user_page(&w, sub);
    assert_eq!(w.page(head).refcount.load(Ordering::SeqCst), before);
    at_rest(&w, &sink, mm);
}
