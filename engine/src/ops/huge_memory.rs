//! Transparent huge pages at the PMD level (mm/huge_memory.c): the anonymous THP fault
//! (`do_huge_pmd_anonymous_page`), the zap of a huge PMD (`zap_huge_pmd`), the split of a huge
//! PMD into a PTE table (`__split_huge_pmd` / `__split_huge_pmd_locked`), the protection
//! change of a huge PMD (`change_huge_pmd`, reached here from NUMA balancing's
//! `change_prot_numa`), `do_huge_pmd_numa_page`, `do_huge_pmd_wp_page`, and `MADV_HUGEPAGE`;
//! fork's `copy_huge_pmd`; and the PMD migration entries of THP migration
//! (`set_pmd_migration_entry`, `remove_migration_pmd`, `pmd_migration_entry_wait` — the
//! migration itself is `crate::ops::migrate_thp`).
//!
//! The entries of [`HugeMemoryOps`] (`w.kernel.thp`) are the paths a variant replaces, so one
//! replaced function is what every caller runs; the others are called directly. Locks (docs/MODEL.md §15): `mmap_lock` (read for faults, zap,
//! NUMA balancing; write for `MADV_HUGEPAGE`), then the PMD lock (`pmd_lock`,
//! [`crate::ops::pmd_lock`]); no path here takes a PTE table's lock under it — the split fills
//! a deposited table no walker can reach yet.
//!
//! A THP is `ptes_per_table` frames (`HPAGE_PMD_NR`): a head with the reference and the
//! `_entire_mapcount` of PMD mappings, and tails. A PMD mapping holds one reference and one
//! entire mapcount; splitting the PMD moves them to one reference and one `_mapcount` per
//! PTE (`folio_ref_add(folio, HPAGE_PMD_NR - 1)`, per-page mapcounts up, entire down).
//!
//! Simplifications (docs/MODEL.md §6): anonymous THPs only (no file or shmem THP, no huge
//! zero page, no `pmd_devmap`); khugepaged's collapse is `ops::collapse_huge_page`;
//! `do_huge_pmd_wp_page` always splits and falls back to the PTE fault;
//! `do_huge_pmd_numa_page` maps the page back where it is (one node, no THP migration); NUMA
//! hinting of PTE-mapped pages is not modelled (`change_prot_numa`
//! changes huge PMDs only).

use crate::mm::page::{Compound, pg};
use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{MmId, MmuGather, Pfn, VmaId, World};
use crate::ops::pmd_lock::{LockedPmd, pmd_lock, pmd_trans_huge_lock};
use crate::ops::vma_lock::{FaultLock, mmap_write_unlock, vma_start_write};
use crate::ops::{Error, mlock, mmap, page_alloc, rmap};
use crate::race_window;
use crate::sync::Ordering;

/// `MADV_HUGEPAGE` (`hugepage_madvise`, mm/khugepaged.c): set `VM_HUGEPAGE` on every anonymous
/// VMA of `mm` overlapping `[start, end)`, under `mmap_lock` write. THP faults happen only in
/// such VMAs: the model's `transparent_hugepage` mode is `madvise`.
///
/// Simplification: the flag is set on whole VMAs (no VMA split at the range's edges).
pub fn madvise_hugepage(w: &World, mm_id: MmId, start: u64, end: u64) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.write();
    let mut any = false;
    for &v in &map.vmas {
        let info = w.vmas.get(v).info.get();
        if info.start < end && start < info.end {
            any = true;
            let vma = w.vmas.get(v);
            if info.file.is_none() && !vma.has(vm::HUGETLB) {
                // madvise_update_vma → vm_flags_reset: the VMA write-locked first (6.4+).
                vma_start_write(w, &map, v);
                vma.flags.fetch_or(vm::HUGEPAGE, Ordering::SeqCst);
                w.thp.store(true, crate::sync::observer::Ordering::SeqCst);
                w.trace("hugepage_madvise", v, "VM_HUGEPAGE");
            }
        }
    }
    mmap_write_unlock(w, mm_id, map);
    if any { Ok(()) } else { Err(Error::Inval) }
}

