//! fork's address-space copy (kernel/fork.c `dup_mm` / `dup_mmap`, mm/memory.c
//! `copy_page_range` / `copy_pte_range` / `copy_present_pte` / `copy_present_page`), 6.x shape.
//!
//! Locks, in order: the parent's `mmap_lock` for write, then the child's with
//! `mmap_write_lock_nested(mm, SINGLE_DEPTH_NESTING)` ("Not linked in yet - no deadlock
//! potential"); per VMA the anon_vma root rwsem for write (`anon_vma_fork`) and, for a file
//! VMA, `i_mmap_rwsem` for write (the child VMA inserted after the parent's); then per PTE
//! table the child's PTL (`pte_alloc_map_lock`) and, nested under it, the parent's
//! (`spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)`). The parent's TLBs are flushed
//! (`flush_tlb_mm(oldmm)`) before its `mmap_lock` is released: its PTEs were write-protected
//! under it.
//!
//! After fork the parent's and the child's anonymous pages are shared, mapped read-only in
//! both (mapcount 2), until a write fault copies or reuses them (`do_wp_page`).
//!
//! Simplifications, each said where it is made: no `VM_DONTCOPY` / `VM_WIPEONFORK` (no
//! madvise for them), no uprobes, userfaultfd, mempolicy or khugepaged hooks; a hugetlb VMA is
//! not copied (`copy_hugetlb_page_range` is not modelled: the child faults its pages in, which
//! is the kernel's behaviour for a shared hugetlb VMA and not for a private one with pages);
//! `is_cow_mapping(flags)` is `!VM_SHARED`, since every model VMA is mapped writable
//! (`VM_MAYWRITE` always set); `src_mm->write_protect_seq` (57efa1fe5957) is not modelled: its
//! only reader is GUP-fast, which the model does not have.

use crate::mm::mm_struct::{MmMap, mmf};
use crate::mm::page::pg;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{MmId, Pfn, VmaId, World};
use crate::ops::pgtable_generic::{LockedPte, pte_offset_map_lock};
use crate::ops::vma_lock::{mmap_write_unlock, vma_start_write};
use crate::ops::{Error, exit, fault, mlock, mmap, page_alloc, rmap};
use crate::sync::Ordering;

pub use crate::sync::lockdep::SINGLE_DEPTH_NESTING;

/// What `copy_present_pte` asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyPte {
    /// Copied.
    Done,
    /// `-EAGAIN`: a page must be allocated for the child outside the PTLs
    /// (`folio_prealloc`), then the copy retried from this PTE.
    Again,
}

/// `is_cow_mapping(vm_flags)`: private (see the module docs for `VM_MAYWRITE`).
pub fn is_cow_mapping(flags: u32) -> bool {
    flags & vm::SHARED == 0
}

/// `dup_mm`: a new mm (`mm_alloc`) and a copy of `oldmm`'s address space into it
/// (`dup_mmap`, through the table). On failure the half-built mm is torn down (`mmput`).
pub fn dup_mm(w: &World, oldmm: MmId) -> Result<MmId, Error> {
    let mm = mmap::mm_alloc(w)?;
    w.mms.get(mm).flags.store(0, Ordering::SeqCst);
    if let Err(e) = (w.kernel.fork.dup_mmap)(w, mm, oldmm) {
        exit::exit_mmap(w, mm);
        return Err(e);
    }
    w.trace("dup_mm", mm, oldmm);
    Ok(mm)
}

/// `dup_mmap(mm, oldmm)` (kernel/fork.c, 6.5+): see the module docs for the locks. Per VMA:
/// `vma_start_write(mpnt)` on the parent's VMA (fb49c455323f "fork: lock VMAs of the parent
/// process when forking", v6.5-rc1), `vm_area_dup` (VM_LOCKED cleared in the child:
/// `vm_flags_clear(tmp, VM_LOCKED_MASK)`), `anon_vma_fork`, the file VMA into `i_mmap`, the
/// VMA into the child's tree, and `copy_page_range`. The parent's VMAs stay write-locked until
/// `mmap_write_unlock(oldmm)`, after `flush_tlb_mm(oldmm)`: no fault of the parent runs on a
/// VMA whose page tables fork is write-protecting, nor before the TLB entries that still
/// allow writes to the now shared pages are gone.
pub fn dup_mmap(w: &World, mm_id: MmId, oldmm_id: MmId) -> Result<(), Error> {
    dup_mmap_locking(w, mm_id, oldmm_id, true)
}

