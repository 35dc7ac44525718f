//! Secondary MMUs: devices with their own TLB of one mm's translations, kept coherent through
//! mmu notifiers (include/linux/mmu_notifier.h). The kernel has two kinds, which register
//! different callbacks, and a world may have either or both ([`SecondaryKind`]):
//!
//! * [`SecondaryKind::Kvm`] — a shadow MMU (KVM's `kvm_mmu_notifier_ops`) that fills its own
//!   page tables by reading the CPU PTE in software. It implements `invalidate_range_start` /
//!   `invalidate_range_end` only: start bumps `mmu_invalidate_in_progress` and
//!   `mmu_invalidate_seq` and drops the range; end bumps the sequence and drops
//!   `in_progress`; a fault-in installs what it read only if no invalidation is in progress
//!   and the sequence did not move since it began (`mmu_invalidate_retry`). It hears nothing
//!   from the CPU TLB flush, so a path that changes a PTE outside a start/end bracket leaves
//!   it stale: I13 catches that. (From 2020 to 6.5 x86 KVM also hooked `->invalidate_range`,
//!   but only to reload its APIC-access page, e649b3f0188f; its shadow page tables always
//!   relied on start/end and the sequence retry, which is what this kind models.)
//! * [`SecondaryKind::Sva`] — an IOMMU doing shared virtual addressing (SVA/ATS:
//!   `intel_mmuops` in drivers/iommu/intel/svm.c registers `.release` and
//!   `.arch_invalidate_secondary_tlbs` only). It walks the CPU page tables itself, so it
//!   cannot be fenced by start/end; it is invalidated right after the CPU TLB flush, under the
//!   PTL (`arch_invalidate_secondary_tlbs` since 6.6, `->invalidate_range` before, called by
//!   `ptep_clear_flush_notify` and the mmu_gather flush).

use super::cpu::TlbEntry;
use super::mm_struct::MmId;
use crate::sync::{AtomicU32, AtomicU64, Frozen, HwMutex};

/// Which notifier protocol a secondary MMU follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondaryKind {
    /// KVM-like: `invalidate_range_start/end` and the `mmu_invalidate_seq` retry.
    Kvm,
    /// IOMMU-SVA-like: `arch_invalidate_secondary_tlbs` after the CPU flush, under the PTL.
    Sva,
}

impl SecondaryKind {
    /// Every kind, in the order of `World::secondaries`.
    pub const ALL: [SecondaryKind; 2] = [SecondaryKind::Kvm, SecondaryKind::Sva];

    /// The kind's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SecondaryKind::Kvm => "KVM-like secondary MMU",
            SecondaryKind::Sva => "SVA secondary MMU",
        }
    }
}

/// One secondary MMU of a world (unregistered until `notifier::register`).
#[derive(Debug)]
pub struct SecondaryMmu {
    /// Which protocol it follows.
    pub kind: SecondaryKind,
    /// The mm it mirrors (packed id + 1; 0 = not registered). Written only at registration,
    /// before any actor runs, so loom need not see it ([`Frozen`]).
    pub mm: Frozen<u64>,
    /// Its TLB ("sptes" for KVM, the IOTLB for SVA).
    /// Protected by: itself (the device's own lock: KVM's `mmu_lock`, the IOMMU's
    /// invalidation queue), a leaf below the PTL.
    pub tlb: HwMutex<Vec<TlbEntry>>,
    /// `mmu_invalidate_in_progress` (KVM only).
    pub in_progress: AtomicU32,
    /// `mmu_invalidate_seq` (KVM only).
    pub seq: AtomicU64,
}

impl SecondaryMmu {
    pub(crate) fn new(kind: SecondaryKind) -> Self {
        SecondaryMmu {
            kind,
            mm: Frozen::new(0),
            tlb: HwMutex::new(Vec::new()),
            in_progress: AtomicU32::new(0),
            seq: AtomicU64::new(0),
        }
    }

    /// Is it registered on `mm`?
    pub fn mirrors(&self, mm: MmId) -> bool {
        self.mm.get() == mm.pack() + 1
    }

    /// Is it registered at all?
    pub fn registered(&self) -> bool {
        self.mm.get() != 0
    }
}
