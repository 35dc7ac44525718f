//! Adding and removing reverse mappings: `page_add_new_anon_rmap`, `page_add_file_rmap`,
//! `page_remove_rmap`, and `set_page_dirty`.
//!
//! All are called under the PTL of the mapping being added or removed (I1, I12 in
//! docs/MODEL.md §3). The adds take the [`LockedPte`] being installed as the proof: the guard
//! names the PTE whose lock is held, not just some spinlock. `page_remove_rmap` takes none:
//! the delayed rmaps of 5df397dec7c4 are removed from the gather (`tlb_flush_rmaps`), which
//! the delayed-rmap scenario's `rmap-after-ptl` variant runs after the PTL was dropped.
//!
//! The mlock hooks of each scheme live here, as in the kernel (5.18+: `mlock_vma_folio` /
//! `munlock_vma_folio` from rmap add/remove; ≤5.17: `clear_page_mlock` when the mapcount
//! reaches zero).

use crate::check::{self, Oracle};
use crate::mm::page::pg;
use crate::mm::{Mapping, Pfn, VmaId, World, vm};
use crate::ops::mlock::MlockScheme;
use crate::ops::pagemap::LockedPage;
use crate::ops::pgtable_generic::LockedPte;
use crate::sync::Ordering;

/// `page_add_new_anon_rmap(page, vma, address)`: the first mapping of a new anonymous page,
/// at the address of `pte` — the PTE the caller holds locked and is about to set. The page is
/// `PageAnonExclusive` (5.19+, 6c287605fd56: `__page_set_anon_rmap(..., exclusive = 1)`): only
/// this mm maps it. The flag is set in every era; only the 5.19+ `do_wp_page` and the 6.0+ GUP read it.
pub fn page_add_new_anon_rmap(w: &World, pte: &LockedPte<'_>, pfn: Pfn, vma: VmaId) {
    let va = pte.va();
    let v = w.vmas.get(vma);
    // `__page_set_anon_rmap`: `BUG_ON(!anon_vma)`. `vma->anon_vma` is read again here, after
    // `anon_vma_prepare` saw it set: a writer that clears it in between without excluding
    // the fault (d8ab9f7b644a: `dup_anon_vma` unwinding a failed `anon_vma_clone` on a VMA
    // it had not write-locked) makes this fire.
    let Some(av) = v.anon_vma() else {
        check::violation(
            Oracle::Bug,
            format!("__page_set_anon_rmap: BUG_ON(!anon_vma): {vma} lost its anon_vma"),
        );
        return;
    };
    let page = w.page(pfn);
    page.flags.fetch_or(
        pg::ANON | pg::SWAPBACKED | pg::ANON_EXCLUSIVE,
        Ordering::SeqCst,
    );
    page.index
        .store(v.info.get().index_of(va), Ordering::SeqCst);
    page.mapping
        .store(Mapping::Anon(av).encode(), Ordering::SeqCst);
    page.mapcount.fetch_add(1, Ordering::SeqCst);
    w.trace("page_add_new_anon_rmap", pfn, page.describe());
}

/// `page_move_anon_rmap` (`folio_move_anon_rmap`): a write fault reuses an anonymous page that
/// was shared (fork's anon_vma of the parent may still be its `->mapping`) and is now mapped by
/// this VMA alone — point `->mapping` at this VMA's anon_vma, so that rmap walks start from the
/// smaller tree, and (5.19+, 6c287605fd56) mark it `PageAnonExclusive`. Called with the page
/// locked, as mm/rmap.c's `VM_BUG_ON_PAGE(!PageLocked(page))` demands (`page` is the proof).
pub fn page_move_anon_rmap(w: &World, page: &LockedPage<'_>, vma: VmaId) {
    let pfn = page.pfn();
    let av = w
        .vmas
        .get(vma)
        .anon_vma()
        .expect("a VMA that maps an anonymous page has an anon_vma");
    let p = w.page(pfn);
    p.mapping
        .store(Mapping::Anon(av).encode(), Ordering::SeqCst);
    p.test_set(pg::ANON_EXCLUSIVE);
    w.trace("page_move_anon_rmap", pfn, av);
}

