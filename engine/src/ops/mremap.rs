//! `mremap` (mm/mremap.c, 6.1 shape): `MREMAP_MAYMOVE | MREMAP_FIXED` to a given address —
//! `mremap_to` → `move_vma` → `copy_vma` (mm/mmap.c) → `move_page_tables` → per PMD extent
//! `move_normal_pmd` (a whole PTE table moved by its PMD entry) or `move_ptes` (PTE by PTE),
//! then `do_munmap` of the old range.
//!
//! Locks, in the kernel's order: `mmap_lock` for write over the whole call; `copy_vma` links
//! the new VMA under `i_mmap_rwsem` write (`vma_link`) and into the anon_vma trees under each
//! root's rwsem write (`anon_vma_clone`); `move_page_tables` brackets the move with the
//! mmu-notifier (`MMU_NOTIFY_UNMAP`); each extent takes the rmap locks — `take_rmap_locks`:
//! `i_mmap_rwsem` then the anon_vma root rwsem, both for write — when it must (below), then
//! `move_normal_pmd` the PMD lock (`pmd_lock`) or `move_ptes` the old table's PTL and the new
//! one's nested (`spin_lock_nested(new_ptl, SINGLE_DEPTH_NESTING)`; "exclusive mmap_lock
//! prevents deadlock").
//!
//! When the rmap locks are taken is the history this file keeps:
//!
//! * `copy_vma` decides `need_rmap_locks`: false for a new VMA — "new_vma is often known to
//!   be placed after vma in rmap traversal order. This ensures rmap will always observe either
//!   the old pte, or the new pte, or both" (the `move_ptes` comment); for a merge, true if the
//!   VMA merged into may come first (`new_vma->vm_pgoff <= vma->vm_pgoff`).
//! * That argument holds for PTEs moved under their PTLs, not for a table moved by its PMD
//!   entry, which `move_normal_pmd` does under the PMD lock alone: a walker holding the moved
//!   table's PTL clears a PTE that is now mapped at the new address and flushes the old one,
//!   leaving a TLB entry for the new address to a page it frees (CVE-2022-41222). Since
//!   97113eb39fa7 "mm/mremap: hold the rmap lock in write mode when moving page table
//!   entries." (v5.14; backported to 5.13.3) `move_page_tables` takes them for every
//!   `NORMAL_PMD` move ([`move_page_tables`]); before it, only if `need_rmap_locks`
//!   ([`move_page_tables_v5_13`]).
//! * `move_ptes` flushes the old range before it drops the PTLs since eb66ae030829 "mremap:
//!   properly flush TLB before releasing the page" (v4.19, CVE-2018-18281) — [`move_ptes`];
//!   before it, after ([`move_ptes_v4_18`]).
//!
//! Simplifications, each said where it is made: `new_len <= old_len` only (no expansion in
//! place or at the new address), `MREMAP_MAYMOVE | MREMAP_FIXED` only (no address search, no
//! `MREMAP_DONTUNMAP`); VM_LOCKED, hugetlb and `MADV_HUGEPAGE`'d VMAs are refused (no `mlock`
//! of the new range, no `move_hugetlb_page_tables`, no `move_huge_pmd`); no PUD level
//! (`move_normal_pud`), no `try_realign_addr`, no `VM_ACCOUNT`, no
//! `vm_ops->mremap`, no KSM, no userfaultfd; `move_pte` and `move_soft_dirty_pte` are the
//! identity (no soft-dirty bit). The model's mm has one PMD page, so the old and the new PMD
//! lock (`pmd_lockptr`) are one lock.

use crate::mm::address_space::IMmap;
use crate::mm::mm_struct::MmMap;
use crate::mm::vma::vm;
use crate::mm::{MmId, VmaId, VmaInfo, World};
use crate::ops::Error;
use crate::ops::anon_vma::{AnonVmaWriteLocked, anon_vma_lock_write, unlink_anon_vmas};
use crate::ops::fault::{find_vma, pte_alloc};
use crate::ops::munmap::do_munmap;
use crate::ops::pgtable_generic::{LockedPte, pte_offset_map_lock};
use crate::ops::tlb_ubc;
use crate::ops::vma_lock::{mmap_write_unlock, vma_start_write};
use crate::ops::vma_merge::vma_merge;
use crate::race_window;
use crate::sync::lockdep::SINGLE_DEPTH_NESTING;
use crate::sync::{Ordering, RwSemWriteGuard};

