//! The mlock() / munlock() system calls and the munlock that munmap and exit do, under both
//! schemes (docs/MODEL.md §4).
//!
//! ≤5.17 ([`MlockScheme::PageMlock`]): munlock clears VM_LOCKED first, then for each page takes the page lock
//! and, if others map it, walks the rmap (`page_mlock`, `i_mmap_rwsem` / anon_vma read for the
//! whole walk) to see whether another VM_LOCKED VMA still mlocks it. munmap and exit do this
//! for every VM_LOCKED VMA before zapping (`munlock_vma_pages_all`). Per exiting mm that is
//! O(pages × mappers) work under `i_mmap_rwsem` read — while each exit also needs it for write
//! in `unlink_file_vma` (the exit contention Hugh Dickins called "intolerable" in "mm/munlock:
//! delete page_mlock() and all its works", v5.18).
//!
//! 5.18+ ([`MlockScheme::MlockCount`]): mlock/munlock walk the page tables under the PTL
//! (`mlock_pte_range`) and count; munmap and exit do nothing extra — `page_remove_rmap` does
//! `munlock_vma_folio` under the PTL.

use crate::mm::pte::Pte;
use crate::mm::{MmId, Pfn, VmaId, World, vm};
use crate::ops::mlock::MlockScheme;
use crate::ops::pagemap::{LockedPage, lock_page, trylock_page};
use crate::ops::pgtable_generic::pte_offset_map_lock;
use crate::ops::pvmw::PvmwFlags;
use crate::ops::rmap_walk::{RmapWalkControl, rmap_walk};
use crate::ops::vma_lock::{mmap_write_unlock, vma_start_write};
use crate::ops::{Error, page_alloc};
use crate::sync::Ordering;

/// `follow_page(FOLL_GET)`: the page mapped at `va`, with a reference, taken under the PTL.
pub fn follow_page(w: &World, mm: MmId, va: u64) -> Option<Pfn> {
    let pte = pte_offset_map_lock(w, mm, va)?;
    let Pte::Present { pfn, .. } = pte.get() else {
        return None;
    };
    page_alloc::get_page(w, pfn);
    Some(pfn)
}

/// The page mapped present at `va` of `mm`, read under its PTL (`mlock_pte_range`'s step),
/// handed to `f` with the PTL still held.
pub fn with_present_pte(w: &World, mm: MmId, va: u64, f: impl FnOnce(Pfn)) {
    if let Some(pte) = pte_offset_map_lock(w, mm, va)
        && let Pte::Present { pfn, .. } = pte.get()
    {
        f(pfn);
        drop(pte);
    }
}

/// `mlock(2)` of a whole VMA: set VM_LOCKED and mlock what is mapped, then populate
/// (`__mm_populate`) so every page is present and mlocked.
pub fn mlock(w: &World, mm_id: MmId, vma_id: VmaId) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let info = w.vmas.get(vma_id).info.get();
    {
        let map = mm.mmap_lock.write();
        if !map.vmas.contains(&vma_id) {
            return Err(Error::Inval);
        }
        // mlock_fixup → mlock_vma_pages_range: `vma_start_write(vma)` before
        // `vm_flags_reset_once` (6.4; and vm_flags_reset's own, 6.4/6.5).
        vma_start_write(w, &map, vma_id);
        let vma = w.vmas.get(vma_id);
        match w.kernel.mlock.scheme {
            // mlock_fixup: `newflags == oldflags`, nothing to do — the pages of a VMA that is
            // already VM_LOCKED are counted already (only the populate below still runs).
            _ if vma.has(vm::LOCKED) => {}
            MlockScheme::MlockCount => {
                // mlock_vma_pages_range: VM_IO keeps concurrent mlock_vma_folio (migration,
                // reclaim) off this VMA while the walk counts it, then VM_LOCKED stays.
                vma.flags.fetch_or(vm::LOCKED | vm::IO, Ordering::SeqCst);
                for va in info.start..info.end {
                    with_present_pte(w, mm_id, va, |pfn| (w.kernel.mlock.mlock_folio)(w, pfn));
                }
                vma.flags.fetch_and(!vm::IO, Ordering::SeqCst);
            }
            MlockScheme::PageMlock => {
                vma.flags.fetch_or(vm::LOCKED, Ordering::SeqCst);
                for va in info.start..info.end {
                    // follow_page_pte(FOLL_MLOCK): trylock the page, mlock_vma_page.
                    if let Some(pfn) = follow_page(w, mm_id, va) {
                        if let Some(page) = trylock_page(w, pfn) {
                            (w.kernel.mlock.mlock_vma_page)(w, pfn);
                            drop(page);
                        }
                        page_alloc::put_page(w, pfn);
                    }
                }
            }
        }
        w.trace("mlock", vma_id, "VM_LOCKED");
        mmap_write_unlock(w, mm_id, map);
    }
    // __mm_populate → populate_vma_page_range → __get_user_pages: fault each page in (the
    // fault path mlocks new mappings) and look again — `follow_page_mask` finding nothing
    // sends it back to `faultin_page` ("goto retry") — until the page is there: a fault may
    // return having mapped nothing (a PTE table retracted or a PMD turned huge under it, the
    // VMA-lock attempt given up), and the access is then simply made again.
    for va in info.start..info.end {
        loop {
            (w.kernel.fault.do_user_addr_fault)(w, mm_id, va, false)?;
            if w.pte_at(mm_id, va).is_some_and(|p| p.is_present()) {
                break;
            }
            w.trace(
                "__get_user_pages: not present, retry",
                mm_id,
                format_args!("va {:#x}", va << 12),
            );
        }
    }
    Ok(())
}

