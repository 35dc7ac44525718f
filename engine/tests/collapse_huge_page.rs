//! khugepaged's anonymous collapse (`ops::collapse_huge_page`): a fully populated range
//! becomes one huge PMD with the small pages' contents and the old table deposited; a page
//! with a reference beyond its mappings (a GUP pin) aborts the scan and the collapse, which
//! puts the table back (`pmd_populate`); the collapse waits for a fault holding `mmap_lock`
//! read or (6.4+) the VMA read-locked, and the 6.3 form has no VMA lock to wait for.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_blocked, with_sink};
use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pmd::Pmd;
use mmlab_engine::mm::{MmId, World, WorldConfig};
use mmlab_engine::ops::collapse_huge_page::{
    collapse_huge_page, collapse_huge_page_v6_3, khugepaged_scan_pmd,
};
use mmlab_engine::ops::huge_memory::madvise_hugepage;
use mmlab_engine::ops::khugepaged::ScanResult;
use mmlab_engine::ops::lock_vma::lock_vma_under_rcu;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pmd_lock::pmdp_get_lockless;
use mmlab_engine::ops::vma_lock::vma_end_read;
use mmlab_engine::ops::{access, page_alloc};
use mmlab_engine::sync::LockClass;
use std::sync::Arc;

/// A stress-size world with one anonymous VMA over the PMD range at 0, every page written
/// (`10 + va`) before `MADV_HUGEPAGE` (so the faults mapped small pages).
fn populated() -> (Arc<World>, MmId, u64) {
    let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
    let per = w.cfg.ptes_per_table as u64;
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, per, MapKind::Anon).unwrap();
    for va in 0..per {
        access::store(&w, 0, mm, va, 10 + va).unwrap();
    }
    madvise_hugepage(&w, mm, 0, per).unwrap();
    assert!(matches!(pmdp_get_lockless(&w, mm, 0), Pmd::Table(_)));
    (w, mm, per)
}

