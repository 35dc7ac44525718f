//! `vma_merge` and its tests of compatibility (mm/mmap.c, 5.19 / 6.0): `is_mergeable_vma`,
//! `is_mergeable_anon_vma`, `can_vma_merge_before` / `can_vma_merge_after`.
//!
//! mm/mmap.c's table of cases, for a request `AAAA` over `[addr, end)` between `prev` (`P`)
//! and `next` (`N`):
//!
//! ```text
//!     AAAA             AAAA                   AAAA
//!    PPPPPPNNNNNN    PPPPPPNNNNNN       PPPPPPNNNNNN
//!    cannot merge    might become       might become
//!                    PPNNNNNNNNNN       PPPPPPPPPPNN
//!    mmap, brk or    case 4 below       case 5 below
//!    mremap move:
//!                        AAAA               AAAA
//!                    PPPP    NNNN       PPPPNNNNXXXX
//!                    might become       might become
//!                    PPPPPPPPPPPP 1 or  PPPPPPPPPPPP 6 or
//!                    PPPPPPPPNNNN 2 or  PPPPPPPPXXXX 7 or
//!                    PPPPNNNNNNNN 3     PPPPXXXXXXXX 8
//! ```
//!
//! All eight are reached through [`vma_merge`] and [`__vma_adjust`]; the model's callers
//! (mprotect) reach 4 to 8 — 1 to 3 are a request over a hole (mmap, brk, mremap), which the
//! model's `mmap` does not merge (every `mmap_region` makes a VMA of its own). Left out of
//! the tests of compatibility: mempolicy (`mpol_equal`), `vm_userfaultfd_ctx`, `anon_vma_name`,
//! `vm_ops->close`, VM_SOFTDIRTY — the model has none of them.

use crate::mm::mm_struct::MmMap;
use crate::mm::vma::vm;
use crate::mm::{AnonVmaId, FileId, VmaId, World};
use crate::ops::Error;
use crate::ops::vma_adjust::{__vma_adjust, vma_next};
use crate::sync::{Ordering, RwSemWriteGuard};

/// `VM_SPECIAL` (`VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP`): never merged. The model
/// has VM_IO of these (mlock sets it temporarily); hugetlb VMAs are kept out as well (the
/// model has no hugetlb mprotect).
const VM_SPECIAL: u32 = vm::IO | vm::HUGETLB;

/// `is_mergeable_vma`: same flags, same file.
pub fn is_mergeable_vma(w: &World, vma: VmaId, vm_flags: u32, file: Option<FileId>) -> bool {
    let v = w.vmas.get(vma);
    v.flags.load(Ordering::SeqCst) == vm_flags && v.info.get().file == file
}

/// `is_mergeable_anon_vma(anon_vma1, anon_vma2, vma)` as 5.19 / 6.0 have it (unchanged by
/// 2555283eb40d, which fixed what it relies on):
///
/// ```c
/// /*
///  * The list_is_singular() test is to avoid merging VMA cloned from
///  * parents. This can improve scalability caused by anon_vma lock.
///  */
/// if ((!anon_vma1 || !anon_vma2) && (!vma ||
///     list_is_singular(&vma->anon_vma_chain)))
///         return 1;
/// return anon_vma1 == anon_vma2;
/// ```
///
/// Two VMAs with the same `->anon_vma` are taken to have the same chain: nothing else is
/// compared, and the merge that follows tears down the removed VMA's chain.
pub fn is_mergeable_anon_vma(
    w: &World,
    anon_vma1: Option<AnonVmaId>,
    anon_vma2: Option<AnonVmaId>,
    vma: Option<VmaId>,
) -> bool {
    if (anon_vma1.is_none() || anon_vma2.is_none())
        && vma.is_none_or(|v| w.vmas.get(v).chain().len() == 1)
    {
        return true;
    }
    anon_vma1 == anon_vma2
}

/// `can_vma_merge_before(vma, vm_flags, anon_vma, file, vm_pgoff)`: may a range ending where
/// `vma` starts, at `vm_pgoff` there, join `vma`?
pub fn can_vma_merge_before(
    w: &World,
    vma: VmaId,
    vm_flags: u32,
    anon_vma: Option<AnonVmaId>,
    file: Option<FileId>,
    vm_pgoff: u64,
) -> bool {
    is_mergeable_vma(w, vma, vm_flags, file)
        && is_mergeable_anon_vma(w, anon_vma, w.vmas.get(vma).anon_vma(), Some(vma))
        && w.vmas.get(vma).info.get().pgoff == vm_pgoff
}

