//! Types of include/linux/rmap.h that more than one rmap path names: `enum ttu_flags`, which
//! `try_to_unmap` / `try_to_migrate`'s callers pass, the walkers read, and the rmap table's
//! `try_to_unmap_one` / `try_to_migrate_one` entries take. They sit below the rmap walk
//! (`rmap_walk`, whose [`RmapOps`] names them) and the walkers (`ttu`, `split`, `migrate`,
//! `reclaim`), so neither imports the other for them; `ttu` re-exports them, where the kernel's
//! callers spell them.
//!
//! [`RmapOps`]: crate::ops::rmap_walk::RmapOps

bitflags::bitflags! {
    /// `enum ttu_flags` (include/linux/rmap.h, the values of 5.13+), as far as the model's
    /// callers pass them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TtuFlags: u32 {
        /// `TTU_SPLIT_HUGE_PMD` (no PMD mappings are modelled: accepted and ignored).
        const SPLIT_HUGE_PMD = 0x4;
        /// `TTU_IGNORE_MLOCK`: unmap even from VM_LOCKED VMAs.
        const IGNORE_MLOCK = 0x8;
        /// `TTU_SYNC`: the PVMW takes the PTL even for empty-looking PTEs (732ed55823fc).
        const SYNC = 0x10;
        /// `TTU_BATCH_FLUSH`: defer the TLB flush to the caller's batch (the per-task
        /// `tlbflush_unmap_batch`, flushed by `try_to_unmap_flush`): reclaim's flag
        /// (72b252aed506, v4.3).
        const BATCH_FLUSH = 0x40;
        /// `TTU_RMAP_LOCKED`: the caller holds the rmap lock (`rmap_walk_locked`).
        const RMAP_LOCKED = 0x80;
    }
}

/// `TTU_SPLIT_HUGE_PMD`, spelt as the kernel spells it at a call site.
pub const TTU_SPLIT_HUGE_PMD: TtuFlags = TtuFlags::SPLIT_HUGE_PMD;
/// `TTU_IGNORE_MLOCK`.
pub const TTU_IGNORE_MLOCK: TtuFlags = TtuFlags::IGNORE_MLOCK;
/// `TTU_SYNC`.
pub const TTU_SYNC: TtuFlags = TtuFlags::SYNC;
/// `TTU_BATCH_FLUSH`.
pub const TTU_BATCH_FLUSH: TtuFlags = TtuFlags::BATCH_FLUSH;
/// `TTU_RMAP_LOCKED`.
pub const TTU_RMAP_LOCKED: TtuFlags = TtuFlags::RMAP_LOCKED;
