//! A PMD whose lock is held: [`LockedPmd`], the one way a kernel path changes a PMD entry,
//! and [`pmd_lock`] / [`pmd_trans_huge_lock`], which hand one out.
//!
//! The PMD lock is `pmd_lockptr(mm, pmd)` (include/linux/mm.h): with split PMD locks the
//! ptlock of the PMD page ([`crate::mm::Mm::pmd_ptl`], the same lockdep class as a PTE
//! table's ptlock), else `&mm->page_table_lock` ([`World::pmd_lockptr`]). It is taken above a
//! PTE table's lock where both nest (`copy_huge_pmd`'s `src_ptl` under `dst_ptl`,
//! `move_huge_pmd`, khugepaged's `pml` then `ptl`): docs/MODEL.md §1 and §15.
//!
//! Every change goes through a method named after the kernel primitive
//! (include/linux/pgtable.h, mm/pgtable-generic.c, arch/x86/mm/pgtable.c) that returns the old
//! entry atomically — the hardware walker sets a huge PMD's accessed and dirty bits with a
//! locked update, as it does a PTE's — and records a trace step.

use crate::mm::pmd::Pmd;
use crate::mm::{MmId, TableId, World};
use crate::sync::{Ordering, SpinLockGuard};

/// A PMD with its PMD lock held. Dropping it releases the lock (`spin_unlock(ptl)`).
pub struct LockedPmd<'w> {
    w: &'w World,
    mm: MmId,
    slot: usize,
    /// Held, not read: the lock is released when the guard drops.
    _ptl: SpinLockGuard<'w, ()>,
}

impl std::fmt::Debug for LockedPmd<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockedPmd({self}: {})", self.get())
    }
}

impl std::fmt::Display for LockedPmd<'_> {
    /// `mm N pmd S (va 0x...)`: the object of a trace step.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pmd {} (va {:#x})",
            self.mm,
            self.slot,
            self.haddr() << 12
        )
    }
}

/// `pmd_lock(mm, pmd)`: the PMD of `mm` at `slot` (the one covering virtual page
/// `slot * ptes_per_table`), its lock taken.
pub fn pmd_lock(w: &World, mm: MmId, slot: usize) -> LockedPmd<'_> {
    let ptl = w.pmd_lockptr(w.mms.get(mm)).lock();
    LockedPmd {
        w,
        mm,
        slot,
        _ptl: ptl,
    }
}

/// `spin_lock_nested(pmd_lockptr(mm, pmd), SINGLE_DEPTH_NESTING)`: the PMD lock of a second
/// mm taken under the first's — `copy_huge_pmd`'s `src_ptl` under `dst_ptl` (a fork's child is
/// not linked yet, so no other path takes the two in the other order).
pub fn pmd_lock_nested(w: &World, mm: MmId, slot: usize) -> LockedPmd<'_> {
    let ptl = w
        .pmd_lockptr(w.mms.get(mm))
        .lock_nested(crate::sync::lockdep::SINGLE_DEPTH_NESTING);
    LockedPmd {
        w,
        mm,
        slot,
        _ptl: ptl,
    }
}

/// `__pmd_trans_huge_lock` / `pmd_trans_huge_lock` (mm/huge_memory.c): take the PMD lock and
/// keep it only if the PMD is (still) huge or a migration entry
/// (`is_swap_pmd || pmd_trans_huge || pmd_devmap`); `None` with the lock released otherwise.
pub fn pmd_trans_huge_lock(w: &World, mm: MmId, slot: usize) -> Option<LockedPmd<'_>> {
    let pmd = pmd_lock(w, mm, slot);
    let now = pmd.get();
    (now.is_swap_pmd() || now.is_trans_huge()).then_some(pmd)
}

/// `pmdp_get_lockless`: the PMD at `slot` of `mm`, read without its lock.
pub fn pmdp_get_lockless(w: &World, mm: MmId, slot: usize) -> Pmd {
    w.mms.get(mm).pmdp_get_lockless(slot)
}

