//! The OOM reaper (mm/oom_kill.c): a kernel thread that unmaps an OOM victim's anonymous and
//! private memory while the victim is still on its way out, so that the memory comes back even
//! if the victim is stuck (4.6+, aac453635549 "mm, oom: introduce oom reaper").
//!
//! ```text
//! oom_reap_task(tsk)                      (retries up to MAX_OOM_REAP_RETRIES)
//!   oom_reap_task_mm(tsk, mm)
//!     mmap_read_trylock(mm)   else back off: "skip_task_reaping", try again later
//!     test_bit(MMF_OOM_SKIP)  -> exit_mmap shut us out: nothing to do
//!     __oom_reap_task_mm(mm)
//!       set_bit(MMF_UNSTABLE)
//!       for each vma: skip what cannot be dropped (the era's rule, below);
//!         anonymous or private: tlb_gather_mmu; invalidate_range_start(_nonblock);
//!                               unmap_page_range; invalidate_range_end; tlb_finish_mmu
//!     mmap_read_unlock(mm)
//!   set_bit(MMF_OOM_SKIP); drop the task
//! ```
//!
//! What the reaper may not touch is the era's question, and the table's entry
//! ([`OomKillOps::__oom_reap_task_mm`]):
//!
//! - ≤5.17 ([`__oom_reap_task_mm_v4_17`]): `can_madv_dontneed_vma` —
//!   `!(vm_flags & (VM_LOCKED|VM_HUGETLB|VM_PFNMAP))`. An mlocked page must stay: the old
//!   mlock scheme's state (PG_mlocked) is kept by munlock, which `exit_mmap` runs without
//!   `mmap_lock` — so the test of VM_LOCKED is only as good as the handshake that keeps the
//!   reaper away from `exit_mmap`'s munlock: 27ae357fa82b "mm, oom: fix concurrent munlock
//!   and oom reaper unmap, v3" (David Rientjes, v4.17, CVE-2018-1000200) and the
//!   `oom-reaper-mlock` scenario.
//! - 5.18+ ([`__oom_reap_task_mm`]): `vm_flags & (VM_HUGETLB|VM_PFNMAP)` only — a213e5cf71cb
//!   "mm/munlock: delete munlock_vma_pages_all(), allow oomreap": with `mlock_count` kept by
//!   rmap removal under the PTL, an mlocked page can be unmapped like any other.
//!
//! Simplifications (docs/MODEL.md §19): the reaper is given its victim's mm directly (no task
//! list, no `oom_reaper_list`, no `tsk->signal->oom_mm`: the scenario's OOM kill is
//! [`mark_oom_victim`]); `oom_lock` (4.17 takes it around both reaps, 4.19 dropped it from the
//! reaper: it serialised two reaps of one mm, which zap concurrently anyway) is not modelled;
//! the retries do not sleep (`schedule_timeout_idle(HZ/10)`); `mm_has_blockable_invalidate_notifiers`
//! (4.17) / `mmu_notifier_invalidate_range_start_nonblock` failing (4.19+) are not modelled —
//! the reaper brackets with the model's blocking start/end; no modelled VMA is VM_PFNMAP.

use crate::check::{self, Oracle};
use crate::mm::mm_struct::mmf;
use crate::mm::{MmId, VmaId, World, vm};
use crate::ops::mmap;
use crate::sync::observer::Ordering as ObsOrdering;

/// `MAX_OOM_REAP_RETRIES` (mm/oom_kill.c): how many times `oom_reap_task` tries the
/// `mmap_read_trylock` before it gives up and hides the mm anyway.
pub const MAX_OOM_REAP_RETRIES: usize = 10;

/// `mark_oom_victim` (mm/oom_kill.c): the OOM killer chose `mm`'s task — `mmgrab` the mm
/// (`tsk->signal->oom_mm`, so the reaper may look at it after `exit_mmap`) and set
/// `MMF_OOM_VICTIM` (4.16+: `mm_is_oom_victim`, read by `exit_mmap`). The kill itself
/// (SIGKILL) is the scenario's: its victim runs `exit_mmap`.
pub fn mark_oom_victim(w: &World, mm: MmId) {
    mmap::mmgrab(w, mm);
    w.mms
        .get(mm)
        .oom_flags
        .fetch_or(mmf::OOM_VICTIM, ObsOrdering::SeqCst);
    w.trace("mark_oom_victim", mm, "MMF_OOM_VICTIM, mmgrab");
}

