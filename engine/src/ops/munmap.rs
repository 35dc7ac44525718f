//! `munmap` (v6 `do_vmi_align_munmap` shape) and `MADV_DONTNEED` (`zap_page_range_single`).

use crate::check::unmapped::{UnmapStart, ZapCall};
use crate::check::{self, Oracle};
use crate::mm::{MmId, VmaId, World};
use crate::ops::vma_lock::{mmap_write_downgrade, vma_mark_detached, vma_start_write};
use crate::ops::{Error, mmap};
use crate::sync::hw_lock;

/// `munmap` of one whole VMA: `mmap_lock` write; detach (6.4 `do_vmi_align_munmap`:
/// `vma_start_write`, `vma_mark_detached(vma, true)`, then out of the tree); downgrade to read
/// (`mmap_write_downgrade`, which ends the VMA write lock); gather, zap, `free_pgtables`,
/// `tlb_finish_mmu`; `remove_vma` (freed after an RCU grace period). The model unmaps whole
/// VMAs (no split). On return the range maps nothing and no TLB caches it (I14).
pub fn munmap(w: &World, mm_id: MmId, vma_id: VmaId) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let mut map = mm.mmap_lock.write();
    if !map.vmas.contains(&vma_id) {
        return Err(Error::Inval);
    }
    let began = w.unmap_begin(mm_id);
    let info = w.vmas.get(vma_id).info.get();
    // Lock the VMA before it is detached: a fault holding it read-locked finishes first, and
    // no fault may start on it once it is detached.
    vma_start_write(w, &map, vma_id);
    crate::ops::munlock::munlock_before_unmap(w, vma_id);
    // detach: faults no longer find the VMA (neither under mmap_lock nor under RCU).
    vma_mark_detached(w, &map, vma_id);
    map.vma_iter_clear(mm, vma_id);
    w.trace(
        "munmap: detach",
        vma_id,
        format_args!("{:#x}-{:#x}", info.start << 12, info.end << 12),
    );
    let map = mmap_write_downgrade(w, mm_id, map);
    let mut gather = (w.kernel.tlb.tlb_gather_mmu)(w, mm_id, false);
    (w.kernel.zap.unmap_vmas)(w, &mut gather, &[vma_id], info.start, info.end);
    (w.kernel.zap.free_pgtables)(w, &mut gather, &[vma_id], &map.vmas);
    (w.kernel.tlb.tlb_finish_mmu)(w, gather);
    remove_vma(w, vma_id);
    assert_range_unmapped(w, mm_id, info.start, info.end, ZapCall::Munmap, &began);
    unmap_returned(w, ZapCall::Munmap, &began, info.start, info.end);
    drop(map);
    Ok(())
}

/// `remove_vma` (mm/vma.c; mm/mmap.c before 6.10): the last of a detached, zapped VMA —
/// `vm_area_free`, which also ends the lost-store oracle's interest in its anonymous memory.
pub fn remove_vma(w: &World, vma_id: VmaId) {
    mmap::vm_area_free(w, vma_id);
}

/// Observer: the unmap that began at `began` returns, having torn down `[start, end)`. From
/// now on a store through a TLB entry older than it is a lost store; and the anonymous data
/// (private COW copies included) that was there is gone legitimately, so the lost-store
/// oracle stops expecting it (after MADV_DONTNEED a read sees zeroes or the file again; shared
/// file data stays in the page cache and is still expected).
pub fn unmap_returned(w: &World, call: ZapCall, began: &UnmapStart, start: u64, end: u64) {
    w.forget_anon_stores(began.mm(), start, end);
    w.unmaps.lock().returned(call, began, start, end);
}

/// I14, checked as `call` returns: nothing maps `[start, end)` of `mm` and no CPU TLB caches
/// it — even if another thread zapped the same range concurrently.
///
/// After MADV_DONTNEED the VMA stays, so a fault may legitimately refill the range before the
/// call returns: only TLB entries filled before it began (`began`) must be gone, and the PTE
/// half is checked only if no fault on the mm was in flight or began meanwhile
/// ([`crate::check::unmapped`]). After munmap nothing may map or cache the range at all.
#[track_caller]
pub fn assert_range_unmapped(
    w: &World,
    mm_id: MmId,
    start: u64,
    end: u64,
    call: ZapCall,
    began: &UnmapStart,
) {
    let op = call.name();
    let mut still_mapped = Vec::new();
    for va in start..end {
        if let Some(pte) = w.pte_at(mm_id, va).filter(|p| !p.is_none()) {
            still_mapped.push((va, pte));
        }
    }
    // Asked after the PTEs were read: a fault that installed one of them had begun by then.
    let refilled = call == ZapCall::MadvDontneed && w.unmaps.lock().faulted_since(began);
    for (va, pte) in still_mapped.into_iter().filter(|_| !refilled) {
        check::violation(
            Oracle::I14ZapCompletion,
            format!("{mm_id} va {:#x} still {pte} after {op}", va << 12),
        );
    }
    for (c, cpu) in w.cpus.iter().enumerate() {
        if let Some(e) = hw_lock(&cpu.tlb).iter().find(|e| {
            e.mm == mm_id
                && start <= e.va
                && e.va < end
                && (call == ZapCall::Munmap || e.filled < began.epoch)
        }) {
            check::violation(
                Oracle::I14ZapCompletion,
                format!(
                    "cpu{c} TLB still caches {mm_id} va {:#x} -> {} after {op}",
                    e.va << 12,
                    e.pfn
                ),
            );
        }
    }
}

/// `madvise(MADV_DONTNEED)` over `[start, end)`: `mmap_lock` read; per VMA a gather, a
/// notifier bracket and a zap (`zap_page_range_single`). On return each zapped VMA's part of
/// the range maps nothing a fault did not refill, and no TLB caches what was there (I14).
pub fn madvise_dontneed(w: &World, mm_id: MmId, start: u64, end: u64) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
    let began = w.unmap_begin(mm_id);
    let vmas: Vec<VmaId> = map
        .vmas
        .iter()
        .copied()
        .filter(|&v| {
            let i = w.vmas.get(v).info.get();
            i.start < end && start < i.end
        })
        .collect();
    if vmas.is_empty() {
        return Err(Error::Inval);
    }
    let mut zapped = Vec::new();
    for v in vmas {
        if w.vmas.get(v).has(crate::mm::vm::LOCKED) {
            // MADV_DONTNEED refuses VM_LOCKED VMAs (madvise_dontneed_free_valid_vma).
            continue;
        }
        let info = w.vmas.get(v).info.get();
        let (lo, hi) = (start.max(info.start), end.min(info.end));
        zapped.push((lo, hi));
        // madvise_dontneed_single_vma
        (w.kernel.zap.zap_page_range_single)(w, v, lo, hi);
    }
    w.trace(
        "madvise_dontneed",
        mm_id,
        format_args!("{:#x}-{:#x}", start << 12, end << 12),
    );
    for (lo, hi) in zapped {
        assert_range_unmapped(w, mm_id, lo, hi, ZapCall::MadvDontneed, &began);
        unmap_returned(w, ZapCall::MadvDontneed, &began, lo, hi);
    }
    drop(map);
    Ok(())
}
