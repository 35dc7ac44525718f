//! Page migration: `migrate_pages` → `unmap_and_move` → `__unmap_and_move` →
//! `move_to_new_page`, and `remove_migration_ptes` (the shape Hugh Dickins' 2015 rework gave it:
//! "mm: page migration trylock newpage at same level as oldpage", v4.4).
//!
//! ```text
//! __unmap_and_move(P, N):
//!   PGTRYLOCK(P) (PGLOCK if forced)      ; faults on P's entries sleep on this lock
//!   av = page_get_anon_vma(P)            ; pins the anon_vma across unmap/move/remap
//!   PGTRYLOCK(N) or -EAGAIN              ; 2015 rework: never sleep on N holding P
//!   try_to_migrate(P)                    ; PTEs -> migration entries, MAP(P) -> 0
//!   move_to_new_page(N, P)               ; refcount freeze under i_pages; copy data, flags
//!   remove_migration_ptes(P, ok ? N : P) ; entries -> present PTEs
//!   PGUNLOCK(N); put_anon_vma; PGUNLOCK(P) ; wakes the faulting waiters
//! ```
//!
//! Before Hugh Dickins' 2015 series (the [`__unmap_and_move_v4_3`] entry; v3.10 … v4.3)
//! nothing locked N until `move_to_new_page`, which runs only once P is unmapped:
//!
//! ```text
//! __unmap_and_move(P, N), pre-2015:
//!   PGTRYLOCK(P) (PGLOCK if forced); av = page_get_anon_vma(P)
//!   try_to_unmap(P, TTU_MIGRATION)       ; PTEs -> migration entries
//!   if !page_mapped(P): move_to_new_page(N, P):
//!       if (!trylock_page(N)) BUG()      ; a speculative locker of N crashes the kernel here
//!       move; on success remove_migration_ptes(P, N); PGUNLOCK(N)
//!   if rc: remove_migration_ptes(P, P)
//!   put_anon_vma; PGUNLOCK(P)
//! ```

//!
//! Each step is an entry of [`MigrateOps`] (`w.kernel.migrate`), called through the table by
//! every caller, so that one replaced step (say `move_to_new_page`) is what `migrate_pages`,
//! hugetlb migration and a user's own caller all run.

use crate::check::{self, Oracle};
use crate::mm::address_space::IMmap;
use crate::mm::page::pg;
use crate::mm::pte::Pte;
use crate::mm::{Mapping, Pfn, VmaId, World, vm};
use crate::ops::mlock::MlockScheme;
use crate::ops::pagemap::{LockedPage, lock_page, trylock_page};
use crate::ops::pvmw::{PVMW_MIGRATION, PVMW_SYNC};
use crate::ops::rmap_walk::{HeldRmapLock, RmapWalkControl, rmap_walk, rmap_walk_locked};
use crate::ops::ttu::{TTU_RMAP_LOCKED, TtuFlags};
use crate::ops::{page_alloc, pgtable, rmap, ttu};
use crate::race_window;
use crate::sync::{ObserverMutex, Ordering, RwSemWriteGuard};
use std::collections::HashSet;

/// What one migration step returned: the kernel's `MIGRATEPAGE_SUCCESS`, `-EAGAIN` or
/// `-ENOMEM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateResult {
    /// `MIGRATEPAGE_SUCCESS`: moved.
    Success,
    /// `-EAGAIN`: try again later (page or newpage locked, still mapped, refcount mismatch).
    Again,
    /// `-ENOMEM`: no newpage.
    NoMem,
}

/// A custom pool of newpages (`get_new_page` / `put_new_page`, the huge tmpfs use of seed
/// 004). Pool pages are allocated up front; an unused one must come back through
/// `put_new_page`, never through `putback_lru_page`.
#[derive(Debug, Default)]
pub struct NewPagePool {
    free: ObserverMutex<Vec<Pfn>>,
    members: ObserverMutex<HashSet<Pfn>>,
}

