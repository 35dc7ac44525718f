//! exec's stack move (fs/exec.c, 2.6.35 shape; `relocate_vma_down` in mm/ since 6.11): the
//! argument pages are copied into a temporary stack VMA at the top of the address space
//! (`__bprm_mm_init`), and once the binary format knows where the stack belongs,
//! `setup_arg_pages` → `shift_arg_pages` moves the VMA and its page tables down there.
//!
//! Locks, in the kernel's order: `mmap_lock` for write over the whole of `setup_arg_pages`;
//! `vma_adjust` (the model's [`__vma_adjust`]) takes the anon_vma root rwsem for write around
//! each change of `vm_start` / `vm_end`; `move_page_tables` the PTLs (and, for a whole-table
//! move, the rmap locks since 97113eb39fa7); `free_pgd_range` no lock (`mmap_lock` write).
//!
//! `shift_arg_pages(vma, shift)`:
//!
//! ```text
//! vma_adjust(vma, new_start, old_end, vm_pgoff)     "cover the whole range"
//! move_page_tables(vma, old_start, vma, new_start, length)
//! tlb_gather_mmu; free_pgd_range(the old range's tables); tlb_finish_mmu
//! vma_adjust(vma, new_start, new_end, vm_pgoff)     "shrink the vma to just the new range"
//! ```
//!
//! `vm_pgoff` stays: from the first `vma_adjust` on, `vma_address(page, vma)` — the rmap
//! walkers' arithmetic, read under the anon_vma lock — names each page's *new* address, while
//! its PTE stays at the old one until `move_page_tables` carries it down, under no rmap lock
//! for a PTE-level move. A walk in that window looks where nothing is mapped. For migration
//! that is fatal: `remove_migration_ptes` misses the migration entry `try_to_migrate` put at
//! the old address, the move carries it to the new one, and it outlives the migration (the
//! 2.6.34 report: `kernel BUG at include/linux/swapops.h:105`, `migration_entry_wait` from
//! `load_elf_binary`). a8bef8ff6ea1 keeps migration off the stack instead of locking exec
//! harder: `__bprm_mm_init` and `setup_arg_pages` mark the VMA `VM_STACK_INCOMPLETE_SETUP`
//! until the move is done, and `try_to_migrate` skips such a VMA
//! ([`crate::ops::ttu::invalid_migration_vma`], the table's `rmap.invalid_migration_vma`).
//!
//! Simplifications: no `bprm` (no `copy_strings`, `bprm->p`, `arg_start`), no
//! `arch_align_stack` / randomisation (the caller gives the shift), no `mprotect_fixup` of the
//! stack's flags (they are set once, at [`bprm_mm_init`]), no `expand_stack` after the move,
//! no `VM_GROWSUP` architecture; the stack VMA must be the mm's only VMA below its old end (as
//! at exec, `find_vma(mm, new_start) == vma`).

use crate::mm::mm_struct::MmMap;
use crate::mm::vma::vm;
use crate::mm::{MmId, VmaId, World};
use crate::ops::Error;
use crate::ops::fault::find_vma;
use crate::ops::mmap::{MapKind, mmap};
use crate::ops::mremap::MoveControl;
use crate::ops::vma_adjust::{__vma_adjust, vma_next};
use crate::ops::vma_lock::mmap_write_unlock;
use crate::race_window;
use crate::sync::{Ordering, RwSemWriteGuard};

/// `__bprm_mm_init`: the temporary stack — an anonymous VMA of `pages` pages at `start`
/// (`STACK_TOP_MAX` in the kernel), flags `VM_STACK_FLAGS | VM_STACK_INCOMPLETE_SETUP`
/// (a8bef8ff6ea1; `VM_GROWSDOWN` stands for `VM_STACK_FLAGS`).
pub fn bprm_mm_init(w: &World, mm: MmId, start: u64, pages: u64) -> Result<VmaId, Error> {
    let vma = mmap(w, mm, start, pages, MapKind::Anon)?;
    let map = w.mms.get(mm).mmap_lock.write();
    w.vmas
        .get(vma)
        .flags
        .fetch_or(vm::GROWSDOWN | vm::STACK_INCOMPLETE_SETUP, Ordering::SeqCst);
    mmap_write_unlock(w, mm, map);
    w.trace("__bprm_mm_init", vma, "VM_STACK_INCOMPLETE_SETUP");
    Ok(vma)
}

