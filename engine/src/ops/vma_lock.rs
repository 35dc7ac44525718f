//! The per-VMA lock helpers of include/linux/mm.h and include/linux/mmap_lock.h as v6.4/v6.5
//! had them: `vma_start_read`, `vma_end_read`, `vma_start_write`, `vma_assert_write_locked`,
//! `vma_mark_detached`, `vma_end_write_all`, `mmap_write_unlock` and `mmap_write_downgrade`.
//! The lock object, its fields and the protocol they implement are described in
//! [`crate::mm::vma_lock`].

use crate::mm::mm_struct::MmMap;
use crate::mm::{MmId, VmaId, World};
use crate::report::{Oracle, violation};
use crate::sync::observer::Ordering;
use crate::sync::rcu::RcuReadGuard;
use crate::sync::{RwSemReadGuard, RwSemWriteGuard};

/// Proof that a VMA is read-locked (`vma_start_read` succeeded): a fault under
/// `FAULT_FLAG_VMA_LOCK` holds it instead of `mmap_lock`. Released by [`vma_end_read`].
#[must_use = "dropping the proof is vma_end_read without its rcu_read_lock; call vma_end_read"]
#[derive(Debug)]
pub struct VmaReadLocked<'a> {
    vma: VmaId,
    guard: RwSemReadGuard<'a, ()>,
}

impl VmaReadLocked<'_> {
    /// The VMA that is read-locked.
    pub fn vma(&self) -> VmaId {
        self.vma
    }
}

/// `vma_start_read(vma)` (include/linux/mm.h, 6.4): try to read-lock a VMA found under RCU.
/// Fails if the VMA is write-locked (`vm_lock_seq == mm->mm_lock_seq`, checked before and
/// after `down_read_trylock`) or if the trylock fails (a writer holds or waits for `vm_lock`).
/// "False unlocked result is impossible because we modify and check vma->vm_lock_seq under
/// vma->vm_lock protection and mm->mm_lock_seq modification invalidates all existing locks."
///
/// The caller is inside `rcu_read_lock` (`_rcu`): the VMA may be detached and queued for
/// freeing meanwhile, but not freed.
pub fn vma_start_read<'w>(
    w: &'w World,
    vma_id: VmaId,
    _rcu: &RcuReadGuard<'_>,
) -> Option<VmaReadLocked<'w>> {
    let vma = w.vmas.get(vma_id);
    let mm = w.mms.get(vma.info.get().mm);
    // Check before locking. A race might cause false locked result.
    if vma.vm_lock.vm_lock_seq.load(Ordering::SeqCst) == mm.mm_lock_seq.load(Ordering::SeqCst) {
        return None;
    }
    let guard = vma.vm_lock.lock.try_read()?;
    // Overflow might produce false locked result.
    if vma.vm_lock.vm_lock_seq.load(Ordering::SeqCst) == mm.mm_lock_seq.load(Ordering::SeqCst) {
        drop(guard);
        return None;
    }
    Some(VmaReadLocked { vma: vma_id, guard })
}

/// `vma_end_read(vma)`: `rcu_read_lock()` "keeps vma alive till the end of up_read", then
/// `up_read(&vma->vm_lock->lock)`, then `rcu_read_unlock()`.
pub fn vma_end_read(w: &World, locked: VmaReadLocked<'_>) {
    let rcu = w.rcu.read_lock();
    drop(locked.guard);
    drop(rcu);
}

/// `__is_vma_write_locked`: `mmap_lock` is held for write (`_map`), so neither sequence can
/// change under us; returns whether the VMA is write-locked and the mm's `mm_lock_seq`.
fn is_vma_write_locked(w: &World, vma_id: VmaId, _map: &RwSemWriteGuard<'_, MmMap>) -> (bool, u32) {
    let vma = w.vmas.get(vma_id);
    let mm = w.mms.get(vma.info.get().mm);
    let mm_lock_seq = mm.mm_lock_seq.load(Ordering::SeqCst);
    (
        vma.vm_lock.vm_lock_seq.load(Ordering::SeqCst) == mm_lock_seq,
        mm_lock_seq,
    )
}

/// `vma_start_write(vma)` (include/linux/mm.h, 6.4): write-lock a VMA until the caller's
/// `mmap_lock` write section ends. Already write-locked in this section: nothing to do.
/// Otherwise `down_write(&vma->vm_lock->lock)` — waiting for every fault that holds the VMA
/// read-locked — sets `vm_lock_seq = mm_lock_seq` and `up_write`s at once.
///
/// `map` is the proof that the VMA's mm's `mmap_lock` is held for write
/// (`mmap_assert_write_locked`). Every path that changes a VMA a fault could be using — its
/// bounds, flags, anon_vma, page tables it copies, or its presence in the tree — calls this
/// first: munmap, mprotect, mlock, the split/merge code, fork (fb49c455323f), and the paths
/// other parts of the model add (mremap's `move_vma`, khugepaged's collapse).
pub fn vma_start_write(w: &World, map: &RwSemWriteGuard<'_, MmMap>, vma_id: VmaId) {
    let (locked, mm_lock_seq) = is_vma_write_locked(w, vma_id, map);
    if locked {
        return;
    }
    let vma = w.vmas.get(vma_id);
    let g = vma.vm_lock.lock.write();
    vma.vm_lock.vm_lock_seq.store(mm_lock_seq, Ordering::SeqCst);
    drop(g);
    w.trace("vma_start_write", vma_id, format_args!("seq {mm_lock_seq}"));
}

