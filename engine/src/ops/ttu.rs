//! `try_to_unmap` (reclaim, file THP split) and `try_to_migrate` (migration, anon THP split),
//! with their per-VMA `try_to_unmap_one` / `try_to_migrate_one` (split apart by a98a2f0c8ce1).
//!
//! Callers hold the page lock (the `&LockedPage` is the proof) and a page reference, and pass
//! [`TtuFlags`] as the kernel's callers do. Each `_one` runs inside an mmu-notifier bracket
//! (never under a PTL), finds the PTE with `page_vma_mapped_walk` — which skips an
//! empty-looking PTE without its PTL unless `TTU_SYNC` — and clears it under the PTL, flushing
//! the TLB before the PTL is dropped (`ptep_clear_flush`), moving the dirty bit to the page and
//! removing the rmap.
//!
//! The walkers call the `_one`s through the kernel table (`w.kernel.rmap.try_to_unmap_one`,
//! `try_to_migrate_one`). The historical versions share [`unmap_one_pte`], the step under the
//! PTL, and differ in what the patch changed: [`unmap_one_start_end`] (369ea8242c0f's notifier
//! bracket) or [`unmap_one_invalidate_page`] (4.4), and the [`HugetlbBranch`] (017b1660df89's
//! `huge_pmd_unshare`, or [`no_huge_pmd_unshare`] before it).

use crate::check::{self, Oracle};
use crate::mm::page::Compound;
use crate::mm::page::pg;
use crate::mm::pte::Pte;
use crate::mm::swap::SwpEntry;
use crate::mm::{Pfn, VmaId, World, vm};
use crate::ops::huge_memory::is_thp_head;
use crate::ops::hugetlb;
use crate::ops::mlock::MlockScheme;
use crate::ops::pagemap::LockedPage;
use crate::ops::pgtable_generic::LockedPte;
use crate::ops::pvmw::{PVMW_SYNC, PageVmaMappedWalk, PvmwFlags, PvmwItem};
use crate::ops::rmap_walk::{HeldRmapLock, RmapWalkControl, rmap_walk, rmap_walk_locked};
use crate::ops::{huge_memory, split_huge_pmd};
use crate::ops::{page_alloc, rmap, swapfile, tlb_ubc};
use crate::race_window;

/// `enum ttu_flags`, defined in [`crate::ops::rmap_types`] (include/linux/rmap.h's types,
/// below the rmap walk whose table entries take them) and named here too, beside the
/// functions the kernel's callers pass them to.
pub use crate::ops::rmap_types::{
    TTU_BATCH_FLUSH, TTU_IGNORE_MLOCK, TTU_RMAP_LOCKED, TTU_SPLIT_HUGE_PMD, TTU_SYNC, TtuFlags,
};

/// What a `_one` installs in place of the PTE — which of the two functions it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// try_to_unmap of a file page: nothing (the locked page cannot be re-faulted meanwhile).
    Nothing,
    /// try_to_migrate: a migration entry.
    MigrationEntry,
}

/// The hugetlb branch of a `_one`, run on the found PTE before it is cleared: since
/// 017b1660df89 [`hugetlb::try_unshare`] (`huge_pmd_unshare`); before it
/// [`no_huge_pmd_unshare`].
pub type HugetlbBranch = fn(&World, &PvmwItem<'_>, VmaId, u64) -> hugetlb::Unshare;

/// The hugetlb branch before 017b1660df89: a shared PMD table is not special — its entry is
/// cleared like any other (for every sharer at once) and the walk stops when the mapcount
/// reaches zero.
pub fn no_huge_pmd_unshare(
    _w: &World,
    _item: &PvmwItem<'_>,
    _vma: VmaId,
    _va: u64,
) -> hugetlb::Unshare {
    hugetlb::Unshare::NotShared
}

/// What [`unmap_one_pte`] did with this VMA's mapping of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmapStep {
    /// PVMW found no PTE mapping the page here.
    NotMapped,
    /// A VM_LOCKED mapping reclaim must keep ("restore the mlock"): stop the walk.
    Mlocked,
    /// `hugetlb_vma_trylock_write` failed: `goto walk_abort`.
    WalkAbort,
    /// `huge_pmd_unshare` dropped this mm's reference to a shared table: go on.
    Unshared,
    /// The PTE was cleared (and, for try_to_migrate, a migration entry installed).
    Cleared,
}

