//! mmu notifiers: `mmu_notifier_invalidate_range_start/end` and the secondary-TLB invalidation
//! that follows a CPU flush, each delivered to the kind of secondary MMU that registers it
//! (`mm::secondary`): start/end to the KVM-like one, `arch_invalidate_secondary_tlbs` to the
//! SVA one. Start/end may sleep and are never called under a PTL: lockdep's `might_sleep`
//! checks it.

use crate::mm::secondary::{SecondaryKind, SecondaryMmu};
use crate::mm::{MmId, World};
use crate::sync::lockdep::might_sleep;
use crate::sync::{Ordering, hw_lock};

/// An open start/end bracket (`struct mmu_notifier_range` between start and end).
#[derive(Debug)]
#[must_use = "every invalidate_range_start needs its invalidate_range_end"]
pub struct Bracket {
    /// The mm whose range is being invalidated.
    pub mm: MmId,
    /// Did a secondary with start/end callbacks hear the start (so must hear the end)?
    pub active: bool,
}

/// The KVM-like secondary if it mirrors `mm` (the only kind with start/end callbacks).
pub fn kvm_on(w: &World, mm: MmId) -> Option<&SecondaryMmu> {
    Some(w.secondary(SecondaryKind::Kvm)).filter(|s| s.mirrors(mm))
}

/// `mmu_notifier_invalidate_range_start`: a KVM-like secondary
/// (`kvm_mmu_notifier_invalidate_range_start`)
/// bumps `mmu_invalidate_in_progress` and `mmu_invalidate_seq`, so it establishes no new
/// translation in the range until the end, and drops the ones it has. An SVA secondary has
/// no such callback.
#[track_caller]
pub fn invalidate_range_start(w: &World, mm: MmId, start: u64, end: u64) -> Bracket {
    might_sleep("mmu_notifier_invalidate_range_start");
    let Some(s) = kvm_on(w, mm) else {
        return Bracket { mm, active: false };
    };
    s.in_progress.fetch_add(1, Ordering::SeqCst);
    s.seq.fetch_add(1, Ordering::SeqCst);
    hw_lock(&s.tlb).retain(|e| !(e.mm == mm && start <= e.va && e.va < end));
    w.trace(
        "mmu_notifier_invalidate_range_start",
        mm,
        format_args!("{:#x}-{:#x}", start << 12, end.saturating_mul(4096)),
    );
    Bracket { mm, active: true }
}

/// `mmu_notifier_invalidate_range_end`: the KVM-like secondary bumps the sequence and drops
/// `in_progress` (`kvm_mmu_notifier_invalidate_range_end`).
#[track_caller]
pub fn invalidate_range_end(w: &World, b: Bracket) {
    might_sleep("mmu_notifier_invalidate_range_end");
    if b.active {
        let s = w.secondary(SecondaryKind::Kvm);
        s.seq.fetch_add(1, Ordering::SeqCst);
        s.in_progress.fetch_sub(1, Ordering::SeqCst);
        w.trace("mmu_notifier_invalidate_range_end", b.mm, "");
    }
}

/// `arch_invalidate_secondary_tlbs` (6.6+; `mmu_notifier_invalidate_range` before): called by
/// the TLB flush, under the PTL where the flush is, so a secondary that walks the CPU page
/// tables (SVA) cannot keep a translation to a page about to be freed. Only the SVA kind
/// registers it (`intel_mmuops`' `.arch_invalidate_secondary_tlbs`); KVM relies on start/end.
pub fn arch_invalidate_secondary_tlbs(w: &World, mm: MmId, start: u64, end: u64) {
    let s = w.secondary(SecondaryKind::Sva);
    if s.mirrors(mm) {
        hw_lock(&s.tlb).retain(|e| !(e.mm == mm && start <= e.va && e.va < end));
    }
}