/// What `move_page_tables` moves: `len` pages from `old_addr` of `old` to `new_addr` of `new`
/// (its arguments, one struct as 6.15's `pagetable_move_control` has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveControl {
    /// The VMA moved from.
    pub old: VmaId,
    /// The VMA moved to.
    pub new: VmaId,
    /// First page moved.
    pub old_addr: u64,
    /// Where it goes.
    pub new_addr: u64,
    /// Pages.
    pub len: u64,
    /// `copy_vma`'s verdict: must every move take the rmap locks?
    pub need_rmap_locks: bool,
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]).
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`] (above the paths).
#[derive(Debug, Clone, Copy)]
pub struct MremapOps {
    /// `move_page_tables`: returns the pages moved.
    pub move_page_tables: fn(&World, &MoveControl) -> u64,
    /// `move_normal_pmd(vma, old_addr, new_addr)`: move one PTE table by its PMD entry.
    pub move_normal_pmd: fn(&World, &MoveControl, u64, u64) -> bool,
    /// `move_ptes(vma, old_addr, old_end, new_vma, new_addr, need_rmap_locks)`.
    pub move_ptes: fn(&World, &MoveControl, u64, u64, u64, bool),
}

/// `take_rmap_locks(vma)`: `i_mmap_lock_write` of its file, then `anon_vma_lock_write` of its
/// anon_vma. Held until [`RmapLocks`] drops (`drop_rmap_locks`: the anon_vma first).
pub fn take_rmap_locks(w: &World, vma: VmaId) -> RmapLocks<'_> {
    let v = w.vmas.get(vma);
    let i_mmap = v.info.get().file.map(|f| w.files.get(f).i_mmap.write());
    let anon_vma = v.anon_vma().map(|av| anon_vma_lock_write(w, av));
    w.trace("take_rmap_locks", vma, "");
    RmapLocks {
        _anon_vma: anon_vma,
        _i_mmap: i_mmap,
    }
}

/// The rmap locks `take_rmap_locks` took. Dropping it is `drop_rmap_locks`: the fields drop
/// in order, `anon_vma_unlock_write` then `i_mmap_unlock_write`.
#[derive(Debug)]
pub struct RmapLocks<'w> {
    /// Held, not read.
    _anon_vma: Option<AnonVmaWriteLocked<'w>>,
    /// Held, not read.
    _i_mmap: Option<crate::sync::RwSemWriteGuard<'w, IMmap>>,
}

/// The extent of one PMD step of `move_page_tables` (`get_extent(NORMAL_PMD, ..)`): up to the
/// next table boundary of the old address and of the new one, and no further than `old_end`.
pub fn get_extent(w: &World, old_addr: u64, old_end: u64, new_addr: u64) -> u64 {
    let per = w.cfg.ptes_per_table as u64;
    let next = |a: u64| (a / per + 1) * per;
    (next(old_addr) - old_addr)
        .min(old_end - old_addr)
        .min(next(new_addr) - new_addr)
}

/// `move_page_tables` since 97113eb39fa7: a whole-table extent moves by `move_normal_pmd`
/// with the rmap locks always taken (`move_pgt_entry(NORMAL_PMD, .., true)`).
pub fn move_page_tables(w: &World, pmc: &MoveControl) -> u64 {
    move_page_tables_loop(w, pmc, true)
}

/// `move_page_tables` from 2c91bd4a4e2e "mm: speed up mremap by 20x on large regions"
/// (`move_normal_pmd`, named with c49dd3401802 in the fix's `Fixes:` tags) through v5.13: a whole-table extent moves by `move_normal_pmd` taking the rmap locks only
/// if `need_rmap_locks` (`move_pgt_entry(NORMAL_PMD, .., need_rmap_locks)`, c49dd3401802's
/// shape in 5.11–5.13) — the race of CVE-2022-41222.
pub fn move_page_tables_v5_13(w: &World, pmc: &MoveControl) -> u64 {
    move_page_tables_loop(w, pmc, pmc.need_rmap_locks)
}

/// The loop both eras share, differing only in `pmd_rmap_locks`: does a `NORMAL_PMD` move
/// take the rmap locks? `flush_cache_range` (a no-op on x86), the notifier bracket, then per
/// extent: skip a range with no old table (`get_old_pmd`), move a whole table by its PMD
/// entry if the extent is a table's span (`extent == PMD_SIZE`), else allocate the new table
/// (`pte_alloc`) and `move_ptes`.
fn move_page_tables_loop(w: &World, pmc: &MoveControl, pmd_rmap_locks: bool) -> u64 {
    let mm_id = w.vmas.get(pmc.old).info.get().mm;
    let mm = w.mms.get(mm_id);
    let per = w.cfg.ptes_per_table as u64;
    let old_end = pmc.old_addr + pmc.len;
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, pmc.old_addr, old_end);
    let (mut old_addr, mut new_addr) = (pmc.old_addr, pmc.new_addr);
    while old_addr < old_end {
        let extent = get_extent(w, old_addr, old_end, new_addr);
        if mm.pmd_table(w.pte_slot(old_addr).0).is_some() {
            // move_pgt_entry(NORMAL_PMD, ..)
            let moved = extent == per && {
                let locks = pmd_rmap_locks.then(|| take_rmap_locks(w, pmc.old));
                let moved = (w.kernel.mremap.move_normal_pmd)(w, pmc, old_addr, new_addr);
                drop(locks);
                moved
            };
            if !moved {
                if pte_alloc(w, mm, mm_id, new_addr).is_err() {
                    break;
                }
                (w.kernel.mremap.move_ptes)(
                    w,
                    pmc,
                    old_addr,
                    old_addr + extent,
                    new_addr,
                    pmc.need_rmap_locks,
                );
            }
        }
        old_addr += extent;
        new_addr += extent;
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    old_addr.min(old_end) - pmc.old_addr
}

/// `move_normal_pmd(vma, old_addr, new_addr, old_pmd, new_pmd)` (5.11+ shape, with
/// 0881ace292b6's `pmd_populate`): under the PMD lock, clear the old PMD entry and point the
/// new one at the same PTE table, then flush the old range — the table's PTEs are not
/// touched, and no PTL is taken. Refuses (false) if the new entry is populated
/// (`WARN_ON_ONCE(!pmd_none(*new_pmd))`) or the old one went away.
///
/// Old and new PMD lock are one lock — the model's mm has one PMD page (`new_ptl ==
/// old_ptl`, no `spin_lock_nested`). The table's `owner` keeps
/// the slot it was allocated for (no path reads it).
pub fn move_normal_pmd(w: &World, pmc: &MoveControl, old_addr: u64, new_addr: u64) -> bool {
    let mm_id = w.vmas.get(pmc.old).info.get().mm;
    let mm = w.mms.get(mm_id);
    let (old_slot, new_slot) = (w.pte_slot(old_addr).0, w.pte_slot(new_addr).0);
    if mm.pmd_table(new_slot).is_some() {
        return false;
    }
    let ptl = w.pmd_lockptr(mm).lock();
    let pmd = mm.pmd[old_slot].load(Ordering::SeqCst);
    if pmd == 0 {
        return false;
    }
    // pmd_clear(old_pmd)
    mm.pmd[old_slot].store(0, Ordering::SeqCst);
    race_window!("move_normal_pmd: old PMD cleared, the table not yet at the new address");
    // pmd_populate(mm, new_pmd, pmd_pgtable(pmd))
    mm.pmd[new_slot].store(pmd, Ordering::SeqCst);
    w.trace(
        "move_normal_pmd",
        mm_id,
        format_args!(
            "slot {old_slot} -> {new_slot} ({:#x} -> {:#x})",
            old_addr << 12,
            new_addr << 12
        ),
    );
    race_window!("move_normal_pmd: the table mapped at the new address, old range not flushed");
    let per = w.cfg.ptes_per_table as u64;
    (w.kernel.tlb.flush_tlb_range)(w, mm_id, old_addr, old_addr + per);
    drop(ptl);
    true
}