/// `thp_vma_allowable_order(vma, vm_flags, ..., PMD_ORDER)` + `thp_vma_suitable_order`: may a
/// huge PMD map the PMD range around `va` in `vma` — an anonymous `VM_HUGEPAGE` VMA that
/// covers the whole range (`haddr >= vm_start && haddr + HPAGE_PMD_SIZE <= vm_end`).
pub fn thp_vma_suitable(w: &World, vma_id: VmaId, va: u64) -> bool {
    let vma = w.vmas.get(vma_id);
    let info = vma.info.get();
    let per = w.cfg.ptes_per_table as u64;
    let haddr = va / per * per;
    vma.has(vm::HUGEPAGE)
        && !vma.has(vm::HUGETLB)
        && info.file.is_none()
        && haddr >= info.start
        && haddr + per <= info.end
}

/// What `create_huge_pmd` / `wp_huge_pmd` tell `__handle_mm_fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HugeFault {
    /// Done (`0`): the access is retried.
    Done,
    /// `VM_FAULT_FALLBACK`: handle the fault at the PTE level.
    Fallback,
}

/// `do_huge_pmd_anonymous_page` → `__do_huge_pmd_anonymous_page` (mm/huge_memory.c, 6.x):
/// `anon_vma_prepare`, allocate the THP (`vma_alloc_folio(..., HPAGE_PMD_ORDER)`; none →
/// `VM_FAULT_FALLBACK`) and the PTE table to deposit (`pte_alloc_one`), then under the PMD
/// lock re-check `pmd_none` (another fault may have populated it: drop both), and map it:
/// `page_add_new_anon_rmap(compound)`, `lru_cache_add`, `pgtable_trans_huge_deposit`,
/// `set_pmd_at(mk_huge_pmd, dirty, maybe writable)`, `add_mm_counter(HPAGE_PMD_NR)`.
pub fn do_huge_pmd_anonymous_page(
    w: &World,
    mm_id: MmId,
    vma_id: VmaId,
    va: u64,
) -> Result<HugeFault, Error> {
    if !thp_vma_suitable(w, vma_id, va) {
        return Ok(HugeFault::Fallback);
    }
    mmap::anon_vma_prepare(w, vma_id)?;
    let nr = w.cfg.ptes_per_table;
    let Some(head) = page_alloc::alloc_compound_page(w, nr) else {
        w.trace(
            "thp_fault_fallback",
            mm_id,
            format_args!("va {:#x}", va << 12),
        );
        return Ok(HugeFault::Fallback);
    };
    let (slot, _) = w.pte_slot(va);
    let Some((tid, table)) = w.tables.alloc() else {
        page_alloc::put_page(w, head);
        return Err(Error::Oom);
    };
    table.owner.set((mm_id, slot));
    table.share_count.store(1, Ordering::SeqCst);
    for e in &table.entries {
        e.store(0, Ordering::SeqCst);
    }
    for i in 0..nr {
        w.page(w.subpage(head, i))
            .flags
            .fetch_or(pg::UPTODATE, Ordering::SeqCst); // clear_huge_page, __folio_mark_uptodate
    }
    let pmd = pmd_lock(w, mm_id, slot);
    if !pmd.get().is_none() {
        drop(pmd);
        w.tables.free(tid); // pte_free
        page_alloc::put_page(w, head);
        return Ok(HugeFault::Done);
    }
    rmap::page_add_new_anon_rmap_pmd(w, &pmd, head, vma_id);
    mlock::lru_cache_add_inactive_or_unevictable(w, head, vma_id);
    pmd.pgtable_trans_huge_deposit(tid);
    pmd.set_pmd_at(Pmd::Huge {
        pfn: head,
        write: w.vmas.get(vma_id).has(vm::WRITE), // maybe_pmd_mkwrite
        dirty: true,
        young: true,
        protnone: false,
    });
    w.mms
        .get(mm_id)
        .rss
        .fetch_add(nr as i64, std::sync::atomic::Ordering::Relaxed);
    drop(pmd);
    Ok(HugeFault::Done)
}

