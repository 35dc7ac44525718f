//! `struct address_space`: a file's rmap (`i_mmap` under `i_mmap_rwsem`), its page cache
//! (under the `i_pages` lock) and — the lab's addition — its backing store, so that data lost
//! between a page and the disk is observable.

use super::ids::{Pfn, VmaId};
use crate::sync::{LockClass, RwSem, SpinLock, observer};

pub use super::ids::{FileId, FileKind};

/// The `i_mmap` tree: the VMAs mapping the file.
#[derive(Debug, Default)]
pub struct IMmap {
    /// VMAs (an interval tree in the kernel; a set here, walked in full and filtered by range).
    pub vmas: Vec<VmaId>,
}

/// The page cache of a file.
#[derive(Debug, Default)]
pub struct PageCache {
    /// Page at each index, if cached.
    pub pages: Vec<Option<Pfn>>,
}

/// An address_space.
#[derive(Debug)]
pub struct AddressSpace {
    /// `mapping->i_mmap_rwsem` with the tree it protects.
    /// Protected by: itself (write: link/unlink of VMAs, huge_pmd_unshare; read: rmap walks).
    pub i_mmap: RwSem<IMmap>,
    /// `mapping->i_pages` (the xarray lock) with the cache it protects.
    pub i_pages: SpinLock<PageCache>,
    /// `mapping->invalidate_lock` (5.15+): held shared by a fault that must add a page to the
    /// cache or read it (`filemap_fault`, `filemap_create_folio`), exclusive by truncation and
    /// hole punching between evicting the cache and freeing the blocks, so that no fault
    /// instantiates a page over blocks being freed.
    /// Protected by: itself (the model never takes it exclusive outside tests: it has no
    /// truncation); above the page lock and `i_mmap_rwsem`, below `mmap_lock`.
    pub invalidate_lock: RwSem<()>,
    /// The disk: one word per (index, cpu), written by writeback. Observer state (a plain
    /// atomic): the lab's ground truth, not kernel state.
    pub backing: Vec<Vec<observer::AtomicU64>>,
    /// Is this a hugetlbfs file (its lock classes differ, docs/MODEL.md §1)?
    pub hugetlb: bool,
}

impl AddressSpace {
    pub(crate) fn new(pages: usize, cpus: usize, hugetlb: bool) -> Self {
        let imap_class = if hugetlb {
            LockClass::HugetlbfsIMmapRwsem
        } else {
            LockClass::IMmapRwsem
        };
        AddressSpace {
            i_mmap: RwSem::new(imap_class, IMmap::default()),
            i_pages: SpinLock::new(
                LockClass::IPages,
                PageCache {
                    pages: vec![None; pages],
                },
            ),
            invalidate_lock: RwSem::new(LockClass::InvalidateLock, ()),
            backing: (0..pages)
                .map(|_| (0..cpus).map(|_| observer::AtomicU64::new(0)).collect())
                .collect(),
            hugetlb,
        }
    }

    /// Size in pages.
    pub fn nr_pages(&self) -> usize {
        self.backing.len()
    }
}