/// `move_ptes` since eb66ae030829: under the old table's PTL and the new one's (nested), each
/// PTE `ptep_get_and_clear`ed from the old address and `set_pte_at` the new one, and — if a
/// present PTE moved — the old range flushed **before the PTLs are dropped** ("make sure the
/// physical page stays valid until the TLB entry for the old mapping has been flushed"). The
/// rmap locks are taken around it if `need_rmap_locks`.
pub fn move_ptes(
    w: &World,
    pmc: &MoveControl,
    old_addr: u64,
    old_end: u64,
    new_addr: u64,
    need_rmap_locks: bool,
) {
    move_ptes_flush(w, pmc, old_addr, old_end, new_addr, need_rmap_locks, true);
}

/// `move_ptes` of 4.18 and before: the PTEs moved under both PTLs, the old range flushed
/// only after they are dropped — a window in which the page may be freed by a walker that finds it at
/// the new address while another CPU still reaches it through the old one (CVE-2018-18281).
pub fn move_ptes_v4_18(
    w: &World,
    pmc: &MoveControl,
    old_addr: u64,
    old_end: u64,
    new_addr: u64,
    need_rmap_locks: bool,
) {
    move_ptes_flush(w, pmc, old_addr, old_end, new_addr, need_rmap_locks, false);
}

