//! The mm lock order, copied from the header of `mm/rmap.c` (v6.x), and mirrored as data.
//!
//! ```text
//! inode->i_rwsem                (only while writing or truncating; not for reads or faults)
//!   mm->mmap_lock
//!     mapping->invalidate_lock  (in filemap_fault)
//!       page/folio lock (PG_locked, lock_page/folio_lock)        [hugetlbfs differs, below]
//!         hugetlbfs_i_mmap_rwsem_key (in huge_pmd_share, see hugetlbfs below)
//!           vma_start_write
//!             mapping->i_mmap_rwsem
//!               anon_vma->rwsem
//!                 mm->page_table_lock or pte_lock
//!                   swap_lock (in swap_duplicate, swap_info_get)
//!                     mmlist_lock (in mmput, drain_mmlist and others)
//!                     mapping->private_lock (in block_dirty_folio)
//!                       i_pages lock (widely used)
//!                         lruvec->lru_lock (in folio_lruvec_lock_irq)
//!                     inode->i_lock (in set_page_dirty's __mark_inode_dirty)
//!                     bdi.wb->list_lock (in set_page_dirty's __mark_inode_dirty)
//!                       sb_lock (within inode_lock in fs/fs-writeback.c)
//!                       i_pages lock (widely used, in set_page_dirty,
//!                                 in arch-dependent flush_dcache_mmap_lock,
//!                                 within bdi.wb->list_lock in __sync_single_inode)
//!
//! hugetlbfs PageHuge() take locks in this order:
//!   hugetlb_fault_mutex (hugetlbfs specific page fault mutex)
//!     vma_lock (hugetlb specific lock for pmd_sharing)
//!       mapping->i_mmap_rwsem (also used for hugetlb pmd sharing)
//!         folio_lock
//! ```
//!
//! Simplifications, written down where they are made: the classes the model never takes
//! (mmlist_lock, private_lock, i_lock, wb list_lock, sb_lock, memcg move_lock) are left out, and
//! `swap_lock` keeps its place so that i_pages and lru_lock hang below the PTL as in the tree.
//! Two leaves with no place in the tree are declared leaves here: `zone->lock` (the page
//! allocator, taken under anything and taking nothing) and the secondary MMU's own lock. RCU
//! read sections are exempt from ordering (they are not locks in the order); lockdep checks
//! them only as atomic context. The hugetlb order uses its own classes for the folio lock and
//! i_mmap_rwsem, as the kernel does with `hugetlbfs_i_mmap_rwsem_key`, so the two trees do not
//! contradict each other.

use super::class::LockClass::{self, *};
use std::sync::OnceLock;

/// The tree above, as (parent, child) edges: the parent may be held when the child is taken.
pub const RMAP_ORDER: &[(LockClass, LockClass)] = &[
    (IRwsem, MmapLock),
    (MmapLock, InvalidateLock),
    (InvalidateLock, PageLock),
    (PageLock, HugetlbfsIMmapRwsem),
    (HugetlbfsIMmapRwsem, VmaLock),
    (VmaLock, IMmapRwsem),
    (IMmapRwsem, AnonVmaRwsem),
    (AnonVmaRwsem, PageTableLock),
    (AnonVmaRwsem, Ptl),
    // `mm->page_table_lock or pte_lock`: one level, but the kernel does nest them (the PTL of a
    // table is taken under page_table_lock in pte_alloc paths on configs without split PMD
    // locks); the model takes page_table_lock only to populate the level above.
    (PageTableLock, Ptl),
    (Ptl, SwapLock),
    (PageTableLock, SwapLock),
    (SwapLock, IPages),
    (IPages, LruLock),
];

/// The hugetlbfs order (the second tree of the `mm/rmap.c` header, v6.x).
pub const HUGETLB_ORDER: &[(LockClass, LockClass)] = &[
    (MmapLock, HugetlbFaultMutex),
    (HugetlbFaultMutex, HugetlbVmaLock),
    (HugetlbVmaLock, HugetlbfsIMmapRwsem),
    (HugetlbfsIMmapRwsem, HugetlbFolioLock),
    (HugetlbFolioLock, AnonVmaRwsem),
    (HugetlbFolioLock, PageTableLock),
    (HugetlbFolioLock, Ptl),
];

/// Leaves: may be taken under any class; nothing is taken under them.
pub const LEAVES: &[LockClass] = &[ZoneLock, SecondaryMmuLock];

/// How two classes stand in the declared order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `held` is above `new`: taking `new` while holding `held` is the kernel's order.
    InOrder,
    /// `new` is above `held`: taking `new` now is an inversion.
    Inverted,
    /// The declared order says nothing about this pair; lockdep learns it from what it sees.
    Unordered,
}

fn index(c: LockClass) -> Option<usize> {
    c.ordinal()
}

fn matrix() -> &'static Vec<Vec<bool>> {
    static ABOVE: OnceLock<Vec<Vec<bool>>> = OnceLock::new();
    ABOVE.get_or_init(|| {
        let n = LockClass::KERNEL.len();
        let mut above = vec![vec![false; n]; n];
        for &(p, c) in RMAP_ORDER.iter().chain(HUGETLB_ORDER) {
            if let (Some(p), Some(c)) = (index(p), index(c)) {
                above[p][c] = true;
            }
        }
        // Transitive closure (Floyd–Warshall on a 19-node graph; computed once).
        for k in 0..n {
            let below_k = above[k].clone();
            for row in above.iter_mut().filter(|row| row[k]) {
                for (cell, &b) in row.iter_mut().zip(&below_k) {
                    *cell |= b;
                }
            }
        }
        above
    })
}

/// Is `a` above `b` in the declared order (transitively)?
pub fn above(a: LockClass, b: LockClass) -> bool {
    match (index(a), index(b)) {
        (Some(a), Some(b)) => matrix()[a][b],
        _ => false,
    }
}

/// How taking `new` while holding `held` stands in the declared order.
pub fn relation(held: LockClass, new: LockClass) -> Relation {
    if LEAVES.contains(&new) && !LEAVES.contains(&held) {
        return Relation::InOrder;
    }
    if LEAVES.contains(&held) {
        return Relation::Inverted;
    }
    if above(held, new) {
        Relation::InOrder
    } else if above(new, held) {
        Relation::Inverted
    } else {
        Relation::Unordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_chain_is_in_order() {
        let chain = [
            MmapLock,
            PageLock,
            IMmapRwsem,
            AnonVmaRwsem,
            Ptl,
            IPages,
            LruLock,
        ];
        for (i, &a) in chain.iter().enumerate() {
            for &b in &chain[i + 1..] {
                assert_eq!(relation(a, b), Relation::InOrder, "{a} before {b}");
                assert_eq!(relation(b, a), Relation::Inverted, "{b} before {a}");
            }
        }
    }

    #[test]
    fn hugetlb_imap_is_above_its_folio_lock() {
        assert_eq!(
            relation(HugetlbfsIMmapRwsem, HugetlbFolioLock),
            Relation::InOrder
        );
        assert_eq!(
            relation(HugetlbFolioLock, HugetlbfsIMmapRwsem),
            Relation::Inverted
        );
    }

    #[test]
    fn leaves_go_under_anything() {
        assert_eq!(relation(Ptl, ZoneLock), Relation::InOrder);
        assert_eq!(relation(ZoneLock, Ptl), Relation::Inverted);
    }
}
