//! `rmap_walk`: find every VMA that may map a page — through the file's `i_mmap` under
//! `i_mmap_rwsem` read, or through the anon_vma under its root rwsem read, held for the whole
//! walk (`rmap_walk_file` / `rmap_walk_anon`) — and call `rmap_one` for each.
//!
//! The walk, its `anon_lock`, `page_vma_mapped_walk` and the per-VMA steps of the walkers are
//! entries of the kernel function table ([`RmapOps`], `w.kernel.rmap`): every walker reaches
//! them through it, so replacing one (another `page_lock_anon_vma_read`, a historical
//! `try_to_unmap_one`) changes migration, reclaim, writeback, munlock and the THP split alike.

use crate::check::{self, Oracle};
use crate::mm::address_space::IMmap;
use crate::mm::anon_vma::RootHeld;
use crate::mm::{AnonVmaId, FileId, Mapping, Pfn, VmaId, World};
use crate::ops::anon_vma::{self, AnonVmaWriteLocked};
use crate::ops::pagemap::LockedPage;
use crate::ops::pvmw::{PvmwFlags, PvmwItem};
use crate::ops::rmap_types::TtuFlags;
use crate::race_window;
use crate::sync::{Ordering, RwSemReadGuard, RwSemReadHeld, RwSemWriteGuard};

/// An anon_vma found from a page and locked for read: what `rwc->anon_lock` returns (the
/// kernel returns the `struct anon_vma *`, locked). It is the proof ([`RootHeld`]) that the
/// walk may read the trees of the anon_vma's family: the rwsem of the root it took.
///
/// Dropping it is `anon_vma_unlock_read(anon_vma)` = `up_read(&anon_vma->root->rwsem)`: the
/// rwsem of the root that `anon_vma->root` names *at unlock*, read through the type-stable
/// slot — the one locked, as long as the anon_vma was the page's for the whole hold (which
/// the lookup's `page_mapped()` re-check and the held rwsem guarantee); another one, with
/// lockdep's "bad unlock balance", if the slot was reused meanwhile.
#[derive(Debug)]
pub struct LockedAnonVma<'w> {
    w: &'w World,
    /// The anon_vma `page->mapping` named.
    pub anon_vma: AnonVmaId,
    /// The root whose rwsem was taken (`anon_vma->root` when it was read).
    root: AnonVmaId,
    held: Option<RwSemReadHeld<'w>>,
}

impl<'w> LockedAnonVma<'w> {
    /// `anon_vma_lock_read` done: `held` is the read hold of `root`'s rwsem.
    pub fn new(
        w: &'w World,
        anon_vma: AnonVmaId,
        root: AnonVmaId,
        held: RwSemReadHeld<'w>,
    ) -> Self {
        LockedAnonVma {
            w,
            anon_vma,
            root,
            held: Some(held),
        }
    }

    /// `anon_vma_unlock_read`, explicitly (dropping it does the same).
    pub fn unlock(self) {}
}

impl Drop for LockedAnonVma<'_> {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else { return };
        // up_read(&anon_vma->root->rwsem): the root as the slot says now.
        let root_now = self.w.anon_vmas.slot(self.anon_vma.idx).root();
        self.w.anon_vmas.slot(root_now.idx).rwsem.up_read(held);
    }
}

impl RootHeld for LockedAnonVma<'_> {
    fn root(&self) -> AnonVmaId {
        self.root
    }
    fn write(&self) -> bool {
        false
    }
}

/// `rwc->anon_lock`: find and read-lock the anon_vma of a page, or `None` (the walk then does
/// nothing). The kernel's walkers that cannot pin the anon_vma first (try_to_unmap,
/// try_to_migrate, page_mlock, folio_referenced) pass `folio_lock_anon_vma_read`
/// (`page_lock_anon_vma_read` before 6.0) — the table's [`RmapOps::anon_lock`].
pub type AnonLockFn = for<'w> fn(&'w World, Pfn) -> Option<LockedAnonVma<'w>>;

/// `rwc->rmap_one`-style per-VMA step of `try_to_unmap` / `try_to_migrate`: the page, the VMA,
/// the page's address in it and the caller's flags; false stops the walk.
pub type TtuOneFn = fn(&World, Pfn, VmaId, u64, TtuFlags) -> bool;

