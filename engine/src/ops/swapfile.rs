//! The swap device's slot counts (mm/swapfile.c, 6.1–6.6): `folio_alloc_swap`,
//! `swap_duplicate`, `swapcache_prepare` / `swapcache_clear`, `swap_free`, `put_swap_folio`,
//! and `__swap_count` — the slot counts alone; freeing a slot together with its swap-cache
//! folio (`folio_free_swap`, `free_swap_and_cache`, also mm/swapfile.c) is
//! [`crate::ops::free_swap`], above the swap cache.
//!
//! Every change of a `swap_map` byte is made under `si->lock` (`lock_cluster_or_swap_info`;
//! the model's device has no clusters, `crate::mm::swap`), which the callers that hold a PTL
//! take under it, in mm/rmap.c's order. A slot whose count and `SWAP_HAS_CACHE` both drop to
//! zero is free again (`swap_entry_free` → `swap_range_free`).

use crate::check::{self, Oracle};
use crate::mm::swap::{SWAP_HAS_CACHE, SWAP_MAP_MAX, SwpEntry};
use crate::mm::{Pfn, World};
use crate::sync::Ordering;

/// Why `__swap_duplicate` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapDupError {
    /// `-ENOENT`: the slot is free (no PTE names it and nothing caches it).
    NoEnt,
    /// `-EEXIST`: `SWAP_HAS_CACHE` was asked for and is already set — someone else is adding
    /// (or has added) a folio for this slot to the swap cache.
    Exist,
}

/// `folio_alloc_swap` → `get_swap_pages` → `scan_swap_map_slots`: a free slot for the folio
/// `pfn`, its `swap_map` byte set to `SWAP_HAS_CACHE` under `si->lock` (the folio is about to
/// be added to the swap cache; no PTE names the slot yet). `None` when the device is full.
pub fn folio_alloc_swap(w: &World, pfn: Pfn) -> Option<SwpEntry> {
    let si = &w.swap;
    let _lock = si.lock.lock();
    let slot = (0..si.nr_slots()).find(|&s| si.swap_map[s].load(Ordering::SeqCst) == 0)?;
    si.swap_map[slot].store(SWAP_HAS_CACHE, Ordering::SeqCst);
    w.trace("folio_alloc_swap", pfn, format_args!("slot {slot}"));
    Some(slot as SwpEntry)
}

/// `__swap_duplicate(entry, usage)`: under `si->lock`, add `usage` — one more swap PTE (1), or
/// `SWAP_HAS_CACHE` — to the slot's byte. A free slot is `-ENOENT`; `SWAP_HAS_CACHE` already
/// set is `-EEXIST`.
pub fn __swap_duplicate(w: &World, entry: SwpEntry, usage: u32) -> Result<(), SwapDupError> {
    let si = &w.swap;
    let _lock = si.lock.lock();
    let byte = &si.swap_map[entry as usize];
    let old = byte.load(Ordering::SeqCst);
    let has_cache = old & SWAP_HAS_CACHE;
    let count = old & !SWAP_HAS_CACHE;
    if old == 0 {
        return Err(SwapDupError::NoEnt);
    }
    let new = if usage == SWAP_HAS_CACHE {
        if has_cache != 0 {
            return Err(SwapDupError::Exist);
        }
        if count == 0 {
            // `if (!has_cache && count) has_cache = usage; else if (has_cache) -EEXIST;
            // else -ENOENT` (the slot is being freed).
            return Err(SwapDupError::NoEnt);
        }
        old | SWAP_HAS_CACHE
    } else {
        if count >= SWAP_MAP_MAX {
            check::violation(
                Oracle::Bug,
                format!("swap_duplicate: slot {entry} at SWAP_MAP_MAX (no continuation modelled)"),
            );
            return Err(SwapDupError::NoEnt);
        }
        has_cache | (count + usage)
    };
    byte.store(new, Ordering::SeqCst);
    Ok(())
}

/// `swap_duplicate(entry)`: one more swap PTE names the slot (`try_to_unmap_one`,
/// `copy_nonpresent_pte`; the caller holds the PTL).
pub fn swap_duplicate(w: &World, entry: SwpEntry) -> Result<(), SwapDupError> {
    let r = __swap_duplicate(w, entry, 1);
    w.trace(
        "swap_duplicate",
        format_args!("slot {entry}"),
        format_args!("{:#x}", w.swap.map(entry)),
    );
    r
}

