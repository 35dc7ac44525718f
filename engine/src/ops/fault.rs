//! The fault path: the arch handler [`do_user_addr_fault`] (6.4+: the per-VMA lock through
//! `lock_vma_under_rcu` first, then `mmap_lock`, `find_vma`, `access_error`;
//! [`do_user_addr_fault_v6_3`]: `mmap_lock` only) → [`handle_mm_fault`] → `handle_pte_fault` → `do_anonymous_page`,
//! `do_fault` (read, shared and COW), `do_wp_page`, and `migration_entry_wait` — each an entry
//! of [`FaultOps`] (`w.kernel.fault`), so that one replaced handler is what every fault runs.
//! GUP's `faultin_page` (`ops::gup`) calls [`handle_mm_fault`] itself, with `mmap_lock`
//! already held and its own permission check (`check_vma_flags`) done: `handle_mm_fault`
//! checks no permission, as mm/memory.c's does not.
//!
//! Copy-on-write in the eras that differ (docs/MODEL.md §4, "COW and GUP"): the reuse
//! decision for an anonymous page in `do_wp_page` is `PageAnonExclusive` or the refcount
//! check of `wp_can_reuse_anon_folio` (5.19+, 6c287605fd56: [`do_wp_page`]), the refcount
//! alone (5.9–5.18, 09854ba94c6a: [`do_wp_page_v5_18`]), or the mapcount (`reuse_swap_page`
//! under the page lock, ≤5.8: [`do_wp_page_v5_8`]).
//!
//! Locks as in the kernel (docs/MODEL.md §2): `mmap_lock` read for the whole fault;
//! `anon_vma_prepare` takes the anon_vma rwsem and `page_table_lock` on first touch; file
//! faults hold the folio lock while mapping; the PTE is installed under the PTL after
//! re-checking it is still none (`pte_same` under the PTL, on a
//! [`LockedPte`]).

use crate::mm::mm_struct::MmMap;
use crate::mm::page::pg;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{FileId, Mapping, Mm, MmId, Pfn, TableId, VmaId, World};
use crate::ops::pagemap::{LockedPage, lock_page, trylock_page};
use crate::ops::pgtable_generic::{
    LockedPte, pte_offset_map_lock, pte_offset_map_nolock, ptep_get_lockless,
};
use crate::ops::vma_lock::{VmaReadLocked, vma_end_read};
use crate::ops::{Error, mlock, mmap, page_alloc, rmap};
use crate::sync::{Ordering, RwSemReadGuard};
use crate::{check, race_window};

bitflags::bitflags! {
    /// `enum fault_flag` (include/linux/mm_types.h values), as far as the model's callers pass
    /// them to [`handle_mm_fault`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FaultFlags: u32 {
        /// `FAULT_FLAG_WRITE`: a write fault.
        const WRITE = 1 << 0;
        /// `FAULT_FLAG_REMOTE`: a fault for another mm (GUP's `FOLL_REMOTE`); the model
        /// passes it and reads it nowhere, as x86 does.
        const REMOTE = 1 << 7;
        /// `FAULT_FLAG_VMA_LOCK` (6.4+): the fault holds the VMA's per-VMA lock for read, not
        /// `mmap_lock`; a handler that needs `mmap_lock` returns `VM_FAULT_RETRY`.
        const VMA_LOCK = 1 << 12;
    }
}

bitflags::bitflags! {
    /// `vm_fault_t` bits [`handle_mm_fault`] returns, as far as a caller of the model reads
    /// them (errors are the `Err` of the result).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct VmFault: u32 {
        /// `VM_FAULT_WRITE` (0x0008): `do_wp_page` broke COW — reused the page or copied it —
        /// "even if maybe_mkwrite decided not to set pte_write" (mm/gup.c, ≤5.18). GUP's
        /// `faultin_page` read it until 5535be309971 (6.0); cb8d86331343 "mm: remove
        /// VM_FAULT_WRITE" (6.1) removed it once nothing did. Simplification: every era's
        /// `do_wp_page` here returns it (the modern GUP ignores it).
        const WRITE = 0x0008;
        /// `VM_FAULT_RETRY` (0x0400): under `FAULT_FLAG_VMA_LOCK`, "this fault cannot be
        /// handled under the VMA lock": the arch handler retries it under `mmap_lock`.
        const RETRY = 0x0400;
    }
}

pub use crate::ops::vma_lock::FaultLock;

/// `find_vma`: the VMA of `mm` containing `va` (caller holds `mmap_lock`).
pub fn find_vma(w: &World, vmas: &[VmaId], va: u64) -> Option<VmaId> {
    vmas.iter()
        .copied()
        .find(|&v| w.vmas.get(v).info.get().contains(va))
}

/// `__pte_alloc`: make sure the PTE table covering `va` exists, populating the PMD slot under
/// the PMD lock (`pmd_install`, mm/memory.c: `ptl = pmd_lock(mm, pmd)`; allocated outside it,
/// installed if still `pmd_none`, freed otherwise). `Err(Oom)` also when the PMD is huge (no
/// PTE table to hand out: callers that may meet a huge PMD use [`pte_alloc_pmd`]).
pub fn pte_alloc(w: &World, mm: &Mm, mm_id: MmId, va: u64) -> Result<TableId, Error> {
    pte_alloc_pmd(w, mm, mm_id, va)?.ok_or(Error::Oom)
}

/// [`pte_alloc`] for a caller that may find the PMD huge: `Ok(None)` when it is (a THP fault
/// populated it first: `handle_pte_fault` then finds no PTE table and the access retries).
pub fn pte_alloc_pmd(w: &World, mm: &Mm, mm_id: MmId, va: u64) -> Result<Option<TableId>, Error> {
    let (slot, _) = w.pte_slot(va);
    if let Some(t) = mm.pmd_table(slot) {
        return Ok(Some(t));
    }
    let (tid, table) = w.tables.alloc().ok_or(Error::Oom)?;
    table.owner.set((mm_id, slot));
    table.share_count.store(1, Ordering::SeqCst);
    for e in &table.entries {
        e.store(0, Ordering::SeqCst);
    }
    let ptl = w.pmd_lockptr(mm).lock();
    let t = match mm.pmdp_get_lockless(slot) {
        crate::mm::Pmd::None => {
            mm.pmd[slot].store(tid.pack() + 1, Ordering::SeqCst);
            drop(ptl);
            w.trace("pmd_populate", mm_id, format_args!("slot {slot} = {tid}"));
            Some(tid)
        }
        existing => {
            drop(ptl);
            w.tables.free(tid);
            existing.table()
        }
    };
    Ok(t)
}

