//! `hugetlb_fault` takes the hugetlb locks at the kernel's points (mm/hugetlb.c, 6.1+):
//! `mutex_lock(&hugetlb_fault_mutex_table[hash])`, then `hugetlb_vma_lock_read(vma)` — held
//! until the fault is done with its PTE pointer, so that `huge_pmd_unshare` (whose callers
//! hold the VMA lock for write, 40549ba8f8e0) cannot pull the shared table from under it.
//!
//! Each test holds one of the locks on the test thread, as the other side would, and checks
//! that a fault on another thread waits for it — observed through lockdep's record of what
//! a thread is blocked on, not through timing.
#![cfg(not(mmlab_loom))]

mod common;

use common::{blocked_on, join, spawn, wait_until};
use mmlab_engine::check::{Sink, current_sink};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Pte, VmaId, World, WorldConfig};
use mmlab_engine::ops::hugetlb::{huge_pte_lock, hugetlb_fault_mutex_hash};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, fault, tlb};
use mmlab_engine::sync::LockClass;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A world with one hugetlbfs file of one table's worth of pages, mapped shared by one mm.
fn hugetlb_world() -> (Arc<World>, MmId, VmaId) {
    let mut cfg = WorldConfig::tiny(2);
    cfg.files = vec![(cfg.ptes_per_table, true)];
    let w = Arc::new(World::new(cfg, Kernel::default()));
    // This test's own sink: `current_sink()` below, and the faulting threads', is this one.
    Sink::new().install();
    let per = w.cfg.ptes_per_table as u64;
    let shared = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    let mm = mm_alloc(&w).expect("mm");
    let vma = mmap(&w, mm, 0, per, shared).expect("mmap");
    (w, mm, vma)
}

/// Fault page 0 of `mm` on a thread named `name`; wait until it either blocks on `class` or
/// finishes. Returns whether it blocked, and the thread to join once the lock is released.
fn fault_blocks_on(
    w: &Arc<World>,
    mm: MmId,
    name: &'static str,
    class: LockClass,
) -> (bool, JoinHandle<()>) {
    let wf = w.clone();
    let h = spawn(name, &current_sink(), move || {
        access::store(&wf, 0, mm, 0, 7).expect("the fault maps the page")
    });
    wait_until(&format!("{name} to block on {class} or finish"), || {
        blocked_on(name, class) || h.is_finished()
    });
    (blocked_on(name, class), h)
}

#[test]
fn a_hugetlb_fault_waits_for_an_unsharer_holding_the_vma_lock_for_write() {
    let (w, mm, vma) = hugetlb_world();
    let unsharer = w.vmas.get(vma).hugetlb_vma_lock.write();
    let (blocked, faulter) = fault_blocks_on(&w, mm, "faulter", LockClass::HugetlbVmaLock);
    drop(unsharer);
    join(faulter);
    assert!(
        blocked,
        "hugetlb_fault mapped the page without hugetlb_vma_lock_read(vma)"
    );
    assert!(w.pte_at(mm, 0).is_some_and(|p| !p.is_none()));
    assert!(current_sink().take().is_empty());
}

#[test]
fn hugetlb_faults_on_one_index_serialise_on_the_fault_mutex() {
    let (w, mm, _) = hugetlb_world();
    let hash = hugetlb_fault_mutex_hash(&w, w.file(0), 0);
    let other = w.hugetlb_fault_mutex_table[hash].write();
    let (blocked, faulter) = fault_blocks_on(&w, mm, "faulter", LockClass::HugetlbFaultMutex);
    drop(other);
    join(faulter);
    assert!(
        blocked,
        "hugetlb_fault instantiated the page without hugetlb_fault_mutex_table[hash]"
    );
    assert!(w.pte_at(mm, 0).is_some_and(|p| !p.is_none()));
    assert!(current_sink().take().is_empty());
}

#[test]
fn a_write_fault_on_a_read_only_shared_hugetlb_entry_makes_it_writable() {
    let (w, mm, _) = hugetlb_world();
    access::store(&w, 0, mm, 0, 1).expect("the fault maps the page");
    let Some(Pte::Present { pfn, .. }) = w.pte_at(mm, 0) else {
        panic!("mapped: {:?}", w.pte_at(mm, 0));
    };
    // Write-protect the entry (as uffd-wp or mprotect would) and drop the CPU's translation.
    let table = w.tables.get(w.mms.get(mm).pmd_table(0).expect("the table"));
    let ro = Pte::Present {
        pfn,
        write: false,
        dirty: true,
        young: true,
    };
    huge_pte_lock(&w, mm, 0, table, 0).set_pte_at(ro);
    tlb::flush_tlb_range(&w, mm, 0, 1);
    fault::do_user_addr_fault(&w, mm, 0, true).expect("a write fault");
    assert!(
        matches!(w.pte_at(mm, 0), Some(Pte::Present { write: true, .. })),
        "hugetlb_wp left the entry read-only: {:?}",
        w.pte_at(mm, 0)
    );
    assert!(current_sink().take().is_empty());
}
