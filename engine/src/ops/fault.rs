//! The fault path: `handle_mm_fault` → `handle_pte_fault` → `do_anonymous_page`, `do_fault`
//! (read, shared and COW), `do_wp_page`, and `migration_entry_wait`.
//!
//! Locks as in the kernel (docs/MODEL.md §2): `mmap_lock` read for the whole fault;
//! `anon_vma_prepare` takes the anon_vma rwsem and `page_table_lock` on first touch; file
//! faults hold the folio lock while mapping; the PTE is installed under the PTL after
//! re-checking it is still none.

use crate::mm::page::pg;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{Mapping, Mm, MmId, PageTable, Pfn, TableId, VmaId, World};
use crate::ops::{Error, mmap, page_alloc, rmap};
use crate::protocol::MigrationWait;
use crate::sync::{Ordering, RwSemReadGuard, SpinLockGuard};
use crate::{check, race_window};

/// `find_vma`: the VMA of `mm` containing `va` (caller holds `mmap_lock`).
pub fn find_vma(w: &World, vmas: &[VmaId], va: u64) -> Option<VmaId> {
    vmas.iter()
        .copied()
        .find(|&v| w.vmas.get(v).info.get().contains(va))
}

/// `__pte_alloc`: make sure the PTE table covering `va` exists, populating the PMD slot under
/// `mm->page_table_lock` (allocated outside it, installed if still empty, freed otherwise).
pub fn pte_alloc(w: &World, mm: &Mm, mm_id: MmId, va: u64) -> Result<TableId, Error> {
    let (slot, _) = w.pte_slot(va);
    if let Some(t) = mm.pmd_table(slot) {
        return Ok(t);
    }
    let (tid, table) = w.tables.alloc().ok_or(Error::Oom)?;
    table.owner.set((mm_id, slot));
    table.share_count.store(1, Ordering::SeqCst);
    for e in &table.entries {
        e.store(0, Ordering::SeqCst);
    }
    let ptl = mm.page_table_lock.lock();
    let t = match mm.pmd_table(slot) {
        Some(existing) => {
            drop(ptl);
            w.tables.free(tid);
            existing
        }
        None => {
            mm.pmd[slot].store(tid.pack() + 1, Ordering::SeqCst);
            drop(ptl);
            w.trace("pmd_populate", mm_id, format_args!("slot {slot} = {tid}"));
            tid
        }
    };
    Ok(t)
}

/// `pte_offset_map_lock`: the table covering `va` (if populated) and its PTL, taken.
pub fn pte_offset_map_lock<'w>(
    w: &'w World,
    mm: &'w Mm,
    va: u64,
) -> Option<(&'w PageTable, usize, SpinLockGuard<'w, ()>)> {
    let (slot, i) = w.pte_slot(va);
    let table = w.tables.get(mm.pmd_table(slot)?);
    let ptl = w.pte_lockptr(mm, table).lock();
    Some((table, i, ptl))
}

/// `handle_mm_fault`: resolve a fault at `va` of `mm` (a write fault if `write`). Returns once
/// the access may be retried; `Err` is a signal.
pub fn handle_mm_fault(w: &World, mm_id: MmId, va: u64, write: bool) -> Result<(), Error> {
    let _in_flight = w.fault_begin(mm_id); // observer bookkeeping for MADV_DONTNEED's I14
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
    let vma_id = find_vma(w, &map.vmas, va).ok_or(Error::Segv)?;
    let vma = w.vmas.get(vma_id);
    if write && !vma.has(vm::WRITE) {
        return Err(Error::Segv);
    }
    if vma.has(vm::HUGETLB) {
        return crate::ops::hugetlb::hugetlb_fault(w, mm_id, vma_id, va, write, map);
    }
    let tid = pte_alloc(w, mm, mm_id, va)?;
    let (_, i) = w.pte_slot(va);
    // `orig_pte`: read without the PTL, re-checked under it by each handler.
    let orig = Pte::decode(w.tables.get(tid).entries[i].load(Ordering::SeqCst));
    w.trace(
        "handle_pte_fault",
        format_args!("{mm_id} va {:#x}", va << 12),
        orig,
    );
    match orig {
        Pte::None => match vma.info.get().file {
            None => do_anonymous_page(w, mm, vma_id, va, write),
            Some(_) => do_fault(w, mm, vma_id, va, write),
        },
        Pte::Migration { .. } => {
            // do_swap_page → migration_entry_wait; it returns 0 once the wait is over, and only
            // then does the arch fault handler `mmap_read_unlock` (the access re-faults).
            migration_entry_wait(w, mm, va, &map);
            drop(map);
            Ok(())
        }
        Pte::Present { write: false, .. } if write => do_wp_page(w, mm, vma_id, va, orig),
        Pte::Present { .. } | Pte::Swap(_) => Ok(()),
    }
}

