//! The kernel functions a world runs, as a table of function pointers.
//!
//! A kernel patch changes one function somewhere deep in a path: a line of `zap_pte_range`,
//! another `anon_lock` for `rmap_walk`, a different `tlb_finish_mmu`. Every path of the model
//! reaches the functions a patch would change through this table, held by the [`World`]
//! (`w.kernel`), the way the kernel itself reaches `rwc->rmap_one`, `rwc->anon_lock` or a
//! `vm_operations_struct`: replace one entry and every caller at any depth runs the
//! replacement — munmap, exit, MADV_DONTNEED and hugetlb's unmap all run a replaced
//! `zap_pte_range`, and reclaim's `try_to_unmap` a replaced `flush_tlb_range`.
//!
//! [`Kernel::default`] is the modern kernel. A historical version of one function is an
//! alternative entry in that function's own file (named after the era or the commit it
//! predates); a scenario variant or a user's patch is a table built from the default with one
//! entry changed:
//!
//! ```ignore
//! let mut kernel = Kernel::default();
//! kernel.zap.zap_pte_range = my_zap_pte_range;
//! let w = World::new(WorldConfig::tiny(2), kernel);
//! ```
//!
//! Each group of entries is a struct owned by the file of its path (`ops::zap::ZapOps`, ...),
//! beside the functions that fill it and their historical alternatives. Its `Default` — the
//! modern kernel's entries — is here: it names functions of other path files
//! (`RmapOps::default()` fills `try_to_unmap_one` from `ops::ttu`, `unmap_folio` from
//! `ops::split`), and this file sits on the floor above the paths, so a path file never
//! imports the files whose functions fill its table and the paths import no cycle
//! (`engine/tests/layering.rs`).
//!
//! [`World`]: crate::mm::World

use crate::ops::{
    anon_vma, collapse_huge_page, do_swap_page, exit, fault, fork, gup, huge_memory, hugetlb,
    khugepaged, lock_vma, migrate, mkclean, mlock, mremap, munlock, munlock_pagevec, notifier,
    oom_kill, pgtable, pgtable_generic, pvmw, rmap_walk, split, split_huge_pmd, tlb, ttu, zap,
};

/// The function table of one world. `Kernel::default()` is the modern kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kernel {
    /// `unmap_vmas` and the zap levels under it.
    pub zap: zap::ZapOps,
    /// The mmu_gather and the TLB flush functions.
    pub tlb: tlb::TlbOps,
    /// The rmap walk: its anon_lock, its rmap_one callbacks, page_vma_mapped_walk.
    pub rmap: rmap_walk::RmapOps,
    /// The mmu-notifier calls.
    pub notifier: notifier::NotifierOps,
    /// Page migration's steps.
    pub migrate: migrate::MigrateOps,
    /// The page-fault handlers.
    pub fault: fault::FaultOps,
    /// The mlock and munlock steps.
    pub mlock: mlock::MlockOps,
    /// The anon_vma family's links and frees (fork, unlink, `__put_anon_vma`).
    pub anon_vma: anon_vma::AnonVmaOps,
    /// fork's address-space copy.
    pub fork: fork::ForkOps,
    /// get_user_pages: the loop, the PTE follow's write rule, `faultin_page`.
    pub gup: gup::GupOps,
    /// mremap's page-table move: `move_page_tables`, `move_normal_pmd`, `move_ptes`.
    pub mremap: mremap::MremapOps,
    /// Transparent huge pages at the PMD level (mm/huge_memory.c).
    pub thp: huge_memory::HugeMemoryOps,
    /// How a walker maps and locks a PTE table (`pte_offset_map_lock`, 6.5+ or before).
    pub pgtable: pgtable_generic::PgtableOps,
    /// khugepaged's PTE-table retraction of a file THP.
    pub khugepaged: khugepaged::KhugepagedOps,
    /// `exit_mmap`'s era (its handshake with the OOM reaper).
    pub exit: exit::ExitOps,
    /// The OOM reaper's era (which VMAs `__oom_reap_task_mm` unmaps).
    pub oom: oom_kill::OomKillOps,
}

impl Default for exit::ExitOps {
    /// The modern kernel (6.x: `unmap_vmas` under `mmap_read_lock`, `MMF_OOM_SKIP`,
    /// `free_pgtables` under `mmap_write_lock`); the 4.x orders are [`exit::exit_mmap_v4_17`]
    /// and [`exit::exit_mmap_v4_16`].
    fn default() -> Self {
        exit::ExitOps {
            exit_mmap: exit::exit_mmap_v6,
        }
    }
}