/// The arch fault handler (`do_user_addr_fault`, arch/x86/mm/fault.c) of a user access by
/// the hardware, 6.4+: first the per-VMA lock — `lock_vma_under_rcu` (the table's entry),
/// `access_error`, [`handle_mm_fault`] with `FAULT_FLAG_VMA_LOCK`, `vma_end_read` — and, if no
/// VMA could be read-locked or the handler returned `VM_FAULT_RETRY` (`VMA_LOCK_RETRY`, a
/// trace step), the `mmap_lock` path of [`do_user_addr_fault_v6_3`] ("lock_mmap:"). Returns
/// once the access may be retried; `Err` is a signal.
///
/// 6.4 drops the VMA lock after `handle_mm_fault` whatever it returned (`vma_end_read(vma)`
/// before `if (!(fault & VM_FAULT_RETRY))`): its handlers return `VM_FAULT_RETRY` with the
/// lock still held. (Later kernels let the handler drop it and skip `vma_end_read` on
/// `VM_FAULT_RETRY` / `VM_FAULT_COMPLETED`; not modelled.) An access error under the VMA lock
/// is not signalled from there: 6.4 drops the lock and lets the `mmap_lock` path decide.
pub fn do_user_addr_fault(w: &World, mm_id: MmId, va: u64, write: bool) -> Result<(), Error> {
    let _in_flight = w.fault_begin(mm_id); // observer bookkeeping for MADV_DONTNEED's I14
    let flags = if write {
        FaultFlags::WRITE
    } else {
        FaultFlags::empty()
    };
    if let Some(locked) = (w.kernel.fault.lock_vma_under_rcu)(w, mm_id, va) {
        let vma_id = locked.vma();
        if access_error(w, vma_id, write) {
            vma_end_read(w, locked);
        } else {
            let fault =
                handle_mm_fault(w, mm_id, vma_id, va, flags | FaultFlags::VMA_LOCK, &locked);
            vma_end_read(w, locked);
            match fault {
                Ok(f) if !f.contains(VmFault::RETRY) => return Ok(()),
                Err(e) => return Err(e),
                Ok(_) => w.trace(
                    "do_user_addr_fault: VMA_LOCK_RETRY",
                    format_args!("{mm_id} va {:#x}", va << 12),
                    vma_id,
                ),
            }
        }
    }
    lock_mmap(w, mm_id, va, flags)
}

/// The arch fault handler before per-VMA locks (≤6.3; and any kernel built without
/// `CONFIG_PER_VMA_LOCK`): `mmap_read_lock`, `find_vma`, `access_error` (a write to a VMA
/// without `VM_WRITE` is SIGSEGV), then `hugetlb_fault` or [`handle_mm_fault`].
pub fn do_user_addr_fault_v6_3(w: &World, mm_id: MmId, va: u64, write: bool) -> Result<(), Error> {
    let _in_flight = w.fault_begin(mm_id); // observer bookkeeping for MADV_DONTNEED's I14
    let flags = if write {
        FaultFlags::WRITE
    } else {
        FaultFlags::empty()
    };
    lock_mmap(w, mm_id, va, flags)
}

/// `lock_mmap:` of `do_user_addr_fault`: the fault under `mmap_lock` read.
fn lock_mmap(w: &World, mm_id: MmId, va: u64, flags: FaultFlags) -> Result<(), Error> {
    let write = flags.contains(FaultFlags::WRITE);
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
    let vma_id = find_vma(w, &map.vmas, va).ok_or(Error::Segv)?;
    if access_error(w, vma_id, write) {
        return Err(Error::Segv);
    }
    if w.vmas.get(vma_id).has(vm::HUGETLB) {
        return (w.kernel.fault.hugetlb_fault)(w, mm_id, vma_id, va, write, map);
    }
    handle_mm_fault(w, mm_id, vma_id, va, flags, &map)?;
    drop(map);
    Ok(())
}

/// `access_error` (arch/x86/mm/fault.c) for a user access: a write needs `VM_WRITE`, a read
/// `VM_READ` (the model's VMAs are all readable).
pub fn access_error(w: &World, vma_id: VmaId, write: bool) -> bool {
    write && !w.vmas.get(vma_id).has(vm::WRITE)
}

