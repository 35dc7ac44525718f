//! Swap I/O (mm/page_io.c): `swap_writepage` and `swap_read_folio`, against the model's
//! device contents (`crate::mm::swap::SwapInfo::disk`: one word per slot and CPU).
//!
//! Simplification: every write and read completes before it returns, as on a
//! `SWP_SYNCHRONOUS_IO` device (`swap_writepage_bdev_sync`, `swap_read_folio_bdev_sync`);
//! PG_writeback is set and cleared around the copy, with the folio unlocked as the kernel's
//! writeback path leaves it.

use crate::mm::World;
use crate::mm::page::pg;
use crate::mm::swap::SwpEntry;
use crate::ops::pagemap::LockedPage;
use crate::race_window;
use crate::sync::Ordering;

/// `swap_writepage(page, wbc)` of a locked swap-cache folio whose PG_dirty `pageout` has just
/// cleared (`folio_clear_dirty_for_io`): `folio_start_writeback`, `folio_unlock`, the data
/// written to the slot, `folio_end_writeback`. The folio comes back unlocked, as from
/// `->writepage`.
pub fn swap_writepage(w: &World, locked: LockedPage<'_>, entry: SwpEntry) {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    page.test_set(pg::WRITEBACK);
    locked.unlock();
    race_window!("swap_writepage: folio unlocked under writeback, data not yet written");
    for (c, d) in page.data.iter().enumerate() {
        w.swap.disk(entry, c).store(
            d.load(Ordering::SeqCst),
            std::sync::atomic::Ordering::SeqCst,
        );
    }
    page.test_clear(pg::WRITEBACK);
    w.trace("swap_writepage: written", pfn, format_args!("slot {entry}"));
}

/// `swap_read_folio(folio, synchronous, plug)` of a locked folio for `entry`: the slot's data
/// copied in, `folio_mark_uptodate`, `folio_unlock` (the read's completion unlocks it).
pub fn swap_read_folio(w: &World, locked: LockedPage<'_>, entry: SwpEntry) {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    for (c, d) in page.data.iter().enumerate() {
        d.store(
            w.swap
                .disk(entry, c)
                .load(std::sync::atomic::Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }
    page.flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
    w.trace("swap_read_folio", pfn, format_args!("slot {entry}"));
    locked.unlock();
}