/// `zap_huge_pmd` (mm/huge_memory.c): under `__pmd_trans_huge_lock` (false, and nothing done,
/// if the PMD is no longer huge), clear the PMD (`pmdp_huge_get_and_clear_full`), widen the
/// gather's range over it (`tlb_remove_pmd_tlb_entry`), remove the compound rmap of a present
/// entry (a migration entry holds none), free the deposited table (`zap_deposited_table`),
/// drop the rss; after the unlock gather the THP (`tlb_remove_page_size`), flushing if the
/// batch is full.
pub fn zap_huge_pmd(w: &World, tlb: &mut MmuGather, vma: VmaId, addr: u64) -> bool {
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(addr);
    let Some(pmd) = pmd_trans_huge_lock(w, mm, slot) else {
        return false;
    };
    let orig = pmd.pmdp_huge_get_and_clear_full(tlb.fullmm);
    let per = w.cfg.ptes_per_table as u64;
    tlb.tlb_adjust_range(pmd.haddr(), per);
    race_window!("zap_huge_pmd: pmd cleared, rmap not yet removed");
    let folio = match orig {
        Pmd::Huge { pfn, .. } | Pmd::Invalid { pfn, .. } => {
            rmap::page_remove_rmap_pmd(w, &pmd, pfn, vma);
            Some(pfn)
        }
        _ => None, // a migration entry: the migration holds the page
    };
    if let Some(t) = pmd.pgtable_trans_huge_withdraw() {
        w.tables.free(t); // zap_deposited_table: pte_free, mm_dec_nr_ptes
    }
    w.mms
        .get(mm)
        .rss
        .fetch_sub(per as i64, std::sync::atomic::Ordering::Relaxed);
    drop(pmd);
    if let Some(pfn) = folio
        && tlb.tlb_remove_page(pfn, vma, false)
    {
        (w.kernel.tlb.tlb_flush_mmu)(w, tlb);
    }
    true
}

/// `__split_huge_pmd(vma, pmd, address, freeze = false, folio = NULL)`: inside an
/// mmu-notifier bracket over the PMD's range (MMU_NOTIFY_CLEAR), take the PMD lock and, if
/// the PMD is still huge, split it (`split_huge_pmd_locked` → [`__split_huge_pmd_locked`]).
pub fn __split_huge_pmd(w: &World, vma: VmaId, addr: u64) {
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(addr);
    let per = w.cfg.ptes_per_table as u64;
    let haddr = slot as u64 * per;
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm, haddr, haddr + per);
    let pmd = pmd_lock(w, mm, slot);
    let now = pmd.get();
    if now.is_trans_huge() {
        __split_huge_pmd_locked(w, vma, &pmd);
    } else if now.is_swap_pmd() {
        __split_huge_pmd_migration_locked(w, &pmd);
    }
    drop(pmd);
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
}

/// The `pmd_migration` arm of `__split_huge_pmd_locked` (84c3fc4e9c56 "mm: thp: check pmd
/// migration entry in common path", 4.14; 6.1–6.6 the same), the PMD lock held: a PMD migration
/// entry becomes a PTE table of migration entries, one per subpage with the entry's write bit
/// — no reference moves and no mapcount changes (the entry holds neither), and the migration's
/// `remove_migration_ptes` later finds the subpages' entries instead of the PMD's. Before it
/// `__split_huge_pmd` checked `pmd_trans_huge` alone and left a migration entry unsplit.
pub fn __split_huge_pmd_migration_locked(w: &World, pmd: &LockedPmd<'_>) {
    let Pmd::Migration { pfn, write } = pmd.get() else {
        return;
    };
    let table_id = pmd.withdraw_table_for_split("__split_huge_pmd");
    let table = w.tables.get(table_id);
    let nr = w.cfg.ptes_per_table;
    for (i, e) in table.entries.iter().enumerate().take(nr) {
        let entry = Pte::Migration {
            pfn: w.subpage(pfn, i),
            write,
        };
        e.store(entry.encode(), Ordering::SeqCst);
    }
    w.trace(
        "__split_huge_pmd_locked: pmd migration entry",
        pmd,
        format_args!("{nr} migration entries of {pfn}"),
    );
    pmd.pmd_populate(table_id);
}

