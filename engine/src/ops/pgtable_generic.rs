//! A PTE whose page-table lock is held: [`LockedPte`], the one way a kernel path reads or
//! changes a PTE under its PTL, and [`pte_offset_map_lock`], which hands one out (the other is
//! a `page_vma_mapped_walk` step, and hugetlb's `huge_pte_lock`).
//!
//! The guard proves an identity, not just a type: it holds the lock *of this table* (its split
//! PTL or `mm->page_table_lock`, as [`World::pte_lockptr`] chooses) together with the table and
//! the index it guards, so a path cannot lock one table and write another. Every change goes
//! through a method named after the kernel primitive (include/linux/pgtable.h,
//! mm/pgtable-generic.c) that returns the old PTE atomically and records a trace step.
//!
//! Since 6.5 (Hugh Dickins' series "mm: allow pte_offset_map[_lock]() to fail", 0d940a9b270b
//! "mm/pgtable: allow pte_offset_map[_lock]() to fail" and the callers after it) a PTE table
//! may be freed without `mmap_lock` — khugepaged's `retract_page_tables` (1d65b771bc08) — so
//! a walker maps a table under `rcu_read_lock` ([`__pte_offset_map`], until `pte_unmap`), and
//! `pte_offset_map_lock` re-checks under the PTL that the PMD still points to the table it
//! locked (`pmd_same`), retrying otherwise; the freer waits a grace period
//! (`pte_free_defer`). Before 6.5 ([`pte_offset_map_lock_v6_4`]) a table was freed only
//! with `mmap_lock` held for write — or, for a file, by khugepaged with `i_mmap_rwsem` held
//! for write (8d3c106e19e8) — and the PMD read once was trusted.
//!
//! A table freed while a [`LockedPte`] of it is held, or mapped after it was freed, is a
//! use-after-free ([`Oracle::StaleId`]): the guard checks that its table is still live at
//! every access and when it unlocks. A table freed by `pte_free_defer` stays live (the slot
//! is not reused) until the grace period has passed, as the kernel's RCU-freed page is.

use crate::mm::pte::Pte;
use crate::mm::{MmId, PageTable, TableId, World};
use crate::race_window;
use crate::report::{self as check, Oracle};
use crate::sync::rcu::RcuReadGuard;
use crate::sync::{AtomicU64, Ordering, SpinLockGuard};

/// A PTE with its PTL held. Dropping it releases the PTL and then, if the table was mapped
/// under RCU, the read section (`pte_unmap_unlock`).
pub struct LockedPte<'w> {
    w: &'w World,
    mm: MmId,
    va: u64,
    table: &'w PageTable,
    index: usize,
    /// The table's id, when the walker that locked it knows it: checked live at every access
    /// (a PTL held on a freed table is a use-after-free).
    tid: Option<TableId>,
    /// Held, not read: the PTL is released when the guard drops. `None` for a PTE of a
    /// second table guarded by the same lock another `LockedPte` holds ([`Self::new_under`]).
    _ptl: Option<SpinLockGuard<'w, ()>>,
    /// The RCU read section of `__pte_offset_map` (6.5+), ended by `pte_unmap`.
    _rcu: Option<RcuReadGuard<'w>>,
}

impl Drop for LockedPte<'_> {
    /// `spin_unlock(ptl)` of a table that must still be there.
    fn drop(&mut self) {
        self.check_live("pte_unmap_unlock");
    }
}

impl std::fmt::Debug for LockedPte<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockedPte(va {:#x}: {})", self.va << 12, self.get())
    }
}

impl<'w> LockedPte<'w> {
    /// Wrap a PTL the caller has just taken for `table`. Crate-private: the lock must be the
    /// one that guards `table` (`pte_lockptr` or `huge_pte_lockptr`), which only the walkers
    /// that take it know.
    pub(crate) fn new(
        w: &'w World,
        mm: MmId,
        va: u64,
        table: &'w PageTable,
        index: usize,
        ptl: SpinLockGuard<'w, ()>,
    ) -> Self {
        LockedPte {
            w,
            mm,
            va,
            table,
            index,
            tid: None,
            _ptl: Some(ptl),
            _rcu: None,
        }
    }