/// `munlock(2)` of a whole VMA.
pub fn munlock(w: &World, mm_id: MmId, vma_id: VmaId) -> Result<(), Error> {
    let mm = w.mms.get(mm_id);
    let map = mm.mmap_lock.write();
    if !map.vmas.contains(&vma_id) {
        return Err(Error::Inval);
    }
    // mlock_fixup(…, !VM_LOCKED): the flags change under the VMA write lock.
    vma_start_write(w, &map, vma_id);
    (w.kernel.mlock.munlock_vma_pages_range)(w, vma_id);
    mmap_write_unlock(w, mm_id, map);
    Ok(())
}

/// What munmap and exit do before zapping: under the old scheme, `munlock_vma_pages_all` for a
/// VM_LOCKED VMA; under the new one, nothing (rmap removal munlocks).
pub fn munlock_before_unmap(w: &World, vma_id: VmaId) {
    if w.kernel.mlock.scheme == MlockScheme::PageMlock && w.vmas.get(vma_id).has(vm::LOCKED) {
        // Observer bookkeeping for I22: the walk is on this VMA (from exit_mmap, with no
        // mmap_lock; from munmap under mmap_lock for write, which the reaper cannot share).
        let mm = w.vmas.get(vma_id).info.get().mm;
        crate::ops::oom_kill::note_munlock_walk(w, mm, Some(vma_id));
        (w.kernel.mlock.munlock_vma_pages_range)(w, vma_id);
        crate::ops::oom_kill::note_munlock_walk(w, mm, None);
    }
}

/// `munlock_vma_pages_range` (old) / `mlock_vma_pages_range(…, !VM_LOCKED)` (new): clear
/// VM_LOCKED, then munlock every mapped page.
pub fn munlock_vma_pages_range(w: &World, vma_id: VmaId) {
    let vma = w.vmas.get(vma_id);
    let info = vma.info.get();
    // FIRST, so this VMA no longer counts in page_mlock (old) / in mlock_vma_folio (new).
    if vma.flags.fetch_and(!vm::LOCKED, Ordering::SeqCst) & vm::LOCKED == 0 {
        return;
    }
    w.trace("munlock_vma_pages_range", vma_id, "clear VM_LOCKED");
    match w.kernel.mlock.scheme {
        MlockScheme::MlockCount => {
            // mlock_pte_range: `if (!pte_present(ptent)) continue;` — a page under migration
            // is not munlocked here (see `Page::munlock_missed`).
            for va in info.start..info.end {
                let Some(pte) = pte_offset_map_lock(w, info.mm, va) else {
                    continue;
                };
                match pte.get() {
                    Pte::Present { pfn, .. } => (w.kernel.mlock.munlock_folio)(w, pfn),
                    Pte::Migration { pfn, .. } => w
                        .page(pfn)
                        .munlock_missed
                        .store(true, std::sync::atomic::Ordering::SeqCst),
                    _ => {}
                }
                drop(pte);
            }
        }
        MlockScheme::PageMlock => {
            for va in info.start..info.end {
                let Some(pfn) = follow_page(w, info.mm, va) else {
                    continue;
                };
                let page = lock_page(w, pfn);
                (w.kernel.mlock.munlock_vma_page)(w, &page);
                drop(page);
                page_alloc::put_page(w, pfn);
            }
        }
    }
}

/// `munlock_vma_page` (≤5.17), page locked: clear PG_mlocked; if others map the page, walk the
/// rmap to re-mlock it if another VM_LOCKED VMA maps it.
pub fn munlock_vma_page(w: &World, locked: &LockedPage<'_>) {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    if !page.test_clear(crate::mm::pg::MLOCKED) {
        return;
    }
    // __munlock_isolated_page: the mapcount <= 1 fast path skips the walk — precisely not the
    // case when other processes map the page.
    if page.mapcount.load(Ordering::SeqCst) > 1 {
        (w.kernel.mlock.page_mlock)(w, locked);
    }
    if !page.test(crate::mm::pg::MLOCKED) {
        page.test_clear(crate::mm::pg::UNEVICTABLE);
    }
    w.trace("munlock_vma_page", pfn, page.describe());
}

/// `page_mlock` (formerly `try_to_munlock`): walk the rmap for a VM_LOCKED VMA still mapping
/// the page; if one is found (re-checked under its PTL), mlock the page again.
pub fn page_mlock(w: &World, locked: &LockedPage<'_>) {
    let pfn = locked.pfn();
    let page = w.page(pfn);
    let mut found = false;
    let mut one = |vma: VmaId, va: u64| -> bool {
        let v = w.vmas.get(vma);
        if !v.has(vm::LOCKED) {
            return true;
        }
        if let Some(item) =
            (w.kernel.rmap.page_vma_mapped_walk)(w, pfn, vma, va, PvmwFlags::empty())
        {
            // Re-check under the PTL: the munlocker clears VM_LOCKED before walking tables.
            if v.has(vm::LOCKED) {
                (w.kernel.mlock.mlock_vma_page)(w, pfn);
                found = true;
                drop(item);
                return false;
            }
        }
        true
    };
    let done = || !page.mapped();
    let mut rwc = RmapWalkControl::new(&mut one);
    rwc.done = Some(&done);
    rwc.anon_lock = Some(w.kernel.rmap.anon_lock);
    rmap_walk(w, locked, &mut rwc);
    w.trace(
        "page_mlock",
        pfn,
        if found {
            "still mlocked"
        } else {
            "no VM_LOCKED mapping"
        },
    );
}