impl NewPagePool {
    /// A pool of `n` fresh pages.
    pub fn new(w: &World, n: usize) -> Self {
        let pool = NewPagePool::default();
        for _ in 0..n {
            if let Some(p) = page_alloc::alloc_page(w) {
                pool.free.lock().push(p);
                pool.members.lock().insert(p);
            }
        }
        pool
    }

    /// `get_new_page`.
    pub fn get_new_page(&self) -> Option<Pfn> {
        self.free.lock().pop()
    }

    /// `put_new_page`: an unused newpage goes back to the pool.
    pub fn put_new_page(&self, w: &World, pfn: Pfn) {
        w.trace("put_new_page", pfn, "back to its pool");
        self.free.lock().push(pfn);
    }

    /// Pages currently in the pool.
    pub fn available(&self) -> Vec<Pfn> {
        self.free.lock().clone()
    }

    /// Is `pfn` one of the pool's pages?
    pub fn owns(&self, pfn: Pfn) -> bool {
        self.members.lock().contains(&pfn)
    }

    /// A newpage became the page's new home: it leaves the pool for good (a replacement
    /// `unmap_and_move` calls it once the newpage is in use).
    pub fn consumed(&self, pfn: Pfn) {
        self.members.lock().remove(&pfn);
    }
}

/// `putback_lru_page` of a newpage. For a pool page that was never used this is the bug that
/// "mm: page migration use the put_new_page whenever necessary" (2015) fixed: the page leaves
/// its pool. Reported as [`Oracle::PoolAccounting`] when `pfn` is still a pool page.
pub fn putback_newpage_lru(w: &World, pool: &NewPagePool, pfn: Pfn) {
    if pool.owns(pfn) {
        check::violation(
            Oracle::PoolAccounting,
            format!(
                "unused newpage {pfn} released with putback_lru_page: it never returns to its pool"
            ),
        );
    }
    let page = w.page(pfn);
    page.flags.fetch_or(pg::LRU, Ordering::SeqCst);
    page_alloc::put_page(w, pfn);
}

