//! mremap (`move_vma` → `copy_vma` → `move_page_tables`: `move_normal_pmd` for a whole table,
//! `move_ptes` otherwise) and partial munmap (`do_vmi_align_munmap`'s splits, `free_pgtables`
//! of exactly the range's tables): contents, tables, VMAs and rmap after each, lockdep and the
//! quiescent invariants clean; and the eras of `kernel.mremap` told apart by what is held
//! where the patches moved things (the rmap locks around `move_normal_pmd`, the PTL around
//! `move_ptes`'s flush).
#![cfg(not(mmlab_loom))]

mod common;

use common::{mmap_shared_file, with_sink};
use mmlab_engine::check::quiescent;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::mremap::{
    MoveControl, move_normal_pmd, move_page_tables_v5_13, move_ptes_v4_18, mremap,
};
use mmlab_engine::ops::munmap::munmap_range;
use mmlab_engine::ops::reclaim::{Reclaimed, reclaim_page};
use mmlab_engine::ops::tlb::flush_tlb_range;
use mmlab_engine::ops::{Error, access};
use mmlab_engine::sync::LockClass;
use mmlab_engine::sync::held::holds;
use std::cell::RefCell;

/// A world whose tables hold 4 PTEs (stress sizes otherwise).
fn world() -> World {
    let mut cfg = WorldConfig::stress(2);
    cfg.ptes_per_table = 4;
    World::new(cfg, Kernel::default())
}

fn bounds(w: &World, mm: MmId) -> Vec<(u64, u64, u64)> {
    let map = w.mms.get(mm).mmap_lock.read();
    let mut v: Vec<_> = map
        .vmas
        .iter()
        .map(|&id| {
            let i = w.vmas.get(id).info.get();
            (i.start, i.end, i.pgoff)
        })
        .collect();
    v.sort();
    v
}

fn populate(w: &World, mm: MmId, range: std::ops::Range<u64>) {
    for va in range {
        access::store(w, 0, mm, va, 100 + va).unwrap();
    }
}

fn tables(w: &World, mm: MmId) -> Vec<Option<u32>> {
    let m = w.mms.get(mm);
    (0..w.cfg.pmds_per_mm)
        .map(|s| m.pmd_table(s).map(|t| t.idx))
        .collect()
}

