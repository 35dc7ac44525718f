//! Kernel paths, one per file, named after the C, built from public steps that take locks at
//! the kernel's points. A scenario may compose these steps into a variant of a path (a patch,
//! a historical bug) without editing the engine.

pub mod access;
pub mod anon_vma;
pub mod collapse_huge_page;
pub mod do_swap_page;
pub mod exec;
pub mod exit;
pub mod fault;
pub mod folio_referenced;
pub mod fork;
pub mod free_swap;
pub mod gup;
pub mod huge_memory;
pub mod lock_vma;
pub mod mmap;
pub mod mprotect;
pub mod mremap;
pub mod munmap;
pub mod page_alloc;
pub mod page_io;
pub mod pagemap;
pub mod pgtable;
pub mod pgtable_generic;
pub mod pmd_lock;
pub mod rmap;
pub mod split_vma;
pub mod swap_state;
pub mod swapfile;
pub mod tlb;
pub mod tlb_ubc;
pub mod truncate;
pub mod unmap_mapping;
pub mod vma_adjust;
pub mod vma_adjust_trans_huge;
pub mod vma_lock;
pub mod vma_merge;
pub mod zap;

/// Why a user-level access or syscall failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No VMA, or the access is not allowed (SIGSEGV).
    Segv,
    /// Beyond the end of the file (SIGBUS).
    Bus,
    /// Out of page frames, tables or VMA slots.
    Oom,
    /// The range overlaps an existing VMA (mmap) or names no VMA (munmap).
    Inval,
}

impl std::fmt::Display for Error {
    /// As the kernel's errno, with what it means here.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::Segv => "SIGSEGV: no VMA, or the access is not allowed",
            Error::Bus => "SIGBUS: beyond the end of the file",
            Error::Oom => "ENOMEM: out of page frames, tables or VMA slots",
            Error::Inval => "EINVAL: the range overlaps a VMA (mmap) or names none (munmap)",
        })
    }
}

impl std::error::Error for Error {}
pub mod hugetlb;
pub mod khugepaged;
pub mod khugepaged_scan;
pub mod migrate;
pub mod migrate_thp;
pub mod mkclean;
pub mod mlock;
pub mod munlock;
pub mod munlock_pagevec;
pub mod notifier;
pub mod oom_kill;
pub mod pvmw;
pub mod reclaim;
pub mod rmap_types;
pub mod rmap_walk;
pub mod shrink_folio_list;
pub mod split;
pub mod split_huge_page;
pub mod split_huge_pmd;
pub mod task_mmu;
pub mod ttu;
pub mod vmscan;
