//! hugetlb, as much as its catalog entries (017b1660df89, b7880cb166ab) need: a hugetlbfs file
//! whose page tables can be shared between mms (`huge_pmd_share` / `huge_pmd_unshare`), its
//! fault path (`hugetlb_fault` with the fault mutex and the hugetlb VMA lock), its page-table
//! lock (`huge_pte_lock`), its lock classes (`hugetlbfs_i_mmap_rwsem_key`, the hugetlb folio
//! lock: the hugetlb order of the mm/rmap.c header), its migration (`unmap_and_move_huge_page`)
//! and `hugetlbfs_punch_hole`.
//!
//! Simplification: a "huge page" is an ordinary model page of a hugetlbfs file, and the shared
//! "PMD table" is a PTE table of the model: what matters to the races is that one table entry
//! maps the page for every sharer, so the mapcount counts entries, not mms.

use crate::mm::mm_struct::MmMap;
use crate::mm::{
    FileId, Mapping, Mm, MmId, MmuGather, PageTable, Pte, TableId, VmaId, World, pg, vm,
};
use crate::ops::pagemap::{lock_page, trylock_page};
use crate::ops::pgtable_generic::{LockedPte, ptep_get_lockless};
use crate::ops::pvmw::PvmwItem;
use crate::ops::{Error, page_alloc};
use crate::sync::{Ordering, RwSemReadGuard, RwSemWriteGuard, SpinLock};

/// `huge_pte_lockptr` for the model's PMD-sized hugetlb pages: `pmd_lockptr(mm, pte)`, the
/// split PMD lock of the table page that holds the entry (`ptlock_ptr(pmd_ptdesc(pmd))`, one
/// lock for every mm sharing that table) with split PMD locks, `&mm->page_table_lock` without
/// (include/linux/hugetlb.h). The model's hugetlb "PMD table" is one of its PTE tables, so
/// this is [`World::pte_lockptr`] on that table.
///
/// Simplification: one option, [`crate::mm::WorldConfig::ptlocks`], stands for both `USE_SPLIT_PTE_PTLOCKS`
/// and `USE_SPLIT_PMD_PTLOCKS` (the latter is the former plus
/// `CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK`, which x86-64 and arm64 select).
pub fn huge_pte_lockptr<'a>(w: &'a World, mm: &'a Mm, table: &'a PageTable) -> &'a SpinLock<()> {
    w.pte_lockptr(mm, table)
}

/// `huge_pte_lock`: take the lock of the hugetlb entry `index` of `table` (the entry mapping
/// `va` in `mm`, possibly through a table shared with other mms) and hand the entry out
/// locked, as `pte_offset_map_lock` does for a PTE.
pub fn huge_pte_lock<'w>(
    w: &'w World,
    mm: MmId,
    va: u64,
    table: &'w PageTable,
    index: usize,
) -> LockedPte<'w> {
    let ptl = huge_pte_lockptr(w, w.mms.get(mm), table).lock();
    LockedPte::new(w, mm, va, table, index, ptl)
}

/// Is `CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING` on? Since 188cac58a8bc ("mm/hugetlb: enforce
/// that PMD PT sharing has split PMD PT locks", 6.12) it depends on split PMD locks: "sharing
/// page tables between processes but falling back to per-MM page table locks cannot possibly
/// work" — each sharer would serialise on its own `mm->page_table_lock`. Without it
/// `huge_pmd_share` and `adjust_range_if_pmd_sharing_possible` are empty stubs and
/// `huge_pmd_unshare` never finds a shared table.
///
/// Simplification: earlier kernels built without split PTLs (`NR_CPUS <
/// CONFIG_SPLIT_PTLOCK_CPUS`) did share under per-mm locks; the model follows 6.12+ there.
pub fn pmd_sharing_configured(w: &World) -> bool {
    w.cfg.ptlocks == crate::mm::Ptlocks::Split
}

/// `adjust_range_if_pmd_sharing_possible`: the notifier range must cover the whole shared
/// table, because sharing cannot be known until the page tables are locked.
/// Without `CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING` it is the empty stub.
pub fn adjust_range_if_pmd_sharing_possible(w: &World, vma: VmaId, va: u64) -> (u64, u64) {
    let v = w.vmas.get(vma);
    if pmd_sharing_configured(w) && v.has(vm::HUGETLB) && v.has(vm::SHARED) {
        let per = w.cfg.ptes_per_table as u64;
        (va / per * per, (va / per + 1) * per)
    } else {
        (va, va + 1)
    }
}

