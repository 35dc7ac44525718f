//! The swap cache (mm/swap_state.c, 6.1–6.6): `add_to_swap_cache`, `__delete_from_swap_cache`,
//! `delete_from_swap_cache`, `swap_cache_get_folio`, `add_to_swap` and the swap-in's
//! `__read_swap_cache_async`.
//!
//! A folio in the swap cache is PG_swapcache, holds its slot's `SWAP_HAS_CACHE`, names the
//! slot in `folio->swap`, and is referenced once by the cache (`folio_ref_add(folio, nr)`).
//! It is added and deleted with the folio locked, under the cache's `i_pages` lock.
//!
//! Simplification: the lookups take the `i_pages` lock where the kernel's `filemap_get_folio`
//! walks the xarray under RCU and takes its reference with `folio_try_get_rcu` (the model's
//! file page cache does the same).

use crate::mm::page::pg;
use crate::mm::swap::{SwapCache, SwpEntry};
use crate::mm::{Pfn, World};
use crate::ops::pagemap::LockedPage;
use crate::ops::swapfile::{self, SwapDupError};
use crate::ops::{page_alloc, page_io};
use crate::sync::{Ordering, SpinLockGuard};

/// `add_to_swap_cache(folio, entry, ...)`: the locked folio `locked` becomes the swap cache's
/// folio for `entry` (whose `SWAP_HAS_CACHE` the caller holds): `folio_ref_add`,
/// `folio_set_swapcache`, `folio->swap = entry`, stored under the `i_pages` lock.
pub fn add_to_swap_cache(w: &World, locked: &LockedPage<'_>, entry: SwpEntry) {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    page_alloc::get_page(w, pfn);
    page.test_set(pg::SWAPCACHE);
    page.swap.store(u64::from(entry), Ordering::SeqCst);
    let mut cache = w.swap.cache.lock();
    debug_assert!(cache.pages[entry as usize].is_none(), "SWAP_HAS_CACHE held");
    cache.pages[entry as usize] = Some(pfn);
    drop(cache);
    w.trace("add_to_swap_cache", pfn, format_args!("slot {entry}"));
}

/// `__delete_from_swap_cache(folio, entry, shadow)`, the `i_pages` lock held (`cache`): the
/// slot no longer caches the folio; `folio->swap` cleared, `folio_clear_swapcache`. The
/// cache's reference and the slot's `SWAP_HAS_CACHE` are the caller's to drop.
pub fn __delete_from_swap_cache(
    w: &World,
    pfn: Pfn,
    entry: SwpEntry,
    cache: &mut SpinLockGuard<'_, SwapCache>,
) {
    debug_assert_eq!(cache.pages[entry as usize], Some(pfn));
    cache.pages[entry as usize] = None;
    let page = w.page(pfn);
    page.swap.store(0, Ordering::SeqCst);
    page.test_clear(pg::SWAPCACHE);
    w.trace(
        "__delete_from_swap_cache",
        pfn,
        format_args!("slot {entry}"),
    );
}

/// `delete_from_swap_cache(folio)`: the locked folio leaves the swap cache —
/// `__delete_from_swap_cache` under the `i_pages` lock, `put_swap_folio` (drops
/// `SWAP_HAS_CACHE`) and `folio_ref_sub` of the cache's reference.
pub fn delete_from_swap_cache(w: &World, locked: &LockedPage<'_>) {
    let pfn = locked.pfn();
    let entry = w.page(pfn).swap.load(Ordering::SeqCst) as SwpEntry;
    let mut cache = w.swap.cache.lock();
    __delete_from_swap_cache(w, pfn, entry, &mut cache);
    drop(cache);
    swapfile::put_swap_folio(w, pfn, entry);
    page_alloc::put_page(w, pfn);
}

/// `swap_cache_get_folio(entry, vma, addr)` (`filemap_get_folio` of the swap address space):
/// the folio caching `entry`, with a reference, or `None`.
pub fn swap_cache_get_folio(w: &World, entry: SwpEntry) -> Option<Pfn> {
    let pfn = w.swap.cache.lock().pages[entry as usize]?;
    page_alloc::get_page_unless_zero(w, pfn).then_some(pfn)
}

/// `add_to_swap(folio)` (mm/swap_state.c), the folio locked (`VM_BUG_ON_FOLIO(!folio_test_locked)`)
/// and anonymous: allocate a slot (`folio_alloc_swap`), add the folio to the swap cache, and
/// `folio_mark_dirty` it — "it's like a newly allocated page", so that `pageout` writes it.
/// False when the device is full.
pub fn add_to_swap(w: &World, locked: &LockedPage<'_>) -> bool {
    let pfn = locked.pfn();
    let Some(entry) = swapfile::folio_alloc_swap(w, pfn) else {
        return false;
    };
    add_to_swap_cache(w, locked, entry);
    crate::ops::rmap::set_page_dirty(w, pfn);
    true
}

/// `read_swap_cache_async(entry, ...)` → `__read_swap_cache_async` (the swap-in path through
/// the cache, `swapin_readahead` of one slot): the cached folio if there is one; otherwise
/// allocate one, claim the slot with `swapcache_prepare` (`-EEXIST`: another swap-in is
/// adding a folio — `schedule_timeout_uninterruptible(1)` and look again), lock it, add it to
/// the cache, put it on the LRU and read it (`swap_read_folio`, which unlocks it). `None`
/// when the slot was freed meanwhile (`-ENOENT`) or memory ran out. The folio comes back
/// referenced.
pub fn read_swap_cache_async(w: &World, entry: SwpEntry) -> Option<Pfn> {
    let pfn = loop {
        if let Some(pfn) = swap_cache_get_folio(w, entry) {
            return Some(pfn);
        }
        // `if (!swap_swapcount(si, entry) && swap_slot_cache_enabled) return NULL`.
        if swapfile::__swap_count(w, entry) == 0 {
            return None;
        }
        let pfn = page_alloc::alloc_page(w)?;
        match swapfile::swapcache_prepare(w, entry) {
            Ok(()) => break pfn,
            Err(e) => {
                page_alloc::put_page(w, pfn);
                if e == SwapDupError::NoEnt {
                    return None;
                }
                // "We might race against __delete_from_swap_cache(), and stumble across a
                // swap_map entry whose SWAP_HAS_CACHE has not yet been cleared."
                crate::sync::yield_now();
            }
        }
    };
    let locked = crate::ops::pagemap::lock_page(w, pfn); // __folio_set_locked
    let page = w.page(pfn);
    page.flags.fetch_or(pg::SWAPBACKED, Ordering::SeqCst); // __folio_set_swapbacked
    add_to_swap_cache(w, &locked, entry);
    page.test_set(pg::LRU); // folio_add_lru
    page_io::swap_read_folio(w, locked, entry);
    Some(pfn)
}
