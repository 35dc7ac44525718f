//! `free_pgtables`: unlink each VMA from the rmap trees (`unlink_anon_vmas` under the anon_vma
//! rwsem write, `unlink_file_vma` under `i_mmap_rwsem` write), then free the page tables
//! nothing can reach any more (`free_pgd_range`), queued on the gather until its flush.

use crate::mm::{MmuGather, VmaId, World};
use crate::sync::Ordering;

pub use crate::ops::anon_vma::{anon_vma_free, put_anon_vma, unlink_anon_vmas};

/// `unlink_file_vma`: remove the VMA from `i_mmap` under `i_mmap_rwsem` write.
pub fn unlink_file_vma(w: &World, vma_id: VmaId) {
    let Some(f) = w.vmas.get(vma_id).info.get().file else {
        return;
    };
    w.files.get(f).i_mmap.write().vmas.retain(|&v| v != vma_id);
    w.trace("unlink_file_vma", vma_id, f);
}

/// `free_pgtables`: unlink `vmas` from rmap, then queue for freeing every PTE table of theirs
/// that no remaining VMA (`keep`) of the mm overlaps. The tables are freed by
/// `tlb_finish_mmu` after its flush.
pub fn free_pgtables(w: &World, tlb: &mut MmuGather, vmas: &[VmaId], keep: &[VmaId]) {
    for &v in vmas {
        unlink_anon_vmas(w, v);
        unlink_file_vma(w, v);
    }
    let per = w.cfg.ptes_per_table as u64;
    let mm = w.mms.get(tlb.mm);
    let kept: Vec<_> = keep.iter().map(|&k| w.vmas.get(k).info.get()).collect();
    for &v in vmas {
        let info = w.vmas.get(v).info.get();
        for slot in (info.start / per)..=((info.end - 1) / per) {
            let (lo, hi) = (slot * per, (slot + 1) * per);
            if kept.iter().any(|k| k.start < hi && lo < k.end) {
                continue;
            }
            let Some(tid) = mm.pmd_table(slot as usize) else {
                continue;
            };
            // free_pgd_range: no lock; nothing can reach the table through a VMA any more.
            // Lockless walkers (the hardware) are fenced by the flush before the free.
            mm.pmd[slot as usize].store(0, Ordering::SeqCst);
            tlb.pte_free_tlb(tid, lo);
            w.trace("free_pgd_range", tid, format_args!("slot {slot}"));
        }
    }
}