/// The `move_ptes` both eras share; `flush_under_ptl` is what eb66ae030829 changed.
fn move_ptes_flush(
    w: &World,
    pmc: &MoveControl,
    old_addr: u64,
    old_end: u64,
    new_addr: u64,
    need_rmap_locks: bool,
    flush_under_ptl: bool,
) {
    let vma = w.vmas.get(pmc.old);
    let mm_id = vma.info.get().mm;
    let mm = w.mms.get(mm_id);
    let locks = need_rmap_locks.then(|| take_rmap_locks(w, pmc.old));
    // "We don't have to worry about the ordering of src and dst pte locks because exclusive
    // mmap_lock prevents deadlock."
    let Some(mut old) = pte_offset_map_lock(w, mm_id, old_addr) else {
        return;
    };
    let new_table = w.tables.get(
        mm.pmd_table(w.pte_slot(new_addr).0)
            .expect("move_page_tables allocated the new table"),
    );
    let same_table = std::ptr::eq(old.table(), new_table);
    let new_ptl_differs =
        !std::ptr::eq(w.pte_lockptr(mm, old.table()), w.pte_lockptr(mm, new_table));
    // spin_lock_nested(new_ptl, SINGLE_DEPTH_NESTING) if new_ptl != old_ptl.
    let mut new = (!same_table).then(|| {
        if new_ptl_differs {
            let ptl = w
                .pte_lockptr(mm, new_table)
                .lock_nested(SINGLE_DEPTH_NESTING);
            LockedPte::new(w, mm_id, new_addr, new_table, w.pte_slot(new_addr).1, ptl)
        } else {
            LockedPte::new_under(&old, new_table, new_addr)
        }
    });
    // 3ea277194daa: reclaim may have cleared a PTE of this range without its flush yet; its
    // stale TLB entry would survive the move, which does not flush a PTE it finds none.
    tlb_ubc::flush_tlb_batched_pending(w, mm_id);
    let mut force_flush = false;
    for (i, va) in (old_addr..old_end).enumerate() {
        let nva = new_addr + i as u64;
        old.move_to(va);
        if old.get().is_none() {
            continue;
        }
        // "If we are remapping a valid PTE, make sure to flush TLB before we drop the PTL
        // for the PTE."
        force_flush |= old.get().is_present();
        let pte = old.ptep_get_and_clear();
        // move_pte / move_soft_dirty_pte: the identity here (module docs).
        race_window!("move_ptes: old PTE cleared, not yet set at the new address");
        match new.as_mut() {
            Some(n) => {
                n.move_to(nva);
                n.set_pte_at(pte);
            }
            None => {
                old.move_to(nva);
                old.set_pte_at(pte);
            }
        }
    }
    let len = old_end - old_addr;
    if force_flush && flush_under_ptl {
        (w.kernel.tlb.flush_tlb_range)(w, mm_id, old_addr, old_addr + len);
    }
    drop(new);
    drop(old);
    if force_flush && !flush_under_ptl {
        race_window!("move_ptes (4.18): PTLs dropped, old range not yet flushed");
        (w.kernel.tlb.flush_tlb_range)(w, mm_id, old_addr, old_addr + len);
    }
    drop(locks);
}