/// `want_pmd_share`: may the table covering `va` be shared? Only in a VM_MAYSHARE hugetlb VMA
/// that spans the whole table (`range_in_vma`), with PMD sharing configured.
pub fn want_pmd_share(w: &World, vma_id: VmaId, va: u64) -> bool {
    let v = w.vmas.get(vma_id);
    let info = v.info.get();
    let per = w.cfg.ptes_per_table as u64;
    let (lo, hi) = (va / per * per, (va / per + 1) * per);
    pmd_sharing_configured(w)
        && v.has(vm::HUGETLB)
        && v.has(vm::SHARED)
        && info.file.is_some()
        && info.start <= lo
        && hi <= info.end
}

/// `huge_pmd_share`: at fault time, point this mm's empty PMD slot at a table another mm
/// already populated for the same file range (`page_table_shareable`: same file offset and
/// alignment, the whole table inside the other VMA), instead of allocating one. Under
/// `i_mmap_rwsem` read (to walk i_mmap); the slot is populated under the shared table's
/// `huge_pte_lock`. Then `pmd_alloc` — this mm's own table if nothing was shared — still inside
/// the i_mmap_rwsem section: "pud has to be populated inside the same i_mmap_rwsem section -
/// otherwise racing tasks could either miss the sharing (see huge_pte_offset) or select a bad
/// pmd for sharing."
pub fn huge_pmd_share(
    w: &World,
    mm: &Mm,
    mm_id: MmId,
    vma_id: VmaId,
    va: u64,
) -> Result<TableId, Error> {
    let info = w.vmas.get(vma_id).info.get();
    let file = info.file.expect("want_pmd_share: a file VMA");
    let per = w.cfg.ptes_per_table as u64;
    let lo = va / per * per;
    let slot = (lo / per) as usize;
    let index = info.index_of(lo);
    let imap = w.files.get(file).i_mmap.read();
    let spte = imap
        .vmas
        .iter()
        .filter(|&&o| o != vma_id)
        .find_map(|&other| {
            let oi = w.vmas.get(other).info.get();
            let ova = oi.address(index)?;
            if ova % per != 0 || ova + per > oi.end || oi.mm == mm_id {
                return None;
            }
            w.mms.get(oi.mm).pmd_table((ova / per) as usize)
        });
    if let Some(t) = spte {
        // `ptl = huge_pte_lock(h, mm, spte)`: the lock of the table being shared.
        let _ptl = huge_pte_lockptr(w, mm, w.tables.get(t)).lock();
        if mm.pmd_table(slot).is_none() {
            w.tables.get(t).share_count.fetch_add(1, Ordering::SeqCst);
            mm.pmd[slot].store(t.pack() + 1, Ordering::SeqCst);
            w.trace(
                "huge_pmd_share",
                mm_id,
                format_args!("slot {slot} -> shared {t}"),
            );
        }
    }
    let t = crate::ops::fault::pte_alloc(w, mm, mm_id, va);
    drop(imap);
    t
}

/// What the hugetlb branch of `try_to_unmap_one` / `try_to_migrate_one` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unshare {
    /// Not a shared table (or not a shareable VMA): unmap the entry as usual.
    NotShared,
    /// `huge_pmd_unshare` dropped this mm's reference to the shared table.
    Unshared,
    /// `hugetlb_vma_trylock_write` failed: the walk aborts (`goto walk_abort`, 6.1+).
    VmaLockBusy,
}

