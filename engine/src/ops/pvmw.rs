//! `page_vma_mapped_walk` for one small page: find the PTE mapping a page in one VMA and return
//! it **with its PTL held** (`true ⇒ ptl held; false ⇒ unlocked`, mm/page_vma_mapped.c).
//!
//! Without `PVMW_SYNC` an empty-looking PTE is skipped after an unlocked atomic read, exactly as
//! the kernel does — the fast path that `TTU_SYNC` exists to close (732ed55823fc):
//!
//! ```text
//! zap_pte_range()                       unmap_folio() without TTU_SYNC
//!   SPIN(ptl)
//!   ptep_get_and_clear_full()
//!                                         PVMW: unlocked read sees none -> skip
//!                                         walk ends; folio_mapped() is still TRUE -> BUG
//!   page_remove_rmap()
//!   UNSPIN(ptl)
//! ```

use crate::mm::pte::Pte;
use crate::mm::{PageTable, Pfn, VmaId, World};
use crate::race_window;
use crate::sync::{AtomicU64, Ordering, SpinLockGuard};

/// `PVMW_SYNC`: always take the PTL before deciding.
pub const PVMW_SYNC: u32 = 1 << 0;
/// `PVMW_MIGRATION`: look for migration entries of the page, not present PTEs.
pub const PVMW_MIGRATION: u32 = 1 << 1;

/// A found mapping: the PTE and the PTL guarding it. Dropping the item releases the PTL.
pub struct PvmwItem<'w> {
    /// The PTE table.
    pub table: &'w PageTable,
    /// The PTE's index in its table.
    pub index: usize,
    /// The PTL, held.
    pub ptl: SpinLockGuard<'w, ()>,
    /// The PTE's value when it was checked under the PTL.
    pub pte: Pte,
}

impl std::fmt::Debug for PvmwItem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PvmwItem({} @ {})", self.pte, self.index)
    }
}

impl PvmwItem<'_> {
    /// The PTE word.
    pub fn entry(&self) -> &AtomicU64 {
        &self.table.entries[self.index]
    }
}

fn check_pte(pte: Pte, pfn: Pfn, flags: u32) -> bool {
    match pte {
        Pte::Present { pfn: p, .. } if flags & PVMW_MIGRATION == 0 => p == pfn,
        Pte::Migration { pfn: p, .. } if flags & PVMW_MIGRATION != 0 => p == pfn,
        _ => false,
    }
}

/// `page_vma_mapped_walk` of `pfn` at `va` in `vma`.
pub fn page_vma_mapped_walk<'w>(
    w: &'w World,
    pfn: Pfn,
    vma: VmaId,
    va: u64,
    flags: u32,
) -> Option<PvmwItem<'w>> {
    let mm = w.mms.get(w.vmas.get(vma).info.get().mm);
    let (slot, index) = w.pte_slot(va);
    // pmd_none: nothing mapped at this level (the table was never populated, or freed).
    let table = w.tables.get(mm.pmd_table(slot)?);
    if flags & PVMW_SYNC == 0 {
        // The unlocked fast path: a racy read, no PTL.
        let v = Pte::decode(table.entries[index].load(Ordering::SeqCst));
        race_window!("page_vma_mapped_walk: unlocked pre-check");
        let skip = if flags & PVMW_MIGRATION != 0 {
            !matches!(v, Pte::Migration { .. })
        } else {
            !v.is_present()
        };
        if skip {
            w.trace(
                "page_vma_mapped_walk: skip (unlocked)",
                format_args!("va {:#x}", va << 12),
                v,
            );
            return None;
        }
    }
    let ptl = w.pte_lockptr(mm, table).lock();
    let pte = Pte::decode(table.entries[index].load(Ordering::SeqCst));
    if check_pte(pte, pfn, flags) {
        Some(PvmwItem {
            table,
            index,
            ptl,
            pte,
        })
    } else {
        w.trace(
            "page_vma_mapped_walk: not mapped (locked)",
            format_args!("va {:#x}", va << 12),
            pte,
        );
        None
    }
}
