//! Lock classes, named as in the kernel.
//!
//! lockdep reasons about classes, not instances: every PTL is one class, every `i_mmap_rwsem`
//! another. "Sleeping lock taken while a spinlock is held" is a property of the kind
//! (I15(b), docs/MODEL.md §3); lockdep takes the kind from the lock primitive that is taken (a
//! `SpinLock` spins whatever its class), which for the kernel's classes agrees with
//! [`LockClass::kind`] and for a [`LockClass::Named`] class is the only source.

use std::fmt;

/// What kind of lock a class is: decides whether taking it may sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// A spinning lock: holding it is atomic context.
    Spin,
    /// A sleeping lock (rw_semaphore, mutex, PG_locked).
    Sleep,
    /// An RCU read-side critical section: atomic context, like a spinlock, for our purposes
    /// (sleeping inside `rcu_read_lock` is a bug on non-preemptible RCU).
    RcuRead,
}

/// A lock class. The first group is the mm lock order of `mm/rmap.c` (see [`super::order`]);
/// the rest are the model's own leaves and classes that tests declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockClass {
    /// `inode->i_rwsem`. Not taken by any modelled path yet: it comes with truncation and hole
    /// punch (`inode_lock` in `truncate`, `hugetlbfs_punch_hole`, `fallocate`).
    IRwsem,
    /// `mm->mmap_lock`.
    MmapLock,
    /// `mapping->invalidate_lock`.
    InvalidateLock,
    /// `hugetlb_fault_mutex_table[hash]` (a mutex; `hugetlb_fault`).
    HugetlbFaultMutex,
    /// The hugetlb per-VMA lock for PMD sharing (`hugetlb_vma_lock_read` in `hugetlb_fault`,
    /// write in `__unmap_hugepage_range_final`, trylocked for write in `try_to_unmap_one` /
    /// `try_to_migrate_one`; 6.1+, 40549ba8f8e0).
    HugetlbVmaLock,
    /// The `i_mmap_rwsem` of a hugetlbfs mapping (`hugetlbfs_i_mmap_rwsem_key`): in the hugetlb
    /// hierarchy it sits *above* the folio lock (docs/MODEL.md §1).
    HugetlbfsIMmapRwsem,
    /// PG_locked of a hugetlb folio.
    HugetlbFolioLock,
    /// PG_locked: `lock_page` / `folio_lock`.
    PageLock,
    /// The per-VMA lock (`vma->vm_lock`, 6.4+, `CONFIG_PER_VMA_LOCK`; not hugetlb's
    /// [`LockClass::HugetlbVmaLock`]): read-locked for a whole fault by `lock_vma_under_rcu`,
    /// write-locked under `mmap_lock` write by `vma_start_write` (`crate::mm::vma_lock`).
    VmaLock,
    /// `mapping->i_mmap_rwsem`.
    IMmapRwsem,
    /// `anon_vma->root->rwsem`.
    AnonVmaRwsem,
    /// `mm->page_table_lock`: populating the PMD level, and the PTL itself without split
    /// locks.
    PageTableLock,
    /// A split page-table lock (`ptlock_ptr(ptdesc)`): a PTE table's (`pte_lockptr`), or a PMD
    /// table's (`pmd_lockptr`, hugetlb's `huge_pte_lockptr`) — the kernel gives them one class.
    Ptl,
    /// The swap device's lock, `si->lock` (`lock_cluster_or_swap_info` on a device without
    /// clusters: `crate::mm::swap`): taken to change a `swap_map` count, under the PTL in
    /// `swap_duplicate` (`try_to_unmap_one`, `copy_nonpresent_pte`), `swap_free`
    /// (`do_swap_page`) and `free_swap_and_cache` (`zap_pte_range`). mm/rmap.c's header
    /// still calls this level `swap_lock`.
    SwapLock,
    /// `mapping->i_pages` xa_lock.
    IPages,
    /// `lruvec->lru_lock`.
    LruLock,
    /// `zone->lock`: the page allocator's free lists.
    ZoneLock,
    /// An RCU read-side critical section.
    Rcu,
    /// The secondary MMU's own lock (a device driver's, e.g. KVM's `mmu_lock`); a leaf.
    SecondaryMmuLock,
    /// The swap cache's `i_pages` xa_lock (`swapper_spaces[type]`, mm/swap_state.c): its own
    /// lockdep class (initialised by `init_swap_address_space`, not by `inode_init_once`).
    /// Taken by `add_to_swap_cache`, `__delete_from_swap_cache`'s callers and the lookups;
    /// under the PTL when `do_swap_page` frees the swap (`folio_free_swap`), under `si->lock`
    /// in `swap_range_free`'s `clear_shadow_from_swap_cache`.
    SwapCacheIPages,
    /// A class with no place in the kernel order: for tests and user scenarios. lockdep learns
    /// the order between such classes from what it sees, as the kernel's lockdep does.
    Named(&'static str),
}

