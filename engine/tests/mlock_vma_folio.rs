//! `mlock_vma_folio` (5.18+): the VMA check reclaim's try_to_unmap_one makes before it
//! "restores the mlock which got missed".
//!
//! mlock(2) counts the folios of a VMA it is locking with its own page-table walk
//! (`mlock_vma_pages_range` → `mlock_pte_range`), and while that walk runs the VMA carries
//! VM_LOCKED|VM_IO. `mlock_vma_folio` mlocks only for `(vm_flags & (VM_LOCKED|VM_SPECIAL)) ==
//! VM_LOCKED` — "VM_IO check prevents migration from double-counting during mlock"
//! (34b6792380ce) — so a restore inside that window leaves the folio to the walk:
//!
//! ```text
//! mlock(2) (mmap_lock write)               reclaim (folio isolated and locked)
//!   vm_flags |= VM_LOCKED | VM_IO
//!                                            PG_mlocked clear: try_to_unmap
//!                                            try_to_unmap_one: VM_LOCKED, keep;
//!                                              mlock_vma_folio: VM_IO -> nothing
//!                                            putback
//!   mlock_pte_range: mlock_folio (count 1)
//!   vm_flags &= ~VM_IO
//! ```
//!
//! Without the check the restore calls `mlock_folio`, which in the kernel queues the folio on
//! the per-CPU mlock batch; when that batch is drained after the putback, `__mlock_folio`
//! counts the folio, and the walk counts it too: `mlock_count` 2 for one VM_LOCKED mapping, so
//! munlock(2) leaves it mlocked and munmap strands it. The model drains its mlock batch at
//! once, while reclaim still has the folio isolated (and `__mlock_folio` leaves an isolated
//! folio's count alone), so it cannot show the second count itself; what this test checks is
//! the decision the kernel makes at that point: no mlock for a VMA mlock() is still counting.
//! The steps are the model's own, in the order of the interleaving drawn above.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig, pg, vm};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::{access, migrate, mlock, munlock, munmap, ttu};
use mmlab_engine::sync::Ordering;

#[test]
fn reclaims_mlock_restore_leaves_a_vma_that_mlock_is_still_counting_to_mlock() {
    let mut kernel = Kernel::default();
    kernel.mlock.scheme = MlockScheme::MlockCount;
    let w = World::new(WorldConfig::stress(1), kernel);
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let shared = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    let vma = mmap(&w, mm, 0, 1, shared).unwrap();
    access::store(&w, 0, mm, 0, 7).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    let page = w.page(pfn);

    // mlock(2): mlock_vma_pages_range sets VM_LOCKED|VM_IO; its walk has not reached the page.
    let flags = &w.vmas.get(vma).flags;
    flags.fetch_or(vm::LOCKED | vm::IO, Ordering::SeqCst);

    // Reclaim: the folio is isolated and locked, and evictable (PG_mlocked clear).
    assert!(migrate::isolate_lru_page(&w, pfn));
    let guard = mmlab_engine::ops::pagemap::lock_page(&w, pfn);
    assert!(!page.test(pg::MLOCKED));
    assert!(
        !ttu::try_to_unmap(&w, &guard, ttu::TtuFlags::empty()),
        "try_to_unmap keeps a VM_LOCKED mapping"
    );
    drop(guard);
    assert!(
        !page.test(pg::MLOCKED),
        "try_to_unmap_one mlocked the folio of a VMA that mlock() is still counting \
         (VM_LOCKED|VM_IO): mlock_vma_folio must decline it"
    );
    migrate::putback_lru_page(&w, pfn);

    // mlock(2) goes on: mlock_pte_range counts the page under its PTL, then VM_IO goes.
    {
        let _pte = pte_offset_map_lock(&w, mm, 0).unwrap();
        mlock::mlock_folio(&w, pfn);
    }
    flags.fetch_and(!vm::IO, Ordering::SeqCst);
    assert!(page.test(pg::MLOCKED) && page.test(pg::UNEVICTABLE));
    assert_eq!(page.mlock_count.load(Ordering::SeqCst), 1);

    munlock::munlock(&w, mm, vma).unwrap();
    assert!(!page.test(pg::MLOCKED), "munlock(2) munlocked the page");
    munmap::munmap(&w, mm, vma).unwrap();
    quiescent::check_world(&w);
    let fired: Vec<Oracle> = sink.take().iter().map(|v| v.oracle).collect();
    assert!(fired.is_empty(), "{fired:?}");
}
