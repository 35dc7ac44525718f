//! `do_swap_page` (mm/memory.c): a fault on a swap PTE.
//!
//! The folio comes from the swap cache (`swap_cache_get_folio`), or — on a
//! `SWP_SYNCHRONOUS_IO` device when no other PTE names the slot (`__swap_count(entry) == 1`) —
//! is read straight from the device into a new folio that never enters the cache
//! (0bcac06f27d7, 4.15), or is read through the cache (`swapin_readahead`). It is locked
//! (`folio_lock_or_retry`), re-checked to still be the slot's cache folio, and mapped under
//! the PTL after `pte_same` confirms the PTE still holds the entry the fault read without
//! it: then `swap_free`, `folio_free_swap` if `should_try_to_free_swap`, the PTE writable at
//! once for a write if the folio is exclusive (`pte_swp_exclusive`, or a fresh folio, or its
//! only reference), `page_add_anon_rmap`, `set_pte_at`.
//!
//! Two eras of the skipping path, as entries of the table (`w.kernel.fault.do_swap_page`):
//! [`do_swap_page`] (6.8+, 13ddaf26be32 "mm/swap: fix race when skipping swapcache") claims
//! the slot's `SWAP_HAS_CACHE` with `swapcache_prepare` before reading, so a second fault on
//! the entry backs off (`schedule_timeout_uninterruptible(1)`, return 0) until the first has
//! mapped its folio and `swapcache_clear`ed; [`do_swap_page_v6_7`] (0bcac06f27d7 to
//! 13ddaf26be32) does not. Without it two faults read the entry into two folios; one maps
//! its folio, `swap_free`s the slot — now free — and the page may be written and swapped out
//! again to the same slot, so the PTE holds the same swap entry once more: the slower fault's
//! `pte_same` passes on it (an ABA) and maps its stale folio, losing the write.
//!
//! Simplifications: `folio_lock_or_retry` waits for the lock (no `VM_FAULT_RETRY` drop of
//! `mmap_lock`); a write fault that cannot reuse the folio maps it read-only and returns, and
//! the access's next fault runs `do_wp_page` (the kernel calls it before returning);
//! `mem_cgroup_swap_full` / `vm_swap_full` is false; no KSM copy, no `SWP_STABLE_WRITES`.

use crate::mm::page::pg;
use crate::mm::pte::Pte;
use crate::mm::swap::{SwpEntry, swp};
use crate::mm::vma::vm;
use crate::mm::{Mapping, MmId, Pfn, VmaId, World};
use crate::ops::fault::{VmFault, maybe_mkwrite, present};
use crate::ops::pagemap::{LockedPage, lock_page};
use crate::ops::pgtable_generic::{LockedPte, pte_offset_map_lock};
use crate::ops::{Error, free_swap, page_alloc, page_io, rmap, swap_state, swapfile};
use crate::race_window;
use crate::sync::Ordering;

/// `do_swap_page` since 13ddaf26be32 (6.8): the skipping path claims the slot first
/// (`swapcache_prepare`; on `-EEXIST` back off and let the access fault again).
pub fn do_swap_page(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    write: bool,
    orig: Pte,
) -> Result<VmFault, Error> {
    do_swap_page_common(w, mm, vma, va, write, orig, true)
}

/// `do_swap_page` from 0bcac06f27d7 (4.15) to 13ddaf26be32 (6.8): the skipping path reads the
/// slot with nothing held — two faults on one entry may both read it.
pub fn do_swap_page_v6_7(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    write: bool,
    orig: Pte,
) -> Result<VmFault, Error> {
    do_swap_page_common(w, mm, vma, va, write, orig, false)
}

