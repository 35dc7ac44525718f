//! `exit_mmap` (mm/mmap.c) by era, through the table ([`ExitOps`]): the modern order (6.x: zap
//! everything under `mmap_lock` read, set `MMF_OOM_SKIP`, then `free_pgtables` — i_mmap and
//! anon_vma write locks per VMA — under `mmap_lock` write), and the two 4.x orders whose
//! difference is 27ae357fa82b (the OOM reaper's handshake, `oom-reaper-mlock`).
//! Under the old mlock scheme every VM_LOCKED VMA is munlocked first (the `munlock_vma_pages_all`
//! loop, v4.x–v5.17), which is where the exit convoy that v5.18's munlock rework removed comes
//! from (a213e5cf71cb "mm/munlock: delete munlock_vma_pages_all(), allow oomreap").

use crate::mm::mm_struct::mmf;
use crate::mm::{MmId, VmaId, World};
use crate::ops::oom_kill::{self, mm_is_oom_victim};
use crate::ops::{mmap, munmap};

/// `mmput` → `exit_mmap` + `mmdrop`: tear down every mapping of `mm` and drop the mm, through
/// the era's `exit_mmap` (`w.kernel.exit`).
///
/// Nothing here is observer bookkeeping: what the oracles must forget goes with the objects
/// freed (`remove_vma` → `vm_area_free`, `mmdrop`), so a copy of this function written from
/// the kernel's runs them too.
///
/// Simplification: no `mmu_notifier_release` (a registered secondary MMU is not told the mm
/// is going) and no `mm_users` (the caller is the mm's last user).
pub fn exit_mmap(w: &World, mm_id: MmId) {
    (w.kernel.exit.exit_mmap)(w, mm_id)
}

/// The old mlock scheme's munlock of every VM_LOCKED VMA (`if (mm->locked_vm)` …
/// `munlock_vma_pages_all(vma)`), run by `exit_mmap` with **no** `mmap_lock` (nobody else
/// is supposed to reach the mm). Each VMA's walk is noted for I22 by `munlock_before_unmap`
/// ([`oom_kill::note_munlock_walk`]).
fn munlock_vma_pages_all_loop(w: &World, vmas: &[VmaId]) {
    for &v in vmas {
        crate::ops::munlock::munlock_before_unmap(w, v);
    }
}

/// `exit_mmap`, 6.x (since "mm: drop oom code from exit_mmap", Suren Baghdasaryan, 2022):
/// `unmap_vmas` under `mmap_read_lock` — the reaper, which only trylocks for read, may reap
/// alongside — then "Set MMF_OOM_SKIP to hide this task from the oom killer/reaper because the
/// memory has been already freed", and `free_pgtables` under `mmap_write_lock`, which the
/// reaper cannot take part in. Under the old mlock scheme (a world whose `mlock.scheme` is
/// `PageMlock`) the VM_LOCKED VMAs are munlocked first, as v5.15's `exit_mmap` did.
pub fn exit_mmap_v6(w: &World, mm_id: MmId) {
    let mm = w.mms.get(mm_id);
    let vmas: Vec<VmaId> = mm.mmap_lock.read().vmas.clone();
    munlock_vma_pages_all_loop(w, &vmas);
    let mut gather = (w.kernel.tlb.tlb_gather_mmu)(w, mm_id, true);
    {
        let _map = mm.mmap_lock.read();
        (w.kernel.zap.unmap_vmas)(w, &mut gather, &vmas, 0, u64::MAX);
    }
    oom_kill::set_bit(w, mm_id, mmf::OOM_SKIP);
    let map = mm.mmap_lock.write();
    exit_mmap_tail(w, mm_id, map, gather, &vmas);
}

/// `free_pgtables`, `tlb_finish_mmu`, `remove_vma` of each VMA, `mmdrop`: the end of every
/// era's `exit_mmap`, holding `mmap_lock` for write (6.x; the 4.x kernel held nothing here —
/// the model keeps the lock its `mt_destroy` needs, after the reaper was shut out, so no
/// thread can tell).
fn exit_mmap_tail(
    w: &World,
    mm_id: MmId,
    mut map: crate::sync::RwSemWriteGuard<'_, crate::mm::mm_struct::MmMap>,
    mut gather: crate::mm::mmu_gather::MmuGather,
    vmas: &[VmaId],
) {
    let mm = w.mms.get(mm_id);
    (w.kernel.zap.free_pgtables)(w, &mut gather, vmas, &[]);
    (w.kernel.tlb.tlb_finish_mmu)(w, gather);
    for &v in vmas {
        munmap::remove_vma(w, v);
    }
    map.mt_destroy(mm);
    crate::ops::vma_lock::mmap_write_unlock(w, mm_id, map);
    w.trace("exit_mmap", mm_id, "");
    mmap::mmdrop(w, mm_id);
}

