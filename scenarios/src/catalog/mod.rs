//! The catalog: one file per scenario, each a sourced story of one real race (or workload).

pub mod anon_vma_degree;
pub mod delayed_rmap;
pub mod dirty_cow;
pub mod dup_anon_vma_lock;
pub mod exec_stack_migration;
pub mod fork_vma_lock;
pub mod freeze_page_pmd_check;
pub mod gup_cow_fork;
pub mod hugetlb_lock_order;
pub mod hugetlb_pmd_share;
pub mod lock_vma_anon_vma;
pub mod migrate_newpage;
pub mod migrate_vs_fault;
pub mod mixed;
pub mod mlock_page_lock;
pub mod mremap_rmap_locks;
pub mod mremap_tlb_flush;
pub mod munlock_exit;
pub mod munlock_pagevec;
pub mod notifier_range;
pub mod oom_reaper_mlock;
pub mod pmd_unlocked_check;
pub mod punch_hole_fault;
pub mod put_anon_vma_order;
pub mod retract_page_tables;
pub mod swap_skip_cache;
pub mod tlb_batched_pending;
pub mod ttu_sync;

use crate::scenario::AnyScenario;

/// Every scenario, in the order `mmlab list` prints them.
pub fn all() -> Vec<&'static dyn AnyScenario> {
    vec![
        &ttu_sync::TtuSync,
        &delayed_rmap::DelayedRmap,
        &migrate_vs_fault::MigrateVsFault,
        &migrate_newpage::MigrateNewpage,
        &munlock_exit::MunlockExit,
        &mlock_page_lock::MlockPageLock,
        &hugetlb_lock_order::HugetlbLockOrder,
        &hugetlb_pmd_share::HugetlbPmdShare,
        &notifier_range::NotifierRange,
        &put_anon_vma_order::PutAnonVmaOrder,
        &anon_vma_degree::AnonVmaDegree,
        &dirty_cow::DirtyCow,
        &gup_cow_fork::GupCowFork,
        &mremap_rmap_locks::MremapRmapLocks,
        &pmd_unlocked_check::PmdUnlockedCheck,
        &freeze_page_pmd_check::FreezePagePmdCheck,
        &retract_page_tables::RetractPageTables,
        &fork_vma_lock::ForkVmaLock,
        &lock_vma_anon_vma::LockVmaAnonVma,
        &dup_anon_vma_lock::DupAnonVmaLock,
        &punch_hole_fault::PunchHoleFault,
        &mremap_tlb_flush::MremapTlbFlush,
        &exec_stack_migration::ExecStackMigration,
        &swap_skip_cache::SwapSkipCache,
        &tlb_batched_pending::TlbBatchedPending,
        &oom_reaper_mlock::OomReaperMlock,
        &munlock_pagevec::MunlockPagevec,
        &mixed::Mixed,
    ]
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static dyn AnyScenario> {
    all().into_iter().find(|s| s.name() == name)
}