impl Default for oom_kill::OomKillOps {
    /// The modern kernel (5.18+, a213e5cf71cb: the reaper unmaps mlocked VMAs too); the 4.x
    /// reaper is [`oom_kill::OomKillOps::v4_17`].
    fn default() -> Self {
        oom_kill::OomKillOps {
            __oom_reap_task_mm: oom_kill::__oom_reap_task_mm,
        }
    }
}

impl Default for mremap::MremapOps {
    /// The modern kernel: every `NORMAL_PMD` move under the rmap locks (97113eb39fa7, v5.14),
    /// `move_ptes` flushing under the PTLs (eb66ae030829, v4.19); the older entries are
    /// [`mremap::move_page_tables_v5_13`] and [`mremap::move_ptes_v4_18`].
    fn default() -> Self {
        mremap::MremapOps {
            move_page_tables: mremap::move_page_tables,
            move_normal_pmd: mremap::move_normal_pmd,
            move_ptes: mremap::move_ptes,
        }
    }
}

impl Default for pgtable_generic::PgtableOps {
    /// The modern kernel (6.5+: the PMD re-checked under the PTL, 0d940a9b270b).
    fn default() -> Self {
        pgtable_generic::PgtableOps {
            pte_offset_map_lock: pgtable_generic::__pte_offset_map_lock,
        }
    }
}

impl Default for huge_memory::HugeMemoryOps {
    /// The modern kernel (6.x: `change_huge_pmd` invalidates, ced108037c2a); the older
    /// `change_huge_pmd` is [`huge_memory::HugeMemoryOps::v4_10`].
    fn default() -> Self {
        huge_memory::HugeMemoryOps {
            do_huge_pmd_anonymous_page: huge_memory::do_huge_pmd_anonymous_page,
            zap_huge_pmd: huge_memory::zap_huge_pmd,
            split_huge_pmd: huge_memory::__split_huge_pmd,
            change_huge_pmd: huge_memory::change_huge_pmd,
            do_huge_pmd_numa_page: huge_memory::do_huge_pmd_numa_page,
            do_huge_pmd_wp_page: huge_memory::do_huge_pmd_wp_page,
            split_huge_pmd_address: split_huge_pmd::split_huge_pmd_address,
        }
    }
}

impl Default for khugepaged::KhugepagedOps {
    /// The modern kernel (6.5+: retraction without `mmap_lock`, 1d65b771bc08; tables freed
    /// after a grace period).
    fn default() -> Self {
        khugepaged::KhugepagedOps {
            collapse_pte_mapped_thp: khugepaged::collapse_pte_mapped_thp,
            retract_page_tables: khugepaged::retract_page_tables,
            collapse_huge_page: collapse_huge_page::collapse_huge_page,
        }
    }
}

impl Default for gup::GupOps {
    /// The modern kernel (6.0+, 5535be309971: no `FOLL_COW`, `PageAnonExclusive` decides);
    /// the older eras are [`gup::GupOps`]'s constructors.
    fn default() -> Self {
        gup::GupOps {
            __get_user_pages: gup::__get_user_pages,
            follow_page_mask: gup::follow_page_mask,
            can_follow_write_pte: gup::can_follow_write_pte,
            faultin_page: gup::faultin_page,
        }
    }
}

impl Default for zap::ZapOps {
    /// The modern kernel (6.2+: delayed rmaps, 5df397dec7c4); the other generations are
    /// [`zap::ZapOps`]'s constructors.
    fn default() -> Self {
        zap::ZapOps {
            unmap_vmas: zap::unmap_vmas,
            zap_page_range_single: zap::zap_page_range_single,
            unmap_single_vma: zap::unmap_single_vma,
            unmap_page_range: zap::unmap_page_range,
            zap_pmd_range: zap::zap_pmd_range,
            zap_pte_range: zap::zap_pte_range,
            do_zap_pte_range: zap::do_zap_pte_range,
            zap_present_ptes: zap::zap_present_ptes,
            zap_present_folio_ptes: zap::zap_present_folio_ptes,
            zap_nonpresent_ptes: zap::zap_nonpresent_ptes,
            free_pgtables: pgtable::free_pgtables,
        }
    }
}

impl Default for tlb::TlbOps {
    /// The modern kernel.
    fn default() -> Self {
        tlb::TlbOps {
            flush_tlb_range: tlb::flush_tlb_range,
            tlb_gather_mmu: tlb::tlb_gather_mmu,
            tlb_flush_mmu_tlbonly: tlb::tlb_flush_mmu_tlbonly,
            tlb_flush_rmaps: tlb::tlb_flush_rmaps,
            tlb_flush_mmu: tlb::tlb_flush_mmu,
            tlb_finish_mmu: tlb::tlb_finish_mmu,
        }
    }
}

