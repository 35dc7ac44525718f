//! Truncation and hole punching (mm/truncate.c, 5.15–6.6; the file system's side as ext2's
//! `ext2_setsize` after 70f3bad8c315 "ext2: Convert to using invalidate_lock" and ext4's
//! `ext4_punch_hole` after d4f5258eae7b "ext4: Convert to use mapping->invalidate_lock",
//! both v5.15).
//!
//! Both evict a range of the page cache and then free the blocks behind it, holding the
//! file's `invalidate_lock` **exclusive** across the two, so that no fault, read or readahead
//! — which take it shared to add a page (`filemap_fault`, `filemap_create_folio`,
//! `page_cache_ra_unbounded`, 730633f0b7f9 "mm: Protect operations adding pages to page cache
//! with invalidate_lock", v5.15) — can read a block between the eviction and the freeing and
//! leave a page holding the freed block's data (I23):
//!
//! * [`ftruncate`] (`do_truncate` → `notify_change` → `ext2_setattr` → `ext2_setsize`):
//!   `filemap_invalidate_lock`; [`truncate_setsize`] — `i_size_write`, then [`truncate_pagecache`]:
//!   `unmap_mapping_range` of everything from the new end, [`truncate_inode_pages_range`],
//!   `unmap_mapping_range` again ("after this first call, and before truncate_inode_pages
//!   finishes, it is possible for private pages to be COWed, which remain after
//!   truncate_inode_pages finishes, hence the second unmap_mapping_range call must be made
//!   for correctness"); then `__ext2_truncate_blocks` frees the blocks beyond the end;
//!   `filemap_invalidate_unlock`.
//! * [`punch_hole`] (`ext4_punch_hole`): `invalidate_lock` write; [`truncate_pagecache_range`]
//!   — one `unmap_mapping_range` (without `even_cows`: "hole-punching should not remove
//!   private COWed pages from the hole"), then [`truncate_inode_pages_range`]; then
//!   `ext4_ext_remove_space` frees the blocks; unlock. `i_size` does not change.
//!
//! [`truncate_inode_pages_range`] removes each cached page with the page locked: look it up
//! with a reference ([`find_get_entry`]: a folio whose refcount is frozen — migration or
//! reclaim moving it under `i_pages` — is looked up again, never skipped), lock it, check it
//! is still this file's page at this index, `truncate_inode_folio` → `truncate_cleanup_folio` (unmap it if it
//! is still mapped — `unmap_mapping_folio` — and cancel its dirty bit: the data of a
//! truncated page is discarded) → `filemap_remove_folio` (`__filemap_remove_folio` under the
//! `i_pages` lock: the slot emptied, `->mapping` cleared; then the cache's reference put).
//! Writeback runs under the page lock in the model (`writeback_locked`), so the page lock is
//! also `folio_wait_writeback`.
//!
//! The fault side: `filemap_fault` reads `i_size` before the lookup and again with the page
//! locked (`VM_FAULT_SIGBUS` beyond it), so a fault racing a truncation either maps a page the
//! truncation then unmaps under that page's lock, or gets SIGBUS (ops/fault.rs).
//!
//! Simplifications, each said where it is made: `i_rwsem` (`inode_lock`, which the kernel
//! holds around both operations and `write(2)`) is not modelled — truncations and punches of
//! one file are serialised here by `invalidate_lock` write, which both hold across `i_size`'s
//! update too; one page is one block (no partial pages: `truncate_inode_partial_folio` and
//! the zeroing of a partial block never arise, the model's sizes and ranges are in pages);
//! one pass over the range with a blocking page lock (the kernel's first pass,
//! `find_lock_entries`, trylocks and skips busy folios, the second waits: the second's form;
//! the kernel repeats that second pass from the start until a lookup finds nothing — "restart
//! to make sure all gone" — which the model's one pass does not need: its lookup returns the
//! folio the slot holds once pinned, and the model's one page-cache filler, the fault, adds
//! no page while `invalidate_lock` is held, from 730633f0b7f9 on);
//! no shadow entries, no `->invalidate_folio` (no buffers), no THP in the page cache is
//! split (the model's file THPs, khugepaged's, are not truncated by any scenario);
//! `unmap_mapping_range`'s `even_cows` is not read (ops/unmap_mapping.rs).

use crate::mm::page::pg;
use crate::mm::{FileId, Mapping, Pfn, World};
use crate::ops::page_alloc;
use crate::ops::pagemap::{LockedPage, lock_page};
use crate::ops::unmap_mapping::unmap_mapping_range;
use crate::race_window;

