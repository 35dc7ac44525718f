//! `folio_referenced` (mm/rmap.c; `page_referenced` before 5.18): reclaim's first look at a
//! folio (`shrink_folio_list` → `folio_check_references`) — an rmap walk whose
//! `rwc->anon_lock` is `folio_lock_anon_vma_read`, so it finds an anonymous folio's anon_vma
//! through `folio->mapping` alone, without a pin, as `try_to_unmap` does.
//!
//! The walk sets `rwc.try_lock` (6.x): reclaim does not sleep on a busy rmap lock; the walk
//! gives up, `rwc.contended` is set and `folio_referenced` returns -1, which
//! `folio_check_references` turns into `FOLIOREF_KEEP` ("rmap lock contention: rotate").
//! `folio_referenced_one` test-and-clears each mapping's accessed bit under the PTL
//! (`ptep_clear_flush_young_notify`, which on x86 does not flush).
//!
//! Simplification: only the file side honours `try_lock` (`i_mmap_trylock_read`); the anon
//! side takes the anon_vma lock as `try_to_unmap` does. `vm_flags` (VM_LOCKED's early stop,
//! VM_EXEC) are not gathered: reclaim checks `folio_evictable` (PG_mlocked) instead.

use crate::mm::{Pfn, VmaId, World};
use crate::ops::pagemap::LockedPage;
use crate::ops::pvmw::PvmwFlags;
use crate::ops::rmap_walk::{RmapWalkControl, rmap_walk};

/// `folio_referenced_one`: is the folio mapped at `va` of `vma` with the accessed bit set?
/// The bit is cleared as it is read (`ptep_clear_flush_young_notify`), under the PTL.
pub fn folio_referenced_one(w: &World, pfn: Pfn, vma: VmaId, va: u64) -> bool {
    (w.kernel.rmap.page_vma_mapped_walk)(w, pfn, vma, va, PvmwFlags::empty())
        .is_some_and(|item| item.value.is_present() && item.pte.ptep_test_and_clear_young())
}

/// `folio_referenced(folio, is_locked = 1, ...)`: the caller holds the folio lock
/// (reclaim's `folio_trylock`). Returns how many mappings were referenced, or -1 if the rmap
/// lock was contended (`rwc.contended`).
pub fn folio_referenced(w: &World, page: &LockedPage<'_>) -> isize {
    let pfn = page.pfn();
    if !w.page(pfn).mapped() {
        return 0;
    }
    let mut referenced = 0;
    let mut one = |vma: VmaId, va: u64| {
        if folio_referenced_one(w, pfn, vma, va) {
            referenced += 1;
        }
        true
    };
    let mut rwc = RmapWalkControl::new(&mut one);
    rwc.anon_lock = Some(w.kernel.rmap.anon_lock);
    rwc.try_lock = true;
    rmap_walk(w, page, &mut rwc);
    let contended = rwc.contended;
    let ret = if contended { -1 } else { referenced };
    w.trace("folio_referenced", pfn, ret);
    ret
}