impl Default for rmap_walk::RmapOps {
    /// The modern kernel.
    fn default() -> Self {
        rmap_walk::RmapOps {
            anon_lock: rmap_walk::page_lock_anon_vma_read,
            page_get_anon_vma: rmap_walk::page_get_anon_vma,
            rmap_walk_anon: rmap_walk::rmap_walk_anon,
            rmap_walk_file: rmap_walk::rmap_walk_file,
            page_vma_mapped_walk: pvmw::page_vma_mapped_walk,
            try_to_unmap_one: ttu::try_to_unmap_one,
            try_to_migrate_one: ttu::try_to_migrate_one,
            page_mkclean_one: mkclean::page_mkclean_one,
            unmap_folio: split::unmap_folio,
            invalid_migration_vma: ttu::invalid_migration_vma,
        }
    }
}

impl Default for notifier::NotifierOps {
    /// The modern kernel.
    fn default() -> Self {
        notifier::NotifierOps {
            invalidate_range_start: notifier::invalidate_range_start,
            invalidate_range_end: notifier::invalidate_range_end,
            arch_invalidate_secondary_tlbs: notifier::arch_invalidate_secondary_tlbs,
            invalidate_page: notifier::invalidate_page,
        }
    }
}

impl Default for migrate::MigrateOps {
    /// The modern kernel.
    fn default() -> Self {
        migrate::MigrateOps {
            unmap_and_move: migrate::unmap_and_move,
            __unmap_and_move: migrate::__unmap_and_move,
            move_to_new_page: migrate::move_to_new_page,
            folio_migrate_flags: migrate::folio_migrate_flags,
            remove_migration_pte: migrate::remove_migration_pte,
            unmap_and_move_huge_page: migrate::unmap_and_move_huge_page,
        }
    }
}

impl Default for fault::FaultOps {
    /// The modern kernel.
    fn default() -> Self {
        fault::FaultOps {
            do_user_addr_fault: fault::do_user_addr_fault,
            lock_vma_under_rcu: lock_vma::lock_vma_under_rcu,
            do_anonymous_page: fault::do_anonymous_page,
            do_fault: fault::do_fault,
            do_read_fault: fault::do_read_fault,
            do_shared_fault: fault::do_shared_fault,
            do_cow_fault: fault::do_cow_fault,
            filemap_fault: fault::filemap_fault,
            do_wp_page: fault::do_wp_page,
            wp_page_copy: fault::wp_page_copy,
            migration_entry_wait: fault::migration_entry_wait,
            hugetlb_fault: hugetlb::hugetlb_fault,
            do_swap_page: do_swap_page::do_swap_page,
        }
    }
}

impl Default for mlock::MlockOps {
    /// The modern kernel (5.18+ scheme); the ≤5.17 entries are there for a world whose
    /// `scheme` is [`mlock::MlockScheme::PageMlock`].
    fn default() -> Self {
        mlock::MlockOps {
            scheme: mlock::MlockScheme::default(),
            mlock_folio: mlock::mlock_folio,
            munlock_folio: mlock::munlock_folio,
            mlock_vma_folio: mlock::mlock_vma_folio,
            mlock_vma_page: mlock::mlock_vma_page,
            clear_page_mlock: mlock::clear_page_mlock,
            munlock_vma_pages_range: munlock::munlock_vma_pages_range,
            munlock_vma_page: munlock::munlock_vma_page,
            page_mlock: munlock::page_mlock,
            __munlock_pagevec: munlock_pagevec::__munlock_pagevec,
        }
    }
}

impl Default for anon_vma::AnonVmaOps {
    /// The modern kernel (6.0+: `num_children` / `num_active_vmas`, 2555283eb40d; the child
    /// freed before its root, 624483f3ea82).
    fn default() -> Self {
        anon_vma::AnonVmaOps {
            counters: anon_vma::AnonVmaCounters::ChildrenAndActiveVmas,
            anon_vma_clone: anon_vma::anon_vma_clone,
            anon_vma_fork: anon_vma::anon_vma_fork,
            __put_anon_vma: anon_vma::__put_anon_vma,
            dup_anon_vma: anon_vma::dup_anon_vma,
        }
    }
}

impl Default for fork::ForkOps {
    /// The modern kernel (5.19+: PageAnonExclusive in `copy_present_pte`).
    fn default() -> Self {
        fork::ForkOps {
            dup_mmap: fork::dup_mmap,
            copy_page_range: fork::copy_page_range,
            copy_pte_range: fork::copy_pte_range,
            copy_present_pte: fork::copy_present_pte,
        }
    }
}
