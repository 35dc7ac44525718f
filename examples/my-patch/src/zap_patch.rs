//! A one-line patch deep in `zap_pte_range`: `zap_present_folio_ptes` less one line.

use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmuGather, Pfn, VmaId, World, pte::Pte};
use mmlab_engine::ops::{pgtable_generic::LockedPte, rmap, zap};
use mmlab_scenarios::patch::Patch;

/// "Its rmap removal waits for the flush (5df397dec7c4): why force that flush under the PTL?"
pub fn zap_present_folio_ptes(
    w: &World,
    tlb: &mut MmuGather,
    vma: VmaId,
    pte: &LockedPte<'_>,
    folio: Pfn,
    force: &mut zap::ZapForce,
) {
    let old = pte.ptep_get_and_clear_full(tlb.fullmm);
    tlb.tlb_remove_tlb_entry(pte.va());
    let dirty = zap::folio_is_file(w, folio) && matches!(old, Pte::Present { dirty: true, .. });
    if dirty {
        rmap::set_page_dirty(w, folio); // PATCH: `force.flush = true;` removed
    }
    let delay_rmap = dirty; // tlb_delay_rmap()
    zap::zap_rss_dec(w, pte.mm());
    if !delay_rmap {
        rmap::page_remove_rmap(w, folio, vma);
    }
    if tlb.tlb_remove_page(folio, vma, delay_rmap) {
        force.flush = true;
        force.brk = true;
    }
}

/// The patch, run by `src/bin/patched.rs` and `tests/zap_patch.rs`.
pub const PATCH: Patch = Patch {
    name: "zap-no-dirty-flush",
    summary: "zap_present_folio_ptes: no forced TLB flush for a dirty file PTE",
    apply: |k: &mut Kernel| k.zap.zap_present_folio_ptes = zap_present_folio_ptes,
};
