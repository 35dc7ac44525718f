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
//! anon_vma->rwsem,mapping->i_mmap_rwsem   (memory_failure, collect_procs_anon)
//!   ->tasklist_lock
//!     pte map lock
//!
//! hugetlbfs PageHuge() take locks in this order:
//!   hugetlb_fault_mutex (hugetlbfs specific page fault mutex)
//!     vma_lock (hugetlb specific lock for pmd_sharing)
//!       mapping->i_mmap_rwsem (also used for hugetlb pmd sharing)
//!         folio_lock
//! ```
//!
//! Simplifications, written down where they are made:
//!
//! * Classes no modelled path takes are left out: `mmlist_lock`, `private_lock`,
//!   `inode->i_lock`, the wb `list_lock`, `sb_lock`, memcg `move_lock`, and the whole
//!   memory-failure chain (`tasklist_lock` under the anon_vma rwsem and `i_mmap_rwsem`, the PTE
//!   lock under it, in `collect_procs_anon`): the model has no
//!   `memory_failure` (hwpoison) path.
//! * `inode->i_rwsem` keeps its place in the tree although no path takes it yet (truncation and
//!   hole punch: `truncate`, `hugetlbfs_punch_hole` and `fallocate` take `inode_lock` first).
//!   `swap_lock` is the swap device's `si->lock` (`crate::mm::swap`: no clusters, so
//!   `lock_cluster_or_swap_info` is `si->lock`); the swap cache's `i_pages` is a class of its
//!   own below it.
//! * The per-VMA lock (`vma_start_write` in the header) is declared right under `mmap_lock`
//!   and above `invalidate_lock` rather than where the header lists `vma_start_write`: a
//!   fault holds it for read over everything it takes (see [`RMAP_ORDER`]). `swap_lock` also keeps `i_pages` and `lru_lock` below the PTL,
//!   as in the tree. `mapping->invalidate_lock` is taken only for read (`filemap_fault` on a
//!   cache miss); its write side comes with truncation and hole punch.
//! * Two leaves with no place in the tree are declared leaves here: `zone->lock` (the page
//!   allocator, taken under anything and taking nothing) and the secondary MMU's own lock.
//! * RCU read sections are exempt from ordering (they are not locks in the order); lockdep
//!   checks them only as atomic context.
//! * The hugetlb order uses its own classes for the folio lock and `i_mmap_rwsem`, as the
//!   kernel does with `hugetlbfs_i_mmap_rwsem_key`, so the two trees do not contradict each
//!   other.
//! * Historical kernels (the alternative entries of the function table, `crate::kernel`) are
//!   checked against this v6.x order: a path of an era whose order differed (5.15's
//!   `hugetlb_fault_mutex` between `i_mmap_rwsem` and `anon_vma->rwsem`, c0d0381ade79) would
//!   be reported as an inversion.
//!   The model's `hugetlb_fault` is the 6.1+ one in every era.

use super::class::LockClass::{self, *};
use std::sync::OnceLock;

/// The tree above, as (parent, child) edges: the parent may be held when the child is taken.
pub const RMAP_ORDER: &[(LockClass, LockClass)] = &[
    (IRwsem, MmapLock),
    (MmapLock, InvalidateLock),
    (InvalidateLock, PageLock),
    (PageLock, HugetlbfsIMmapRwsem),
    // The per-VMA lock: the header puts `vma_start_write` between hugetlbfs's i_mmap_rwsem and
    // `i_mmap_rwsem`, which is where a writer's down_write/up_write pair sits (before
    // `vma_prepare`'s `i_mmap_lock_write`). But a fault holds `vm_lock` for read across the
    // whole of `handle_mm_fault` (`lock_vma_under_rcu`), taking under it whatever a fault takes
    // — `invalidate_lock` and the folio lock included once file VMAs are handled under it
    // (6.7+) — so lockdep, which orders classes by what is held when, puts `vm_lock` right
    // under `mmap_lock` (held for write around every `vma_start_write`) and above the rest.
    (MmapLock, VmaLock),
    (VmaLock, InvalidateLock),
    (HugetlbfsIMmapRwsem, IMmapRwsem),
    (IMmapRwsem, AnonVmaRwsem),
    (AnonVmaRwsem, PageTableLock),
    (AnonVmaRwsem, Ptl),
    // `mm->page_table_lock or pte_lock` is one level of the tree, but the PMD lock is taken
    // above a PTE table's lock where a page table is removed or replaced while both the PMD
    // entry and the table's contents must hold still: khugepaged's `retract_page_tables` and
    // `collapse_pte_mapped_thp` (mm/khugepaged.c, 6.5+) do `pml = pmd_lock(mm, pmd)`, then
    // `spin_lock_nested(ptl, SINGLE_DEPTH_NESTING)` when `ptl != pml`. Without split PMD locks
    // `pmd_lock` is `&mm->page_table_lock`: this edge. (With them both are split page-table
    // locks of one lockdep class, the model's `Ptl`, nested by subclass.) The model's own
    // paths take page_table_lock only to populate the PMD level (`__pte_alloc`,
    // `huge_pmd_share` without split locks) and never nest a PTE lock under it.
    (PageTableLock, Ptl),
    (Ptl, SwapLock),
    (PageTableLock, SwapLock),
    (SwapLock, IPages),
    (IPages, LruLock),
    // The swap cache's i_pages sits where the header puts "i_pages lock": under `swap_lock`
    // (si->lock: `swap_range_free` → `clear_shadow_from_swap_cache`) and so under the PTL
    // (`do_swap_page`'s `folio_free_swap`), above `lru_lock`.
    (SwapLock, SwapCacheIPages),
    (SwapCacheIPages, LruLock),
];

/// The hugetlbfs order of the mm/rmap.c header (6.1+, with the hugetlb VMA lock), hung under
/// `mmap_lock` (`hugetlb_fault` runs under it). The folio lock is above the PTLs and the
/// anon_vma rwsem, as for any folio.
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
        // Transitive closure (Floyd–Warshall over the kernel classes; computed once).
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
    fn hugetlb_fault_chain_is_in_order() {
        // hugetlb_fault: fault mutex, VMA lock, huge_pmd_share's i_mmap_rwsem and PTL;
        // hugetlb_no_page: the folio lock, the page cache, the PTL.
        let chain = [
            MmapLock,
            HugetlbFaultMutex,
            HugetlbVmaLock,
            HugetlbfsIMmapRwsem,
            HugetlbFolioLock,
            IPages,
        ];
        for (i, &a) in chain.iter().enumerate() {
            for &b in &chain[i + 1..] {
                assert_eq!(relation(a, b), Relation::InOrder, "{a} before {b}");
            }
        }
        for held in [HugetlbVmaLock, HugetlbfsIMmapRwsem, HugetlbFolioLock] {
            assert_eq!(
                relation(held, Ptl),
                Relation::InOrder,
                "{held} before the PTL"
            );
            assert_eq!(relation(held, PageTableLock), Relation::InOrder);
        }
        assert_eq!(
            relation(HugetlbFolioLock, HugetlbVmaLock),
            Relation::Inverted,
            "under a hugetlb folio lock the VMA lock may only be trylocked"
        );
    }

    #[test]
    fn leaves_go_under_anything() {
        assert_eq!(relation(Ptl, ZoneLock), Relation::InOrder);
        assert_eq!(relation(ZoneLock, Ptl), Relation::Inverted);
    }
}