/// The hugetlb branch of `try_to_unmap_one`/`try_to_migrate_one` (017b1660df89; the VMA lock
/// since 40549ba8f8e0, 6.1): with PVMW's `huge_pte_lock` held, trylock the hugetlb VMA lock
/// for write — "Lock order dictates acquiring vma_lock BEFORE i_mmap_rwsem. We can only try
/// lock here and fail if unsuccessful" — then `huge_pmd_unshare`: if the table under `item`
/// is shared, drop this mm's reference to it; unlock the VMA lock and flush this mm's TLB
/// over the whole table. The entry (and the page's mapcount) stay for the other sharers. The
/// caller holds `i_mmap_rwsem` for write (TTU_RMAP_LOCKED).
pub fn try_unshare(w: &World, item: &PvmwItem<'_>, vma_id: VmaId, va: u64) -> Unshare {
    let v = w.vmas.get(vma_id);
    if !v.has(vm::HUGETLB) || !v.has(vm::SHARED) {
        return Unshare::NotShared;
    }
    let mm_id = v.info.get().mm;
    let Ok(vma_lock) = hugetlb_vma_trylock_write(w, vma_id) else {
        w.trace(
            "hugetlb_vma_trylock_write: busy, walk_abort",
            vma_id,
            format_args!("{mm_id} va {:#x}", va << 12),
        );
        return Unshare::VmaLockBusy;
    };
    // huge_pmd_unshare: "page_count(virt_to_page(ptep)) == 1" -> not shared.
    if item.pte.table().share_count.load(Ordering::SeqCst) <= 1 {
        return Unshare::NotShared;
    }
    let per = w.cfg.ptes_per_table as u64;
    let slot = (va / per) as usize;
    w.mms.get(mm_id).pmd[slot].store(0, Ordering::SeqCst);
    item.pte.table().share_count.fetch_sub(1, Ordering::SeqCst);
    w.trace("huge_pmd_unshare", mm_id, format_args!("slot {slot}"));
    drop(vma_lock);
    (w.kernel.tlb.flush_tlb_range)(w, mm_id, va / per * per, (va / per + 1) * per);
    Unshare::Unshared
}

/// `__unmap_hugepage_range_final` for munmap/exit of a hugetlb VMA: the hugetlb VMA lock for
/// write, then `i_mmap_rwsem` write (40549ba8f8e0, 6.1: `huge_pmd_unshare` needs both), then
/// `__unmap_hugepage_range`: a shared table is unshared, an exclusive one zapped.
///
/// Simplification: the kernel frees the VMA lock here before dropping `i_mmap_rwsem`
/// (`__hugetlb_vma_unlock_write_free`), which makes the VMA ineligible for `huge_pmd_share`
/// until `free_pgtables`; the model drops it and keeps the VMA shareable until it leaves
/// `i_mmap`.
pub fn unmap_hugepage_range(w: &World, tlb: &mut MmuGather, vma_id: VmaId, start: u64, end: u64) {
    let info = w.vmas.get(vma_id).info.get();
    let Some(file) = info.file else { return };
    let _vma_lock = hugetlb_vma_lock_write(w, vma_id);
    let _imap = w.files.get(file).i_mmap.write();
    let mm = w.mms.get(info.mm);
    let per = w.cfg.ptes_per_table as u64;
    let (mut addr, end) = (start.max(info.start), end.min(info.end));
    while addr < end {
        let slot = (addr / per) as usize;
        if let Some(t) = mm.pmd_table(slot) {
            let table = w.tables.get(t);
            if table.share_count.load(Ordering::SeqCst) > 1 {
                // `ptl = huge_pte_lock(h, mm, ptep)`, then `huge_pmd_unshare` under it.
                let _ptl = huge_pte_lockptr(w, mm, table).lock();
                mm.pmd[slot].store(0, Ordering::SeqCst);
                table.share_count.fetch_sub(1, Ordering::SeqCst);
                (w.kernel.tlb.flush_tlb_range)(
                    w,
                    info.mm,
                    addr / per * per,
                    (addr / per + 1) * per,
                );
                w.trace(
                    "huge_pmd_unshare (unmap)",
                    info.mm,
                    format_args!("slot {slot}"),
                );
                addr = (addr / per + 1) * per;
                continue;
            }
        }
        addr = (w.kernel.zap.zap_pte_range)(w, tlb, vma_id, addr, end);
    }
}

/// `hugetlbfs_punch_hole`: `i_mmap_rwsem` write (to unmap), then each folio's lock — the
/// hugetlb order, in which i_mmap_rwsem is above the folio lock.
///
/// Simplification: the kernel's `inode_lock` before them is not taken, nothing is unmapped
/// (`hugetlb_vmdelete_list`), and `remove_inode_hugepages`, with its `hugetlb_fault_mutex`,
/// does not run: the folio stays in the cache.
pub fn hugetlbfs_punch_hole(w: &World, file: FileId, index: u64) {
    let f = w.files.get(file);
    let imap = f.i_mmap.write();
    let cached = f.i_pages.lock().pages[index as usize];
    if let Some(pfn) = cached
        && crate::ops::page_alloc::get_page_unless_zero(w, pfn)
    {
        let g = lock_page(w, pfn);
        w.trace("hugetlbfs_punch_hole: folio locked", pfn, "");
        // Removing the folio needs it unmapped; the model only takes the locks the race is
        // made of and leaves the page in place.
        drop(g);
        crate::ops::page_alloc::put_page(w, pfn);
    }
    drop(imap);
}

