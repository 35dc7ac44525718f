//! mmu notifiers: `mmu_notifier_invalidate_range_start/end` and the secondary-TLB invalidation
//! that follows a CPU flush. Start/end may sleep and are never called under a PTL: lockdep's
//! `might_sleep` checks it.

use crate::mm::{MmId, World};
use crate::sync::lockdep::might_sleep;
use crate::sync::{Ordering, hw_lock};

/// An open start/end bracket.
#[derive(Debug)]
#[must_use = "every invalidate_range_start needs its invalidate_range_end"]
pub struct Bracket {
    mm: MmId,
    active: bool,
}

/// `mmu_notifier_invalidate_range_start`: the secondary stops establishing translations in the
/// range and drops the ones it has.
#[track_caller]
pub fn invalidate_range_start(w: &World, mm: MmId, start: u64, end: u64) -> Bracket {
    might_sleep("mmu_notifier_invalidate_range_start");
    let s = &w.secondary;
    if !s.mirrors(mm) {
        return Bracket { mm, active: false };
    }
    s.in_progress.fetch_add(1, Ordering::SeqCst);
    s.seq.fetch_add(1, Ordering::SeqCst);
    hw_lock(&s.tlb).retain(|e| !(start <= e.va && e.va < end));
    w.trace(
        "mmu_notifier_invalidate_range_start",
        mm,
        format!("{:#x}-{:#x}", start << 12, end.saturating_mul(4096)),
    );
    Bracket { mm, active: true }
}

/// `mmu_notifier_invalidate_range_end`.
#[track_caller]
pub fn invalidate_range_end(w: &World, b: Bracket) {
    might_sleep("mmu_notifier_invalidate_range_end");
    if b.active {
        let s = &w.secondary;
        s.seq.fetch_add(1, Ordering::SeqCst);
        s.in_progress.fetch_sub(1, Ordering::SeqCst);
        w.trace("mmu_notifier_invalidate_range_end", b.mm, "");
    }
}

/// `arch_invalidate_secondary_tlbs` (6.6+; `mmu_notifier_invalidate_range` before): called by
/// the TLB flush, under the PTL where the flush is, so a secondary that walks CPU page tables
/// cannot keep a translation to a page about to be freed.
pub fn arch_invalidate_secondary_tlbs(w: &World, mm: MmId, start: u64, end: u64) {
    let s = &w.secondary;
    if s.mirrors(mm) {
        hw_lock(&s.tlb).retain(|e| !(start <= e.va && e.va < end));
    }
}