impl UnmapStep {
    /// The `_one`'s return value: false stops the rmap walk.
    pub fn ret(self) -> bool {
        !matches!(self, UnmapStep::Mlocked | UnmapStep::WalkAbort)
    }

    /// Did it change this mm's translation of `va` (what a 4.4-era `invalidate_page` follows)?
    pub fn changed_pte(self) -> bool {
        matches!(self, UnmapStep::Unshared | UnmapStep::Cleared)
    }
}

/// The part of `try_to_unmap_one` / `try_to_migrate_one` between the notifier calls, the same
/// in every era the model has: `page_vma_mapped_walk` (through the table; `PVMW_SYNC` if
/// `TTU_SYNC`), then under the PTL the mlock check, the `hugetlb` branch, and "nuke the page
/// table entry" with `ptep_clear_flush`, moving the dirty bit and removing the rmap.
pub fn unmap_one_pte(
    w: &World,
    pfn: Pfn,
    vma_id: VmaId,
    va: u64,
    flags: TtuFlags,
    replace: Replace,
    hugetlb: HugetlbBranch,
) -> UnmapStep {
    let vma = w.vmas.get(vma_id);
    let mm_id = vma.info.get().mm;
    let pvmw_flags = if flags.contains(TTU_SYNC) {
        PVMW_SYNC
    } else {
        PvmwFlags::empty()
    };
    let Some(item) = (w.kernel.rmap.page_vma_mapped_walk)(w, pfn, vma_id, va, pvmw_flags) else {
        return UnmapStep::NotMapped;
    };
    debug_assert!(item.value.is_present(), "PVMW returns present PTEs");
    if replace == Replace::Nothing && !flags.contains(TTU_IGNORE_MLOCK) && vma.has(vm::LOCKED) {
        // "Restore the mlock which got missed": reclaim leaves VM_LOCKED mappings alone.
        match w.kernel.mlock.scheme {
            // v5.15 try_to_unmap_one: `mlock_vma_page(page)` (order 0), under the page
            // lock the caller holds; PG_mlocked is a flag, setting it twice is harmless.
            MlockScheme::PageMlock => (w.kernel.mlock.mlock_vma_page)(w, pfn),
            // 5.18+: `mlock_vma_folio(folio, vma, false)`, which declines a VMA whose
            // VM_SPECIAL bits are set — in particular the VM_IO that mlock()'s own
            // page-table walk sets while it counts the VMA's folios.
            MlockScheme::MlockCount => (w.kernel.mlock.mlock_vma_folio)(w, pfn, vma_id),
        }
        w.trace("try_to_unmap_one: VM_LOCKED, keep", vma_id, pfn);
        return UnmapStep::Mlocked;
    }
    match hugetlb(w, &item, vma_id, va) {
        // hugetlb_vma_trylock_write failed: `goto walk_abort`.
        hugetlb::Unshare::VmaLockBusy => return UnmapStep::WalkAbort,
        // huge_pmd_unshare: this mm no longer sees the shared table; the mapcount (which
        // counts table entries, not mms) is unchanged, so the walk goes on.
        hugetlb::Unshare::Unshared => return UnmapStep::Unshared,
        hugetlb::Unshare::NotShared => {}
    }
    race_window!("try_to_unmap_one: PTE found under the PTL, not yet cleared");
    // "Nuke the page table entry": `pteval = ptep_clear_flush(vma, address, pvmw.pte)` — clear
    // and flush before the PTL is released, and keep the value the clear returned: the
    // hardware may have set its dirty bit since the walk looked.
    let pteval = if replace == Replace::Nothing && tlb_ubc::should_defer_flush(w, mm_id, flags) {
        // "We clear the PTE but do not flush so potentially a remote CPU could still be
        // writing to the folio. If the entry was previously clean then the architecture must
        // guarantee that a clear->dirty transition on a cached TLB entry is written through
        // and traps if the PTE is unmapped." (72b252aed506, d950c9477d51)
        let pteval = item.pte.ptep_get_and_clear();
        tlb_ubc::set_tlb_ubc_flush_pending(w, mm_id, pteval, va);
        pteval
    } else {
        item.pte.ptep_clear_flush()
    };
    w.trace(
        match replace {
            Replace::Nothing if flags.contains(TTU_BATCH_FLUSH) => {
                "try_to_unmap_one: nuked (TTU_BATCH_FLUSH)"
            }
            Replace::Nothing => "try_to_unmap_one: ptep_clear_flush",
            Replace::MigrationEntry => "try_to_migrate_one: ptep_clear_flush",
        },
        format_args!("{mm_id} va {:#x}", va << 12),
        pteval,
    );
    let Pte::Present { write, dirty, .. } = pteval else {
        unreachable!("only the PTL holder clears a present PTE: {pteval}")
    };
    // "Move the dirty bit to the physical page now the pte is gone": pte_dirty(pteval).
    if dirty {
        rmap::set_page_dirty(w, pfn);
    }
    if replace == Replace::Nothing && w.page(pfn).is_anon() {
        return unmap_one_anon(w, &item, pfn, vma_id, va, pteval);
    }
    if replace == Replace::MigrationEntry {
        // 5.19+ (6c287605fd56): `page_try_share_anon_rmap` — an exclusive anonymous page
        // loses PG_anon_exclusive while a migration entry stands for it (the entry records the
        // exclusivity instead, `make_readable_exclusive_migration_entry`, and fork's copy of
        // the entry makes it plain readable). Simplification: the model's entries record no
        // exclusivity, so the page — old or new — comes back not exclusive, and the next
        // write fault decides by its refcount (`wp_can_reuse_anon_folio`): never a wrong
        // reuse, possibly one copy more.
        // Only a private VMA can map an anonymous page (the VMA's fixed info first: an
        // anonymous VMA costs no load, a shared one no test of the page's flags).
        let page = w.page(pfn);
        if (vma.info.get().file.is_none() || !vma.has(vm::SHARED)) && page.test(pg::ANON_EXCLUSIVE)
        {
            page.test_clear(pg::ANON_EXCLUSIVE);
        }
        // `pte_write(pteval)`: a writable or a readable migration entry.
        let entry = Pte::Migration { pfn, write };
        item.pte.set_pte_at(entry);
        w.trace(
            "try_to_migrate_one: set migration entry",
            format_args!("va {:#x}", va << 12),
            entry,
        );
    } else {
        w.mms
            .get(mm_id)
            .rss
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
    rmap::page_remove_rmap(w, pfn, vma_id);
    drop(item);
    page_alloc::put_page(w, pfn);
    UnmapStep::Cleared
}

/// `try_to_unmap_one`'s anonymous branch (mm/rmap.c, 6.1–6.6), the PTE just cleared
/// (`pteval`) under the PTL `item` holds: the folio is in the swap cache (`add_to_swap` ran
/// first; `folio_test_swapbacked != folio_test_swapcache` is a WARN and the PTE is put back),
/// so its slot gets one more count (`swap_duplicate`), PG_anon_exclusive moves from the page to
/// the swap PTE (`page_try_share_anon_rmap`, which fails for a possibly pinned page: then
/// `swap_free`, the PTE restored, the walk stopped), `set_pte_at` of the swap entry,
/// `page_remove_rmap` and `folio_put`.
///
/// The mm's `rss` counter is left as it was: the model's one counter counts swap entries
/// with the pages (`MM_ANONPAGES` down, `MM_SWAPENTS` up), and `zap_nonpresent_ptes` drops it.
fn unmap_one_anon(
    w: &World,
    item: &PvmwItem<'_>,
    pfn: Pfn,
    vma_id: VmaId,
    va: u64,
    pteval: Pte,
) -> UnmapStep {
    let page = w.page(pfn);
    let anon_exclusive = page.test(pg::ANON_EXCLUSIVE);
    if !page.test(pg::SWAPCACHE) {
        check::violation(
            Oracle::Bug,
            format!("try_to_unmap_one: WARN_ON_ONCE: anonymous {pfn} not in the swap cache"),
        );
        item.pte.set_pte_at(pteval);
        return UnmapStep::WalkAbort;
    }
    let entry = page.swap.load(std::sync::atomic::Ordering::SeqCst) as SwpEntry;
    if swapfile::swap_duplicate(w, entry).is_err() {
        item.pte.set_pte_at(pteval);
        return UnmapStep::WalkAbort;
    }
    // "See page_try_share_anon_rmap(): clear PTE first." A page that may be pinned stays
    // exclusive and mapped.
    if anon_exclusive {
        if page.maybe_dma_pinned() {
            swapfile::swap_free(w, entry);
            item.pte.set_pte_at(pteval);
            w.trace("try_to_unmap_one: page_try_share_anon_rmap -EBUSY", pfn, "");
            return UnmapStep::WalkAbort;
        }
        page.test_clear(pg::ANON_EXCLUSIVE);
    }
    let swp_pte = Pte::Swap {
        offset: entry,
        exclusive: anon_exclusive,
    };
    item.pte.set_pte_at(swp_pte);
    w.trace(
        "try_to_unmap_one: set swap entry",
        format_args!("va {:#x}", va << 12),
        swp_pte,
    );
    rmap::page_remove_rmap(w, pfn, vma_id);
    page_alloc::put_page(w, pfn);
    UnmapStep::Cleared
}

/// A `_one` since 369ea8242c0f: `mmu_notifier_invalidate_range_start` over the range
/// (`adjust_range_if_pmd_sharing_possible`: the whole table if it may be shared), the PTE
/// step, `mmu_notifier_invalidate_range_end` — never under the PTL.
pub fn unmap_one_start_end(
    w: &World,
    pfn: Pfn,
    vma_id: VmaId,
    va: u64,
    flags: TtuFlags,
    replace: Replace,
    hugetlb: HugetlbBranch,
) -> bool {
    // The VMA's liveness is checked once, by the PTE step.
    let mm_id = w.vmas.slot(vma_id.idx).info.get().mm;
    let (start, end) = hugetlb::adjust_range_if_pmd_sharing_possible(w, vma_id, va);
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, start, end);
    let step = unmap_one_pte(w, pfn, vma_id, va, flags, replace, hugetlb);
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    step.ret()
}