/// `struct rmap_walk_control`.
pub struct RmapWalkControl<'a> {
    /// Called for each VMA that may map the page, at the page's address in it. Returning false
    /// stops the walk.
    pub rmap_one: &'a mut dyn FnMut(VmaId, u64) -> bool,
    /// Checked after each VMA; true stops the walk (try_to_unmap: "mapcount reached 0").
    pub done: Option<&'a dyn Fn() -> bool>,
    /// VMAs to skip (migration skips exec's temporary stack, a8bef8ff6ea1).
    pub invalid_vma: Option<&'a dyn Fn(VmaId) -> bool>,
    /// `rwc->anon_lock`: how to find and lock the anon_vma. `None` is the kernel's
    /// `rmap_walk_anon_lock` default, [`anon_vma_lock_read_pinned`]: `folio_anon_vma` +
    /// `anon_vma_lock_read`, for a caller that pinned the anon_vma (remove_migration_ptes).
    pub anon_lock: Option<AnonLockFn>,
    /// `rwc->try_lock` (`folio_referenced`'s walk, 6.x): take the rmap lock with a trylock
    /// and, if it is contended, give up the walk and set [`Self::contended`] instead of
    /// sleeping. Only the file side honours it in the model (`i_mmap_trylock_read`).
    pub try_lock: bool,
    /// `rwc->contended`: a `try_lock` walk found its rmap lock busy and did not run.
    pub contended: bool,
}

impl<'a> RmapWalkControl<'a> {
    /// A control with only `rmap_one` set (`done`, `invalid_vma`, `anon_lock` unset, as a C
    /// initializer leaves them NULL).
    pub fn new(rmap_one: &'a mut dyn FnMut(VmaId, u64) -> bool) -> Self {
        RmapWalkControl {
            rmap_one,
            done: None,
            invalid_vma: None,
            anon_lock: None,
            try_lock: false,
            contended: false,
        }
    }
}

impl std::fmt::Debug for RmapWalkControl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RmapWalkControl(anon_lock: {})",
            if self.anon_lock.is_some() {
                "set"
            } else {
                "default"
            }
        )
    }
}

/// The rmap lock a caller already holds (`rmap_walk_locked`, TTU_RMAP_LOCKED): the guard
/// itself, so the walk reads the tree that lock protects.
#[derive(Debug)]
pub enum HeldRmapLock<'g, 'w> {
    /// `i_mmap_rwsem` held for write (hugetlb migration; b7880cb166ab).
    IMmapWrite(&'g RwSemWriteGuard<'w, IMmap>),
    /// `i_mmap_rwsem` held for read (the kernel's file THP split; the model's split takes no
    /// rmap lock, see `split::unmap_folio_flags`).
    IMmapRead(&'g RwSemReadGuard<'w, IMmap>),
    /// The anon_vma root rwsem held for write (the kernel's anon THP split), and the page's
    /// anon_vma, whose tree it protects.
    AnonVmaWrite(&'g AnonVmaWriteLocked<'w>, AnonVmaId),
    /// The anon_vma root rwsem held for read (the lock carries the page's anon_vma).
    AnonVmaRead(&'g LockedAnonVma<'w>),
}