/// `ftruncate(fd, new_size)` on a regular file, `new_size` in pages (at most the file's
/// capacity): `ext2_setsize` — `filemap_invalidate_lock`, [`truncate_setsize`],
/// `__ext2_truncate_blocks` (the blocks at and beyond the new end freed),
/// `filemap_invalidate_unlock`.
pub fn ftruncate(w: &World, file: FileId, new_size: u64) {
    let f = w.files.get(file);
    let new_size = new_size.min(f.nr_pages() as u64);
    let lock = f.invalidate_lock.write();
    w.trace(
        "ext2_setsize: filemap_invalidate_lock",
        file,
        format_args!("size {} -> {new_size}", f.i_size_read()),
    );
    let old_size = truncate_setsize(w, file, new_size);
    if new_size < old_size {
        race_window!("ext2_setsize: page cache truncated, blocks not yet freed");
        // __ext2_truncate_blocks
        for index in new_size..old_size {
            f.block_free(index);
        }
        w.forget_file_stores(file, new_size, old_size);
        w.trace(
            "__ext2_truncate_blocks: blocks freed",
            file,
            format_args!("index {new_size}..{old_size}"),
        );
    }
    drop(lock);
}

/// `truncate_setsize(inode, newsize)`: `i_size_write`, then [`truncate_pagecache`] when
/// shrinking (growing a page-aligned size needs nothing: `pagecache_isize_extended` acts on a
/// partial last page only). Returns the old size. The caller holds `invalidate_lock` write.
pub fn truncate_setsize(w: &World, file: FileId, new_size: u64) -> u64 {
    let f = w.files.get(file);
    let old_size = f.i_size.swap(new_size, std::sync::atomic::Ordering::SeqCst);
    if new_size < old_size {
        f.truncated.store(true, std::sync::atomic::Ordering::SeqCst);
        truncate_pagecache(w, file, new_size);
    }
    old_size
}

/// `truncate_pagecache(inode, newsize)`: unmap every mapping of the file from the new end,
/// evict the cache from there, unmap again (the COWs made in between).
pub fn truncate_pagecache(w: &World, file: FileId, new_size: u64) {
    let nr = w.files.get(file).nr_pages() as u64 - new_size;
    // unmap_mapping_range(mapping, holebegin, 0, 1): to the end of the file.
    unmap_mapping_range(w, file, new_size, nr);
    truncate_inode_pages_range(w, file, new_size, nr);
    unmap_mapping_range(w, file, new_size, nr);
}

/// `truncate_pagecache_range(inode, lstart, lend)`, pages `[first, first + nr)`: one
/// `unmap_mapping_range` (no `even_cows`), then [`truncate_inode_pages_range`].
pub fn truncate_pagecache_range(w: &World, file: FileId, first: u64, nr: u64) {
    unmap_mapping_range(w, file, first, nr);
    truncate_inode_pages_range(w, file, first, nr);
}

/// `fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, first, nr)` in pages:
/// `ext4_punch_hole` — `filemap_invalidate_lock`, [`truncate_pagecache_range`],
/// `ext4_ext_remove_space` (the blocks freed), `filemap_invalidate_unlock`. The part of the
/// range beyond `i_size` is left alone, as ext4 clamps it.
pub fn punch_hole(w: &World, file: FileId, first: u64, nr: u64) {
    let f = w.files.get(file);
    let lock = f.invalidate_lock.write();
    let end = (first + nr).min(f.i_size_read());
    w.trace(
        "ext4_punch_hole: filemap_invalidate_lock",
        file,
        format_args!("index {first}..{end}"),
    );
    if first < end {
        f.truncated.store(true, std::sync::atomic::Ordering::SeqCst);
        truncate_pagecache_range(w, file, first, end - first);
        race_window!("ext4_punch_hole: page cache truncated, blocks not yet freed");
        for index in first..end {
            f.block_free(index);
        }
        w.forget_file_stores(file, first, end);
        w.trace(
            "ext4_ext_remove_space: blocks freed",
            file,
            format_args!("index {first}..{end}"),
        );
    }
    drop(lock);
}

