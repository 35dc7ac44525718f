//! `exit_mmap` in the v6 order (mm/mmap.c `exit_mmap`): zap everything under `mmap_lock` read, then
//! `free_pgtables` (i_mmap and anon_vma write locks per VMA) under `mmap_lock` write.
//! Under the old mlock scheme every VM_LOCKED VMA is munlocked first (v5.15's
//! `munlock_vma_pages_all` loop), which is where the exit convoy that v5.18's munlock rework
//! removed comes from (a213e5cf71cb "mm/munlock: delete munlock_vma_pages_all(), allow oomreap").

use crate::mm::{MmId, VmaId, World};
use crate::ops::{mmap, munmap};

/// `exit_mmap` + `mmdrop`: tear down every mapping of `mm` and free it.
///
/// Nothing here is observer bookkeeping: what the oracles must forget goes with the objects
/// freed (`remove_vma` → `vm_area_free`, `mmdrop`), so a copy of this function written from
/// the kernel's runs them too.
///
/// Simplification: no `mmu_notifier_release` (a registered secondary MMU is not told the mm
/// is going) and no OOM-reaper handshake (`MMF_OOM_SKIP`, `mm_users`).
pub fn exit_mmap(w: &World, mm_id: MmId) {
    let mm = w.mms.get(mm_id);
    let vmas: Vec<VmaId> = mm.mmap_lock.read().vmas.clone();
    for &v in &vmas {
        crate::ops::munlock::munlock_before_unmap(w, v);
    }
    let mut gather = (w.kernel.tlb.tlb_gather_mmu)(w, mm_id, true);
    {
        let _map = mm.mmap_lock.read();
        (w.kernel.zap.unmap_vmas)(w, &mut gather, &vmas, 0, u64::MAX);
    }
    let mut map = mm.mmap_lock.write();
    (w.kernel.zap.free_pgtables)(w, &mut gather, &vmas, &[]);
    (w.kernel.tlb.tlb_finish_mmu)(w, gather);
    for &v in &vmas {
        munmap::remove_vma(w, v);
    }
    map.mt_destroy(mm);
    crate::ops::vma_lock::mmap_write_unlock(w, mm_id, map);
    w.trace("exit_mmap", mm_id, "");
    mmap::mmdrop(w, mm_id);
}
