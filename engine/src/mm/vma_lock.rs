//! The per-VMA lock object (`CONFIG_PER_VMA_LOCK`, 6.4+): `vma->vm_lock`, `vma->vm_lock_seq`
//! and `vma->detached` (`mm->mm_lock_seq` is in [`super::mm_struct::Mm`]). The helpers of
//! include/linux/mm.h and include/linux/mmap_lock.h that use them, as v6.4/v6.5 had them, are
//! in `crate::ops::vma_lock`; what they do together is described here.
//!
//! The shape modelled is the 6.4 one (Suren Baghdasaryan's series, "Per-VMA locks", merged for
//! 6.4): a separately allocated rw_semaphore per VMA plus a sequence number. A writer, holding
//! `mmap_lock` for write, "write-locks" a VMA by taking `vm_lock` for write just long enough to
//! set `vm_lock_seq = mm->mm_lock_seq` (`vma_start_write`); the VMA stays write-locked — no
//! reader can take it — until the writer releases `mmap_lock` (`mmap_write_unlock`,
//! `mmap_write_downgrade`), which bumps `mm->mm_lock_seq` and so ends every write lock of the
//! mm at once (`vma_end_write_all`). A reader (`vma_start_read`) checks the sequence, then
//! `down_read_trylock`s `vm_lock`, then checks the sequence again: under `vm_lock` the sequence
//! cannot become equal, so a reader that got through excludes the writer until
//! `vma_end_read`. The later refcount-based shape (6.15, `vm_refcnt`, the VMA slab
//! `SLAB_TYPESAFE_BY_RCU`) is not modelled.
//!
//! lockdep: `vm_lock` is its own class, [`LockClass::VmaLock`] ("&vma->vm_lock"), ordered
//! right under `mmap_lock` (a writer takes it under `mmap_lock` write) and above everything a
//! fault takes under it (docs/MODEL.md §1, §13).
//!
//! Memory ordering: the model's atomics are SeqCst, so the `smp_wmb`/`smp_rmb` pairs that
//! "mm: fix memory ordering for mm_lock_seq and vm_lock_seq" (Jann Horn, 6.5) added between
//! the sequence numbers and the VMA's contents are implied; the model cannot show that bug.

use crate::sync::observer::{AtomicBool, AtomicU32, Ordering};
use crate::sync::{LockClass, RwSem};

/// `vm_lock_seq` of a VMA no writer ever locked (`vma_lock_alloc`: `vma->vm_lock_seq = -1`).
pub const VM_LOCK_SEQ_NONE: u32 = u32::MAX;

/// A VMA's per-VMA lock state (`vma->vm_lock`, `vma->vm_lock_seq`, `vma->detached`).
///
/// `vm_lock_seq`, `detached` (and `mm->mm_lock_seq`, `mm->mm_mt`'s slots) are observer atomics,
/// deliberately, as `mm_cpumask` is (`Mm::cpus_ran`): every access sits next to a loom
/// operation that orders it — a reader's checks right after `rcu_read_lock` or the
/// `down_read_trylock` of `lock`, a writer's updates inside `lock` held for write or under
/// `mmap_lock` held for write, whose release is a loom operation — and loom switches threads
/// only at its own operations, so it already runs every writer's update before or after each
/// reader's check. As loom atomics they added branch points and no new order of check and
/// update: each fault and each writer paid several more.
#[derive(Debug)]
pub struct VmaLock {
    /// `vma->vm_lock->lock`: readers are page faults (`lock_vma_under_rcu`), the writer is
    /// `vma_start_write`, which holds it only while it sets `vm_lock_seq`.
    /// Protected by: itself.
    pub lock: RwSem<()>,
    /// `vma->vm_lock_seq`: equal to the mm's `mm_lock_seq` while the VMA is write-locked.
    /// Protected by: `lock` for write and `mmap_lock` for write to change it; read racily by
    /// `vma_start_read` before it locks (the "Check before locking" READ_ONCE) and again
    /// under `lock` for read.
    pub vm_lock_seq: AtomicU32,
    /// `vma->detached`: set by `vma_mark_detached` once the VMA is (about to be) removed
    /// from the mm's tree, so that a fault that found it under RCU and locked it afterwards
    /// gives it up (`lock_vma_under_rcu`'s "Check if the VMA got isolated after we found it").
    /// Protected by: the VMA write lock (and `mmap_lock` write) to set; read under the VMA
    /// read lock.
    pub detached: AtomicBool,
}

impl Default for VmaLock {
    fn default() -> Self {
        Self::new()
    }
}

impl VmaLock {
    pub(crate) fn new() -> Self {
        VmaLock {
            lock: RwSem::new(LockClass::VmaLock, ()),
            vm_lock_seq: AtomicU32::new(VM_LOCK_SEQ_NONE),
            detached: AtomicBool::new(false),
        }
    }

    /// `vma_lock_alloc` (and `vma_init`'s zeroing of `detached`): a VMA slot being set up for
    /// a new VMA (`vm_area_alloc`, `vm_area_dup`) gets a fresh lock state. The slot is not
    /// reachable by any reader yet (it is in no tree), so plain stores do.
    pub fn vma_lock_alloc(&self) {
        self.vm_lock_seq.store(VM_LOCK_SEQ_NONE, Ordering::SeqCst);
        self.detached.store(false, Ordering::SeqCst);
    }
}
