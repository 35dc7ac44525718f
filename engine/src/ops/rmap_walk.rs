//! `rmap_walk`: find every VMA that may map a page — through the file's `i_mmap` under
//! `i_mmap_rwsem` read, or through the anon_vma under its root rwsem read, held for the whole
//! walk (`rmap_walk_file` / `rmap_walk_anon`) — and call `rmap_one` for each.

use crate::check::{self, Oracle};
use crate::mm::anon_vma::AnonVmaTree;
use crate::mm::{AnonVmaId, Mapping, Pfn, VmaId, World};
use crate::ops::pgtable;
use crate::race_window;
use crate::sync::{Ordering, PageLockGuard, RwSemReadGuard};

/// How the anon side of a walk locks the anon_vma.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonLock {
    /// `page_lock_anon_vma_read` (try_to_unmap, try_to_migrate, page_mlock): RCU, trylock,
    /// refcount fallback, re-validation by `page_mapped`.
    LockAnonVmaRead,
    /// `page_anon_vma` + `anon_vma_lock_read` (remove_migration_ptes): the caller pinned the
    /// anon_vma (migration's `page_get_anon_vma`), since the page is unmapped by then.
    Pinned,
}

/// `struct rmap_walk_control`.
pub struct RmapWalkControl<'a> {
    /// Called for each VMA that may map the page, at the page's address in it. Returning false
    /// stops the walk.
    pub rmap_one: &'a mut dyn FnMut(VmaId, u64) -> bool,
    /// Checked after each VMA; true stops the walk (try_to_unmap: "mapcount reached 0").
    pub done: Option<&'a dyn Fn() -> bool>,
    /// VMAs to skip (migration skips exec's temporary stack, a8bef8ff6ea1).
    pub invalid_vma: Option<&'a dyn Fn(VmaId) -> bool>,
    /// How to lock the anon_vma.
    pub anon_lock: AnonLock,
}

impl std::fmt::Debug for RmapWalkControl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RmapWalkControl({:?})", self.anon_lock)
    }
}

