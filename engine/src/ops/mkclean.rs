//! Writeback's side: `folio_mkclean` (write-protect and clean every PTE of a page, under each
//! PTL) and `folio_clear_dirty_for_io` + the write itself — the victim side of 5df397dec7c4.
//!
//! `folio_mkclean` returns at once when the page does not look mapped: it never reaches the PTL
//! that would make it wait for a zapper. That is why rmap removal must wait for the TLB flush:
//!
//! ```text
//! zap (≤6.1)                            writeback
//!   SPIN(ptl); clear dirty PTE
//!   set_page_dirty; page_remove_rmap
//!     (mapcount 0, TLB not flushed)       lock_page
//!                      cpu B stores via    folio_mkclean: !mapped -> 0
//!                      its stale dirty     TestClearPageDirty; write data to disk
//!                      TLB entry ----->  (store lands after the snapshot: page now clean)
//!   TLB flush; UNSPIN(ptl)
//! ```

use crate::mm::pte::Pte;
use crate::mm::{FileId, Pfn, VmaId, World};
use crate::ops::pagemap::{LockedPage, lock_page};
use crate::ops::pvmw::PVMW_SYNC;
use crate::ops::rmap_walk::{RmapWalkControl, rmap_walk};
use crate::ops::{page_alloc, rmap};
use crate::race_window;
use crate::sync::Ordering;

/// `page_mkclean_one`: write-protect and clean this VMA's PTE of the page (PVMW_SYNC).
/// Returns 1 if it did (`ret = 1`), whether or not the PTE was dirty: the kernel counts every
/// PTE it write-protects, and `folio_clear_dirty_for_io` re-dirties the folio on any count —
/// so a store that set the dirty bit after the walk looked is never lost.
pub fn page_mkclean_one(w: &World, pfn: Pfn, vma: VmaId, va: u64) -> usize {
    let mm = w.vmas.get(vma).info.get().mm;
    let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm, va, va + 1);
    let mut cleaned = 0;
    // `if (!pte_dirty(entry) && !pte_write(entry)) continue;`
    if let Some(item) = (w.kernel.rmap.page_vma_mapped_walk)(w, pfn, vma, va, PVMW_SYNC)
        && let Pte::Present { write, dirty, .. } = item.value
        && (write || dirty)
    {
        // entry = ptep_clear_flush(vma, address, pte);
        // entry = pte_wrprotect(entry); entry = pte_mkclean(entry);
        // set_pte_at(vma->vm_mm, address, pte, entry); ret = 1;
        let entry = item.pte.ptep_clear_flush();
        let Pte::Present { young, .. } = entry else {
            unreachable!("only the PTL holder clears a present PTE: {entry}")
        };
        let clean = Pte::Present {
            pfn,
            write: false,
            dirty: false,
            young,
        };
        item.pte.set_pte_at(clean);
        w.trace(
            "page_mkclean_one",
            format_args!("{mm} va {:#x}", va << 12),
            format_args!("{entry} -> {clean}"),
        );
        cleaned = 1;
    }
    (w.kernel.notifier.invalidate_range_end)(w, bracket);
    cleaned
}

/// `folio_mkclean`: returns how many PTEs were write-protected and cleaned (dirty or not).
/// Its `rmap_walk_control` sets no `anon_lock` (the kernel's `folio_mkclean` returns early
/// for a folio without an address_space, so it only walks file pages).
pub fn folio_mkclean(w: &World, page: &LockedPage<'_>) -> usize {
    let pfn = page.pfn();
    if !w.page(pfn).mapped() {
        w.trace("folio_mkclean: not mapped", pfn, "");
        return 0;
    }
    let mut cleaned = 0;
    let mut one = |vma: VmaId, va: u64| {
        cleaned += (w.kernel.rmap.page_mkclean_one)(w, pfn, vma, va);
        true
    };
    let mut rwc = RmapWalkControl::new(&mut one);
    rmap_walk(w, page, &mut rwc);
    cleaned
}

/// Write back one page-cache page if dirty: lock it, `folio_clear_dirty_for_io` (mkclean, then
/// re-dirty if PTEs were dirty, then test-and-clear PG_dirty), and write its data to the disk.
/// Returns whether it wrote.
pub fn writeback(w: &World, file: FileId, index: u64) -> bool {
    let f = w.files.get(file);
    let Some(pfn) = f.i_pages.lock().pages[index as usize] else {
        return false;
    };
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return false;
    }
    let page = lock_page(w, pfn);
    let wrote = writeback_locked(w, file, index, &page);
    page.unlock();
    page_alloc::put_page(w, pfn);
    wrote
}

/// Writeback of a page the caller has locked (reclaim's `pageout`).
pub fn writeback_locked(w: &World, file: FileId, index: u64, locked: &LockedPage<'_>) -> bool {
    let pfn = locked.pfn();
    let f = w.files.get(file);
    let page = w.page(pfn);
    if f.i_pages.lock().pages[index as usize] != Some(pfn) {
        return false;
    }
    // folio_clear_dirty_for_io
    if folio_mkclean(w, locked) > 0 {
        rmap::set_page_dirty(w, pfn);
    }
    if !page.test_clear(crate::mm::pg::DIRTY) {
        return false;
    }
    page.test_set(crate::mm::pg::WRITEBACK);
    race_window!("writeback: PG_dirty cleared, data not yet written");
    // The block written: allocated now if the page is over a hole (delayed allocation).
    page.block
        .store(f.block_alloc(index), std::sync::atomic::Ordering::SeqCst);
    for (c, d) in page.data.iter().enumerate() {
        f.backing[index as usize][c].store(
            d.load(Ordering::SeqCst),
            std::sync::atomic::Ordering::SeqCst,
        );
    }
    page.test_clear(crate::mm::pg::WRITEBACK);
    w.trace(
        "writeback: written",
        pfn,
        format_args!("{file} index {index}"),
    );
    true
}
