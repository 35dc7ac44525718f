//! `Protocol`: the switches that select historical kernel behaviour.
//!
//! Each switch names the commit that changed the kernel; the default is the modern kernel.
//! Scenario variants that change a kernel path do it here or by composing the engine's public
//! steps — never by a flag whose only job is to make an oracle fire.

/// When `zap_pte_range` removes the rmap of a page whose PTE it cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RmapRemoval {
    /// Before v6.2: `page_remove_rmap` right after `ptep_get_and_clear_full`, before the TLB
    /// flush — the page can look unmapped while a stale writable TLB entry still writes to it.
    Immediate,
    /// v6.2 (5df397dec7c4, default): dirty file pages' rmaps are removed by `tlb_flush_rmaps`
    /// after `tlb_flush_mmu_tlbonly`, still under the PTL; others immediately.
    #[default]
    DelayedDirtyFile,
    /// Seed 002 (Ryan Roberts, 2023 RFC): every page's rmap is removed in one batch per PTE
    /// table by `tlb_flush_rmaps`, always before the PTL is released; the TLB flush is forced
    /// first only when a dirty file page requires it.
    BatchAll,
    /// Deliberately wrong: delayed rmaps removed after the PTL is released. What seed 002's
    /// rule ("rmap removal for PTEs cleared under a PTL must happen before that PTL is
    /// released") protects: `TTU_SYNC` walkers then see an empty PTE under the PTL while the
    /// page is still counted as mapped.
    AfterPtlRelease,
}

/// The munlock scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MlockScheme {
    /// ≤ v5.17: PG_mlocked set under the page lock; munlock walks the rmap per page
    /// (`page_mlock`) under `i_mmap_rwsem` / anon_vma read; munmap and exit munlock every
    /// VM_LOCKED VMA first (`munlock_vma_pages_all`).
    PageMlock,
    /// v5.18+ (Hugh Dickins' series, seed 003, default): `mlock_count` kept by rmap add/remove
    /// under the PTL; no rmap walk, no page lock.
    #[default]
    MlockCount,
}

/// How a fault that meets a migration entry waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrationWait {
    /// v5.15 `__migration_entry_wait`: `get_page_unless_zero` under the PTL, drop the PTL, then
    /// `put_and_wait_on_page_locked` — the waiter's reference makes concurrent migrations fail
    /// their refcount freeze.
    TakesRef,
    /// v5.17+ (ffa65753c431, default): enqueue on the page's wait queue while holding the PTL,
    /// then drop it and sleep; no reference.
    #[default]
    OnLocked,
}

/// mmu-notifier semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notifier {
    /// 4.4-era `try_to_unmap_one`: a single-page `invalidate_page` after the PTL is dropped.
    InvalidatePageAfterPtl,
    /// 369ea8242c0f (2017) onwards (default): start/end bracket every change, the secondary TLB
    /// is invalidated under the PTL right after the CPU flush.
    #[default]
    StartEnd,
}

/// The switches. `Protocol::default()` is the modern kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// `zap_pte_range`'s rmap removal (5df397dec7c4, seed 002).
    pub rmap_removal: RmapRemoval,
    /// Split PTLs (`USE_SPLIT_PTE_PTLOCKS`); off = one `mm->page_table_lock` for every table.
    pub split_ptl: bool,
    /// The munlock scheme (seed 003).
    pub mlock: MlockScheme,
    /// The fault side of migration (ffa65753c431).
    pub migration_wait: MigrationWait,
    /// mmu-notifier semantics (369ea8242c0f).
    pub notifier: Notifier,
    /// Migration trylocks its newpage and backs off (seed 004, Hugh Dickins 2015); off = the
    /// pre-2015 `BUG_ON(!trylock_page(newpage))`.
    pub newpage_trylock: bool,
    /// The mmu_gather batch size (pages per batch before a forced flush); small in tests so
    /// that forced flushes happen.
    pub gather_batch: usize,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            rmap_removal: RmapRemoval::default(),
            split_ptl: true,
            mlock: MlockScheme::default(),
            migration_wait: MigrationWait::default(),
            notifier: Notifier::default(),
            newpage_trylock: true,
            gather_batch: 32,
        }
    }
}