/// `vma_try_start_write(vma)` (include/linux/mm.h, 6.4 only): [`vma_start_write`] with
/// `down_write_trylock` — `false` if a fault holds the VMA read-locked (or a writer waits).
/// Added by 55fd6fccad31 ("mm/khugepaged: write-lock VMA while collapsing a huge page", 6.4,
/// with its fix "mm/khugepaged: fix vm_lock/i_mmap_rwsem inversion in retract_page_tables"
/// folded in) for `retract_page_tables`, which holds `i_mmap_rwsem` and a page lock while a
/// fault holding `vm_lock` read may be waiting for either: waiting for `vm_lock` there would
/// invert the order, so it tries, as it tries `mmap_lock`. Gone with its one caller in 6.5
/// (1d65b771bc08: retraction without `mmap_lock` or the VMA lock).
pub fn vma_try_start_write(w: &World, map: &RwSemWriteGuard<'_, MmMap>, vma_id: VmaId) -> bool {
    let (locked, mm_lock_seq) = is_vma_write_locked(w, vma_id, map);
    if locked {
        return true;
    }
    let vma = w.vmas.get(vma_id);
    let Some(g) = vma.vm_lock.lock.try_write() else {
        return false;
    };
    vma.vm_lock.vm_lock_seq.store(mm_lock_seq, Ordering::SeqCst);
    drop(g);
    w.trace(
        "vma_try_start_write",
        vma_id,
        format_args!("seq {mm_lock_seq}"),
    );
    true
}

/// `vma_assert_write_locked(vma)`: `VM_BUG_ON_VMA(!__is_vma_write_locked(...))`, reported as
/// lockdep would (I15). Returns whether it held.
#[track_caller]
pub fn vma_assert_write_locked(w: &World, map: &RwSemWriteGuard<'_, MmMap>, vma_id: VmaId) -> bool {
    let (locked, _) = is_vma_write_locked(w, vma_id, map);
    if !locked {
        violation(
            Oracle::I15Lockdep,
            format!("{vma_id} changed without vma_start_write (vma_assert_write_locked)"),
        );
    }
    locked
}

/// `vma_mark_detached(vma, true)`: "When detaching vma should be write-locked" — asserted,
/// then `vma->detached = true`.
#[track_caller]
pub fn vma_mark_detached(w: &World, map: &RwSemWriteGuard<'_, MmMap>, vma_id: VmaId) {
    vma_assert_write_locked(w, map, vma_id);
    w.vmas
        .get(vma_id)
        .vm_lock
        .detached
        .store(true, Ordering::SeqCst);
}

/// `vma_end_write_all(mm)` (include/linux/mmap_lock.h): `mm->mm_lock_seq + 1` under
/// `mmap_lock` write — every VMA write-locked in this section is unlocked at once.
pub fn vma_end_write_all(w: &World, mm_id: MmId, _map: &RwSemWriteGuard<'_, MmMap>) {
    let mm = w.mms.get(mm_id);
    // No races during update due to exclusive mmap_lock being held.
    let seq = mm.mm_lock_seq.load(Ordering::SeqCst);
    mm.mm_lock_seq.store(seq.wrapping_add(1), Ordering::SeqCst);
}

/// `mmap_write_unlock(mm)`: `vma_end_write_all(mm)`, then `up_write(&mm->mmap_lock)`. Every
/// path that took `mmap_lock` for write releases it through here (or
/// [`mmap_write_downgrade`]): dropping the guard instead would leave the VMAs it write-locked
/// locked — faults on them would fall back to `mmap_lock` until the next writer's unlock.
pub fn mmap_write_unlock(w: &World, mm_id: MmId, map: RwSemWriteGuard<'_, MmMap>) {
    vma_end_write_all(w, mm_id, &map);
    drop(map);
}

/// `mmap_write_downgrade(mm)`: `vma_end_write_all(mm)`, then `downgrade_write`. From here a
/// fault may read-lock the VMAs again: a detached one it finds is refused by
/// `lock_vma_under_rcu`'s `detached` check.
pub fn mmap_write_downgrade<'a>(
    w: &World,
    mm_id: MmId,
    map: RwSemWriteGuard<'a, MmMap>,
) -> RwSemReadGuard<'a, MmMap> {
    vma_end_write_all(w, mm_id, &map);
    map.downgrade()
}

/// What a caller of `handle_mm_fault` (`ops::fault`) holds that keeps the VMA and its page tables: the
/// mm's `mmap_lock` for read (every fault before 6.4, GUP's `faultin_page`, hugetlb), or the
/// VMA's per-VMA lock for read (a 6.4+ arch fault under `FAULT_FLAG_VMA_LOCK`).
#[derive(Debug, Clone, Copy)]
pub enum FaultLock<'g, 'a> {
    /// `mmap_lock` held for read.
    Mmap(&'g RwSemReadGuard<'a, MmMap>),
    /// The VMA read-locked (`lock_vma_under_rcu`).
    Vma(&'g VmaReadLocked<'a>),
}

impl<'g, 'a> From<&'g RwSemReadGuard<'a, MmMap>> for FaultLock<'g, 'a> {
    fn from(map: &'g RwSemReadGuard<'a, MmMap>) -> Self {
        FaultLock::Mmap(map)
    }
}

impl<'g, 'a> From<&'g VmaReadLocked<'a>> for FaultLock<'g, 'a> {
    fn from(vma: &'g VmaReadLocked<'a>) -> Self {
        FaultLock::Vma(vma)
    }
}