    /// A PTE of `table` whose lock is the one `held` holds — `new_ptl == old_ptl` in
    /// `move_ptes` (mm/mremap.c): two tables of one mm when split PTE locks are off (both
    /// guarded by `mm->page_table_lock`). Crate-private: the caller drops the result before
    /// `held`. Panics if `table`'s lock is not `held`'s.
    pub(crate) fn new_under(held: &LockedPte<'w>, table: &'w PageTable, va: u64) -> Self {
        let w = held.w;
        let m = w.mms.get(held.mm);
        assert!(
            std::ptr::eq(w.pte_lockptr(m, held.table), w.pte_lockptr(m, table)),
            "LockedPte::new_under: {:#x} is guarded by another lock",
            va << 12
        );
        LockedPte {
            w,
            mm: held.mm,
            va,
            table,
            index: w.pte_slot(va).1,
            tid: None,
            _ptl: None,
            _rcu: None,
        }
    }

    /// As [`Self::new`], for a walker that knows the table's id (checked live at every
    /// access) and may hold the RCU read section it was mapped under.
    pub(crate) fn mapped(
        w: &'w World,
        mm: MmId,
        va: u64,
        tid: TableId,
        index: usize,
        ptl: SpinLockGuard<'w, ()>,
        rcu: Option<RcuReadGuard<'w>>,
    ) -> Self {
        LockedPte {
            w,
            mm,
            va,
            table: w.tables.slot(tid.idx),
            index,
            tid: Some(tid),
            _ptl: Some(ptl),
            _rcu: rcu,
        }
    }

    /// The oracle: the table this guard locked was not freed under it.
    fn check_live(&self, what: &str) {
        if let Some(t) = self.tid
            && !self.w.tables.is_live(t)
        {
            check::violation(
                Oracle::StaleId,
                format!(
                    "use after free: {what} on {t} (mm {} va {:#x}), a PTE table freed under \
                     its PTL holder",
                    self.mm,
                    self.va << 12
                ),
            );
        }
    }

    /// `pte++` / `pte += nr` of a loop over one table under one PTL (`zap_pte_range`): move
    /// to the PTE that maps `va`, which must be in the same table — the PTL held covers every
    /// entry of it.
    pub fn move_to(&mut self, va: u64) {
        let (slot, index) = self.w.pte_slot(va);
        assert_eq!(
            slot,
            self.w.pte_slot(self.va).0,
            "LockedPte::move_to {:#x}: outside the locked table",
            va << 12
        );
        self.va = va;
        self.index = index;
    }

    fn entry(&self) -> &AtomicU64 {
        self.check_live("PTE access");
        &self.table.entries[self.index]
    }

    /// The mm whose page table this is (the locking mm, for a shared hugetlb table).
    pub fn mm(&self) -> MmId {
        self.mm
    }

    /// The virtual page it maps.
    pub fn va(&self) -> u64 {
        self.va
    }

