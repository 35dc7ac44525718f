//! The zap and TLB entries of the kernel function table are the ones every path runs: a world
//! whose `zap_present_folio_ptes`, `zap_pte_range`, `tlb_finish_mmu` and `flush_tlb_range` are
//! replaced by counting wrappers (which delegate to the defaults) sees each replacement run by
//! munmap, exit, MADV_DONTNEED, hugetlb's unmap and reclaim. A caller that called the default
//! by path instead of through `w.kernel` would leave its count at zero and fail here.
#![cfg(not(mmlab_loom))]

use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, MmuGather, Pfn, VmaId, World, WorldConfig};
use mmlab_engine::ops::access::store;
use mmlab_engine::ops::exit::exit_mmap;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munmap::{madvise_dontneed, munmap};
use mmlab_engine::ops::pgtable_generic::LockedPte;
use mmlab_engine::ops::reclaim::{Reclaimed, reclaim_page};
use mmlab_engine::ops::tlb;
use mmlab_engine::ops::zap::{self, ZapForce};
use std::cell::Cell;

thread_local! {
    // Per test thread: each test runs its paths on its own thread.
    static PRESENT: Cell<u32> = const { Cell::new(0) };
    static PTE_RANGE: Cell<u32> = const { Cell::new(0) };
    static FINISH: Cell<u32> = const { Cell::new(0) };
    static FLUSH: Cell<u32> = const { Cell::new(0) };
}

fn counting_zap_present_folio_ptes(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    pte: &LockedPte<'_>,
    folio: Pfn,
    force: &mut ZapForce,
) {
    PRESENT.with(|c| c.set(c.get() + 1));
    zap::zap_present_folio_ptes(w, tlb, vma, pte, folio, force);
}

fn counting_zap_pte_range(w: &World, tlb: &mut MmuGather, vma: VmaId, s: u64, e: u64) -> u64 {
    PTE_RANGE.with(|c| c.set(c.get() + 1));
    zap::zap_pte_range(w, tlb, vma, s, e)
}

fn counting_tlb_finish_mmu(w: &World, gather: MmuGather) {
    FINISH.with(|c| c.set(c.get() + 1));
    tlb::tlb_finish_mmu(w, gather);
}

fn counting_flush_tlb_range(w: &World, mm: MmId, start: u64, end: u64) {
    FLUSH.with(|c| c.set(c.get() + 1));
    tlb::flush_tlb_range(w, mm, start, end);
}

/// The calls each counter saw since the last `take`: (present step, zap_pte_range,
/// tlb_finish_mmu, flush_tlb_range).
fn take() -> (u32, u32, u32, u32) {
    (
        PRESENT.with(|c| c.replace(0)),
        PTE_RANGE.with(|c| c.replace(0)),
        FINISH.with(|c| c.replace(0)),
        FLUSH.with(|c| c.replace(0)),
    )
}

/// A world running the counting entries, with one ordinary file and one hugetlbfs file.
fn world() -> World {
    let mut kernel = Kernel::default();
    kernel.zap.zap_present_folio_ptes = counting_zap_present_folio_ptes;
    kernel.zap.zap_pte_range = counting_zap_pte_range;
    kernel.tlb.tlb_finish_mmu = counting_tlb_finish_mmu;
    kernel.tlb.flush_tlb_range = counting_flush_tlb_range;
    let mut cfg = WorldConfig::stress(1);
    cfg.files = vec![(8, false), (8, true)];
    let w = World::new(cfg, kernel);
    mmlab_engine::check::Sink::new().install();
    take();
    w
}

fn shared(w: &World, file: usize) -> MapKind {
    MapKind::File {
        file: w.file(file),
        pgoff: 0,
        shared: true,
    }
}

#[test]
fn munmap_runs_the_replaced_zap_and_finish_entries() {
    let w = world();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    store(&w, 0, mm, 0, 1).unwrap();
    take();
    munmap(&w, mm, vma).unwrap();
    let (present, range, finish, flush) = take();
    assert_eq!((present, finish), (1, 1), "munmap bypassed the table");
    assert!(range >= 1 && flush >= 1, "munmap bypassed the table");
}

#[test]
fn exit_runs_the_replaced_zap_and_finish_entries() {
    let w = world();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    mmap(&w, mm, 8, 2, shared(&w, 0)).unwrap();
    store(&w, 0, mm, 0, 1).unwrap();
    store(&w, 0, mm, 9, 2).unwrap();
    take();
    exit_mmap(&w, mm);
    let (present, range, finish, flush) = take();
    assert_eq!((present, finish), (2, 1), "exit bypassed the table");
    assert!(range >= 2 && flush >= 1, "exit bypassed the table");
}

#[test]
fn madvise_dontneed_runs_the_replaced_zap_and_finish_entries() {
    let w = world();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    store(&w, 0, mm, 1, 1).unwrap();
    take();
    madvise_dontneed(&w, mm, 0, 2).unwrap();
    let (present, range, finish, flush) = take();
    assert_eq!(
        (present, finish),
        (1, 1),
        "MADV_DONTNEED bypassed the table"
    );
    assert!(range >= 1 && flush >= 1, "MADV_DONTNEED bypassed the table");
}

#[test]
fn hugetlb_unmap_runs_the_replaced_zap_and_finish_entries() {
    let w = world();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2, shared(&w, 1)).unwrap();
    store(&w, 0, mm, 0, 1).unwrap();
    take();
    munmap(&w, mm, vma).unwrap();
    let (present, range, finish, _) = take();
    assert_eq!(
        (present, finish),
        (1, 1),
        "hugetlb unmap bypassed the table"
    );
    assert!(range >= 1, "hugetlb unmap bypassed zap_pte_range's entry");
}

/// Reclaim zaps no page table: it unmaps with `try_to_unmap`, whose `ptep_clear_flush` must
/// flush through the table.
#[test]
fn reclaim_flushes_through_the_replaced_flush_tlb_range() {
    let w = world();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 1, shared(&w, 0)).unwrap();
    store(&w, 0, mm, 0, 1).unwrap();
    take();
    assert_eq!(reclaim_page(&w, w.file(0), 0), Reclaimed::Freed);
    let (present, range, finish, flush) = take();
    assert_eq!((present, range, finish), (0, 0, 0));
    assert!(
        flush >= 1,
        "reclaim's ptep_clear_flush bypassed flush_tlb_range's entry"
    );
}
