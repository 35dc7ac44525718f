//! `__vma_adjust` (mm/mmap.c, v4.x .. v6.2; `vma_prepare` / `vma_complete` in mm/vma.c since
//! 6.3): change a VMA's bounds — and perhaps its neighbour's, remove the neighbour, or insert
//! the other half of a split — under `mmap_lock` held for write *and* the rmap locks held for
//! write, because rmap walkers read `vm_start` / `vm_pgoff` under the rmap lock alone.
//!
//! Locks, in the kernel's order (the mm/rmap.c header): the caller's `mmap_lock` (write), then
//! `i_mmap_rwsem` of the VMA's file (write, `i_mmap_lock_write`), then the root rwsem of the
//! VMA's anon_vma — or of `next`'s when the VMA has none and a boundary moves
//! (`anon_vma_lock_write(anon_vma)`). One anon_vma root is taken: the VMA's chain and its
//! neighbour's are of one family (same `->anon_vma`, `is_mergeable_anon_vma`).
//! After both are dropped, a removed neighbour's chain is torn down (`anon_vma_merge` →
//! `unlink_anon_vmas`, which takes the root again) and the VMA freed (`vm_area_free`).
//!
//! Simplifications, each said where it is made: the i_mmap and anon_vma trees are sets, not
//! interval trees keyed by the bounds, so `vma_interval_tree_remove` / `_insert` around the
//! change and `anon_vma_interval_tree_pre_update_vma` / `_post_update_vma` have nothing to
//! re-key (the locks they run under are taken all the same); no uprobes, no
//! `vma_gap_update` / maple-tree bookkeeping beyond the mm's VMA set, no mempolicy.

use crate::mm::address_space::IMmap;
use crate::mm::mm_struct::MmMap;
use crate::mm::vma::VmaBoundsHeld;
use crate::mm::{AnonVmaId, FileId, MmId, VmaId, World};
use crate::ops::Error;
use crate::ops::anon_vma::{AnonVmaWriteLocked, anon_vma_lock_write, unlink_anon_vmas};
use crate::ops::vma_adjust_trans_huge::vma_adjust_trans_huge;
use crate::ops::vma_lock::{vma_mark_detached, vma_start_write};
use crate::sync::RwSemWriteGuard;

/// What `__vma_adjust` holds while it changes bounds and trees: the proof
/// [`crate::mm::Vma::adjust_bounds`] asks for (`mmap_lock` write is the caller's: its mm is
/// recorded here when the rmap locks are taken under it).
#[derive(Debug)]
pub struct VmaAdjustLocks<'w> {
    mm: MmId,
    i_mmap: Option<(FileId, RwSemWriteGuard<'w, IMmap>)>,
    anon_vma: Option<AnonVmaWriteLocked<'w>>,
}

impl VmaAdjustLocks<'_> {
    /// The file's `i_mmap` tree, held for write.
    pub fn i_mmap(&mut self) -> Option<&mut IMmap> {
        self.i_mmap.as_mut().map(|(_, g)| &mut **g)
    }

    /// `anon_vma_unlock_write`, then `i_mmap_unlock_write` (the reverse of their order).
    pub fn unlock(mut self) {
        drop(self.anon_vma.take());
        drop(self.i_mmap.take());
    }
}

impl VmaBoundsHeld for VmaAdjustLocks<'_> {
    fn mmap_write(&self) -> MmId {
        self.mm
    }
    fn i_mmap_write(&self) -> Option<FileId> {
        self.i_mmap.as_ref().map(|(f, _)| *f)
    }
    fn anon_vma_root_write(&self) -> Option<AnonVmaId> {
        self.anon_vma.as_ref().map(|l| l.root_id())
    }
}

/// The rmap locks of `__vma_adjust` (6.3+: `vma_prepare`), taken under the caller's
/// `mmap_lock` write (`_map`, the proof): `i_mmap_lock_write(mapping)` for a file VMA, then
/// `anon_vma_lock_write(anon_vma)`.
pub fn vma_prepare<'w>(
    w: &'w World,
    _map: &RwSemWriteGuard<'_, MmMap>,
    mm: MmId,
    file: Option<FileId>,
    anon_vma: Option<AnonVmaId>,
) -> VmaAdjustLocks<'w> {
    let i_mmap = file.map(|f| (f, w.files.get(f).i_mmap.write()));
    let anon_vma = anon_vma.map(|av| anon_vma_lock_write(w, av));
    VmaAdjustLocks {
        mm,
        i_mmap,
        anon_vma,
    }
}

/// The VMA of `map` that follows `vma` in address order (`vma->vm_next`).
pub fn vma_next(w: &World, map: &MmMap, vma: VmaId) -> Option<VmaId> {
    let end = w.vmas.get(vma).info.get().end;
    map.vmas
        .iter()
        .copied()
        .filter(|&v| w.vmas.get(v).info.get().start >= end)
        .min_by_key(|&v| w.vmas.get(v).info.get().start)
}

