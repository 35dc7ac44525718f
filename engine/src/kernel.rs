//! The kernel functions a world runs, as a table of function pointers.
//!
//! A kernel patch changes one function somewhere deep in a path: a line of `zap_pte_range`,
//! another `anon_lock` for `rmap_walk`, a different `tlb_finish_mmu`. Every path of the model
//! reaches the functions a patch would change through this table, held by the [`World`]
//! (`w.kernel`), the way the kernel itself reaches `rwc->rmap_one`, `rwc->anon_lock` or a
//! `vm_operations_struct`: replace one entry and every caller at any depth runs the
//! replacement — munmap, exit, MADV_DONTNEED and hugetlb's unmap all run a replaced
//! `zap_pte_range`, and reclaim's `try_to_unmap` a replaced `flush_tlb_range`.
//!
//! [`Kernel::default`] is the modern kernel. A historical version of one function is an
//! alternative entry in that function's own file (named after the era or the commit it
//! predates); a scenario variant or a user's patch is a table built from the default with one
//! entry changed:
//!
//! ```ignore
//! let mut kernel = Kernel::default();
//! kernel.zap.zap_pte_range = my_zap_pte_range;
//! let w = World::new(WorldConfig::tiny(2), kernel);
//! ```
//!
//! Each group of entries is a struct owned by the file of its path (`ops::zap::ZapOps`, ...),
//! so that the entry, its default and its historical alternatives sit beside each other.
//!
//! [`World`]: crate::mm::World

use crate::ops::{fault, migrate, mlock, notifier, rmap_walk, tlb, zap};

/// The function table of one world. `Kernel::default()` is the modern kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kernel {
    /// `unmap_vmas` and the zap levels under it.
    pub zap: zap::ZapOps,
    /// The mmu_gather and the TLB flush functions.
    pub tlb: tlb::TlbOps,
    /// The rmap walk: its anon_lock, its rmap_one callbacks, page_vma_mapped_walk.
    pub rmap: rmap_walk::RmapOps,
    /// The mmu-notifier calls.
    pub notifier: notifier::NotifierOps,
    /// Page migration's steps.
    pub migrate: migrate::MigrateOps,
    /// The page-fault handlers.
    pub fault: fault::FaultOps,
    /// The mlock and munlock steps.
    pub mlock: mlock::MlockOps,
}
