//! `struct page`: flags, mapcount, refcount, mapping, index, mlock_count — and the data.
//!
//! The counters and flags are atomics because the kernel reads them without locks
//! (`page_mapped()` in `folio_mkclean`, the PVMW pre-check, `page_ref_freeze`) and loom must
//! see those reads interleave. The page's data is one word per simulated CPU, so that a store
//! by CPU c can be checked later: the last value c stored to a page must be in the page, or in
//! the file it was written back to (the lost-store and lost-dirty-data oracles).

use super::arena::Id;
use super::ids::{AnonVmaId, FileId};
use crate::sync::page_lock::{PG_LOCKED, PG_WAITERS};
use crate::sync::{
    AtomicI32, AtomicU32, AtomicU64, Frozen, LockClass, Ordering, PageLock, observer,
};

pub use super::ids::{PageKind, Pfn};

/// Page flag bits (`enum pageflags`). PG_locked and PG_waiters belong to [`PageLock`].
pub mod pg {
    pub use crate::sync::page_lock::{PG_LOCKED as LOCKED, PG_WAITERS as WAITERS};
    /// PG_dirty: the page's data is newer than its backing store.
    pub const DIRTY: u32 = 1 << 2;
    /// PG_lru: on an LRU list (clearing it is the isolation token).
    pub const LRU: u32 = 1 << 3;
    /// PG_mlocked.
    pub const MLOCKED: u32 = 1 << 4;
    /// PG_unevictable.
    pub const UNEVICTABLE: u32 = 1 << 5;
    /// Anonymous (the kernel derives it from `mapping`'s low bit; kept as a flag for printing).
    pub const ANON: u32 = 1 << 6;
    /// PG_swapbacked.
    pub const SWAPBACKED: u32 = 1 << 7;
    /// PG_writeback.
    pub const WRITEBACK: u32 = 1 << 8;
    /// PG_uptodate.
    pub const UPTODATE: u32 = 1 << 9;
    /// A hugetlb folio (PageHuge): its lock is of class `HugetlbFolioLock`.
    pub const HUGETLB: u32 = 1 << 10;
    /// PG_anon_exclusive (5.19+, 6c287605fd56 "mm: remember exclusively mapped anonymous
    /// pages with PG_anon_exclusive"): this anonymous page is mapped by exactly one process,
    /// which may reuse it on a write fault and pin it; fork clears it (or copies a pinned page).
    pub const ANON_EXCLUSIVE: u32 = 1 << 11;
    /// PG_swapcache (`folio_test_swapcache`): the folio is in the swap cache, at the slot
    /// its [`super::Page::swap`] names. Set and cleared with the folio locked.
    pub const SWAPCACHE: u32 = 1 << 12;
    /// PG_referenced: reclaim saw the folio's PTEs referenced once
    /// (`folio_check_references`); a second look that finds them referenced again activates
    /// it. (A high bit: the flags other paths add take the low ones.)
    pub const REFERENCED: u32 = 1 << 20;
    /// PG_active: on an active LRU list (`folio_lru_list`).
    pub const ACTIVE: u32 = 1 << 21;
}

/// `GUP_PIN_COUNTING_BIAS` (include/linux/mm.h, 3faa52c03f44 "mm/gup: track FOLL_PIN pages"):
/// a FOLL_PIN pin adds this much to a small page's refcount, so that
/// [`Page::maybe_dma_pinned`] can tell pins from ordinary references (with false positives,
/// as the kernel's).
pub const GUP_PIN_COUNTING_BIAS: i32 = 1024;

/// What `page->mapping` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// Nothing (free, or truncated).
    None,
    /// An anon_vma (`PAGE_MAPPING_ANON`).
    Anon(AnonVmaId),
    /// A file's address_space.
    File(FileId),
}

impl Mapping {
    const TAG_ANON: u64 = 1 << 62;
    const TAG_FILE: u64 = 2 << 62;

    /// Encode for the atomic `mapping` word.
    pub fn encode(self) -> u64 {
        match self {
            Mapping::None => 0,
            Mapping::Anon(a) => Self::TAG_ANON | a.pack(),
            Mapping::File(f) => Self::TAG_FILE | f.pack(),
        }
    }

