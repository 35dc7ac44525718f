//! The LRU side of reclaim (mm/vmscan.c and mm/swap.c, 6.1–6.6): adding folios to the lists
//! (`folio_add_lru`, drained at once; `lru_add_drain`), taking them off (`isolate_lru_folios`
//! for reclaim's batch, `folio_isolate_lru` for one folio), putting them back
//! (`move_folios_to_lru`, `folio_putback_lru`), and `shrink_inactive_list`, which strings them
//! around [`shrink_folio_list`](crate::ops::shrink_folio_list::shrink_folio_list).
//!
//! Every list operation runs under `lruvec->lru_lock` ([`World::lru_lock`], whose data the
//! lists are). Isolation is the race for PG_lru: `folio_test_clear_lru` under the lock, with a
//! reference taken first (`folio_try_get`), then `lruvec_del_folio`; whoever clears PG_lru owns
//! the folio until it puts it back. An isolated folio is invisible to every other isolator —
//! migration's, khugepaged's, reclaim's — and to mlock's counting (`mlock_folio` leaves a
//! folio off the LRU to reclaim's "restore the mlock").
//!
//! Simplification (see [`crate::mm::lruvec`]): the other paths of the model set and clear
//! PG_lru without the list operation; `lru_add_drain` and `isolate_lru_folios` bring the lists
//! up to date with the bit where reclaim reads them.

use crate::mm::lruvec::LruList;
use crate::mm::page::pg;
use crate::mm::{Pfn, World};
use crate::ops::page_alloc;
use crate::ops::shrink_folio_list::{ScanControl, shrink_folio_list};

/// `folio_lru_list`: the list a folio belongs on — unevictable if `!folio_evictable`
/// (PG_unevictable or PG_mlocked), else anon (swap-backed) or file, active if PG_active.
///
/// Reads the slot without a liveness check: the LRU scanners look at folios they do not yet
/// hold a reference to, as the kernel's do, and re-check once they have one.
pub fn folio_lru_list(w: &World, pfn: Pfn) -> LruList {
    let page = w.pages.slot(pfn.idx);
    let flags = page.flags.load(crate::sync::Ordering::SeqCst);
    LruList::of(
        flags & (pg::UNEVICTABLE | pg::MLOCKED) != 0,
        flags & (pg::ANON | pg::SWAPBACKED) != 0 || page.is_anon(),
        flags & pg::ACTIVE != 0,
    )
}

/// `folio_add_lru` with its per-CPU batch drained at once (`lru_add_fn` under `lru_lock`):
/// PG_lru set and the folio on the head of its list. The caller's reference is its own (the
/// batch's is not modelled).
pub fn folio_add_lru(w: &World, pfn: Pfn) {
    let lru = folio_lru_list(w, pfn);
    let mut lruvec = w.lru_lock.lock();
    w.page(pfn).test_set(pg::LRU);
    if lruvec.list_of(pfn).is_none() {
        lruvec.add_folio(pfn, lru);
    }
    drop(lruvec);
    w.trace("folio_add_lru", pfn, format_args!("{lru:?}"));
}

/// `lru_cache_add` (the pre-folio name callers still use for a new page): [`folio_add_lru`].
pub fn lru_cache_add(w: &World, pfn: Pfn) {
    folio_add_lru(w, pfn)
}

/// `lru_add_drain`: the per-CPU `lru_add` batches drained to the lists. In the model, the
/// folios other paths marked PG_lru without a list (module docs) go on the head of theirs.
pub fn lru_add_drain(w: &World) {
    let mut lruvec = w.lru_lock.lock();
    for pfn in w.pages.live() {
        // The snapshot may be stale by now: a folio freed since is dropped again by
        // isolate_lru_folios.
        if w.pages.slot(pfn.idx).test(pg::LRU) && lruvec.list_of(pfn).is_none() {
            let lru = folio_lru_list(w, pfn);
            lruvec.add_folio(pfn, lru);
        }
    }
}

/// `isolate_lru_folios(nr_to_scan, lruvec, dst, ..., lru)` (mm/vmscan.c), `lru_lock` held
/// throughout: from the tail of `lru`, take up to `nr_to_scan` folios — each with a reference
/// (`folio_try_get`) and PG_lru cleared (`folio_test_clear_lru`), off its list. A folio that
/// fails either (being freed; isolated by someone else) is moved to the head ("move_to =
/// src") and left alone. Returns the isolated folios, tail first.
///
/// Model catch-up (module docs): an entry whose folio was freed meanwhile is dropped; one
/// that is unevictable (mlocked while on this list) moves to the unevictable list.
pub fn isolate_lru_folios(w: &World, nr_to_scan: usize, lru: LruList) -> Vec<Pfn> {
    let mut dst = Vec::new();
    let mut lruvec = w.lru_lock.lock();
    let mut scanned = 0;
    let mut looked = 0;
    let total = lruvec.len(lru);
    while scanned < nr_to_scan && looked < total {
        looked += 1;
        let Some(pfn) = lruvec.pop_tail(lru) else {
            break;
        };
        if !w.pages.is_live(pfn) {
            continue;
        }
        if lru != LruList::Unevictable && folio_lru_list(w, pfn) == LruList::Unevictable {
            lruvec.add_folio(pfn, LruList::Unevictable);
            continue;
        }
        scanned += 1;
        if !page_alloc::get_page_unless_zero(w, pfn) {
            lruvec.add_folio(pfn, lru);
            continue;
        }
        if !w.page(pfn).test_clear(pg::LRU) {
            // Isolated by someone else since it went on the list: "goto move".
            lruvec.add_folio(pfn, lru);
            drop(lruvec);
            page_alloc::put_page(w, pfn);
            lruvec = w.lru_lock.lock();
            continue;
        }
        dst.push(pfn);
    }
    drop(lruvec);
    w.trace(
        "isolate_lru_folios",
        format_args!("{lru:?}"),
        format_args!("{} of {scanned} scanned", dst.len()),
    );
    dst
}