impl HeldRmapLock<'_, '_> {
    /// The VMAs of the tree the held lock protects.
    pub fn vmas(&self, w: &World) -> Vec<VmaId> {
        match self {
            HeldRmapLock::IMmapWrite(g) => g.vmas.clone(),
            HeldRmapLock::IMmapRead(g) => g.vmas.clone(),
            HeldRmapLock::AnonVmaWrite(g, av) => w.anon_vmas.get(*av).vmas(*g),
            HeldRmapLock::AnonVmaRead(g) => w.anon_vmas.get(g.anon_vma).vmas(*g),
        }
    }
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
pub fn page_lock_anon_vma_read(w: &World, pfn: Pfn) -> Option<LockedAnonVma<'_>> {
    let page = w.pages.slot(pfn.idx);
    let rcu = w.rcu.read_lock();
    let Mapping::Anon(av_id) = page.mapping() else {
        return None;
    };
    if !w.folio_mapped(pfn) {
        w.trace("page_lock_anon_vma_read: !page_mapped", pfn, av_id);
        return None;
    }
    // SLAB_TYPESAFE_BY_RCU: the slot is an anon_vma, perhaps not ours any more.
    let av = w.anon_vmas.slot(av_id.idx);
    let root_id = av.root();
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
    if let Some(g) = root.rwsem.try_read_held() {
        // If the page is still mapped, then this anon_vma is still its anon_vma.
        let mapped = w.folio_mapped(pfn);
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
            // up_read(&root_anon_vma->rwsem): the root read above, which this path still has.
            root.rwsem.up_read(g);
            return None;
        }
        check_live(w, av_id, pfn);
        return Some(LockedAnonVma::new(w, av_id, root_id, g));
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
    if !w.folio_mapped(pfn) {
        w.trace(
            "page_lock_anon_vma_read: !page_mapped, put_anon_vma",
            pfn,
            av_id,
        );
        drop(rcu);
        put_anon_vma_slot(w, av_id.idx);
        return None;
    }
    drop(rcu);
    // anon_vma_lock_read(anon_vma): the pinned anon_vma's root, read again.
    let root_id = av.root();
    let g = w.anon_vmas.slot(root_id.idx).rwsem.read_held();
    let locked = LockedAnonVma::new(w, av_id, root_id, g);
    w.trace("page_lock_anon_vma_read: anon_vma_lock_read", pfn, av_id);
    if av.refcount.fetch_sub(1, Ordering::SeqCst) == 1 {
        // We held the last reference: every VMA went meanwhile.
        locked.unlock();
        w.trace(
            "page_lock_anon_vma_read: last reference, __put_anon_vma",
            pfn,
            av_id,
        );
        if let Some(id) = w.anon_vmas.live_id(av_id.idx) {
            (w.kernel.anon_vma.__put_anon_vma)(w, id);
        }
        return None;
    }
    check_live(w, av_id, pfn);
    Some(locked)
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
    if !w.folio_mapped(pfn) {
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
    if !w.folio_mapped(pfn) {
        // If it has been unmapped, nothing keeps the anon_vma alive but our pin.
        rcu.unlock();
        w.trace("page_get_anon_vma: !page_mapped, put_anon_vma", pfn, av_id);
        put_anon_vma_slot(w, av_id.idx);
        return None;
    }
    check_live(w, av_id, pfn);
    drop(rcu);
    Some(av_id)
}

/// `atomic_inc_not_zero(&anon_vma->refcount)` on the slot `page->mapping` names: the slot is
/// type-stable, so the pin lands on whatever anon_vma lives there now.
pub fn anon_vma_get_not_zero(w: &World, av_id: AnonVmaId) -> bool {
    w.anon_vmas
        .slot(av_id.idx)
        .refcount
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
            (r > 0).then_some(r + 1)
        })
        .is_ok()
}

/// `put_anon_vma` of the anon_vma now in slot `idx` (the slot a pin landed on, which may hold
/// a different anon_vma than the one `page->mapping` named): a pin is dropped on the object
/// it was taken on, and the last put frees it (`__put_anon_vma`).
pub fn put_anon_vma_slot(w: &World, idx: u32) {
    if let Some(id) = w.anon_vmas.live_id(idx) {
        anon_vma::put_anon_vma(w, id);
    }
}

/// The I9 oracle: while the page is mapped, its `->mapping` names a live anon_vma. Called by
/// the anon_vma lookups once they have re-validated with `page_mapped()`.
pub fn check_live(w: &World, av_id: AnonVmaId, pfn: Pfn) {
    if !w.anon_vmas.is_live(av_id) {
        check::violation(
            Oracle::I9AnonVma,
            format!("{pfn} is mapped but its {av_id} was freed or recycled"),
        );
    }
}

/// The loop of `rmap_walk_anon` / `rmap_walk_file` over the VMAs of the locked tree: skip
/// VMAs the page's index is not in and `rwc->invalid_vma` ones, call `rwc->rmap_one`, stop
/// when it returns false or `rwc->done` says so.
pub fn rmap_walk_vmas(w: &World, vmas: &[VmaId], index: u64, rwc: &mut RmapWalkControl<'_>) {
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

/// `rmap_walk_anon_lock` without `rwc->anon_lock`: `folio_anon_vma` + `anon_vma_lock_read`.
/// Only for a caller that pinned the anon_vma (migration's `page_get_anon_vma`), since the
/// page may be unmapped by then and nothing else keeps `page->mapping` valid.
pub fn anon_vma_lock_read_pinned(w: &World, av_id: AnonVmaId) -> LockedAnonVma<'_> {
    let root = w.anon_vmas.get(av_id).root();
    let held = w.anon_vmas.slot(root.idx).rwsem.read_held();
    LockedAnonVma::new(w, av_id, root, held)
}

