//! Freeing a swap slot together with its swap-cache folio (mm/swapfile.c, 6.1–6.6):
//! `folio_swapped`, `folio_free_swap` (the folio locked: `do_swap_page`,
//! `__try_to_reclaim_swap`) and `free_swap_and_cache` (a zapped swap PTE, under its PTL).
//! Above the swap cache ([`crate::ops::swap_state`]) and the slot counts
//! ([`crate::ops::swapfile`]) it uses.

use crate::mm::page::pg;
use crate::mm::swap::{SWAP_HAS_CACHE, SwpEntry};
use crate::mm::{Pfn, World};
use crate::ops::pagemap::{LockedPage, trylock_page};
use crate::ops::swapfile::{__swap_count, swap_entry_free_locked};
use crate::ops::{page_alloc, swap_state};
use crate::sync::Ordering;

/// `folio_swapped(folio)` (`swp_swapcount(folio->swap) != 0` for an order-0 folio): does any
/// swap PTE still name the slot of this swap-cache folio?
pub fn folio_swapped(w: &World, pfn: Pfn) -> bool {
    let entry = w.page(pfn).swap.load(Ordering::SeqCst) as SwpEntry;
    __swap_count(w, entry) != 0
}

/// `folio_free_swap(folio)` (`try_to_free_swap` ≤6.0): with the folio locked, drop it from the
/// swap cache and free its slot if nothing else needs them — no swap PTE names the slot and
/// no writeback is in flight; the folio is then dirtied (its only copy is now in memory).
pub fn folio_free_swap(w: &World, locked: &LockedPage<'_>) -> bool {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    if !page.test(pg::SWAPCACHE) || page.test(pg::WRITEBACK) || folio_swapped(w, pfn) {
        return false;
    }
    swap_state::delete_from_swap_cache(w, locked);
    page.test_set(pg::DIRTY);
    w.trace("folio_free_swap", pfn, page.describe());
    true
}

/// `free_swap_and_cache(entry)`: a zapped swap PTE — one count fewer under `si->lock`
/// (`__swap_entry_free`), and if only the swap cache is left holding the slot,
/// `__try_to_reclaim_swap(si, offset, TTRS_UNMAPPED | TTRS_FULL)`: look the folio up, trylock
/// it (the caller holds a PTL: no sleeping lock) and `folio_free_swap` it. Returns true (a
/// valid entry).
pub fn free_swap_and_cache(w: &World, entry: SwpEntry) -> bool {
    let lock = w.swap.lock.lock();
    let left = swap_entry_free_locked(w, entry, 1);
    drop(lock);
    w.trace(
        "free_swap_and_cache",
        format_args!("slot {entry}"),
        format_args!("{left:#x}"),
    );
    if left == SWAP_HAS_CACHE {
        try_to_reclaim_swap(w, entry);
    }
    true
}

/// `__try_to_reclaim_swap(si, offset, TTRS_UNMAPPED | TTRS_FULL)`: `filemap_get_folio` of the
/// slot, `folio_trylock`, `folio_free_swap`, `folio_unlock`, `folio_put`.
fn try_to_reclaim_swap(w: &World, entry: SwpEntry) {
    let Some(pfn) = swap_state::swap_cache_get_folio(w, entry) else {
        return;
    };
    if let Some(locked) = trylock_page(w, pfn) {
        folio_free_swap(w, &locked);
        locked.unlock();
    }
    page_alloc::put_page(w, pfn);
}