/// `do_anonymous_page`: a zeroed page, mapped under the PTL if the PTE is still none.
fn do_anonymous_page(w: &World, mm: &Mm, vma_id: VmaId, va: u64, write: bool) -> Result<(), Error> {
    mmap::anon_vma_prepare(w, vma_id)?;
    let pfn = page_alloc::alloc_page(w).ok_or(Error::Oom)?;
    map_new_anon_page(w, mm, vma_id, va, pfn, write)
}

/// Map a new anonymous page (already filled) at `va`: `page_add_new_anon_rmap`,
/// `folio_add_lru_vma` (mlocked if the VMA is VM_LOCKED), `set_pte_at` — or drop it if the
/// PTE was populated meanwhile.
fn map_new_anon_page(
    w: &World,
    mm: &Mm,
    vma_id: VmaId,
    va: u64,
    pfn: Pfn,
    write: bool,
) -> Result<(), Error> {
    let Some((table, i, ptl)) = pte_offset_map_lock(w, mm, va) else {
        page_alloc::put_page(w, pfn);
        return Ok(());
    };
    if !Pte::decode(table.entries[i].load(Ordering::SeqCst)).is_none() {
        drop(ptl);
        page_alloc::put_page(w, pfn);
        return Ok(());
    }
    w.page(pfn).flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
    rmap::page_add_new_anon_rmap(w, &ptl, pfn, vma_id, va);
    crate::ops::mlock::lru_cache_add_inactive_or_unevictable(w, pfn, vma_id);
    let pte = Pte::Present {
        pfn,
        write: true,
        dirty: write,
        young: true,
    };
    set_pte_at(w, &ptl, mm, table, i, va, pte);
    drop(ptl);
    Ok(())
}

/// `inc_mm_counter` + `set_pte_at`: install a new mapping in an empty PTE, under its PTL.
fn set_pte_at(
    w: &World,
    _ptl: &SpinLockGuard<'_, ()>,
    mm: &Mm,
    table: &PageTable,
    i: usize,
    va: u64,
    pte: Pte,
) {
    mm.rss.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    table.entries[i].store(pte.encode(), Ordering::SeqCst);
    w.trace("set_pte_at", format_args!("va {:#x}", va << 12), pte);
}

/// `filemap_fault`: the page cache page at `index`, with a reference and **locked**
/// (VM_FAULT_LOCKED). A missing page is allocated, read from the backing store and added to
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
pub fn filemap_fault(w: &World, file: crate::mm::FileId, index: u64) -> Result<Pfn, Error> {
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
            let guard = page.lock().lock();
            let still = f.i_pages.lock().pages[index as usize] == Some(pfn)
                && page.mapping() == Mapping::File(file);
            if !still {
                drop(guard);
                page_alloc::put_page(w, pfn);
                continue;
            }
            guard.into_raw();
            // filemap_invalidate_unlock_shared, if this is the page a miss waited for.
            drop(mapping_locked);
            return Ok(pfn);
        }
        // No page in the page cache at all.
        if mapping_locked.is_none() && !f.hugetlb {
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
        let guard = page
            .lock()
            .try_lock()
            .expect("a new page is not locked by anyone");
        for (c, d) in page.data.iter().enumerate() {
            d.store(
                f.backing[index as usize][c].load(std::sync::atomic::Ordering::SeqCst),
                Ordering::SeqCst,
            );
        }
        page.flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
        if !filemap_add_folio(w, file, index, pfn, pg::LRU) {
            drop(guard);
            page_alloc::put_page(w, pfn);
            continue;
        }
        w.trace(
            "filemap_add_folio",
            pfn,
            format_args!("{file} index {index}"),
        );
        guard.into_raw();
        drop(mapping_locked);
        return Ok(pfn);
    }
}

