//! An anon_vma is freed only when its refcount reaches zero, even one that lost the
//! `__anon_vma_prepare` race and was never published.
//!
//! anon_vma memory is `SLAB_TYPESAFE_BY_RCU`: a reader that found a slot through a stale
//! `page->mapping` (`page_get_anon_vma`, the fallback of `page_lock_anon_vma_read`) may pin
//! whatever anon_vma lives in that slot now with `atomic_inc_not_zero(&anon_vma->refcount)`,
//! and only afterwards re-check `page_mapped()` and `put_anon_vma()` it. The slot may by then
//! hold an anon_vma that `__anon_vma_prepare` has just allocated. So when `__anon_vma_prepare`
//! loses the race for `vma->anon_vma` (another fault installed one under
//! `mm->page_table_lock` first), it drops its allocation with `put_anon_vma(allocated)`
//! (mm/rmap.c, v5.x and v6.x; `out_enomem_free` does the same), never a direct free:
//!
//! ```text
//! prepare-a                    prepare-b                    a stale pinner (this test)
//! anon_vma_alloc: A (ref 1)    anon_vma_alloc: B (ref 1)
//! anon_vma_lock_write(A)       anon_vma_lock_write(B)
//! SPIN(page_table_lock) ...    SPIN(page_table_lock) ...    (holds page_table_lock)
//!                                                           atomic_inc_not_zero(A), (B)
//!                                                           UNSPIN(page_table_lock)
//! vma->anon_vma = A (won)      vma->anon_vma set: lost
//!                              put_anon_vma(B): 2 -> 1      page_mapped: no -> put_anon_vma(B)
//!                                                             1 -> 0: anon_vma_free(B)
//! ```
//!
//! The model freed the loser's anon_vma directly, under the pin: the pinner's `put_anon_vma`
//! then touched freed memory (a stale id).
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_blocked};
use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{self, MapKind, mm_alloc};
use mmlab_engine::ops::{munmap, pgtable};
use mmlab_engine::sync::{Arc, LockClass, Ordering};

#[test]
fn anon_vma_prepare_puts_the_anon_vma_it_lost_the_race_with_instead_of_freeing_it() {
    let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap::mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();

    // Hold the window open: both preparers allocate and lock their anon_vma, then wait for
    // page_table_lock, before either can look at vma->anon_vma.
    let ptl = w.mms.get(mm).page_table_lock.lock();
    let preparer = |name: &str| {
        let w = w.clone();
        spawn(name, &sink, move || {
            // A fault's anon_vma_prepare runs under mmap_lock read.
            let _map = w.mms.get(mm).mmap_lock.read();
            mmap::anon_vma_prepare(&w, vma)
        })
    };
    let (a, b) = (preparer("prepare-a"), preparer("prepare-b"));
    wait_blocked("prepare-a", LockClass::PageTableLock);
    wait_blocked("prepare-b", LockClass::PageTableLock);

    // The stale pinner's step: atomic_inc_not_zero on each slot (both hold a new anon_vma).
    let pinned = w.anon_vmas.live();
    assert_eq!(pinned.len(), 2, "each preparer allocated one anon_vma");
    for &id in &pinned {
        let pin = w.anon_vmas.slot(id.idx).refcount.fetch_update(
            Ordering::SeqCst,
            Ordering::SeqCst,
            |r| (r > 0).then_some(r + 1),
        );
        assert_eq!(pin, Ok(1), "a new anon_vma holds its allocation reference");
    }
    drop(ptl);
    join(a).unwrap();
    join(b).unwrap();
    let installed = w.vmas.get(vma).anon_vma().expect("one preparer won");

    // The pinner re-checks page_mapped (no) and puts what it pinned.
    for &id in &pinned {
        pgtable::put_anon_vma(&w, id);
    }
    assert_eq!(
        w.anon_vmas.live(),
        vec![installed],
        "the loser's anon_vma is freed by the last put, the winner's is kept by its VMA"
    );
    munmap::munmap(&w, mm, vma).unwrap();
    assert!(w.anon_vmas.live().is_empty());
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