/// `dup_mmap` of v6.4 (per-VMA locks, before fb49c455323f): the parent's VMAs are not
/// write-locked — `mmap_lock` held for write no longer keeps the parent's faults out, since a
/// fault may run under the VMA lock alone. A write fault of another parent thread can then
/// copy a page fork has just write-protected while a third thread still writes to the old
/// page through a writable TLB entry `flush_tlb_mm(oldmm)` has not yet flushed: the store
/// lands in the page the child keeps and is lost to the parent (bugzilla 217624, memory
/// corruption in Go programs). Per-VMA locks were also switched off meanwhile (f96c48670319
/// "mm: disable CONFIG_PER_VMA_LOCK until its fixed"; 6.4.3 took both).
pub fn dup_mmap_v6_4(w: &World, mm_id: MmId, oldmm_id: MmId) -> Result<(), Error> {
    dup_mmap_locking(w, mm_id, oldmm_id, false)
}

/// `dup_mmap`'s body; `lock_parent_vmas` is what fb49c455323f added.
fn dup_mmap_locking(
    w: &World,
    mm_id: MmId,
    oldmm_id: MmId,
    lock_parent_vmas: bool,
) -> Result<(), Error> {
    let oldmm = w.mms.get(oldmm_id);
    let mm = w.mms.get(mm_id);
    let old_map = oldmm.mmap_lock.write();
    // Not linked in yet - no deadlock potential.
    let mut map = mm.mmap_lock.write_nested(SINGLE_DEPTH_NESTING);
    w.trace("dup_mmap", mm_id, oldmm_id);
    let mut result = Ok(());
    for &mpnt in &old_map.vmas {
        if lock_parent_vmas {
            vma_start_write(w, &old_map, mpnt);
        }
        if let Err(e) = dup_one_vma(w, mm_id, &mut map, mpnt) {
            result = Err(e);
            break;
        }
    }
    mmap_write_unlock(w, mm_id, map);
    crate::race_window!("dup_mmap: parent's PTEs write-protected, its TLBs not yet flushed");
    // flush_tlb_mm(oldmm): the parent's write-protected PTEs, before its mmap_lock goes.
    (w.kernel.tlb.flush_tlb_range)(w, oldmm_id, 0, u64::MAX);
    mmap_write_unlock(w, oldmm_id, old_map);
    result
}

/// One VMA of `dup_mmap`'s loop: `vm_area_dup`, `anon_vma_fork`, the i_mmap link, the VMA into
/// the child's tree (`vma_iter_bulk_store`), `copy_page_range`.
fn dup_one_vma(w: &World, mm_id: MmId, child: &mut MmMap, mpnt: VmaId) -> Result<(), Error> {
    let src = w.vmas.get(mpnt);
    // vm_area_dup: a copy of the VMA, in the child mm, with an empty anon_vma_chain and a
    // fresh VMA lock (vma_lock_alloc).
    let (tmp, vma) = w.vmas.alloc().ok_or(Error::Oom)?;
    vma.vm_lock.vma_lock_alloc();
    let mut info = src.info.get();
    info.mm = mm_id;
    vma.info.set(info);
    vma.flags.store(
        src.flags.load(Ordering::SeqCst) & !vm::LOCKED,
        Ordering::SeqCst,
    );
    vma.set_anon_vma(src.anon_vma());
    vma.chain_clear();
    w.trace("vm_area_dup", tmp, mpnt);
    if let Err(e) = (w.kernel.anon_vma.anon_vma_fork)(w, tmp, mpnt) {
        vma.set_anon_vma(None);
        crate::ops::anon_vma::unlink_anon_vmas(w, tmp);
        w.vmas.free(tmp);
        return Err(e);
    }
    if let Some(f) = info.file {
        // i_mmap_lock_write; vma_interval_tree_insert_after(tmp, mpnt, &mapping->i_mmap)
        let mut imap = w.files.get(f).i_mmap.write();
        let at = imap
            .vmas
            .iter()
            .position(|&v| v == mpnt)
            .map_or(imap.vmas.len(), |p| p + 1);
        imap.vmas.insert(at, tmp);
    }
    child.vma_iter_store(w.mms.get(mm_id), tmp);
    (w.kernel.fork.copy_page_range)(w, tmp, mpnt)
}