/// The VMA of `map` that precedes `vma` in address order (`vma->vm_prev`).
pub fn vma_prev(w: &World, map: &MmMap, vma: VmaId) -> Option<VmaId> {
    let start = w.vmas.get(vma).info.get().start;
    map.vmas
        .iter()
        .copied()
        .filter(|&v| w.vmas.get(v).info.get().end <= start)
        .max_by_key(|&v| w.vmas.get(v).info.get().start)
}

/// `__vma_adjust(vma, start, end, pgoff, insert, expand)` (mm/mmap.c, 5.19 / 6.0): give `vma`
/// the bounds `[start, end)` at `pgoff`, under the caller's `mmap_lock` held for write (`map`).
///
/// * `insert` (`__split_vma`): the other half, already set up and linked into the anon_vma
///   trees by `anon_vma_clone`, is linked into `i_mmap` (`__vma_link_file`) and the mm.
/// * Otherwise, against `next = vma->vm_next` (the `vma_merge` cases of mm/mmap.c's table):
///   `end` covers all of `next` — `next` is removed (`remove_next = 1`, cases 1 and 7), and
///   the VMA after it too (`remove_next = 2`, case 6), or, when `next` is `expand`, `vma` is
///   the one removed and `next` grows down over it (`remove_next = 3`, case 8); `end` covers
///   part of `next` — the boundary moves up (`adjust_next > 0`, case 5); `end` is below
///   `vma->vm_end` — the boundary moves down (`adjust_next < 0`, case 4). The VMA that grows
///   imports the shrinking one's anon_vma and chain if it has none ("Easily overlooked: when
///   mprotect shifts the boundary, make sure the expanding vma has anon_vma set if the
///   shrinking vma had, to cover any anon pages imported").
///
/// Returns the VMA that remains at `start` (`vma`, or `next` in case 8).
#[allow(clippy::too_many_arguments)]
pub fn __vma_adjust(
    w: &World,
    map: &mut RwSemWriteGuard<'_, MmMap>,
    vma: VmaId,
    start: u64,
    end: u64,
    pgoff: u64,
    insert: Option<VmaId>,
    expand: Option<VmaId>,
) -> Result<VmaId, Error> {
    let orig_vma = vma;
    let mut vma = vma;
    let mut end = end;
    let mut next = vma_next(w, map, vma);
    let mut remove_next = 0;
    let mut adjust_next: i64 = 0;
    if let (Some(n), None) = (next, insert) {
        let ninfo = w.vmas.get(n).info.get();
        let mut exporter = None;
        let mut importer = None;
        if end >= ninfo.end {
            if Some(n) == expand {
                // The only case where we don't expand "vma" and we expand "next" instead is
                // case 8: remove_next == 3 means we're removing "vma" and that to do so we
                // swapped "vma" and "next".
                remove_next = 3;
                // `vma_merge` passed the bounds `next` (now `vma`) grows to: the removed
                // VMA's start, next's end, next's pgoff minus the removed VMA's length.
                next = Some(vma);
                vma = n;
            } else {
                // case 1, 6, 7: remove_next == 2 is case 6, remove_next == 1 is case 1 or 7.
                remove_next = 1 + usize::from(end > ninfo.end);
                // trim end to next, for case 6 first pass
                end = ninfo.end;
            }
            exporter = next;
            importer = Some(vma);
            // If next doesn't have anon_vma, import from vma after next, if the vma overlaps
            // with it.
            if remove_next == 2 && w.vmas.get(n).anon_vma().is_none() {
                exporter = vma_next(w, map, n);
            }
        } else if end > ninfo.start {
            // vma expands, overlapping part of the next: mprotect case 5 shifting the
            // boundary up.
            adjust_next = (end - ninfo.start) as i64;
            exporter = Some(n);
            importer = Some(vma);
        } else if end < w.vmas.get(vma).info.get().end {
            // vma shrinks, and !insert tells it's not split_vma inserting another: so it must
            // be mprotect case 4 shifting the boundary down.
            adjust_next = -((w.vmas.get(vma).info.get().end - end) as i64);
            exporter = Some(vma);
            importer = Some(n);
        }
        if let (Some(e), Some(i)) = (exporter, importer) {
            // dup_anon_vma(importer, exporter) (6.4+ name; 6.4's `vma_merge` calls it before
            // `vma_prepare`, as this does before the rmap locks)
            (w.kernel.anon_vma.dup_anon_vma)(w, map, i, e)?;
        }
    }
    let mm_id = w.vmas.get(vma).info.get().mm;
    loop {
        // again: vma_adjust_trans_huge(orig_vma, start, end, adjust_next) — no huge PMD may
        // straddle a bound about to move (under mmap_lock for write, before the rmap locks).
        vma_adjust_trans_huge(w, orig_vma, start, end, next.map(|n| (n, adjust_next)));
        let v = w.vmas.get(vma);
        let info = v.info.get();
        let mut anon_vma = v.anon_vma();
        if anon_vma.is_none() && adjust_next != 0 {
            anon_vma = next.and_then(|n| w.vmas.get(n).anon_vma());
        }
        // 6.4/6.5's vma_prepare write-locks, before the rmap locks, every VMA whose bounds or
        // presence change: vp->vma, vp->adj_next, vp->remove (and vp->remove2, the second
        // pass here). The inserted half is locked too — 6.5 left it ("vp->insert is always a
        // newly created VMA, no need for locking"), and "mm: always lock new vma before
        // inserting into vma tree" (6.6) locked it, since it is visible to lockless faults
        // from its insertion on.
        vma_start_write(w, map, vma);
        if let Some(n) = next.filter(|_| adjust_next != 0 || remove_next != 0) {
            vma_start_write(w, map, n);
        }
        if let Some(ins) = insert {
            vma_start_write(w, map, ins);
        }
        let mut locks = vma_prepare(w, map, mm_id, info.file, anon_vma);
        if let (Some(ins), Some(tree)) = (insert, locks.i_mmap()) {
            // __vma_link_file(insert)
            tree.vmas.push(ins);
        }
        let root = |id: VmaId| {
            w.vmas
                .get(id)
                .anon_vma()
                .map(|av| w.anon_vmas.get(av).root())
        };
        // Simplification: vma_interval_tree_remove / anon_vma_interval_tree_pre_update_vma
        // here, and their _insert / _post_update_vma after, re-key interval trees the model
        // keeps as sets (module docs).
        v.adjust_bounds(&locks, root(vma), start, end, pgoff);
        if let (Some(n), true) = (next, adjust_next != 0) {
            let ni = w.vmas.get(n).info.get();
            let s = ni.start.wrapping_add_signed(adjust_next);
            let p = ni.pgoff.wrapping_add_signed(adjust_next);
            w.vmas.get(n).adjust_bounds(&locks, root(n), s, ni.end, p);
        }
        let removed = if remove_next != 0 { next } else { None };
        if let Some(n) = removed {
            // __vma_unlink(mm, next, vma); __remove_shared_vm_struct(next, file, mapping);
            // vma_complete: vma_mark_detached(vp->remove, true)
            vma_mark_detached(w, map, n);
            map.vma_iter_clear(w.mms.get(mm_id), n);
            if let Some(tree) = locks.i_mmap() {
                tree.vmas.retain(|&x| x != n);
            }
        } else if let Some(ins) = insert {
            // __insert_vm_struct(mm, insert)
            map.vma_iter_store(w.mms.get(mm_id), ins);
            map.vmas.sort_by_key(|&x| w.vmas.get(x).info.get().start);
        }
        locks.unlock();
        w.trace(
            "__vma_adjust",
            vma,
            format_args!(
                "{:#x}-{:#x}{}",
                start << 12,
                end << 12,
                match (removed, insert) {
                    (Some(_), _) => " (remove next)",
                    (None, Some(_)) => " (insert)",
                    _ if adjust_next != 0 => " (adjust next)",
                    _ => "",
                }
            ),
        );
        let Some(n) = removed else {
            return Ok(vma);
        };
        if w.vmas.get(n).anon_vma().is_some() {
            anon_vma_merge(w, vma, n);
        }
        // vm_area_free(next): not `mmap::vm_area_free`, which ends the lost-store oracle's
        // interest in the VMA's range — that memory lives on, in `vma` — but freed after an
        // RCU grace period all the same (a lockless fault may have found it).
        w.trace("vm_area_free", n, "merged");
        crate::ops::mmap::vm_area_free_rcu(w, n);
        if remove_next == 2 {
            // case 6, second pass: the VMA after next goes too.
            remove_next = 1;
            next = vma_next(w, map, vma);
            end = next.map_or(end, |x| w.vmas.get(x).info.get().end);
            continue;
        }
        return Ok(vma);
    }
}

/// `anon_vma_merge(vma, next)` (mm/rmap.h): the removed `next` shares `vma`'s anon_vma
/// (`VM_BUG_ON_VMA(vma->anon_vma != next->anon_vma, vma)`), so its chain is simply torn down
/// (`unlink_anon_vmas(next)`). That `vma`'s chain covers every anon_vma `next`'s pages point
/// at is `is_mergeable_anon_vma`'s assumption — the one 2555283eb40d restored.
pub fn anon_vma_merge(w: &World, vma: VmaId, next: VmaId) {
    let (a, b) = (w.vmas.get(vma).anon_vma(), w.vmas.get(next).anon_vma());
    assert_eq!(a, b, "anon_vma_merge of VMAs with different anon_vmas");
    w.trace("anon_vma_merge", vma, next);
    unlink_anon_vmas(w, next);
}