/// A 4.4-era `_one` (before 369ea8242c0f): no start/end bracket; once the PTL is dropped,
/// `mmu_notifier_invalidate_page` of the one page (aac2fea94f7a). After an unshare the
/// `goto out_unmap` still ends in that single-page call (the 4.4 backport of 017b1660df89):
/// the rest of the table's range is never invalidated.
pub fn unmap_one_invalidate_page(
    w: &World,
    pfn: Pfn,
    vma_id: VmaId,
    va: u64,
    flags: TtuFlags,
    replace: Replace,
) -> bool {
    let mm_id = w.vmas.get(vma_id).info.get().mm;
    let step = unmap_one_pte(w, pfn, vma_id, va, flags, replace, hugetlb::try_unshare);
    if step.changed_pte() {
        crate::race_window!("try_to_unmap_one: PTL dropped, secondary not yet invalidated");
        (w.kernel.notifier.invalidate_page)(w, mm_id, va);
    }
    step.ret()
}

/// `try_to_unmap_one` (mm/rmap.c): the modern kernel.
pub fn try_to_unmap_one(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: TtuFlags) -> bool {
    unmap_one_start_end(
        w,
        pfn,
        vma,
        va,
        flags,
        Replace::Nothing,
        hugetlb::try_unshare,
    )
}