/// `mm_is_oom_victim`.
pub fn mm_is_oom_victim(w: &World, mm: MmId) -> bool {
    test_bit(w, mm, mmf::OOM_VICTIM)
}

/// `test_bit(bit, &mm->flags)` for the OOM bits.
pub fn test_bit(w: &World, mm: MmId, bit: u32) -> bool {
    w.mms.get(mm).oom_flags.load(ObsOrdering::SeqCst) & bit != 0
}

/// `set_bit(bit, &mm->flags)` for the OOM bits.
pub fn set_bit(w: &World, mm: MmId, bit: u32) {
    w.mms.get(mm).oom_flags.fetch_or(bit, ObsOrdering::SeqCst);
}

/// `oom_reap_task` (the `oom_reaper` kthread's work on one victim): try
/// [`oom_reap_task_mm`] up to [`MAX_OOM_REAP_RETRIES`] times, then hide the mm from the OOM
/// killer (`MMF_OOM_SKIP`: reaped, or someone holds `mmap_lock` for write and will not let
/// go) and drop the victim (`put_task_struct`; here the `mmgrab` of [`mark_oom_victim`],
/// which the kernel drops when the victim's signal struct goes). Returns whether a pass ran.
pub fn oom_reap_task(w: &World, mm: MmId) -> bool {
    let mut reaped = false;
    for _ in 0..MAX_OOM_REAP_RETRIES {
        if oom_reap_task_mm(w, mm) {
            reaped = true;
            break;
        }
        crate::sync::yield_now();
    }
    set_bit(w, mm, mmf::OOM_SKIP);
    w.trace(
        "oom_reap_task: done",
        mm,
        if reaped {
            "MMF_OOM_SKIP"
        } else {
            "unable to reap, MMF_OOM_SKIP"
        },
    );
    mmap::mmdrop(w, mm);
    reaped
}

/// `oom_reap_task_mm` (4.19+ shape; 4.17 also took `oom_lock`, not modelled): back off if
/// `mmap_lock` cannot be had for read at once (false: "try again later"); do nothing if
/// `exit_mmap` has shut the reaper out — "The check for MMF_OOM_SKIP must run under mmap_sem
/// for reading because it serializes against the down_write();up_write() cycle in
/// exit_mmap()" — and otherwise reap.
pub fn oom_reap_task_mm(w: &World, mm_id: MmId) -> bool {
    let mm = w.mms.get(mm_id);
    let Some(map) = mm.mmap_lock.try_read() else {
        w.trace(
            "oom_reap_task_mm: skip_task_reaping",
            mm_id,
            "mmap_lock busy",
        );
        return false;
    };
    if test_bit(w, mm_id, mmf::OOM_SKIP) {
        w.trace("oom_reap_task_mm: skip_task_reaping", mm_id, "MMF_OOM_SKIP");
        drop(map);
        return true;
    }
    w.trace("oom_reap_task_mm: start_task_reaping", mm_id, "");
    let vmas = map.vmas.clone();
    (w.kernel.oom.__oom_reap_task_mm)(w, mm_id, &vmas);
    w.trace("oom_reap_task_mm: finish_task_reaping", mm_id, "");
    drop(map);
    true
}

/// `__oom_reap_task_mm` (5.18+, a213e5cf71cb): every VMA but VM_HUGETLB (and VM_PFNMAP, not
/// modelled) — mlocked ones too. The caller holds `mmap_lock` for read (the reaper) or is
/// `exit_mmap` with nobody else left (4.17–5.x).
pub fn __oom_reap_task_mm(w: &World, mm: MmId, vmas: &[VmaId]) {
    reap_vmas(w, mm, vmas, vm::HUGETLB);
}

/// `__oom_reap_task_mm` before 5.18 (4.17's, 27ae357fa82b's split of `__oom_reap_task_mm`
/// out of `oom_reap_task_mm`; the same loop since the reaper's introduction):
/// `can_madv_dontneed_vma` skips VM_LOCKED, VM_HUGETLB and VM_PFNMAP (not modelled).
pub fn __oom_reap_task_mm_v4_17(w: &World, mm: MmId, vmas: &[VmaId]) {
    reap_vmas(w, mm, vmas, vm::LOCKED | vm::HUGETLB);
}