/// `__split_huge_pmd_locked` (mm/huge_memory.c, 6.x, anonymous, not freezing), the PMD lock
/// held: `pmdp_invalidate` (the PMD stays `pmd_trans_huge`, never `pmd_none`, and the TLB is
/// flushed), move a dirty bit to the folio, `folio_ref_add(HPAGE_PMD_NR - 1)` and one
/// `_mapcount` per page (`page_add_anon_rmap` of each PTE; 4.x–5.x:
/// `atomic_inc(&page[i]._mapcount)`), withdraw the deposited table (or allocate one), fill it with a PTE per page carrying the
/// PMD's write, dirty and young bits, drop the entire mapcount (`page_remove_rmap(compound)`),
/// and — after `smp_wmb()`, so the PTEs are seen before the table — `pmd_populate`.
///
/// The new table is not reachable until `pmd_populate`, so the kernel writes its PTEs with
/// `set_pte_at` and no PTE lock; so does the model.
pub fn __split_huge_pmd_locked(w: &World, vma: VmaId, pmd: &LockedPmd<'_>) {
    let old = pmd.pmdp_invalidate();
    let Some((pfn, write, dirty, young)) = old.huge_bits() else {
        return;
    };
    race_window!("__split_huge_pmd_locked: pmd invalidated, ptes not yet made");
    if dirty {
        rmap::set_page_dirty(w, pfn);
    }
    let nr = w.cfg.ptes_per_table;
    w.page(pfn)
        .refcount
        .fetch_add(nr as i32 - 1, Ordering::SeqCst);
    let table_id = pmd.withdraw_table_for_split("__split_huge_pmd");
    let table = w.tables.get(table_id);
    for i in 0..nr {
        let sub = w.subpage(pfn, i);
        w.page(sub).mapcount.fetch_add(1, Ordering::SeqCst);
        let pte = Pte::Present {
            pfn: sub,
            write,
            dirty,
            young,
        };
        table.entries[i].store(pte.encode(), Ordering::SeqCst);
    }
    w.trace(
        "__split_huge_pmd_locked: set_pte_at",
        pmd,
        format_args!("{nr} ptes of {pfn}"),
    );
    rmap::page_remove_rmap_pmd(w, pmd, pfn, vma);
    pmd.pmd_populate(table_id);
}

/// What [`copy_huge_pmd`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyHugePmd {
    /// The parent's entry is copied into the child (0).
    Copied,
    /// The parent's PMD was split (`-EAGAIN`) or is no longer huge: copy its PTE table.
    PteLevel,
}

/// `copy_huge_pmd(dst_mm, src_mm, dst_pmd, src_pmd, addr, dst_vma, src_vma)` (mm/huge_memory.c,
/// 6.1–6.6), from `copy_pmd_range` for an `is_swap_pmd || pmd_trans_huge` source PMD: the
/// table to deposit allocated first (`pte_alloc_one`), then `pmd_lock(dst)` and the source's
/// PMD lock nested under it (`spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)`), and
///
/// ```text
/// is_swap_pmd (a PMD migration entry, 84c3fc4e9c56):
///     writable → make_readable_migration_entry, set_pmd_at(src)     (as swap_duplicate's)
///     add_mm_counter(dst, HPAGE_PMD_NR); deposit; set_pmd_at(dst, the entry)
/// huge: get_page; page_try_dup_anon_rmap(page, true) fails for a maybe-pinned exclusive
///     THP → put_page, pte_free, unlock both, __split_huge_pmd(src_vma), -EAGAIN;
///     else add_mm_counter; deposit; pmdp_set_wrprotect(src);
///     set_pmd_at(dst, pmd_mkold(pmd_wrprotect(pmd)))
/// ```
///
/// `page_try_dup_anon_rmap(compound)`: the entire mapcount up and `PG_anon_exclusive` cleared
/// (the folio is shared now), or -EBUSY if the folio may be pinned (`folio_maybe_dma_pinned`:
/// its refcount past `GUP_PIN_COUNTING_BIAS`).
pub fn copy_huge_pmd(
    w: &World,
    dst_vma: VmaId,
    src_vma: VmaId,
    addr: u64,
) -> Result<CopyHugePmd, Error> {
    let src_mm = w.vmas.get(src_vma).info.get().mm;
    let dst_mm = w.vmas.get(dst_vma).info.get().mm;
    let (slot, _) = w.pte_slot(addr);
    let nr = w.cfg.ptes_per_table;
    let Some((tid, table)) = w.tables.alloc() else {
        return Err(Error::Oom);
    };
    table.owner.set((dst_mm, slot));
    table.share_count.store(1, Ordering::SeqCst);
    for e in &table.entries {
        e.store(0, Ordering::SeqCst);
    }
    let dst = pmd_lock(w, dst_mm, slot);
    let src = crate::ops::pmd_lock::pmd_lock_nested(w, src_mm, slot);
    let copied = match src.get() {
        Pmd::Migration { pfn, write } => {
            let entry = Pmd::Migration { pfn, write: false };
            if write {
                src.set_pmd_at(entry);
            }
            Some(entry)
        }
        Pmd::Huge {
            pfn,
            dirty,
            protnone,
            ..
        } => {
            page_alloc::get_page(w, pfn);
            let head = w.page(pfn);
            if head.refcount.load(Ordering::SeqCst) >= crate::mm::page::GUP_PIN_COUNTING_BIAS {
                // page_try_dup_anon_rmap: "Page maybe pinned: split and retry the fault on PTEs."
                page_alloc::put_page(w, pfn);
                drop(src);
                drop(dst);
                w.tables.free(tid);
                (w.kernel.thp.split_huge_pmd)(w, src_vma, addr);
                return Ok(CopyHugePmd::PteLevel);
            }
            let entire = head.entire_mapcount.fetch_add(1, Ordering::SeqCst) + 1;
            head.test_clear(pg::ANON_EXCLUSIVE);
            w.trace(
                "page_try_dup_anon_rmap(compound)",
                pfn,
                format_args!("entire={entire}"),
            );
            src.pmdp_set_wrprotect();
            Some(Pmd::Huge {
                pfn,
                write: false,
                dirty,
                young: false,
                protnone,
            })
        }
        _ => None,
    };
    let Some(entry) = copied else {
        drop(src);
        drop(dst);
        w.tables.free(tid);
        return Ok(CopyHugePmd::PteLevel);
    };
    w.mms
        .get(dst_mm)
        .rss
        .fetch_add(nr as i64, std::sync::atomic::Ordering::Relaxed);
    dst.pgtable_trans_huge_deposit(tid);
    dst.set_pmd_at(entry);
    w.trace("copy_huge_pmd", &dst, entry);
    Ok(CopyHugePmd::Copied)
}