/// The body of both eras; `prepare` is 13ddaf26be32's `swapcache_prepare` on the skipping path.
pub fn do_swap_page_common(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    write: bool,
    orig: Pte,
    prepare: bool,
) -> Result<VmFault, Error> {
    let Pte::Swap { offset: entry, .. } = orig else {
        unreachable!("do_swap_page of a non-swap PTE {orig}")
    };
    let at = format_args!("{mm} va {:#x}", va << 12).to_string();
    let mut need_clear_cache = false;
    // `swapcache`: the folio is the swap cache's (None: a fresh folio that skipped it).
    let mut swapcache: Option<Pfn> = swap_state::swap_cache_get_folio(w, entry);
    let folio = match swapcache {
        Some(pfn) => pfn,
        None => {
            if w.swap.has_flag(swp::SYNCHRONOUS_IO) && swapfile::__swap_count(w, entry) == 1 {
                if prepare {
                    // "Prevent parallel swapin from proceeding with the cache flag."
                    if swapfile::swapcache_prepare(w, entry).is_err() {
                        // "Relax a bit to prevent rapid repeated page faults."
                        crate::sync::yield_now();
                        return Ok(VmFault::empty());
                    }
                    need_clear_cache = true;
                }
                // "skip swapcache": vma_alloc_folio, __folio_set_locked, folio_add_lru,
                // `folio->swap = entry`, swap_read_folio, `folio->private = NULL`.
                let Some(pfn) = page_alloc::alloc_page(w) else {
                    clear_cache(w, entry, need_clear_cache);
                    return Err(Error::Oom);
                };
                let locked = lock_page(w, pfn);
                let page = w.page(pfn);
                page.flags
                    .fetch_or(pg::SWAPBACKED | pg::LRU, Ordering::SeqCst);
                w.trace("do_swap_page: skip swapcache", &at, pfn);
                page_io::swap_read_folio(w, locked, entry);
                pfn
            } else {
                match swap_state::read_swap_cache_async(w, entry) {
                    Some(pfn) => {
                        swapcache = Some(pfn);
                        pfn
                    }
                    None => {
                        // "Back out if somebody else faulted in this pte while we released
                        // the pte lock": under the PTL, an unchanged PTE is VM_FAULT_OOM;
                        // a changed one (the slot was freed by whoever mapped it) is 0.
                        let same = pte_offset_map_lock(w, mm, va).is_some_and(|p| p.get() == orig);
                        return if same {
                            Err(Error::Oom)
                        } else {
                            Ok(VmFault::empty())
                        };
                    }
                }
            }
        }
    };
    race_window!("do_swap_page: folio read, not yet locked");
    let locked = lock_page(w, folio); // folio_lock_or_retry
    if let Some(cached) = swapcache {
        // "Make sure folio_free_swap() or swapoff did not release the swapcache from under
        // us."
        let page = w.page(cached);
        if !page.test(pg::SWAPCACHE) || page.swap.load(Ordering::SeqCst) != u64::from(entry) {
            w.trace("do_swap_page: swapcache gone", &at, cached);
            return out_page(w, locked, entry, need_clear_cache);
        }
    }
    // "Back out if somebody else already faulted in this pte."
    let Some(pte) = pte_offset_map_lock(w, mm, va) else {
        return out_page(w, locked, entry, need_clear_cache);
    };
    if pte.get() != orig {
        w.trace("do_swap_page: !pte_same", &at, pte.get());
        drop(pte);
        return out_page(w, locked, entry, need_clear_cache);
    }
    map_swapped_folio(w, &pte, &locked, vma, va, write, orig, swapcache.is_some());
    drop(pte);
    locked.unlock();
    clear_cache(w, entry, need_clear_cache);
    Ok(VmFault::empty())
}