/// `handle_mm_fault(vma, address, flags, regs)`: resolve a fault at `va` of `vma`, the caller
/// holding `mmap_lock` for read or — with `FAULT_FLAG_VMA_LOCK` — the VMA read-locked
/// (`lock`, [`FaultLock`]) and having checked the access (`access_error`, or
/// GUP's `check_vma_flags`: a `FOLL_FORCE` write reaches here for a VMA without `VM_WRITE`).
/// Every handler is reached through the [`FaultOps`] table (`w.kernel.fault`).
/// Simplification: hugetlb VMAs are handled by the arch path only ([`do_user_addr_fault`]);
/// GUP does not reach them (`follow_hugetlb_page` is not modelled).
pub fn handle_mm_fault<'g, 'a: 'g>(
    w: &World,
    mm_id: MmId,
    vma_id: VmaId,
    va: u64,
    flags: FaultFlags,
    lock: impl Into<FaultLock<'g, 'a>>,
) -> Result<VmFault, Error> {
    let lock = lock.into();
    let mm = w.mms.get(mm_id);
    let vma = w.vmas.get(vma_id);
    let write = flags.contains(FaultFlags::WRITE);
    if vma.has(vm::HUGETLB) {
        return Err(Error::Segv);
    }
    if w.thp.load(std::sync::atomic::Ordering::SeqCst) {
        // __handle_mm_fault's PMD level (a world without THP VMAs has no huge PMD: skipped,
        // as zap_pmd_range's check is).
        if crate::ops::huge_memory::huge_pmd_fault(w, mm_id, vma_id, va, write, lock)?
            == crate::ops::huge_memory::HugeFault::Done
        {
            return Ok(VmFault::empty());
        }
    }
    if pte_alloc_pmd(w, mm, mm_id, va)?.is_none() {
        // The PMD turned huge under us (a racing THP fault): the access faults again.
        return Ok(VmFault::empty());
    }
    let (_, i) = w.pte_slot(va);
    // `pte_offset_map_nolock` (6.5+ `handle_pte_fault`): the table may have been retracted
    // since `__pte_alloc` saw it (khugepaged, without `mmap_lock`): then "return 0", and the
    // access faults again.
    let Some(vmf_pte) = pte_offset_map_nolock(w, mm_id, va) else {
        w.trace(
            "handle_pte_fault: !pte_offset_map_nolock, retry",
            format_args!("{mm_id} va {:#x}", va << 12),
            "",
        );
        return Ok(VmFault::empty());
    };
    // `orig_pte`: read without the PTL, re-checked under it by each handler.
    let orig = ptep_get_lockless(vmf_pte.table, i);
    drop(vmf_pte); // pte_unmap
    w.trace(
        "handle_pte_fault",
        format_args!("{mm_id} va {:#x}", va << 12),
        orig,
    );
    match orig {
        Pte::None => match vma.info.get().file {
            None => (w.kernel.fault.do_anonymous_page)(w, mm_id, vma_id, va, write),
            Some(_) => (w.kernel.fault.do_fault)(w, mm_id, vma_id, va, write),
        }
        .map(|()| VmFault::empty()),
        Pte::Migration { .. } => match lock {
            // do_swap_page → migration_entry_wait; it returns 0 once the wait is over, and only
            // then does the caller drop `mmap_lock` (the access re-faults).
            FaultLock::Mmap(map) => {
                (w.kernel.fault.migration_entry_wait)(w, mm_id, va, map);
                Ok(VmFault::empty())
            }
            // 6.4's do_swap_page under FAULT_FLAG_VMA_LOCK: `ret = VM_FAULT_RETRY; goto out;`
            // before it looks at the entry ("mm: prevent do_swap_page from handling page
            // faults under VMA lock", the per-VMA lock series, lore
            // 20230227173632.3292573-27-surenb@google.com): the wait happens under mmap_lock.
            FaultLock::Vma(_) => {
                w.trace(
                    "do_swap_page: FAULT_FLAG_VMA_LOCK",
                    format_args!("{mm_id} va {:#x}", va << 12),
                    "VM_FAULT_RETRY",
                );
                Ok(VmFault::RETRY)
            }
        },
        Pte::Swap { .. } => match lock {
            FaultLock::Mmap(_) => (w.kernel.fault.do_swap_page)(w, mm_id, vma_id, va, write, orig),
            // 6.4's do_swap_page under FAULT_FLAG_VMA_LOCK: VM_FAULT_RETRY before anything,
            // as for a migration entry above.
            FaultLock::Vma(_) => {
                w.trace(
                    "do_swap_page: FAULT_FLAG_VMA_LOCK",
                    format_args!("{mm_id} va {:#x}", va << 12),
                    "VM_FAULT_RETRY",
                );
                Ok(VmFault::RETRY)
            }
        },
        Pte::Present { write: false, .. } if write => {
            (w.kernel.fault.do_wp_page)(w, mm_id, vma_id, va, orig)
        }
        Pte::Present { .. } => Ok(VmFault::empty()),
    }
}

/// `do_anonymous_page`: a zeroed page, mapped under the PTL if the PTE is still none.
pub fn do_anonymous_page(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    write: bool,
) -> Result<(), Error> {
    mmap::anon_vma_prepare(w, vma_id)?;
    let pfn = page_alloc::alloc_page(w).ok_or(Error::Oom)?;
    map_new_anon_page(w, mm, vma_id, va, pfn, write)
}

/// Map a new anonymous page (already filled) at `va`: `page_add_new_anon_rmap`,
/// `folio_add_lru_vma` (mlocked if the VMA is VM_LOCKED), `set_pte_at` — or drop it if the
/// PTE was populated meanwhile (`!pte_none` under the PTL). Dirty if `write`; writable only
/// if the VMA has `VM_WRITE` (`maybe_mkwrite`: a `FOLL_FORCE` write's private copy in a
/// read-only VMA is mapped dirty and read-only).
pub fn map_new_anon_page(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    pfn: Pfn,
    write: bool,
) -> Result<(), Error> {
    let Some(pte) = pte_offset_map_lock(w, mm, va) else {
        page_alloc::put_page(w, pfn);
        return Ok(());
    };
    if !pte.get().is_none() {
        drop(pte);
        page_alloc::put_page(w, pfn);
        return Ok(());
    }
    w.page(pfn).flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
    rmap::page_add_new_anon_rmap(w, &pte, pfn, vma_id);
    mlock::lru_cache_add_inactive_or_unevictable(w, pfn, vma_id);
    set_new_pte(w, &pte, present(pfn, maybe_mkwrite(w, vma_id), write));
    drop(pte);
    Ok(())
}

/// `maybe_mkwrite`: whether a PTE made for a write in `vma` may be writable — only if the VMA
/// has `VM_WRITE`.
pub fn maybe_mkwrite(w: &World, vma: VmaId) -> bool {
    w.vmas.get(vma).has(vm::WRITE)
}

/// A present PTE of `pfn`, young; dirty if `dirty`.
pub fn present(pfn: Pfn, write: bool, dirty: bool) -> Pte {
    Pte::Present {
        pfn,
        write,
        dirty,
        young: true,
    }
}

/// `inc_mm_counter` + `set_pte_at`: install a new mapping in a PTE found empty under its PTL.
pub fn set_new_pte(w: &World, pte: &LockedPte<'_>, new: Pte) {
    w.mms
        .get(pte.mm())
        .rss
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    pte.set_pte_at(new);
}