/// `change_huge_pmd(vma, pmd, addr, newprot, cp_flags)` with `MM_CP_PROT_NUMA` (6.x, since
/// ced108037c2a "thp: fix MADV_DONTNEED vs. numa balancing race", 4.11): under
/// `__pmd_trans_huge_lock`, skip a migration or an already-protnone entry, else
/// `pmdp_invalidate` (`pmdp_invalidate_ad` in recent kernels, whose flush the caller
/// batches) — the PMD is never `pmd_none` in between, so a concurrent `zap_pmd_range`
/// reading it without the lock still sees a huge PMD and waits for the lock — then
/// `pmd_modify(oldpmd, PAGE_NONE)` and `set_pmd_at`. Returns the pages changed
/// (`HPAGE_PMD_NR`), 1 if the PMD was huge but unchanged, 0 if it was not huge.
pub fn change_huge_pmd(w: &World, vma: VmaId, addr: u64) -> u64 {
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(addr);
    let Some(pmd) = pmd_trans_huge_lock(w, mm, slot) else {
        return 0;
    };
    if !matches!(
        pmd.get(),
        Pmd::Huge {
            protnone: false,
            ..
        }
    ) {
        return 1;
    }
    let old = pmd.pmdp_invalidate();
    race_window!("change_huge_pmd: pmd invalidated, not yet set");
    pmd.set_pmd_at(pmd_modify_protnone(old));
    w.cfg.ptes_per_table as u64
}

/// `change_huge_pmd` before ced108037c2a (v4.10 and earlier): `pmdp_huge_get_and_clear_notify`
/// then `set_pmd_at` under the PMD lock — between them the PMD is `pmd_none`, and
/// MADV_DONTNEED's `zap_pmd_range`, under `mmap_lock` read like NUMA balancing, reads it
/// without the lock, skips it, and returns with the huge page still mapped. The default with
/// one line changed: `pmdp_huge_get_and_clear` for `pmdp_invalidate`.
///
/// Simplification: the `_notify` half (`mmu_notifier_invalidate_range`) is not modelled; the
/// TLB is flushed by `change_protection`'s caller ([`change_prot_numa`]) as in the kernel.
pub fn change_huge_pmd_v4_10(w: &World, vma: VmaId, addr: u64) -> u64 {
    let mm = w.vmas.get(vma).info.get().mm;
    let (slot, _) = w.pte_slot(addr);
    let Some(pmd) = pmd_trans_huge_lock(w, mm, slot) else {
        return 0;
    };
    if !matches!(
        pmd.get(),
        Pmd::Huge {
            protnone: false,
            ..
        }
    ) {
        return 1;
    }
    let old = pmd.pmdp_huge_get_and_clear();
    race_window!("change_huge_pmd: pmd cleared, not yet set");
    pmd.set_pmd_at(pmd_modify_protnone(old));
    w.cfg.ptes_per_table as u64
}

