//! PTE tables outside `mmap_lock` (6.5+) and khugepaged's retraction: a walker that mapped a
//! table the retractor then removes re-validates under the PTL and retries (never touching a
//! freed table), the free waits for the walker's RCU section, and — the negative control of
//! the guard's oracle — a table freed under a PTL holder is reported as a use-after-free.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_blocked, with_sink};
use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{MmId, World, WorldConfig};
use mmlab_engine::ops::khugepaged::{self, KhugepagedOps, ScanResult};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pgtable_generic::{
    __pte_offset_map_lock, PgtableOps, pmdp_collapse_flush, pmdp_get_lockless, pte_free,
    pte_free_defer, pte_offset_map_lock,
};
use mmlab_engine::ops::{access, unmap_mapping, vma_lock};
use mmlab_engine::sync::LockClass;
use std::sync::Arc;

/// A stress-size world running `kernel`, one mm with the world's file mapped MAP_PRIVATE over
/// one PTE table's range at 0, every page read-faulted in.
fn private_file_world(kernel: Kernel) -> (Arc<World>, MmId, u64) {
    let w = Arc::new(World::new(WorldConfig::stress(2), kernel));
    let per = w.cfg.ptes_per_table as u64;
    let mm = mm_alloc(&w).unwrap();
    let kind = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: false,
    };
    mmap(&w, mm, 0, per, kind).unwrap();
    for va in 0..per {
        access::load(&w, 0, mm, va).unwrap();
    }
    (w, mm, per)
}

#[test]
fn a_walker_blocked_on_the_ptl_of_a_retracted_table_sees_the_pmd_change_and_retries() {
    let (w, mm, per) = private_file_world(Kernel::default());
    let sink = Sink::new();
    sink.install();
    // Empty the table (the retraction of `retract_page_tables` frees only empty ones).
    unmap_mapping::unmap_mapping_range(&w, w.file(0), 0, per);
    let tid = pmdp_get_lockless(&w, mm, 0).expect("the table stays after a zap");
    let m = w.mms.get(mm);
    // The retractor's locks: pmd_lock, then the PTL nested.
    let pml = m.page_table_lock.lock();
    let ptl = w.pte_lockptr(m, w.tables.get(tid)).lock();
    // The walker reads the PMD (under RCU) and waits for the PTL.
    let ww = w.clone();
    let walker = spawn("walker", &sink, move || {
        __pte_offset_map_lock(&ww, mm, 0).map(|pte| pte.va())
    });
    wait_blocked("walker", LockClass::Ptl);
    assert_eq!(pmdp_collapse_flush(&w, mm, 0), Some(tid));
    drop(ptl);
    drop(pml);
    // pte_free_defer waits for the walker's RCU section: the table stays live until then.
    let wf = w.clone();
    let freer = spawn("freer", &sink, move || pte_free_defer(&wf, tid));
    assert_eq!(
        join(walker),
        None,
        "the PMD is none now: the walker finds no table"
    );
    join(freer);
    assert!(!w.tables.is_live(tid), "freed once the walker left");
    let steps: Vec<_> = w.trace.events().into_iter().map(|e| e.step).collect();
    let again = steps
        .iter()
        .position(|s| *s == "pte_offset_map_lock: !pmd_same, again")
        .expect("the walker re-checked the PMD under the PTL and retried");
    let freed = steps.iter().position(|s| *s == "pte_free").unwrap();
    assert!(
        again < freed,
        "the table was freed after the walker let go: {steps:?}"
    );
    quiescent::check_world(&w);
    assert!(sink.take().is_empty());
}