    /// The PTE table.
    pub fn table(&self) -> &'w PageTable {
        self.table
    }

    /// The PTE's index in its table.
    pub fn index(&self) -> usize {
        self.index
    }

    /// `ptep_get`: the PTE now. Under the PTL no kernel path changes it, but the hardware
    /// walker may still set its dirty and accessed bits (`ops::access`).
    pub fn get(&self) -> Pte {
        Pte::decode(self.entry().load(Ordering::SeqCst))
    }

    /// `ptep_get_and_clear`: clear the PTE and return what it held, in one atomic step (x86
    /// `native_ptep_get_and_clear` is an `xchg` on SMP). The value returned — never a read
    /// made earlier under the same PTL — is the one whose dirty bit the caller must move to
    /// the page (`pte_dirty(pteval)`).
    pub fn ptep_get_and_clear(&self) -> Pte {
        let old = Pte::decode(self.entry().swap(0, Ordering::SeqCst));
        self.w.trace("ptep_get_and_clear", self, old);
        old
    }

    /// `ptep_get_and_clear_full`: as [`Self::ptep_get_and_clear`]; `full` (the whole mm is
    /// going away) lets x86 skip the atomic when no other CPU can use the mm, which the model
    /// does not exploit: it is always the atomic exchange.
    pub fn ptep_get_and_clear_full(&self, full: bool) -> Pte {
        let old = Pte::decode(self.entry().swap(0, Ordering::SeqCst));
        self.w.trace(
            if full {
                "ptep_get_and_clear_full(full)"
            } else {
                "ptep_get_and_clear_full"
            },
            self,
            old,
        );
        old
    }

    /// `pte_clear_not_present_full` (include/linux/pgtable.h; `clear_not_present_full_ptes`
    /// for one PTE): clear a non-present entry (migration or swap), returning what it held.
    /// The hardware walker never changes a non-present PTE, so no dirty bit can be lost here.
    pub fn pte_clear_not_present_full(&self, full: bool) -> Pte {
        let old = Pte::decode(self.entry().swap(0, Ordering::SeqCst));
        self.w.trace(
            if full {
                "pte_clear_not_present_full(full)"
            } else {
                "pte_clear_not_present_full"
            },
            self,
            old,
        );
        old
    }

    /// `ptep_clear_flush` (mm/pgtable-generic.c): `pte = ptep_get_and_clear(); if
    /// (pte_accessible(mm, pte)) flush_tlb_page(vma, address); return pte;`. The PTL is held
    /// across the flush, so once it returns no TLB caches the old translation and no CPU can
    /// re-walk to it; the returned PTE carries every dirty bit the hardware set up to the
    /// clear.
    ///
    /// Simplification: `pte_accessible` is `pte_present` here (no PROT_NONE/NUMA-hinting PTEs
    /// are modelled); `flush_tlb_page` is `flush_tlb_range` of the one page (also what tells
    /// the secondary MMUs, `arch_invalidate_secondary_tlbs`).
    pub fn ptep_clear_flush(&self) -> Pte {
        let old = Pte::decode(self.entry().swap(0, Ordering::SeqCst));
        self.w.trace("ptep_clear_flush", self, old);
        if old.is_present() {
            (self.w.kernel.tlb.flush_tlb_range)(self.w, self.mm, self.va, self.va + 1);
        }
        old
    }

    /// `ptep_set_wrprotect` (x86: `clear_bit(_PAGE_BIT_RW, &ptep->pte)`, an atomic bit clear):
    /// take the write bit off a present PTE, keeping every bit the hardware sets meanwhile
    /// (fork's `copy_present_pte` on the parent's PTE). Returns the PTE it changed.
    pub fn ptep_set_wrprotect(&self) -> Pte {
        let old = self
            .entry()
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                match Pte::decode(v) {
                    Pte::Present {
                        pfn, dirty, young, ..
                    } => Some(
                        Pte::Present {
                            pfn,
                            write: false,
                            dirty,
                            young,
                        }
                        .encode(),
                    ),
                    _ => None,
                }
            })
            .map_or_else(Pte::decode, Pte::decode);
        self.w.trace("ptep_set_wrprotect", self, old);
        old
    }

    /// `ptep_test_and_clear_young` (x86: `test_and_clear_bit(_PAGE_BIT_ACCESSED)`, an atomic
    /// bit clear that keeps every other bit the hardware sets meanwhile): was the accessed bit
    /// set? x86's `ptep_clear_flush_young` is this without a flush ("clearing the accessed
    /// bit without a TLB flush doesn't cause data corruption").
    pub fn ptep_test_and_clear_young(&self) -> bool {
        let old = self
            .entry()
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                match Pte::decode(v) {
                    Pte::Present {
                        pfn,
                        write,
                        dirty,
                        young: true,
                    } => Some(
                        Pte::Present {
                            pfn,
                            write,
                            dirty,
                            young: false,
                        }
                        .encode(),
                    ),
                    _ => None,
                }
            })
            .is_ok();
        self.w.trace("ptep_test_and_clear_young", self, old);
        old
    }

    /// `set_pte_at`: install `pte`, returning what it replaced. Callers re-check the old
    /// value under the PTL before they decide (`pte_same(orig_pte, ...)`); the exchange makes
    /// a hardware bit set between that check and this store visible in the return value
    /// instead of silently lost.
    pub fn set_pte_at(&self, pte: Pte) -> Pte {
        let old = Pte::decode(self.entry().swap(pte.encode(), Ordering::SeqCst));
        self.w.trace("set_pte_at", self, pte);
        old
    }
}

impl std::fmt::Display for LockedPte<'_> {
    /// `mm N va 0x...`: the object of a trace step, so that a story shows whose PTE changed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} va {:#x}", self.mm, self.va << 12)
    }
}

/// A PTE table mapped by [`__pte_offset_map`]: the table, its id, and the RCU read section
/// that keeps it from being freed (6.5+). Dropping it is `pte_unmap` (`rcu_read_unlock`).
pub struct PteMap<'w> {
    /// The table's id, as the PMD named it when it was read.
    pub tid: TableId,
    /// The table (type-stable: an RCU-deferred free does not reuse it inside the section).
    pub table: &'w PageTable,
    /// `rcu_read_lock` of `__pte_offset_map`.
    pub rcu: RcuReadGuard<'w>,
}