/// `try_to_unmap_one` before 017b1660df89 ("mm: migration: fix migration of huge PMD shared
/// pages", 2018): no `huge_pmd_unshare`.
pub fn try_to_unmap_one_v4_18(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: TtuFlags) -> bool {
    unmap_one_start_end(
        w,
        pfn,
        vma,
        va,
        flags,
        Replace::Nothing,
        no_huge_pmd_unshare,
    )
}

/// `try_to_unmap_one` of 4.4 (before 369ea8242c0f "mm/rmap: update to new mmu_notifier
/// semantic v2"): `mmu_notifier_invalidate_page` after the PTL is dropped, no bracket.
pub fn try_to_unmap_one_v4_4(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: TtuFlags) -> bool {
    unmap_one_invalidate_page(w, pfn, vma, va, flags, Replace::Nothing)
}

/// `try_to_migrate_one` (mm/rmap.c; split from try_to_unmap_one by a98a2f0c8ce1): the modern
/// kernel. A THP goes through [`try_to_migrate_one_folio`], which splits a PMD mapping inside
/// the walk (60fbb14396d5).
pub fn try_to_migrate_one(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: TtuFlags) -> bool {
    if is_thp_head(w, pfn) {
        return try_to_migrate_one_folio(w, pfn, vma, va, flags, SplitPmdAt::InWalk);
    }
    unmap_one_start_end(
        w,
        pfn,
        vma,
        va,
        flags,
        Replace::MigrationEntry,
        hugetlb::try_unshare,
    )
}