/// `page_ref_freeze(page, expected)`: the refcount from `expected` to 0 in one step, as
/// `folio_migrate_mapping` does under the mapping's `i_pages`; on failure (another reference
/// is held) the step `failed` is traced with the refcount seen, and migration retries.
fn page_ref_freeze(w: &World, pfn: Pfn, expected: i32, failed: &'static str) -> bool {
    let p = w.page(pfn);
    let frozen = p
        .refcount
        .compare_exchange(expected, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if !frozen {
        w.trace(
            failed,
            pfn,
            format_args!("ref={}", p.refcount.load(Ordering::SeqCst)),
        );
    }
    frozen
}

/// `move_to_new_page` with `migrate_page_move_mapping` + `migrate_page_copy`: succeed only if
/// the page is unmapped and its refcount is exactly the expected one (frozen under `i_pages`
/// for file pages, I7); then `N` takes over `P`'s identity, data and flags
/// ([`folio_copy`], then the `folio_migrate_flags` entry). Both pages are locked by the
/// caller (the kernel's `VM_BUG_ON_FOLIO(!folio_test_locked(...))`), except in a negative
/// control that calls it bare. hugetlb migration shares it (`unmap_and_move_huge_page` →
/// `move_to_new_folio`).
pub fn move_to_new_page(w: &World, new: Pfn, old: Pfn) -> MigrateResult {
    let (p, n) = (w.page(old), w.page(new));
    if p.mapped() {
        check::violation(
            Oracle::I7RefFreeze,
            format!("move_to_new_page of mapped {old}"),
        );
        return MigrateResult::Again;
    }
    let index = p.index.load(Ordering::SeqCst);
    match p.mapping() {
        Mapping::File(f) => {
            let file = w.files.get(f);
            let mut cache = file.i_pages.lock();
            // Expected: the page cache's reference and migration's isolation reference.
            let expected = 2;
            if !page_ref_freeze(w, old, expected, "page_ref_freeze: failed") {
                return MigrateResult::Again;
            }
            race_window!("move_to_new_page: refcount frozen");
            n.index.store(index, Ordering::SeqCst);
            n.mapping.store(Mapping::File(f).encode(), Ordering::SeqCst);
            if file.hugetlb {
                n.flags.fetch_or(pg::HUGETLB, Ordering::SeqCst);
            }
            cache.pages[index as usize] = Some(new);
            n.refcount.fetch_add(1, Ordering::SeqCst);
            folio_copy(w, new, old);
            // The lab's note of the block the data came from moves with the data, as the
            // folio's buffers do (`__buffer_migrate_folio`: `folio_attach_private(dst,
            // folio_detach_private(src))`, `folio_set_bh(bh, dst, ...)` — each buffer keeps its
            // `b_blocknr`). Without it a migrated page read as one over a hole, and I23 could
            // not see a migrated page left over a freed block.
            n.block.store(
                p.block.load(std::sync::atomic::Ordering::SeqCst),
                std::sync::atomic::Ordering::SeqCst,
            );
            (w.kernel.migrate.folio_migrate_flags)(w, new, old);
            // Unfreeze without the cache's reference; the file page loses its mapping.
            p.mapping.store(0, Ordering::SeqCst);
            p.refcount.store(expected - 1, Ordering::SeqCst);
        }
        Mapping::Anon(av) if p.test(pg::SWAPCACHE) => {
            // `folio_migrate_mapping` of a swap-cache folio (`folio_mapping` is the swap
            // address space): freeze at isolation + cache under its `i_pages`, hand the slot's
            // cache entry, PG_swapcache and `folio->swap` to the new folio, unfreeze the old
            // one without the cache's reference; `folio_migrate_flags` ends with
            // `folio_clear_swapcache(folio)`.
            let entry = p.swap.load(Ordering::SeqCst);
            let mut cache = w.swap.cache.lock();
            let expected = 2;
            if !page_ref_freeze(w, old, expected, "folio_ref_freeze(swapcache): failed") {
                return MigrateResult::Again;
            }
            n.index.store(index, Ordering::SeqCst);
            n.mapping
                .store(Mapping::Anon(av).encode(), Ordering::SeqCst);
            n.refcount.fetch_add(1, Ordering::SeqCst);
            n.swap.store(entry, Ordering::SeqCst);
            n.test_set(pg::SWAPCACHE);
            cache.pages[entry as usize] = Some(new);
            folio_copy(w, new, old);
            (w.kernel.migrate.folio_migrate_flags)(w, new, old);
            p.test_clear(pg::SWAPCACHE);
            p.swap.store(0, Ordering::SeqCst);
            p.refcount.store(expected - 1, Ordering::SeqCst);
            drop(cache);
        }
        Mapping::Anon(av) => {
            if p.refcount.load(Ordering::SeqCst) != 1 {
                w.trace("migrate_page_move_mapping: extra refs", old, p.describe());
                return MigrateResult::Again;
            }
            n.index.store(index, Ordering::SeqCst);
            n.mapping
                .store(Mapping::Anon(av).encode(), Ordering::SeqCst);
            folio_copy(w, new, old);
            (w.kernel.migrate.folio_migrate_flags)(w, new, old);
            // PageAnon is persistent once set: the old page keeps its ->mapping (Hugh Dickins,
            // "mm: make page migration's newpage handling more robust", 2015).
        }
        Mapping::None => return MigrateResult::Again,
    }
    w.trace("move_to_new_page", old, format_args!("-> {new}"));
    MigrateResult::Success
}

/// `folio_copy` (`migrate_page_copy`'s first half before 6.0): the page's contents.
pub fn folio_copy(w: &World, new: Pfn, old: Pfn) {
    let (p, n) = (w.page(old), w.page(new));
    for (s, d) in p.data.iter().zip(&n.data) {
        d.store(s.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// `folio_migrate_flags` (`migrate_page_states` before the folio conversion): the flags that
/// move with the contents (dirty, mlocked, unevictable, uptodate, anon).
pub fn folio_migrate_flags(w: &World, new: Pfn, old: Pfn) {
    let (p, n) = (w.page(old), w.page(new));
    let carried = pg::UPTODATE | pg::ANON | pg::SWAPBACKED | pg::UNEVICTABLE;
    n.flags
        .fetch_or(p.flags.load(Ordering::SeqCst) & carried, Ordering::SeqCst);
    if p.test_clear(pg::DIRTY) {
        n.test_set(pg::DIRTY);
    }
    // Old scheme: PG_mlocked moves with the page (both are locked, which is what makes it
    // safe: 57e68e9cd65b). New scheme: remove_migration_pte rebuilds mlock_count.
    match w.kernel.mlock.scheme {
        MlockScheme::PageMlock => {
            if p.test_clear(pg::MLOCKED) {
                n.test_set(pg::MLOCKED);
            }
        }
        MlockScheme::MlockCount => {
            p.test_clear(pg::MLOCKED);
            p.test_clear(pg::UNEVICTABLE);
            n.test_clear(pg::MLOCKED);
            n.test_clear(pg::UNEVICTABLE);
        }
    }
}

/// `remove_migration_pte`, the `rmap_one` of `remove_migration_ptes`, for one VMA: under the
/// PTL, a migration entry of `old` becomes a present PTE of `new` (I6). Only slots that still
/// hold the entry are rewritten. Returns true (the walk goes on).
pub fn remove_migration_pte(w: &World, old: Pfn, new: Pfn, vma_id: VmaId, va: u64) -> bool {
    let Some(item) =
        (w.kernel.rmap.page_vma_mapped_walk)(w, old, vma_id, va, PVMW_SYNC | PVMW_MIGRATION)
    else {
        return true;
    };
    let Pte::Migration { write, .. } = item.value else {
        return true;
    };
    page_alloc::get_page(w, new);
    let pte = Pte::Present {
        pfn: new,
        write,
        dirty: false,
        young: true,
    };
    if w.page(new).is_anon() {
        rmap::page_add_anon_rmap(w, &item.pte, new, vma_id);
    } else {
        rmap::page_add_file_rmap(w, &item.pte, new, vma_id);
    }
    item.pte.set_pte_at(pte);
    if w.kernel.mlock.scheme == MlockScheme::PageMlock && w.vmas.get(vma_id).has(vm::LOCKED) {
        (w.kernel.mlock.mlock_vma_page)(w, new);
    }
    w.trace(
        "remove_migration_pte",
        format_args!("va {:#x}", va << 12),
        pte,
    );
    true
}

/// `remove_migration_ptes(old, new, locked)`: walk `new`'s rmap (its mapping was copied from
/// `old`, or it is `old` on failure) and restore every migration entry of `old` with the
/// `remove_migration_pte` entry. `held` is the rmap lock the caller already holds (hugetlb:
/// i_mmap write), or `None` to take it here.
///
/// `new_page` is `new`'s lock, as `rmap_walk` takes it.
pub fn remove_migration_ptes(
    w: &World,
    old: Pfn,
    new_page: &LockedPage<'_>,
    held: Option<&HeldRmapLock<'_, '_>>,
) {
    let new = new_page.pfn();
    w.trace(
        "remove_migration_ptes",
        old,
        format_args!(
            "-> {new}{}",
            if held.is_some() { " (rmap locked)" } else { "" }
        ),
    );
    let remove_migration_pte = w.kernel.migrate.remove_migration_pte;
    let mut one = |vma: VmaId, va: u64| remove_migration_pte(w, old, new, vma, va);
    // No `anon_lock`: the caller pinned the anon_vma (`rmap_walk_anon_lock`'s default).
    let mut rwc = RmapWalkControl::new(&mut one);
    match held {
        Some(h) => rmap_walk_locked(w, new_page, h, &mut rwc),
        None => rmap_walk(w, new_page, &mut rwc),
    }
}

/// What every era of `__unmap_and_move` does around its core: lock the old page (trylock;
/// sleep only if `force`), back off from writeback, pin an anon page's anon_vma
/// (`page_get_anon_vma`) for the unmap/move/remap, run `core` with the page locked, then
/// `put_anon_vma` and unlock the page.
pub fn __unmap_and_move_common(
    w: &World,
    old: Pfn,
    force: bool,
    core: impl FnOnce(&LockedPage<'_>) -> MigrateResult,
) -> MigrateResult {
    let page = w.page(old);
    let locked = match trylock_page(w, old) {
        Some(l) => l,
        None if force => lock_page(w, old),
        None => return MigrateResult::Again,
    };
    if page.test(pg::WRITEBACK) {
        return MigrateResult::Again;
    }
    let anon = page.is_anon();
    let av = if anon {
        (w.kernel.rmap.page_get_anon_vma)(w, old)
    } else {
        None
    };
    if anon && av.is_none() {
        // Unmapped anon page: nothing to remap; the caller's isolation ref is the last.
        return MigrateResult::Again;
    }
    let rc = core(&locked);
    if let Some(av) = av {
        pgtable::put_anon_vma(w, av);
    }
    drop(locked);
    rc
}

/// `__unmap_and_move` (v4.4+): with the old page locked, trylock the newpage at the same
/// level — "mm: page migration trylock newpage at same level as oldpage" (Hugh Dickins, 2015)
/// — and back off with -EAGAIN if someone holds it; then [`unmap_and_move_locked`].
pub fn __unmap_and_move(w: &World, old: Pfn, new: Pfn, force: bool) -> MigrateResult {
    __unmap_and_move_common(w, old, force, |page| match trylock_page(w, new) {
        Some(newpage) => {
            let rc = unmap_and_move_locked(w, page, &newpage);
            drop(newpage);
            rc
        }
        None => {
            w.trace("__unmap_and_move: newpage locked", new, "-EAGAIN");
            MigrateResult::Again
        }
    })
}

/// The core of the v4.4+ `__unmap_and_move`, both pages locked: `try_to_migrate` (PTEs →
/// migration entries), the `move_to_new_page` entry if that left the page unmapped, then
/// `remove_migration_ptes` towards the newpage on success, back to the old page otherwise.
pub fn unmap_and_move_locked(
    w: &World,
    page: &LockedPage<'_>,
    newpage: &LockedPage<'_>,
) -> MigrateResult {
    let (old, new) = (page.pfn(), newpage.pfn());
    let p = w.page(old);
    let mut was_mapped = false;
    if p.mapped() {
        ttu::try_to_migrate(w, page, TtuFlags::empty());
        was_mapped = true;
    }
    race_window!("__unmap_and_move: migration entries installed, page not yet copied");
    let rc = if p.mapped() {
        MigrateResult::Again
    } else {
        (w.kernel.migrate.move_to_new_page)(w, new, old)
    };
    if rc == MigrateResult::Success {
        // "__unmap_and_move() push good newpage to LRU" (5.18): before remove_migration_ptes,
        // so that remove_migration_pte's mlock_vma_folio can count it — the mlock_count of a
        // folio off the LRU is left alone.
        w.page(new).test_set(pg::LRU);
    }
    if was_mapped {
        let target = if rc == MigrateResult::Success {
            newpage
        } else {
            page
        };
        remove_migration_ptes(w, old, target, None);
    }
    rc
}

/// The pre-2015 `__unmap_and_move` (v3.10 … v4.3), before "mm: page migration trylock newpage
/// at same level as oldpage" (Hugh Dickins, 2015): nothing locks the newpage yet. "Establish
/// migration ptes or remove ptes" with `try_to_migrate`; only if that left the page unmapped
/// does [`move_to_new_page_v4_3`] run — and it is there that the newpage is locked, with
/// `if (!trylock_page(newpage)) BUG();`. On failure the old page's migration entries are
/// restored (`if (rc && remap_swapcache) remove_migration_ptes(page, page)`).
///
/// Simplification: the model's `try_to_migrate` stands for that era's `try_to_unmap(page,
/// TTU_MIGRATION|TTU_IGNORE_MLOCK|TTU_IGNORE_ACCESS)`, and it is skipped (with the remap) when
/// the page is not mapped: the walk would find nothing to unmap or restore.
pub fn __unmap_and_move_v4_3(w: &World, old: Pfn, new: Pfn, force: bool) -> MigrateResult {
    __unmap_and_move_common(w, old, force, |page| {
        let p = w.page(old);
        let was_mapped = p.mapped();
        if was_mapped {
            ttu::try_to_migrate(w, page, TtuFlags::empty());
        }
        race_window!("__unmap_and_move: migration entries installed, page not yet copied");
        let rc = if p.mapped() {
            MigrateResult::Again
        } else {
            move_to_new_page_v4_3(w, new, page, was_mapped)
        };
        if rc != MigrateResult::Success && was_mapped {
            remove_migration_ptes(w, old, page, None);
        }
        rc
    })
}

/// The pre-2015 `move_to_new_page` wrapper, called by [`__unmap_and_move_v4_3`]: "Block
/// others from accessing the page when we get around to establishing additional references.
/// We are the only one holding a reference to the new page at this point." —
/// `if (!trylock_page(newpage)) BUG();`. Then the move (the `move_to_new_page` entry), and on
/// success `remove_migration_ptes(page, newpage)` under the newpage lock; `unlock_page(newpage)`.
pub fn move_to_new_page_v4_3(
    w: &World,
    new: Pfn,
    page: &LockedPage<'_>,
    remap: bool,
) -> MigrateResult {
    let old = page.pfn();
    let Some(newpage) = trylock_page(w, new) else {
        check::violation(
            Oracle::Bug,
            format!(
                "kernel BUG at mm/migrate.c: move_to_new_page: !trylock_page(newpage): {new} is locked by someone else"
            ),
        );
        // The kernel stops here; the model backs off as the 2015 kernel does, so that a
        // stress run goes on after reporting.
        return MigrateResult::Again;
    };
    let rc = (w.kernel.migrate.move_to_new_page)(w, new, old);
    if rc == MigrateResult::Success {
        // As in `unmap_and_move_locked`: on the LRU before its mappings come back, so that an
        // mlock_count is rebuilt (the pre-2015 kernel had no count: this only matters when the
        // old migration is composed with the 5.18+ mlock scheme).
        w.page(new).test_set(pg::LRU);
        if remap {
            remove_migration_ptes(w, old, &newpage, None);
        }
    }
    drop(newpage);
    rc
}

/// What [`unmap_and_move_common`] did with one page: the newpage it took from the pool,
/// whether it is now in use (the page's new home), and the result.
#[derive(Debug, Clone, Copy)]
pub struct UnmapAndMove {
    /// The newpage from `get_new_page`.
    pub newpage: Pfn,
    /// It is the page's new home (`__unmap_and_move` succeeded).
    pub newpage_used: bool,
    /// The result for the old page.
    pub rc: MigrateResult,
}

/// What every era of `unmap_and_move` does before releasing the newpage: `get_new_page` (None
/// if the pool is empty: -ENOMEM), the "page was freed under us" shortcut, or the
/// `__unmap_and_move` entry; on success the old page's isolation reference is dropped.
pub fn unmap_and_move_common(
    w: &World,
    pool: &NewPagePool,
    old: Pfn,
    force: bool,
) -> Option<UnmapAndMove> {
    let new = pool.get_new_page()?;
    let mut newpage_used = false;
    let rc = if w.page(old).refcount.load(Ordering::SeqCst) == 1 {
        // The page was freed under us (munmap/exit dropped every other reference).
        w.trace("unmap_and_move: freed under us", old, "");
        MigrateResult::Success
    } else {
        let rc = (w.kernel.migrate.__unmap_and_move)(w, old, new, force);
        if rc == MigrateResult::Success {
            newpage_used = true;
            pool.consumed(new);
        }
        rc
    };
    if rc == MigrateResult::Success {
        // Drop the isolation reference: the old page is freed when its last user goes.
        page_alloc::put_page(w, old);
    }
    Some(UnmapAndMove {
        newpage: new,
        newpage_used,
        rc,
    })
}

/// `unmap_and_move` (v4.4+): one page of the list, with a newpage from `pool`. The page is
/// isolated (the caller holds a reference to it); on success that reference is dropped. An
/// unused newpage always goes back through `put_new_page` ("mm: page migration use the
/// put_new_page whenever necessary", Hugh Dickins, 2015).
pub fn unmap_and_move(w: &World, pool: &NewPagePool, old: Pfn, force: bool) -> MigrateResult {
    let Some(m) = unmap_and_move_common(w, pool, old, force) else {
        return MigrateResult::NoMem;
    };
    if m.newpage_used {
        // The newpage in use is on the LRU already: drop the allocation's reference.
        page_alloc::put_page(w, m.newpage);
    } else {
        pool.put_new_page(w, m.newpage);
    }
    m.rc
}

/// The pre-2015 `unmap_and_move` (v3.10 … v4.3): `if (rc != MIGRATEPAGE_SUCCESS &&
/// put_new_page) put_new_page(); else putback_lru_page(newpage)` — right for a newpage in use,
/// wrong for an unused one after the "page was freed under us" success, which leaves its pool
/// ([`putback_newpage_lru`]).
pub fn unmap_and_move_v4_3(w: &World, pool: &NewPagePool, old: Pfn, force: bool) -> MigrateResult {
    let Some(m) = unmap_and_move_common(w, pool, old, force) else {
        return MigrateResult::NoMem;
    };
    if m.newpage_used {
        page_alloc::put_page(w, m.newpage);
    } else if m.rc != MigrateResult::Success {
        pool.put_new_page(w, m.newpage);
    } else {
        putback_newpage_lru(w, pool, m.newpage);
    }
    m.rc
}

/// `migrate_pages`: up to 10 passes, forcing the page lock from the fourth, each page through
/// the `unmap_and_move` entry. Each page must be isolated by the caller (`isolate_lru_page`: a
/// reference held). Returns the pages not migrated; their isolation references are still the
/// caller's.
pub fn migrate_pages(w: &World, pool: &NewPagePool, pages: &[Pfn]) -> Vec<Pfn> {
    let mut left: Vec<Pfn> = pages.to_vec();
    for pass in 0..10 {
        left.retain(|&p| {
            (w.kernel.migrate.unmap_and_move)(w, pool, p, pass > 2) != MigrateResult::Success
        });
        if left.is_empty() {
            break;
        }
    }
    left
}

/// `isolate_lru_page`: take a page off the LRU for migration (a reference, PG_lru cleared).
pub fn isolate_lru_page(w: &World, pfn: Pfn) -> bool {
    if !page_alloc::get_page_unless_zero(w, pfn) {
        return false;
    }
    if !w.page(pfn).test_clear(pg::LRU) {
        page_alloc::put_page(w, pfn);
        return false;
    }
    true
}

/// `putback_lru_page` of a page that was not migrated.
pub fn putback_lru_page(w: &World, pfn: Pfn) {
    w.page(pfn).test_set(pg::LRU);
    page_alloc::put_page(w, pfn);
}

/// `unmap_and_move_huge_page` (b7880cb166ab, "migrate: correct lock ordering for hugetlb file
/// folios"): the `i_mmap_rwsem` trylocked for write stays held across `remove_migration_ptes`
/// (`TTU_RMAP_LOCKED` / `RMP_LOCKED`). See [`unmap_and_move_huge_page_common`].
pub fn unmap_and_move_huge_page(w: &World, pool: &NewPagePool, old: Pfn) -> MigrateResult {
    unmap_and_move_huge_page_common(w, pool, old, |target, imap| {
        remove_migration_ptes(w, old, target, Some(&HeldRmapLock::IMmapWrite(&imap)));
        drop(imap);
    })
}

/// `unmap_and_move_huge_page` before b7880cb166ab (from 336bf30eb765, 2020): the
/// `i_mmap_rwsem` is released after `try_to_migrate`, and `remove_migration_ptes` takes it
/// again for read — under the folio lock, below which the hugetlb order puts it: an inversion
/// (the syzbot deadlock that commit fixed).
pub fn unmap_and_move_huge_page_pre_b7880cb166ab(
    w: &World,
    pool: &NewPagePool,
    old: Pfn,
) -> MigrateResult {
    unmap_and_move_huge_page_common(w, pool, old, |target, imap| {
        drop(imap);
        remove_migration_ptes(w, old, target, None);
    })
}

/// The body of `unmap_and_move_huge_page` for a hugetlbfs file folio (docs/MODEL.md §1), every
/// era: trylock the folio and the newpage, then `i_mmap_rwsem` trylocked for write under the
/// folio lock (`hugetlb_page_mapping_lock_write`: in the hugetlb order it sits above the folio
/// lock), `try_to_migrate` with it held, the `move_to_new_page` entry, and `remap` — which
/// restores the migration entries towards `target` (the newpage on success, the old page
/// otherwise) and releases the `i_mmap_rwsem` guard it is handed, in its era's order.
pub fn unmap_and_move_huge_page_common<'w>(
    w: &'w World,
    pool: &NewPagePool,
    old: Pfn,
    remap: impl FnOnce(&LockedPage<'w>, RwSemWriteGuard<'w, IMmap>),
) -> MigrateResult {
    let Some(new) = pool.get_new_page() else {
        return MigrateResult::NoMem;
    };
    w.page(new).flags.fetch_or(pg::HUGETLB, Ordering::SeqCst);
    let page = w.page(old);
    let rc = (|| {
        let folio = trylock_page(w, old)?;
        let newfolio = trylock_page(w, new)?;
        let Mapping::File(f) = page.mapping() else {
            return None;
        };
        let file = w.files.get(f);
        let mut rc = MigrateResult::Again;
        if page.mapped() {
            let imap = file.i_mmap.try_write()?;
            let held = HeldRmapLock::IMmapWrite(&imap);
            ttu::try_to_migrate_locked(w, &folio, TTU_RMAP_LOCKED, &held);
            race_window!("unmap_and_move_huge_page: migration entries installed");
            if !page.mapped() {
                rc = (w.kernel.migrate.move_to_new_page)(w, new, old);
            }
            let target = if rc == MigrateResult::Success {
                &newfolio
            } else {
                &folio
            };
            remap(target, imap);
        } else {
            rc = (w.kernel.migrate.move_to_new_page)(w, new, old);
        }
        drop(newfolio);
        drop(folio);
        Some(rc)
    })()
    .unwrap_or(MigrateResult::Again);
    if rc == MigrateResult::Success {
        pool.consumed(new);
        page_alloc::put_page(w, old);
        putback_newpage_lru(w, pool, new);
    } else {
        w.page(new).test_clear(pg::HUGETLB);
        pool.put_new_page(w, new);
    }
    rc
}

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): page
/// migration's steps.
/// Its `Default`, the modern kernel, is implemented in [`crate::kernel`] (above the paths).
#[derive(Debug, Clone, Copy)]
pub struct MigrateOps {
    /// `unmap_and_move` (mm/migrate.c; `migrate_folio_unmap` + `migrate_folio_move` since
    /// 6.4): one page with a newpage from the pool, called by `migrate_pages`. Alternative:
    /// [`unmap_and_move_v4_3`] (before "mm: page migration use the put_new_page whenever
    /// necessary").
    pub unmap_and_move: fn(&World, &NewPagePool, Pfn, bool) -> MigrateResult,
    /// `__unmap_and_move`: lock, unmap, move, remap. Alternative: [`__unmap_and_move_v4_3`]
    /// (before "mm: page migration trylock newpage at same level as oldpage").
    pub __unmap_and_move: fn(&World, Pfn, Pfn, bool) -> MigrateResult,
    /// `move_to_new_page` (`move_to_new_folio`): the refcount freeze and the move of the
    /// mapping, contents and flags, `(w, new, old)`. Shared by hugetlb migration.
    pub move_to_new_page: fn(&World, Pfn, Pfn) -> MigrateResult,
    /// `folio_migrate_flags` (`migrate_page_states`), `(w, new, old)`.
    pub folio_migrate_flags: fn(&World, Pfn, Pfn),
    /// `remove_migration_pte`, the `rmap_one` of `remove_migration_ptes`: `(w, old, new, vma,
    /// va)`.
    pub remove_migration_pte: fn(&World, Pfn, Pfn, VmaId, u64) -> bool,
    /// `unmap_and_move_huge_page`. Alternative: [`unmap_and_move_huge_page_pre_b7880cb166ab`].
    pub unmap_and_move_huge_page: fn(&World, &NewPagePool, Pfn) -> MigrateResult,
}
