//! Simulated CPUs and their TLBs.
//!
//! Each CPU caches (mm, va) → (pfn, writable, dirty). A load may use any cached entry; a store
//! may use one only if it was cached writable *and dirty*; a clean→dirty transition re-walks
//! the page table and sets the PTE's dirty bit, faulting if the PTE is gone (the x86 rule the
//! deferred-flush comment in `try_to_unmap_one` relies on). So a stale entry that is writable
//! and already dirty can silently modify a page after its PTE was cleared — the heart of
//! 5df397dec7c4 — and a clean one cannot.
//!
//! The TLB sits under a [`HwMutex`]: a shootdown takes every target CPU's TLB lock, which is
//! how an IPI waits for the target to finish the instruction in flight. The hardware walker
//! runs under the same lock, so a flush also fences page-table walks in progress (what the
//! kernel gets from IPIs or RCU before freeing page tables).

use super::ids::{MmId, Pfn};
use crate::sync::HwMutex;

/// One cached translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlbEntry {
    /// Address space.
    pub mm: MmId,
    /// Virtual page.
    pub va: u64,
    /// Physical page.
    pub pfn: Pfn,
    /// Cached writable.
    pub write: bool,
    /// Cached dirty.
    pub dirty: bool,
    /// When the walk that filled it ran ([`crate::check::unmapped`]'s epoch): observer
    /// bookkeeping, not hardware state. An entry older than a munmap/MADV_DONTNEED that has
    /// returned is stale.
    pub filled: u64,
}

/// A simulated CPU.
#[derive(Debug)]
pub struct Cpu {
    /// The TLB (bounded: the oldest entry is evicted, as hardware may drop entries any time).
    pub tlb: HwMutex<Vec<TlbEntry>>,
}

impl Cpu {
    pub(crate) fn new() -> Self {
        Cpu {
            tlb: HwMutex::new(Vec::new()),
        }
    }
}