    /// Decode the atomic `mapping` word.
    pub fn decode(v: u64) -> Self {
        let id = v & !(3 << 62);
        match v >> 62 {
            1 => Mapping::Anon(Id::unpack(id)),
            2 => Mapping::File(Id::unpack(id)),
            _ => Mapping::None,
        }
    }
}

/// Where a frame stands in a compound page (`PageHead`, `PageTail`, `compound_head`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compound {
    /// An order-0 page.
    #[default]
    Single,
    /// The head of a THP of `nr` frames (`folio_nr_pages`), itself and the `nr - 1` frames
    /// after it in the arena.
    Head {
        /// Frames in the compound page (the model's `HPAGE_PMD_NR`: `ptes_per_table`).
        nr: u32,
    },
    /// A tail frame; `head` is the arena index of its head (`compound_head`).
    Tail {
        /// The head frame's index.
        head: u32,
    },
}

/// One page frame.
#[derive(Debug)]
pub struct Page {
    /// `page->flags`. PG_locked is the page lock; the others as in [`pg`].
    pub flags: AtomicU32,
    /// `page->_mapcount`, zero-based here: the number of PTE mappings (plus pending delayed
    /// rmaps). Changed under the PTL of the mapping being added or removed.
    pub mapcount: AtomicI32,
    /// `page->_refcount`: every present PTE holds one, the page cache one, isolation one.
    pub refcount: AtomicI32,
    /// `page->mapping`, encoded ([`Mapping`]). Set when the page is added to the page cache
    /// (under `i_pages`) or first mapped anonymously (under the PTL).
    pub mapping: AtomicU64,
    /// `page->index`: file offset in pages, or the anon linear index.
    pub index: AtomicU64,
    /// `page->mlock_count` (v5.18+).
    /// Protected by: `lru_lock`; only meaningful while PG_unevictable and PG_lru are set.
    pub mlock_count: AtomicU32,
    /// The data: one word per simulated CPU (the last value that CPU stored).
    pub data: Vec<AtomicU64>,
    /// Head, tail or order-0 (`PG_head`, `page->compound_head`).
    /// Protected by: set while the frame is unreachable (`prep_compound_page` in the
    /// allocator) and cleared when it is freed; read freely.
    pub compound: Frozen<Compound>,
    /// The head's `_entire_mapcount` (`compound_mapcount` before 6.3): how many PMDs map the
    /// whole THP, zero-based here as `mapcount` is. Unused on tails and order-0 pages.
    /// Protected by: the PMD lock of the mapping added or removed; read racily
    /// (`World::page_mapcount`, the quiescent checks).
    pub entire_mapcount: AtomicI32,
    /// The lab's record of which block of its file a page-cache page's data came from (the
    /// block it was read from, or the block writeback allocated for it), 0 for none (a hole
    /// read as zeros, or not a file page). Observer state: the ground truth I23 compares with
    /// the file's block map (docs/MODEL.md §20), not kernel state.
    pub block: observer::AtomicU64,
    /// The lab's record that a 5.18+ munlock walk (`mlock_pte_range` on a VMA whose VM_LOCKED it
    /// has just cleared) passed this page's PTE while it was a migration entry. The kernel's walk
    /// skips a non-present PTE (`if (!pte_present(ptent)) continue;`), so that munlock never
    /// reaches the page; if the migration then fails and remaps it into the VMA — now without
    /// VM_LOCKED, so `mlock_vma_folio` does nothing — while an earlier remap into the still
    /// VM_LOCKED VMA had set PG_mlocked on the isolated folio (`__mlock_folio` keeps no count for
    /// it), the folio goes back to the LRU mlocked with nothing mlocking it: unevictable, with
    /// `lru_add_fn`'s `mlock_count = 0` ("Err on the safe side, underestimate ..."), until it is
    /// freed. The kernel accepts that; I11 does not call such a page stranded. Observer state,
    /// not kernel state (docs/MODEL.md §3, I11).
    pub munlock_missed: observer::AtomicBool,
    /// `folio->swap` (`page_private` before 6.6): the swap entry of a PG_swapcache folio (a
    /// slot of `crate::mm::swap`), set by `add_to_swap_cache` and cleared by
    /// `__delete_from_swap_cache` (zero otherwise).
    /// Protected by: the folio lock (read by lookups that then check PG_swapcache under it).
    pub swap: AtomicU64,
}