/// `__vma_shareable_lock`: does this VMA have a hugetlb VMA lock (a VM_MAYSHARE hugetlb VMA)?
pub fn vma_shareable_lock(w: &World, vma_id: VmaId) -> bool {
    let v = w.vmas.get(vma_id);
    v.has(vm::HUGETLB) && v.has(vm::SHARED)
}

/// `hugetlb_vma_lock_read`: a no-op for a VMA without the lock.
///
/// Simplification: the model takes it in every era; the kernel has it since 6.1
/// (40549ba8f8e0). Before, `i_mmap_rwsem` played its part (c0d0381ade79, 5.7–6.0).
pub fn hugetlb_vma_lock_read(w: &World, vma_id: VmaId) -> Option<RwSemReadGuard<'_, ()>> {
    vma_shareable_lock(w, vma_id).then(|| w.vmas.get(vma_id).hugetlb_vma_lock.read())
}

/// `hugetlb_vma_lock_write`: a no-op for a VMA without the lock.
pub fn hugetlb_vma_lock_write(w: &World, vma_id: VmaId) -> Option<RwSemWriteGuard<'_, ()>> {
    vma_shareable_lock(w, vma_id).then(|| w.vmas.get(vma_id).hugetlb_vma_lock.write())
}

/// `hugetlb_vma_trylock_write` returned 0: the hugetlb VMA lock is held by someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmaLockBusy;

/// `hugetlb_vma_trylock_write`: `Ok(None)` (it returns 1) for a VMA without the lock.
pub fn hugetlb_vma_trylock_write(
    w: &World,
    vma_id: VmaId,
) -> Result<Option<RwSemWriteGuard<'_, ()>>, VmaLockBusy> {
    if !vma_shareable_lock(w, vma_id) {
        return Ok(None);
    }
    w.vmas
        .get(vma_id)
        .hugetlb_vma_lock
        .try_write()
        .map(Some)
        .ok_or(VmaLockBusy)
}

/// `hugetlb_fault_mutex_hash`: the bucket of (mapping, idx) in `hugetlb_fault_mutex_table`
/// (the kernel hashes with `jhash2`; any mix of the two serves).
///
/// Simplification: a multiplicative hash instead of `jhash2`, and the table's mutexes are
/// `RwSem`s (class `HugetlbFaultMutex`) that are only ever taken for write.
pub fn hugetlb_fault_mutex_hash(w: &World, file: FileId, idx: u64) -> usize {
    let n = w.hugetlb_fault_mutex_table.len();
    let key = (u64::from(file.idx) << 32) ^ idx;
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & (n - 1)
}

/// `huge_pte_alloc` (`CONFIG_ARCH_WANT_GENERAL_HUGETLB`): the table for `va`, shared with
/// another mm's if `want_pmd_share` and this mm's slot is empty (`huge_pmd_share`), else this
/// mm's own (`pmd_alloc`). Called with the hugetlb VMA lock held for read, which keeps the
/// returned table this mm's until the fault is done.
pub fn huge_pte_alloc(
    w: &World,
    mm: &Mm,
    mm_id: MmId,
    vma_id: VmaId,
    va: u64,
) -> Result<TableId, Error> {
    let (slot, _) = w.pte_slot(va);
    if want_pmd_share(w, vma_id, va) && mm.pmd_table(slot).is_none() {
        huge_pmd_share(w, mm, mm_id, vma_id, va)
    } else {
        crate::ops::fault::pte_alloc(w, mm, mm_id, va)
    }
}

