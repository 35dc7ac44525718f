//! khugepaged's `enum scan_result` (mm/khugepaged.c): what a scan, a collapse or a
//! retraction did — shared by the file retraction (`ops::khugepaged`) and the anonymous
//! collapse (`ops::collapse_huge_page`).

/// What a scan, collapse or retraction did (the kernel's `enum scan_result`, as far as the
/// model goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanResult {
    /// `SCAN_SUCCEED`: the table was removed.
    Succeed,
    /// `SCAN_VMA_CHECK` (and, 6.1+, the anon_vma exclusion): not a file VMA covering the
    /// whole table, or a private mapping that was written to.
    VmaCheck,
    /// `SCAN_PAGE_NULL`: the page cache does not hold the whole range.
    PageNull,
    /// `SCAN_PMD_NULL` / `SCAN_PMD_NONE`: no PTE table there (nothing to retract).
    PmdNone,
    /// `SCAN_FAIL`: a PTE maps something other than the huge page's subpage (an anonymous
    /// COW copy, a uprobe's page) or is not present: abort.
    Fail,
    /// `mmap_write_trylock` failed (≤6.4 `retract_page_tables`): left for later.
    Busy,
    /// `SCAN_PMD_MAPPED`: the range is already mapped by a huge PMD (anonymous collapse).
    PmdMapped,
    /// `SCAN_EXCEED_NONE_PTE`: more none PTEs than `max_ptes_none`.
    ExceedNonePte,
    /// `SCAN_PTE_NON_PRESENT` (and, in the model, every swap or migration entry).
    PteNonPresent,
    /// `SCAN_PAGE_COUNT`: a page with a reference beyond its mappings (a GUP pin).
    PageCount,
    /// `SCAN_PAGE_LRU`: a page not on the LRU.
    PageLru,
    /// `SCAN_PAGE_LOCK`: a page locked by someone else.
    PageLock,
    /// `SCAN_DEL_PAGE_LRU`: isolating a page from the LRU failed.
    DelPageLru,
    /// `SCAN_PAGE_RO`: no writable PTE in the range.
    PageRo,
    /// `SCAN_LACK_REFERENCED_PAGE`: no young PTE in the range.
    LackReferencedPage,
    /// `SCAN_ALLOC_HUGE_PAGE_FAIL`: no THP to collapse into.
    AllocHugePageFail,
}