impl Page {
    pub(crate) fn new(cpus: usize) -> Self {
        Page {
            flags: AtomicU32::new(0),
            mapcount: AtomicI32::new(0),
            refcount: AtomicI32::new(0),
            mapping: AtomicU64::new(0),
            index: AtomicU64::new(0),
            mlock_count: AtomicU32::new(0),
            data: (0..cpus).map(|_| AtomicU64::new(0)).collect(),
            compound: Frozen::new(Compound::Single),
            entire_mapcount: AtomicI32::new(0),
            block: observer::AtomicU64::new(0),
            munlock_missed: observer::AtomicBool::new(false),
            swap: AtomicU64::new(0),
        }
    }

    /// The page lock (PG_locked). Hugetlb folios have their own class (docs/MODEL.md §1).
    pub fn lock(&self) -> PageLock<'_> {
        let class = if self.test(pg::HUGETLB) {
            LockClass::HugetlbFolioLock
        } else {
            LockClass::PageLock
        };
        PageLock::new(&self.flags, class)
    }

    /// Test a flag.
    pub fn test(&self, flag: u32) -> bool {
        self.flags.load(Ordering::SeqCst) & flag != 0
    }

    /// Set a flag; returns whether it was already set (`TestSetPage*`).
    pub fn test_set(&self, flag: u32) -> bool {
        self.flags.fetch_or(flag, Ordering::SeqCst) & flag != 0
    }

    /// Clear a flag; returns whether it was set (`TestClearPage*`).
    pub fn test_clear(&self, flag: u32) -> bool {
        self.flags.fetch_and(!flag, Ordering::SeqCst) & flag != 0
    }

    /// `page_mapped()`: a racy snapshot, as the kernel's. A THP head counts its PMD mappings
    /// too (`folio_mapped`); a tail's PMD mappings are its head's
    /// (`World::page_mapcount`). The compound check reads no modelled atomic for an order-0
    /// page, so the scenarios without THP see the one load they always did.
    pub fn mapped(&self) -> bool {
        self.mapcount.load(Ordering::SeqCst) > 0
            || (matches!(self.compound.get(), Compound::Head { .. })
                && self.entire_mapcount.load(Ordering::SeqCst) > 0)
    }

    /// `page_maybe_dma_pinned` (`folio_maybe_dma_pinned`): a racy snapshot of whether a
    /// FOLL_PIN pin may hold the page (refcount at least [`GUP_PIN_COUNTING_BIAS`]).
    pub fn maybe_dma_pinned(&self) -> bool {
        self.refcount.load(Ordering::SeqCst) >= GUP_PIN_COUNTING_BIAS
    }

    /// `page->mapping`, decoded.
    pub fn mapping(&self) -> Mapping {
        Mapping::decode(self.mapping.load(Ordering::SeqCst))
    }

    /// `PageAnon`.
    pub fn is_anon(&self) -> bool {
        matches!(self.mapping(), Mapping::Anon(_))
    }

    /// A one-line description for traces, formatted only when displayed.
    pub fn describe(&self) -> Describe<'_> {
        Describe(self)
    }
}

/// [`Page::describe`]: mapcount, refcount and flag names, lazily formatted.
#[derive(Debug)]
pub struct Describe<'a>(&'a Page);

impl std::fmt::Display for Describe<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let page = self.0;
        let f = page.flags.load(Ordering::SeqCst);
        let mut names = Vec::new();
        for (bit, n) in [
            (PG_LOCKED, "locked"),
            (PG_WAITERS, "waiters"),
            (pg::DIRTY, "dirty"),
            (pg::LRU, "lru"),
            (pg::MLOCKED, "mlocked"),
            (pg::UNEVICTABLE, "unevictable"),
            (pg::WRITEBACK, "writeback"),
            (pg::SWAPCACHE, "swapcache"),
            (pg::REFERENCED, "referenced"),
            (pg::ACTIVE, "active"),
        ] {
            if f & bit != 0 {
                names.push(n);
            }
        }
        write!(
            out,
            "map={} ref={} [{}]",
            page.mapcount.load(Ordering::SeqCst),
            page.refcount.load(Ordering::SeqCst),
            names.join(",")
        )
    }
}
