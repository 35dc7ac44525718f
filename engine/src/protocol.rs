//! `Protocol`: the switches that select historical kernel behaviour.
//!
//! Each switch names the commit that changed the kernel; the default is the modern kernel.
//! Scenario variants that change a kernel path do it here or by composing the engine's public
//! steps — never by a flag whose only job is to make an oracle fire.

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
    /// The munlock scheme (v5.18: 07ca76067308, a213e5cf71cb).
    pub mlock: MlockScheme,
    /// The fault side of migration (ffa65753c431).
    pub migration_wait: MigrationWait,
    /// mmu-notifier semantics (369ea8242c0f).
    pub notifier: Notifier,
    /// THP split's unmap passes `TTU_SYNC` (732ed55823fc, 5.13); off = the walk may skip an
    /// empty-looking PTE without its PTL.
    pub ttu_sync: bool,
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
    /// `try_to_unmap_one` / `try_to_migrate_one` unshare a shared hugetlb PMD table
    /// (`huge_pmd_unshare`, 017b1660df89); off = they clear the shared entry and stop when the
    /// mapcount reaches zero.
    pub hugetlb_unshare_in_ttu: bool,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            mlock: MlockScheme::default(),
            migration_wait: MigrationWait::default(),
            notifier: Notifier::default(),
            ttu_sync: true,
            newpage_trylock: true,
            newpage_to_pool: true,
            hugetlb_imap_held_across_remove: true,
            hugetlb_unshare_in_ttu: true,
        }
    }
}