/// `filemap_fault` (a page-cache file's `vm_ops->fault`): the page cache page at `index`, with
/// a reference and **locked** (VM_FAULT_LOCKED): the caller maps it and unlocks it. A missing page is allocated, read from the backing store and added to
/// the cache under `i_pages`.
///
/// A cache miss takes `mapping->invalidate_lock` shared (`filemap_invalidate_lock_shared`,
/// 5.15+) before creating the page, and keeps it — across `retry_find` if the page it meant to
/// add was added by someone else — until the page is locked and found uptodate, as mm/filemap.c
/// does; a hit on a cached page does not take it. Simplification: the model reads a new page
/// before adding it to the cache (the kernel adds a locked, !uptodate folio and reads it with
/// `filemap_read_folio`), so a cached page is always uptodate and the kernel's
/// "found but !uptodate" branch, which takes the lock too, never arises. hugetlbfs pages do not
/// come through here in the kernel (`hugetlb_fault` → `hugetlb_no_page`, serialised with hole
/// punch by `hugetlb_fault_mutex`; v6.x `hugetlbfs_punch_hole` takes `i_rwsem` and
/// `i_mmap_rwsem`, never `invalidate_lock`), so a hugetlbfs file's fault here takes no
/// `invalidate_lock` either.
///
/// Simplification: page-cache lookups take the `i_pages` lock; the kernel's
/// (`filemap_get_entry`) are RCU walks of the xarray.
///
/// After locking the page it checks `i_size` again, as `filemap_fault` does after the page is
/// locked and found uptodate (`max_idx = DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE)`; beyond
/// it: unlock, put, `VM_FAULT_SIGBUS`): a truncation that lowered `i_size` before the fault
/// locked the page evicts it under the same lock, so the fault either sees the new size or
/// maps a page the truncation will unmap (`truncate_cleanup_folio`).
pub fn filemap_fault(w: &World, file: FileId, index: u64) -> Result<LockedPage<'_>, Error> {
    filemap_fault_locked(w, file, index, true)
}

/// `filemap_fault` before 730633f0b7f9 "mm: Protect operations adding pages to page cache
/// with invalidate_lock" (Jan Kara, v5.15): a cache miss reads the block and adds the page
/// without `invalidate_lock`, so a hole punch may evict the cache and free the block between
/// the read and the add — "read / page fault / readahead can instantiate pages in page cache
/// with potentially stale data (if blocks get quickly reused)" (its message). The file
/// systems that had a lock of their own took it in their `->fault` wrapper (ext4's
/// `i_mmap_sem`, xfs's `MMAPLOCK`); this is the generic path without one.
pub fn filemap_fault_v5_14(w: &World, file: FileId, index: u64) -> Result<LockedPage<'_>, Error> {
    filemap_fault_locked(w, file, index, false)
}

/// The `filemap_fault` both eras share; `invalidate_lock` is what 730633f0b7f9 added.
fn filemap_fault_locked(
    w: &World,
    file: FileId,
    index: u64,
    invalidate_lock: bool,
) -> Result<LockedPage<'_>, Error> {
    let f = w.files.get(file);
    // `mapping_locked`: the shared invalidate_lock, once taken.
    let mut mapping_locked: Option<RwSemReadGuard<'_, ()>> = None;
    loop {
        let cached = f.i_pages.lock().pages[index as usize];
        if let Some(pfn) = cached {
            if !page_alloc::get_page_unless_zero(w, pfn) {
                // Frozen by migration, or freed: look again.
                crate::sync::yield_now();
                continue;
            }
            let page = w.page(pfn);
            let locked = lock_page(w, pfn);
            let still = f.i_pages.lock().pages[index as usize] == Some(pfn)
                && page.mapping() == Mapping::File(file);
            if !still {
                drop(locked);
                page_alloc::put_page(w, pfn);
                continue;
            }
            // filemap_invalidate_unlock_shared, if this is the page a miss waited for.
            drop(mapping_locked);
            return beyond_eof(w, file, index, locked);
        }
        // No page in the page cache at all.
        if mapping_locked.is_none() && !f.hugetlb && invalidate_lock {
            mapping_locked = Some(f.invalidate_lock.read());
            w.trace(
                "filemap_fault: filemap_invalidate_lock_shared",
                file,
                format_args!("index {index}"),
            );
        }
        let pfn = page_alloc::alloc_page(w).ok_or(Error::Oom)?;
        let page = w.page(pfn);
        if f.hugetlb {
            // A hugetlbfs page is a hugetlb folio (PageHuge) from birth: its lock is of the
            // hugetlb class, below `i_mmap_rwsem` (docs/MODEL.md §1).
            page.flags.fetch_or(pg::HUGETLB, Ordering::SeqCst);
        }
        let locked = trylock_page(w, pfn).expect("a new page is not locked by anyone");
        // The read (`filemap_read_folio`): the block's data, and the lab's note of the block.
        let block = f.block(index);
        page.block.store(block, std::sync::atomic::Ordering::SeqCst);
        race_window!("filemap_fault: block read, folio not yet in the page cache");
        for (c, d) in page.data.iter().enumerate() {
            d.store(
                f.backing[index as usize][c].load(std::sync::atomic::Ordering::SeqCst),
                Ordering::SeqCst,
            );
        }
        page.flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
        if !filemap_add_folio(w, file, index, pfn, pg::LRU) {
            drop(locked);
            page_alloc::put_page(w, pfn);
            continue;
        }
        w.trace(
            "filemap_add_folio",
            pfn,
            format_args!("{file} index {index}"),
        );
        drop(mapping_locked);
        return beyond_eof(w, file, index, locked);
    }
}

/// `filemap_fault`'s check of `i_size` with the page locked: SIGBUS beyond it.
fn beyond_eof<'w>(
    w: &'w World,
    file: FileId,
    index: u64,
    locked: LockedPage<'w>,
) -> Result<LockedPage<'w>, Error> {
    if index < w.files.get(file).i_size_read() {
        return Ok(locked);
    }
    w.trace(
        "filemap_fault: index >= max_idx, VM_FAULT_SIGBUS",
        locked.pfn(),
        format_args!("{file} index {index}"),
    );
    let pfn = locked.pfn();
    locked.unlock();
    page_alloc::put_page(w, pfn);
    Err(Error::Bus)
}

/// `__filemap_add_folio`: put the new, locked folio `pfn` at `index` of `file`'s page cache
/// under the `i_pages` lock, with the cache's reference (the caller keeps its own) and `flags`
/// (`PG_lru` for a page that goes on the LRU) set under the same lock. Returns false, with the
/// folio's `->mapping` cleared again, when the slot is taken (`-EEXIST`): the caller drops its
/// lock and reference and looks the cache up again.
pub fn filemap_add_folio(w: &World, file: FileId, index: u64, pfn: Pfn, flags: u32) -> bool {
    let page = w.page(pfn);
    page.index.store(index, Ordering::SeqCst);
    page.mapping
        .store(Mapping::File(file).encode(), Ordering::SeqCst);
    let mut cache = w.files.get(file).i_pages.lock();
    if cache.pages[index as usize].is_some() {
        drop(cache);
        page.mapping.store(0, Ordering::SeqCst);
        return false;
    }
    cache.pages[index as usize] = Some(pfn);
    page.refcount.fetch_add(1, Ordering::SeqCst);
    page.flags.fetch_or(flags, Ordering::SeqCst);
    true
}

