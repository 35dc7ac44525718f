//! Reclaim of one page-cache page (`shrink_folio_list` for one folio): trylock it, unmap it
//! with `try_to_unmap` (which refuses VM_LOCKED mappings and re-mlocks the page), write it
//! back if dirty (`pageout`), then remove it from the page cache (`__remove_mapping`: refcount
//! freeze under `i_pages`) and free it.
//!
//! An anonymous page is reclaimed by [`reclaim_anon_page`] (`shrink_folio_list`'s anonymous
//! branch): `add_to_swap`, `try_to_unmap` (swap entries), `pageout` to its slot,
//! `__remove_mapping` from the swap cache (docs/MODEL.md §17).

use crate::check::{self, Oracle};
use crate::mm::page::pg;
use crate::mm::swap::SwpEntry;
use crate::mm::{FileId, Mapping, Pfn, World};
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::ttu::TtuFlags;
use crate::ops::{free_swap, mkclean, page_alloc, page_io, swap_state, ttu};
use crate::sync::Ordering;

/// What reclaim did with the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclaimed {
    /// Not in the cache, or busy (locked, referenced): skipped.
    Skipped,
    /// Still mapped (mlocked VMA, or raced a fault): kept.
    Kept,
    /// Freed.
    Freed,
}

/// Reclaim the page cache page at `index` of `file`.
pub fn reclaim_page(w: &World, file: FileId, index: u64) -> Reclaimed {
    let f = w.files.get(file);
    let Some(pfn) = f.i_pages.lock().pages[index as usize] else {
        return Reclaimed::Skipped;
    };
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return Reclaimed::Skipped;
    }
    let page = w.page(pfn);
    let Some(locked) = trylock_page(w, pfn) else {
        page_alloc::put_page(w, pfn);
        return Reclaimed::Skipped;
    };
    let still_ours = f.i_pages.lock().pages[index as usize] == Some(pfn)
        && page.mapping() == Mapping::File(file);
    // `!folio_evictable()` (PG_mlocked) -> activate_locked, and an unevictable folio is not on
    // the lists reclaim scans at all.
    if !still_ours || page.test(pg::MLOCKED) || page.test(pg::UNEVICTABLE) {
        locked.unlock();
        page_alloc::put_page(w, pfn);
        return Reclaimed::Skipped;
    }
    // isolate_lru_folios: reclaim works on folios it took off the LRU (our reference is the
    // isolation's); one isolated by someone else (migration) is not ours to reclaim.
    if !page.test_clear(pg::LRU) {
        locked.unlock();
        page_alloc::put_page(w, pfn);
        return Reclaimed::Skipped;
    }
    if page.mapped() && !ttu::try_to_unmap(w, &locked, TtuFlags::empty()) {
        return keep_locked(w, locked);
    }
    if page.test(pg::DIRTY) {
        mkclean::writeback_locked(w, file, index, &locked);
    }
    // __remove_mapping: freeze the refcount (cache + ours) under i_pages.
    let mut cache = f.i_pages.lock();
    let frozen = !page.mapped()
        && !page.test(pg::DIRTY)
        && page
            .refcount
            .compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
    if !frozen {
        drop(cache);
        return keep_locked(w, locked);
    }
    cache.pages[index as usize] = None;
    drop(cache);
    if page.test(pg::MLOCKED) {
        check::violation(Oracle::I11Mlock, format!("reclaim freed mlocked {pfn}"));
    }
    page.mapping.store(0, Ordering::SeqCst);
    page.refcount.store(1, Ordering::SeqCst);
    locked.unlock();
    w.trace(
        "reclaim: __remove_mapping",
        pfn,
        format_args!("{file} index {index}"),
    );
    page_alloc::put_page(w, pfn);
    Reclaimed::Freed
}

/// `keep_locked` → `keep`: reclaim keeps the folio — unlock it and put it back on the LRU
/// (`folio_putback_lru`), dropping the isolation's reference.
pub fn keep_locked(w: &World, locked: LockedPage<'_>) -> Reclaimed {
    let pfn = locked.pfn();
    locked.unlock();
    w.page(pfn).test_set(pg::LRU);
    page_alloc::put_page(w, pfn);
    Reclaimed::Kept
}

