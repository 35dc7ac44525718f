//! Kernel paths, one per file, named after the C, built from public steps that take locks at
//! the kernel's points. A scenario may compose these steps into a variant of a path (a patch,
//! a historical bug) without editing the engine.

pub mod access;
pub mod exit;
pub mod fault;
pub mod mmap;
pub mod munmap;
pub mod page_alloc;
pub mod pagemap;
pub mod pgtable;
pub mod pgtable_generic;
pub mod rmap;
pub mod tlb;
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
pub mod hugetlb;
pub mod migrate;
pub mod mkclean;
pub mod mlock;
pub mod munlock;
pub mod notifier;
pub mod pvmw;
pub mod reclaim;
pub mod rmap_walk;
pub mod split;
pub mod ttu;