/// `pmd_modify(pmd, PAGE_NONE)` of NUMA hinting: the PMD keeps its page and its dirty and
/// young bits, becomes protnone, and (4.11+ `pmd_mk_savedwrite`, later `pmd_mkwrite` on the
/// NUMA fault) keeps its write permission for when the hinting fault restores it.
fn pmd_modify_protnone(old: Pmd) -> Pmd {
    match old {
        Pmd::Huge {
            pfn,
            write,
            dirty,
            young,
            ..
        }
        | Pmd::Invalid {
            pfn,
            write,
            dirty,
            young,
        } => Pmd::Huge {
            pfn,
            write,
            dirty,
            young,
            protnone: true,
        },
        other => other,
    }
}

/// `change_prot_numa(vma, start, end)` as `task_numa_work` (kernel/sched/fair.c) runs it,
/// under `mmap_lock` read: for each VMA in `[start, end)`, `change_protection(...,
/// MM_CP_PROT_NUMA)` → `change_pmd_range`, whose unlocked check (`is_swap_pmd ||
/// pmd_trans_huge || pmd_devmap`) sends a huge PMD to `change_huge_pmd` (a whole one) or
/// `__split_huge_pmd` (part of one); then `flush_tlb_range` if anything changed. Returns the
/// pages made protnone.
pub fn change_prot_numa(w: &World, mm_id: MmId, start: u64, end: u64) -> u64 {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
    let per = w.cfg.ptes_per_table as u64;
    let mut pages = 0;
    for &v in &map.vmas {
        let info = w.vmas.get(v).info.get();
        let (lo, hi) = (start.max(info.start), end.min(info.end));
        if lo >= hi || !w.vmas.get(v).has(vm::HUGEPAGE) {
            continue;
        }
        let mut changed = 0;
        let mut addr = lo;
        while addr < hi {
            let next = hi.min((addr / per + 1) * per);
            let (slot, _) = w.pte_slot(addr);
            let pmd = mm.pmdp_get_lockless(slot);
            w.trace("change_pmd_range", format_args!("{mm_id} pmd {slot}"), pmd);
            if pmd.is_swap_pmd() || pmd.is_trans_huge() {
                if next - addr != per {
                    (w.kernel.thp.split_huge_pmd)(w, v, addr);
                } else {
                    changed += (w.kernel.thp.change_huge_pmd)(w, v, addr);
                }
            }
            addr = next;
        }
        if changed > 0 {
            (w.kernel.tlb.flush_tlb_range)(w, mm_id, lo, hi);
        }
        pages += changed;
    }
    drop(map);
    pages
}

/// `do_huge_pmd_numa_page` (mm/huge_memory.c): a hardware access hit a protnone huge PMD.
/// Under the PMD lock, if the PMD is still the one faulted on (`pmd_same`), restore it
/// (`pmd_modify(pmd, vma->vm_page_prot)`, young, writable again if it was).
///
/// Simplification: one NUMA node, so the page is never migrated; the entry is restored where
/// it is.
pub fn do_huge_pmd_numa_page(w: &World, mm_id: MmId, _vma: VmaId, va: u64, orig: Pmd) {
    let (slot, _) = w.pte_slot(va);
    let pmd = pmd_lock(w, mm_id, slot);
    if pmd.get() != orig {
        return;
    }
    if let Pmd::Huge {
        pfn, write, dirty, ..
    } = orig
    {
        pmd.set_pmd_at(Pmd::Huge {
            pfn,
            write,
            dirty,
            young: true,
            protnone: false,
        });
    }
}

/// `do_huge_pmd_wp_page` (mm/huge_memory.c): a write to a read-only huge PMD.
///
/// Simplification: the model always takes the kernel's fallback — `__split_huge_pmd` and
/// `VM_FAULT_FALLBACK`, so the write is resolved by the PTE-level `do_wp_page` (the kernel
/// reuses an exclusive THP in place and splits otherwise).
pub fn do_huge_pmd_wp_page(w: &World, _mm_id: MmId, vma: VmaId, va: u64) -> HugeFault {
    (w.kernel.thp.split_huge_pmd)(w, vma, va);
    HugeFault::Fallback
}