/// `try_to_migrate_one` from a98a2f0c8ce1 (5.14) to 60fbb14396d5: a THP's PMD is split with
/// `split_huge_pmd_address(vma, address, true, folio)` before the walk, under the PMD lock of
/// its own (5.13 and earlier `try_to_unmap_one` with `TTU_SPLIT_FREEZE` did the same); order-0
/// pages as the modern kernel.
pub fn try_to_migrate_one_v6_14(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: TtuFlags) -> bool {
    if is_thp_head(w, pfn) {
        return try_to_migrate_one_folio(w, pfn, vma, va, flags, SplitPmdAt::BeforeWalk);
    }
    try_to_migrate_one(w, pfn, vma, va, flags)
}

/// Where `try_to_migrate_one` splits a PMD mapping of the THP when `TTU_SPLIT_HUGE_PMD` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitPmdAt {
    /// Since 60fbb14396d5: when the walk returns the PMD, under the PMD lock it holds
    /// (`split_huge_pmd_locked`), then `page_vma_mapped_walk_restart`. The walk looks at the
    /// PMD first — and without `PVMW_SYNC` skips a PMD a zapper has just cleared.
    InWalk,
    /// a98a2f0c8ce1 to 60fbb14396d5 (and `try_to_unmap_one` with `TTU_SPLIT_FREEZE` before):
    /// `split_huge_pmd_address` before the walk (the table's `thp.split_huge_pmd_address`:
    /// since 33f4751e9960 under the PMD lock of its own, before it an unlocked check).
    BeforeWalk,
}

/// `try_to_migrate_one` of a THP headed by `head` in `vma` at `va` (mm/rmap.c, 6.x): inside
/// the mmu-notifier bracket over the folio's range, walk every PMD and PTE that maps it
/// ([`PageVmaMappedWalk`], `PVMW_SYNC` if `TTU_SYNC`). A PMD mapping is split with freeze when
/// `TTU_SPLIT_HUGE_PMD` asks (where: `split`), its pages becoming migration entries at once;
/// without the flag (THP migration) the PMD becomes a PMD migration entry
/// ([`huge_memory::set_pmd_migration_entry`]). Each PTE mapping is
/// nuked as an order-0 page's is: `ptep_clear_flush`, the dirty bit to the folio, a migration
/// entry of the subpage, `folio_remove_rmap_pte`, `folio_put`.
pub fn try_to_migrate_one_folio(
    w: &World,
    head: Pfn,
    vma_id: VmaId,
    va: u64,
    flags: TtuFlags,
    split: SplitPmdAt,
) -> bool {
    let mut flags = flags;
    let info = w.vmas.get(vma_id).info.get();
    let mm_id = info.mm;
    let nr = match w.page(head).compound.get() {
        Compound::Head { nr } => nr as usize,
        _ => 1,
    };
    let pvmw_flags = if flags.contains(TTU_SYNC) {
        PVMW_SYNC
    } else {
        PvmwFlags::empty()
    };
    if split == SplitPmdAt::BeforeWalk && flags.contains(TTU_SPLIT_HUGE_PMD) {
        (w.kernel.thp.split_huge_pmd_address)(w, vma_id, va, true, head);
    }
    let end = (va + nr as u64).min(info.end);
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm_id, va, end);
    let mut walk = PageVmaMappedWalk::new(w, head, nr, vma_id, va, pvmw_flags);
    let mut ret = true;
    while walk.page_vma_mapped_walk() {
        if let Some(pmd) = walk.pmd() {
            if flags.contains(TTU_SPLIT_HUGE_PMD) {
                split_huge_pmd::split_huge_pmd_locked(w, vma_id, pmd, true);
                flags.remove(TTU_SPLIT_HUGE_PMD);
                walk.restart();
                continue;
            }
            // "PMD-mapped THP migration entry" (616b8371539a): the PMD becomes one
            // migration entry; -EBUSY ends the walk with the folio still mapped.
            if !huge_memory::set_pmd_migration_entry(w, pmd, vma_id, head) {
                walk.done();
                ret = false;
                break;
            }
            continue;
        }
        let pte = walk.pte().expect("the walk returns a PMD or a PTE");
        migrate_one_pte(w, pte, head, vma_id);
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    ret
}