/// `truncate_inode_pages_range(mapping, lstart, lend)`, pages `[first, first + nr)`: every
/// cached page of the range, locked, removed by [`truncate_inode_folio`].
pub fn truncate_inode_pages_range(w: &World, file: FileId, first: u64, nr: u64) {
    let f = w.files.get(file);
    let end = (first + nr).min(f.nr_pages() as u64);
    for index in first..end {
        // find_get_entries: the folio at `index`, with a reference.
        let Some(pfn) = find_get_entry(w, file, index) else {
            continue;
        };
        let page = lock_page(w, pfn);
        // "Is the folio still ours?" (the kernel's `truncate_inode_folio`: `if
        // (folio->mapping != mapping) return -EIO`): with our reference held no migration or
        // reclaim can take it, so only a truncation (serialised by `invalidate_lock`) could.
        let still = f.i_pages.lock().pages[index as usize] == Some(pfn)
            && w.page(pfn).mapping() == Mapping::File(file);
        if still {
            truncate_inode_folio(w, file, index, &page);
        }
        page.unlock();
        page_alloc::put_page(w, pfn);
    }
}

/// `find_get_entry(xas, max, XA_PRESENT)` (mm/filemap.c) for one index: the folio the page
/// cache holds at `index`, with a reference, or `None` for an empty slot. A folio whose
/// reference cannot be taken (`folio_try_get` fails: its refcount is frozen at 0) is not
/// skipped: the lookup starts again (`goto reset; ... xas_reset(xas); goto retry;`, in every
/// era with the XArray — `page_cache_get_speculative` before the folio conversion) until the
/// slot holds a folio it can pin or nothing. A frozen refcount is a folio changing hands under
/// the `i_pages` lock: migration's `folio_migrate_mapping` freezes the old folio and stores
/// the new one in the slot before it unfreezes, and reclaim's `__remove_mapping` freezes and
/// empties the slot. The lookup that gave up on the frozen folio left the new one — migrated
/// data — in a range the hole punch then freed the blocks of: a clean cached page holding
/// data the disk no longer had (I4 in `mixed`, docs/MODEL.md §15).
pub fn find_get_entry(w: &World, file: FileId, index: u64) -> Option<Pfn> {
    let f = w.files.get(file);
    let mut traced = false;
    loop {
        let pfn = f.i_pages.lock().pages[index as usize]?;
        if page_alloc::get_page_unless_zero(w, pfn) {
            // `if (unlikely(folio != xas_reload(xas))) { folio_put(folio); goto reset; }`:
            // the folio was replaced between the load and the reference (a migration that
            // stored its new folio and unfroze the old one, which then still had a
            // reference to take). Pinned and still in the slot, it stays there: migration
            // and reclaim cannot freeze a folio we hold a reference on.
            if f.i_pages.lock().pages[index as usize] == Some(pfn) {
                return Some(pfn);
            }
            page_alloc::put_page(w, pfn);
        } else if !traced {
            w.trace(
                "find_get_entry: folio_try_get failed, xas_reset",
                pfn,
                format_args!("{file} index {index}"),
            );
            traced = true;
        }
        crate::sync::yield_now();
    }
}

/// `truncate_inode_folio(mapping, folio)`: [`truncate_cleanup_folio`], then
/// [`filemap_remove_folio`]. The folio is locked and in the cache at `index`.
pub fn truncate_inode_folio(w: &World, file: FileId, index: u64, page: &LockedPage<'_>) {
    truncate_cleanup_folio(w, file, index, page);
    filemap_remove_folio(w, file, index, page);
}

/// `truncate_cleanup_folio`: a folio still mapped (a fault mapped it after the first
/// `unmap_mapping_range`; no new mapping can appear while it is locked: faults map a
/// page-cache page with it locked) is unmapped now (`unmap_mapping_folio`); its dirty bit is
/// cancelled (`folio_cancel_dirty`: the truncated data is not written back).
pub fn truncate_cleanup_folio(w: &World, file: FileId, index: u64, page: &LockedPage<'_>) {
    if w.page(page.pfn()).mapped() {
        w.trace(
            "truncate_cleanup_folio: unmap_mapping_folio",
            page.pfn(),
            format_args!("{file} index {index}"),
        );
        unmap_mapping_range(w, file, index, 1);
    }
    w.page(page.pfn()).test_clear(pg::DIRTY);
}

/// `filemap_remove_folio`: `__filemap_remove_folio` under the `i_pages` lock (the slot
/// emptied, `folio->mapping = NULL`), then `filemap_free_folio`: the cache's reference put.
pub fn filemap_remove_folio(w: &World, file: FileId, index: u64, page: &LockedPage<'_>) {
    let pfn = page.pfn();
    let mut cache = w.files.get(file).i_pages.lock();
    cache.pages[index as usize] = None;
    w.page(pfn).mapping.store(0, crate::sync::Ordering::SeqCst);
    drop(cache);
    w.trace(
        "filemap_remove_folio",
        pfn,
        format_args!("{file} index {index}"),
    );
    page_alloc::put_page(w, pfn);
}
