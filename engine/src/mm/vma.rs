//! `struct vm_area_struct`: a range of an mm, its flags, its anon_vma and file.

use super::arena::Id;
use super::ids::{AnonVmaId, FileId, MmId};
use crate::sync::{AtomicU32, AtomicU64, Frozen, LockClass, ObserverMutex, Ordering, RwSem};

pub use super::ids::{VmaId, VmaKind};

/// `vm_flags` bits (include/linux/mm.h values).
pub mod vm {
    /// VM_READ.
    pub const READ: u32 = 0x1;
    /// VM_WRITE.
    pub const WRITE: u32 = 0x2;
    /// VM_SHARED.
    pub const SHARED: u32 = 0x8;
    /// VM_MAYREAD: `mprotect` may add VM_READ.
    pub const MAYREAD: u32 = 0x10;
    /// VM_MAYWRITE: `mprotect` may add VM_WRITE — set for every private mapping, whatever the
    /// file was opened for, which is what makes a read-only private mapping a COW mapping
    /// (`is_cow_mapping`) that a `FOLL_FORCE` write may write.
    pub const MAYWRITE: u32 = 0x20;
    /// VM_MAYSHARE: a MAP_SHARED mapping (even one without VM_SHARED).
    pub const MAYSHARE: u32 = 0x80;
    /// VM_LOCKED.
    pub const LOCKED: u32 = 0x2000;
    /// VM_IO (part of VM_SPECIAL; mlock sets it temporarily, 5.18+).
    pub const IO: u32 = 0x4000;
    /// VM_HUGETLB.
    pub const HUGETLB: u32 = 0x0040_0000;
}

/// What a VMA is, fixed at mmap time. The model does not split or merge VMAs: munmap and
/// mlock act on whole VMAs (MADV_DONTNEED takes any range). Written down here because the
/// kernel's `__split_vma` takes i_mmap and anon_vma write locks of its own that no modelled
/// race needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmaInfo {
    /// The owning mm.
    pub mm: MmId,
    /// First page (virtual page number).
    pub start: u64,
    /// One past the last page.
    pub end: u64,
    /// The file, for file mappings.
    pub file: Option<FileId>,
    /// `vm_pgoff`: the file page at `start`.
    pub pgoff: u64,
}

impl VmaInfo {
    const EMPTY: VmaInfo = VmaInfo {
        mm: Id::new(0, 0),
        start: 0,
        end: 0,
        file: None,
        pgoff: 0,
    };

    /// Does the VMA cover `va`?
    pub fn contains(&self, va: u64) -> bool {
        self.start <= va && va < self.end
    }

    /// `vma_address`: where file/anon index `index` is mapped in this VMA, if it is.
    pub fn address(&self, index: u64) -> Option<u64> {
        let va = self.start.checked_add(index.checked_sub(self.pgoff)?)?;
        (va < self.end).then_some(va)
    }

    /// `linear_page_index`: the index of `va` in the file (or the anon linear index).
    pub fn index_of(&self, va: u64) -> u64 {
        va - self.start + self.pgoff
    }
}

/// A VMA.
#[derive(Debug)]
pub struct Vma {
    /// Fixed at mmap time (see [`VmaInfo`]).
    pub info: Frozen<VmaInfo>,
    /// `vm_flags`.
    /// Protected by: `mmap_lock` for write (mlock_fixup); read racily under the PTL by
    /// `page_mlock_one` and `mlock_vma_folio`, as the kernel reads it (READ_ONCE).
    pub flags: AtomicU32,
    /// `vma->anon_vma`, packed id + 1 (0 = none).
    /// Protected by: `mm->page_table_lock` (+ the anon_vma write lock) in `anon_vma_prepare`;
    /// `mmap_lock` write in `anon_vma_fork` (the child VMA is not yet visible).
    pub anon_vma: AtomicU64,
    /// `vma->anon_vma_chain`: the anon_vmas this VMA is linked into through an AVC, newest
    /// first (`list_add`). The anon_vma side of each AVC is that anon_vma's tree.
    /// Protected by: `mmap_lock` write (fork, munmap, exit), or `mmap_lock` read plus
    /// `mm->page_table_lock` under the root's rwsem write (`__anon_vma_prepare`). Observer
    /// cell: those locks, not the cell, order its users.
    anon_vma_chain: ObserverMutex<Vec<AnonVmaId>>,
    /// The hugetlb VMA lock (`struct hugetlb_vma_lock`, `vma->vm_private_data` of a
    /// VM_MAYSHARE hugetlb VMA, 6.1+, 8d9bfb260814 / 40549ba8f8e0): faults hold it for read
    /// while they use a PTE pointer into a possibly shared PMD table, `huge_pmd_unshare`
    /// callers hold it for write. Only a shared hugetlb VMA takes it (`__vma_shareable_lock`).
    /// Protected by: itself (it protects the PMD-sharing state of this VMA's page tables).
    pub hugetlb_vma_lock: RwSem<()>,
}

impl Vma {
    pub(crate) fn new() -> Self {
        Vma {
            info: Frozen::new(VmaInfo::EMPTY),
            flags: AtomicU32::new(0),
            anon_vma: AtomicU64::new(0),
            anon_vma_chain: ObserverMutex::new(Vec::new()),
            hugetlb_vma_lock: RwSem::new(LockClass::HugetlbVmaLock, ()),
        }
    }

    /// `vma->anon_vma`.
    pub fn anon_vma(&self) -> Option<AnonVmaId> {
        match self.anon_vma.load(Ordering::SeqCst) {
            0 => None,
            v => Some(Id::unpack(v - 1)),
        }
    }

    /// Set `vma->anon_vma` (under the locks its field names).
    pub fn set_anon_vma(&self, av: Option<AnonVmaId>) {
        self.anon_vma
            .store(av.map_or(0, |a| a.pack() + 1), Ordering::SeqCst);
    }

    /// A copy of `vma->anon_vma_chain`, newest first.
    pub fn chain(&self) -> Vec<AnonVmaId> {
        self.anon_vma_chain.lock().clone()
    }

    /// `list_add(&avc->same_vma, &vma->anon_vma_chain)`.
    pub fn chain_link(&self, av: AnonVmaId) {
        self.anon_vma_chain.lock().insert(0, av);
    }

    /// `list_del(&avc->same_vma)`.
    pub fn chain_unlink(&self, av: AnonVmaId) {
        self.anon_vma_chain.lock().retain(|&a| a != av);
    }

    /// An empty chain (a VMA slot being set up: `vm_area_alloc`, or `vm_area_dup`'s
    /// `INIT_LIST_HEAD(&new->anon_vma_chain)`).
    pub fn chain_clear(&self) {
        self.anon_vma_chain.lock().clear();
    }

    /// `vm_flags & flag`.
    pub fn has(&self, flag: u32) -> bool {
        self.flags.load(Ordering::SeqCst) & flag != 0
    }
}