/// The PTE step of [`try_to_migrate_one_folio`], the PTL held: "nuke the page table entry"
/// (`ptep_clear_flush`), `folio_mark_dirty` if it was dirty, PG_anon_exclusive cleared
/// (`folio_try_share_anon_rmap_pte`; the model's entries record no exclusivity), the
/// migration entry of the subpage (`make_writable_migration_entry` / readable),
/// `folio_remove_rmap_pte` and `folio_put` (the folio's reference the PTE held).
fn migrate_one_pte(w: &World, pte: &LockedPte<'_>, head: Pfn, vma_id: VmaId) {
    let pteval = pte.ptep_clear_flush();
    w.trace("try_to_migrate_one: ptep_clear_flush", pte, pteval);
    let Pte::Present {
        pfn: sub,
        write,
        dirty,
        ..
    } = pteval
    else {
        unreachable!("only the PTL holder clears a present PTE: {pteval}")
    };
    if dirty {
        rmap::set_page_dirty(w, head);
    }
    w.page(sub).test_clear(pg::ANON_EXCLUSIVE);
    let entry = Pte::Migration { pfn: sub, write };
    pte.set_pte_at(entry);
    w.trace("try_to_migrate_one: set migration entry", pte, entry);
    rmap::page_remove_rmap(w, sub, vma_id);
    page_alloc::put_page(w, sub);
}

/// `try_to_migrate_one` before 017b1660df89 (then `try_to_unmap_one` with `TTU_MIGRATION`):
/// no `huge_pmd_unshare`.
pub fn try_to_migrate_one_v4_18(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: TtuFlags) -> bool {
    unmap_one_start_end(
        w,
        pfn,
        vma,
        va,
        flags,
        Replace::MigrationEntry,
        no_huge_pmd_unshare,
    )
}

/// `try_to_migrate_one` of 4.4 (then `try_to_unmap_one` with `TTU_MIGRATION`, before
/// 369ea8242c0f): `mmu_notifier_invalidate_page` after the PTL is dropped.
pub fn try_to_migrate_one_v4_4(w: &World, pfn: Pfn, vma: VmaId, va: u64, flags: TtuFlags) -> bool {
    unmap_one_invalidate_page(w, pfn, vma, va, flags, Replace::MigrationEntry)
}

/// The body of `try_to_unmap` / `try_to_migrate`: an rmap walk (`rmap_walk`, or
/// `rmap_walk_locked` with `held` — the caller passes TTU_RMAP_LOCKED then) calling `one` for
/// each VMA, with `anon_lock` = the table's `folio_lock_anon_vma_read` and `done` =
/// `folio_not_mapped`. Returns `!folio_mapped`.
pub fn ttu_walk(
    w: &World,
    page: &LockedPage<'_>,
    flags: TtuFlags,
    held: Option<&HeldRmapLock<'_, '_>>,
    one: super::rmap_walk::TtuOneFn,
) -> bool {
    ttu_walk_invalid(w, page, flags, held, one, None)
}

