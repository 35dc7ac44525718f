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

/// The switches. `Protocol::default()` is the modern kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// `zap_pte_range`'s rmap removal (5df397dec7c4; Ryan Roberts' 2023 RFC).
    pub rmap_removal: RmapRemoval,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            rmap_removal: RmapRemoval::default(),
        }
    }
}