/// `__filemap_add_folio`: put the new, locked folio `pfn` at `index` of `file`'s page cache
/// under the `i_pages` lock, with the cache's reference (the caller keeps its own) and `flags`
/// (`PG_lru` for a page that goes on the LRU) set under the same lock. Returns false, with the
/// folio's `->mapping` cleared again, when the slot is taken (`-EEXIST`): the caller drops its
/// lock and reference and looks the cache up again.
pub fn filemap_add_folio(
    w: &World,
    file: crate::mm::FileId,
    index: u64,
    pfn: Pfn,
    flags: u32,
) -> bool {
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

/// `do_fault`: `do_read_fault`, `do_shared_fault` or `do_cow_fault`.
fn do_fault(w: &World, mm: &Mm, vma_id: VmaId, va: u64, write: bool) -> Result<(), Error> {
    let vma = w.vmas.get(vma_id);
    let info = vma.info.get();
    let file = info.file.expect("do_fault on a file VMA");
    let index = info.index_of(va);
    if index as usize >= w.files.get(file).nr_pages() {
        return Err(Error::Bus);
    }
    let shared = vma.has(vm::SHARED);
    if write && !shared {
        return do_cow_fault(w, mm, vma_id, va, file, index);
    }
    let pfn = filemap_fault(w, file, index)?;
    let page = w.page(pfn);
    let lock = page.lock();
    // finish_fault: map under the PTL, unless someone else mapped the slot meanwhile.
    let Some((table, i, ptl)) = pte_offset_map_lock(w, mm, va) else {
        lock.unlock_unowned();
        page_alloc::put_page(w, pfn);
        return Ok(());
    };
    if !Pte::decode(table.entries[i].load(Ordering::SeqCst)).is_none() {
        drop(ptl);
        lock.unlock_unowned();
        page_alloc::put_page(w, pfn);
        return Ok(());
    }
    rmap::page_add_file_rmap(w, &ptl, pfn, vma_id);
    crate::ops::mlock::mlock_vma_page_locked(w, pfn, vma_id);
    let writable = shared && write;
    let pte = Pte::Present {
        pfn,
        write: writable,
        dirty: writable,
        young: true,
    };
    set_pte_at(w, &ptl, mm, table, i, va, pte);
    drop(ptl);
    if writable {
        // fault_dirty_shared_page
        rmap::set_page_dirty(w, pfn);
    }
    lock.unlock_unowned();
    Ok(())
}

/// `do_cow_fault`: a private copy of the file page, mapped as anonymous memory.
fn do_cow_fault(
    w: &World,
    mm: &Mm,
    vma_id: VmaId,
    va: u64,
    file: crate::mm::FileId,
    index: u64,
) -> Result<(), Error> {
    mmap::anon_vma_prepare(w, vma_id)?;
    let new = page_alloc::alloc_page(w).ok_or(Error::Oom)?;
    let src = filemap_fault(w, file, index)?;
    copy_data(w, src, new);
    w.page(src).lock().unlock_unowned();
    page_alloc::put_page(w, src);
    map_new_anon_page(w, mm, vma_id, va, new, true)
}

fn copy_data(w: &World, from: Pfn, to: Pfn) {
    let (a, b) = (w.page(from), w.page(to));
    for (s, d) in a.data.iter().zip(&b.data) {
        d.store(s.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// `do_wp_page`: a write to a read-only present PTE. Shared file pages are made writable and
/// dirty (`wp_page_shared`, under the page lock); private file pages are copied
/// (`wp_page_copy`, its PTE change bracketed by mmu-notifier start/end with
/// `MMU_NOTIFY_CLEAR` over the one page, as mm/memory.c does); exclusive anonymous pages are
/// reused (`wp_page_reuse`).
fn do_wp_page(w: &World, mm: &Mm, vma_id: VmaId, va: u64, orig: Pte) -> Result<(), Error> {
    let vma = w.vmas.get(vma_id);
    let Pte::Present { pfn, .. } = orig else {
        return Ok(());
    };
    let page = w.pages.slot(pfn.idx);
    if vma.has(vm::SHARED) {
        if !page_alloc::get_page_unless_zero(w, pfn) {
            return Ok(());
        }
        let lock = w.page(pfn).lock().lock();
        let mut dirtied = false;
        if let Some((table, i, _ptl)) = pte_offset_map_lock(w, mm, va) {
            let raw = table.entries[i].load(Ordering::SeqCst);
            if Pte::decode(raw) == orig {
                let pte = Pte::Present {
                    pfn,
                    write: true,
                    dirty: true,
                    young: true,
                };
                table.entries[i].store(pte.encode(), Ordering::SeqCst);
                w.trace("wp_page_shared", format_args!("va {:#x}", va << 12), pte);
                dirtied = true;
            }
        }
        if dirtied {
            rmap::set_page_dirty(w, pfn);
        }
        drop(lock);
        page_alloc::put_page(w, pfn);
        return Ok(());
    }
    if page.is_anon() {
        if let Some((table, i, _ptl)) = pte_offset_map_lock(w, mm, va)
            && Pte::decode(table.entries[i].load(Ordering::SeqCst)) == orig
        {
            let pte = Pte::Present {
                pfn,
                write: true,
                dirty: true,
                young: true,
            };
            table.entries[i].store(pte.encode(), Ordering::SeqCst);
            w.trace("wp_page_reuse", format_args!("va {:#x}", va << 12), pte);
        }
        return Ok(());
    }
    // wp_page_copy of a private file mapping.
    mmap::anon_vma_prepare(w, vma_id)?;
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return Ok(());
    }
    let Some(new) = page_alloc::alloc_page(w) else {
        page_alloc::put_page(w, pfn);
        return Err(Error::Oom);
    };
    copy_data(w, pfn, new);
    // mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE) and
    // invalidate_range_start before the PTL: a secondary MMU that read the old PTE must not
    // install it after the change (its `mmu_invalidate_retry` sees the sequence move).
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, vma.info.get().mm, va, va + 1);
    let mut replaced = false;
    if let Some((table, i, ptl)) = pte_offset_map_lock(w, mm, va) {
        if Pte::decode(table.entries[i].load(Ordering::SeqCst)) == orig {
            w.page(new).flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
            rmap::page_add_new_anon_rmap(w, &ptl, new, vma_id, va);
            crate::ops::mlock::lru_cache_add_inactive_or_unevictable(w, new, vma_id);
            // ptep_clear_flush, then set the new PTE: the old read-only translation must go.
            crate::ops::pgtable::ptep_clear_flush(
                w,
                &ptl,
                vma.info.get().mm,
                va,
                &table.entries[i],
            );
            let pte = Pte::Present {
                pfn: new,
                write: true,
                dirty: true,
                young: true,
            };
            table.entries[i].store(pte.encode(), Ordering::SeqCst);
            rmap::page_remove_rmap(w, pfn, vma_id);
            w.trace("wp_page_copy", format_args!("va {:#x}", va << 12), pte);
            replaced = true;
        }
        drop(ptl);
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    if replaced {
        // The old PTE's reference.
        page_alloc::put_page(w, pfn);
    } else {
        page_alloc::put_page(w, new);
    }
    page_alloc::put_page(w, pfn);
    Ok(())
}

/// `migration_entry_wait`: a fault met a migration entry. Re-check it under the PTL, then wait
/// for the migrating page's lock to be released — v5.17+ (ffa65753c431,
/// `migration_entry_wait_on_locked`) by queueing while the PTL is held and taking no
/// reference; v5.15 by taking a reference, dropping the PTL and `put_and_wait_on_page_locked`.
/// The caller retries the access afterwards (I8).
///
/// `_map` is the proof that the caller holds `mmap_lock` for read, and keeps holding it until
/// the wait returns: in every era the waiter sleeps with `mmap_lock` (`do_swap_page` is
/// reached from `handle_mm_fault`, whose caller took it, and returns 0 only after the wait),
/// so munmap and exit cannot detach the VMA or free its page tables under a sleeping waiter.
/// Simplification: the model has no per-VMA locks; a 6.4+ fault under the VMA lock either
/// retried under `mmap_lock` before reaching here (`do_swap_page`'s `FAULT_FLAG_VMA_LOCK`
/// bail-out) or sleeps holding the VMA read lock, which excludes munmap just as well.
pub fn migration_entry_wait(
    w: &World,
    mm: &Mm,
    va: u64,
    _map: &RwSemReadGuard<'_, crate::mm::mm_struct::MmMap>,
) {
    let Some((table, i, ptl)) = pte_offset_map_lock(w, mm, va) else {
        return;
    };
    let Pte::Migration { pfn, .. } = Pte::decode(table.entries[i].load(Ordering::SeqCst)) else {
        return;
    };
    let page = w.pages.slot(pfn.idx);
    w.trace(
        "migration_entry_wait",
        format_args!("va {:#x}", va << 12),
        pfn,
    );
    race_window!("migration_entry_wait: entry seen, not yet waiting");
    match w.kernel.protocol.migration_wait {
        MigrationWait::OnLocked => {
            if !page.lock().is_locked() {
                check::violation(
                    check::Oracle::I6MigrationEntry,
                    format!("migration entry for {pfn} found while the page is unlocked"),
                );
            }
            page.lock().wait_unlocked_releasing(ptl);
        }
        MigrationWait::TakesRef => {
            if !page_alloc::get_page_unless_zero(w, pfn) {
                return;
            }
            drop(ptl);
            race_window!("__migration_entry_wait: holding a page reference");
            // put_and_wait_on_page_locked: the reference is held until the waiter is queued.
            page.lock().wait_unlocked();
            page_alloc::put_page(w, pfn);
        }
    }
    w.trace(
        "migration_entry_wait: woken",
        format_args!("va {:#x}", va << 12),
        pfn,
    );
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the page-fault handlers.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultOps {}
