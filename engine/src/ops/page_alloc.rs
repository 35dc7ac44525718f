//! The page allocator: `alloc_page` and `put_page` / `free_unref_page`, with the free list under
//! `zone->lock`.

use crate::check::{self, Oracle};
use crate::mm::page::Compound;
use crate::mm::{Pfn, World};
use crate::sync::Ordering;

/// `alloc_page`: a fresh page with one reference, no mapping, zeroed data.
pub fn alloc_page(w: &World) -> Option<Pfn> {
    let idx = w.free_pages.lock().pop()?;
    let (pfn, page) = w.pages.activate(idx);
    page.flags.store(0, Ordering::SeqCst);
    page.mapcount.store(0, Ordering::SeqCst);
    page.mapping.store(0, Ordering::SeqCst);
    page.index.store(0, Ordering::SeqCst);
    page.mlock_count.store(0, Ordering::SeqCst);
    page.block.store(0, std::sync::atomic::Ordering::Relaxed);
    for d in &page.data {
        d.store(0, Ordering::SeqCst);
    }
    page.refcount.store(1, Ordering::SeqCst);
    w.trace("alloc_page", pfn, "ref=1");
    Some(pfn)
}

/// `alloc_pages(GFP_TRANSHUGE, HPAGE_PMD_ORDER)` + `prep_compound_page` (the THP fault's
/// `vma_alloc_folio(..., HPAGE_PMD_ORDER, ...)`): `nr` consecutive free frames under
/// `zone->lock`, the first the head (one reference, `_entire_mapcount` zero), the rest its
/// tails (no reference of their own: `get_page` / `put_page` of a tail go to the head).
/// `None` when no run of `nr` free frames exists (the fault then falls back to small pages,
/// `VM_FAULT_FALLBACK`).
///
/// Simplification: the buddy allocator's alignment of the run is not modelled (any run
/// will do).
pub fn alloc_compound_page(w: &World, nr: usize) -> Option<Pfn> {
    let first = {
        let mut free = w.free_pages.lock();
        let mut sorted = free.clone();
        sorted.sort_unstable();
        let first = sorted
            .windows(nr)
            .find(|run| run[nr - 1] - run[0] == nr as u32 - 1)
            .map(|run| run[0])?;
        free.retain(|&i| !(first..first + nr as u32).contains(&i));
        first
    };
    let mut head = None;
    for i in 0..nr as u32 {
        let (pfn, page) = w.pages.activate(first + i);
        page.flags.store(0, Ordering::SeqCst);
        page.mapcount.store(0, Ordering::SeqCst);
        page.entire_mapcount.store(0, Ordering::SeqCst);
        page.mapping.store(0, Ordering::SeqCst);
        page.index.store(0, Ordering::SeqCst);
        page.mlock_count.store(0, Ordering::SeqCst);
        page.block.store(0, std::sync::atomic::Ordering::Relaxed);
        for d in &page.data {
            d.store(0, Ordering::SeqCst);
        }
        page.compound.set(if i == 0 {
            Compound::Head { nr: nr as u32 }
        } else {
            Compound::Tail { head: first }
        });
        page.refcount
            .store(if i == 0 { 1 } else { 0 }, Ordering::SeqCst);
        if i == 0 {
            head = Some(pfn);
        }
    }
    let head = head.expect("nr >= 1");
    w.trace(
        "alloc_pages(HPAGE_PMD_ORDER)",
        head,
        format_args!("{nr} pages, ref=1"),
    );
    Some(head)
}

/// `get_page`: a reference on the page, or on its head for a tail (`folio_get(page_folio)`).
pub fn get_page(w: &World, pfn: Pfn) {
    let pfn = w.compound_head(pfn);
    w.page(pfn).refcount.fetch_add(1, Ordering::SeqCst);
}

/// `get_page_unless_zero`: fails on a frozen or freed page.
pub fn get_page_unless_zero(w: &World, pfn: Pfn) -> bool {
    let pfn = w.compound_head(pfn);
    let page = w.pages.slot(pfn.idx);
    if !w.pages.is_live(pfn) {
        return false;
    }
    crate::race_window!("get_page_unless_zero: page looked up, reference not yet taken");
    if page
        .refcount
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
            (r > 0).then_some(r + 1)
        })
        .is_err()
    {
        return false;
    }
    // The frame may have been freed and reallocated between the lookup and the increment: the
    // reference is then on another page. The kernel's callers see it when they re-check the
    // folio's identity (`folio != xas_reload()`) and put it back; the model re-checks the
    // generation and does the same.
    if !w.pages.is_live(pfn) {
        if let Some(other) = w.pages.live_id(pfn.idx) {
            put_page(w, other);
        }
        return false;
    }
    true
}