#[test]
fn pte_free_defer_waits_for_a_walker_inside_its_rcu_section() {
    let (w, mm, per) = private_file_world(Kernel::default());
    let sink = Sink::new();
    sink.install();
    unmap_mapping::unmap_mapping_range(&w, w.file(0), 0, per);
    // A walker holds the PTE locked (its RCU section open) while the retraction runs: the
    // retraction's PTL (nested in pmd_lock) waits for it.
    let pte = pte_offset_map_lock(&w, mm, 0).unwrap();
    let tid = pmdp_get_lockless(&w, mm, 0).unwrap();
    let wr = w.clone();
    let retract = spawn("khugepaged", &sink, move || {
        khugepaged::retract_page_tables(&wr, wr.file(0), 0)
    });
    wait_blocked("khugepaged", LockClass::Ptl);
    assert_eq!(pmdp_get_lockless(&w, mm, 0), Some(tid), "not retracted yet");
    assert_eq!(pte.get(), Pte::None);
    drop(pte);
    assert_eq!(join(retract), 1);
    assert_eq!(pmdp_get_lockless(&w, mm, 0), None);
    assert!(!w.tables.is_live(tid));
    // The range refaults through a new table.
    access::load(&w, 0, mm, 0).unwrap();
    assert!(matches!(w.pte_at(mm, 0), Some(Pte::Present { .. })));
    quiescent::check_world(&w);
    assert!(sink.take().is_empty());
}

#[test]
fn a_retracted_range_refaults_through_a_new_table() {
    // (A fault whose `pte_offset_map_nolock` after `__pte_alloc` finds the PMD none returns 0
    // and faults again, as 6.5's handle_pte_fault does; here the retraction comes first.)
    let (w, mm, per) = private_file_world(Kernel::default());
    let sink = Sink::new();
    sink.install();
    unmap_mapping::unmap_mapping_range(&w, w.file(0), 0, per);
    assert_eq!(khugepaged::retract_page_tables(&w, w.file(0), 0), 1);
    assert_eq!(access::load(&w, 1, mm, 3).map(|_| ()), Ok(()));
    assert!(matches!(w.pte_at(mm, 3), Some(Pte::Present { .. })));
    quiescent::check_world(&w);
    assert!(sink.take().is_empty());
}

#[test]
fn collapse_pte_mapped_thp_unmaps_the_subpages_and_frees_the_table_in_every_era() {
    for (name, kernel) in [
        ("6.5+", Kernel::default()),
        (
            "6.1",
            Kernel {
                pgtable: PgtableOps::v6_4(),
                khugepaged: KhugepagedOps::v6_1(),
                ..Kernel::default()
            },
        ),
        (
            "6.0",
            Kernel {
                pgtable: PgtableOps::v6_4(),
                khugepaged: KhugepagedOps::v6_0(),
                ..Kernel::default()
            },
        ),
    ] {
        let (w, mm, per) = private_file_world(kernel);
        let sink = Sink::new();
        sink.install();
        let tid = pmdp_get_lockless(&w, mm, 0).unwrap();
        let pfns: Vec<_> = (0..per)
            .map(|va| w.pte_at(mm, va).and_then(Pte::pfn).unwrap())
            .collect();
        let r = (w.kernel.khugepaged.collapse_pte_mapped_thp)(&w, mm, 0);
        assert_eq!(r, ScanResult::Succeed, "{name}");
        assert_eq!(pmdp_get_lockless(&w, mm, 0), None, "{name}");
        assert!(!w.tables.is_live(tid), "{name}");
        for &pfn in &pfns {
            let p = w.page(pfn);
            assert!(!p.mapped(), "{name}: {pfn} still mapped");
            assert_eq!(
                p.refcount.load(mmlab_engine::sync::Ordering::SeqCst),
                1,
                "{name}: {pfn} keeps the page cache's reference only"
            );
        }
        assert_eq!(
            w.mms.get(mm).rss.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "{name}"
        );
        quiescent::check_world(&w);
        assert!(sink.take().is_empty(), "{name}");
    }
}