/// `exit_mmap`, v4.17–v4.19 (27ae357fa82b "mm, oom: fix concurrent munlock and oom reaper
/// unmap, v3"): an OOM victim's exit first reaps the mm itself, then sets `MMF_OOM_SKIP`
/// and cycles `mmap_sem` for write — "Taking mm->mmap_sem for write after setting
/// MMF_OOM_SKIP will guarantee that the oom reaper will not run on this mm again after
/// mmap_sem is dropped … This needs to be done before calling munlock_vma_pages_all(), which
/// clears VM_LOCKED, otherwise the oom reaper cannot reliably test it." Only then the munlock
/// loop and `unmap_vmas`, with no `mmap_sem`.
pub fn exit_mmap_v4_17(w: &World, mm_id: MmId) {
    let mm = w.mms.get(mm_id);
    let vmas: Vec<VmaId> = mm.mmap_lock.read().vmas.clone();
    if mm_is_oom_victim(w, mm_id) {
        // mutex_lock(&oom_lock); __oom_reap_task_mm(mm); mutex_unlock(&oom_lock);
        (w.kernel.oom.__oom_reap_task_mm)(w, mm_id, &vmas);
        oom_kill::set_bit(w, mm_id, mmf::OOM_SKIP);
        // down_write(&mm->mmap_sem); up_write(&mm->mmap_sem);
        drop(mm.mmap_lock.write());
        w.trace("exit_mmap: MMF_OOM_SKIP, down_write; up_write", mm_id, "");
    }
    munlock_vma_pages_all_loop(w, &vmas);
    let mut gather = (w.kernel.tlb.tlb_gather_mmu)(w, mm_id, true);
    (w.kernel.zap.unmap_vmas)(w, &mut gather, &vmas, 0, u64::MAX);
    let map = mm.mmap_lock.write();
    exit_mmap_tail(w, mm_id, map, gather, &vmas);
}

/// `exit_mmap`, v4.14–v4.16 (212925802454 "mm: oom: let oom_reap_task and exit_mmap run
/// concurrently", and 4.16's `mm_is_oom_victim`): the munlock loop and `unmap_vmas` first,
/// with no `mmap_sem` — the reaper may run all along — and the handshake only before
/// `free_pgtables`: `set_bit(MMF_OOM_SKIP); down_write(&mm->mmap_sem); up_write(…)` "Wait
/// for oom_reap_task() to stop working on this mm". The reaper tests VM_LOCKED while
/// `munlock_vma_pages_all` clears it and walks the VMA: the race 27ae357fa82b fixed.
pub fn exit_mmap_v4_16(w: &World, mm_id: MmId) {
    let mm = w.mms.get(mm_id);
    let vmas: Vec<VmaId> = mm.mmap_lock.read().vmas.clone();
    munlock_vma_pages_all_loop(w, &vmas);
    let mut gather = (w.kernel.tlb.tlb_gather_mmu)(w, mm_id, true);
    (w.kernel.zap.unmap_vmas)(w, &mut gather, &vmas, 0, u64::MAX);
    if mm_is_oom_victim(w, mm_id) {
        oom_kill::set_bit(w, mm_id, mmf::OOM_SKIP);
        w.trace("exit_mmap: MMF_OOM_SKIP, down_write", mm_id, "");
    }
    // down_write(&mm->mmap_sem) (held through the tail, see exit_mmap_tail).
    let map = mm.mmap_lock.write();
    exit_mmap_tail(w, mm_id, map, gather, &vmas);
}

/// This file's entry of the kernel function table ([`crate::kernel::Kernel`]): which era's
/// `exit_mmap`. Its `Default`, the modern kernel, is implemented in [`crate::kernel`].
#[derive(Debug, Clone, Copy)]
pub struct ExitOps {
    /// `exit_mmap`. Default [`exit_mmap_v6`]; alternatives [`exit_mmap_v4_17`] (the OOM
    /// reaper shut out before the munlock, 27ae357fa82b) and [`exit_mmap_v4_16`] (after it).
    pub exit_mmap: fn(&World, MmId),
}
