//! `mprotect` (mm/mprotect.c, 5.19 / 6.0 shape): `do_mprotect_pkey` → per VMA
//! `mprotect_fixup` — `vma_merge` with the neighbours, or `__split_vma` at the range's ends —
//! then the new `vm_flags` and `change_protection` → `change_pmd_range` per PMD — a huge PMD
//! the range covers whole is changed by `change_huge_pmd` under the PMD lock, one it covers in
//! part is split first (`__split_huge_pmd`; the VMA split has already split one a new bound
//! cuts: `vma_adjust_trans_huge`) — and `change_pte_range` under each table's PTL, all under
//! `mmap_lock` held for write.
//!
//! TLB flush of the era: `change_protection_range` brackets the walk with
//! `inc_tlb_flush_pending` / `dec_tlb_flush_pending` and ends it with `flush_tlb_range` when
//! it changed a PTE (5.19 / 6.0; 4a18419f71cd "mm/mprotect: use mmu_gather" replaced
//! them with an mmu_gather later). The mmu-notifier
//! bracket (`MMU_NOTIFY_PROTECTION_VMA`, taken per PMD range by `change_pmd_range`) spans the
//! range here.
//!
//! Simplifications: `prot` is `PROT_READ` / `PROT_WRITE` only (no PROT_EXEC, pkeys,
//! `PROT_GROWSDOWN`, `VM_ACCOUNT` charging); making a range writable leaves its PTEs
//! write-protected — the next write faults and `do_wp_page` reuses or copies, the ≤5.18
//! behaviour for private memory (5.19's `can_change_pte_writable` upgrade of exclusive
//! anonymous PTEs is not modelled); no NUMA-hinting (`MM_CP_PROT_NUMA`), userfaultfd-wp or
//! soft-dirty; hugetlb VMAs are refused (`hugetlb_change_protection` is not modelled).

use crate::mm::mm_struct::MmMap;
use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{MmId, VmaId, World};
use crate::ops::Error;
use crate::ops::fault::find_vma;
use crate::ops::pgtable_generic::pte_offset_map_lock;
use crate::ops::pmd_lock::pmd_trans_huge_lock;
use crate::ops::split_vma::__split_vma;
use crate::ops::tlb_ubc;
use crate::ops::vma_adjust::{vma_next, vma_prev};
use crate::ops::vma_lock::{mmap_write_unlock, vma_start_write};
use crate::ops::vma_merge::vma_merge;
use crate::sync::{Ordering, RwSemWriteGuard};

/// The `vm_flags` bits `mprotect` sets from its `prot` (`calc_vm_prot_bits`).
pub const PROT_MASK: u32 = vm::READ | vm::WRITE;

/// `mprotect(start, end - start, prot)` (`do_mprotect_pkey`): `mmap_lock` for write; from the
/// VMA at `start`, each VMA up to `end` through `mprotect_fixup` with
/// `newflags = (vm_flags & ~(VM_READ | VM_WRITE)) | prot`. The range must be mapped without
/// holes (`-ENOMEM` in the kernel, [`Error::Inval`] here).
pub fn mprotect(w: &World, mm_id: MmId, start: u64, end: u64, prot: u32) -> Result<(), Error> {
    if start >= end || prot & !PROT_MASK != 0 {
        return Err(Error::Inval);
    }
    let mm = w.mms.get(mm_id);
    let mut map = mm.mmap_lock.write();
    let r = mprotect_locked(w, mm_id, &mut map, start, end, prot);
    mmap_write_unlock(w, mm_id, map);
    r
}

/// `do_mprotect_pkey`'s loop, under `mmap_lock` write (`map`).
fn mprotect_locked(
    w: &World,
    mm_id: MmId,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    start: u64,
    end: u64,
    prot: u32,
) -> Result<(), Error> {
    let mut vma = find_vma(w, &map.vmas, start).ok_or(Error::Inval)?;
    let mut prev = vma_prev(w, map, vma);
    if start > w.vmas.get(vma).info.get().start {
        prev = Some(vma);
    }
    w.trace(
        "do_mprotect_pkey",
        mm_id,
        format_args!("{:#x}-{:#x} prot {prot:#x}", start << 12, end << 12),
    );
    let mut nstart = start;
    loop {
        let v = w.vmas.get(vma);
        if v.has(vm::HUGETLB) {
            return Err(Error::Inval);
        }
        let newflags = (v.flags.load(Ordering::SeqCst) & !PROT_MASK) | prot;
        let tmp = v.info.get().end.min(end);
        mprotect_fixup(w, map, vma, &mut prev, nstart, tmp, newflags)?;
        nstart = tmp;
        if nstart >= end {
            return Ok(());
        }
        let p = prev.expect("mprotect_fixup sets prev");
        match vma_next(w, map, p) {
            Some(n) if w.vmas.get(n).info.get().start == nstart => vma = n,
            _ => return Err(Error::Inval),
        }
    }
}