#[test]
fn a_written_to_private_mapping_is_left_alone_by_6_1_and_aborts_the_others() {
    // 8d3c106e19e8: "Exclude MAP_PRIVATE mappings that got written to" (vma->anon_vma); the
    // 6.0 and 6.5+ collapses abort at step 1 instead (the COW copy is not a subpage).
    for (kh, want) in [
        (KhugepagedOps::v6_1(), ScanResult::VmaCheck),
        (KhugepagedOps::v6_0(), ScanResult::Fail),
        (KhugepagedOps::default(), ScanResult::Fail),
    ] {
        let (w, mm, _) = private_file_world(Kernel {
            khugepaged: kh,
            ..Kernel::default()
        });
        let sink = Sink::new();
        sink.install();
        // A write: copy-on-write of page 1 (the VMA gains an anon_vma).
        let _ = access::store(&w, 0, mm, 1, 7);
        assert!(
            w.vmas
                .get(w.mms.get(mm).mmap_lock.read().vmas[0])
                .anon_vma()
                .is_some()
        );
        assert_eq!(
            (w.kernel.khugepaged.collapse_pte_mapped_thp)(&w, mm, 0),
            want
        );
        assert!(pmdp_get_lockless(&w, mm, 0).is_some(), "not retracted");
        quiescent::check_world(&w);
        assert!(sink.take().is_empty());
    }
}

#[test]
fn negative_control_a_table_freed_under_its_ptl_holder_is_a_use_after_free() {
    let (w, mm, per) = private_file_world(Kernel {
        pgtable: PgtableOps::v6_4(),
        ..Kernel::default()
    });
    unmap_mapping::unmap_mapping_range(&w, w.file(0), 0, per);
    let got = with_sink(|| {
        let pte = pte_offset_map_lock(&w, mm, 0).unwrap();
        let tid = pmdp_collapse_flush(&w, mm, 0).unwrap();
        pte_free(&w, tid);
        let _ = pte.get();
    });
    assert!(
        got.iter().any(|v| v.oracle == Oracle::StaleId),
        "the guard's access to a freed table must fire StaleId: {got:?}"
    );
}

#[test]
fn the_walkers_rcu_sections_end_with_their_ptes() {
    let (w, mm, _) = private_file_world(Kernel::default());
    let sink = Sink::new();
    sink.install();
    {
        let _pte = pte_offset_map_lock(&w, mm, 0).unwrap();
        assert_eq!(w.rcu_pgtable.readers(), 1);
    }
    assert_eq!(w.rcu_pgtable.readers(), 0);
    assert!(sink.take().is_empty());
}

#[test]
fn retract_page_tables_v6_4_skips_a_vma_it_cannot_write_lock_at_once() {
    // 6.4's vma_try_start_write (55fd6fccad31): "trylock for the same lock inversion as
    // above" — a VMA held read-locked is left for later, as a busy mmap_lock is. (In 6.4
    // only anonymous VMAs are read-locked by faults; the reader here stands for any holder of
    // the class lockdep saw inverted against i_mmap_rwsem.)
    let (w, mm, per) = private_file_world(Kernel {
        khugepaged: KhugepagedOps::v6_1(),
        ..Kernel::default()
    });
    let sink = Sink::new();
    sink.install();
    let file = w.file(0);
    unmap_mapping::unmap_mapping_range(&w, file, 0, per);
    let vma = w.mms.get(mm).mmap_lock.read().vmas[0];
    let rcu = w.rcu.read_lock();
    let reader = vma_lock::vma_start_read(&w, vma, &rcu).expect("read-locked");
    drop(rcu);
    assert_eq!(khugepaged::retract_page_tables_v6_4(&w, file, 0), 0);
    assert!(pmdp_get_lockless(&w, mm, 0).is_some(), "left for later");
    assert!(
        w.trace
            .events()
            .iter()
            .any(|e| e.step == "retract_page_tables: vma_try_start_write failed")
    );
    vma_lock::vma_end_read(&w, reader);
    assert_eq!(khugepaged::retract_page_tables_v6_4(&w, file, 0), 1);
    assert!(pmdp_get_lockless(&w, mm, 0).is_none(), "retracted");
    // mmap_write_unlock ended the write lock: the VMA can be read-locked again.
    let rcu = w.rcu.read_lock();
    let again = vma_lock::vma_start_read(&w, vma, &rcu).expect("unlocked by mmap_write_unlock");
    vma_lock::vma_end_read(&w, again);
    drop(rcu);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
