//! `folio_referenced` (mm/rmap.c; `page_referenced` before 5.18): reclaim's first look at a
//! folio (`shrink_folio_list` → `folio_check_references`) — an rmap walk whose
//! `rwc->anon_lock` is `folio_lock_anon_vma_read`, so it finds an anonymous folio's anon_vma
//! through `folio->mapping` alone, without a pin, as `try_to_unmap` does. It is the walk an
//! anonymous page meets first on its way to reclaim; the model has no anonymous
//! `try_to_unmap` (no swap), so this is the reclaim-side walker of anonymous pages.
//!
//! Simplification: `folio_referenced_one` counts the mappings whose PTE has the accessed bit
//! and does not clear it (`ptep_clear_flush_young_notify`), and reads no `vm_flags`
//! (VM_LOCKED's early stop is not modelled).

use crate::mm::pte::Pte;
use crate::mm::{Pfn, VmaId, World};
use crate::ops::pagemap::LockedPage;
use crate::ops::pvmw::PvmwFlags;
use crate::ops::rmap_walk::{RmapWalkControl, rmap_walk};

/// `folio_referenced_one`: is the folio mapped at `va` of `vma`, with the accessed bit set?
pub fn folio_referenced_one(w: &World, pfn: Pfn, vma: VmaId, va: u64) -> bool {
    (w.kernel.rmap.page_vma_mapped_walk)(w, pfn, vma, va, PvmwFlags::empty())
        .is_some_and(|item| matches!(item.value, Pte::Present { young: true, .. }))
}

/// `folio_referenced(folio, is_locked = 1, ...)`: the caller holds the folio lock
/// (reclaim's `folio_trylock`). Returns how many mappings were referenced.
pub fn folio_referenced(w: &World, page: &LockedPage<'_>) -> usize {
    let pfn = page.pfn();
    if !w.page(pfn).mapped() {
        return 0;
    }
    let mut referenced = 0;
    let mut one = |vma: VmaId, va: u64| {
        if folio_referenced_one(w, pfn, vma, va) {
            referenced += 1;
        }
        true
    };
    let mut rwc = RmapWalkControl::new(&mut one);
    rwc.anon_lock = Some(w.kernel.rmap.anon_lock);
    rmap_walk(w, page, &mut rwc);
    w.trace("folio_referenced", pfn, referenced);
    referenced
}
