//! The freeze's PMD check (docs/MODEL.md §22, 33f4751e9960) and clear_refs' soft-dirty
//! clearing (`ops/task_mmu.rs`), one thread, states set up by hand: v4.6's
//! `split_huge_pmd_address` takes a PMD held cleared under its lock for "nothing to split"
//! and returns without the lock; both forms split a huge PMD that maps the page and leave one
//! that maps another alone; v4.6's `split_huge_page` of a THP whose PMD is held cleared fails
//! with I2; `clear_refs_write_soft_dirty` write-protects a huge PMD and the
//! PTEs of a split one, and leaves every mapping and count as it was.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Pfn, Pmd, Pte, VmaId, World, WorldConfig};
use mmlab_engine::ops::access::{load, store};
use mmlab_engine::ops::huge_memory::{HugeMemoryOps, madvise_hugepage};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pmd_lock::pmd_lock;
use mmlab_engine::ops::split_huge_pmd::{split_huge_pmd_address, split_huge_pmd_address_v4_6};
use mmlab_engine::ops::task_mmu::clear_refs_write_soft_dirty;

const PER: u64 = 8;

/// A world with 8-page PMDs, one mm with a 16-page anonymous `MADV_HUGEPAGE` VMA, both PMDs
/// faulted as THPs with `100 + va` stored in each page; the two heads.
fn two_thps(kernel: Kernel) -> (World, Sink, MmId, VmaId, [Pfn; 2]) {
    let sink = Sink::new();
    sink.install();
    let w = World::new(WorldConfig::stress(2), kernel);
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2 * PER, MapKind::Anon).unwrap();
    madvise_hugepage(&w, mm, 0, 2 * PER).unwrap();
    for va in 0..2 * PER {
        store(&w, 0, mm, va, 100 + va).unwrap();
    }
    let head = |slot| match w.mms.get(mm).pmdp_get_lockless(slot) {
        Pmd::Huge { pfn, .. } => pfn,
        other => panic!("not a huge PMD: {other}"),
    };
    let heads = [head(0), head(1)];
    (w, sink, mm, vma, heads)
}

#[test]
fn v4_6_takes_a_pmd_held_cleared_for_nothing_to_split_without_taking_its_lock() {
    let (w, sink, mm, vma, [head, _]) = two_thps(Kernel::default());
    let pmd = pmd_lock(&w, mm, 0);
    let old = pmd.pmdp_huge_get_and_clear(); // clear_soft_dirty_pmd's first half
    // The lock is held by this thread: a split that took it would be reported (recursion).
    split_huge_pmd_address_v4_6(&w, vma, 0, true, head);
    assert!(pmd.get().is_none(), "nothing was split");
    pmd.set_pmd_at(old);
    drop(pmd);
    assert!(w.folio_mapped(head), "the THP is still mapped by its PMD");
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn both_forms_freeze_a_pmd_that_maps_the_page_and_leave_one_that_maps_another() {
    for f in [split_huge_pmd_address, split_huge_pmd_address_v4_6] {
        let (w, sink, mm, vma, [a, b]) = two_thps(Kernel::default());
        // The PMD at 0 maps `a`, not `b`: nothing to split.
        f(&w, vma, 0, true, b);
        assert!(matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Huge { pfn, .. } if pfn == a));
        f(&w, vma, 0, true, a);
        assert!(matches!(w.mms.get(mm).pmdp_get_lockless(0), Pmd::Table(_)));
        for va in 0..PER {
            let sub = w.subpage(a, va as usize);
            let pte = w.pte_at(mm, va);
            assert!(
                matches!(pte, Some(Pte::Migration { pfn, .. }) if pfn.idx == sub.idx),
                "{va}: {pte:?}, sub {sub}, a {a}, b {b}"
            );
        }
        assert!(!w.folio_mapped(a));
        drop(sink);
    }
}

#[test]
fn the_v4_6_table_differs_from_the_default_in_split_huge_pmd_address_only() {
    let (new, old) = (HugeMemoryOps::default(), HugeMemoryOps::v4_6());
    assert!(std::ptr::fn_addr_eq(
        new.split_huge_pmd_address,
        split_huge_pmd_address as fn(_, _, _, _, _)
    ));
    assert!(std::ptr::fn_addr_eq(
        old.split_huge_pmd_address,
        split_huge_pmd_address_v4_6 as fn(_, _, _, _, _)
    ));
    assert!(std::ptr::fn_addr_eq(
        new.change_huge_pmd,
        old.change_huge_pmd
    ));
    assert!(std::ptr::fn_addr_eq(new.zap_huge_pmd, old.zap_huge_pmd));
}

#[test]
fn clear_refs_write_protects_huge_pmds_and_ptes_and_keeps_every_mapping() {
    let (w, sink, mm, vma, [a, b]) = two_thps(Kernel::default());
    // Split the second THP's PMD (no freeze): its pages are mapped by present PTEs.
    (w.kernel.thp.split_huge_pmd)(&w, vma, PER);
    assert!(matches!(w.mms.get(mm).pmdp_get_lockless(1), Pmd::Table(_)));
    assert_eq!(clear_refs_write_soft_dirty(&w, mm), 2);
    assert!(matches!(
        w.mms.get(mm).pmdp_get_lockless(0),
        Pmd::Huge { pfn, write: false, .. } if pfn == a
    ));
    for va in PER..2 * PER {
        let sub = w.subpage(b, (va - PER) as usize);
        assert!(matches!(
            w.pte_at(mm, va),
            Some(Pte::Present { pfn, write: false, .. }) if pfn.idx == sub.idx
        ));
    }
    for va in 0..2 * PER {
        assert_eq!(load(&w, 0, mm, va).unwrap(), 100 + va, "data kept");
    }
    // A write after the clear faults and works (the wp fault of a huge PMD splits it).
    store(&w, 0, mm, 3, 7).unwrap();
    store(&w, 0, mm, PER + 3, 8).unwrap();
    assert_eq!(load(&w, 0, mm, 3).unwrap(), 7);
    assert_eq!(load(&w, 0, mm, PER + 3).unwrap(), 8);
    quiescent::check_world(&w);
    assert!(sink.is_empty(), "{:?}", sink.take());
}

#[test]
fn v4_6_split_huge_page_is_left_mapped_when_the_pmd_is_held_cleared() {
    use mmlab_engine::check::Oracle;
    use mmlab_engine::ops::page_alloc::{get_page, put_page};
    use mmlab_engine::ops::pagemap::lock_page;
    use mmlab_engine::ops::split_huge_page::{SplitError, split_huge_page};
    use mmlab_engine::ops::{split, ttu};
    let mut kernel = Kernel {
        thp: HugeMemoryOps::v4_6(),
        ..Kernel::default()
    };
    kernel.rmap.unmap_folio = split::unmap_page_v5_12;
    kernel.rmap.try_to_migrate_one = ttu::try_to_migrate_one_v6_14;
    let (w, sink, mm, _, [head, _]) = two_thps(kernel);
    get_page(&w, head);
    let page = lock_page(&w, head);
    let pmd = pmd_lock(&w, mm, 0);
    let old = pmd.pmdp_huge_get_and_clear();
    assert_eq!(split_huge_page(&w, &page), Err(SplitError::Again));
    pmd.set_pmd_at(old);
    drop(pmd);
    page.unlock();
    put_page(&w, head);
    let v = sink.take();
    assert!(v.iter().any(|v| v.oracle == Oracle::I2TtuSync), "{v:?}");
}