/// Reclaim the anonymous page `pfn` (`shrink_folio_list` for one order-0 anonymous folio,
/// 6.1–6.6): take a reference and the folio lock (trylock), isolate it from the LRU, then
///
/// 1. `add_to_swap` unless it is already in the swap cache (a slot, the cache, PG_dirty);
/// 2. `try_to_unmap`: each PTE becomes a swap entry (`try_to_unmap_one`'s anonymous branch);
///    a mapping it may not remove (VM_LOCKED, a pinned exclusive page) keeps it
///    (`activate_locked`, which frees the swap of a now mlocked folio);
/// 3. `pageout`: `folio_clear_dirty_for_io`, `swap_writepage` (which first gives the slot up
///    with `folio_free_swap` if no swap PTE names it any more, and unlocks the folio); then,
///    `PAGE_SUCCESS`, the folio is trylocked again and kept if it was dirtied or is under
///    writeback meanwhile — between the two, a fault may map it again from the swap cache;
/// 4. `__remove_mapping` of the swap cache: under its `i_pages` lock, freeze the refcount at
///    isolation + cache (a fault that mapped or looked the folio up holds one more and keeps
///    it), `__delete_from_swap_cache`, and after the lock `put_swap_folio`; the folio is freed.
///
/// Simplification: a THP is skipped (its split, `split_folio_to_list`, is not modelled for
/// reclaim); `vm_swap_full` is false. h-reclaim's `shrink_folio_list` drives this step from
/// the LRU.
pub fn reclaim_anon_page(w: &World, pfn: Pfn) -> Reclaimed {
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return Reclaimed::Skipped;
    }
    let page = w.page(pfn);
    let Some(locked) = trylock_page(w, pfn) else {
        page_alloc::put_page(w, pfn);
        return Reclaimed::Skipped;
    };
    let anon = page.is_anon() && page.test(pg::SWAPBACKED);
    let thp = !matches!(page.compound.get(), crate::mm::page::Compound::Single);
    if !anon || thp || page.test(pg::MLOCKED) || page.test(pg::UNEVICTABLE) {
        locked.unlock();
        page_alloc::put_page(w, pfn);
        return Reclaimed::Skipped;
    }
    // isolate_lru_folios.
    if !page.test_clear(pg::LRU) {
        locked.unlock();
        page_alloc::put_page(w, pfn);
        return Reclaimed::Skipped;
    }
    if !page.test(pg::SWAPCACHE) && !swap_state::add_to_swap(w, &locked) {
        return keep_locked(w, locked);
    }
    if page.mapped() && !ttu::try_to_unmap(w, &locked, TtuFlags::empty()) {
        // activate_locked: "if (folio_test_swapcache(folio) && (mem_cgroup_swap_full(folio)
        // || folio_test_mlocked(folio))) folio_free_swap(folio)".
        if page.test(pg::MLOCKED) {
            free_swap::folio_free_swap(w, &locked);
        }
        return keep_locked(w, locked);
    }
    let locked = if page.test(pg::DIRTY) {
        // pageout → folio_clear_dirty_for_io (the folio is unmapped: no PTE to clean).
        page.test_clear(pg::DIRTY);
        // swap_writepage: "if (folio_free_swap(folio)) { folio_unlock(folio); return 0; }".
        if free_swap::folio_free_swap(w, &locked) {
            locked.unlock();
            return keep(w, pfn);
        }
        let entry = page.swap.load(Ordering::SeqCst) as SwpEntry;
        page_io::swap_writepage(w, locked, entry);
        // PAGE_SUCCESS.
        if page.test(pg::WRITEBACK) || page.test(pg::DIRTY) {
            return keep(w, pfn);
        }
        let Some(locked) = trylock_page(w, pfn) else {
            return keep(w, pfn);
        };
        if page.test(pg::DIRTY) || page.test(pg::WRITEBACK) || !page.test(pg::SWAPCACHE) {
            return keep_locked(w, locked);
        }
        locked
    } else {
        locked
    };
    // __remove_mapping(swap address space): `folio_ref_freeze(folio, 1 + nr)` under i_pages.
    let mut cache = w.swap.cache.lock();
    let frozen = page
        .refcount
        .compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if frozen && page.test(pg::DIRTY) {
        page.refcount.store(2, Ordering::SeqCst); // folio_ref_unfreeze
    }
    if !frozen || page.test(pg::DIRTY) {
        drop(cache);
        return keep_locked(w, locked);
    }
    let entry = page.swap.load(Ordering::SeqCst) as SwpEntry;
    swap_state::__delete_from_swap_cache(w, pfn, entry, &mut cache);
    drop(cache);
    crate::ops::swapfile::put_swap_folio(w, pfn, entry);
    page.refcount.store(1, Ordering::SeqCst);
    locked.unlock();
    w.trace(
        "reclaim: __remove_mapping",
        pfn,
        format_args!("swap slot {entry}"),
    );
    page_alloc::put_page(w, pfn);
    Reclaimed::Freed
}

/// `keep:` — reclaim keeps an unlocked folio: back on the LRU, the isolation's reference
/// dropped.
pub fn keep(w: &World, pfn: Pfn) -> Reclaimed {
    w.page(pfn).test_set(pg::LRU);
    page_alloc::put_page(w, pfn);
    Reclaimed::Kept
}
