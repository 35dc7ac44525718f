//! `shrink_folio_list` (mm/vmscan.c, 6.1–6.6; `shrink_page_list` before 6.0): reclaim of a
//! batch of folios isolated from the LRU, each with the isolation's reference.
//!
//! For each folio: `folio_trylock` (busy: keep); `!folio_evictable` → activate;
//! `folio_check_references` (the rmap walk [`folio_referenced`] with `rwc.try_lock`;
//! contended → keep); `try_to_unmap(folio, TTU_BATCH_FLUSH)` — the PTEs cleared, their TLB
//! flushes deferred to the task's batch ([`crate::ops::tlb_ubc`]); if dirty,
//! `try_to_unmap_flush_dirty` then `pageout`; `__remove_mapping` (the refcount frozen under
//! `i_pages` *before* the dirty test, as 6.x: "the folio could be redirtied through a stale
//! TLB entry or by a GUP user until the refcount is frozen"); the folio unlocked and queued on
//! `free_folios`. At the end `try_to_unmap_flush` and only then `free_unref_page_list`: no
//! folio is freed while a deferred flush could still leave a CPU a translation of it (I3).
//!
//! An anonymous (swap-backed) folio takes the swap path of the same function: `add_to_swap`
//! unless it is in the swap cache already (no slot: `activate_locked_split`); `try_to_unmap`
//! turns each PTE into a swap entry (`try_to_unmap_one`'s anonymous branch); `pageout` →
//! `swap_writepage` writes it to its slot (after `try_to_unmap_flush_dirty`); and
//! `__remove_mapping` of the swap address space deletes it from the swap cache
//! (`__delete_from_swap_cache` under the cache's `i_pages`, then `put_swap_folio`).
//!
//! Simplifications: an anonymous THP is activated, not split (`split_folio_to_list` is not
//! modelled for reclaim); a lazyfree folio (anonymous, !PG_swapbacked: MADV_FREE) does not
//! exist in the model; `vm_swap_full` / `mem_cgroup_swap_full` are false. A dirty file folio is written by
//! `pageout` whoever reclaims (the kernel leaves it to the flushers unless kswapd meets it
//! again with PG_reclaim set). `pageout` is synchronous ([`mkclean::writeback_locked`]):
//! the folio is never under writeback when `__remove_mapping` looks. No demotion, no THP
//! split, no memcg.

use crate::check::{self, Oracle};
use crate::mm::page::pg;
use crate::mm::page::{Compound, Page};
use crate::mm::swap::SwpEntry;
use crate::mm::{FileId, Mapping, Pfn, World};
use crate::ops::folio_referenced::folio_referenced;
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::ttu::{TTU_BATCH_FLUSH, TtuFlags, try_to_unmap};
use crate::ops::{free_swap, mkclean, page_alloc, page_io, swap_state, swapfile, tlb_ubc};
use crate::race_window;
use crate::sync::Ordering;

/// `struct scan_control`, as far as the model reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanControl {
    /// `ignore_references` (`reclaim_pages`'s callers and MADV_PAGEOUT cleared the accessed
    /// bits themselves): skip `folio_check_references`.
    pub ignore_references: bool,
}

/// `enum folio_references`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolioReferences {
    /// `FOLIOREF_RECLAIM`.
    Reclaim,
    /// `FOLIOREF_RECLAIM_CLEAN`: reclaim only if clean.
    ReclaimClean,
    /// `FOLIOREF_KEEP`: back on the inactive list.
    Keep,
    /// `FOLIOREF_ACTIVATE`: to the active list.
    Activate,
}

/// `folio_check_references` (mm/vmscan.c, 6.x): `folio_referenced` (-1 when the rmap lock was
/// contended: keep, "rotate"), then `folio_test_clear_referenced`. A folio whose PTEs were
/// referenced is marked PG_referenced and activated if it was referenced before too (or by
/// more than one PTE), else kept — "All mapped folios start out with page table references
/// from the instantiating fault, so we need to look twice if a mapped file/anon folio is used
/// more than once" (anonymous folios too since b518154e59aa, "mm/vmscan: protect the
/// workingset on anonymous LRU", 5.9). An unreferenced folio is reclaimed, only if clean when
/// PG_referenced was set and it is file LRU (`folio_is_file_lru`).
pub fn folio_check_references(w: &World, page: &LockedPage<'_>) -> FolioReferences {
    let pfn = page.pfn();
    let referenced_ptes = folio_referenced(w, page);
    let referenced_folio = w.page(pfn).test_clear(pg::REFERENCED);
    let r = if referenced_ptes == -1 {
        FolioReferences::Keep
    } else if referenced_ptes > 0 {
        w.page(pfn).test_set(pg::REFERENCED);
        if referenced_folio || referenced_ptes > 1 {
            FolioReferences::Activate
        } else {
            FolioReferences::Keep
        }
    } else if referenced_folio && !w.page(pfn).test(pg::SWAPBACKED) {
        FolioReferences::ReclaimClean
    } else {
        FolioReferences::Reclaim
    };
    w.trace(
        "folio_check_references",
        pfn,
        format_args!("{r:?} ({referenced_ptes} ptes)"),
    );
    r
}