/// `can_vma_merge_after(vma, vm_flags, anon_vma, file, vm_pgoff)`: may a range starting where
/// `vma` ends, at `vm_pgoff`, join `vma`?
pub fn can_vma_merge_after(
    w: &World,
    vma: VmaId,
    vm_flags: u32,
    anon_vma: Option<AnonVmaId>,
    file: Option<FileId>,
    vm_pgoff: u64,
) -> bool {
    let i = w.vmas.get(vma).info.get();
    is_mergeable_vma(w, vma, vm_flags, file)
        && is_mergeable_anon_vma(w, anon_vma, w.vmas.get(vma).anon_vma(), Some(vma))
        && i.pgoff + (i.end - i.start) == vm_pgoff
}

/// `vma_merge(mm, prev, addr, end, vm_flags, anon_vma, file, pgoff, ...)` (5.19 / 6.0): can
/// `[addr, end)` with these properties join `prev` (before it) and/or the VMA after it? If
/// so, `__vma_adjust` does it and the VMA that now covers the range is returned; `None` if
/// nothing merges. The caller holds `mmap_lock` for write (`map`).
#[allow(clippy::too_many_arguments)]
pub fn vma_merge(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    prev: Option<VmaId>,
    addr: u64,
    end: u64,
    vm_flags: u32,
    anon_vma: Option<AnonVmaId>,
    file: Option<FileId>,
    pgoff: u64,
) -> Result<Option<VmaId>, Error> {
    let pglen = end - addr;
    // We later require that vma->vm_flags == vm_flags, so this tests vma->vm_flags & VM_SPECIAL, too.
    if vm_flags & VM_SPECIAL != 0 {
        return Ok(None);
    }
    let mut next = match prev {
        Some(p) => vma_next(w, map, p),
        None => map
            .vmas
            .iter()
            .copied()
            .min_by_key(|&v| w.vmas.get(v).info.get().start),
    };
    let area = next;
    if let Some(a) = area
        && w.vmas.get(a).info.get().end == end
    {
        // cases 6, 7, 8
        next = vma_next(w, map, a);
    }
    let starts = |v: VmaId| w.vmas.get(v).info.get().start;
    // Can it merge with the predecessor?
    if let Some(p) = prev
        && w.vmas.get(p).info.get().end == addr
        && can_vma_merge_after(w, p, vm_flags, anon_vma, file, pgoff)
    {
        let pi = w.vmas.get(p).info.get();
        // OK, it can. Can we now merge in the successor as well?
        let new_end = match next {
            Some(n)
                if end == starts(n)
                    && can_vma_merge_before(w, n, vm_flags, anon_vma, file, pgoff + pglen)
                    && is_mergeable_anon_vma(
                        w,
                        w.vmas.get(p).anon_vma(),
                        w.vmas.get(n).anon_vma(),
                        None,
                    ) =>
            {
                // cases 1, 6
                w.vmas.get(n).info.get().end
            }
            // cases 2, 5, 7
            _ => end,
        };
        // `if (err) return NULL;`: an `anon_vma_clone` that failed (-ENOMEM) leaves the
        // VMAs as they were, and the caller goes on without merging.
        if __vma_adjust(w, map, p, pi.start, new_end, pi.pgoff, None, Some(p)).is_err() {
            w.trace("vma_merge", p, "-ENOMEM: not merged");
            return Ok(None);
        }
        w.trace("vma_merge", p, "with prev");
        return Ok(Some(p));
    }
    // Can this new request be merged in front of next?
    if let Some(n) = next
        && end == starts(n)
        && can_vma_merge_before(w, n, vm_flags, anon_vma, file, pgoff + pglen)
    {
        let ni = w.vmas.get(n).info.get();
        match prev {
            Some(p) if addr < w.vmas.get(p).info.get().end => {
                // case 4
                let pi = w.vmas.get(p).info.get();
                if __vma_adjust(w, map, p, pi.start, addr, pi.pgoff, None, Some(n)).is_err() {
                    return Ok(None);
                }
            }
            _ => {
                // cases 3, 8: in case 3 area is already equal to next and this is a noop, but
                // in case 8 "area" has been removed and next was expanded over it.
                let a = area.expect("next exists, so area does");
                if __vma_adjust(w, map, a, addr, ni.end, ni.pgoff - pglen, None, Some(n)).is_err() {
                    return Ok(None);
                }
            }
        }
        w.trace("vma_merge", n, "with next");
        return Ok(Some(n));
    }
    Ok(None)
}