/// The secondary-TLB call of a CPU flush before 34ee645e83b6 ("mmu_notifier: call
/// mmu_notifier_invalidate_range() from VMM", v3.19): nothing. Until then a device that fills
/// its TLB from the CPU page table heard of an unmap only through the start/end bracket (or
/// 4.4's `mmu_notifier_invalidate_page`), never at the CPU flush.
///
/// Also the model's 4.4 world: 4.4's `try_to_unmap_one` cleared the PTE with
/// `ptep_clear_flush`, which told no secondary MMU (only `ptep_clear_flush_notify` did); the
/// device heard of it through `mmu_notifier_invalidate_page` after the PTL was dropped
/// (`try_to_unmap_one_v4_4`). Simplification there: every CPU flush of the model calls this
/// entry, so a 4.4 world built with it silences the mmu_gather's flushes as well, which 4.4
/// did notify.
pub fn arch_invalidate_secondary_tlbs_v3_18(_w: &World, _mm: MmId, _start: u64, _end: u64) {}

/// 4.4-era `mmu_notifier_invalidate_page`: drop one page's secondary translation (called by
/// `try_to_unmap_one` after the PTL was released, before 369ea8242c0f). Both kinds had the
/// hook then (`kvm_mmu_notifier_invalidate_page`; intel-svm's `intel_invalidate_page`). Like
/// KVM's, it bumps the invalidate sequence, so that a refresh that read the old PTE before it
/// does not install it after.
pub fn invalidate_page(w: &World, mm: MmId, va: u64) {
    for s in w.secondaries.iter().filter(|s| s.mirrors(mm)) {
        let mut tlb = hw_lock(&s.tlb);
        if s.kind == SecondaryKind::Kvm {
            s.seq.fetch_add(1, Ordering::SeqCst);
        }
        tlb.retain(|e| !(e.mm == mm && e.va == va));
        drop(tlb);
        w.trace(
            "mmu_notifier_invalidate_page",
            mm,
            format_args!("va {:#x}", va << 12),
        );
    }
}

/// Register the secondary MMU of `kind` on `mm` (`mmu_notifier_register`). Before any actor
/// runs.
pub fn register(w: &World, mm: MmId, kind: SecondaryKind) {
    w.secondary(kind).mm.set(mm.pack() + 1);
}

/// The SVA device translates `va` (an ATS translation request): the IOMMU walks the CPU page
/// table itself, under its own lock — the lock `arch_invalidate_secondary_tlbs` takes — so a
/// walk either precedes an invalidation (and is dropped by it) or sees the PTE it followed.
/// Returns the page it translated to, if the PTE is present.
pub fn sva_translate(w: &World, mm_id: MmId, va: u64) -> Option<crate::mm::Pfn> {
    use crate::mm::pte::Pte;
    let s = w.secondary(SecondaryKind::Sva);
    if !s.mirrors(mm_id) {
        return None;
    }
    let mut tlb = hw_lock(&s.tlb);
    let Some(Pte::Present { pfn, write, .. }) = w.pte_at(mm_id, va) else {
        return None;
    };
    install(w, &mut tlb, mm_id, va, pfn, write);
    drop(tlb);
    w.trace("sva translate", format_args!("va {:#x}", va << 12), pfn);
    Some(pfn)
}

/// Put the device's translation of `va` to `pfn` in its TLB (`tlb`, the device's TLB lock
/// held), replacing any older one, stamped with the fill epoch the lost-store oracle reads.
pub fn install(
    w: &World,
    tlb: &mut Vec<crate::mm::TlbEntry>,
    mm_id: MmId,
    va: u64,
    pfn: crate::mm::Pfn,
    write: bool,
) {
    tlb.retain(|e| e.va != va);
    tlb.push(crate::mm::TlbEntry {
        mm: mm_id,
        va,
        pfn,
        write,
        dirty: false,
        filled: w.tlb_fill_epoch(),
    });
}

/// The KVM-like device faults a translation in (KVM's `kvm_faultin_pfn`, then
/// `mmu_invalidate_retry` under its `mmu_lock`): note the invalidate sequence, read the CPU
/// PTE, and install it only if no invalidation is in progress or began meanwhile. Returns the
/// page installed, if any.
pub fn secondary_refresh(w: &World, mm_id: MmId, va: u64) -> Option<crate::mm::Pfn> {
    refresh(w, mm_id, va, SeqCheck::MmuInvalidateRetry)
}

