//! `mm->mm_mt`, the mm's maple tree of VMAs, as far as the lockless fault path reads it: an
//! RCU-readable index a fault walks without `mmap_lock` (`mas_walk` under `rcu_read_lock`,
//! in `lock_vma_under_rcu`), written only by paths that hold `mmap_lock` for write.
//!
//! Simplification: the index is a fixed array of slots, one per VMA slot of the world, each
//! holding a VMA id (or nothing) as one atomic word — a store or an erase is one atomic
//! update, the way a maple tree's RCU mode publishes a new node with one pointer store — and
//! `mas_walk` is a scan of the slots for a VMA whose `vm_start..vm_end` contains the address.
//! The kernel's tree keeps its own copy of each range; the model reads the VMA's bounds
//! (`vma->vm_start` / `vm_end`), which the fault re-checks under the VMA lock anyway, exactly
//! as `lock_vma_under_rcu` does ("Check since vm_start/vm_end might change before we lock the
//! VMA"). The mmap_lock side of the tree — what `find_vma` walks under `mmap_lock` — is
//! [`super::mm_struct::MmMap::vmas`]; [`super::mm_struct::MmMap`]'s `vma_iter_store` /
//! `vma_iter_clear` keep both in step.
//!
//! VMAs removed from the index are freed only after an RCU grace period
//! (`vm_area_free` → `call_rcu(&vma->vm_rcu, vm_area_free_rcu_cb)` under
//! `CONFIG_PER_VMA_LOCK`, 6.4): a fault that found a VMA here reads it safely until its
//! `rcu_read_unlock`, and re-validates it after `vma_start_read` (range, `detached`).

use super::arena::{Arena, Id};
use super::ids::{VmaId, VmaKind};
use super::vma::Vma;
use crate::sync::observer::{AtomicU64, Ordering};
use crate::sync::rcu::RcuReadGuard;

/// The RCU-readable VMA index of one mm.
#[derive(Debug)]
pub struct MmMt {
    /// Packed `VmaId` + 1 (0 = empty), in no particular order. Observer atomics: a walk runs
    /// right after the loom operation of its `rcu_read_lock`, an update under `mmap_lock`
    /// held for write (see `crate::mm::vma_lock::VmaLock`).
    /// Protected by: `mmap_lock` for write to change (`vma_iter_store`, `vma_iter_clear`);
    /// read locklessly under `rcu_read_lock` (`mas_walk`).
    slots: Vec<AtomicU64>,
}

impl MmMt {
    pub(crate) fn new(capacity: usize) -> Self {
        MmMt {
            slots: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Publish `vma` (the caller holds `mmap_lock` for write; see `MmMap::vma_iter_store`).
    pub(crate) fn store(&self, vma: VmaId) {
        if self.position(vma).is_some() {
            return;
        }
        let free = self
            .slots
            .iter()
            .find(|s| s.load(Ordering::SeqCst) == 0)
            .expect("an mm cannot hold more VMAs than the world has slots");
        free.store(vma.pack() + 1, Ordering::SeqCst);
    }

    /// Unpublish `vma` (the caller holds `mmap_lock` for write).
    pub(crate) fn erase(&self, vma: VmaId) {
        if let Some(i) = self.position(vma) {
            self.slots[i].store(0, Ordering::SeqCst);
        }
    }

    /// Unpublish everything (`__mt_destroy` in `exit_mmap`).
    pub(crate) fn clear(&self) {
        for s in &self.slots {
            s.store(0, Ordering::SeqCst);
        }
    }

    fn position(&self, vma: VmaId) -> Option<usize> {
        let packed = vma.pack() + 1;
        self.slots
            .iter()
            .position(|s| s.load(Ordering::SeqCst) == packed)
    }

    /// `mas_walk(&mas)` at `va` under `rcu_read_lock` (`_rcu`): the VMA the index maps `va`
    /// to, if any. Every id read here is live (freeing waits for the grace period); a stale
    /// one is reported by the arena as a use-after-free.
    pub fn mas_walk(
        &self,
        vmas: &Arena<VmaKind, Vma>,
        va: u64,
        _rcu: &RcuReadGuard<'_>,
    ) -> Option<VmaId> {
        self.slots
            .iter()
            .find_map(|s| match s.load(Ordering::SeqCst) {
                0 => None,
                v => {
                    let id: VmaId = Id::unpack(v - 1);
                    vmas.get(id).info.get().contains(va).then_some(id)
                }
            })
    }
}