#[test]
fn a_fully_populated_range_collapses_into_a_huge_pmd() {
    let (w, mm, per) = populated();
    let v = with_sink(|| {
        let old: Vec<_> = (0..per)
            .map(|va| w.pte_at(mm, va).and_then(|p| p.pfn()).unwrap())
            .collect();
        assert_eq!(khugepaged_scan_pmd(&w, mm, 0), ScanResult::Succeed);
        let Pmd::Huge { pfn: head, .. } = pmdp_get_lockless(&w, mm, 0) else {
            panic!("not a huge PMD: {:?}", pmdp_get_lockless(&w, mm, 0));
        };
        assert!(
            old.iter().all(|&p| !w.pages.is_live(p)),
            "the small pages are freed"
        );
        for va in 0..per {
            assert_eq!(access::load(&w, 0, mm, va), Ok(10 + va), "va {va}");
        }
        assert!(
            w.mms.get(mm).pmd_huge_pte[0].load(mmlab_engine::sync::observer::Ordering::SeqCst) != 0,
            "the old table is deposited"
        );
        assert!(mmlab_engine::ops::huge_memory::is_thp_head(&w, head));
        quiescent::check_world(&w);
        // A second scan finds the huge PMD.
        assert_eq!(khugepaged_scan_pmd(&w, mm, 0), ScanResult::PmdMapped);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn a_pinned_page_aborts_the_scan_and_the_collapse_puts_the_table_back() {
    let (w, mm, per) = populated();
    let v = with_sink(|| {
        let pinned = w.pte_at(mm, 1).and_then(|p| p.pfn()).unwrap();
        assert!(page_alloc::get_page_unless_zero(&w, pinned), "a GUP pin");
        assert_eq!(khugepaged_scan_pmd(&w, mm, 0), ScanResult::PageCount);
        // The collapse itself (past the scan, as when the pin comes after it): the isolation
        // finds the pin, releases what it took and re-populates the PMD with the old table.
        let table = pmdp_get_lockless(&w, mm, 0);
        assert_eq!(collapse_huge_page(&w, mm, 0), ScanResult::PageCount);
        assert_eq!(
            pmdp_get_lockless(&w, mm, 0),
            table,
            "pmd_populate: the old table"
        );
        for va in 0..per {
            let pfn = w.pte_at(mm, va).and_then(|p| p.pfn()).unwrap();
            let p = w.page(pfn);
            assert!(!p.lock().is_locked() && p.test(mmlab_engine::mm::page::pg::LRU));
            assert_eq!(access::load(&w, 0, mm, va), Ok(10 + va));
        }
        page_alloc::put_page(&w, pinned);
        quiescent::check_world(&w);
        assert_eq!(
            khugepaged_scan_pmd(&w, mm, 0),
            ScanResult::Succeed,
            "unpinned"
        );
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn the_collapse_waits_for_a_fault_holding_mmap_lock() {
    let (w, mm, _) = populated();
    let sink = Sink::new();
    sink.install();
    let fault = w.mms.get(mm).mmap_lock.read();
    let wc = w.clone();
    let collapser = spawn("khugepaged", &sink, move || collapse_huge_page(&wc, mm, 0));
    wait_blocked("khugepaged", LockClass::MmapLock);
    assert!(matches!(pmdp_get_lockless(&w, mm, 0), Pmd::Table(_)));
    drop(fault);
    assert_eq!(join(collapser), ScanResult::Succeed);
    quiescent::check_world(&w);
    assert!(sink.take().is_empty());
}

#[test]
fn the_6_4_collapse_waits_for_a_fault_holding_the_vma_lock_and_6_3s_does_not() {
    for (collapse, waits) in [
        (
            collapse_huge_page as fn(&World, MmId, u64) -> ScanResult,
            true,
        ),
        (collapse_huge_page_v6_3, false),
    ] {
        let (w, mm, _) = populated();
        let sink = Sink::new();
        sink.install();
        let fault = lock_vma_under_rcu(&w, mm, 0).expect("read-locked");
        let wc = w.clone();
        let collapser = spawn("khugepaged", &sink, move || collapse(&wc, mm, 0));
        if waits {
            wait_blocked("khugepaged", LockClass::VmaLock);
            assert!(matches!(pmdp_get_lockless(&w, mm, 0), Pmd::Table(_)));
            vma_end_read(&w, fault);
            assert_eq!(join(collapser), ScanResult::Succeed);
        } else {
            // 6.3: no fault runs under a VMA lock, and the collapse takes none.
            assert_eq!(join(collapser), ScanResult::Succeed);
            vma_end_read(&w, fault);
        }
        quiescent::check_world(&w);
        assert!(sink.take().is_empty());
    }
}

#[test]
fn a_thp_split_back_to_small_pages_collapses_again() {
    let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
    let per = w.cfg.ptes_per_table as u64;
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, per, MapKind::Anon).unwrap();
    madvise_hugepage(&w, mm, 0, per).unwrap();
    let v = with_sink(|| {
        access::store(&w, 0, mm, 3, 33).unwrap(); // a THP fault
        assert!(matches!(pmdp_get_lockless(&w, mm, 0), Pmd::Huge { .. }));
        assert_eq!(khugepaged_scan_pmd(&w, mm, 0), ScanResult::PmdMapped);
        let _ = mmlab_engine::ops::split_huge_page::split_huge_pages_pid(&w, mm, 3);
        assert!(
            matches!(pmdp_get_lockless(&w, mm, 0), Pmd::Table(_)),
            "split"
        );
        quiescent::check_world(&w);
        assert_eq!(khugepaged_scan_pmd(&w, mm, 0), ScanResult::Succeed);
        assert!(matches!(pmdp_get_lockless(&w, mm, 0), Pmd::Huge { .. }));
        assert_eq!(access::load(&w, 0, mm, 3), Ok(33));
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}