/// `mprotect_fixup(vma, pprev, start, end, newflags)`: nothing if the flags do not change;
/// else `vma_merge` the range with its neighbours — or, if it merges with none, split `vma`
/// at `start` (`new_below`) and at `end` — then set `vm_flags` and `change_protection`.
/// `prev` becomes the VMA now covering the range.
pub fn mprotect_fixup(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    vma: VmaId,
    prev: &mut Option<VmaId>,
    start: u64,
    end: u64,
    newflags: u32,
) -> Result<(), Error> {
    let v = w.vmas.get(vma);
    let info = v.info.get();
    if v.flags.load(Ordering::SeqCst) == newflags {
        *prev = Some(vma);
        return Ok(());
    }
    let pgoff = info.pgoff + (start - info.start);
    let vma = match vma_merge(
        w,
        map,
        *prev,
        start,
        end,
        newflags,
        v.anon_vma(),
        info.file,
        pgoff,
    )? {
        Some(merged) => merged,
        None => {
            if start != info.start {
                __split_vma(w, map, vma, start, true)?;
            }
            if end != w.vmas.get(vma).info.get().end {
                __split_vma(w, map, vma, end, false)?;
            }
            vma
        }
    };
    *prev = Some(vma);
    // success: vm_flags_reset(vma, newflags) — 6.4/6.5's vm_flags_reset write-locks the VMA
    // first (vma_start_write), so no fault runs under the old flags from here on; then
    // vm_flags = newflags (WRITE_ONCE; readers under the PTL read it racily).
    vma_start_write(w, map, vma);
    w.vmas.get(vma).flags.store(newflags, Ordering::SeqCst);
    w.trace(
        "mprotect_fixup",
        vma,
        format_args!("vm_flags {newflags:#x}"),
    );
    change_protection(w, vma, start, end, newflags);
    Ok(())
}

/// `change_protection(vma, start, end, newprot, cp_flags)` → `change_protection_range`
/// (5.19 / 6.0): `inc_tlb_flush_pending`, the notifier bracket, every PTE table of the range
/// through `change_pte_range` under its PTL, then `flush_tlb_range` if a PTE changed, and
/// `dec_tlb_flush_pending`. Returns the number of PTEs changed.
pub fn change_protection(w: &World, vma: VmaId, start: u64, end: u64, newflags: u32) -> usize {
    let mm_id = w.vmas.get(vma).info.get().mm;
    let mm = w.mms.get(mm_id);
    mm.tlb_flush_pending.fetch_add(1, Ordering::SeqCst);
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, start, end);
    let per = w.cfg.ptes_per_table as u64;
    let mut pages = 0;
    let mut addr = start;
    while addr < end {
        let next = ((addr / per + 1) * per).min(end);
        pages += change_pmd_range(w, vma, addr, next, newflags);
        addr = next;
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    if pages > 0 {
        (w.kernel.tlb.flush_tlb_range)(w, mm_id, start, end);
    }
    mm.tlb_flush_pending.fetch_sub(1, Ordering::SeqCst);
    pages
}

/// One PMD's part of `change_pmd_range` (6.x), `[addr, next)` within one PMD: a huge or
/// migration PMD (`is_swap_pmd || pmd_trans_huge`, read without the lock) is split first if
/// the range does not cover all of it (`__split_huge_pmd`; the PTE path then runs on the
/// table the split made), else changed whole by [`change_huge_pmd_prot`] — and if that finds
/// the PMD no longer huge under its lock, the PTE path runs. The pages changed.
pub fn change_pmd_range(w: &World, vma: VmaId, addr: u64, next: u64, newflags: u32) -> usize {
    let mm_id = w.vmas.get(vma).info.get().mm;
    let per = w.cfg.ptes_per_table as u64;
    let (slot, _) = w.pte_slot(addr);
    let pmd = w.mms.get(mm_id).pmdp_get_lockless(slot);
    if pmd.is_swap_pmd() || pmd.is_trans_huge() {
        if next - addr != per {
            (w.kernel.thp.split_huge_pmd)(w, vma, addr);
            // fall through, the trans huge pmd just split
        } else {
            match change_huge_pmd_prot(w, vma, addr, newflags) {
                0 => {}
                1 => return 0,
                n => return n as usize,
            }
        }
    }
    change_pte_range(w, mm_id, addr, next, newflags)
}