#[test]
fn mremap_of_a_whole_table_moves_the_table_itself() {
    let w = world();
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        let vma = mmap(&w, mm, 0, 4, MapKind::Anon).unwrap();
        populate(&w, mm, 0..4);
        let t = w.mms.get(mm).pmd_table(0).unwrap();
        let av = w.vmas.get(vma).anon_vma().unwrap();
        let new = mremap(&w, mm, 0, 4, 4, 8).unwrap();
        assert_eq!(
            bounds(&w, mm),
            vec![(8, 12, 0)],
            "pgoff kept: the pages' index"
        );
        assert_eq!(w.mms.get(mm).pmd_table(0), None, "old PMD cleared");
        assert_eq!(w.mms.get(mm).pmd_table(2), Some(t), "the same table, moved");
        assert_eq!(
            w.vmas.get(new).anon_vma(),
            Some(av),
            "copy_vma cloned the chain"
        );
        for va in 8..12 {
            assert_eq!(access::load(&w, 1, mm, va).unwrap(), 0, "cpu1's word");
        }
        // cpu0 stored: its words are there at the new address.
        for va in 0..4 {
            let pfn = w.pte_at(mm, 8 + va).and_then(|p| p.pfn()).unwrap();
            assert_eq!(
                w.page(pfn).data[0].load(std::sync::atomic::Ordering::SeqCst),
                100 + va
            );
        }
        assert_eq!(access::load(&w, 0, mm, 0), Err(Error::Segv));
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn mremap_of_part_of_a_table_moves_ptes_and_frees_the_old_table() {
    let w = world();
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        mmap(&w, mm, 1, 2, MapKind::Anon).unwrap();
        populate(&w, mm, 1..3);
        let pfns: Vec<_> = (1..3).map(|va| w.pte_at(mm, va).unwrap().pfn()).collect();
        mremap(&w, mm, 1, 2, 2, 5).unwrap();
        assert_eq!(bounds(&w, mm), vec![(5, 7, 1)]);
        let moved: Vec<_> = (5..7).map(|va| w.pte_at(mm, va).unwrap().pfn()).collect();
        assert_eq!(moved, pfns, "the same pages, PTE by PTE");
        assert_eq!(
            tables(&w, mm)[0],
            None,
            "munmap of the old range freed its table"
        );
        for va in 5..7 {
            access::store(&w, 0, mm, va, 7).unwrap();
        }
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn mremap_moves_ptes_between_tables_under_mm_page_table_lock() {
    // Split PTE locks off: old and new table share `mm->page_table_lock` (new_ptl == old_ptl).
    let mut cfg = WorldConfig::stress(2);
    cfg.ptes_per_table = 4;
    cfg.ptlocks = mmlab_engine::mm::Ptlocks::MmPageTableLock;
    let w = World::new(cfg, Kernel::default());
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        mmap(&w, mm, 1, 2, MapKind::Anon).unwrap();
        populate(&w, mm, 1..3);
        let pfns: Vec<_> = (1..3).map(|va| w.pte_at(mm, va).unwrap().pfn()).collect();
        mremap(&w, mm, 1, 2, 2, 5).unwrap();
        let moved: Vec<_> = (5..7).map(|va| w.pte_at(mm, va).unwrap().pfn()).collect();
        assert_eq!(moved, pfns);
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn mremap_within_one_table_moves_ptes_under_one_ptl() {
    let w = world();
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
        populate(&w, mm, 0..1);
        let pfn = w.pte_at(mm, 0).unwrap().pfn();
        mremap(&w, mm, 0, 1, 1, 2).unwrap();
        assert_eq!(w.pte_at(mm, 2).unwrap().pfn(), pfn);
        assert!(w.pte_at(mm, 0).unwrap().is_none());
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rmap_finds_a_moved_file_page_at_its_new_address() {
    for (from, len, to) in [(0, 4, 8), (1, 2, 9)] {
        let w = world();
        let v = with_sink(|| {
            let mm = mm_alloc(&w).unwrap();
            let f = w.file(0);
            mmap_shared_file(&w, mm, from, len, f, 0);
            for va in from..from + len {
                access::load(&w, 0, mm, va).unwrap();
            }
            mremap(&w, mm, from, len, len, to).unwrap();
            assert!(w.pte_at(mm, to).unwrap().is_present());
            // reclaim's try_to_unmap walks i_mmap: it must find the page at `to`.
            assert_eq!(reclaim_page(&w, f, 0), Reclaimed::Freed);
            assert!(
                w.pte_at(mm, to).unwrap().is_none(),
                "unmapped at the new address"
            );
            quiescent::check_world(&w);
        });
        assert!(v.is_empty(), "{from}+{len} -> {to}: {v:?}");
    }
}

#[test]
fn mremap_refuses_overlap_and_a_range_beyond_its_vma() {
    let w = world();
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        mmap(&w, mm, 0, 4, MapKind::Anon).unwrap();
        assert_eq!(mremap(&w, mm, 0, 4, 4, 2), Err(Error::Inval));
        assert_eq!(mremap(&w, mm, 2, 4, 4, 8), Err(Error::Segv));
        assert_eq!(mremap(&w, mm, 0, 2, 3, 8), Err(Error::Inval));
        assert_eq!(bounds(&w, mm), vec![(0, 4, 0)]);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn mremap_of_part_of_a_vma_splits_it_and_shrinks() {
    let w = world();
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        mmap(&w, mm, 0, 8, MapKind::Anon).unwrap();
        populate(&w, mm, 0..8);
        // Move [2, 6) to [12, 14): the tail [4, 6) is unmapped first (shrink).
        mremap(&w, mm, 2, 4, 2, 12).unwrap();
        assert_eq!(bounds(&w, mm), vec![(0, 2, 0), (6, 8, 6), (12, 14, 2)]);
        assert_eq!(
            w.page(w.pte_at(mm, 12).unwrap().pfn().unwrap()).data[0]
                .load(std::sync::atomic::Ordering::SeqCst),
            102
        );
        for va in 2..6 {
            assert!(w.pte_at(mm, va).is_none_or(|p| p.is_none()));
        }
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn partial_munmap_splits_and_frees_exactly_the_ranges_tables() {
    let w = world();
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        let vma: VmaId = mmap(&w, mm, 0, 12, MapKind::Anon).unwrap();
        populate(&w, mm, 0..12);
        let before = tables(&w, mm);
        // [2, 10): the tables of [0, 4) and [8, 12) are still covered by the remaining halves;
        // [4, 8)'s is not.
        munmap_range(&w, mm, 2, 10).unwrap();
        assert_eq!(bounds(&w, mm), vec![(0, 2, 0), (10, 12, 10)]);
        let after = tables(&w, mm);
        assert_eq!(after[0], before[0]);
        assert_eq!(after[1], None, "the middle table is freed");
        assert_eq!(after[2], before[2]);
        for va in 2..10 {
            assert!(w.pte_at(mm, va).is_none_or(|p| p.is_none()));
        }
        for va in [0, 1, 10, 11] {
            assert!(w.pte_at(mm, va).unwrap().is_present());
        }
        assert!(w.vmas.is_live(vma), "the original VMA keeps the low part");
        // A hole is fine; across VMAs is fine.
        munmap_range(&w, mm, 4, 8).unwrap();
        munmap_range(&w, mm, 1, 11).unwrap();
        assert_eq!(bounds(&w, mm), vec![(0, 1, 0), (11, 12, 11)]);
        assert_eq!(tables(&w, mm)[2], before[2]);
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

// The eras of the `mremap` table group, told apart by what is held where the patches moved
// things: the rmap locks around `move_normal_pmd` (97113eb39fa7) and the PTL around
// `move_ptes`'s flush of the old range (eb66ae030829).

thread_local! {
    /// (what was called, the lock class asked about was held) — this test thread's record.
    static SEEN: RefCell<Vec<(&'static str, u64, bool)>> = const { RefCell::new(Vec::new()) };
}

fn recording_flush(w: &World, mm: MmId, start: u64, end: u64) {
    SEEN.with(|s| s.borrow_mut().push(("flush", start, holds(LockClass::Ptl))));
    flush_tlb_range(w, mm, start, end);
}

fn recording_move_normal_pmd(w: &World, pmc: &MoveControl, old: u64, new: u64) -> bool {
    SEEN.with(|s| {
        s.borrow_mut()
            .push(("move_normal_pmd", old, holds(LockClass::IMmapRwsem)))
    });
    move_normal_pmd(w, pmc, old, new)
}

/// mremap of a shared file range in a world running `kernel` (recording), returning what the
/// recorders saw.
fn seen_by(kernel: Kernel, from: u64, len: u64, to: u64) -> Vec<(&'static str, u64, bool)> {
    let mut cfg = WorldConfig::stress(2);
    cfg.ptes_per_table = 4;
    let w = World::new(cfg, kernel);
    let v = with_sink(|| {
        let mm = mm_alloc(&w).unwrap();
        mmap_shared_file(&w, mm, from, len, w.file(0), 0);
        for va in from..from + len {
            access::load(&w, 0, mm, va).unwrap();
        }
        SEEN.with(|s| s.borrow_mut().clear());
        mremap(&w, mm, from, len, len, to).unwrap();
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
    SEEN.with(|s| s.borrow_mut().drain(..).collect())
}

#[test]
fn move_normal_pmd_runs_under_i_mmap_rwsem_since_97113eb39fa7_only() {
    let mut kernel = Kernel::default();
    kernel.mremap.move_normal_pmd = recording_move_normal_pmd;
    let moves = |k| {
        seen_by(k, 0, 4, 8)
            .into_iter()
            .filter(|e| e.0 == "move_normal_pmd")
            .collect::<Vec<_>>()
    };
    assert_eq!(moves(kernel), vec![("move_normal_pmd", 0, true)]);
    kernel.mremap.move_page_tables = move_page_tables_v5_13;
    assert_eq!(
        moves(kernel),
        vec![("move_normal_pmd", 0, false)],
        "v5.13: copy_vma made a new VMA, need_rmap_locks is false"
    );
}

#[test]
fn move_ptes_flushes_the_old_range_under_the_ptl_since_eb66ae030829_only() {
    let mut kernel = Kernel::default();
    kernel.tlb.flush_tlb_range = recording_flush;
    let old_range_flush = |k| {
        seen_by(k, 1, 2, 9)
            .into_iter()
            .find(|e| e.0 == "flush" && e.1 == 1)
            .expect("move_ptes flushed the old range")
    };
    assert_eq!(old_range_flush(kernel), ("flush", 1, true));
    kernel.mremap.move_ptes = move_ptes_v4_18;
    assert_eq!(old_range_flush(kernel), ("flush", 1, false));
}