/// `vma_needs_copy`: copy the page tables only where a fault could not refill them — the
/// source has an anon_vma (private anonymous pages, or COW copies of file pages). (Also
/// VM_PFNMAP / VM_MIXEDMAP and userfaultfd-wp, which the model does not have.)
pub fn vma_needs_copy(w: &World, _dst_vma: VmaId, src_vma: VmaId) -> bool {
    w.vmas.get(src_vma).anon_vma().is_some()
}

/// `copy_page_range(dst_vma, src_vma)`: skipped unless `vma_needs_copy`; for a COW mapping,
/// inside an mmu-notifier bracket on the parent (`MMU_NOTIFY_PROTECTION_PAGE`: its PTEs lose
/// their write bit); the PTE tables through `copy_pte_range` (the table's).
pub fn copy_page_range(w: &World, dst_vma: VmaId, src_vma: VmaId) -> Result<(), Error> {
    if !vma_needs_copy(w, dst_vma, src_vma) {
        return Ok(());
    }
    let src = w.vmas.get(src_vma);
    let info = src.info.get();
    if src.has(vm::HUGETLB) {
        // Simplification: copy_hugetlb_page_range is not modelled (module docs).
        return Ok(());
    }
    let is_cow = is_cow_mapping(src.flags.load(Ordering::SeqCst));
    let bracket = is_cow
        .then(|| (w.kernel.notifier.invalidate_range_start)(w, info.mm, info.start, info.end));
    let r = (w.kernel.fork.copy_pte_range)(w, dst_vma, src_vma, info.start, info.end);
    if let Some(b) = bracket {
        (w.kernel.notifier.invalidate_range_end)(w, b);
    }
    r
}