/// `rmap_walk_anon` (unlocked: the caller holds no rmap lock): lock the anon_vma with
/// `rwc->anon_lock` — or, without one, the pinned `av` that `page->mapping` named when the
/// walk began ([`anon_vma_lock_read_pinned`]) — walk its VMAs, unlock.
pub fn rmap_walk_anon(
    w: &World,
    pfn: Pfn,
    av: AnonVmaId,
    index: u64,
    rwc: &mut RmapWalkControl<'_>,
) {
    let locked = match rwc.anon_lock {
        Some(anon_lock) => anon_lock(w, pfn),
        None => Some(anon_vma_lock_read_pinned(w, av)),
    };
    let Some(locked) = locked else { return };
    // The tree of the page's own anon_vma, under its root's rwsem.
    let vmas = w.anon_vmas.get(locked.anon_vma).vmas(&locked);
    rmap_walk_vmas(w, &vmas, index, rwc);
    locked.unlock();
}

/// `rmap_walk_file` (unlocked): `i_mmap_lock_read`, walk the file's VMAs, `i_mmap_unlock_read`.
/// The page lock keeps `page->mapping` (`file`) valid.
pub fn rmap_walk_file(
    w: &World,
    _pfn: Pfn,
    file: FileId,
    index: u64,
    rwc: &mut RmapWalkControl<'_>,
) {
    let i_mmap = &w.files.get(file).i_mmap;
    let imap = if rwc.try_lock {
        // `i_mmap_trylock_read`: "if (!i_mmap_trylock_read(mapping)) { rwc->contended =
        // true; return; }" (6.x rmap_walk_file with rwc->try_lock).
        let Some(imap) = i_mmap.try_read() else {
            w.trace(
                "rmap_walk_file: i_mmap_trylock_read failed",
                file,
                "contended",
            );
            rwc.contended = true;
            return;
        };
        imap
    } else {
        i_mmap.read()
    };
    let vmas = imap.vmas.clone();
    rmap_walk_vmas(w, &vmas, index, rwc);
    imap.unlock();
}

/// `rmap_walk`: the page is locked by the caller — which keeps a file page's `->mapping`
/// valid — and no rmap lock is held yet. `folio_test_anon(folio) ? rmap_walk_anon :
/// rmap_walk_file`, through the table.
pub fn rmap_walk(w: &World, page: &LockedPage<'_>, rwc: &mut RmapWalkControl<'_>) {
    let p = w.pages.slot(page.pfn().idx);
    let index = p.index.load(Ordering::SeqCst);
    match p.mapping() {
        Mapping::File(f) => (w.kernel.rmap.rmap_walk_file)(w, page.pfn(), f, index, rwc),
        Mapping::Anon(av) => (w.kernel.rmap.rmap_walk_anon)(w, page.pfn(), av, index, rwc),
        Mapping::None => {}
    }
}