/// The PMD level of `__handle_mm_fault` (mm/memory.c): read `vmf.orig_pmd`
/// (`pmdp_get_lockless`); a none PMD in a THP VMA goes to `create_huge_pmd`
/// (`do_huge_pmd_anonymous_page`); a huge one to `do_huge_pmd_numa_page` (protnone),
/// `wp_huge_pmd` (a write to a read-only one) or `huge_pmd_set_accessed` (anything else:
/// the PMD lock is taken, the entry found changed or fine, and the access retried); a PMD
/// migration entry to `pmd_migration_entry_wait` (it sleeps on the folio lock the migration
/// holds, [`pmd_migration_entry_wait`]). `Fallback` sends the fault on to the
/// PTE level.
pub fn huge_pmd_fault(
    w: &World,
    mm_id: MmId,
    vma_id: VmaId,
    va: u64,
    write: bool,
    _lock: FaultLock<'_, '_>,
) -> Result<HugeFault, Error> {
    let (slot, _) = w.pte_slot(va);
    let orig = w.mms.get(mm_id).pmdp_get_lockless(slot);
    match orig {
        Pmd::None if thp_vma_suitable(w, vma_id, va) => {
            w.trace(
                "__handle_mm_fault: create_huge_pmd",
                format_args!("{mm_id} va {:#x}", va << 12),
                orig,
            );
            (w.kernel.thp.do_huge_pmd_anonymous_page)(w, mm_id, vma_id, va)
        }
        Pmd::None | Pmd::Table(_) => Ok(HugeFault::Fallback),
        Pmd::Huge { protnone: true, .. } => {
            (w.kernel.thp.do_huge_pmd_numa_page)(w, mm_id, vma_id, va, orig);
            Ok(HugeFault::Done)
        }
        Pmd::Huge { write: false, .. } if write => {
            Ok((w.kernel.thp.do_huge_pmd_wp_page)(w, mm_id, vma_id, va))
        }
        Pmd::Migration { .. } => {
            // is_swap_pmd(vmf.orig_pmd): wait for the migration to unlock the folio, retry.
            pmd_migration_entry_wait(w, mm_id, slot);
            Ok(HugeFault::Done)
        }
        Pmd::Huge { .. } | Pmd::Invalid { .. } => {
            // huge_pmd_set_accessed: wait for the PMD lock, retry.
            drop(pmd_lock(w, mm_id, slot));
            Ok(HugeFault::Done)
        }
    }
}

/// `set_pmd_migration_entry(pvmw, page)` (mm/huge_memory.c, 6.1–6.6), the PMD lock held by
/// the walk: `pmdp_invalidate` (never `pmd_none` meanwhile, so an unlocked `zap_pmd_range`
/// still sees a huge PMD and waits for the lock), the dirty bit to the folio, a writable or
/// readable migration entry by the PMD's write bit, `set_pmd_at`, `page_remove_rmap(page,
/// vma, true)` and `put_page` — the entry holds neither a mapcount nor a reference. Returns
/// false (`-EBUSY`) if the PMD no longer maps a THP.
///
/// `page_try_share_anon_rmap` (-EBUSY for a possibly pinned exclusive page) always succeeds:
/// nothing pins a THP mapped by a huge PMD in the model (GUP does not follow huge PMDs).
pub fn set_pmd_migration_entry(w: &World, pmd: &LockedPmd<'_>, vma: VmaId, head: Pfn) -> bool {
    let old = pmd.pmdp_invalidate();
    let Some((pfn, write, dirty, _young)) = old.huge_bits() else {
        return false;
    };
    debug_assert_eq!(pfn, head);
    race_window!("set_pmd_migration_entry: pmd invalidated, entry not yet set");
    w.page(head).test_clear(pg::ANON_EXCLUSIVE); // page_try_share_anon_rmap
    if dirty {
        rmap::set_page_dirty(w, head);
    }
    let entry = Pmd::Migration { pfn: head, write };
    pmd.set_pmd_at(entry);
    w.trace("set_pmd_migration_entry", pmd, entry);
    rmap::page_remove_rmap_pmd(w, pmd, head, vma);
    page_alloc::put_page(w, head);
    true
}

/// `remove_migration_pmd(pvmw, new)` (mm/huge_memory.c, 6.1–6.6), the PMD lock held by the
/// walk, the PMD a migration entry of the old THP: `get_page(new)`, `mk_huge_pmd(new,
/// vm_page_prot)`, writable again (`maybe_pmd_mkwrite`) if the entry was,
/// `page_add_anon_rmap(new, vma, haddr, RMAP_COMPOUND)`, `set_pmd_at` (no flush: the entry was
/// not present).
pub fn remove_migration_pmd(w: &World, pmd: &LockedPmd<'_>, vma: VmaId, new: Pfn) {
    let Pmd::Migration { write, .. } = pmd.get() else {
        return;
    };
    page_alloc::get_page(w, new);
    let entry = Pmd::Huge {
        pfn: new,
        write: write && w.vmas.get(vma).has(vm::WRITE),
        dirty: false,
        young: true,
        protnone: false,
    };
    page_add_anon_rmap_pmd(w, pmd, new);
    pmd.set_pmd_at(entry);
    w.trace("remove_migration_pmd", pmd, entry);
}