/// What became of one folio of the batch: the label `shrink_folio_list`'s loop body jumps to.
pub(crate) enum Fate<'w> {
    /// `keep_locked`: back to the list it came from.
    Keep(LockedPage<'w>),
    /// `keep`: the same, the folio already unlocked (`pageout` unlocked it).
    KeepUnlocked(Pfn),
    /// `activate_locked`: to the active list (PG_active), unless mlocked.
    Activate(LockedPage<'w>),
    /// `free_it`: off its mapping, to be freed after the batch's flush.
    Free(LockedPage<'w>),
}

/// `shrink_folio_list(folio_list, pgdat, sc, ...)`: reclaim what it can of `folios` (each
/// isolated, with the isolation's reference). Returns how many were freed and the folios to
/// put back (`ret_folios`, for `move_folios_to_lru`).
pub fn shrink_folio_list(w: &World, folios: Vec<Pfn>, sc: &ScanControl) -> (usize, Vec<Pfn>) {
    let mut ret = Vec::new();
    let mut free_folios = Vec::new();
    for pfn in folios {
        let Some(locked) = trylock_page(w, pfn) else {
            w.trace("shrink_folio_list: folio_trylock failed", pfn, "keep");
            ret.push(pfn);
            continue;
        };
        let fate = shrink_folio_locked(w, locked, sc, TTU_BATCH_FLUSH);
        settle(w, fate, &mut ret, &mut free_folios);
    }
    // "try_to_unmap_flush(); free_unref_page_list(&free_folios);"
    race_window!("shrink_folio_list: folios off the page cache, batch not yet flushed");
    tlb_ubc::try_to_unmap_flush(w);
    let reclaimed = free_folios.len();
    for pfn in free_folios {
        page_alloc::put_page(w, pfn);
    }
    (reclaimed, ret)
}

/// The labels at the end of `shrink_folio_list`'s loop body: `free_it` queues the (unlocked)
/// folio on `free_folios`; `activate_locked` — "Not a candidate for swapping, so reclaim swap
/// space": `folio_free_swap` of a swap-cache folio that is mlocked (`mem_cgroup_swap_full` is
/// false in the model) — marks an evictable folio active, then `keep_locked` unlocks and
/// `keep` queues it on `ret_folios`.
pub(crate) fn settle(w: &World, fate: Fate<'_>, ret: &mut Vec<Pfn>, free_folios: &mut Vec<Pfn>) {
    match fate {
        Fate::Free(locked) => {
            let pfn = locked.pfn();
            locked.unlock();
            free_folios.push(pfn);
        }
        Fate::Activate(locked) => {
            let pfn = locked.pfn();
            let page = w.page(pfn);
            // "if (folio_test_swapcache(folio) && (mem_cgroup_swap_full(folio) ||
            // folio_test_mlocked(folio))) folio_free_swap(folio);" then "if
            // (!folio_test_mlocked(folio)) folio_set_active(folio);" (PG_mlocked read once).
            let mlocked = page.test(pg::MLOCKED);
            if mlocked && page.test(pg::SWAPCACHE) {
                free_swap::folio_free_swap(w, &locked);
            }
            if !mlocked {
                page.test_set(pg::ACTIVE);
            }
            locked.unlock();
            ret.push(pfn);
        }
        Fate::Keep(locked) => {
            let pfn = locked.pfn();
            locked.unlock();
            ret.push(pfn);
        }
        Fate::KeepUnlocked(pfn) => ret.push(pfn),
    }
}

/// One folio of [`shrink_folio_list`], locked and isolated: the loop body up to its labels
/// (`ttu_flags`: `TTU_BATCH_FLUSH` from reclaim); [`settle`] carries out its verdict.
pub(crate) fn shrink_folio_locked<'w>(
    w: &'w World,
    locked: LockedPage<'w>,
    sc: &ScanControl,
    ttu_flags: TtuFlags,
) -> Fate<'w> {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    // if (unlikely(!folio_evictable(folio))) goto activate_locked;
    if page.test(pg::MLOCKED) || page.test(pg::UNEVICTABLE) {
        return Fate::Activate(locked);
    }
    if page.test(pg::WRITEBACK) {
        return Fate::Keep(locked);
    }
    let references = if sc.ignore_references {
        FolioReferences::Reclaim
    } else {
        folio_check_references(w, &locked)
    };
    match references {
        FolioReferences::Activate => return Fate::Activate(locked),
        FolioReferences::Keep => return Fate::Keep(locked),
        FolioReferences::Reclaim | FolioReferences::ReclaimClean => {}
    }
    let mapping = match page.mapping() {
        Mapping::File(f) => AddressSpace::File(f, page.index.load(Ordering::SeqCst)),
        // "Anonymous process memory has backing store? Try to allocate it some swap space
        // here." (folio_test_anon && folio_test_swapbacked; every anonymous folio of the
        // model is swap-backed.)
        Mapping::Anon(_) => {
            if !page.test(pg::SWAPCACHE) {
                // "if (folio_maybe_dma_pinned(folio)) goto keep_locked;"
                if page.maybe_dma_pinned() {
                    return Fate::Keep(locked);
                }
                // folio_test_large: split_folio_to_list is not modelled for reclaim.
                if !matches!(page.compound.get(), Compound::Single) {
                    return Fate::Activate(locked);
                }
                // "if (!add_to_swap(folio)) ... goto activate_locked_split;"
                if !swap_state::add_to_swap(w, &locked) {
                    return Fate::Activate(locked);
                }
            }
            AddressSpace::SwapCache
        }
        // Truncated meanwhile: the truncation owns it now.
        Mapping::None => return Fate::Keep(locked),
    };
    // "The folio is mapped into the page tables of one or more processes. Try to unmap it
    // here." With TTU_BATCH_FLUSH: the flushes go to the task's batch. "if
    // (folio_mapped(folio)) goto activate_locked;"
    if w.folio_mapped(pfn) && !try_to_unmap(w, &locked, ttu_flags) {
        return Fate::Activate(locked);
    }
    race_window!("shrink_folio_list: unmapped with the TLB flush deferred, not yet flushed");
    let locked = if page.test(pg::DIRTY) {
        if references == FolioReferences::ReclaimClean {
            return Fate::Keep(locked);
        }
        // "Folio is dirty. Flush the TLB if a writable entry potentially exists to avoid CPU
        // writes after I/O starts and then write it out here."
        tlb_ubc::try_to_unmap_flush_dirty(w);
        race_window!("shrink_folio_list: dirty batch flushed, pageout not yet started");
        match mapping {
            AddressSpace::File(file, index) => {
                w.trace("pageout", pfn, format_args!("{file} index {index}"));
                mkclean::writeback_locked(w, file, index, &locked);
                locked
            }
            AddressSpace::SwapCache => match pageout_swap(w, locked) {
                Some(locked) => locked,
                None => return Fate::KeepUnlocked(pfn),
            },
        }
    } else {
        locked
    };
    if __remove_mapping(w, mapping, &locked) {
        Fate::Free(locked)
    } else {
        Fate::Keep(locked)
    }
}

