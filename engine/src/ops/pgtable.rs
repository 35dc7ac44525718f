//! `free_pgtables`: unlink each VMA from the rmap trees (`unlink_anon_vmas` under the anon_vma
//! rwsem write, `unlink_file_vma` under `i_mmap_rwsem` write), then free the page tables
//! nothing can reach any more (`free_pgd_range`), queued on the gather until its flush.

use crate::mm::{AnonVmaId, MmuGather, VmaId, World};
use crate::sync::Ordering;
use crate::sync::lockdep::might_sleep;

/// `unlink_anon_vmas`: take the VMA out of its anon_vma's tree; put the anon_vma if its tree
/// emptied.
pub fn unlink_anon_vmas(w: &World, vma_id: VmaId) {
    let vma = w.vmas.get(vma_id);
    let Some(av_id) = vma.anon_vma() else { return };
    let av = w.anon_vmas.get(av_id);
    let empty = {
        let mut tree = av.rwsem.write();
        tree.vmas.retain(|&v| v != vma_id);
        tree.vmas.is_empty()
    };
    w.trace("unlink_anon_vmas", vma_id, av_id);
    if empty {
        put_anon_vma(w, av_id);
    }
}

/// `put_anon_vma`: drop a reference; the last frees it through `anon_vma_free`.
pub fn put_anon_vma(w: &World, av_id: AnonVmaId) {
    let av = w.anon_vmas.get(av_id);
    if av.refcount.fetch_sub(1, Ordering::SeqCst) == 1 {
        anon_vma_free(w, av_id);
    }
}

/// `anon_vma_free`: if the rwsem looks locked, take and release it for write first, so that a
/// reader that got in through `page_lock_anon_vma_read`'s trylock is not left holding a lock
/// inside freed memory (mm/rmap.c's two-column comment):
///
/// ```text
/// page_lock_anon_vma_read()          VS      put_anon_vma()
///   down_read_trylock()                        atomic_dec_and_test()
///   LOCK                                       MB
///   atomic_read()                              rwsem_is_locked()
/// ```
pub fn anon_vma_free(w: &World, av_id: AnonVmaId) {
    // As mm/rmap.c's anon_vma_free: it may take the rwsem for write, so it may sleep, whether
    // or not it does this time — lockdep checks every caller's context, not just the unlucky.
    might_sleep("anon_vma_free");
    let av = w.anon_vmas.get(av_id);
    if av.rwsem.is_locked() {
        drop(av.rwsem.write());
    }
    w.trace("anon_vma_free", av_id, "");
    w.anon_vmas.free(av_id);
}

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