/// `rmap_walk_locked`: the caller already holds the rmap lock (TTU_RMAP_LOCKED) and the page
/// lock; the walk reads the tree through the caller's guard.
///
/// Simplification: the kernel's `rmap_walk_locked` is `rmap_walk_anon/file(.., true)`; the
/// model walks the held tree here directly, so the table's `rmap_walk_anon` /
/// `rmap_walk_file` entries replace only the walks that take the lock themselves.
pub fn rmap_walk_locked(
    w: &World,
    page: &LockedPage<'_>,
    held: &HeldRmapLock<'_, '_>,
    rwc: &mut RmapWalkControl<'_>,
) {
    let index = w.pages.slot(page.pfn().idx).index.load(Ordering::SeqCst);
    rmap_walk_vmas(w, &held.vmas(w), index, rwc);
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the rmap walk,
/// the anon_vma lookups, `page_vma_mapped_walk` and the per-VMA steps the walkers run.
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`] (above the paths).
#[derive(Debug, Clone, Copy)]
pub struct RmapOps {
    /// `folio_lock_anon_vma_read` (`page_lock_anon_vma_read` before 6.0): the `rwc->anon_lock`
    /// of try_to_unmap, try_to_migrate and page_mlock. Default [`page_lock_anon_vma_read`].
    pub anon_lock: AnonLockFn,
    /// `folio_get_anon_vma` (`page_get_anon_vma` before 6.0): migration's and the THP
    /// split's pin. Default [`page_get_anon_vma`].
    pub page_get_anon_vma: fn(&World, Pfn) -> Option<AnonVmaId>,
    /// `rmap_walk_anon` (the page's anon_vma as `page->mapping` named it, the page's index).
    /// Default [`rmap_walk_anon`].
    pub rmap_walk_anon: fn(&World, Pfn, AnonVmaId, u64, &mut RmapWalkControl<'_>),
    /// `rmap_walk_file` (the page's file, the page's index). Default [`rmap_walk_file`].
    pub rmap_walk_file: fn(&World, Pfn, FileId, u64, &mut RmapWalkControl<'_>),
    /// `page_vma_mapped_walk` (mm/page_vma_mapped.c), for every walker (try_to_unmap_one,
    /// try_to_migrate_one, page_mkclean_one, remove_migration_pte, page_mlock). Default
    /// [`pvmw::page_vma_mapped_walk`].
    ///
    /// [`pvmw::page_vma_mapped_walk`]: crate::ops::pvmw::page_vma_mapped_walk
    pub page_vma_mapped_walk:
        for<'w> fn(&'w World, Pfn, VmaId, u64, PvmwFlags) -> Option<PvmwItem<'w>>,
    /// `try_to_unmap_one` (reclaim, file THP split). Default [`ttu::try_to_unmap_one`];
    /// alternatives [`ttu::try_to_unmap_one_v4_18`] (before 017b1660df89: no
    /// `huge_pmd_unshare`), [`ttu::try_to_unmap_one_v4_4`] (before 369ea8242c0f:
    /// `mmu_notifier_invalidate_page` after the PTL).
    ///
    /// [`ttu::try_to_unmap_one`]: crate::ops::ttu::try_to_unmap_one
    /// [`ttu::try_to_unmap_one_v4_18`]: crate::ops::ttu::try_to_unmap_one_v4_18
    /// [`ttu::try_to_unmap_one_v4_4`]: crate::ops::ttu::try_to_unmap_one_v4_4
    pub try_to_unmap_one: TtuOneFn,
    /// `try_to_migrate_one` (migration, anon THP split; split from try_to_unmap_one by
    /// a98a2f0c8ce1). Default [`ttu::try_to_migrate_one`]; alternatives
    /// [`ttu::try_to_migrate_one_v4_18`], [`ttu::try_to_migrate_one_v4_4`].
    ///
    /// [`ttu::try_to_migrate_one`]: crate::ops::ttu::try_to_migrate_one
    /// [`ttu::try_to_migrate_one_v4_18`]: crate::ops::ttu::try_to_migrate_one_v4_18
    /// [`ttu::try_to_migrate_one_v4_4`]: crate::ops::ttu::try_to_migrate_one_v4_4
    pub try_to_migrate_one: TtuOneFn,
    /// `page_mkclean_one` (writeback's folio_mkclean). Default [`mkclean::page_mkclean_one`].
    ///
    /// [`mkclean::page_mkclean_one`]: crate::ops::mkclean::page_mkclean_one
    pub page_mkclean_one: fn(&World, Pfn, VmaId, u64) -> usize,
    /// `unmap_folio` (mm/huge_memory.c): the THP split's unmap, with the rmap lock the split
    /// holds (`TTU_RMAP_LOCKED`) or `None`. Default
    /// [`split::unmap_folio`] (TTU_SYNC, 732ed55823fc); alternative
    /// [`split::unmap_page_v5_12`] (without it).
    ///
    /// [`split::unmap_folio`]: crate::ops::split::unmap_folio
    /// [`split::unmap_page_v5_12`]: crate::ops::split::unmap_page_v5_12
    pub unmap_folio:
        for<'a, 'g, 'w> fn(&'a World, &'a LockedPage<'w>, Option<&'a HeldRmapLock<'g, 'w>>) -> bool,
    /// `invalid_migration_vma`: `try_to_migrate`'s `rwc->invalid_vma`, the VMAs migration
    /// leaves alone. Default [`ttu::invalid_migration_vma`] (exec's temporary stack,
    /// a8bef8ff6ea1); alternative [`ttu::invalid_migration_vma_v2_6_34`] (before it: none).
    ///
    /// [`ttu::invalid_migration_vma`]: crate::ops::ttu::invalid_migration_vma
    /// [`ttu::invalid_migration_vma_v2_6_34`]: crate::ops::ttu::invalid_migration_vma_v2_6_34
    pub invalid_migration_vma: fn(&World, VmaId) -> bool,
}
