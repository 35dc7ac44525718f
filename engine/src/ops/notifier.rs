//! mmu notifiers: `mmu_notifier_invalidate_range_start/end` and the secondary-TLB invalidation
//! that follows a CPU flush. Start/end may sleep and are never called under a PTL: lockdep's
//! `might_sleep` checks it.

use crate::mm::{MmId, World};
use crate::protocol::Notifier;
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
        format_args!("{:#x}-{:#x}", start << 12, end.saturating_mul(4096)),
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
///
/// Only under the 2017+ semantics (`Notifier::StartEnd`): the 4.4-era `try_to_unmap_one` had
/// no secondary invalidation under the PTL, only `invalidate_page` after it.
pub fn arch_invalidate_secondary_tlbs(w: &World, mm: MmId, start: u64, end: u64) {
    let s = &w.secondary;
    if w.protocol.notifier == Notifier::StartEnd && s.mirrors(mm) {
        hw_lock(&s.tlb).retain(|e| !(start <= e.va && e.va < end));
    }
}

/// 4.4-era `mmu_notifier_invalidate_page`: drop one page's secondary translation (called by
/// `try_to_unmap_one` after the PTL was released, before 369ea8242c0f). Like KVM's
/// `kvm_mmu_notifier_invalidate_page`, it bumps the invalidate sequence, so that a refresh
/// that read the old PTE before it does not install it after.
pub fn invalidate_page(w: &World, mm: MmId, va: u64) {
    let s = &w.secondary;
    if s.mirrors(mm) {
        let mut tlb = hw_lock(&s.tlb);
        s.seq.fetch_add(1, Ordering::SeqCst);
        tlb.retain(|e| e.va != va);
        drop(tlb);
        w.trace(
            "mmu_notifier_invalidate_page",
            mm,
            format_args!("va {:#x}", va << 12),
        );
    }
}

/// Register the secondary MMU on `mm` (`mmu_notifier_register`).
pub fn register(w: &World, mm: MmId) {
    w.secondary.mm.store(mm.pack() + 1, Ordering::SeqCst);
}

/// The device faults a translation in (KVM's `kvm_faultin_pfn` + `mmu_invalidate_retry`):
/// note the sequence, read the CPU PTE, and install it only if no invalidation began
/// meanwhile. With `check_seq` false the retry check is skipped (the 2017/2020 KVM APIC-page
/// bugs, b1394e745b94 / e649b3f0188f). Returns the page installed, if any.
pub fn secondary_refresh(
    w: &World,
    mm_id: MmId,
    va: u64,
    check_seq: bool,
) -> Option<crate::mm::Pfn> {
    use crate::mm::pte::Pte;
    let s = &w.secondary;
    let seq = s.seq.load(Ordering::SeqCst);
    if check_seq && s.in_progress.load(Ordering::SeqCst) != 0 {
        return None;
    }
    let mm = w.mms.get(mm_id);
    let (slot, i) = w.pte_slot(va);
    let table = w.tables.get(mm.pmd_table(slot)?);
    let Pte::Present { pfn, write, .. } = Pte::decode(table.entries[i].load(Ordering::SeqCst))
    else {
        return None;
    };
    crate::race_window!("secondary refresh: CPU PTE read, translation not yet installed");
    let mut tlb = hw_lock(&s.tlb);
    if check_seq
        && (s.in_progress.load(Ordering::SeqCst) != 0 || s.seq.load(Ordering::SeqCst) != seq)
    {
        return None;
    }
    tlb.retain(|e| e.va != va);
    tlb.push(crate::mm::TlbEntry {
        mm: mm_id,
        va,
        pfn,
        write,
        dirty: false,
        filled: w.tlb_fill_epoch(),
    });
    drop(tlb);
    w.trace("secondary refresh", format_args!("va {:#x}", va << 12), pfn);
    Some(pfn)
}