/// The file and page index a file VMA maps at `va`; SIGBUS beyond the end of the file
/// (`filemap_fault`'s first `i_size_read`, before any lookup).
pub fn fault_file_index(w: &World, vma_id: VmaId, va: u64) -> Result<(FileId, u64), Error> {
    let info = w.vmas.get(vma_id).info.get();
    let file = info.file.expect("a file fault on a file VMA");
    let index = info.index_of(va);
    if index >= w.files.get(file).i_size_read() {
        return Err(Error::Bus);
    }
    Ok((file, index))
}

/// `do_fault`: a fault on an empty PTE of a file VMA — `do_read_fault`, `do_cow_fault` (a
/// write to a private mapping) or `do_shared_fault` (a write to a shared one), each through
/// the table.
pub fn do_fault(w: &World, mm: MmId, vma_id: VmaId, va: u64, write: bool) -> Result<(), Error> {
    fault_file_index(w, vma_id, va)?;
    if !write {
        (w.kernel.fault.do_read_fault)(w, mm, vma_id, va)
    } else if !w.vmas.get(vma_id).has(vm::SHARED) {
        (w.kernel.fault.do_cow_fault)(w, mm, vma_id, va)
    } else {
        (w.kernel.fault.do_shared_fault)(w, mm, vma_id, va)
    }
}

/// `do_read_fault`: the page from `vm_ops->fault` (the `filemap_fault` entry), locked, mapped
/// read-only by [`finish_fault`], then unlocked. A page that was not mapped (someone else
/// mapped the slot) loses the fault's reference.
pub fn do_read_fault(w: &World, mm: MmId, vma_id: VmaId, va: u64) -> Result<(), Error> {
    let (file, index) = fault_file_index(w, vma_id, va)?;
    let page = (w.kernel.fault.filemap_fault)(w, file, index)?;
    let mapped = finish_fault(w, mm, vma_id, va, &page, false);
    let pfn = page.pfn();
    page.unlock();
    if !mapped {
        page_alloc::put_page(w, pfn);
    }
    Ok(())
}

/// `do_shared_fault`: as [`do_read_fault`], mapped writable and dirty, then
/// `fault_dirty_shared_page` (the page is dirtied before it is unlocked).
pub fn do_shared_fault(w: &World, mm: MmId, vma_id: VmaId, va: u64) -> Result<(), Error> {
    let (file, index) = fault_file_index(w, vma_id, va)?;
    let page = (w.kernel.fault.filemap_fault)(w, file, index)?;
    let mapped = finish_fault(w, mm, vma_id, va, &page, true);
    let pfn = page.pfn();
    if mapped {
        // fault_dirty_shared_page
        rmap::set_page_dirty(w, pfn);
    }
    page.unlock();
    if !mapped {
        page_alloc::put_page(w, pfn);
    }
    Ok(())
}

/// `finish_fault` for a locked page-cache page: under the PTL, if the PTE is still none,
/// `page_add_file_rmap`, the old scheme's `mlock_vma_page` (the page is locked), and
/// `set_pte_at` (writable and dirty if `writable`). Returns whether it mapped the page (the
/// mapping then owns the fault's reference).
pub fn finish_fault(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    page: &LockedPage<'_>,
    writable: bool,
) -> bool {
    // 6.5's finish_fault: `if (pmd_none(*vmf->pmd)) pte_alloc(...)` before
    // `pte_offset_map_lock` — a table retracted while the page was being looked up (khugepaged,
    // without `mmap_lock`) is allocated again. The model looks only once the lock found no
    // table, so that the common path runs the loom operations it always did.
    let pte = match pte_offset_map_lock(w, mm, va) {
        Some(pte) => pte,
        None => {
            if pte_alloc(w, w.mms.get(mm), mm, va).is_err() {
                return false;
            }
            let Some(pte) = pte_offset_map_lock(w, mm, va) else {
                return false;
            };
            pte
        }
    };
    if !pte.get().is_none() {
        drop(pte);
        return false;
    }
    rmap::page_add_file_rmap(w, &pte, page.pfn(), vma_id);
    mlock::mlock_vma_page_locked(w, page, vma_id);
    set_new_pte(w, &pte, present(page.pfn(), writable, writable));
    drop(pte);
    true
}

/// `do_cow_fault`: a private copy of the file page (from the `filemap_fault` entry), mapped
/// as anonymous memory.
pub fn do_cow_fault(w: &World, mm: MmId, vma_id: VmaId, va: u64) -> Result<(), Error> {
    let (file, index) = fault_file_index(w, vma_id, va)?;
    mmap::anon_vma_prepare(w, vma_id)?;
    let new = page_alloc::alloc_page(w).ok_or(Error::Oom)?;
    let src = (w.kernel.fault.filemap_fault)(w, file, index)?;
    copy_data(w, src.pfn(), new);
    let src_pfn = src.pfn();
    src.unlock();
    page_alloc::put_page(w, src_pfn);
    map_new_anon_page(w, mm, vma_id, va, new, true)
}