/// `page_add_anon_rmap(page, vma, haddr, RMAP_COMPOUND)` of an existing anonymous THP: one more
/// `_entire_mapcount` (its `mapping` and `index` are the folio's already).
fn page_add_anon_rmap_pmd(w: &World, _pmd: &LockedPmd<'_>, head: Pfn) {
    let page = w.page(head);
    let entire = page.entire_mapcount.fetch_add(1, Ordering::SeqCst) + 1;
    w.trace(
        "page_add_anon_rmap(compound)",
        head,
        format_args!("entire={entire}"),
    );
}

/// `pmd_migration_entry_wait(mm, pmd)` (mm/migrate.c, 6.1–6.6), from `__handle_mm_fault` on
/// an `is_pmd_migration_entry` PMD: take the PMD lock; if the PMD is still a migration entry,
/// `migration_entry_wait_on_locked` — queue on the folio's lock with the PMD lock held, drop
/// it, sleep until the migration unlocks the folio (no reference taken: the migration holds
/// one until it has removed the entry under this lock). The fault then returns 0 and the
/// access is retried.
pub fn pmd_migration_entry_wait(w: &World, mm: MmId, slot: usize) {
    let pmd = pmd_lock(w, mm, slot);
    let Pmd::Migration { pfn, .. } = pmd.get() else {
        return;
    };
    w.trace("pmd_migration_entry_wait", &pmd, pfn);
    race_window!("pmd_migration_entry_wait: entry seen, not yet waiting");
    let page = w.pages.slot(w.compound_head(pfn).idx);
    if !page.lock().is_locked() {
        crate::check::violation(
            crate::check::Oracle::I6MigrationEntry,
            format!("pmd migration entry for {pfn} found while the folio is unlocked"),
        );
    }
    page.lock().wait_unlocked_releasing(pmd);
    w.trace("pmd_migration_entry_wait: woken", format_args!("{mm}"), pfn);
}

/// Is `pfn` the head of a THP?
pub fn is_thp_head(w: &World, pfn: Pfn) -> bool {
    matches!(w.page(pfn).compound.get(), Compound::Head { .. })
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the THP
/// paths at the PMD level. The default is the modern kernel (its `Default` is in
/// [`crate::kernel`]); [`HugeMemoryOps::v4_10`] is the `change_huge_pmd` of before
/// ced108037c2a.
#[derive(Debug, Clone, Copy)]
pub struct HugeMemoryOps {
    /// `do_huge_pmd_anonymous_page` (`create_huge_pmd` of an anonymous VMA).
    pub do_huge_pmd_anonymous_page: fn(&World, MmId, VmaId, u64) -> Result<HugeFault, Error>,
    /// `zap_huge_pmd`: true if the PMD was huge and is zapped.
    pub zap_huge_pmd: fn(&World, &mut MmuGather, VmaId, u64) -> bool,
    /// `__split_huge_pmd` (freeze = false).
    pub split_huge_pmd: fn(&World, VmaId, u64),
    /// `change_huge_pmd` with `MM_CP_PROT_NUMA`. Alternative: [`change_huge_pmd_v4_10`].
    pub change_huge_pmd: fn(&World, VmaId, u64) -> u64,
    /// `do_huge_pmd_numa_page`.
    pub do_huge_pmd_numa_page: fn(&World, MmId, VmaId, u64, Pmd),
    /// `do_huge_pmd_wp_page`.
    pub do_huge_pmd_wp_page: fn(&World, MmId, VmaId, u64) -> HugeFault,
    /// `split_huge_pmd_address(vma, address, freeze, page)`, the split before the rmap walk's
    /// look at the PMD. Default `split_huge_pmd::split_huge_pmd_address` (the PMD checked
    /// under its lock, 33f4751e9960); alternative `split_huge_pmd::split_huge_pmd_address_v4_6`
    /// (`HugeMemoryOps::v4_6`).
    pub split_huge_pmd_address: fn(&World, VmaId, u64, bool, Pfn),
}

impl HugeMemoryOps {
    /// v4.10 and earlier, before ced108037c2a: `change_huge_pmd` clears the PMD before it
    /// sets the protnone entry.
    pub fn v4_10() -> Self {
        HugeMemoryOps {
            change_huge_pmd: change_huge_pmd_v4_10,
            ..HugeMemoryOps::default()
        }
    }
}