/// The loop of both eras of `__oom_reap_task_mm`, skipping the VMAs with a flag of `skip`.
fn reap_vmas(w: &World, mm: MmId, vmas: &[VmaId], skip: u32) {
    // "Tell all users of get_user/copy_from_user etc... that the content is no longer
    // stable."
    set_bit(w, mm, mmf::UNSTABLE);
    for &vma_id in vmas {
        let vma = w.vmas.get(vma_id);
        // The racy test 27ae357fa82b is about: VM_LOCKED is read without anything that
        // keeps exit_mmap's munlock from clearing it the moment before.
        let flags = vma.flags.load(crate::sync::Ordering::SeqCst);
        if flags & skip != 0 {
            w.trace("__oom_reap_task_mm: skip", vma_id, "VM_LOCKED/VM_HUGETLB");
            continue;
        }
        let info = vma.info.get();
        // "Only anonymous pages have a good chance to be dropped without additional steps
        // which we cannot afford as we are OOM already."
        if info.file.is_some() && flags & vm::SHARED != 0 {
            continue;
        }
        crate::race_window!("__oom_reap_task_mm: VM_LOCKED tested, not yet unmapping");
        check_no_munlock_walk(w, mm, vma_id);
        let mut tlb = (w.kernel.tlb.tlb_gather_mmu)(w, mm, false);
        let bracket = (w.kernel.notifier.invalidate_range_start)(w, mm, info.start, info.end);
        (w.kernel.zap.unmap_page_range)(w, &mut tlb, vma_id, info.start, info.end);
        (w.kernel.notifier.invalidate_range_end)(w, bracket);
        (w.kernel.tlb.tlb_finish_mmu)(w, tlb);
        w.trace("__oom_reap_task_mm: unmap_page_range", vma_id, "");
    }
}

/// I22: the reaper is about to unmap a VMA that `exit_mmap`'s munlock
/// (`munlock_vma_pages_all`, ≤5.17) is walking with no `mmap_lock` — the walk follows the
/// VMA's page tables trusting that nothing else changes them, and the kernel oopsed when the
/// reaper zapped a PMD after `follow_page_mask` had checked `pmd_none()` (27ae357fa82b's
/// message; the model's walk reads PTEs under their PTL and would not crash, so the overlap
/// itself is reported, where the reaper starts on the VMA).
fn check_no_munlock_walk(w: &World, mm: MmId, vma: VmaId) {
    let walking = w.mms.get(mm).munlock_walk.load(ObsOrdering::SeqCst);
    if walking == vma.pack() + 1 {
        check::violation(
            Oracle::I22OomReapMunlock,
            format!(
                "__oom_reap_task_mm unmaps {vma} of {mm} while exit_mmap's munlock_vma_pages_all \
                 walks it without mmap_lock (VM_LOCKED already cleared)"
            ),
        );
    }
}

/// Mark (or clear, `None`) the VMA that an `exit_mmap` munlock walk without `mmap_lock` is
/// on: observer bookkeeping for I22 (`Mm::munlock_walk`), set by `exit_mmap`'s
/// `munlock_vma_pages_all` loop around each VMA it munlocks.
pub fn note_munlock_walk(w: &World, mm: MmId, vma: Option<VmaId>) {
    w.mms
        .get(mm)
        .munlock_walk
        .store(vma.map_or(0, |v| v.pack() + 1), ObsOrdering::SeqCst);
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the OOM
/// reaper's era. Its `Default`, the modern kernel, is implemented in [`crate::kernel`].
#[derive(Debug, Clone, Copy)]
pub struct OomKillOps {
    /// `__oom_reap_task_mm`: which VMAs the reaper unmaps. Default [`__oom_reap_task_mm`]
    /// (5.18+); alternative [`__oom_reap_task_mm_v4_17`] (skips VM_LOCKED).
    pub __oom_reap_task_mm: fn(&World, MmId, &[VmaId]),
}

impl OomKillOps {
    /// The 4.x reaper (skips VM_LOCKED).
    pub fn v4_17() -> Self {
        OomKillOps {
            __oom_reap_task_mm: __oom_reap_task_mm_v4_17,
        }
    }
}