impl std::fmt::Debug for PteMap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PteMap({})", self.tid)
    }
}

/// `pmdp_get_lockless` (include/linux/pgtable.h): the PMD entry of `va`, read once without a
/// lock — `None` for `pmd_none` (the model's PMD slot holds a PTE table or nothing: no huge
/// or bad entries).
pub fn pmdp_get_lockless(w: &World, mm: MmId, va: u64) -> Option<TableId> {
    let (slot, _) = w.pte_slot(va);
    w.mms.get(mm).pmd_table(slot)
}

/// `__pte_offset_map` (mm/pgtable-generic.c, 6.5+): `rcu_read_lock()`, read the PMD
/// locklessly, and map its table — or `None` (the section ended) when the PMD is none (or, in
/// the kernel, huge or bad: `pmd_clear_bad`). The table may be retracted the moment after;
/// the RCU section keeps its memory a PTE table until `pte_unmap`.
pub fn __pte_offset_map(w: &World, mm: MmId, va: u64) -> Option<PteMap<'_>> {
    let rcu = w.rcu_pgtable.read_lock();
    let tid = pmdp_get_lockless(w, mm, va)?;
    Some(PteMap {
        tid,
        table: w.tables.get(tid),
        rcu,
    })
}

/// `pte_offset_map_nolock` (6.5+): [`__pte_offset_map`], and the PTL the caller may take
/// later (`pte_lockptr`); the caller re-validates what it read once it holds it, or relies
/// on a lock of its own (`page_vma_mapped_walk`'s page lock, fork's `mmap_lock`).
pub fn pte_offset_map_nolock(w: &World, mm: MmId, va: u64) -> Option<PteMap<'_>> {
    __pte_offset_map(w, mm, va)
}

/// `pte_offset_map_lock`: the PTE mapping `va` of `mm`, with its PTL taken — `None` when no
/// PTE table covers `va` — through the era's function (`w.kernel.pgtable`), so that every
/// caller (zap, fault, GUP, mprotect, munlock, fork's child side) runs the era's shape.
pub fn pte_offset_map_lock(w: &World, mm: MmId, va: u64) -> Option<LockedPte<'_>> {
    (w.kernel.pgtable.pte_offset_map_lock)(w, mm, va)
}

/// `__pte_offset_map_lock` (mm/pgtable-generic.c, 6.5+, 0d940a9b270b):
///
/// ```text
/// again:
///     pte = __pte_offset_map(pmd, addr, &pmdval);   // rcu_read_lock, lockless PMD read
///     if (unlikely(!pte)) return pte;
///     ptl = pte_lockptr(mm, &pmdval);
///     spin_lock(ptl);
///     if (likely(pmd_same(pmdval, pmdp_get_lockless(pmd)))) return pte;
///     pte_unmap_unlock(pte, ptl);
///     goto again;
/// ```
///
/// The re-check under the PTL is what makes a retraction safe: the retractor clears the PMD
/// holding this PTL (nested in `pmd_lock`), so a walker that holds the PTL and still sees
/// its table in the PMD holds a table nobody can retract until it unlocks.
pub fn __pte_offset_map_lock(w: &World, mm: MmId, va: u64) -> Option<LockedPte<'_>> {
    let (_, index) = w.pte_slot(va);
    loop {
        let map = __pte_offset_map(w, mm, va)?;
        let ptl = w.pte_lockptr(w.mms.get(mm), map.table).lock();
        if pmdp_get_lockless(w, mm, va) == Some(map.tid) {
            return Some(LockedPte::mapped(
                w,
                mm,
                va,
                map.tid,
                index,
                ptl,
                Some(map.rcu),
            ));
        }
        drop(ptl);
        w.trace(
            "pte_offset_map_lock: !pmd_same, again",
            format_args!("{mm} va {:#x}", va << 12),
            map.tid,
        );
        drop(map);
    }
}