/// The rmap lock a caller already holds (`rmap_walk_locked`, TTU_RMAP_LOCKED).
#[derive(Debug)]
pub enum HeldRmapLock<'g, 'w> {
    /// `i_mmap_rwsem` held for write (hugetlb migration; b7880cb166ab).
    IMmapWrite(&'g crate::sync::RwSemWriteGuard<'w, crate::mm::address_space::IMmap>),
    /// `i_mmap_rwsem` held for read (file THP split).
    IMmapRead(&'g RwSemReadGuard<'w, crate::mm::address_space::IMmap>),
    /// The anon_vma root rwsem held (anon THP split holds it for write).
    AnonVma(&'g [VmaId]),
}

/// `page_lock_anon_vma_read`: find and read-lock the anon_vma of a mapped anonymous page
/// (mm/rmap.c: RCU, trylock, refcount fallback, `page_mapped` re-checks). `None` if the page is
/// not mapped any more (its `->mapping` is then not trustworthy).
///
/// The steps, each traced under the kernel's name: under `rcu_read_lock`, read
/// `page->mapping` and bail if the page is not mapped; read `anon_vma->root` racily and
/// `down_read_trylock` its rwsem — on success re-validate with `page_mapped()` (still mapped
/// means still its anon_vma, and the held rwsem keeps it from `anon_vma_free`); on failure fall
/// back to the refcount: `atomic_inc_not_zero`, re-check `page_mapped()`, leave RCU, sleep in
/// `anon_vma_lock_read`, and drop the pin — freeing the anon_vma if it was the last reference.
pub fn page_lock_anon_vma_read(
    w: &World,
    pfn: Pfn,
) -> Option<(AnonVmaId, RwSemReadGuard<'_, AnonVmaTree>)> {
    let page = w.pages.slot(pfn.idx);
    let rcu = w.rcu.read_lock();
    let Mapping::Anon(av_id) = page.mapping() else {
        return None;
    };
    if !page.mapped() {
        w.trace("page_lock_anon_vma_read: !page_mapped", pfn, av_id);
        return None;
    }
    // SLAB_TYPESAFE_BY_RCU: the slot is an anon_vma, perhaps not ours any more.
    let av = w.anon_vmas.slot(av_id.idx);
    let root_id = av.root.get();
    let root = w.anon_vmas.slot(root_id.idx);
    w.trace(
        "page_lock_anon_vma_read: lookup",
        pfn,
        format_args!(
            "{av_id} gen {} root {root_id} gen {}",
            av_id.generation, root_id.generation
        ),
    );
    race_window!("page_lock_anon_vma_read: anon_vma looked up, not yet locked");
    if let Some(g) = root.rwsem.try_read() {
        // If the page is still mapped, then this anon_vma is still its anon_vma.
        let mapped = page.mapped();
        w.trace(
            "page_lock_anon_vma_read: down_read_trylock(root)",
            pfn,
            if mapped {
                "locked, still mapped"
            } else {
                "locked, unmapped: up_read"
            },
        );
        if !mapped {
            return None;
        }
        check_live(w, av_id, pfn);
        return Some((av_id, g));
    }
    // Refcount fallback: pin it, leave RCU, sleep on the rwsem.
    let pinned = anon_vma_get_not_zero(w, av_id);
    w.trace(
        "page_lock_anon_vma_read: down_read_trylock(root) failed, atomic_inc_not_zero",
        pfn,
        if pinned { "pinned" } else { "refcount 0" },
    );
    if !pinned {
        return None;
    }
    if !page.mapped() {
        w.trace(
            "page_lock_anon_vma_read: !page_mapped, put_anon_vma",
            pfn,
            av_id,
        );
        drop(rcu);
        put_slot(w, av_id.idx);
        return None;
    }
    drop(rcu);
    let g = root.rwsem.read();
    w.trace("page_lock_anon_vma_read: anon_vma_lock_read", pfn, av_id);
    if av.refcount.fetch_sub(1, Ordering::SeqCst) == 1 {
        // We held the last reference: every VMA went meanwhile.
        drop(g);
        w.trace(
            "page_lock_anon_vma_read: last reference, __put_anon_vma",
            pfn,
            av_id,
        );
        if let Some(id) = w.anon_vmas.live_id(av_id.idx) {
            pgtable::anon_vma_free(w, id);
        }
        return None;
    }
    check_live(w, av_id, pfn);
    Some((av_id, g))
}

/// `page_get_anon_vma` (`folio_get_anon_vma` in v6.x): pin the anon_vma of a mapped anonymous
/// page (migration), or `None`.
///
/// A pin taken on a page that turns out to be unmapped is dropped only after
/// `rcu_read_unlock()`: it may be the last reference (the VMA was unlinked meanwhile), and
/// `put_anon_vma` → `anon_vma_free` may sleep, which an RCU read-side section must not.
///
/// ```text
/// page_get_anon_vma                        munmap
/// rcu_read_lock; page_mapped: yes
/// atomic_inc_not_zero: 2
///                                          zap: page_remove_rmap
///                                          unlink_anon_vmas: put_anon_vma: 1
/// page_mapped: no
/// rcu_read_unlock; put_anon_vma: 0 -> anon_vma_free (may sleep)
/// ```
pub fn page_get_anon_vma(w: &World, pfn: Pfn) -> Option<AnonVmaId> {
    let page = w.pages.slot(pfn.idx);
    let rcu = w.rcu.read_lock();
    let Mapping::Anon(av_id) = page.mapping() else {
        return None;
    };
    if !page.mapped() {
        return None;
    }
    let pinned = anon_vma_get_not_zero(w, av_id);
    w.trace(
        "page_get_anon_vma: atomic_inc_not_zero",
        pfn,
        format_args!(
            "{av_id} gen {}: {}",
            av_id.generation,
            if pinned { "pinned" } else { "refcount 0" }
        ),
    );
    if !pinned {
        return None;
    }
    if !page.mapped() {
        // If it has been unmapped, nothing keeps the anon_vma alive but our pin.
        rcu.unlock();
        w.trace("page_get_anon_vma: !page_mapped, put_anon_vma", pfn, av_id);
        put_slot(w, av_id.idx);
        return None;
    }
    check_live(w, av_id, pfn);
    drop(rcu);
    Some(av_id)
}

/// `atomic_inc_not_zero(&anon_vma->refcount)` on the slot `page->mapping` names: the slot is
/// type-stable, so the pin lands on whatever anon_vma lives there now.
fn anon_vma_get_not_zero(w: &World, av_id: AnonVmaId) -> bool {
    w.anon_vmas
        .slot(av_id.idx)
        .refcount
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
            (r > 0).then_some(r + 1)
        })
        .is_ok()
}

