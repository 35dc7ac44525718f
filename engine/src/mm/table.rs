//! PTE tables: a page of PTE words with its split page-table lock (`ptlock_ptr(ptdesc)`).

use super::arena::{Id, Kind};
use super::mm_struct::MmId;
use super::pte::Pte;
use crate::sync::{AtomicU32, AtomicU64, Frozen, LockClass, Ordering, SpinLock};

/// Marker for table ids.
#[derive(Debug)]
pub enum TableKind {}
impl Kind for TableKind {
    const NAME: &'static str = "pte-table";
}
/// A PTE table id.
pub type TableId = Id<TableKind>;

/// One PTE table.
#[derive(Debug)]
pub struct PageTable {
    /// The split PTL. With split PTE locks off (`WorldConfig::ptlocks`), `mm->page_table_lock` is used instead
    /// (see `World::pte_lockptr`) and this one is never taken.
    pub ptl: SpinLock<()>,
    /// The PTE words (see [`super::pte::Pte`]).
    /// Protected by: the PTL for every change; read without it by PVMW's pre-check and by
    /// the hardware walker.
    pub entries: Vec<AtomicU64>,
    /// (owning mm, PMD slot), fixed while the table is live.
    pub owner: Frozen<(MmId, usize)>,
    /// `ptdesc->pt_share_count`: how many mms' PMD slots point at this table (hugetlb PMD
    /// sharing, `huge_pmd_share`); 1 for an ordinary table.
    /// Protected by: `i_mmap_rwsem` of the hugetlb file (read to share, write to unshare).
    pub share_count: AtomicU32,
}

impl PageTable {
    pub(crate) fn new(ptes: usize) -> Self {
        PageTable {
            ptl: SpinLock::new(LockClass::Ptl, ()),
            entries: (0..ptes).map(|_| AtomicU64::new(0)).collect(),
            owner: Frozen::new((Id::new(0, 0), 0)),
            share_count: AtomicU32::new(1),
        }
    }

    /// `ptep_get_lockless`: PTE `i` now, without the PTL — a racy snapshot, as the kernel's
    /// lockless readers take one (GUP-fast, `page_vma_mapped_walk`'s pre-check). For those
    /// readers and for the oracles; a path that acts on a PTE takes its PTL and reads it
    /// through `LockedPte`.
    pub fn ptep_get_lockless(&self, i: usize) -> Pte {
        Pte::decode(self.entries[i].load(Ordering::SeqCst))
    }
}