/// `vma_link` (mm/mmap.c, 6.1): insert a new VMA into the mm and, under `i_mmap_rwsem`
/// write, its file's `i_mmap` (`__vma_link_file`). The VMA is write-locked before it enters
/// the tree ("mm: always lock new vma before inserting into vma tree", 6.6), so a lockless
/// fault that finds it waits for mremap to finish moving its page tables.
pub fn vma_link(w: &World, map: &mut RwSemWriteGuard<'_, MmMap>, vma: VmaId) {
    vma_start_write(w, map, vma);
    if let Some(f) = w.vmas.get(vma).info.get().file {
        w.files.get(f).i_mmap.write().vmas.push(vma);
    }
    let mm = w.mms.get(w.vmas.get(vma).info.get().mm);
    map.vma_iter_store(mm, vma);
    map.vmas.sort_by_key(|&x| w.vmas.get(x).info.get().start);
    w.trace("vma_link", vma, "");
}

/// `copy_vma(&vma, addr, len, pgoff, &need_rmap_locks)` (mm/mmap.c, 6.1): the VMA the moved
/// range will live in at `[addr, addr + len)`. An anonymous VMA never faulted takes the new
/// address as its pgoff. First `vma_merge` with the neighbours there ("Source vma may have
/// been merged into new_vma": then `vma` becomes it); `need_rmap_locks` if the VMA merged
/// into may precede the old one in rmap order (`new_vma->vm_pgoff <= vma->vm_pgoff`).
/// Otherwise a new VMA: `vm_area_dup`, the new bounds, `anon_vma_clone`, `vma_link`;
/// `need_rmap_locks = false` (the new VMA is walked after the old one). Returns the new VMA
/// and `need_rmap_locks`; `vma` is updated in place.
pub fn copy_vma(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    vma: &mut VmaId,
    addr: u64,
    len: u64,
    pgoff: u64,
) -> Result<(VmaId, bool), Error> {
    let v = w.vmas.get(*vma);
    let info = v.info.get();
    let vma_start = info.start;
    let mut pgoff = pgoff;
    let mut faulted_in_anon_vma = true;
    // If anonymous vma has not yet been faulted, update new pgoff to match new location, to
    // increase its chance of merging.
    if info.file.is_none() && v.anon_vma().is_none() {
        pgoff = addr;
        faulted_in_anon_vma = false;
    }
    let prev = map
        .vmas
        .iter()
        .copied()
        .filter(|&x| w.vmas.get(x).info.get().end <= addr)
        .max_by_key(|&x| w.vmas.get(x).info.get().start);
    let flags = v.flags.load(Ordering::SeqCst);
    if let Some(new) = vma_merge(
        w,
        map,
        prev,
        addr,
        addr + len,
        flags,
        v.anon_vma(),
        info.file,
        pgoff,
    )? {
        let ni = w.vmas.get(new).info.get();
        // Source vma may have been merged into new_vma
        if vma_start >= ni.start && vma_start < ni.end {
            assert!(!faulted_in_anon_vma, "VM_BUG_ON_VMA(faulted_in_anon_vma)");
            *vma = new;
        }
        let need = ni.pgoff <= w.vmas.get(*vma).info.get().pgoff;
        w.trace(
            "copy_vma: merged",
            new,
            format_args!("need_rmap_locks {need}"),
        );
        return Ok((new, need));
    }
    // vm_area_dup: a copy with an empty anon_vma_chain, unreachable yet.
    let (new, n) = w.vmas.alloc().ok_or(Error::Oom)?;
    n.info.set(VmaInfo {
        start: addr,
        end: addr + len,
        pgoff,
        ..info
    });
    n.flags.store(flags, Ordering::SeqCst);
    n.set_anon_vma(v.anon_vma());
    n.chain_clear();
    n.vm_lock.vma_lock_alloc();
    w.trace("vm_area_dup", new, *vma);
    if let Err(e) = (w.kernel.anon_vma.anon_vma_clone)(w, new, *vma) {
        n.set_anon_vma(None);
        unlink_anon_vmas(w, new);
        w.vmas.free(new);
        return Err(e);
    }
    vma_link(w, map, new);
    w.trace(
        "copy_vma",
        new,
        format_args!("{:#x}-{:#x}", addr << 12, (addr + len) << 12),
    );
    Ok((new, false))
}

