//! `struct mmu_gather`: what a zap has cleared but not yet flushed and freed.
//!
//! The gather inherits each cleared PTE's page reference and drops it only after a TLB flush
//! that covers the page's former addresses (I3, docs/MODEL.md §3). Pages whose rmap removal
//! is delayed (5df397dec7c4's `DELAY_RMAP` bit in the encoded page pointer) are marked here
//! and handed to `tlb_flush_rmaps` after the flush, under the PTL.

use super::mm_struct::MmId;
use super::page::Pfn;
use super::table::TableId;
use super::vma::VmaId;

/// One gathered page (an "encoded page pointer").
#[derive(Debug, Clone, Copy)]
pub struct GatheredPage {
    /// The page; the gather owns one reference to it.
    pub pfn: Pfn,
    /// Its rmap removal is still pending (`ENCODED_PAGE_BIT_DELAY_RMAP`).
    pub delay_rmap: bool,
    /// The VMA it was mapped in (for `page_remove_rmap`'s mlock accounting).
    pub vma: VmaId,
}

/// An mmu_gather.
#[derive(Debug)]
pub struct MmuGather {
    /// The mm being torn down.
    pub mm: MmId,
    /// `tlb->fullmm`: exit's gather (everything goes).
    pub fullmm: bool,
    /// Gathered pages, in order (the active batch and its predecessors).
    pub pages: Vec<GatheredPage>,
    /// Pages per batch before `__tlb_remove_page` reports full.
    pub batch: usize,
    /// The range still to flush, `[start, end)` in pages (`tlb->start/end`).
    pub range: Option<(u64, u64)>,
    /// `tlb->freed_tables`: a page table was queued since the last flush, so the next flush
    /// must happen even if no PTE was cleared (and, on hardware, must also invalidate the
    /// paging-structure caches: the model's walker has none).
    pub freed_tables: bool,
    /// Page tables queued for freeing after the flush (`tlb_remove_table`).
    pub tables: Vec<TableId>,
    /// `tlb->delayed_rmap`: some gathered page still needs `tlb_flush_rmaps`.
    pub delayed_rmap: bool,
}

impl MmuGather {
    /// An empty gather of `mm` with batches of `batch` pages: what `tlb_gather_mmu` (a
    /// [`crate::ops::tlb::TlbOps`] entry, which also counts `tlb_flush_pending`) hands out.
    /// Public so that a replacement `tlb_gather_mmu` can build one.
    pub fn new(mm: MmId, fullmm: bool, batch: usize) -> Self {
        MmuGather {
            mm,
            fullmm,
            pages: Vec::new(),
            batch,
            range: None,
            freed_tables: false,
            tables: Vec::new(),
            delayed_rmap: false,
        }
    }

    /// `__tlb_adjust_range`: widen the range to flush to cover `[va, va + pages)`.
    pub fn tlb_adjust_range(&mut self, va: u64, pages: u64) {
        let end = va.saturating_add(pages);
        self.range = Some(match self.range {
            None => (va, end),
            Some((s, e)) => (s.min(va), e.max(end)),
        });
    }

    /// `tlb_remove_tlb_entry`: widen the range to flush.
    pub fn tlb_remove_tlb_entry(&mut self, va: u64) {
        self.tlb_adjust_range(va, 1);
    }

    /// `pte_free_tlb` (include/asm-generic/tlb.h): queue the PTE table that mapped from `va`
    /// for freeing after the flush. Like the kernel's macro it widens the range by one page at
    /// the table's address (`tlb_flush_pmd_range(tlb, address, PAGE_SIZE)`) and sets
    /// `freed_tables` (22a61c3c4f13, "asm-generic/tlb: Track freeing of page-table directories
    /// in struct mmu_gather") — it does not widen the flush to the whole mm.
    pub fn pte_free_tlb(&mut self, table: TableId, va: u64) {
        self.tlb_adjust_range(va, 1);
        self.freed_tables = true;
        self.tables.push(table);
    }

    /// `__tlb_reset_range`: nothing left to flush.
    pub fn tlb_reset_range(&mut self) {
        self.range = None;
        self.freed_tables = false;
    }

    /// `__tlb_remove_page`: gather a page (taking over the PTE's reference). Returns true when
    /// the batch is full and the caller must flush (`force_flush`).
    pub fn tlb_remove_page(&mut self, pfn: Pfn, vma: VmaId, delay_rmap: bool) -> bool {
        self.pages.push(GatheredPage {
            pfn,
            delay_rmap,
            vma,
        });
        self.delayed_rmap |= delay_rmap;
        self.pages.len() >= self.batch
    }
}
