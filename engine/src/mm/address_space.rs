//! `struct address_space`: a file's rmap (`i_mmap` under `i_mmap_rwsem`), its page cache
//! (under the `i_pages` lock) and — the lab's addition — its backing store, so that data lost
//! between a page and the disk is observable.

use super::arena::{Id, Kind};
use super::page::Pfn;
use super::vma::VmaId;
use crate::sync::{LockClass, RwSem, SpinLock};
use std::sync::atomic::AtomicU64;

/// Marker for file ids.
#[derive(Debug)]
pub enum FileKind {}
impl Kind for FileKind {
    const NAME: &'static str = "file";
}
/// A file (address_space) id.
pub type FileId = Id<FileKind>;

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
    /// The disk: one word per (index, cpu), written by writeback. Observer state (a plain
    /// atomic): the lab's ground truth, not kernel state.
    pub backing: Vec<Vec<AtomicU64>>,
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
            backing: (0..pages)
                .map(|_| (0..cpus).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            hugetlb,
        }
    }

    /// Size in pages.
    pub fn nr_pages(&self) -> usize {
        self.backing.len()
    }
}