/// `pageout(folio, swap_address_space(folio->swap), ...)` of a dirty, unmapped swap-cache
/// folio, and `shrink_folio_list`'s `PAGE_SUCCESS` case after it: `folio_clear_dirty_for_io`,
/// `->writepage` = `swap_writepage`, which first gives the slot up if no swap PTE names it
/// any more ("if (folio_free_swap(folio)) { folio_unlock(folio); return 0; }" — the folio is
/// dirtied again) and otherwise writes it and unlocks it. Back in `shrink_folio_list`: "if
/// (folio_test_writeback(folio)) goto keep; if (folio_test_dirty(folio)) goto keep;" — "A
/// synchronous write - probably a ramdisk. Go ahead and try to reclaim the folio": `if
/// (!folio_trylock(folio)) goto keep;` and `keep_locked` if it was redirtied or is under
/// writeback again. Between the unlock and the trylock a fault may map the folio from the
/// swap cache (its `__remove_mapping` then finds the fault's reference). `None`: `keep`.
fn pageout_swap<'w>(w: &'w World, locked: LockedPage<'w>) -> Option<LockedPage<'w>> {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    // folio_clear_dirty_for_io (the folio is unmapped: no PTE to clean).
    page.test_clear(pg::DIRTY);
    if free_swap::folio_free_swap(w, &locked) {
        locked.unlock();
        return None;
    }
    let entry = page.swap.load(Ordering::SeqCst) as SwpEntry;
    w.trace("pageout", pfn, format_args!("swap slot {entry}"));
    page_io::swap_writepage(w, locked, entry);
    // PAGE_SUCCESS.
    if page.test(pg::WRITEBACK) || page.test(pg::DIRTY) {
        return None;
    }
    let locked = trylock_page(w, pfn)?;
    Some(locked)
}

