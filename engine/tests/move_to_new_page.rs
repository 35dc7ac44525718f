//! Pre-2015 page migration (`migrate::__unmap_and_move_v4_3`): the newpage was first locked in
//! `move_to_new_page` — `if (!trylock_page(newpage)) BUG();` (v3.10 mm/migrate.c) — which
//! `__unmap_and_move` reaches only when `try_to_unmap` left the old page unmapped. A newpage
//! that someone else holds locked crashes the kernel there and nowhere else: a migration
//! that gives up earlier, its old page still mapped, never looks at the newpage.
//!
//! The reduced interleaving: a zapper has cleared the page's only PTE and holds its PTL, its
//! rmap not yet removed; a speculative locker holds the newpage. Migration's `try_to_unmap`
//! (no TTU_SYNC) skips the empty-looking PTE without the PTL, so the page stays mapped and
//! `__unmap_and_move` returns -EAGAIN without calling `move_to_new_page`:
//!
//! ```text
//! zapper                       speculative locker      migration (pre-2015)
//! SPIN(ptl); clear pte
//!   (rmap not yet removed)     trylock_page(N)
//!                                                      PGLOCK(P); page_get_anon_vma
//!                                                      try_to_unmap: pte none -> skip
//!                                                      page_mapped(P): -EAGAIN, no BUG
//! page_remove_rmap; UNSPIN     unlock_page(N)       remove_migration_ptes(P, P)
//! ```
//!
//! (The restoring `remove_migration_ptes` takes the PTL, so the zapper finishes once migration
//! has returned or waits for that PTL.)
#![cfg(not(mmlab_loom))]

mod common;

use common::{blocked_on, join, spawn, wait_until};
use mmlab_engine::check::{Oracle, Sink};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::migrate::{self, MigrateResult, NewPagePool};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::{access, page_alloc, rmap, tlb};
use mmlab_engine::sync::LockClass;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

#[test]
fn a_locked_newpage_is_no_bug_when_the_old_page_stays_mapped() {
    let mut kernel = Kernel::default();
    kernel.migrate.__unmap_and_move = migrate::__unmap_and_move_v4_3;
    let w = Arc::new(World::new(WorldConfig::stress(2), kernel));
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 3).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    assert!(migrate::isolate_lru_page(&w, pfn));
    let pool = NewPagePool::new(&w, 1);
    let new = pool.get_new_page().unwrap();

    // 1: the zapper cleared the PTE under the PTL; 2: the locker holds N; 3: migration done.
    let step = Arc::new(AtomicU32::new(0));
    let decided = |step: &AtomicU32| {
        step.load(Ordering::SeqCst) == 3 || blocked_on("migration", LockClass::Ptl)
    };
    let zapper = {
        let (w, step) = (w.clone(), step.clone());
        spawn("zapper", &sink, move || {
            let ptl = pte_offset_map_lock(&w, mm, 0).unwrap();
            let old = ptl.ptep_get_and_clear();
            assert_eq!(old.pfn(), Some(pfn));
            step.store(1, Ordering::SeqCst);
            wait_until("migration to decide", || decided(&step));
            rmap::page_remove_rmap(&w, pfn, vma);
            tlb::flush_tlb_range(&w, mm, 0, 1);
            drop(ptl);
            page_alloc::put_page(&w, pfn);
        })
    };
    wait_until("the zapper to clear the PTE", || {
        step.load(Ordering::SeqCst) == 1
    });
    let locker = {
        let (w, step) = (w.clone(), step.clone());
        spawn("speculative", &sink, move || {
            let g = w.page(new).lock().try_lock().expect("nobody else holds N");
            step.store(2, Ordering::SeqCst);
            wait_until("migration to decide", || decided(&step));
            drop(g);
        })
    };
    wait_until("the locker to hold N", || step.load(Ordering::SeqCst) == 2);

    let migration = {
        let (w, step) = (w.clone(), step.clone());
        spawn("migration", &sink, move || {
            let rc = (w.kernel.migrate.__unmap_and_move)(&w, pfn, new, false);
            step.store(3, Ordering::SeqCst);
            rc
        })
    };
    let rc = join(migration);
    join(locker);
    join(zapper);

    assert_eq!(
        rc,
        MigrateResult::Again,
        "the old page stayed mapped: try again later"
    );
    let bugs: Vec<String> = sink
        .take()
        .into_iter()
        .filter(|v| v.oracle == Oracle::Bug)
        .map(|v| v.to_string())
        .collect();
    assert!(
        bugs.is_empty(),
        "move_to_new_page was never reached, so its BUG cannot fire:\n{}",
        bugs.join("\n")
    );
    pool.put_new_page(&w, new);
    migrate::putback_lru_page(&w, pfn);
}