/// `put_page`: drop a reference (the head's, for a tail); the last one frees the page (the
/// whole compound page, `free_compound_page`).
#[track_caller]
pub fn put_page(w: &World, pfn: Pfn) {
    let pfn = w.compound_head(pfn);
    let prev = w.page(pfn).refcount.fetch_sub(1, Ordering::SeqCst);
    if prev == 1 {
        free_page(w, pfn);
    } else if prev <= 0 {
        check::violation(
            Oracle::Bug,
            format!("VM_BUG_ON_PAGE(page_ref_count(page) == 0): put_page of {pfn} with ref {prev}"),
        );
    }
}

/// `free_unref_page`: return a page whose last reference went to the allocator, after the
/// checks of `free_pages_prepare` (mapcount) and the lab's I3 and I13: no CPU TLB and no
/// secondary TLB reaches it. The head of a THP frees every frame of it, each checked so
/// (`free_compound_page` → `free_tail_page_prepare` and the head's `_entire_mapcount`).
#[track_caller]
pub fn free_page(w: &World, pfn: Pfn) {
    if let Compound::Head { nr } = w.page(pfn).compound.get() {
        let entire = w.page(pfn).entire_mapcount.load(Ordering::SeqCst);
        if entire != 0 {
            check::violation(
                Oracle::Bug,
                format!("Bad page state: THP {pfn} freed with entire mapcount {entire}"),
            );
        }
        let frames: Vec<Pfn> = (0..nr as usize).map(|i| w.subpage(pfn, i)).collect();
        for &f in frames.iter().rev() {
            w.page(f).compound.set(Compound::Single);
            free_one_page(w, f);
        }
        return;
    }
    free_one_page(w, pfn);
}

/// One frame of [`free_page`].
#[track_caller]
fn free_one_page(w: &World, pfn: Pfn) {
    let page = w.page(pfn);
    let mapcount = page.mapcount.load(Ordering::SeqCst);
    if mapcount != 0 {
        check::violation(
            Oracle::Bug,
            format!("Bad page state: {pfn} freed with mapcount {mapcount}"),
        );
    }
    if page.lock().is_locked() {
        check::violation(
            Oracle::Bug,
            format!("Bad page state: {pfn} freed while PG_locked"),
        );
    }
    for (c, cpu) in w.cpus.iter().enumerate() {
        let tlb = crate::sync::hw_lock(&cpu.tlb);
        if let Some(e) = tlb.iter().find(|e| e.pfn == pfn) {
            check::violation(
                Oracle::I3FreeBeforeFlush,
                format!(
                    "{pfn} freed while cpu{c}'s TLB still maps it at {} va {:#x}",
                    e.mm,
                    e.va << 12
                ),
            );
        }
    }
    if w.kernel.mlock.scheme == crate::ops::mlock::MlockScheme::PageMlock
        && page.test(crate::mm::pg::MLOCKED)
    {
        // ≤5.17: PG_mlocked is in PAGE_FLAGS_CHECK_AT_FREE ("Bad page state").
        check::violation(
            Oracle::I11Mlock,
            format!("Bad page state: {pfn} freed with PG_mlocked"),
        );
    }
    // I13: nor may a secondary MMU (the free must follow its invalidation).
    for s in w.secondaries.iter().filter(|s| s.registered()) {
        if let Some(e) = crate::sync::hw_lock(&s.tlb).iter().find(|e| e.pfn == pfn) {
            check::violation(
                Oracle::I13SecondaryMmu,
                format!(
                    "{pfn} freed while the {} still maps it at {} va {:#x}",
                    s.kind.name(),
                    e.mm,
                    e.va << 12
                ),
            );
        }
    }
    // __page_cache_release (`__put_single_page`, `release_pages`): a page still on the LRU is
    // taken off it under `lru_lock` before it is freed. Simplification: the model does not
    // take the lock (a free of an LRU page would be a loom branch point in every scenario)
    // but tells lockdep it would (`might_lock`) when the freeing thread already holds
    // `lru_lock` — the one case lockdep could report here (a self-deadlock, 3b25df93c6e3),
    // and the only one in which PG_LRU is read, so that no other free gains a loom operation.
    if crate::sync::lockdep::is_held(crate::sync::LockClass::LruLock)
        && page.test(crate::mm::pg::LRU)
    {
        w.lru_lock.might_lock();
    }
    // The free path clears PG_mlocked (`unevictable_pgs_cleared`): a page can legitimately be
    // freed mlocked after a truncation/munlock race.
    page.flags.store(0, Ordering::SeqCst);
    page.mapping.store(0, Ordering::SeqCst);
    w.trace("free_unref_page", pfn, "");
    if w.pages.retire(pfn) {
        w.free_pages.lock().push(pfn.idx);
    }
}