impl LockClass {
    /// The kind of lock the kernel uses for this class. A [`LockClass::Named`] class has no
    /// kernel kind and answers `Sleep`; lockdep asks the lock primitive instead.
    pub fn kind(self) -> LockKind {
        use LockClass::*;
        match self {
            PageTableLock | Ptl | SwapLock | IPages | LruLock | ZoneLock | SecondaryMmuLock
            | SwapCacheIPages => LockKind::Spin,
            Rcu => LockKind::RcuRead,
            _ => LockKind::Sleep,
        }
    }

    /// The kernel's name for the class, as /proc/lock_stat would print it.
    pub fn name(self) -> &'static str {
        use LockClass::*;
        match self {
            IRwsem => "&sb->s_type->i_mutex_key",
            MmapLock => "&mm->mmap_lock",
            InvalidateLock => "&mapping->invalidate_lock",
            HugetlbFaultMutex => "&hugetlb_fault_mutex_table[i]",
            HugetlbVmaLock => "&vma_lock->rw_sema",
            HugetlbfsIMmapRwsem => "&hugetlbfs_i_mmap_rwsem_key",
            HugetlbFolioLock => "PG_locked(hugetlb)",
            PageLock => "PG_locked",
            VmaLock => "&vma->vm_lock",
            IMmapRwsem => "&mapping->i_mmap_rwsem",
            AnonVmaRwsem => "&anon_vma->rwsem",
            PageTableLock => "&mm->page_table_lock",
            Ptl => "ptlock_ptr(ptdesc)",
            SwapLock => "&p->lock",
            IPages => "&mapping->i_pages",
            LruLock => "&lruvec->lru_lock",
            ZoneLock => "&zone->lock",
            Rcu => "rcu_read_lock",
            SecondaryMmuLock => "&kvm->mmu_lock",
            SwapCacheIPages => "&swapper_space->i_pages",
            Named(n) => n,
        }
    }

    /// The class's position in [`LockClass::KERNEL`]; `None` for [`LockClass::Named`].
    #[inline]
    pub fn ordinal(self) -> Option<usize> {
        use LockClass::*;
        Some(match self {
            IRwsem => 0,
            MmapLock => 1,
            InvalidateLock => 2,
            HugetlbFaultMutex => 3,
            HugetlbVmaLock => 4,
            HugetlbfsIMmapRwsem => 5,
            HugetlbFolioLock => 6,
            PageLock => 7,
            VmaLock => 8,
            IMmapRwsem => 9,
            AnonVmaRwsem => 10,
            PageTableLock => 11,
            Ptl => 12,
            SwapLock => 13,
            IPages => 14,
            LruLock => 15,
            ZoneLock => 16,
            Rcu => 17,
            SecondaryMmuLock => 18,
            SwapCacheIPages => 19,
            Named(_) => return None,
        })
    }

    /// Every class of the kernel order, for reports that list classes with no activity.
    pub const KERNEL: &'static [LockClass] = &[
        LockClass::IRwsem,
        LockClass::MmapLock,
        LockClass::InvalidateLock,
        LockClass::HugetlbFaultMutex,
        LockClass::HugetlbVmaLock,
        LockClass::HugetlbfsIMmapRwsem,
        LockClass::HugetlbFolioLock,
        LockClass::PageLock,
        LockClass::VmaLock,
        LockClass::IMmapRwsem,
        LockClass::AnonVmaRwsem,
        LockClass::PageTableLock,
        LockClass::Ptl,
        LockClass::SwapLock,
        LockClass::IPages,
        LockClass::LruLock,
        LockClass::ZoneLock,
        LockClass::Rcu,
        LockClass::SecondaryMmuLock,
        LockClass::SwapCacheIPages,
    ];
}

impl fmt::Display for LockClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the bookkeeping (lockdep, lock_stat) knows about one lock. Here, beside the class, and
/// not in `acquire.rs`, so that lockdep, which `acquire` calls, need not import `acquire`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockId {
    /// The lock's class.
    pub(crate) class: LockClass,
    /// Whether holding it is atomic context. It comes from the lock primitive, not from the
    /// class: a `LockClass::Named` class says nothing about spinning or sleeping, and a
    /// `SpinLock` of a named class must still make its holder atomic.
    pub(crate) kind: LockKind,
    /// The lock's identity (an address).
    pub(crate) instance: usize,
}