fn put_slot(w: &World, idx: u32) {
    if let Some(id) = w.anon_vmas.live_id(idx) {
        pgtable::put_anon_vma(w, id);
    }
}

/// I9: while the page is mapped, its `->mapping` names a live anon_vma.
fn check_live(w: &World, av_id: AnonVmaId, pfn: Pfn) {
    if !w.anon_vmas.is_live(av_id) {
        check::violation(
            Oracle::I9AnonVma,
            format!("{pfn} is mapped but its {av_id} was freed or recycled"),
        );
    }
}

fn walk_vmas(w: &World, vmas: &[VmaId], index: u64, rwc: &mut RmapWalkControl<'_>) {
    for &v in vmas {
        let Some(va) = w.vmas.get(v).info.get().address(index) else {
            continue;
        };
        if rwc.invalid_vma.is_some_and(|f| f(v)) {
            continue;
        }
        if !(rwc.rmap_one)(v, va) {
            break;
        }
        if rwc.done.is_some_and(|f| f()) {
            break;
        }
    }
}

/// `rmap_walk`: the page is locked by the caller (`page` is the proof) — which keeps a file
/// page's `->mapping` valid — and no rmap lock is held yet.
pub fn rmap_walk(w: &World, pfn: Pfn, _page: &PageLockGuard<'_>, rwc: &mut RmapWalkControl<'_>) {
    rmap_walk_unlocked_page(w, pfn, rwc);
}

/// `rmap_walk` for walkers that do not hold the page lock (reclaim's `folio_referenced` on an
/// unlocked anon page); file walks must not use it.
pub fn rmap_walk_unlocked_page(w: &World, pfn: Pfn, rwc: &mut RmapWalkControl<'_>) {
    let page = w.pages.slot(pfn.idx);
    let index = page.index.load(Ordering::SeqCst);
    match page.mapping() {
        Mapping::File(f) => {
            let imap = w.files.get(f).i_mmap.read();
            let vmas = imap.vmas.clone();
            walk_vmas(w, &vmas, index, rwc);
            drop(imap);
        }
        Mapping::Anon(av_id) => {
            let locked = match rwc.anon_lock {
                AnonLock::LockAnonVmaRead => page_lock_anon_vma_read(w, pfn),
                AnonLock::Pinned => {
                    let av = w.anon_vmas.get(av_id);
                    Some((av_id, w.anon_vmas.slot(av.root.get().idx).rwsem.read()))
                }
            };
            let Some((_, tree)) = locked else { return };
            let vmas = tree.vmas.clone();
            walk_vmas(w, &vmas, index, rwc);
            drop(tree);
        }
        Mapping::None => {}
    }
}

/// `rmap_walk_locked`: the caller already holds the rmap lock (TTU_RMAP_LOCKED).
pub fn rmap_walk_locked(
    w: &World,
    pfn: Pfn,
    held: &HeldRmapLock<'_, '_>,
    rwc: &mut RmapWalkControl<'_>,
) {
    let index = w.pages.slot(pfn.idx).index.load(Ordering::SeqCst);
    let vmas: Vec<VmaId> = match held {
        HeldRmapLock::IMmapWrite(g) => g.vmas.clone(),
        HeldRmapLock::IMmapRead(g) => g.vmas.clone(),
        HeldRmapLock::AnonVma(v) => v.to_vec(),
    };
    walk_vmas(w, &vmas, index, rwc);
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the rmap walk.
#[derive(Debug, Clone, Copy, Default)]
pub struct RmapOps {}
