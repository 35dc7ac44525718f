//! `munmap` (v6 `do_vmi_align_munmap` shape) and `MADV_DONTNEED` (`zap_page_range_single`).

use crate::check::{self, Oracle};
use crate::mm::pte::Pte;
use crate::mm::{MmId, VmaId, World};
use crate::ops::{Error, pgtable, tlb, zap};
use crate::sync::{Ordering, hw_lock};

/// `munmap` of one whole VMA: `mmap_lock` write; detach; downgrade to read; gather, zap,
/// `free_pgtables`, `tlb_finish_mmu`; free the VMA. The model unmaps whole VMAs (no split).
/// On return the range maps nothing and no TLB caches it (I14).
pub fn munmap(w: &World, mm_id: MmId, vma_id: VmaId) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let mut map = mm.mmap_lock.write();
    let Some(pos) = map.vmas.iter().position(|&v| v == vma_id) else {
        return Err(Error::Inval);
    };
    let info = w.vmas.get(vma_id).info.get();
    crate::ops::munlock::munlock_before_unmap(w, vma_id);
    // detach: faults no longer find the VMA.
    map.vmas.remove(pos);
    w.trace(
        "munmap: detach",
        vma_id,
        format_args!("{:#x}-{:#x}", info.start << 12, info.end << 12),
    );
    let map = map.downgrade();
    let mut gather = tlb::tlb_gather_mmu(w, mm_id, false);
    zap::unmap_vmas(w, &mut gather, &[vma_id], info.start, info.end);
    pgtable::free_pgtables(w, &mut gather, &[vma_id], &map.vmas);
    tlb::tlb_finish_mmu(w, gather);
    w.vmas.free(vma_id);
    // Anonymous memory (and private COW copies) goes away with the mapping.
    w.forget_anon_stores(mm_id, info.start, info.end);
    assert_range_unmapped(w, mm_id, info.start, info.end);
    drop(map);
    Ok(())
}

/// I14: nothing maps `[start, end)` of `mm` and no CPU TLB caches it.
#[track_caller]
pub fn assert_range_unmapped(w: &World, mm_id: MmId, start: u64, end: u64) {
    let mm = w.mms.get(mm_id);
    for va in start..end {
        let (slot, i) = w.pte_slot(va);
        if let Some(t) = mm.pmd_table(slot) {
            let pte = Pte::decode(w.tables.get(t).entries[i].load(Ordering::SeqCst));
            if !pte.is_none() {
                check::violation(
                    Oracle::I14ZapCompletion,
                    format!("{mm_id} va {:#x} still {pte} after munmap", va << 12),
                );
            }
        }
    }
    for (c, cpu) in w.cpus.iter().enumerate() {
        if let Some(e) = hw_lock(&cpu.tlb)
            .iter()
            .find(|e| e.mm == mm_id && start <= e.va && e.va < end)
        {
            check::violation(
                Oracle::I14ZapCompletion,
                format!(
                    "cpu{c} TLB still caches {mm_id} va {:#x} -> {} after munmap",
                    e.va << 12,
                    e.pfn
                ),
            );
        }
    }
}

/// `madvise(MADV_DONTNEED)` over `[start, end)`: `mmap_lock` read; per VMA a gather, a
/// notifier bracket and a zap (`zap_page_range_single`).
pub fn madvise_dontneed(w: &World, mm_id: MmId, start: u64, end: u64) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.read();
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
    for v in vmas {
        if w.vmas.get(v).has(crate::mm::vm::LOCKED) {
            // MADV_DONTNEED refuses VM_LOCKED VMAs (madvise_dontneed_free_valid_vma).
            continue;
        }
        let mut gather = tlb::tlb_gather_mmu(w, mm_id, false);
        zap::unmap_vmas(w, &mut gather, &[v], start, end);
        tlb::tlb_finish_mmu(w, gather);
        // Anonymous data (and private COW copies) is discarded: a later read sees zeroes or
        // the file again. Shared file data stays in the page cache.
        w.forget_anon_stores(mm_id, start, end);
    }
    w.trace(
        "madvise_dontneed",
        mm_id,
        format_args!("{:#x}-{:#x}", start << 12, end << 12),
    );
    drop(map);
    Ok(())
}