/// `copy_user_highpage`: the contents of `from` into `to`.
pub fn copy_data(w: &World, from: Pfn, to: Pfn) {
    let (a, b) = (w.page(from), w.page(to));
    for (s, d) in a.data.iter().zip(&b.data) {
        d.store(s.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// `do_wp_page` (5.19+, 6c287605fd56 "mm: remember exclusively mapped anonymous pages with
/// PG_anon_exclusive", and `wp_can_reuse_anon_folio` as 6.5 split it out): a write to a
/// read-only present PTE. Shared mappings are made writable and dirty ([`wp_page_shared`]);
/// an anonymous page is reused under the PTL if it is `PageAnonExclusive`, or if
/// [`wp_can_reuse_anon_folio`] finds nobody else holds it; anything else is copied (the
/// `wp_page_copy` entry).
///
/// In the kernel `handle_pte_fault` calls it with the PTL held after `pte_same`; here it takes
/// the PTL and re-checks `pte_same` itself, which is the same critical section.
pub fn do_wp_page(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    orig: Pte,
) -> Result<VmFault, Error> {
    let Pte::Present { pfn, .. } = orig else {
        return Ok(VmFault::empty());
    };
    if w.vmas.get(vma_id).has(vm::SHARED) {
        return wp_page_shared(w, mm, va, pfn, orig);
    }
    let page = w.pages.slot(pfn.idx);
    if page.is_anon() {
        let Some(pte) = pte_offset_map_lock(w, mm, va) else {
            return Ok(VmFault::empty());
        };
        if pte.get() != orig {
            return Ok(VmFault::empty());
        }
        if page.test(pg::ANON_EXCLUSIVE) || wp_can_reuse_anon_folio(w, pfn, vma_id) {
            // if (!PageAnonExclusive(vmf->page)) SetPageAnonExclusive(vmf->page);
            page.test_set(pg::ANON_EXCLUSIVE);
            wp_page_reuse(w, &pte, vma_id, pfn);
            return Ok(VmFault::WRITE);
        }
        drop(pte);
    }
    (w.kernel.fault.wp_page_copy)(w, mm, vma_id, va, orig)
}

/// `wp_can_reuse_anon_folio` (mm/memory.c, 6.5+; the same lines inline in `do_wp_page` since
/// 6c287605fd56): an anonymous page that is not `PageAnonExclusive` — fork shared it once —
/// may still be reused if the caller's mapping holds the only reference: `folio_ref_count`
/// must be 1 before and after `folio_trylock` (no waiting: the PTL is held), and then
/// `folio_move_anon_rmap` makes it exclusive to this VMA's anon_vma. A GUP reference (a pipe's
/// vmsplice'd page) raises the count, so such a page is copied, never reused
/// (09854ba94c6a). Simplification: no swap cache and no LRU pagevecs (no
/// `lru_add_drain`), so the expected count is exactly 1.
pub fn wp_can_reuse_anon_folio(w: &World, pfn: Pfn, vma: VmaId) -> bool {
    let page = w.page(pfn);
    if page.refcount.load(Ordering::SeqCst) > 1 {
        return false;
    }
    let Some(locked) = trylock_page(w, pfn) else {
        return false;
    };
    if page.refcount.load(Ordering::SeqCst) != 1 {
        return false;
    }
    rmap::page_move_anon_rmap(w, &locked, vma);
    drop(locked);
    true
}

/// `do_wp_page` of 5.9–5.18 (09854ba94c6a "mm: do_wp_page() simplification"): an anonymous
/// page is reused only if its `page_count` is 1 — checked before and, with the page
/// trylocked, again with the mapcount — so a page anyone else holds a reference to (a GUP
/// reference included) is copied. No `PageAnonExclusive` (it did not exist), no
/// `page_move_anon_rmap` on this path.
pub fn do_wp_page_v5_18(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    orig: Pte,
) -> Result<VmFault, Error> {
    let Pte::Present { pfn, .. } = orig else {
        return Ok(VmFault::empty());
    };
    if w.vmas.get(vma_id).has(vm::SHARED) {
        return wp_page_shared(w, mm, va, pfn, orig);
    }
    let page = w.pages.slot(pfn.idx);
    if page.is_anon() {
        let Some(pte) = pte_offset_map_lock(w, mm, va) else {
            return Ok(VmFault::empty());
        };
        if pte.get() != orig {
            return Ok(VmFault::empty());
        }
        // if (PageKsm(page) || page_count(page) != 1) goto copy;
        if page.refcount.load(Ordering::SeqCst) == 1
            && let Some(locked) = trylock_page(w, pfn)
        {
            if page.mapcount.load(Ordering::SeqCst) == 1
                && page.refcount.load(Ordering::SeqCst) == 1
            {
                // "Ok, we've got the only map reference, and the only page count
                // reference, and the page is locked, it's dark out, and we're wearing
                // sunglasses. Hit it."
                drop(locked);
                wp_page_reuse(w, &pte, vma_id, pfn);
                return Ok(VmFault::WRITE);
            }
            drop(locked);
        }
        drop(pte);
    }
    (w.kernel.fault.wp_page_copy)(w, mm, vma_id, va, orig)
}

/// `do_wp_page` up to 5.8 (the shape of 4.x, 5.0–5.8): an anonymous page is reused if
/// `reuse_swap_page` says this is its only *mapping* — the mapcount, under the page lock,
/// whatever other references (a GUP reference) it has. The lock is `trylock_page` under the
/// PTL; if that fails, the fault takes a reference, drops the PTL, sleeps in `lock_page`,
/// retakes the PTL and gives up if the PTE changed meanwhile. On reuse with a total mapcount
/// of 1, `page_move_anon_rmap` moves the page to this VMA's anon_vma.
///
/// This is the reuse decision CVE-2020-29374 exploits ("COW can break either way"): a child
/// that took a GUP reference to a page it shares with its parent, then unmapped it, leaves
/// the parent a mapcount of 1, and the parent's next write reuses the page the child still
/// reads through its reference.
pub fn do_wp_page_v5_8(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    orig: Pte,
) -> Result<VmFault, Error> {
    let Pte::Present { pfn, .. } = orig else {
        return Ok(VmFault::empty());
    };
    if w.vmas.get(vma_id).has(vm::SHARED) {
        return wp_page_shared(w, mm, va, pfn, orig);
    }
    let page = w.pages.slot(pfn.idx);
    if page.is_anon() {
        let Some(mut pte) = pte_offset_map_lock(w, mm, va) else {
            return Ok(VmFault::empty());
        };
        if pte.get() != orig {
            return Ok(VmFault::empty());
        }
        let locked = match trylock_page(w, pfn) {
            Some(l) => l,
            None => {
                page_alloc::get_page(w, pfn);
                drop(pte);
                let l = lock_page(w, pfn);
                match pte_offset_map_lock(w, mm, va) {
                    Some(p) if p.get() == orig => pte = p,
                    _ => {
                        drop(l);
                        page_alloc::put_page(w, pfn);
                        return Ok(VmFault::empty());
                    }
                }
                page_alloc::put_page(w, pfn);
                l
            }
        };
        // reuse_swap_page(page, &total_map_swapcount): no swap here, so the mapcount.
        let total_mapcount = page.mapcount.load(Ordering::SeqCst);
        if total_mapcount <= 1 {
            if total_mapcount == 1 {
                rmap::page_move_anon_rmap(w, &locked, vma_id);
            }
            drop(locked);
            wp_page_reuse(w, &pte, vma_id, pfn);
            return Ok(VmFault::WRITE);
        }
        drop(locked);
        drop(pte);
    }
    (w.kernel.fault.wp_page_copy)(w, mm, vma_id, va, orig)
}

/// `wp_page_reuse`: under the PTL the fault holds, make the PTE young, dirty and — if the VMA
/// has `VM_WRITE` (`maybe_mkwrite`) — writable (`ptep_set_access_flags`). A `FOLL_FORCE`
/// write's reuse in a read-only VMA leaves the PTE dirty and read-only.
pub fn wp_page_reuse(w: &World, pte: &LockedPte<'_>, vma: VmaId, pfn: Pfn) {
    let new = present(pfn, maybe_mkwrite(w, vma), true);
    pte.set_pte_at(new);
    w.trace("wp_page_reuse", pte, new);
}

/// `wp_page_shared` (with `wp_pfn_shared`'s shape): a write to a read-only PTE of a shared
/// mapping — under the page lock and the PTL, if the PTE is still `orig`, make it writable and
/// dirty, then dirty the page (`fault_dirty_shared_page`).
pub fn wp_page_shared(w: &World, mm: MmId, va: u64, pfn: Pfn, orig: Pte) -> Result<VmFault, Error> {
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return Ok(VmFault::empty());
    }
    let locked = lock_page(w, pfn);
    let mut dirtied = false;
    if let Some(pte) = pte_offset_map_lock(w, mm, va)
        && pte.get() == orig
    {
        let new = present(pfn, true, true);
        pte.set_pte_at(new);
        w.trace("wp_page_shared", &pte, new);
        dirtied = true;
    }
    if dirtied {
        rmap::set_page_dirty(w, pfn);
    }
    drop(locked);
    page_alloc::put_page(w, pfn);
    Ok(VmFault::WRITE)
}

/// `wp_page_copy`: copy the page (a private file page, or an anonymous page `do_wp_page` may
/// not reuse), then under the PTL, if the PTE is
/// still `orig` (`pte_same`), map the copy — its PTE change bracketed by mmu-notifier
/// start/end with `MMU_NOTIFY_CLEAR` over the one page, and the old read-only translation
/// removed with `ptep_clear_flush` before the new PTE is set, as mm/memory.c does. The copy is
/// dirty, writable only with `VM_WRITE` (`maybe_mkwrite`), and exclusive
/// (`page_add_new_anon_rmap`). Returns `VM_FAULT_WRITE` once the copy is mapped.
pub fn wp_page_copy(
    w: &World,
    mm: MmId,
    vma_id: VmaId,
    va: u64,
    orig: Pte,
) -> Result<VmFault, Error> {
    let Pte::Present { pfn, .. } = orig else {
        return Ok(VmFault::empty());
    };
    mmap::anon_vma_prepare(w, vma_id)?;
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return Ok(VmFault::empty());
    }
    let Some(new) = page_alloc::alloc_page(w) else {
        page_alloc::put_page(w, pfn);
        return Err(Error::Oom);
    };
    copy_data(w, pfn, new);
    race_window!("wp_page_copy: page copied, PTE not yet replaced");
    // mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE) and
    // invalidate_range_start before the PTL: a secondary MMU that read the old PTE must not
    // install it after the change (its `mmu_invalidate_retry` sees the sequence move).
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm, va, va + 1);
    let mut replaced = false;
    if let Some(pte) = pte_offset_map_lock(w, mm, va) {
        if pte.get() == orig {
            w.page(new).flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
            rmap::page_add_new_anon_rmap(w, &pte, new, vma_id);
            mlock::lru_cache_add_inactive_or_unevictable(w, new, vma_id);
            // ptep_clear_flush, then set the new PTE: the old read-only translation must go.
            pte.ptep_clear_flush();
            // entry = maybe_mkwrite(pte_mkdirty(entry), vma)
            let copy = present(new, maybe_mkwrite(w, vma_id), true);
            pte.set_pte_at(copy);
            rmap::page_remove_rmap(w, pfn, vma_id);
            w.trace("wp_page_copy", &pte, copy);
            replaced = true;
        }
        drop(pte);
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    if replaced {
        // The old PTE's reference.
        page_alloc::put_page(w, pfn);
    } else {
        page_alloc::put_page(w, new);
    }
    page_alloc::put_page(w, pfn);
    Ok(if replaced {
        VmFault::WRITE
    } else {
        VmFault::empty()
    })
}

/// `migration_entry_wait` (v5.17+, ffa65753c431 "mm/migrate.c: rework migration_entry_wait()
/// to not take a pageref"): a fault met a migration entry. Re-check it under the PTL, then
/// `migration_entry_wait_on_locked`: queue on the migrating page's lock while the PTL is held,
/// drop the PTL and sleep until the page is unlocked, taking no reference. The caller retries
/// the access afterwards (I8).
///
/// `_map` is the proof that the caller holds `mmap_lock` for read, and keeps holding it until
/// the wait returns: in every era the waiter sleeps with `mmap_lock` (`do_swap_page` is
/// reached from `handle_mm_fault`, whose caller took it, and returns 0 only after the wait),
/// so munmap and exit cannot detach the VMA or free its page tables under a sleeping waiter.
/// A fault under the VMA lock never gets here: 6.4's `do_swap_page` returns `VM_FAULT_RETRY`
/// under `FAULT_FLAG_VMA_LOCK` before it looks at the entry ([`handle_mm_fault`]), and the
/// fault retries under `mmap_lock`. Simplification: from 6.5 the wait may happen under the VMA
/// read lock (which excludes munmap just as well); not modelled.
pub fn migration_entry_wait(w: &World, mm: MmId, va: u64, _map: &RwSemReadGuard<'_, MmMap>) {
    let Some((pte, pfn)) = migration_entry_seen(w, mm, va) else {
        return;
    };
    // The folio's lock: a THP's migration entries name its subpages, the split or migration
    // holds the head's lock (`pfn_swap_entry_folio`; ffc90cbb2970 "mm, thp: use head page in
    // __migration_entry_wait()"). An order-0 page is its own head.
    let page = w.pages.slot(w.compound_head(pfn).idx);
    if !page.lock().is_locked() {
        check::violation(
            check::Oracle::I6MigrationEntry,
            format!("migration entry for {pfn} found while the page is unlocked"),
        );
    }
    page.lock().wait_unlocked_releasing(pte);
    migration_entry_woken(w, va, pfn);
}

/// `migration_entry_wait` before ffa65753c431 (v5.16 and earlier, `__migration_entry_wait`):
/// the waiter takes a page reference under the PTL (`get_page_unless_zero`), drops the PTL
/// and sleeps on PG_locked holding it, then `put_page` — the pre-2018 shape
/// (`wait_on_page_locked`; 9a1ea439b16b narrowed the hold to "until queued" with
/// `put_and_wait_on_page_locked`, and v5.15 still took the reference). The model keeps the
/// reference across the whole sleep, the widest form of the window: the waiter's reference
/// makes concurrent migrations fail their refcount freeze.
pub fn migration_entry_wait_v5_16(w: &World, mm: MmId, va: u64, _map: &RwSemReadGuard<'_, MmMap>) {
    let Some((pte, pfn)) = migration_entry_seen(w, mm, va) else {
        return;
    };
    let page = w.pages.slot(w.compound_head(pfn).idx); // ffc90cbb2970: the head's lock
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return;
    }
    drop(pte);
    race_window!("__migration_entry_wait: holding a page reference");
    // put_and_wait_on_page_locked: the reference is held until the waiter is queued.
    page.lock().wait_unlocked();
    page_alloc::put_page(w, pfn);
    migration_entry_woken(w, va, pfn);
}

