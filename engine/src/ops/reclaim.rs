//! Reclaim of one page-cache page (`shrink_folio_list` for one folio): trylock it, unmap it
//! with `try_to_unmap` (which refuses VM_LOCKED mappings and re-mlocks the page), write it
//! back if dirty (`pageout`), then remove it from the page cache (`__remove_mapping`: refcount
//! freeze under `i_pages`) and free it.
//!
//! An anonymous page is reclaimed by `shrink_folio_list`'s swap path
//! ([`crate::ops::shrink_folio_list`]); [`reclaim_anon_page`] runs it on one page a scenario
//! names (docs/MODEL.md §17).

use crate::check::{self, Oracle};
use crate::mm::page::pg;
use crate::mm::{FileId, Mapping, Pfn, World};
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::shrink_folio_list::{ScanControl, settle, shrink_folio_locked};
use crate::ops::ttu::TTU_BATCH_FLUSH;
use crate::ops::ttu::TtuFlags;
use crate::ops::{mkclean, page_alloc, tlb_ubc, ttu};
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
        return skip_locked(w, locked);
    }
    // isolate_lru_folios: reclaim works on folios it took off the LRU (our reference is the
    // isolation's); one isolated by someone else (migration) is not ours to reclaim.
    if !page.test_clear(pg::LRU) {
        return skip_locked(w, locked);
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
    keep(w, pfn)
}

/// Reclaim passes the folio by before isolating it (gone from the cache, mlocked, not
/// anonymous, someone else's isolation): unlock it and drop the reference it took.
fn skip_locked(w: &World, locked: LockedPage<'_>) -> Reclaimed {
    let pfn = locked.pfn();
    locked.unlock();
    page_alloc::put_page(w, pfn);
    Reclaimed::Skipped
}

/// Reclaim the anonymous page `pfn` by itself, as `reclaim_pages` does for a folio its caller
/// isolated (MADV_PAGEOUT): take a reference and the folio lock (trylock), isolate it from
/// the LRU (PG_lru), and run [`shrink_folio_locked`] on it — the one anonymous reclaim path
/// (`add_to_swap`, `try_to_unmap(TTU_BATCH_FLUSH)`, `pageout` → `swap_writepage`,
/// `__remove_mapping` of the swap cache; docs/MODEL.md §17–§18) — with
/// `ignore_references`, then `try_to_unmap_flush` before the folio is freed.
///
/// A thin caller for the scenarios that reclaim one page they name (swap-skip-cache, mixed's
/// tiny world): the LRU lists are not touched (the folio is isolated by its PG_lru bit, the
/// model's other isolators' way, docs/MODEL.md §18). Skips what `shrink_folio_list` would not
/// be given: a non-anonymous page, a THP, an mlocked or unevictable one.
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
        return skip_locked(w, locked);
    }
    // isolate_lru_folios.
    if !page.test_clear(pg::LRU) {
        return skip_locked(w, locked);
    }
    let sc = ScanControl {
        ignore_references: true,
    };
    let fate = shrink_folio_locked(w, locked, &sc, TTU_BATCH_FLUSH);
    let (mut kept, mut freed) = (Vec::new(), Vec::new());
    settle(w, fate, &mut kept, &mut freed);
    tlb_ubc::try_to_unmap_flush(w);
    if freed.is_empty() {
        return keep(w, pfn);
    }
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