/// `copy_pte_range` over `[start, end)`, one PTE table at a time: the child's table allocated
/// and its PTL taken (`pte_alloc_map_lock`), the parent's PTL nested under it
/// (`spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)`); every present PTE through
/// `copy_present_pte` (the table's), non-present ones through `copy_nonpresent_pte`. On
/// `-EAGAIN` both PTLs are dropped, a page is allocated for the child (`folio_prealloc`) and
/// the copy goes on from the same PTE (`goto again`). A source table that does not exist
/// (`pmd_none`) is skipped.
pub fn copy_pte_range(
    w: &World,
    dst_vma: VmaId,
    src_vma: VmaId,
    start: u64,
    end: u64,
) -> Result<(), Error> {
    let src_mm_id = w.vmas.get(src_vma).info.get().mm;
    let dst_mm_id = w.vmas.get(dst_vma).info.get().mm;
    let src_mm = w.mms.get(src_mm_id);
    let dst_mm = w.mms.get(dst_mm_id);
    let per = w.cfg.ptes_per_table as u64;
    let mut prealloc: Option<Pfn> = None;
    let mut addr = start;
    let mut result = Ok(());
    while addr < end {
        let table_end = ((addr / per + 1) * per).min(end);
        let (slot, _) = w.pte_slot(addr);
        if w.thp.load(std::sync::atomic::Ordering::SeqCst) && {
            let pmd = src_mm.pmdp_get_lockless(slot);
            pmd.is_swap_pmd() || pmd.is_trans_huge()
        } {
            // copy_pmd_range → copy_huge_pmd (a whole PMD: the THP VMA covers it); its
            // -EAGAIN fallback split the parent's PMD, whose table is copied below.
            match crate::ops::huge_memory::copy_huge_pmd(w, dst_vma, src_vma, addr) {
                Ok(crate::ops::huge_memory::CopyHugePmd::Copied) => {
                    addr = table_end;
                    continue;
                }
                Ok(crate::ops::huge_memory::CopyHugePmd::PteLevel) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let Some(src_tid) = src_mm.pmd_table(slot) else {
            addr = table_end;
            continue;
        };
        if let Err(e) = fault::pte_alloc(w, dst_mm, dst_mm_id, addr) {
            result = Err(e);
            break;
        }
        let Some(mut dst) = pte_offset_map_lock(w, dst_mm_id, addr) else {
            result = Err(Error::Oom);
            break;
        };
        let src_table = w.tables.get(src_tid);
        let src_ptl = w
            .pte_lockptr(src_mm, src_table)
            .lock_nested(SINGLE_DEPTH_NESTING);
        let (_, index) = w.pte_slot(addr);
        let mut src = LockedPte::new(w, src_mm_id, addr, src_table, index, src_ptl);
        let mut again = false;
        let mut copied = 0;
        while addr < table_end {
            dst.move_to(addr);
            src.move_to(addr);
            let ptent = src.get();
            match ptent {
                Pte::None => {}
                Pte::Present { .. } => {
                    match (w.kernel.fork.copy_present_pte)(
                        w,
                        dst_vma,
                        src_vma,
                        &dst,
                        &src,
                        ptent,
                        &mut prealloc,
                    ) {
                        CopyPte::Done => copied += 1,
                        CopyPte::Again => {
                            again = true;
                            break;
                        }
                    }
                }
                Pte::Migration { .. } | Pte::Swap { .. } => {
                    copy_nonpresent_pte(w, dst_vma, src_vma, &dst, &src, ptent);
                    copied += 1;
                }
            }
            addr += 1;
        }
        drop(src);
        drop(dst);
        // add_mm_rss_vec(dst_mm, rss)
        dst_mm
            .rss
            .fetch_add(copied, std::sync::atomic::Ordering::Relaxed);
        if again {
            match page_alloc::alloc_page(w) {
                Some(p) => prealloc = Some(p),
                None => {
                    result = Err(Error::Oom);
                    break;
                }
            }
        }
    }
    if let Some(p) = prealloc {
        page_alloc::put_page(w, p);
    }
    result
}

/// `copy_nonpresent_pte`: a migration entry is copied, a writable one made readable in both
/// for a COW mapping (`make_readable_migration_entry`); the page's rmap is not duplicated — a
/// migration entry holds none, `remove_migration_pte` adds one per entry. A swap entry's slot
/// gets one more count (`swap_duplicate`, under both PTLs) and, 5.19+ (1493a1913e34), "mark
/// the swap entry as shared": an exclusive entry loses `pte_swp_exclusive` in the parent, and
/// the child's copy is the shared one.
///
/// Simplification: `swap_duplicate` cannot fail here (`-ENOMEM` needs a count continuation,
/// not modelled; reported as a BUG by `__swap_duplicate`), so `copy_pte_range`'s `-EIO` /
/// `add_swap_count_continuation` retry is not modelled.
pub fn copy_nonpresent_pte(
    w: &World,
    _dst_vma: VmaId,
    src_vma: VmaId,
    dst: &LockedPte<'_>,
    src: &LockedPte<'_>,
    ptent: Pte,
) {
    let mut pte = ptent;
    if let Pte::Swap { offset, exclusive } = ptent {
        let _ = crate::ops::swapfile::swap_duplicate(w, offset);
        if exclusive {
            pte = Pte::Swap {
                offset,
                exclusive: false,
            };
            src.set_pte_at(pte);
        }
    }
    if let Pte::Migration { pfn, write: true } = ptent
        && is_cow_mapping(w.vmas.get(src_vma).flags.load(Ordering::SeqCst))
    {
        pte = Pte::Migration { pfn, write: false };
        src.set_pte_at(pte);
    }
    dst.set_pte_at(pte);
}

/// `-EBUSY` of `page_try_dup_anon_rmap`: the page may be pinned and must not be shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// `page_needs_cow_for_dma(vma, page)` (5.13+; `mm->has_pinned` before a458b76a4171):
/// `is_cow_mapping && MMF_HAS_PINNED && page_maybe_dma_pinned` — the folio's count (a subpage
/// of a PTE-mapped THP is pinned through its head, [`try_grab_page`](crate::ops::gup::try_grab_page)).
pub fn page_needs_cow_for_dma(w: &World, vma: VmaId, pfn: Pfn) -> bool {
    let v = w.vmas.get(vma);
    is_cow_mapping(v.flags.load(Ordering::SeqCst))
        && w.mms.get(v.info.get().mm).flags.load(Ordering::SeqCst) & mmf::HAS_PINNED != 0
        && w.page(w.compound_head(pfn)).maybe_dma_pinned()
}

/// `page_try_dup_anon_rmap(page, false, src_vma)` (5.19+, fb3d824d1a46): a shared page gets
/// another mapping; an exclusive one (PG_anon_exclusive) loses its exclusivity — unless it
/// may be pinned, and then it must not be shared (`-EBUSY`: copy it for the child).
pub fn page_try_dup_anon_rmap(w: &World, pfn: Pfn, src_vma: VmaId) -> Result<(), Busy> {
    let page = w.page(pfn);
    if page.test(pg::ANON_EXCLUSIVE) {
        if page_needs_cow_for_dma(w, src_vma, pfn) {
            return Err(Busy);
        }
        page.test_clear(pg::ANON_EXCLUSIVE);
    }
    page_dup_rmap(w, pfn);
    Ok(())
}

/// `page_dup_rmap` / `page_dup_file_rmap`: one more mapping of a page already mapped.
pub fn page_dup_rmap(w: &World, pfn: Pfn) {
    let page = w.page(pfn);
    page.mapcount.fetch_add(1, Ordering::SeqCst);
    w.trace("page_dup_rmap", pfn, page.describe());
}

/// The PTE copy itself: COW mapping and writable → `ptep_set_wrprotect` of the parent's PTE and
/// a read-only child PTE; a shared mapping's child PTE is clean; the child's is old.
fn finish_copy(w: &World, src_vma: VmaId, dst: &LockedPte<'_>, src: &LockedPte<'_>, ptent: Pte) {
    let Pte::Present {
        pfn,
        mut write,
        mut dirty,
        ..
    } = ptent
    else {
        return;
    };
    let flags = w.vmas.get(src_vma).flags.load(Ordering::SeqCst);
    if is_cow_mapping(flags) && write {
        src.ptep_set_wrprotect();
        write = false;
    }
    if flags & vm::SHARED != 0 {
        dirty = false;
    }
    dst.set_pte_at(Pte::Present {
        pfn,
        write,
        dirty,
        young: false,
    });
}

/// `copy_present_pte` (5.19+, PageAnonExclusive; `page_try_dup_anon_rmap` from fb3d824d1a46): an anonymous
/// page is shared with the child through `page_try_dup_anon_rmap` — or, if it is exclusive
/// and may be pinned, copied for the child (`copy_present_page`); a file page gets another
/// mapping. Then the write-protect of both (see `finish_copy`).
pub fn copy_present_pte(
    w: &World,
    dst_vma: VmaId,
    src_vma: VmaId,
    dst: &LockedPte<'_>,
    src: &LockedPte<'_>,
    ptent: Pte,
    prealloc: &mut Option<Pfn>,
) -> CopyPte {
    let Some(pfn) = ptent.pfn() else {
        return CopyPte::Done;
    };
    page_alloc::get_page(w, pfn);
    if w.page(pfn).is_anon() {
        if page_try_dup_anon_rmap(w, pfn, src_vma).is_err() {
            // Page may be pinned: we have to copy.
            page_alloc::put_page(w, pfn);
            return copy_present_page(w, dst_vma, src_vma, dst, src, pfn, prealloc);
        }
    } else {
        page_dup_rmap(w, pfn);
    }
    finish_copy(w, src_vma, dst, src, ptent);
    CopyPte::Done
}

/// `copy_present_pte` of v5.9 .. v5.18 (70e806e4e645 "mm: Do early cow for pinned pages
/// during fork() for ptes", v5.9): any page of a COW mapping that may be pinned
/// (`page_needs_cow_for_dma`; `mm->has_pinned` then) is copied for the child; every other is
/// shared (`page_dup_rmap`). There is no PG_anon_exclusive yet.
pub fn copy_present_pte_v5_18(
    w: &World,
    dst_vma: VmaId,
    src_vma: VmaId,
    dst: &LockedPte<'_>,
    src: &LockedPte<'_>,
    ptent: Pte,
    prealloc: &mut Option<Pfn>,
) -> CopyPte {
    let Some(pfn) = ptent.pfn() else {
        return CopyPte::Done;
    };
    if page_needs_cow_for_dma(w, src_vma, pfn) {
        return copy_present_page(w, dst_vma, src_vma, dst, src, pfn, prealloc);
    }
    page_alloc::get_page(w, pfn);
    page_dup_rmap(w, pfn);
    finish_copy(w, src_vma, dst, src, ptent);
    CopyPte::Done
}

/// `copy_one_pte` before 70e806e4e645 (v5.8 and older): every page is shared with the child,
/// pinned or not — a later write fault in the parent may COW it away from the pin.
pub fn copy_present_pte_v5_8(
    w: &World,
    _dst_vma: VmaId,
    src_vma: VmaId,
    dst: &LockedPte<'_>,
    src: &LockedPte<'_>,
    ptent: Pte,
    _prealloc: &mut Option<Pfn>,
) -> CopyPte {
    let Some(pfn) = ptent.pfn() else {
        return CopyPte::Done;
    };
    page_alloc::get_page(w, pfn);
    page_dup_rmap(w, pfn);
    finish_copy(w, src_vma, dst, src, ptent);
    CopyPte::Done
}

/// `copy_present_page`: the child gets its own copy of a page that may be pinned — the page
/// allocated outside the PTLs beforehand (`*prealloc`; `-EAGAIN` without one), filled
/// (`copy_user_highpage`), mapped as a new anonymous page of the child VMA
/// (`page_add_new_anon_rmap`, which 5.19+ makes exclusive), dirty and writable
/// (`maybe_mkwrite(pte_mkdirty(pte))`). The parent keeps its PTE as it was.
pub fn copy_present_page(
    w: &World,
    dst_vma: VmaId,
    _src_vma: VmaId,
    dst: &LockedPte<'_>,
    _src: &LockedPte<'_>,
    pfn: Pfn,
    prealloc: &mut Option<Pfn>,
) -> CopyPte {
    let Some(new) = prealloc.take() else {
        return CopyPte::Again;
    };
    fault::copy_data(w, pfn, new);
    w.page(new).flags.fetch_or(pg::UPTODATE, Ordering::SeqCst);
    rmap::page_add_new_anon_rmap(w, dst, new, dst_vma);
    mlock::lru_cache_add_inactive_or_unevictable(w, new, dst_vma);
    let write = w.vmas.get(dst_vma).has(vm::WRITE);
    dst.set_pte_at(fault::present(new, write, true));
    w.trace("copy_present_page", new, pfn);
    CopyPte::Done
}

/// `copy_present_pte`'s signature: the child's and the parent's VMAs and locked PTEs, the
/// parent's PTE as read under its PTL, the preallocated page.
pub type CopyPresentPteFn =
    fn(&World, VmaId, VmaId, &LockedPte<'_>, &LockedPte<'_>, Pte, &mut Option<Pfn>) -> CopyPte;

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]). Its
/// `Default`, the modern kernel, is in [`crate::kernel`].
#[derive(Debug, Clone, Copy)]
pub struct ForkOps {
    /// `dup_mmap(mm, oldmm)`. Default [`dup_mmap`].
    pub dup_mmap: fn(&World, MmId, MmId) -> Result<(), Error>,
    /// `copy_page_range(dst_vma, src_vma)`. Default [`copy_page_range`].
    pub copy_page_range: fn(&World, VmaId, VmaId) -> Result<(), Error>,
    /// `copy_pte_range(dst_vma, src_vma, start, end)`. Default [`copy_pte_range`].
    pub copy_pte_range: fn(&World, VmaId, VmaId, u64, u64) -> Result<(), Error>,
    /// `copy_present_pte`. Default [`copy_present_pte`] (5.19+); alternatives
    /// [`copy_present_pte_v5_18`] (5.9 .. 5.18: pinned pages copied, no PG_anon_exclusive)
    /// and [`copy_present_pte_v5_8`] (before 70e806e4e645: no pinned check).
    pub copy_present_pte: CopyPresentPteFn,
}