/// `hugetlb_fault` (mm/hugetlb.c, v6.1–6.5 shape) for a hugetlb VMA, called from
/// `handle_mm_fault` with `mmap_lock` held for read. The locks, in the hugetlb order of the
/// mm/rmap.c header:
///
/// ```text
/// huge_pte_offset(), lockless: a migration entry -> migration_entry_wait_huge()
/// mutex_lock(&hugetlb_fault_mutex_table[hash])   serialises instantiation of (mapping, idx)
///   hugetlb_vma_lock_read(vma)                     no huge_pmd_unshare while we hold ptep
///     huge_pte_alloc(): huge_pmd_share()           i_mmap_rwsem read, then huge_pte_lock
///     none -> hugetlb_no_page():
///       find_lock_page() / alloc + hugetlb_add_to_page_cache()   the folio lock
///         huge_pte_lock(); pte_same(); page_dup_file_rmap(); set_huge_pte_at()
///     present -> huge_pte_lock(); trylock_page(); mkdirty/mkyoung
///   hugetlb_vma_unlock_read(vma)
/// mutex_unlock()
/// ```
///
/// Simplification: a private (not VM_MAYSHARE) hugetlb mapping is mapped read-only from the
/// page cache on a read fault, as the kernel does when the page is cached; its write faults
/// (`hugetlb_wp`'s COW to an anonymous hugetlb folio, and `hugetlb_no_page`'s anonymous
/// allocation) are not modelled and raise SIGBUS.
pub fn hugetlb_fault(
    w: &World,
    mm_id: MmId,
    vma_id: VmaId,
    va: u64,
    write: bool,
    map: RwSemReadGuard<'_, MmMap>,
) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let vma = w.vmas.get(vma_id);
    let info = vma.info.get();
    let file = info.file.expect("a hugetlb VMA maps a hugetlbfs file");
    // huge_pte_offset: "Since we hold no locks, ptep could be stale. That is OK as we are
    // only making decisions based on content and not actually modifying content here."
    if let Some(Pte::Migration { .. }) = w.pte_at(mm_id, va) {
        // migration_entry_wait_huge: sleeps holding mmap_lock, released once the wait is over.
        (w.kernel.fault.migration_entry_wait)(w, mm_id, va, &map);
        drop(map);
        return Ok(());
    }
    if write && !vma.has(vm::SHARED) {
        return Err(Error::Bus);
    }
    let idx = info.index_of(va);
    let hash = hugetlb_fault_mutex_hash(w, file, idx);
    let mutex = w.hugetlb_fault_mutex_table[hash].write();
    w.trace(
        "hugetlb_fault: fault mutex",
        format_args!("{mm_id} va {:#x}", va << 12),
        format_args!("hash {hash}"),
    );
    let vma_lock = hugetlb_vma_lock_read(w, vma_id);
    let tid = huge_pte_alloc(w, mm, mm_id, vma_id, va)?;
    let table = w.tables.get(tid);
    let (_, i) = w.pte_slot(va);
    let entry = ptep_get_lockless(table, i);
    let ret = match entry {
        Pte::None => hugetlb_no_page(w, mm_id, vma_id, va, file, idx, table, i, entry),
        // A migration (or other non-present) entry met under the locks: "This goto expects
        // the 2nd page fault".
        Pte::Migration { .. } | Pte::Swap { .. } => Ok(()),
        Pte::Present { pfn, .. } => {
            let ptl = huge_pte_lock(w, mm_id, va, table, i);
            let mut wait_for = None;
            if ptl.get() == entry {
                // hugetlb_wp() needs the folio lock: trylock it under the PTL, or wait for
                // it once every lock is dropped (need_wait_lock).
                match trylock_page(w, pfn) {
                    Some(folio) => {
                        if let Pte::Present {
                            pfn,
                            write: writable,
                            dirty,
                            ..
                        } = entry
                        {
                            // A write to a read-only entry: hugetlb_wp(), which "takes
                            // out MAP_SHARED mappings first" with set_huge_ptep_writable().
                            // (A private mapping never gets here: its write faults SIGBUS.)
                            let writable = writable || (write && vma.has(vm::SHARED));
                            let pte = Pte::Present {
                                pfn,
                                write: writable,
                                dirty: dirty || (write && writable),
                                young: true,
                            };
                            // huge_ptep_set_access_flags
                            ptl.set_pte_at(pte);
                            w.trace(
                                "hugetlb_fault: set_access_flags",
                                format_args!("{mm_id} va {:#x}", va << 12),
                                pte,
                            );
                        }
                        drop(folio);
                    }
                    None => wait_for = Some(pfn),
                }
            }
            drop(ptl);
            drop(vma_lock);
            drop(mutex);
            if let Some(pfn) = wait_for {
                // wait_on_page_locked without a reference, as the kernel's comment allows.
                w.pages.slot(pfn.idx).lock().wait_unlocked();
            }
            return Ok(());
        }
    };
    // out: hugetlb_vma_unlock_read(); mutex_unlock()
    drop(vma_lock);
    drop(mutex);
    ret
}

