//! `__split_vma` (mm/mmap.c, 5.19 / 6.0): cut a VMA in two at `addr`.
//!
//! The new half is a copy of the VMA (`vm_area_dup`) with its own bounds, linked into every
//! anon_vma of the VMA's chain (`anon_vma_clone`, under each family root's rwsem for write —
//! it keeps the VMA's `->anon_vma`, so no anon_vma is reused, and that one counts one more
//! active VMA), then `__vma_adjust` shrinks the VMA and inserts the new half into the file's
//! `i_mmap` and the mm under `mmap_lock` + the rmap locks, all for write.
//!
//! Simplifications: no `vma_dup_policy`, no `vm_ops->open` / `get_file`, no
//! `sysctl_max_map_count` check, no hugetlb alignment (`vm_ops->may_split`: mprotect refuses
//! hugetlb VMAs here).

use crate::mm::mm_struct::MmMap;
use crate::mm::{VmaId, World};
use crate::ops::Error;
use crate::ops::anon_vma::unlink_anon_vmas;
use crate::ops::vma_adjust::__vma_adjust;
use crate::sync::{Ordering, RwSemWriteGuard};

/// `__split_vma(mm, vma, addr, new_below)`: the new VMA is `[vma->vm_start, addr)` if
/// `new_below`, else `[addr, vma->vm_end)`; `vma` keeps the other part. Returns the new VMA.
pub fn __split_vma(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    vma: VmaId,
    addr: u64,
    new_below: bool,
) -> Result<VmaId, Error> {
    let v = w.vmas.get(vma);
    let info = v.info.get();
    if addr <= info.start || addr >= info.end {
        return Err(Error::Inval);
    }
    // vm_area_dup: a copy with an empty anon_vma_chain (INIT_LIST_HEAD), unreachable yet.
    let (new, n) = w.vmas.alloc().ok_or(Error::Oom)?;
    n.vm_lock.vma_lock_alloc();
    let mut ninfo = info;
    if new_below {
        ninfo.end = addr;
    } else {
        ninfo.start = addr;
        ninfo.pgoff += addr - info.start;
    }
    n.info.set(ninfo);
    n.flags
        .store(v.flags.load(Ordering::SeqCst), Ordering::SeqCst);
    n.set_anon_vma(v.anon_vma());
    n.chain_clear();
    w.trace("vm_area_dup", new, vma);
    if let Err(e) = (w.kernel.anon_vma.anon_vma_clone)(w, new, vma) {
        n.set_anon_vma(None);
        unlink_anon_vmas(w, new);
        w.vmas.free(new);
        return Err(e);
    }
    if new_below {
        __vma_adjust(
            w,
            map,
            vma,
            addr,
            info.end,
            info.pgoff + (addr - ninfo.start),
            Some(new),
            None,
        )?;
    } else {
        __vma_adjust(w, map, vma, info.start, addr, info.pgoff, Some(new), None)?;
    }
    w.trace(
        "__split_vma",
        vma,
        format_args!("at {:#x}, new {new}", addr << 12),
    );
    Ok(new)
}