/// `swapcache_prepare(entry)` (`__swap_duplicate(entry, SWAP_HAS_CACHE)`): claim the slot's
/// `SWAP_HAS_CACHE` before adding a folio for it to the swap cache — or, since 13ddaf26be32,
/// as a lock held by a swap-in that skips the cache, so that two faults on one entry cannot
/// both read it.
pub fn swapcache_prepare(w: &World, entry: SwpEntry) -> Result<(), SwapDupError> {
    let r = __swap_duplicate(w, entry, SWAP_HAS_CACHE);
    w.trace(
        "swapcache_prepare",
        format_args!("slot {entry}"),
        match r {
            Ok(()) => "0",
            Err(SwapDupError::Exist) => "-EEXIST",
            Err(SwapDupError::NoEnt) => "-ENOENT",
        },
    );
    r
}

/// `__swap_entry_free_locked(si, offset, usage)`, `si->lock` held: drop `usage` (one swap PTE,
/// or `SWAP_HAS_CACHE`) from the slot's byte; a byte that reaches zero frees the slot
/// (`swap_range_free`). Returns the byte left.
pub(crate) fn swap_entry_free_locked(w: &World, entry: SwpEntry, usage: u32) -> u32 {
    let byte = &w.swap.swap_map[entry as usize];
    let old = byte.load(Ordering::SeqCst);
    let mut has_cache = old & SWAP_HAS_CACHE;
    let mut count = old & !SWAP_HAS_CACHE;
    if usage == SWAP_HAS_CACHE {
        if has_cache == 0 {
            check::violation(
                Oracle::Bug,
                format!("VM_BUG_ON(!has_cache): slot {entry} byte {old:#x}"),
            );
        }
        has_cache = 0;
    } else if count == 0 {
        check::violation(
            Oracle::Bug,
            format!("swap_free: slot {entry} has no count left (byte {old:#x}): bad swap entry"),
        );
    } else {
        count -= 1;
    }
    let new = count | has_cache;
    byte.store(new, Ordering::SeqCst);
    if new == 0 {
        w.trace("swap_range_free", format_args!("slot {entry}"), "free");
    }
    new
}

/// `swapcache_clear(si, entry)` (6.8+, 13ddaf26be32): drop the `SWAP_HAS_CACHE` a skipping
/// swap-in claimed with [`swapcache_prepare`], after its PTL is released.
pub fn swapcache_clear(w: &World, entry: SwpEntry) {
    let _lock = w.swap.lock.lock();
    let left = swap_entry_free_locked(w, entry, SWAP_HAS_CACHE);
    drop(_lock);
    w.trace(
        "swapcache_clear",
        format_args!("slot {entry}"),
        format_args!("{left:#x}"),
    );
}

/// `put_swap_folio(folio, entry)`: the swap cache no longer holds a folio for the slot (or
/// `add_to_swap` gave up on it): drop `SWAP_HAS_CACHE` under `si->lock`.
pub fn put_swap_folio(w: &World, pfn: Pfn, entry: SwpEntry) {
    let _lock = w.swap.lock.lock();
    let left = swap_entry_free_locked(w, entry, SWAP_HAS_CACHE);
    drop(_lock);
    w.trace(
        "put_swap_folio",
        pfn,
        format_args!("slot {entry} {left:#x}"),
    );
}

/// `swap_free(entry)`: one swap PTE fewer names the slot (`do_swap_page` after mapping the
/// folio, under the PTL).
pub fn swap_free(w: &World, entry: SwpEntry) {
    let _lock = w.swap.lock.lock();
    let left = swap_entry_free_locked(w, entry, 1);
    drop(_lock);
    w.trace(
        "swap_free",
        format_args!("slot {entry}"),
        format_args!("{left:#x}"),
    );
}

/// `__swap_count(entry)`: the slot's count of swap PTEs, read without `si->lock`
/// (`swap_count(si->swap_map[offset])`).
pub fn __swap_count(w: &World, entry: SwpEntry) -> u32 {
    w.swap.map(entry) & !SWAP_HAS_CACHE
}
