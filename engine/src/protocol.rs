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
    /// Ryan Roberts' 2023 RFC ("mm/mmu_gather: generalize mmu_gather rmap removal mechanism"):
    /// every page's rmap is removed in one batch per PTE
    /// table by `tlb_flush_rmaps`, always before the PTL is released; the TLB flush is forced
    /// first only when a dirty file page requires it.
    BatchAll,
    /// Deliberately wrong: delayed rmaps removed after the PTL is released. What that RFC's
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
    /// v5.18+ (Hugh Dickins' munlock series: 07ca76067308, a213e5cf71cb, ...; default):
    /// `mlock_count` kept by rmap add/remove under the PTL; no rmap walk, no page lock.
    #[default]
    MlockCount,
}

/// How a fault that meets a migration entry waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrationWait {
    /// The waiter takes a page reference under the PTL (`get_page_unless_zero`), drops the
    /// PTL and sleeps on PG_locked holding it, then `put_page` — the pre-2018 shape
    /// (`wait_on_page_locked`; 9a1ea439b16b narrowed the hold to "until queued" with
    /// `put_and_wait_on_page_locked`, and v5.15 still took the reference). The model keeps the
    /// reference across the whole sleep, the widest form of the window: the waiter's
    /// reference makes concurrent migrations fail their refcount freeze.
    TakesRef,
    /// v5.17+ (ffa65753c431, default): enqueue on the page's wait queue while holding the PTL,
    /// then drop it and sleep; no reference.
    #[default]
    OnLocked,
}

/// The switches. `Protocol::default()` is the modern kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// `zap_pte_range`'s rmap removal (5df397dec7c4; Ryan Roberts' 2023 RFC).
    pub rmap_removal: RmapRemoval,
    /// The munlock scheme (v5.18: 07ca76067308, a213e5cf71cb).
    pub mlock: MlockScheme,
    /// The fault side of migration (ffa65753c431).
    pub migration_wait: MigrationWait,
    /// Migration trylocks its newpage and backs off with -EAGAIN (Hugh Dickins 2015, "mm: page
    /// migration trylock newpage at same level as oldpage"); off = the pre-2015
    /// `BUG_ON(!trylock_page(newpage))` in `move_to_new_page`.
    pub newpage_trylock: bool,
    /// The same rework's other fix ("mm: page migration use the put_new_page whenever
    /// necessary"): an unused newpage always goes back through `put_new_page` (its
    /// pool). Off = the pre-2015 `unmap_and_move`, whose "page was freed under us" success
    /// path released the unused newpage with `putback_lru_page`, outside a custom pool.
    pub newpage_to_pool: bool,
    /// hugetlb migration keeps the `i_mmap_rwsem` it trylocked for write across
    /// `remove_migration_ptes` (b7880cb166ab, 2026); off = it is released after
    /// `try_to_migrate` and `remove_migration_ptes` takes it for read under the folio lock.
    pub hugetlb_imap_held_across_remove: bool,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            rmap_removal: RmapRemoval::default(),
            mlock: MlockScheme::default(),
            migration_wait: MigrationWait::default(),
            newpage_trylock: true,
            newpage_to_pool: true,
            hugetlb_imap_held_across_remove: true,
        }
    }
}