/// `change_huge_pmd(tlb, vma, pmd, addr, newprot, cp_flags)` without `MM_CP_PROT_NUMA` (6.x,
/// mm/huge_memory.c: the NUMA half is [`crate::ops::huge_memory::change_huge_pmd`]), under
/// `__pmd_trans_huge_lock`: a writable PMD migration entry becomes a readable one
/// (`make_readable_migration_entry`); a huge PMD is rewritten with `pmdp_invalidate_ad`
/// (never `pmd_none` in between: ced108037c2a) and `pmd_modify(oldpmd, newprot)`, then
/// `set_pmd_at`. Returns 0 if the PMD was not huge under the lock, 1 if nothing needed
/// changing, `HPAGE_PMD_NR` if the protection changed (the caller flushes).
///
/// As for PTEs ([`change_pte_range`]), only the write bit is modelled: without VM_WRITE the
/// PMD loses it; with VM_WRITE nothing changes (no `MM_CP_TRY_CHANGE_WRITABLE` upgrade) and
/// the lock is not taken. `pmdp_invalidate_ad`'s flush is the model's `pmdp_invalidate`'s own
/// (the kernel batches it into the caller's range flush).
pub fn change_huge_pmd_prot(w: &World, vma: VmaId, addr: u64, newflags: u32) -> u64 {
    if newflags & vm::WRITE != 0 {
        return 1;
    }
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(addr);
    let Some(pmd) = pmd_trans_huge_lock(w, mm, slot) else {
        return 0;
    };
    match pmd.get() {
        Pmd::Migration { pfn, write: true } => {
            pmd.set_pmd_at(Pmd::Migration { pfn, write: false });
            1
        }
        // pmd_modify to the new protection also ends a NUMA-hinting (protnone) entry.
        Pmd::Huge {
            write, protnone, ..
        } if write || protnone => {
            let old = pmd.pmdp_invalidate();
            let Some((pfn, _, dirty, young)) = old.huge_bits() else {
                unreachable!("{pmd}: huge under its lock, then not")
            };
            w.trace("change_huge_pmd: pmd_modify", &pmd, "wrprotect");
            pmd.set_pmd_at(Pmd::Huge {
                pfn,
                write: false,
                dirty,
                young,
                protnone: false,
            });
            w.cfg.ptes_per_table as u64
        }
        _ => 1,
    }
}

/// `change_pte_range` over `[addr, end)` of one PTE table, under its PTL
/// (`pte_offset_map_lock`): without VM_WRITE, a writable present PTE loses its write bit
/// (`ptep_modify_prot_start` / `pte_modify` / `ptep_modify_prot_commit`: one atomic update
/// here, keeping the bits the hardware sets meanwhile) and a writable migration entry
/// becomes a readable one (`make_readable_migration_entry`). With VM_WRITE nothing changes
/// (module docs). A range without a table (`pmd_none`) is skipped.
pub fn change_pte_range(w: &World, mm_id: MmId, addr: u64, end: u64, newflags: u32) -> usize {
    if newflags & vm::WRITE != 0 {
        return 0;
    }
    let Some(mut pte) = pte_offset_map_lock(w, mm_id, addr) else {
        return 0;
    };
    // 3ea277194daa: a PTE reclaim cleared without its flush yet is none here and would not
    // be flushed below, its writable TLB entry outliving the mprotect.
    tlb_ubc::flush_tlb_batched_pending(w, mm_id);
    let mut pages = 0;
    for va in addr..end {
        pte.move_to(va);
        match pte.get() {
            Pte::Present { write: true, .. } => {
                w.trace(
                    "change_pte_range: ptep_modify_prot_start",
                    &pte,
                    "wrprotect",
                );
                pte.ptep_set_wrprotect();
                pages += 1;
            }
            Pte::Migration { pfn, write: true } => {
                pte.set_pte_at(Pte::Migration { pfn, write: false });
                pages += 1;
            }
            _ => {}
        }
    }
    pages
}
