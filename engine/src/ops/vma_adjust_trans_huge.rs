//! `vma_adjust_trans_huge` (mm/huge_memory.c): before a VMA's bounds move, split every huge
//! PMD the new bounds would cut, so that no huge PMD ever maps across two VMAs (or past the
//! end of one). `__vma_adjust` calls it first thing at its `again:` label (≤6.0; before
//! `vma_prepare` since 6.3), under `mmap_lock` held for write and before the rmap locks:
//! `__split_huge_pmd` takes only the PMD lock.
//!
//! `split_huge_pmd_if_needed` (the 5.19+ name of the three open-coded tests before it): "If
//! the new address isn't hpage aligned and it could previously contain an hugepage: check if
//! we need to split an huge pmd" — the address is not PMD-aligned and the VMA covers the
//! whole PMD-sized range around it (`range_in_vma`), so a huge PMD could be there.

use crate::mm::{VmaId, World};

/// `split_huge_pmd_if_needed(vma, address)`.
pub fn split_huge_pmd_if_needed(w: &World, vma: VmaId, address: u64) {
    let per = w.cfg.ptes_per_table as u64;
    let info = w.vmas.get(vma).info.get();
    let down = address / per * per;
    let up = down + per;
    if !address.is_multiple_of(per) && info.start <= down && up <= info.end {
        // split_huge_pmd_address(vma, address, false, NULL): `split_huge_pmd`'s unlocked
        // test of the PMD, then `__split_huge_pmd`, which re-checks under the PMD lock.
        (w.kernel.thp.split_huge_pmd)(w, vma, address);
    }
}

/// `vma_adjust_trans_huge(vma, start, end, adjust_next)`: `vma` is about to become
/// `[start, end)`; if `adjust_next` > 0, `next`'s start moves up by that many pages.
pub fn vma_adjust_trans_huge(
    w: &World,
    vma: VmaId,
    start: u64,
    end: u64,
    next: Option<(VmaId, i64)>,
) {
    // Check if we need to split start first.
    split_huge_pmd_if_needed(w, vma, start);
    // Check if we need to split end next.
    split_huge_pmd_if_needed(w, vma, end);
    // If we're also updating the next vma vm_start, check if we need to split it.
    if let Some((next, adjust_next)) = next
        && adjust_next > 0
    {
        let nstart = w.vmas.get(next).info.get().start + adjust_next as u64;
        split_huge_pmd_if_needed(w, next, nstart);
    }
}