/// The mapping step of `do_swap_page`, the PTL held and `pte_same` confirmed: `swap_free`,
/// `folio_free_swap` if `should_try_to_free_swap`, the exclusivity decision,
/// `page_add_anon_rmap` and `set_pte_at`.
#[allow(clippy::too_many_arguments)]
fn map_swapped_folio(
    w: &World,
    pte: &LockedPte<'_>,
    locked: &LockedPage<'_>,
    vma: VmaId,
    va: u64,
    write: bool,
    orig: Pte,
    from_swapcache: bool,
) {
    let Pte::Swap {
        offset: entry,
        exclusive,
    } = orig
    else {
        unreachable!()
    };
    let pfn = locked.pfn();
    let page = w.page(pfn);
    // "We have a fresh page that is not exposed to the swapcache -> certainly exclusive."
    let exclusive = exclusive || !from_swapcache;
    race_window!("do_swap_page: pte_same under the PTL, entry not yet freed");
    swapfile::swap_free(w, entry);
    if should_try_to_free_swap(w, pfn, vma, write) {
        free_swap::folio_free_swap(w, locked);
    }
    // `if (!folio_test_ksm(folio) && (exclusive || folio_ref_count(folio) == 1))`.
    let reuse = exclusive || page.refcount.load(Ordering::SeqCst) == 1;
    let writable = reuse && write && maybe_mkwrite(w, vma);
    page_add_anon_rmap_swapin(w, pte, pfn, vma, va, reuse);
    let new = present(pfn, writable, reuse && write);
    pte.set_pte_at(new);
    w.trace("do_swap_page: set_pte_at", pte, new);
}

/// `should_try_to_free_swap(folio, vma, fault_flags)`: a swap-cache folio whose VMA is
/// VM_LOCKED or that is mlocked, or one a write fault would reuse if only the cache's
/// reference went (`folio_ref_count == 2`: the cache's and ours).
pub fn should_try_to_free_swap(w: &World, pfn: Pfn, vma: VmaId, write: bool) -> bool {
    let page = w.page(pfn);
    if !page.test(pg::SWAPCACHE) {
        return false;
    }
    if w.vmas.get(vma).has(vm::LOCKED) || page.test(pg::MLOCKED) {
        return true;
    }
    write && page.refcount.load(Ordering::SeqCst) == 2
}

/// `page_add_anon_rmap(page, vma, address, rmap_flags)` of a swapped-in folio: a folio read
/// from the device (through the cache or not) is not yet anonymous, and `__page_set_anon_rmap`
/// points it at this address and at the VMA's anon_vma — or, not `RMAP_EXCLUSIVE`, at its
/// root: "If the page isn't exclusively mapped into this vma, we must use the _oldest_
/// possible anon_vma for the page mapping!" (other mms, forked from this anon_vma's root, may
/// map it from the cache next). `RMAP_EXCLUSIVE` sets PG_anon_exclusive.
fn page_add_anon_rmap_swapin(
    w: &World,
    pte: &LockedPte<'_>,
    pfn: Pfn,
    vma: VmaId,
    va: u64,
    exclusive: bool,
) {
    let page = w.page(pfn);
    if !page.is_anon() {
        let v = w.vmas.get(vma);
        let mut av = v.anon_vma().expect("a VMA with swap PTEs has an anon_vma");
        if !exclusive {
            av = w.anon_vmas.get(av).root();
        }
        page.index
            .store(v.info.get().index_of(va), Ordering::SeqCst);
        page.mapping
            .store(Mapping::Anon(av).encode(), Ordering::SeqCst);
        page.flags.fetch_or(pg::ANON, Ordering::SeqCst);
    }
    if exclusive {
        page.test_set(pg::ANON_EXCLUSIVE);
    }
    rmap::page_add_anon_rmap(w, pte, pfn, vma);
}

/// `out_page:` / `out_release:` — unlock and drop the folio (a fresh folio is freed), then
/// `out:`'s `swapcache_clear` if this fault claimed the slot.
fn out_page(
    w: &World,
    locked: LockedPage<'_>,
    entry: SwpEntry,
    need_clear_cache: bool,
) -> Result<VmFault, Error> {
    let pfn = locked.pfn();
    locked.unlock();
    page_alloc::put_page(w, pfn);
    clear_cache(w, entry, need_clear_cache);
    Ok(VmFault::empty())
}

/// `out:` — "Clear the swap cache pin for direct swapin after PTL unlock".
fn clear_cache(w: &World, entry: SwpEntry, need_clear_cache: bool) {
    if need_clear_cache {
        swapfile::swapcache_clear(w, entry);
    }
}