/// A driver of the KVM-like device that re-establishes a translation without the
/// `mmu_invalidate_retry` check (the 2017/2020 KVM APIC-page bugs: b1394e745b94 reloaded the
/// APIC-access page from `invalidate_range_start`, racing the unmap it announced, until
/// e649b3f0188f moved the reload after the PTE change). An install inside a start/end window
/// is reported (I13's first clause). Returns the page installed, if any.
pub fn secondary_refresh_without_retry(w: &World, mm_id: MmId, va: u64) -> Option<crate::mm::Pfn> {
    refresh(w, mm_id, va, SeqCheck::None)
}

/// Whether a secondary MMU driver checks the notifier sequence before it installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeqCheck {
    /// `mmu_invalidate_retry`: [`secondary_refresh`].
    MmuInvalidateRetry,
    /// No check: [`secondary_refresh_without_retry`].
    None,
}

fn refresh(w: &World, mm_id: MmId, va: u64, check: SeqCheck) -> Option<crate::mm::Pfn> {
    use crate::mm::pte::Pte;
    let check_seq = check == SeqCheck::MmuInvalidateRetry;
    let s = w.secondary(SecondaryKind::Kvm);
    if !s.mirrors(mm_id) {
        return None;
    }
    let seq = s.seq.load(Ordering::SeqCst);
    if check_seq && s.in_progress.load(Ordering::SeqCst) != 0 {
        return None;
    }
    let mm = w.mms.get(mm_id);
    let (slot, i) = w.pte_slot(va);
    let table = w.tables.get(mm.pmd_table(slot)?);
    let Pte::Present { pfn, write, .. } = table.ptep_get_lockless(i) else {
        return None;
    };
    crate::race_window!("secondary refresh: CPU PTE read, translation not yet installed");
    let mut tlb = hw_lock(&s.tlb);
    let in_window = s.in_progress.load(Ordering::SeqCst) != 0;
    if check_seq && (in_window || s.seq.load(Ordering::SeqCst) != seq) {
        return None;
    }
    if in_window {
        // I13's first clause: no new translation while an invalidation is in progress —
        // the primary PTE it read may be about to change (e649b3f0188f's lesson).
        crate::check::violation(
            crate::check::Oracle::I13SecondaryMmu,
            format!(
                "KVM-like secondary MMU installs {mm_id} va {:#x} -> {pfn} inside an \
                 invalidate_range_start/end window (no mmu_invalidate_retry)",
                va << 12
            ),
        );
    }
    install(w, &mut tlb, mm_id, va, pfn, write);
    drop(tlb);
    w.trace("secondary refresh", format_args!("va {:#x}", va << 12), pfn);
    Some(pfn)
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the mmu-notifier
/// calls every path makes through `w.kernel.notifier`.
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`] (above the paths).
#[derive(Debug, Clone, Copy)]
pub struct NotifierOps {
    /// `mmu_notifier_invalidate_range_start`. Default [`invalidate_range_start`].
    pub invalidate_range_start: fn(&World, MmId, u64, u64) -> Bracket,
    /// `mmu_notifier_invalidate_range_end`. Default [`invalidate_range_end`].
    pub invalidate_range_end: fn(&World, Bracket),
    /// `mmu_notifier_arch_invalidate_secondary_tlbs`, from every CPU TLB flush. Default
    /// [`arch_invalidate_secondary_tlbs`]; alternative [`arch_invalidate_secondary_tlbs_v3_18`]
    /// (the 4.4 world: no secondary call from the flush).
    pub arch_invalidate_secondary_tlbs: fn(&World, MmId, u64, u64),
    /// 4.4-era `mmu_notifier_invalidate_page` (removed by 369ea8242c0f), called only by the
    /// 4.4 `try_to_unmap_one` / `try_to_migrate_one`. Default [`invalidate_page`].
    pub invalidate_page: fn(&World, MmId, u64),
}
