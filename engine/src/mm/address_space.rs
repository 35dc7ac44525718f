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
    /// Protected by: itself (exclusive: `ftruncate` and `punch_hole`, ops/truncate.rs);
    /// above the page lock and `i_mmap_rwsem`, below `mmap_lock`.
    pub invalidate_lock: RwSem<()>,
    /// `inode->i_size`, in pages: `i_size_write` by truncation, `i_size_read` (lockless) by
    /// the fault's EOF checks. Starts at the file's capacity (`nr_pages`) and never exceeds it.
    /// Protected by: `i_rwsem` in the kernel; here `invalidate_lock` exclusive, which every
    /// writer of the model holds (`ftruncate`); read without a lock.
    /// Simplification: an observer atomic, so that `i_size_read` adds no loom operation to
    /// every file fault (the page lock and `invalidate_lock` order it against truncation, as
    /// in the kernel).
    pub i_size: observer::AtomicU64,
    /// The file system's block map: the block backing each page index, 0 for a hole. A block
    /// is allocated by writeback of a page over a hole and freed by truncation and hole
    /// punching (`__ext2_truncate_blocks`, `ext4_ext_remove_space`). Block ids are never reused
    /// (`next_block`), so that a page holding a freed block's data is observable (I23).
    /// Protected by: `invalidate_lock` exclusive for freeing, the page lock for writeback's
    /// allocation (the file system's own lock in the kernel: ext4's `i_data_sem`). Observer atomics, as `backing` is.
    pub blocks: Vec<observer::AtomicU64>,
    /// The next block id to allocate (observer: the lab's allocator of fresh ids).
    pub next_block: observer::AtomicU64,
    /// Has a truncation or hole punch unmapped part of this file? (The lab's note: such a
    /// file's `VM_LOCKED` mappings need not stay resident — `unmap_mapping_range` unmaps
    /// mlocked pages too, and nothing faults them back — so I11's residency clause skips it.)
    pub truncated: observer::AtomicBool,
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
            i_size: observer::AtomicU64::new(pages as u64),
            // Every page starts backed by a block of its own: blocks 1..=pages.
            blocks: (0..pages)
                .map(|i| observer::AtomicU64::new(i as u64 + 1))
                .collect(),
            next_block: observer::AtomicU64::new(pages as u64 + 1),
            truncated: observer::AtomicBool::new(false),
            backing: (0..pages)
                .map(|_| (0..cpus).map(|_| observer::AtomicU64::new(0)).collect())
                .collect(),
            hugetlb,
        }
    }

    /// Capacity in pages (the most `i_size` can be).
    pub fn nr_pages(&self) -> usize {
        self.backing.len()
    }

    /// `i_size_read`, in pages.
    pub fn i_size_read(&self) -> u64 {
        self.i_size.load(observer::Ordering::SeqCst)
    }

    /// The block backing `index` (0: a hole).
    pub fn block(&self, index: u64) -> u64 {
        self.blocks[index as usize].load(observer::Ordering::SeqCst)
    }

    /// Writeback's block allocation: the block backing `index`, allocated if it is a hole
    /// (delayed allocation: ext4 allocates at writeback). The caller holds the page lock.
    pub fn block_alloc(&self, index: u64) -> u64 {
        let b = self.block(index);
        if b != 0 {
            return b;
        }
        let b = self.next_block.fetch_add(1, observer::Ordering::SeqCst);
        self.blocks[index as usize].store(b, observer::Ordering::SeqCst);
        b
    }

    /// Free the block behind `index` (truncation, hole punch): the index reads as zeros from
    /// now on. The caller holds `invalidate_lock` exclusive.
    pub fn block_free(&self, index: u64) {
        self.blocks[index as usize].store(0, observer::Ordering::SeqCst);
        for word in &self.backing[index as usize] {
            word.store(0, observer::Ordering::SeqCst);
        }
    }
}