/// `folio_isolate_lru` (mm/vmscan.c, 6.x; `isolate_lru_page` before): one folio, for
/// migration, khugepaged, `madvise_cold_or_pageout`: if `folio_test_clear_lru` wins, take a
/// reference and `lruvec_del_folio` under `lru_lock`. False if the folio was not on the LRU
/// (someone else isolated it).
pub fn folio_isolate_lru(w: &World, pfn: Pfn) -> bool {
    let page = w.page(pfn);
    if !page.test_clear(pg::LRU) {
        return false;
    }
    page_alloc::get_page(w, pfn);
    let mut lruvec = w.lru_lock.lock();
    lruvec.del_folio(pfn);
    drop(lruvec);
    w.trace("folio_isolate_lru", pfn, "");
    true
}

/// `folio_putback_lru` (mm/vmscan.c): `folio_add_lru` then `folio_put` of the isolation's
/// reference.
pub fn folio_putback_lru(w: &World, pfn: Pfn) {
    folio_add_lru(w, pfn);
    page_alloc::put_page(w, pfn);
}

/// `move_folios_to_lru(lruvec, list)` (mm/vmscan.c): under `lru_lock`, each folio back on
/// its list (`folio_lru_list`: an activated folio on the active one) with PG_lru set, then
/// the isolation's reference dropped once the lock is released (the kernel frees a folio
/// whose count reached zero here itself, `free_unref_page_list` after the unlock).
pub fn move_folios_to_lru(w: &World, folios: &[Pfn]) {
    if folios.is_empty() {
        return;
    }
    let mut lruvec = w.lru_lock.lock();
    for &pfn in folios {
        let lru = folio_lru_list(w, pfn);
        w.page(pfn).test_set(pg::LRU);
        if lruvec.list_of(pfn).is_none() {
            lruvec.add_folio(pfn, lru);
        }
    }
    drop(lruvec);
    w.trace("move_folios_to_lru", folios.len(), "");
    for &pfn in folios {
        page_alloc::put_page(w, pfn);
    }
}

/// `shrink_inactive_list(nr_to_scan, lruvec, sc, lru)` (mm/vmscan.c): `lru_add_drain`,
/// isolate a batch from the tail of `lru`, `shrink_folio_list` it, put the kept folios back
/// with `move_folios_to_lru`. Returns how many folios were reclaimed.
pub fn shrink_inactive_list(w: &World, nr_to_scan: usize, lru: LruList, sc: &ScanControl) -> usize {
    lru_add_drain(w);
    let folios = isolate_lru_folios(w, nr_to_scan, lru);
    if folios.is_empty() {
        return 0;
    }
    let (reclaimed, kept) = shrink_folio_list(w, folios, sc);
    move_folios_to_lru(w, &kept);
    reclaimed
}

/// `reclaim_pages(folio_list)` → `reclaim_folio_list` (mm/vmscan.c, 6.x): reclaim folios the
/// caller isolated itself (`folio_isolate_lru`: MADV_PAGEOUT's page-table walk, DAMON's
/// pageout), with `shrink_folio_list(..., ignore_references = true)` — the caller cleared the
/// accessed bits already — and `folio_putback_lru` of each folio it kept. Returns how many it
/// reclaimed.
pub fn reclaim_pages(w: &World, folios: Vec<Pfn>) -> usize {
    if folios.is_empty() {
        return 0;
    }
    let sc = ScanControl {
        ignore_references: true,
    };
    let (reclaimed, kept) = shrink_folio_list(w, folios, &sc);
    for pfn in kept {
        folio_putback_lru(w, pfn);
    }
    reclaimed
}

/// `shrink_active_list(nr_to_scan, lruvec, sc, lru)` (mm/vmscan.c, 6.x): isolate a batch from
/// the tail of an active list; each folio whose PTEs were referenced stays active only if it
/// is executable file cache (not modelled: no VM_EXEC), so every evictable folio is
/// deactivated — `folio_referenced` (which trylocks the folio itself, `is_locked = 0`, and
/// counts a folio it cannot lock as referenced) clears its accessed bits on the way — and
/// all go back with `move_folios_to_lru`.
pub fn shrink_active_list(w: &World, nr_to_scan: usize, lru: LruList) {
    lru_add_drain(w);
    let folios = isolate_lru_folios(w, nr_to_scan, lru);
    for &pfn in &folios {
        if let Some(locked) = crate::ops::pagemap::trylock_page(w, pfn) {
            crate::ops::folio_referenced::folio_referenced(w, &locked);
            locked.unlock();
        }
        w.page(pfn).test_clear(pg::ACTIVE);
    }
    w.trace(
        "shrink_active_list",
        format_args!("{lru:?}"),
        format_args!("{} deactivated", folios.len()),
    );
    move_folios_to_lru(w, &folios);
}
