//! `lock_vma_under_rcu` (mm/memory.c, 6.4+): the lockless VMA lookup of a page fault — walk
//! the mm's tree under `rcu_read_lock` (`mas_walk`), read-lock the VMA found
//! (`vma_start_read`), and re-validate it now that it cannot change: its range, and whether it
//! was detached between the walk and the lock. VMA memory stays valid for the whole walk
//! because `vm_area_free` frees a VMA only after an RCU grace period (6.4's `call_rcu`).
//!
//! Two eras, entries of [`crate::ops::fault::FaultOps::lock_vma_under_rcu`]:
//! - [`lock_vma_under_rcu_v6_4`] (v6.4): "Only anonymous vmas are supported for now" and
//!   `vma->anon_vma` must be set ("find_mergeable_anon_vma uses adjacent vmas which are not
//!   locked") — both checked *before* `vma_start_read`.
//! - [`lock_vma_under_rcu`] (6.5-rc4+, 657b5146955e "mm: lock_vma_under_rcu() must check
//!   vma->anon_vma under vma lock"): the `anon_vma` check moved after `vma_start_read`, since
//!   a writer that holds the VMA write-locked (mremap's `move_vma` → `unlink_anon_vmas`) may
//!   clear it between the unlocked check and the lock. The default.
//!
//! Simplification: no userfaultfd (`userfaultfd_armed` is never true) and no per-VMA lock
//! statistics (`count_vm_vma_lock_event`): the outcomes are trace steps.

use crate::mm::{MmId, VmaId, World};
use crate::ops::vma_lock::{VmaReadLocked, vma_end_read, vma_start_read};
use crate::sync::observer::Ordering;

/// Why the lookup gave up, for the trace (`VMA_LOCK_ABORT` / `VMA_LOCK_MISS`).
fn inval<'w>(w: &'w World, mm: MmId, va: u64, why: &str) -> Option<VmaReadLocked<'w>> {
    w.trace(
        "lock_vma_under_rcu: inval",
        format_args!("{mm} va {:#x}", va << 12),
        why,
    );
    None
}

/// `vma_is_anonymous(vma)`: no file (`!vma->vm_ops`).
fn vma_is_anonymous(w: &World, vma: VmaId) -> bool {
    w.vmas.get(vma).info.get().file.is_none()
}

/// The re-checks after `vma_start_read`: the range ("vm_start/vm_end might change before we
/// lock the VMA") and `detached` ("Check if the VMA got isolated after we found it"). `Err`
/// is "the area was replaced with another one": look again.
fn revalidate<'w>(
    w: &'w World,
    locked: VmaReadLocked<'w>,
    va: u64,
) -> Result<Option<VmaReadLocked<'w>>, ()> {
    let vma = w.vmas.get(locked.vma());
    if !vma.info.get().contains(va) {
        vma_end_read(w, locked);
        return Ok(None);
    }
    if vma.vm_lock.detached.load(Ordering::SeqCst) {
        vma_end_read(w, locked);
        // count_vm_vma_lock_event(VMA_LOCK_MISS); goto retry;
        return Err(());
    }
    Ok(Some(locked))
}

/// `lock_vma_under_rcu(mm, address)` after 657b5146955e (6.5-rc4+): anonymous VMAs only;
/// `vma->anon_vma` checked once the VMA is read-locked.
pub fn lock_vma_under_rcu(w: &World, mm_id: MmId, va: u64) -> Option<VmaReadLocked<'_>> {
    let mm = w.mms.get(mm_id);
    let rcu = w.rcu.read_lock();
    loop {
        // retry:
        let Some(vma) = mm.mm_mt.mas_walk(&w.vmas, va, &rcu) else {
            drop(rcu);
            return inval(w, mm_id, va, "no vma");
        };
        // Only anonymous vmas are supported for now.
        if !vma_is_anonymous(w, vma) {
            drop(rcu);
            return inval(w, mm_id, va, "not anonymous");
        }
        let Some(locked) = vma_start_read(w, vma, &rcu) else {
            drop(rcu);
            return inval(w, mm_id, va, "vma_start_read failed");
        };
        // find_mergeable_anon_vma uses adjacent vmas which are not locked.
        // This check must happen after vma_start_read(); otherwise, a concurrent
        // mremap() with MREMAP_DONTUNMAP could dissociate the VMA from its anon_vma.
        if w.vmas.get(vma).anon_vma().is_none() {
            vma_end_read(w, locked);
            drop(rcu);
            return inval(w, mm_id, va, "no anon_vma");
        }
        match revalidate(w, locked, va) {
            Ok(Some(locked)) => {
                drop(rcu);
                w.trace(
                    "lock_vma_under_rcu",
                    format_args!("{mm_id} va {:#x}", va << 12),
                    vma,
                );
                return Some(locked);
            }
            Ok(None) => {
                drop(rcu);
                return inval(w, mm_id, va, "range changed");
            }
            Err(()) => w.trace("lock_vma_under_rcu: detached, retry", vma, ""),
        }
    }
}

/// `lock_vma_under_rcu(mm, address)` as v6.4 had it: anonymous VMAs only, and
/// `vma->anon_vma` checked *before* `vma_start_read` — the check 657b5146955e moved.
pub fn lock_vma_under_rcu_v6_4(w: &World, mm_id: MmId, va: u64) -> Option<VmaReadLocked<'_>> {
    let mm = w.mms.get(mm_id);
    let rcu = w.rcu.read_lock();
    loop {
        // retry:
        let Some(vma) = mm.mm_mt.mas_walk(&w.vmas, va, &rcu) else {
            drop(rcu);
            return inval(w, mm_id, va, "no vma");
        };
        // Only anonymous vmas are supported for now.
        if !vma_is_anonymous(w, vma) {
            drop(rcu);
            return inval(w, mm_id, va, "not anonymous");
        }
        // find_mergeable_anon_vma uses adjacent vmas which are not locked.
        if w.vmas.get(vma).anon_vma().is_none() {
            drop(rcu);
            return inval(w, mm_id, va, "no anon_vma");
        }
        crate::race_window!("lock_vma_under_rcu: anon_vma checked, vma not yet locked");
        let Some(locked) = vma_start_read(w, vma, &rcu) else {
            drop(rcu);
            return inval(w, mm_id, va, "vma_start_read failed");
        };
        match revalidate(w, locked, va) {
            Ok(Some(locked)) => {
                drop(rcu);
                w.trace(
                    "lock_vma_under_rcu",
                    format_args!("{mm_id} va {:#x}", va << 12),
                    vma,
                );
                return Some(locked);
            }
            Ok(None) => {
                drop(rcu);
                return inval(w, mm_id, va, "range changed");
            }
            Err(()) => w.trace("lock_vma_under_rcu: detached, retry", vma, ""),
        }
    }
}
