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
//! Simplifications: only file folios are reclaimed — an anonymous folio needs `add_to_swap`
//! (swap is not modelled yet) and goes back to the active list, as the kernel does when
//! `add_to_swap` fails ("activate_locked_split"). A dirty file folio is written by
//! `pageout` whoever reclaims (the kernel leaves it to the flushers unless kswapd meets it
//! again with PG_reclaim set). `pageout` is synchronous ([`mkclean::writeback_locked`]):
//! the folio is never under writeback when `__remove_mapping` looks. No demotion, no THP
//! split, no memcg.

use crate::check::{self, Oracle};
use crate::mm::page::pg;
use crate::mm::{FileId, Mapping, Pfn, World};
use crate::ops::folio_referenced::folio_referenced;
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::ttu::{TTU_BATCH_FLUSH, try_to_unmap};
use crate::ops::{mkclean, page_alloc, tlb_ubc};
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

/// `folio_check_references` (mm/vmscan.c, 6.x) of a file folio: `folio_referenced` (-1 when
/// the rmap lock was contended: keep, "rotate"), then `folio_test_clear_referenced`. A folio
/// whose PTEs were referenced is activated if it was referenced before too (or by more than
/// one PTE), else marked PG_referenced and kept; an unreferenced one is reclaimed, only if
/// clean when PG_referenced was set.
pub fn folio_check_references(w: &World, page: &LockedPage<'_>) -> FolioReferences {
    let pfn = page.pfn();
    let referenced_ptes = folio_referenced(w, page);
    let referenced_folio = w.page(pfn).test_clear(pg::REFERENCED);
    let r = if referenced_ptes == -1 {
        FolioReferences::Keep
    } else if referenced_ptes > 0 {
        if w.page(pfn).is_anon() {
            FolioReferences::Activate
        } else {
            w.page(pfn).test_set(pg::REFERENCED);
            if referenced_folio || referenced_ptes > 1 {
                FolioReferences::Activate
            } else {
                FolioReferences::Keep
            }
        }
    } else if referenced_folio && !w.page(pfn).is_anon() {
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

/// What became of one folio of the batch.
enum Fate {
    /// `keep` / `keep_locked`: back to the list it came from.
    Keep,
    /// `activate_locked`: to the active list (PG_active), unless unevictable.
    Activate,
    /// `free_it`: off the page cache, on `free_folios`.
    Free,
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
        match shrink_one(w, &locked, sc) {
            Fate::Free => {
                locked.unlock();
                free_folios.push(pfn);
            }
            Fate::Activate => {
                // activate_locked: "Not a candidate for swapping, so reclaim swap space" is
                // not modelled; an evictable folio is marked active.
                if !w.page(pfn).test(pg::MLOCKED) {
                    w.page(pfn).test_set(pg::ACTIVE);
                }
                locked.unlock();
                ret.push(pfn);
            }
            Fate::Keep => {
                locked.unlock();
                ret.push(pfn);
            }
        }
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

/// One folio of [`shrink_folio_list`], locked: what to do with it.
fn shrink_one(w: &World, locked: &LockedPage<'_>, sc: &ScanControl) -> Fate {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    // if (unlikely(!folio_evictable(folio))) goto activate_locked;
    if page.test(pg::MLOCKED) || page.test(pg::UNEVICTABLE) {
        return Fate::Activate;
    }
    if page.test(pg::WRITEBACK) {
        return Fate::Keep;
    }
    let references = if sc.ignore_references {
        FolioReferences::Reclaim
    } else {
        folio_check_references(w, locked)
    };
    match references {
        FolioReferences::Activate => return Fate::Activate,
        FolioReferences::Keep => return Fate::Keep,
        FolioReferences::Reclaim | FolioReferences::ReclaimClean => {}
    }
    let file = match page.mapping() {
        Mapping::File(f) => f,
        // add_to_swap() fails without swap: "goto activate_locked_split".
        Mapping::Anon(_) => return Fate::Activate,
        // Truncated meanwhile: the truncation owns it now.
        Mapping::None => return Fate::Keep,
    };
    let index = page.index.load(Ordering::SeqCst);
    // "The folio is mapped into the page tables of one or more processes. Try to unmap it
    // here." With TTU_BATCH_FLUSH: the flushes go to the task's batch.
    if w.folio_mapped(pfn) && !try_to_unmap(w, locked, TTU_BATCH_FLUSH) {
        return Fate::Activate;
    }
    race_window!("shrink_folio_list: unmapped with the TLB flush deferred, not yet flushed");
    if page.test(pg::DIRTY) {
        if references == FolioReferences::ReclaimClean {
            return Fate::Keep;
        }
        // "Folio is dirty. Flush the TLB if a writable entry potentially exists to avoid CPU
        // writes after I/O starts and then write it out here."
        tlb_ubc::try_to_unmap_flush_dirty(w);
        race_window!("shrink_folio_list: dirty batch flushed, pageout not yet started");
        w.trace("pageout", pfn, format_args!("{file} index {index}"));
        mkclean::writeback_locked(w, file, index, locked);
    }
    if __remove_mapping(w, file, index, locked) {
        Fate::Free
    } else {
        Fate::Keep
    }
}

/// `__remove_mapping(mapping, folio, reclaimed = true, ...)` (mm/vmscan.c, 6.x), the folio
/// locked: under `i_pages`, freeze the refcount at the expected count (the page cache's plus
/// the isolation's: `folio_ref_freeze(folio, 1 + nr)`) — *then* test dirty, unfreezing if it
/// was redirtied — and delete the folio from the cache. On success the folio's count is the
/// isolation's reference again (the kernel's frozen count goes straight to `free_folios`), to
/// be dropped after the batch's flush.
pub fn __remove_mapping(w: &World, file: FileId, index: u64, locked: &LockedPage<'_>) -> bool {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    let f = w.files.get(file);
    let mut cache = f.i_pages.lock();
    if cache.pages.get(index as usize).copied().flatten() != Some(pfn) {
        return false;
    }
    // "The non racy check for a busy folio": folio_ref_freeze(folio, refcount).
    if page
        .refcount
        .compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        w.trace("__remove_mapping: folio_ref_freeze failed", pfn, "busy");
        return false;
    }
    if page.test(pg::DIRTY) {
        // "folio_ref_unfreeze(folio, refcount); goto cannot_free;"
        page.refcount.store(2, Ordering::SeqCst);
        w.trace("__remove_mapping: dirty after freeze", pfn, "unfreeze");
        return false;
    }
    cache.pages[index as usize] = None;
    drop(cache);
    if page.test(pg::MLOCKED) {
        check::violation(Oracle::I11Mlock, format!("reclaim freed mlocked {pfn}"));
    }
    page.mapping.store(0, Ordering::SeqCst);
    page.test_clear(pg::ACTIVE);
    page.test_clear(pg::REFERENCED);
    page.refcount.store(1, Ordering::SeqCst);
    w.trace(
        "__remove_mapping",
        pfn,
        format_args!("{file} index {index}"),
    );
    true
}
