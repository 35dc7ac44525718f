//! Creating address spaces and mappings: `mm_alloc`, `mmap_region` (linking into `i_mmap`
//! under `i_mmap_rwsem` write), and `anon_vma_prepare`.

use crate::mm::vma::vm;
use crate::mm::{FileId, MmId, VmaId, VmaInfo, World};
use crate::ops::Error;
use crate::sync::Ordering;

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
    for p in &mm.pmd {
        p.store(0, Ordering::SeqCst);
    }
    w.trace("mm_alloc", id, "");
    Ok(id)
}

/// `mmdrop` (`__mmdrop`, kernel/fork.c): free the mm. The oracles forget it with it (its
/// faults in flight and returned unmaps), so no exit path has to.
pub fn mmdrop(w: &World, mm_id: MmId) {
    w.unmaps.lock().forget(mm_id);
    w.mms.free(mm_id);
}

/// `vm_area_free` (kernel/fork.c): free a VMA that nothing can reach any more (detached,
/// zapped, unlinked from the rmap trees). Its anonymous memory (private COW copies included)
/// goes with it, so the lost-store oracle stops expecting the stores made to it: that belongs
/// to the VMA's lifetime, not to the munmap or exit path that ends it.
pub fn vm_area_free(w: &World, vma_id: VmaId) {
    let info = w.vmas.get(vma_id).info.get();
    w.forget_anon_stores(info.mm, info.start, info.end);
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
    if let Some(f) = file {
        w.files.get(f).i_mmap.write().vmas.push(id);
    }
    map.vmas.push(id);
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
    Ok(id)
}

/// `__anon_vma_prepare`: give `vma` an anon_vma if it has none. Allocates one
/// (`anon_vma_alloc`: refcount 1, root itself), takes its rwsem for write, then
/// `mm->page_table_lock`, as the kernel does, and re-checks `vma->anon_vma` under them.
///
/// A preparer that lost the race (another fault installed an anon_vma meanwhile) drops its
/// allocation with `put_anon_vma`, as mm/rmap.c does (`put_anon_vma(allocated)`), never with a
/// direct free: the slot is `SLAB_TYPESAFE_BY_RCU` memory, and a reader holding a stale
/// `page->mapping` into it may have pinned it with `atomic_inc_not_zero` meanwhile
/// (`page_get_anon_vma`, `page_lock_anon_vma_read`); the last of the two puts frees it.
///
/// ```text
/// __anon_vma_prepare (lost the race)      page_get_anon_vma (stale page->mapping)
/// anon_vma_alloc: slot S, refcount 1
///                                         atomic_inc_not_zero(S): 2
/// vma->anon_vma already set
/// put_anon_vma(S): 1
///                                         page_mapped: no -> put_anon_vma(S): 0, freed
/// ```
pub fn anon_vma_prepare(w: &World, vma_id: VmaId) -> Result<(), Error> {
    let vma = w.vmas.get(vma_id);
    if vma.anon_vma().is_some() {
        return Ok(());
    }
    let (av_id, av) = w.anon_vmas.alloc().ok_or(Error::Oom)?;
    av.root.set(av_id);
    av.refcount.store(1, Ordering::SeqCst);
    // The slot and its generation: a reused slot shows here.
    w.trace(
        "anon_vma_alloc",
        av_id,
        format_args!("gen {}", av_id.generation),
    );
    let installed = {
        let mut tree = av.rwsem.write();
        let mm = w.mms.get(vma.info.get().mm);
        let _ptl = mm.page_table_lock.lock();
        if vma.anon_vma().is_none() {
            vma.anon_vma.store(av_id.pack() + 1, Ordering::SeqCst);
            tree.vmas.clear();
            tree.vmas.push(vma_id);
            true
        } else {
            false
        }
    };
    if installed {
        w.trace("anon_vma_prepare", vma_id, av_id);
    } else {
        w.trace("anon_vma_prepare: lost the race", vma_id, av_id);
        crate::ops::pgtable::put_anon_vma(w, av_id);
    }
    Ok(())
}