/// [`ttu_walk`] with an `rwc.invalid_vma` (`try_to_migrate`'s `invalid_migration_vma`).
fn ttu_walk_invalid(
    w: &World,
    page: &LockedPage<'_>,
    flags: TtuFlags,
    held: Option<&HeldRmapLock<'_, '_>>,
    one: super::rmap_walk::TtuOneFn,
    invalid: Option<fn(&World, VmaId) -> bool>,
) -> bool {
    debug_assert_eq!(held.is_some(), flags.contains(TTU_RMAP_LOCKED));
    let pfn = page.pfn();
    let mut rmap_one = |vma: VmaId, va: u64| one(w, pfn, vma, va, flags);
    let done = || !w.folio_mapped(pfn);
    let invalid_vma = invalid.map(|f| move |vma: VmaId| f(w, vma));
    let mut rwc = RmapWalkControl::new(&mut rmap_one);
    rwc.done = Some(&done);
    if let Some(f) = invalid_vma.as_ref() {
        rwc.invalid_vma = Some(f);
    }
    rwc.anon_lock = Some(w.kernel.rmap.anon_lock);
    match held {
        Some(h) => rmap_walk_locked(w, page, h, &mut rwc),
        None => rmap_walk(w, page, &mut rwc),
    }
    !w.folio_mapped(pfn)
}

/// `try_to_unmap`: returns whether the page is no longer mapped (`!folio_mapped`). An
/// anonymous page must be in the swap cache (reclaim's `add_to_swap` first): each mapping
/// becomes a swap entry ([`unmap_one_anon`]).
pub fn try_to_unmap(w: &World, page: &LockedPage<'_>, flags: TtuFlags) -> bool {
    ttu_walk(w, page, flags, None, w.kernel.rmap.try_to_unmap_one)
}

/// `try_to_migrate`: every mapping becomes a migration entry — except in a VMA the table's
/// `invalid_migration_vma` refuses (`rwc.invalid_vma`) — returns `!folio_mapped`.
pub fn try_to_migrate(w: &World, page: &LockedPage<'_>, flags: TtuFlags) -> bool {
    ttu_walk_invalid(
        w,
        page,
        flags,
        None,
        w.kernel.rmap.try_to_migrate_one,
        Some(w.kernel.rmap.invalid_migration_vma),
    )
}

/// `invalid_migration_vma(vma, arg)` (mm/rmap.c): `vma_is_temporary_stack(vma)` — from
/// a8bef8ff6ea1 ("mm: migration: avoid race between shift_arg_pages() and rmap_walk() during
/// migration by not migrating temporary stacks", Mel Gorman, 2.6.35; then a test in
/// `try_to_unmap_anon` under `TTU_MIGRATION`, today `try_to_migrate`'s `rwc.invalid_vma`).
/// "During exec, a temporary VMA is setup and later moved. The VMA is moved under the
/// anon_vma lock but not the page tables leading to a race where migration cannot find the
/// migration ptes. Rather than increasing the locking requirements of exec(), migration
/// skips temporary VMAs until after exec() completes." (`ops::exec`.)
pub fn invalid_migration_vma(w: &World, vma: VmaId) -> bool {
    w.vmas.get(vma).is_temporary_stack()
}

/// Before a8bef8ff6ea1 (2.6.34 and earlier): migration skips no VMA — a page of exec's
/// temporary stack is migrated while `shift_arg_pages` moves it.
pub fn invalid_migration_vma_v2_6_34(_w: &World, _vma: VmaId) -> bool {
    false
}

/// `try_to_migrate(folio, TTU_RMAP_LOCKED)`: the caller holds the rmap lock (`held`) and
/// passes `TTU_RMAP_LOCKED` in `flags`, as the kernel's callers do.
pub fn try_to_migrate_locked(
    w: &World,
    page: &LockedPage<'_>,
    flags: TtuFlags,
    held: &HeldRmapLock<'_, '_>,
) -> bool {
    ttu_walk_invalid(
        w,
        page,
        flags,
        Some(held),
        w.kernel.rmap.try_to_migrate_one,
        Some(w.kernel.rmap.invalid_migration_vma),
    )
}
