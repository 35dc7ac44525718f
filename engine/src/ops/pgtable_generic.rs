//! A PTE whose page-table lock is held: [`LockedPte`], the one way a kernel path reads or
//! changes a PTE under its PTL, and [`pte_offset_map_lock`], which hands one out (the other is
//! a `page_vma_mapped_walk` step, and hugetlb's `huge_pte_lock`).
//!
//! The guard proves an identity, not just a type: it holds the lock *of this table* (its split
//! PTL or `mm->page_table_lock`, as [`World::pte_lockptr`] chooses) together with the table and
//! the index it guards, so a path cannot lock one table and write another. Every change goes
//! through a method named after the kernel primitive (include/linux/pgtable.h,
//! mm/pgtable-generic.c) that returns the old PTE atomically and records a trace step.

use crate::mm::pte::Pte;
use crate::mm::{MmId, PageTable, World};
use crate::sync::{AtomicU64, Ordering, SpinLockGuard};

/// A PTE with its PTL held. Dropping it releases the PTL (`pte_unmap_unlock`).
pub struct LockedPte<'w> {
    w: &'w World,
    mm: MmId,
    va: u64,
    table: &'w PageTable,
    index: usize,
    /// Held, not read: the PTL is released when the guard drops. `None` for a PTE of a
    /// second table guarded by the same lock another `LockedPte` holds ([`Self::new_under`]).
    _ptl: Option<SpinLockGuard<'w, ()>>,
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
            _ptl: Some(ptl),
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
            _ptl: None,
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

/// `pte_offset_map_lock`: the PTE mapping `va` of `mm`, with its PTL taken — `None` when no
/// PTE table covers `va` (`pmd_none`).
///
/// Simplification: page tables are freed only under `mmap_lock` held for write, so a table a
/// caller holding `mmap_lock` found cannot go away and the 6.5+ re-validation of the PMD under
/// the PTL cannot fail.
pub fn pte_offset_map_lock(w: &World, mm: MmId, va: u64) -> Option<LockedPte<'_>> {
    let m = w.mms.get(mm);
    let (slot, index) = w.pte_slot(va);
    let table = w.tables.get(m.pmd_table(slot)?);
    let ptl = w.pte_lockptr(m, table).lock();
    Some(LockedPte::new(w, mm, va, table, index, ptl))
}

/// `ptep_get_lockless`: the PTE at `index` of `table`, read without its PTL — a snapshot a
/// fault path decides on (`orig_pte`) and re-checks under the PTL (`pte_same`) before acting.
pub fn ptep_get_lockless(table: &PageTable, index: usize) -> Pte {
    table.ptep_get_lockless(index)
}