/// The `struct address_space` a folio is removed from: a file's page cache at an index, or
/// the swap cache (`swap_address_space(folio->swap)`, the slot in `folio->swap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSpace {
    /// A file's `i_pages` at `index`.
    File(FileId, u64),
    /// The swap cache's `i_pages`.
    SwapCache,
}

/// `__remove_mapping(mapping, folio, reclaimed = true, ...)` (mm/vmscan.c, 6.x), the folio
/// locked: under `i_pages`, freeze the refcount at the expected count (the cache's plus the
/// isolation's: `folio_ref_freeze(folio, 1 + nr)`) — *then* test dirty, unfreezing if it was
/// redirtied — and delete the folio from the cache: `__filemap_remove_folio` for a file,
/// `__delete_from_swap_cache` then (after `xa_unlock_irq`) `put_swap_folio` for the swap
/// cache. On success the folio's count is the isolation's reference again (the kernel's
/// frozen count goes straight to `free_folios`), to be dropped after the batch's flush.
pub fn __remove_mapping(w: &World, mapping: AddressSpace, locked: &LockedPage<'_>) -> bool {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    match mapping {
        AddressSpace::File(file, index) => {
            let f = w.files.get(file);
            let mut cache = f.i_pages.lock();
            if cache.pages.get(index as usize).copied().flatten() != Some(pfn) {
                return false;
            }
            if !folio_ref_freeze_clean(w, page, pfn) {
                return false;
            }
            cache.pages[index as usize] = None;
            drop(cache);
            i11_not_mlocked(page, pfn);
            // page_cache_delete: "folio->mapping = NULL".
            page.mapping.store(0, Ordering::SeqCst);
            page.test_clear(pg::ACTIVE);
            page.test_clear(pg::REFERENCED);
            page.refcount.store(1, Ordering::SeqCst);
            w.trace(
                "__remove_mapping",
                pfn,
                format_args!("{file} index {index}"),
            );
        }
        AddressSpace::SwapCache => {
            // folio_mapping(): NULL once the folio left the swap cache ("if (!mapping ||
            // !__remove_mapping(...)) goto keep_locked").
            if !page.test(pg::SWAPCACHE) {
                return false;
            }
            let mut cache = w.swap.cache.lock();
            if !folio_ref_freeze_clean(w, page, pfn) {
                return false;
            }
            // "swp_entry_t swap = folio->swap; ... __delete_from_swap_cache(folio, swap,
            // shadow); xa_unlock_irq(&mapping->i_pages); put_swap_folio(folio, swap);"
            let entry = page.swap.load(Ordering::SeqCst) as SwpEntry;
            swap_state::__delete_from_swap_cache(w, pfn, entry, &mut cache);
            drop(cache);
            swapfile::put_swap_folio(w, pfn, entry);
            i11_not_mlocked(page, pfn);
            // The anonymous folio keeps its anon_vma in `folio->mapping` until it is freed.
            page.refcount.store(1, Ordering::SeqCst);
            w.trace("__remove_mapping", pfn, format_args!("swap slot {entry}"));
        }
    }
    true
}

/// I11: reclaim never frees a folio an mlocked VMA maps (`folio_evictable` sent it to
/// `activate_locked`, and `try_to_unmap` refuses VM_LOCKED mappings).
fn i11_not_mlocked(page: &Page, pfn: Pfn) {
    if page.test(pg::MLOCKED) {
        check::violation(Oracle::I11Mlock, format!("reclaim freed mlocked {pfn}"));
    }
}

/// `__remove_mapping`'s "non racy check for a busy folio", under the mapping's `i_pages`:
/// `folio_ref_freeze(folio, refcount)` at the cache's and the isolation's references, then
/// "if (unlikely(folio_test_dirty(folio))) { folio_ref_unfreeze(folio, refcount); goto
/// cannot_free; }" — the dirty test after the freeze, so that no GUP user or stale TLB entry
/// can redirty the folio unseen.
fn folio_ref_freeze_clean(w: &World, page: &Page, pfn: Pfn) -> bool {
    if page
        .refcount
        .compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        w.trace("__remove_mapping: folio_ref_freeze failed", pfn, "busy");
        return false;
    }
    if page.test(pg::DIRTY) {
        page.refcount.store(2, Ordering::SeqCst);
        w.trace("__remove_mapping: dirty after freeze", pfn, "unfreeze");
        return false;
    }
    true
}