/// `move_vma(vma, old_addr, old_len, new_len, new_addr)` (6.1): `copy_vma`, then
/// `move_page_tables` through the table; if it fell short (no table for the new range),
/// move back what moved (`need_rmap_locks = true`) and unmap the new range instead
/// (`-ENOMEM`); else `do_munmap` the old range. Returns the new VMA.
pub fn move_vma(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    vma: VmaId,
    old_addr: u64,
    len: u64,
    new_addr: u64,
) -> Result<VmaId, Error> {
    let mm_id = w.vmas.get(vma).info.get().mm;
    // 6.4: "mm/mremap: write-lock VMA while remapping it to a new address range".
    vma_start_write(w, map, vma);
    let info = w.vmas.get(vma).info.get();
    let new_pgoff = info.pgoff + (old_addr - info.start);
    let mut vma = vma;
    let (new_vma, need_rmap_locks) = copy_vma(w, map, &mut vma, new_addr, len, new_pgoff)?;
    let pmc = MoveControl {
        old: vma,
        new: new_vma,
        old_addr,
        new_addr,
        len,
        need_rmap_locks,
    };
    w.trace(
        "move_vma",
        vma,
        format_args!(
            "{:#x} -> {:#x}, {len} pages, need_rmap_locks {need_rmap_locks}",
            old_addr << 12,
            new_addr << 12
        ),
    );
    let moved = (w.kernel.mremap.move_page_tables)(w, &pmc);
    if moved < len {
        // On error, move entries back from new area to old, which will succeed since page
        // tables still there, and then proceed to unmap new area instead of old.
        let back = MoveControl {
            old: new_vma,
            new: vma,
            old_addr: new_addr,
            new_addr: old_addr,
            len: moved,
            need_rmap_locks: true,
        };
        (w.kernel.mremap.move_page_tables)(w, &back);
        do_munmap(w, map, mm_id, new_addr, new_addr + len)?;
        return Err(Error::Oom);
    }
    do_munmap(w, map, mm_id, old_addr, old_addr + len)?;
    Ok(new_vma)
}

/// `mremap(addr, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr)` (`mremap_to`,
/// 6.1): the new range must lie in the address space and not overlap the old one; under
/// `mmap_lock` write, `do_munmap` the new range (`MREMAP_FIXED`), shrink the old one to
/// `new_len` if smaller (`do_munmap` of the tail), find the VMA (`vma_to_resize`: it must
/// cover the whole old range, else `-EFAULT`, [`Error::Segv`] here) and `move_vma`.
/// Returns the VMA now at `new_addr`.
pub fn mremap(
    w: &World,
    mm_id: MmId,
    addr: u64,
    old_len: u64,
    new_len: u64,
    new_addr: u64,
) -> Result<VmaId, Error> {
    let task_size = (w.cfg.pmds_per_mm * w.cfg.ptes_per_table) as u64;
    if old_len == 0 || new_len == 0 || new_len > old_len || new_addr + new_len > task_size {
        return Err(Error::Inval);
    }
    // Ensure the old/new locations do not overlap
    if addr + old_len > new_addr && new_addr + new_len > addr {
        return Err(Error::Inval);
    }
    let mm = w.mms.get(mm_id);
    let mut map = mm.mmap_lock.write();
    let moved = mremap_locked(w, &mut map, mm_id, addr, old_len, new_len, new_addr);
    mmap_write_unlock(w, mm_id, map);
    moved
}

/// The part of [`mremap`] under `mmap_lock` write.
fn mremap_locked(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    mm_id: MmId,
    addr: u64,
    old_len: u64,
    new_len: u64,
    new_addr: u64,
) -> Result<VmaId, Error> {
    w.trace(
        "mremap",
        mm_id,
        format_args!(
            "{:#x}+{old_len} -> {:#x}+{new_len} (MREMAP_MAYMOVE|MREMAP_FIXED)",
            addr << 12,
            new_addr << 12
        ),
    );
    do_munmap(w, map, mm_id, new_addr, new_addr + new_len)?;
    if old_len > new_len {
        do_munmap(w, map, mm_id, addr + new_len, addr + old_len)?;
    }
    let len = new_len;
    // vma_to_resize
    let vma = find_vma(w, &map.vmas, addr).ok_or(Error::Segv)?;
    let v = w.vmas.get(vma);
    if len > v.info.get().end - addr {
        return Err(Error::Segv);
    }
    if v.has(vm::LOCKED) || v.has(vm::HUGETLB) || v.has(vm::HUGEPAGE) {
        // Simplification (module docs): no mlock of the new range, no hugetlb move, no
        // huge-PMD move (`move_huge_pmd`) or split of one.
        return Err(Error::Inval);
    }
    move_vma(w, map, vma, addr, len, new_addr)
}
