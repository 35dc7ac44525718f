//! PTE tables: a page of PTE words with its split page-table lock (`ptlock_ptr(ptdesc)`).

use super::arena::Id;
use super::mm_struct::MmId;

use crate::sync::{AtomicU32, AtomicU64, Frozen, LockClass, SpinLock};

pub use super::ids::{TableId, TableKind};

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
    /// (owning mm, PMD slot it was allocated for), fixed while the table is live — mremap's
    /// `move_normal_pmd` may move the table to another slot of the same mm; no path reads the
    /// slot.
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

    /// `ptep_get_lockless`: the PTE at `index` read without its PTL — one atomic load, as
    /// `page_vma_mapped_walk`'s unlocked pre-check and a software secondary MMU read it. The
    /// value may change the moment after: a caller that acts on it re-reads under the PTL.
    pub fn ptep_get_lockless(&self, index: usize) -> super::pte::Pte {
        super::pte::Pte::decode(self.entries[index].load(crate::sync::Ordering::SeqCst))
    }
}