/// `page_add_new_anon_rmap(page, vma, haddr, compound = true)` (4.5–5.18; `RMAP_COMPOUND`
/// 6.0–6.2, `folio_add_new_anon_rmap` 6.3+): the first mapping of a new THP, by the huge PMD
/// `pmd` the caller holds locked — the head's `_entire_mapcount` goes to one (zero-based 0 →
/// 1 here, as `mapcount`), its per-page mapcounts stay; the head is anonymous, swap-backed and
/// exclusive. Simplification: the tails carry the head's `mapping` and their own `index` too
/// (the kernel's tails point at the head), so that a walk from any subpage finds its anon_vma.
pub fn page_add_new_anon_rmap_pmd(
    w: &World,
    pmd: &crate::ops::pmd_lock::LockedPmd<'_>,
    head: Pfn,
    vma: VmaId,
) {
    let v = w.vmas.get(vma);
    let av = v
        .anon_vma()
        .expect("anon_vma_prepare before page_add_new_anon_rmap");
    let info = v.info.get();
    let nr = w.cfg.ptes_per_table;
    for i in 0..nr {
        let page = w.page(w.subpage(head, i));
        page.index
            .store(info.index_of(pmd.haddr() + i as u64), Ordering::SeqCst);
        page.mapping
            .store(Mapping::Anon(av).encode(), Ordering::SeqCst);
    }
    let page = w.page(head);
    page.flags.fetch_or(
        pg::ANON | pg::SWAPBACKED | pg::ANON_EXCLUSIVE,
        Ordering::SeqCst,
    );
    page.entire_mapcount.fetch_add(1, Ordering::SeqCst);
    w.trace(
        "page_add_new_anon_rmap(compound)",
        head,
        format_args!("entire={}", page.entire_mapcount.load(Ordering::SeqCst)),
    );
}

/// `page_remove_rmap(page, vma, compound = true)` (≤6.7; `folio_remove_rmap_pmd` 6.8+): one
/// PMD mapping of the THP `head` fewer, under the lock of the PMD `pmd` that mapped it.
pub fn page_remove_rmap_pmd(
    w: &World,
    _pmd: &crate::ops::pmd_lock::LockedPmd<'_>,
    head: Pfn,
    _vma: VmaId,
) {
    let page = w.page(head);
    let left = page.entire_mapcount.fetch_sub(1, Ordering::SeqCst) - 1;
    w.trace(
        "page_remove_rmap(compound)",
        head,
        format_args!("entire={left}"),
    );
    if left < 0 {
        crate::check::violation(
            crate::check::Oracle::I1Mapcount,
            format!("entire mapcount of THP {head} went negative"),
        );
    }
}

/// `page_add_anon_rmap`: another mapping of an existing anonymous page (remove_migration_pte).
pub fn page_add_anon_rmap(w: &World, _pte: &LockedPte<'_>, pfn: Pfn, vma: VmaId) {
    let page = w.page(pfn);
    page.mapcount.fetch_add(1, Ordering::SeqCst);
    mlock_on_add(w, pfn, vma);
    w.trace("page_add_anon_rmap", pfn, page.describe());
}

/// `page_add_file_rmap`.
pub fn page_add_file_rmap(w: &World, _pte: &LockedPte<'_>, pfn: Pfn, vma: VmaId) {
    let page = w.page(pfn);
    page.mapcount.fetch_add(1, Ordering::SeqCst);
    mlock_on_add(w, pfn, vma);
    w.trace("page_add_file_rmap", pfn, page.describe());
}

/// 5.18+: `mlock_vma_folio` from rmap add, when the VMA is VM_LOCKED and not VM_SPECIAL (the
/// tail of `page_add_anon_rmap` / `page_add_file_rmap`; nothing under the ≤5.17 scheme).
pub fn mlock_on_add(w: &World, pfn: Pfn, vma: VmaId) {
    if w.kernel.mlock.scheme == MlockScheme::MlockCount {
        let flags = w.vmas.get(vma).flags.load(Ordering::SeqCst);
        if flags & (vm::LOCKED | vm::IO) == vm::LOCKED {
            (w.kernel.mlock.mlock_folio)(w, pfn);
        }
    }
}

/// `page_remove_rmap`: one mapping fewer. Called under the PTL of the removed mapping (or, for
/// delayed rmaps, of the table whose PTEs the gather cleared).
pub fn page_remove_rmap(w: &World, pfn: Pfn, vma: VmaId) {
    let page = w.page(pfn);
    let left = page.mapcount.fetch_sub(1, Ordering::SeqCst) - 1;
    w.trace("page_remove_rmap", pfn, page.describe());
    if left < 0 {
        crate::check::violation(
            crate::check::Oracle::I1Mapcount,
            format!("mapcount of {pfn} went negative"),
        );
    }
    match w.kernel.mlock.scheme {
        MlockScheme::MlockCount => {
            // `munlock_vma_folio`: the VMA's flags are read as the kernel reads them.
            if w.vmas.slot(vma.idx).flags.load(Ordering::SeqCst) & vm::LOCKED != 0 {
                (w.kernel.mlock.munlock_folio)(w, pfn);
            }
        }
        MlockScheme::PageMlock => {
            // ≤5.17 `page_remove_rmap` → `clear_page_mlock` once nobody maps the page.
            if left == 0 {
                (w.kernel.mlock.clear_page_mlock)(w, pfn);
            }
        }
    }
}

/// `set_page_dirty`: move a PTE's dirty bit to the page.
pub fn set_page_dirty(w: &World, pfn: Pfn) {
    if !w.page(pfn).test_set(pg::DIRTY) {
        w.trace("set_page_dirty", pfn, "PG_dirty");
    }
}
