//! The swap device (`struct swap_info_struct`, include/linux/swap.h) and its swap cache (the
//! `address_space` of `swapper_spaces[type]`, mm/swap_state.c) — and, the lab's addition, the
//! device's contents, so that data lost between a page and its slot is observable.
//!
//! The model has one device (swap type 0) of one slot per page frame. A slot's
//! `swap_map` byte counts the swap PTEs that name it (`swap_duplicate` adds one, `swap_free`
//! drops one) plus `SWAP_HAS_CACHE` while a folio for it is in the swap cache — or while a
//! swap-in holds the slot "as a lock" (`swapcache_prepare`, 13ddaf26be32). A slot whose byte
//! is zero is free for `folio_alloc_swap`.
//!
//! Simplification: no swap clusters (`si->cluster_info`): every `lock_cluster_or_swap_info`
//! is `si->lock`, as on a device without `SWP_SOLIDSTATE`; the allocator takes the lowest free
//! slot (`scan_swap_map_slots` scans from `si->cluster_next`), so a freed slot is reused first
//! — the reuse every swap ABA race needs, which the kernel makes likely on a nearly full device.
//! No swap slot cache (`swap_slots.c`), no `swap_count_continuation` (counts stop at
//! `SWAP_MAP_MAX`), no swapoff, no zswap, no readahead (`swapin_readahead` reads the one slot).

use super::arena::Arena;
use super::ids::{PageKind, Pfn};
use super::page::Page;
use crate::sync::{AtomicU32, LockClass, Ordering, SpinLock, observer};

/// `SWAP_HAS_CACHE` (include/linux/swap.h): a folio for this slot is in the swap cache, or a
/// swap-in is about to add one (`swapcache_prepare` holds the bit as a lock).
pub const SWAP_HAS_CACHE: u32 = 0x40;
/// `SWAP_MAP_MAX`: the highest count a `swap_map` byte holds without a continuation.
pub const SWAP_MAP_MAX: u32 = 0x3e;

/// `si->flags` bits the model reads.
pub mod swp {
    /// `SWP_SYNCHRONOUS_IO` (0bcac06f27d7 "mm, swap: skip swapcache for swapin of
    /// synchronous device", 4.15): the device (zram, pmem) completes I/O synchronously, so a
    /// swap-in of an entry nobody else maps may skip the swap cache (`do_swap_page`).
    pub const SYNCHRONOUS_IO: u32 = 1 << 0;
}

/// A swap entry of the one device: its slot (`swp_offset`; `swp_type` is always 0).
pub type SwpEntry = u32;

/// The swap cache of the device: `swapper_spaces[0]`'s `i_pages`, by slot.
#[derive(Debug, Default)]
pub struct SwapCache {
    /// The folio caching each slot, if any.
    pub pages: Vec<Option<Pfn>>,
}

/// `struct swap_info_struct` of the one device, with its swap cache and contents.
#[derive(Debug)]
pub struct SwapInfo {
    /// `si->lock`: held while a `swap_map` byte changes (`lock_cluster_or_swap_info`).
    /// Protected by: itself; under the PTL in `swap_duplicate` / `swap_free` /
    /// `free_swap_and_cache` (mm/rmap.c's header: "swap_lock (in swap_duplicate,
    /// swap_info_get)"), above the swap cache's `i_pages`.
    pub lock: SpinLock<()>,
    /// `si->swap_map`: per slot, its count of swap PTEs plus [`SWAP_HAS_CACHE`].
    /// Protected by: `lock` for every change; read without it by `__swap_count`
    /// (`data_race`, `do_swap_page`'s skip-the-cache test) and by `swp_swapcount`.
    pub swap_map: Vec<AtomicU32>,
    /// `si->flags` ([`swp`]): set at swapon, before any path runs.
    /// Protected by: nothing (a setting; observer state).
    pub flags: observer::AtomicU32,
    /// The swap cache (`swap_address_space(entry)->i_pages`).
    /// Protected by: its xa_lock (`xa_lock_irq(&address_space->i_pages)`); folios are added
    /// and deleted with the folio locked.
    pub cache: SpinLock<SwapCache>,
    /// The device: one word per (slot, cpu), slot-major ([`SwapInfo::disk`]), written by
    /// `swap_writepage`, read by `swap_read_folio`. Observer state (plain atomics): the lab's
    /// ground truth.
    pub disk_words: Vec<observer::AtomicU64>,
    /// CPUs (words per slot).
    cpus: usize,
}

impl SwapInfo {
    pub(crate) fn new(slots: usize, cpus: usize) -> Self {
        SwapInfo {
            lock: SpinLock::new(LockClass::SwapLock, ()),
            swap_map: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            flags: observer::AtomicU32::new(0),
            cache: SpinLock::new(
                LockClass::SwapCacheIPages,
                SwapCache {
                    pages: vec![None; slots],
                },
            ),
            disk_words: (0..slots * cpus)
                .map(|_| observer::AtomicU64::new(0))
                .collect(),
            cpus,
        }
    }

    /// Back to the state `new` made (`World::renew`), keeping the buffers.
    pub(crate) fn renew(&mut self) {
        self.lock = SpinLock::new(LockClass::SwapLock, ());
        for b in &self.swap_map {
            b.store(0, Ordering::Relaxed);
        }
        self.flags.store(0, std::sync::atomic::Ordering::Relaxed);
        let slots = self.swap_map.len();
        self.cache = SpinLock::new(
            LockClass::SwapCacheIPages,
            SwapCache {
                pages: vec![None; slots],
            },
        );
        for d in &self.disk_words {
            d.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The word of `cpu` that a swap entry for `slot` stands for (the oracles' view): in the
    /// swap cache's folio if there is one (it may be newer than the device: dirtied before
    /// its writeback), else on the device.
    pub fn swapped_word(&self, pages: &Arena<PageKind, Page>, slot: SwpEntry, cpu: usize) -> u64 {
        match self.cache.lock().pages[slot as usize] {
            Some(pfn) => pages.get(pfn).data[cpu].load(Ordering::SeqCst),
            None => self
                .disk(slot, cpu)
                .load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// The device's word of `cpu` in `slot`.
    pub fn disk(&self, slot: SwpEntry, cpu: usize) -> &observer::AtomicU64 {
        &self.disk_words[slot as usize * self.cpus + cpu]
    }

    /// Slots on the device.
    pub fn nr_slots(&self) -> usize {
        self.swap_map.len()
    }

    /// Set or clear a `si->flags` bit (swapon's `SWP_SYNCHRONOUS_IO` for a zram-like device).
    pub fn set_flag(&self, flag: u32, on: bool) {
        if on {
            self.flags
                .fetch_or(flag, std::sync::atomic::Ordering::SeqCst);
        } else {
            self.flags
                .fetch_and(!flag, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Is a `si->flags` bit set (`data_race(si->flags & ...)`)?
    pub fn has_flag(&self, flag: u32) -> bool {
        self.flags.load(std::sync::atomic::Ordering::SeqCst) & flag != 0
    }

    /// The `swap_map` byte of `entry`, racily (observer reads and `__swap_count`).
    pub fn map(&self, entry: SwpEntry) -> u32 {
        self.swap_map[entry as usize].load(Ordering::SeqCst)
    }
}