/// `hugetlb_no_page`: under the fault mutex and the VMA lock, find the folio in the page
/// cache locked ("Use page lock to guard against racing truncation before we get
/// page_table_lock"), or allocate a zeroed one and add it to the cache locked
/// (`hugetlb_add_to_page_cache`); then map it under `huge_pte_lock` if the entry is still
/// `old`. A new folio becomes migratable (`SetHPageMigratable`, the model's PG_lru) only
/// once mapped.
///
/// Simplification: no reservation or subpool accounting (`vma_needs_reservation`,
/// `hugepage_subpool_get_pages`, `restore_reserve_on_error`): an allocation fails only when
/// the model's page pool is empty.
#[allow(clippy::too_many_arguments)]
pub fn hugetlb_no_page(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    file: FileId,
    idx: u64,
    table: &PageTable,
    i: usize,
    old: Pte,
) -> Result<(), Error> {
    let f = w.files.get(file);
    if idx as usize >= f.nr_pages() {
        return Err(Error::Bus);
    }
    let (pfn, folio, new_page) = loop {
        // find_lock_page()
        let cached = f.i_pages.lock().pages[idx as usize];
        if let Some(pfn) = cached {
            if !page_alloc::get_page_unless_zero(w, pfn) {
                crate::sync::yield_now();
                continue;
            }
            let page = w.page(pfn);
            let folio = lock_page(w, pfn);
            if f.i_pages.lock().pages[idx as usize] != Some(pfn)
                || page.mapping() != Mapping::File(file)
            {
                drop(folio);
                page_alloc::put_page(w, pfn);
                continue;
            }
            break (pfn, folio, false);
        }
        // alloc_hugetlb_folio(); clear_huge_page(): hugetlbfs has no backing store.
        let pfn = page_alloc::alloc_page(w).ok_or(Error::Oom)?;
        let page = w.page(pfn);
        page.flags.fetch_or(pg::HUGETLB, Ordering::SeqCst);
        for d in &page.data {
            d.store(0, Ordering::SeqCst);
        }
        page.flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
        // hugetlb_add_to_page_cache: __folio_set_locked, then __filemap_add_folio.
        let folio = trylock_page(w, pfn).expect("a new folio is not locked by anyone");
        // The cache's reference plus ours (which the mapping inherits); hugetlb folios are on
        // no LRU.
        if !crate::ops::fault::filemap_add_folio(w, file, idx, pfn, 0) {
            // "err can't be -EEXIST ... since hugetlb fault mutex is held": only a
            // migration's replacement can be there, and it replaces a cached folio.
            drop(folio);
            page_alloc::put_page(w, pfn);
            continue;
        }
        w.trace(
            "hugetlb_add_to_page_cache",
            pfn,
            format_args!("{file} index {idx}"),
        );
        break (pfn, folio, true);
    };
    let ptl = huge_pte_lock(w, mm, va, table, i);
    // "If pte changed from under us, retry"
    if ptl.get() != old {
        drop(ptl);
        drop(folio);
        page_alloc::put_page(w, pfn);
        return Ok(());
    }
    // page_dup_file_rmap()
    crate::ops::rmap::page_add_file_rmap(w, &ptl, pfn, vma_id);
    // make_huge_pte(vma, page, VM_WRITE && VM_SHARED): writable entries are made dirty.
    let v = w.vmas.get(vma_id);
    let writable = v.has(vm::WRITE) && v.has(vm::SHARED);
    let pte = Pte::Present {
        pfn,
        write: writable,
        dirty: writable,
        young: true,
    };
    // set_huge_pte_at(); hugetlb_count_add()
    crate::ops::fault::set_new_pte(w, &ptl, pte);
    drop(ptl);
    if new_page {
        // SetHPageMigratable: isolate_hugetlb may take it from now on.
        w.page(pfn).flags.fetch_or(pg::LRU, Ordering::SeqCst);
    }
    drop(folio);
    Ok(())
}
