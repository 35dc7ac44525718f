//! Creating address spaces and mappings: `mm_alloc`, `mmap_region` (linking into `i_mmap`
//! under `i_mmap_rwsem` write). `anon_vma_prepare` lives with the rest of the anon_vma
//! family's life in [`crate::ops::anon_vma`], re-exported here for its callers.

use crate::mm::vma::vm;
use crate::mm::{FileId, MmId, VmaId, VmaInfo, World};
use crate::ops::Error;
use crate::ops::vma_lock::{mmap_write_unlock, vma_start_write};
use crate::sync::Ordering;

pub use crate::ops::anon_vma::anon_vma_prepare;

/// What to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// Private anonymous memory.
    Anon,
    /// A file: `shared` (MAP_SHARED) or private (MAP_PRIVATE, copy-on-write).
    File {
        /// The file.
        file: FileId,
        /// The file page mapped at the start.
        pgoff: u64,
        /// MAP_SHARED.
        shared: bool,
    },
}

/// `mm_alloc`: a new, empty address space.
pub fn mm_alloc(w: &World) -> Result<MmId, Error> {
    let (id, mm) = w.mms.alloc().ok_or(Error::Oom)?;
    mm.tlb_flush_pending.store(0, Ordering::SeqCst);
    mm.rss.store(0, std::sync::atomic::Ordering::SeqCst);
    mm.cpus_ran.store(0, std::sync::atomic::Ordering::SeqCst);
    mm.oom_flags.store(0, std::sync::atomic::Ordering::SeqCst);
    mm.mm_count.store(1, std::sync::atomic::Ordering::SeqCst);
    mm.munlock_walk
        .store(0, std::sync::atomic::Ordering::SeqCst);
    for p in &mm.pmd {
        p.store(0, Ordering::SeqCst);
    }
    w.trace("mm_alloc", id, "");
    Ok(id)
}

/// `mmgrab` (include/linux/sched/mm.h): one more reference on the `struct mm_struct` itself
/// (`mm_count`), as the OOM killer takes on its victim's mm (`mark_oom_victim`) so that the
/// reaper may look at it after `exit_mmap`.
pub fn mmgrab(w: &World, mm_id: MmId) {
    w.mms
        .get(mm_id)
        .mm_count
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// `mmdrop` (kernel/fork.c): drop a reference on the mm struct; the last one frees it
/// (`__mmdrop`). The oracles forget it with it (its faults in flight and returned unmaps),
/// so no exit path has to.
pub fn mmdrop(w: &World, mm_id: MmId) {
    let prev = w
        .mms
        .get(mm_id)
        .mm_count
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    if prev != 1 {
        return;
    }
    w.unmaps.lock().forget(mm_id);
    w.mms.free(mm_id);
}

/// `vm_area_free` (kernel/fork.c): free a VMA that nothing can reach any more (detached,
/// zapped, unlinked from the rmap trees). Its anonymous memory (private COW copies included)
/// goes with it, so the lost-store oracle stops expecting the stores made to it: that belongs
/// to the VMA's lifetime, not to the munmap or exit path that ends it. The slot itself is
/// freed after an RCU grace period ([`vm_area_free_rcu`]).
pub fn vm_area_free(w: &World, vma_id: VmaId) {
    let info = w.vmas.get(vma_id).info.get();
    w.forget_anon_stores(info.mm, info.start, info.end);
    vm_area_free_rcu(w, vma_id);
}

/// `__vm_area_free` through `call_rcu(&vma->vm_rcu, vm_area_free_rcu_cb)` (kernel/fork.c,
/// `CONFIG_PER_VMA_LOCK`, 6.4): a fault may have found the VMA in the tree under
/// `rcu_read_lock` (`lock_vma_under_rcu`) just before it was removed, and may still be
/// looking at it; its memory may be reused only once every such reader has left. Also for a
/// VMA a merge removed (`vma_merge`'s `remove_vma`), whose memory stays mapped by the merged
/// VMA (no store is forgotten).
///
/// Simplification: the model waits for the grace period in place (`synchronize_rcu`) instead
/// of queueing a callback; the freer holds only sleeping locks (`mmap_lock`), never an RCU
/// read section, so it may.
pub fn vm_area_free_rcu(w: &World, vma_id: VmaId) {
    w.rcu.synchronize();
    w.vmas.free(vma_id);
}

/// `mmap_region`: map `[start, start + pages)` of `mm`, writable. Takes `mmap_lock` for write
/// and, for a file, `i_mmap_rwsem` for write to link the VMA (`vma_link` → `__vma_link_file`).
pub fn mmap(w: &World, mm_id: MmId, start: u64, pages: u64, kind: MapKind) -> Result<VmaId, Error> {
    let mm = w.mms.get(mm_id);
    let end = start + pages;
    if pages == 0 || end > (w.cfg.pmds_per_mm * w.cfg.ptes_per_table) as u64 {
        return Err(Error::Inval);
    }
    let mut map = mm.mmap_lock.write();
    if map.vmas.iter().any(|&v| {
        let i = w.vmas.get(v).info.get();
        i.start < end && start < i.end
    }) {
        return Err(Error::Inval);
    }
    let (id, vma) = w.vmas.alloc().ok_or(Error::Oom)?;
    vma.vm_lock.vma_lock_alloc();
    let (file, pgoff, shared) = match kind {
        MapKind::Anon => (None, start, false),
        MapKind::File {
            file,
            pgoff,
            shared,
        } => (Some(file), pgoff, shared),
    };
    vma.info.set(VmaInfo {
        mm: mm_id,
        start,
        end,
        file,
        pgoff,
    });
    let mut flags = vm::READ | vm::WRITE | vm::MAYREAD | vm::MAYWRITE;
    if shared {
        flags |= vm::SHARED | vm::MAYSHARE;
    }
    if file.is_some_and(|f| w.files.get(f).hugetlb) {
        flags |= vm::HUGETLB;
    }
    vma.flags.store(flags, Ordering::SeqCst);
    vma.anon_vma.store(0, Ordering::SeqCst);
    vma.chain_clear();
    // vma_link: vma_start_write(vma) before it becomes visible — "mm: lock newly mapped VMA
    // which can be modified after it becomes visible" (33313a747e81, 6.5-rc1, in 6.4.y).
    vma_start_write(w, &map, id);
    if let Some(f) = file {
        w.files.get(f).i_mmap.write().vmas.push(id);
    }
    map.vma_iter_store(mm, id);
    w.trace(
        "mmap_region",
        id,
        format_args!(
            "{mm_id} {:#x}-{:#x}{}",
            start << 12,
            end << 12,
            if shared { " shared" } else { "" }
        ),
    );
    mmap_write_unlock(w, mm_id, map);
    Ok(id)
}
