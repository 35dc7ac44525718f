//! A secondary MMU: a device (KVM's shadow page tables, an IOMMU with ATS) with its own TLB of
//! translations of one mm's pages, kept coherent through mmu notifiers
//! (include/linux/mmu_notifier.h, Documentation/mm/mmu_notifier.rst).
//!
//! It follows KVM's protocol: `invalidate_range_start` bumps `in_progress` and the sequence
//! and drops the range; `invalidate_range_end` drops `in_progress` and bumps the sequence; a
//! refresh (the device faulting a translation in) reads the CPU PTE and installs it only if no
//! invalidation is in progress and the sequence did not move since it began
//! (`mmu_invalidate_retry`). A secondary that walks the CPU page tables itself (IOMMU SVA) is
//! additionally invalidated under the PTL after the CPU flush (`arch_invalidate_secondary_tlbs`).

use super::cpu::TlbEntry;
use super::mm_struct::MmId;
use crate::sync::{AtomicU32, AtomicU64, HwMutex, Ordering};

/// The secondary MMU of a world (at most one, attached to one mm).
#[derive(Debug)]
pub struct SecondaryMmu {
    /// The mm it mirrors (packed id + 1; 0 = not registered).
    pub mm: AtomicU64,
    /// Its TLB ("sptes").
    pub tlb: HwMutex<Vec<TlbEntry>>,
    /// `mmu_invalidate_in_progress`.
    pub in_progress: AtomicU32,
    /// `mmu_invalidate_seq`.
    pub seq: AtomicU64,
}

impl SecondaryMmu {
    pub(crate) fn new() -> Self {
        SecondaryMmu {
            mm: AtomicU64::new(0),
            tlb: HwMutex::new(Vec::new()),
            in_progress: AtomicU32::new(0),
            seq: AtomicU64::new(0),
        }
    }

    /// Is it registered on `mm`?
    pub fn mirrors(&self, mm: MmId) -> bool {
        self.mm.load(Ordering::SeqCst) == mm.pack() + 1
    }
}
