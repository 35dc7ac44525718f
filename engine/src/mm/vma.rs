//! `struct vm_area_struct`: a range of an mm, its flags, its anon_vma and file.

use super::arena::Id;
use super::ids::{AnonVmaId, FileId, MmId};
use super::vma_lock::VmaLock;
use crate::sync::{AtomicU32, AtomicU64, LockClass, ObserverMutex, Ordering, RwSem};

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
    /// VM_HUGEPAGE (`MADV_HUGEPAGE`): THP faults may map this VMA with huge PMDs.
    pub const HUGEPAGE: u32 = 0x2000_0000;
    /// VM_GROWSDOWN: a stack (exec's, `VM_STACK_FLAGS` on x86).
    pub const GROWSDOWN: u32 = 0x0100;
    /// VM_SEQ_READ (`MADV_SEQUENTIAL`); with VM_RAND_READ, exec's temporary-stack mark.
    pub const SEQ_READ: u32 = 0x8000;
    /// VM_RAND_READ (`MADV_RANDOM`); with VM_SEQ_READ, exec's temporary-stack mark.
    pub const RAND_READ: u32 = 0x0001_0000;
    /// VM_STACK_INCOMPLETE_SETUP (include/linux/mm.h, a8bef8ff6ea1): "Bits set in the VMA
    /// until the stack is in its final location" — an otherwise impossible combination.
    pub const STACK_INCOMPLETE_SETUP: u32 = RAND_READ | SEQ_READ;
}

/// Where a VMA is and what it maps: set at mmap (or `vm_area_dup`) time, and changed later
/// only by `__vma_adjust` — a split (`__split_vma`) or a merge (`vma_merge`), for mprotect,
/// munmap of part of a VMA and mremap ([`crate::ops::vma_adjust`]). mlock still acts on whole
/// VMAs (MADV_DONTNEED takes any range).
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

/// The locks held for write by whoever changes a VMA's bounds (`vm_start`, `vm_end`,
/// `vm_pgoff`): what `__vma_adjust` (≤6.2) / `vma_prepare` (6.3+) take, because the rmap
/// walkers read those fields under the rmap lock alone (`vma_address` in `rmap_walk_anon` /
/// `rmap_walk_file`), faults under `mmap_lock` read.
pub trait VmaBoundsHeld {
    /// The mm whose `mmap_lock` is held for write.
    fn mmap_write(&self) -> MmId;
    /// The file whose `i_mmap_rwsem` is held for write, if any.
    fn i_mmap_write(&self) -> Option<FileId>;
    /// The anon_vma root whose rwsem is held for write, if any.
    fn anon_vma_root_write(&self) -> Option<AnonVmaId>;
}

/// A VMA's [`VmaInfo`] cell. Loom does not see the cell itself (a `std`-side lock, as
/// [`crate::sync::Frozen`]): the modelled locks its writers must hold — `mmap_lock` and the
/// rmap locks, all write — order every access, and a reader holding any one of them (a fault
/// under `mmap_lock` read, a walker under `i_mmap_rwsem` or the anon_vma root rwsem read) is
/// ordered against a writer by that lock in loom's model too.
#[derive(Debug)]
pub struct VmaBounds(parking_lot::RwLock<VmaInfo>);

impl VmaBounds {
    fn new(v: VmaInfo) -> Self {
        VmaBounds(parking_lot::RwLock::new(v))
    }

    /// Read it (the reader holds `mmap_lock`, or the rmap lock of the tree it found the VMA
    /// in, or the VMA is not yet published).
    #[inline]
    pub fn get(&self) -> VmaInfo {
        *self.0.read()
    }

    /// Set it while the VMA is unreachable (`mmap_region`, `vm_area_dup` before the VMA is
    /// linked anywhere).
    pub fn set(&self, v: VmaInfo) {
        *self.0.write() = v;
    }
}

/// A VMA.
#[derive(Debug)]
pub struct Vma {
    /// `vm_mm`, `vm_start`, `vm_end`, `vm_file`, `vm_pgoff`.
    /// Protected by: for a published VMA, changed only under `mmap_lock` write **and** the
    /// rmap locks write — `i_mmap_rwsem` of a file VMA, the anon_vma root rwsem of a VMA with
    /// an anon_vma ([`Vma::adjust_bounds`], `__vma_adjust`); read under any of them.
    pub info: VmaBounds,
    /// `vm_flags`.
    /// Protected by: `mmap_lock` for write (mlock_fixup, mprotect_fixup); read racily under the PTL by
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
    /// The per-VMA lock (6.4+, `CONFIG_PER_VMA_LOCK`): `vm_lock`, `vm_lock_seq`, `detached`
    /// ([`super::vma_lock`]).
    /// Protected by: see [`VmaLock`]'s fields.
    pub vm_lock: VmaLock,
}

impl Vma {
    pub(crate) fn new() -> Self {
        Vma {
            info: VmaBounds::new(VmaInfo::EMPTY),
            flags: AtomicU32::new(0),
            anon_vma: AtomicU64::new(0),
            anon_vma_chain: ObserverMutex::new(Vec::new()),
            hugetlb_vma_lock: RwSem::new(LockClass::HugetlbVmaLock, ()),
            vm_lock: VmaLock::new(),
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

    /// Change `vm_start` / `vm_end` / `vm_pgoff` of a published VMA (`__vma_adjust`): `held`
    /// must be `mmap_lock` of its mm, the `i_mmap_rwsem` of its file and the root rwsem of
    /// its anon_vma, all for write. A missing one is reported as lockdep would
    /// (`lockdep_assert_held_write`): a walker could read the bounds half-changed.
    #[track_caller]
    pub fn adjust_bounds(
        &self,
        held: &dyn VmaBoundsHeld,
        anon_root: Option<AnonVmaId>,
        start: u64,
        end: u64,
        pgoff: u64,
    ) {
        let mut info = self.info.0.write();
        let missing = if held.mmap_write() != info.mm {
            Some("mmap_lock")
        } else if info.file.is_some() && held.i_mmap_write() != info.file {
            Some("i_mmap_rwsem")
        } else if anon_root.is_some() && held.anon_vma_root_write() != anon_root {
            Some("anon_vma->root->rwsem")
        } else {
            None
        };
        if let Some(lock) = missing {
            crate::report::violation(
                crate::report::Oracle::I15Lockdep,
                format!(
                    "vm_start/vm_end/vm_pgoff of a VMA of {} changed without {lock} held for write",
                    info.mm
                ),
            );
        }
        info.start = start;
        info.end = end;
        info.pgoff = pgoff;
    }

    /// `vm_flags & flag`.
    pub fn has(&self, flag: u32) -> bool {
        self.flags.load(Ordering::SeqCst) & flag != 0
    }

    /// `vma_is_temporary_stack(vma)` (include/linux/mm.h; `is_vma_temporary_stack` in
    /// mm/rmap.c when a8bef8ff6ea1 added it): a stack (`VM_GROWSDOWN | VM_GROWSUP`) carrying
    /// both bits of `VM_STACK_INCOMPLETE_SETUP` — exec's stack before `setup_arg_pages` moved
    /// it to its final place.
    pub fn is_temporary_stack(&self) -> bool {
        let f = self.flags.load(Ordering::SeqCst);
        f & vm::GROWSDOWN != 0 && f & vm::STACK_INCOMPLETE_SETUP == vm::STACK_INCOMPLETE_SETUP
    }
}
