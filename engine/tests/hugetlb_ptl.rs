//! hugetlb's page-table lock is `huge_pte_lock()`: for a PMD-sized hugetlb page
//! `huge_pte_lockptr()` returns `pmd_lockptr(mm, pte)` — the split PMD lock of the table that
//! holds the entry when split PMD locks are configured, `&mm->page_table_lock` otherwise
//! (include/linux/hugetlb.h). Without split PMD locks the kernel does not share hugetlb PMD
//! tables at all: 188cac58a8bc ("mm/hugetlb: enforce that PMD PT sharing has split PMD PT
//! locks", 6.12) made `CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING` depend on them, because "sharing
//! page tables between processes but falling back to per-MM page table locks cannot possibly
//! work".
//!
//! lock_stat is process-wide and tests of one binary run in parallel: this binary holds this
//! one test, which reads the PTL class's counters.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::Sink;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{Ptlocks, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap};
use mmlab_engine::sync::lock_stat;
use mmlab_engine::sync::{LockClass, Ordering};

#[test]
fn without_split_ptls_hugetlb_takes_the_mm_page_table_lock_and_shares_no_table() {
    let mut cfg = WorldConfig::tiny(2);
    cfg.files = vec![(cfg.ptes_per_table, true)];
    cfg.ptlocks = Ptlocks::MmPageTableLock;
    let w = World::new(cfg, Kernel::default());
    let sink = Sink::new();
    sink.install();
    let per = w.cfg.ptes_per_table as u64;
    let file = w.file(0);
    let shared = MapKind::File {
        file,
        pgoff: 0,
        shared: true,
    };
    let (a, b) = (mm_alloc(&w).expect("mm A"), mm_alloc(&w).expect("mm B"));
    let va_a = mmap(&w, a, 0, per, shared).expect("mmap A");
    let va_b = mmap(&w, b, 0, per, shared).expect("mmap B");
    let before = lock_stat::class_snapshot(LockClass::Ptl).acquisitions;
    access::store(&w, 0, a, 0, 1).expect("A faults");
    access::store(&w, 1, b, 0, 2).expect("B faults");
    let (ta, tb) = (w.mms.get(a).pmd_table(0), w.mms.get(b).pmd_table(0));
    assert_ne!(
        ta, tb,
        "huge_pmd_share without split PMD locks (188cac58a8bc)"
    );
    let t = w.tables.get(ta.expect("A's table"));
    assert_eq!(t.share_count.load(Ordering::SeqCst), 1);
    munmap::munmap(&w, b, va_b).expect("munmap B");
    munmap::munmap(&w, a, va_a).expect("munmap A");
    let taken = lock_stat::class_snapshot(LockClass::Ptl).acquisitions - before;
    assert_eq!(
        taken, 0,
        "a split PTL was taken {taken} times with split PTLs off: huge_pte_lockptr is \
         &mm->page_table_lock there"
    );
    assert!(sink.take().is_empty());
}
