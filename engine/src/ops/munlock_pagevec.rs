//! The ≤5.17 batched munlock (mm/mlock.c, 3.12–5.17): `munlock_vma_pages_range` gathers the
//! VMA's pages into a pagevec (`follow_page(FOLL_GET)`, then `__munlock_pagevec_fill`'s PTE
//! walk) and munlocks them together in `__munlock_pagevec`, in phases (7225522bb429 "mm:
//! munlock: batch non-THP page isolation and munlock+putback using pagevec", v3.12):
//!
//! ```text
//! Phase 1, under lru_lock:  per page: TestClearPageMlocked ? (PageLRU ? isolate : failed)
//!                                     : skip — the follow_page pin is dropped
//! Phase 2, per page:        lock_page; __munlock_isolated_page (try_to_munlock if mapped
//!                           elsewhere, then putback_lru_page); unlock_page
//! ```
//!
//! Where the skipped pages' pins are dropped is 3b25df93c6e3 "mm: munlock: fix deadlock in
//! __munlock_pagevec()" (Vlastimil Babka, v3.13): v3.12 put them inside phase 1, under
//! `lru_lock`; "This can lead to deadlock when __munlock_pagevec() becomes the holder of the
//! last page pin and put_page() leads to __page_cache_release() which also locks lru_lock."
//! The fix gathers them in a second pagevec and releases it after `spin_unlock`.
//! [`__munlock_pagevec`] is the fixed form, [`__munlock_pagevec_v3_12`] the original; the
//! table entry is `w.kernel.mlock.__munlock_pagevec`, reached from
//! [`munlock_vma_pages_range_v5_17`], the `munlock_vma_pages_range` entry of this era.
//!
//! Simplifications (docs/MODEL.md §19): one zone (`w.lru_lock`); the pagevec is filled by
//! `follow_page` per page (no `__munlock_pagevec_fill` walk under one PTL, no THP branch);
//! NR_MLOCK accounting is not kept; the putback's "fast path" (`__putback_lru_fast`) and slow
//! path are one step, `putback_lru_page`.

use crate::mm::page::pg;
use crate::mm::{Pfn, VmaId, World, vm};
use crate::ops::munlock::follow_page;
use crate::ops::page_alloc;
use crate::ops::pagemap::lock_page;
use crate::sync::Ordering;

/// `PAGEVEC_SIZE` (3.12–5.17: 14).
pub const PAGEVEC_SIZE: usize = 14;

/// `munlock_vma_pages_range` (3.12–5.17, the pagevec form): clear VM_LOCKED first, then
/// gather the mapped pages (`follow_page(FOLL_GET | FOLL_DUMP)`: each with a pin) into
/// pagevecs and munlock each batch; `cond_resched()` after each.
pub fn munlock_vma_pages_range_v5_17(w: &World, vma_id: VmaId) {
    let vma = w.vmas.get(vma_id);
    let info = vma.info.get();
    if vma.flags.fetch_and(!vm::LOCKED, Ordering::SeqCst) & vm::LOCKED == 0 {
        return;
    }
    w.trace("munlock_vma_pages_range", vma_id, "clear VM_LOCKED");
    let mut pvec = Vec::with_capacity(PAGEVEC_SIZE);
    for va in info.start..info.end {
        if let Some(pfn) = follow_page(w, info.mm, va) {
            pvec.push(pfn);
        }
        if pvec.len() == PAGEVEC_SIZE || va + 1 == info.end {
            if !pvec.is_empty() {
                crate::race_window!("munlock_vma_pages_range: pagevec filled, not yet munlocked");
                (w.kernel.mlock.__munlock_pagevec)(w, std::mem::take(&mut pvec));
            }
            crate::sync::yield_now(); // cond_resched()
        }
    }
}

/// Phase 1 of `__munlock_pagevec`, under `lru_lock`: which pages go on to be munlocked
/// (PG_mlocked cleared here, taken off the LRU: the follow_page pin becomes the isolation's),
/// and which are skipped (not mlocked any more, or not on the LRU: `__munlock_isolation_failed`).
/// `skipped` is called for each skipped page, with `lru_lock` held.
fn phase1(w: &World, pvec: &mut [Option<Pfn>], mut skipped: impl FnMut(Pfn)) {
    let lru = w.lru_lock.lock();
    for slot in pvec.iter_mut() {
        let Some(pfn) = *slot else { continue };
        let page = w.page(pfn);
        if page.test_clear(pg::MLOCKED) {
            if page.test_clear(pg::LRU) {
                // "We already have pin from follow_page_mask() so we can spare the
                // get_page() here."
                continue;
            }
            w.trace("__munlock_isolation_failed", pfn, "");
        }
        *slot = None;
        skipped(pfn);
    }
    drop(lru);
}

/// `__munlock_pagevec` (3.13+, 3b25df93c6e3): phase 1 gathers the skipped pages' pins in
/// `pvec_putback` and releases them after `spin_unlock` — "We cannot do it under lru_lock
/// however. If it's the last pin, __page_cache_release would deadlock." — then phase 2.
pub fn __munlock_pagevec(w: &World, pvec: Vec<Pfn>) {
    let mut pvec: Vec<Option<Pfn>> = pvec.into_iter().map(Some).collect();
    let mut putback = Vec::new();
    phase1(w, &mut pvec, |pfn| putback.push(pfn));
    // pagevec_release(&pvec_putback): "Now we can release pins of pages that we are not
    // munlocking".
    for pfn in putback {
        page_alloc::put_page(w, pfn);
    }
    phase2(w, &pvec);
}

/// `__munlock_pagevec` as 7225522bb429 wrote it (v3.12): a skipped page's pin is dropped in
/// phase 1, under `lru_lock` — if it is the last, the free path's `__page_cache_release`
/// takes `lru_lock` again (the self-deadlock 3b25df93c6e3 fixed, I15 here).
pub fn __munlock_pagevec_v3_12(w: &World, pvec: Vec<Pfn>) {
    let mut pvec: Vec<Option<Pfn>> = pvec.into_iter().map(Some).collect();
    phase1(w, &mut pvec, |pfn| page_alloc::put_page(w, pfn));
    phase2(w, &pvec);
}

/// Phase 2 of `__munlock_pagevec`: each isolated page, locked: `__munlock_isolated_page` —
/// `try_to_munlock` (`page_mlock`) if others map it, which re-mlocks it for another VM_LOCKED
/// VMA — then `putback_lru_page` (back on the LRU, unevictable only if mlocked again; the
/// isolation's pin dropped).
fn phase2(w: &World, pvec: &[Option<Pfn>]) {
    for &pfn in pvec.iter().flatten() {
        let locked = lock_page(w, pfn);
        let page = w.page(pfn);
        if page.mapcount.load(Ordering::SeqCst) > 1 {
            (w.kernel.mlock.page_mlock)(w, &locked);
        }
        if !page.test(pg::MLOCKED) {
            page.test_clear(pg::UNEVICTABLE);
        }
        w.trace("__munlock_isolated_page", pfn, page.describe());
        drop(locked);
        // putback_lru_page
        page.test_set(pg::LRU);
        page_alloc::put_page(w, pfn);
    }
}
