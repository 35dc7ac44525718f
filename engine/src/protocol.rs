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
    /// `zap_pte_range`'s rmap removal (5df397dec7c4; Ryan Roberts' 2023 RFC).
    pub rmap_removal: RmapRemoval,
    /// mmu-notifier semantics (369ea8242c0f).
    pub notifier: Notifier,
    /// THP split's unmap passes `TTU_SYNC` (732ed55823fc, 5.13); off = the walk may skip an
    /// empty-looking PTE without its PTL.
    pub ttu_sync: bool,
    /// `try_to_unmap_one` / `try_to_migrate_one` unshare a shared hugetlb PMD table
    /// (`huge_pmd_unshare`, 017b1660df89); off = they clear the shared entry and stop when the
    /// mapcount reaches zero.
    pub hugetlb_unshare_in_ttu: bool,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            rmap_removal: RmapRemoval::default(),
            notifier: Notifier::default(),
            ttu_sync: true,
            hugetlb_unshare_in_ttu: true,
        }
    }
}