/// The first half of every era's `migration_entry_wait`: `pte_offset_map_lock`, and the PTE
/// still a migration entry (`is_migration_entry`) — the locked PTE and the page it names.
pub fn migration_entry_seen(w: &World, mm: MmId, va: u64) -> Option<(LockedPte<'_>, Pfn)> {
    let pte = pte_offset_map_lock(w, mm, va)?;
    let Pte::Migration { pfn, .. } = pte.get() else {
        return None;
    };
    w.trace(
        "migration_entry_wait",
        format_args!("va {:#x}", va << 12),
        pfn,
    );
    race_window!("migration_entry_wait: entry seen, not yet waiting");
    Some((pte, pfn))
}

/// The trace step of a migration waiter woken (either era).
pub fn migration_entry_woken(w: &World, va: u64, pfn: Pfn) {
    w.trace(
        "migration_entry_wait: woken",
        format_args!("va {:#x}", va << 12),
        pfn,
    );
}

/// The type of [`FaultOps::hugetlb_fault`]: `(w, mm, vma, va, write, mmap_lock held for
/// read)`.
pub type HugetlbFaultFn =
    fn(&World, MmId, VmaId, u64, bool, RwSemReadGuard<'_, MmMap>) -> Result<(), Error>;

/// The type of [`FaultOps::do_swap_page`]: `(w, mm, vma, va, write, orig_pte)`.
pub type DoSwapPageFn = fn(&World, MmId, VmaId, u64, bool, Pte) -> Result<VmFault, Error>;

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the
/// page-fault handlers `handle_mm_fault` dispatches to.
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`] (above the paths).
#[derive(Debug, Clone, Copy)]
pub struct FaultOps {
    /// The arch fault handler, `do_user_addr_fault` (arch/x86/mm/fault.c): `(w, mm, va,
    /// write)`. Default: [`do_user_addr_fault`] (6.4+, the per-VMA lock first); alternative:
    /// [`do_user_addr_fault_v6_3`] (`mmap_lock` only).
    pub do_user_addr_fault: fn(&World, MmId, u64, bool) -> Result<(), Error>,
    /// `lock_vma_under_rcu` (mm/memory.c, 6.4+): the VMA at an address, read-locked, or none.
    /// Default: [`crate::ops::lock_vma::lock_vma_under_rcu`] (`vma->anon_vma` checked under
    /// the VMA lock, 657b5146955e); alternative:
    /// [`crate::ops::lock_vma::lock_vma_under_rcu_v6_4`] (checked before locking).
    pub lock_vma_under_rcu: for<'w> fn(&'w World, MmId, u64) -> Option<VmaReadLocked<'w>>,
    /// `do_anonymous_page` (mm/memory.c): `(w, mm, vma, va, write)`.
    pub do_anonymous_page: fn(&World, MmId, VmaId, u64, bool) -> Result<(), Error>,
    /// `do_fault`: a file VMA's empty PTE, dispatching to the three below.
    pub do_fault: fn(&World, MmId, VmaId, u64, bool) -> Result<(), Error>,
    /// `do_read_fault`.
    pub do_read_fault: fn(&World, MmId, VmaId, u64) -> Result<(), Error>,
    /// `do_shared_fault`.
    pub do_shared_fault: fn(&World, MmId, VmaId, u64) -> Result<(), Error>,
    /// `do_cow_fault`.
    pub do_cow_fault: fn(&World, MmId, VmaId, u64) -> Result<(), Error>,
    /// `filemap_fault`, the page-cache files' `vm_ops->fault` (mm/filemap.c): the page at an
    /// index, referenced and locked.
    pub filemap_fault: fn(&World, FileId, u64) -> Result<LockedPage<'_>, Error>,
    /// `do_wp_page`: `(w, mm, vma, va, orig_pte)`. Alternatives: [`do_wp_page_v5_18`]
    /// (09854ba94c6a's page_count rule, before PageAnonExclusive) and [`do_wp_page_v5_8`]
    /// (`reuse_swap_page`'s mapcount rule, before 09854ba94c6a).
    pub do_wp_page: fn(&World, MmId, VmaId, u64, Pte) -> Result<VmFault, Error>,
    /// `wp_page_copy`: `(w, mm, vma, va, orig_pte)`.
    pub wp_page_copy: fn(&World, MmId, VmaId, u64, Pte) -> Result<VmFault, Error>,
    /// `migration_entry_wait` (and `migration_entry_wait_huge`). Alternative:
    /// [`migration_entry_wait_v5_16`] (before ffa65753c431).
    pub migration_entry_wait: fn(&World, MmId, u64, &RwSemReadGuard<'_, MmMap>),
    /// `hugetlb_fault` (mm/hugetlb.c), for a hugetlb VMA; it takes over the `mmap_lock` guard.
    pub hugetlb_fault: HugetlbFaultFn,
    /// `do_swap_page` (mm/memory.c) of a swap PTE: `(w, mm, vma, va, write, orig_pte)`.
    /// Default: [`crate::ops::do_swap_page::do_swap_page`] (6.8+, `swapcache_prepare` on the
    /// path that skips the swap cache, 13ddaf26be32); alternative:
    /// [`crate::ops::do_swap_page::do_swap_page_v6_7`] (without it).
    pub do_swap_page: DoSwapPageFn,
}