/// `pte_offset_map_lock` before 6.5 (the macro over `pte_offset_map` + `spin_lock`): the PMD
/// is read once and trusted — a table is freed only under `mmap_lock` held for write (or,
/// for a file THP's retraction, `i_mmap_rwsem` for write, 8d3c106e19e8), which a caller
/// walking the table holds for read. No RCU section, no re-check: it cannot fail once the
/// PMD was populated.
pub fn pte_offset_map_lock_v6_4(w: &World, mm: MmId, va: u64) -> Option<LockedPte<'_>> {
    let (_, index) = w.pte_slot(va);
    let tid = pmdp_get_lockless(w, mm, va)?;
    race_window!("pte_offset_map_lock: PMD read, PTL not yet taken");
    let table = w.tables.get(tid);
    let ptl = w.pte_lockptr(w.mms.get(mm), table).lock();
    Some(LockedPte::mapped(w, mm, va, tid, index, ptl, None))
}

/// `pmdp_collapse_flush` (x86: `pmdp_huge_get_and_clear` + `flush_tlb_range` of the PMD's
/// range): clear the PMD entry of the table covering `va` and flush the TLBs that may cache
/// translations through it. The caller holds `pmd_lock` (the model's `pmd_lock` is
/// `mm->page_table_lock`: no split PMD locks). Returns the table it pointed to.
pub fn pmdp_collapse_flush(w: &World, mm: MmId, va: u64) -> Option<TableId> {
    let (slot, _) = w.pte_slot(va);
    let m = w.mms.get(mm);
    let old = m.pmd[slot].swap(0, Ordering::SeqCst);
    let tid = (old != 0).then(|| crate::mm::arena::Id::unpack(old - 1))?;
    w.trace(
        "pmdp_collapse_flush",
        mm,
        format_args!("slot {slot} ({tid})"),
    );
    let per = w.cfg.ptes_per_table as u64;
    let lo = slot as u64 * per;
    (w.kernel.tlb.flush_tlb_range)(w, mm, lo, lo + per);
    Some(tid)
}

/// `pte_free`: free a PTE table now. Before 6.5 khugepaged freed a table with the PTEs it had
/// taken the rmap off still in it (`collapse_pte_mapped_thp` cleared them only from 6.5:
/// "Must clear entry, or a racing truncate may re-remove it"), so no emptiness is checked
/// here; [`pte_free_defer`]'s callers empty the table first and it checks.
pub fn pte_free(w: &World, tid: TableId) {
    w.tables.free(tid);
    w.trace("pte_free", tid, "");
}

/// `pte_free_defer` (6.5+, "mm/pgtable: add pte_free_defer() for pgtable as page"): free the
/// table after an RCU grace period, so that a walker that mapped it under `rcu_read_lock`
/// (`__pte_offset_map`) never sees its memory reused.
///
/// Simplification: the kernel's `call_rcu` callback runs later on its own; the model's
/// freer waits for the grace period itself (`synchronize_rcu` of the walkers' domain) and
/// then frees, so it must hold no spinlock here (the kernel's callers hold none either).
pub fn pte_free_defer(w: &World, tid: TableId) {
    w.trace("pte_free_defer", tid, "");
    let table = w.tables.get(tid);
    for i in 0..table.entries.len() {
        let pte = table.ptep_get_lockless(i);
        if !pte.is_none() {
            check::violation(
                Oracle::Bug,
                format!("pte_free_defer of {tid} with pte {i} = {pte} (I10)"),
            );
        }
    }
    w.rcu_pgtable.synchronize();
    pte_free(w, tid);
}

/// This file's entry of the kernel function table ([`crate::kernel::Kernel`]): how a walker
/// maps and locks a PTE table.
#[derive(Debug, Clone, Copy)]
pub struct PgtableOps {
    /// `pte_offset_map_lock`. Default [`__pte_offset_map_lock`] (6.5+); alternative
    /// [`pte_offset_map_lock_v6_4`].
    pub pte_offset_map_lock: for<'w> fn(&'w World, MmId, u64) -> Option<LockedPte<'w>>,
}

impl PgtableOps {
    /// Before 6.5: the PMD read once and trusted.
    pub fn v6_4() -> Self {
        PgtableOps {
            pte_offset_map_lock: pte_offset_map_lock_v6_4,
        }
    }
}

/// `ptep_get_lockless`: the PTE at `index` of `table`, read without its PTL — a snapshot a
/// fault path decides on (`orig_pte`) and re-checks under the PTL (`pte_same`) before acting.
pub fn ptep_get_lockless(table: &PageTable, index: usize) -> Pte {
    table.ptep_get_lockless(index)
}
