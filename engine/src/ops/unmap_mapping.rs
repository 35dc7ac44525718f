//! `unmap_mapping_range` (mm/memory.c): unmap a range of a file from every mm that maps it —
//! truncation's and hole punching's first step (`truncate_pagecache`,
//! `truncate_pagecache_range`), before the page cache is evicted. It is an rmap walk: it
//! finds the VMAs through `i_mmap` under `i_mmap_rwsem` **read** and zaps each one's range
//! (`unmap_mapping_range_tree` → `unmap_mapping_range_vma` → `zap_page_range_single`), holding
//! no `mmap_lock` and no page lock. It is the walker 8d3c106e19e8's message counts among "rmap-based
//! operations": one that may be inside a PTE table while khugepaged retracts it.
//!
//! Simplification: `details->even_cows` (truncation also removes private COW copies) is not
//! read: every page in the range is zapped, anonymous or not; `zap_details`' folio filter and
//! the single-folio form are not modelled.

use crate::mm::{FileId, World};

/// `unmap_mapping_range(mapping, first_index, nr, even_cows)`, as pages `[first, first + nr)`
/// of `file`.
pub fn unmap_mapping_range(w: &World, file: FileId, first: u64, nr: u64) {
    let imap = w.files.get(file).i_mmap.read();
    w.trace(
        "unmap_mapping_range: i_mmap_lock_read",
        file,
        format_args!("index {first}..{}", first + nr),
    );
    for &vma in &imap.vmas {
        let info = w.vmas.get(vma).info.get();
        // vma_interval_tree_foreach(vma, root, first_index, last_index)
        let vma_first = info.pgoff;
        let vma_last = info.pgoff + (info.end - info.start);
        let (lo, hi) = (first.max(vma_first), (first + nr).min(vma_last));
        if lo >= hi {
            continue;
        }
        let start = info.start + (lo - info.pgoff);
        let end = info.start + (hi - info.pgoff);
        (w.kernel.zap.zap_page_range_single)(w, vma, start, end);
    }
    drop(imap);
}