impl<'w> LockedPmd<'w> {
    fn word(&self) -> &'w crate::sync::AtomicU64 {
        &self.w.mms.get(self.mm).pmd[self.slot]
    }

    /// The mm.
    pub fn mm(&self) -> MmId {
        self.mm
    }

    /// The PMD's index in the mm's PMD page.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// `haddr`: the first virtual page the PMD covers (`address & HPAGE_PMD_MASK`).
    pub fn haddr(&self) -> u64 {
        (self.slot * self.w.cfg.ptes_per_table) as u64
    }

    /// `*pmd` (`pmdp_get`): the PMD now. Under the lock no kernel path changes it; the
    /// hardware may still set a huge entry's accessed and dirty bits.
    pub fn get(&self) -> Pmd {
        Pmd::decode(self.word().load(Ordering::SeqCst))
    }

    /// `set_pmd_at`: install `pmd`, returning what it replaced.
    pub fn set_pmd_at(&self, pmd: Pmd) -> Pmd {
        let old = Pmd::decode(self.word().swap(pmd.encode(), Ordering::SeqCst));
        self.w.trace("set_pmd_at", self, pmd);
        old
    }

    /// `pmdp_set_wrprotect` (x86: `clear_bit(_PAGE_BIT_RW)`): the write bit cleared
    /// atomically, keeping the dirty and accessed bits the hardware walker may set meanwhile.
    pub fn pmdp_set_wrprotect(&self) -> Pmd {
        let old = self
            .word()
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                match Pmd::decode(v) {
                    Pmd::Huge {
                        pfn,
                        dirty,
                        young,
                        protnone,
                        ..
                    } => Some(
                        Pmd::Huge {
                            pfn,
                            write: false,
                            dirty,
                            young,
                            protnone,
                        }
                        .encode(),
                    ),
                    _ => None,
                }
            })
            .map(Pmd::decode)
            .unwrap_or_else(Pmd::decode);
        self.w.trace("pmdp_set_wrprotect", self, old);
        old
    }

    /// `pmd_populate`: point the PMD at the PTE table `table` (after `smp_wmb()` in
    /// `__split_huge_pmd_locked`, so the PTEs are visible before the table is).
    pub fn pmd_populate(&self, table: TableId) -> Pmd {
        let old = Pmd::decode(
            self.word()
                .swap(Pmd::Table(table).encode(), Ordering::SeqCst),
        );
        self.w.trace("pmd_populate", self, table);
        old
    }

    /// `pmdp_huge_get_and_clear` (x86: `native_pmdp_get_and_clear`, an `xchg`): clear the PMD
    /// and return what it held — the value whose dirty bit counts. The PMD is `pmd_none`
    /// until the next `set_pmd_at`: what an unlocked reader sees in between.
    pub fn pmdp_huge_get_and_clear(&self) -> Pmd {
        let old = Pmd::decode(self.word().swap(0, Ordering::SeqCst));
        self.w.trace("pmdp_huge_get_and_clear", self, old);
        old
    }

    /// `pmdp_huge_get_and_clear_full` (zap's; `full` lets x86 skip the atomic when no other
    /// CPU can use the mm, which the model does not exploit).
    pub fn pmdp_huge_get_and_clear_full(&self, full: bool) -> Pmd {
        let old = Pmd::decode(self.word().swap(0, Ordering::SeqCst));
        self.w.trace(
            if full {
                "pmdp_huge_get_and_clear_full(full)"
            } else {
                "pmdp_huge_get_and_clear_full"
            },
            self,
            old,
        );
        old
    }

    /// `pmdp_invalidate` (mm/pgtable-generic.c; x86's `pmdp_establish` with `pmd_mkinvalid`,
    /// an `xchg`): make a huge PMD non-present to the hardware while it stays
    /// `pmd_trans_huge` and never `pmd_none` to software, flush the TLB over its range
    /// (`flush_pmd_tlb_range`), and return the old entry with every hardware bit set up to
    /// the exchange (d52605d7cb30 "mm: do not lose dirty and accessed bits in pmdp_invalidate()",
    /// 4.16; before it the function returned nothing and callers re-read the bits, which the
    /// model does not distinguish). A migration or none entry is left as it is.
    pub fn pmdp_invalidate(&self) -> Pmd {
        let old = Pmd::decode(
            self.word()
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                    let (pfn, write, dirty, young) = Pmd::decode(v).huge_bits()?;
                    Some(
                        Pmd::Invalid {
                            pfn,
                            write,
                            dirty,
                            young,
                        }
                        .encode(),
                    )
                })
                .unwrap_or_else(|v| v),
        );
        self.w.trace("pmdp_invalidate", self, old);
        let per = self.w.cfg.ptes_per_table as u64;
        (self.w.kernel.tlb.flush_tlb_range)(self.w, self.mm, self.haddr(), self.haddr() + per);
        old
    }

    /// `pgtable_trans_huge_deposit`: keep the PTE table `table` with the huge PMD, for a
    /// later split (`__split_huge_pmd_locked`) or zap (`zap_deposited_table`) to withdraw.
    pub fn pgtable_trans_huge_deposit(&self, table: TableId) {
        let old = self.w.mms.get(self.mm).pmd_huge_pte[self.slot]
            .swap(table.pack() + 1, crate::sync::observer::Ordering::SeqCst);
        assert_eq!(old, 0, "{self}: a second table deposited");
        self.w.trace("pgtable_trans_huge_deposit", self, table);
    }

    /// `pgtable_trans_huge_withdraw`: take back the deposited PTE table, if any.
    pub fn pgtable_trans_huge_withdraw(&self) -> Option<TableId> {
        let v = self.w.mms.get(self.mm).pmd_huge_pte[self.slot]
            .swap(0, crate::sync::observer::Ordering::SeqCst);
        let table = (v != 0).then(|| crate::mm::Id::unpack(v - 1));
        if let Some(t) = table {
            self.w.trace("pgtable_trans_huge_withdraw", self, t);
        }
        table
    }

    /// The PTE table a split of this huge (or migration) PMD fills: the one the THP fault
    /// deposited (`pgtable_trans_huge_withdraw`), or, where none was (a world that made the
    /// huge PMD by hand), a fresh one — the kernel always has a deposit. Either way the table
    /// is this PMD slot's. `who` names the caller in the panic if the arena is exhausted.
    pub fn withdraw_table_for_split(&self, who: &str) -> TableId {
        let table_id = match self.pgtable_trans_huge_withdraw() {
            Some(t) => t,
            None => {
                let (t, table) = self
                    .w
                    .tables
                    .alloc()
                    .unwrap_or_else(|| panic!("{who}: no table deposited and none free"));
                table.share_count.store(1, crate::sync::Ordering::SeqCst);
                t
            }
        };
        self.w.tables.get(table_id).owner.set((self.mm, self.slot));
        table_id
    }
}