/// `setup_arg_pages(bprm, stack_top, ..)` with the shift already computed
/// (`stack_shift = vma->vm_end - stack_top`): `mmap_write_lock`; `shift_arg_pages` if the
/// stack moves; "mprotect_fixup is overkill to remove the temporary stack flags" —
/// `vma->vm_flags &= ~VM_STACK_INCOMPLETE_SETUP`; `mmap_write_unlock`.
pub fn setup_arg_pages(w: &World, mm_id: MmId, vma: VmaId, stack_shift: u64) -> Result<(), Error> {
    let mut map = w.mms.get(mm_id).mmap_lock.write();
    let ret = if stack_shift != 0 {
        shift_arg_pages(w, &mut map, vma, stack_shift)
    } else {
        Ok(())
    };
    if ret.is_ok() {
        w.vmas
            .get(vma)
            .flags
            .fetch_and(!vm::STACK_INCOMPLETE_SETUP, Ordering::SeqCst);
        w.trace("setup_arg_pages", vma, "~VM_STACK_INCOMPLETE_SETUP");
    }
    mmap_write_unlock(w, mm_id, map);
    ret
}

/// `shift_arg_pages(vma, shift)` (fs/exec.c, 2.6.35), under `mmap_lock` write (`map`): grow
/// the VMA down over the new range, move its page tables there, free the old range's tables,
/// shrink the VMA to the new range (module docs).
pub fn shift_arg_pages(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    vma: VmaId,
    shift: u64,
) -> Result<(), Error> {
    let info = w.vmas.get(vma).info.get();
    let mm_id = info.mm;
    let (old_start, old_end) = (info.start, info.end);
    let length = old_end - old_start;
    let new_start = old_start.checked_sub(shift).ok_or(Error::Inval)?;
    let new_end = old_end - shift;
    // ensure there are no vmas between where we want to go and where we are
    if find_vma_from(w, map, new_start) != Some(vma) {
        return Err(Error::Segv); // -EFAULT
    }
    // cover the whole range: [new_start, old_end)
    __vma_adjust(w, map, vma, new_start, old_end, info.pgoff, None, None)?;
    race_window!("shift_arg_pages: vma covers old and new, page tables not yet moved");
    // move the page tables downwards, on failure we rely on process cleanup to remove
    // whatever mess we made.
    let pmc = MoveControl {
        old: vma,
        new: vma,
        old_addr: old_start,
        new_addr: new_start,
        len: length,
        need_rmap_locks: false,
    };
    if (w.kernel.mremap.move_page_tables)(w, &pmc) != length {
        return Err(Error::Oom);
    }
    // The lost-store oracle follows the memory to its new addresses.
    w.move_anon_stores(mm_id, old_start, old_end, new_start);
    let ceiling = vma_next(w, map, vma).map(|n| w.vmas.get(n).info.get().start);
    let mut tlb = (w.kernel.tlb.tlb_gather_mmu)(w, mm_id, false);
    if new_end > old_start {
        // when the old and new regions overlap clear from new_end.
        free_pgd_range(w, &mut tlb, new_end, old_end, new_end, ceiling);
    } else {
        // otherwise, clean from old_start
        free_pgd_range(w, &mut tlb, old_start, old_end, new_end, ceiling);
    }
    (w.kernel.tlb.tlb_finish_mmu)(w, tlb);
    // Shrink the vma to just the new range. Always succeeds.
    __vma_adjust(w, map, vma, new_start, new_end, info.pgoff, None, None)?;
    w.trace(
        "shift_arg_pages",
        vma,
        format_args!("{:#x} -> {:#x}", old_start << 12, new_start << 12),
    );
    Ok(())
}

/// `find_vma(mm, addr)`: the first VMA ending above `addr` (not only one containing it).
fn find_vma_from(w: &World, map: &MmMap, addr: u64) -> Option<VmaId> {
    find_vma(w, &map.vmas, addr).or_else(|| {
        map.vmas
            .iter()
            .copied()
            .filter(|&v| w.vmas.get(v).info.get().end > addr)
            .min_by_key(|&v| w.vmas.get(v).info.get().start)
    })
}

/// `free_pgd_range(tlb, addr, end, floor, ceiling)` at the PTE-table level: queue on the
/// gather every PTE table of `[addr, end)` that lies wholly inside `[floor, ceiling)`
/// (`ceiling` `None`: `USER_PGTABLES_CEILING`), its PMD entry cleared. No lock: `mmap_lock`
/// write, and no VMA covers the range's tables any more once the caller shrinks the VMA.
fn free_pgd_range(
    w: &World,
    tlb: &mut crate::mm::MmuGather,
    addr: u64,
    end: u64,
    floor: u64,
    ceiling: Option<u64>,
) {
    let per = w.cfg.ptes_per_table as u64;
    let mm = w.mms.get(tlb.mm);
    for slot in (addr / per)..end.div_ceil(per) {
        let (lo, hi) = (slot * per, (slot + 1) * per);
        if lo < floor || ceiling.is_some_and(|c| hi > c) {
            continue;
        }
        let Some(tid) = mm.pmd_table(slot as usize) else {
            continue;
        };
        mm.pmd[slot as usize].store(0, Ordering::SeqCst);
        tlb.pte_free_tlb(tid, lo);
        w.trace("free_pgd_range", tid, format_args!("slot {slot}"));
    }
}
