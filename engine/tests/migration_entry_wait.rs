//! `migration_entry_wait` keeps `mmap_lock` held for read while it sleeps.
//!
//! A fault that meets a migration entry goes `handle_mm_fault` → `handle_pte_fault` →
//! `do_swap_page` → `migration_entry_wait` → `__migration_entry_wait` →
//! `migration_entry_wait_on_locked` (v5.17+, ffa65753c431) or `put_and_wait_on_page_locked`
//! (v5.15), all under the `mmap_lock` the arch fault handler took for read; only when the wait
//! returns does `do_swap_page` return 0 and the handler `mmap_read_unlock` (the access then
//! re-faults). So munmap, which needs `mmap_lock` for write, cannot detach the VMA, zap it and
//! free its page tables under a sleeping waiter:
//!
//! ```text
//! migration (this test)          faulter (cpu0)                      munmap
//! folio_lock(P)
//! try_to_migrate: P's PTE ->
//!   migration entry
//!                                mmap_read_lock
//!                                migration_entry_wait: PTL, entry
//!                                  seen, sleeps on PG_locked
//!                                                                    mmap_write_lock: blocks
//! remove_migration_ptes
//! folio_unlock(P)                wakes; mmap_read_unlock
//!                                                                    detach, zap, free_pgtables
//! ```
#![cfg(not(mmlab_loom))]

mod common;

use common::{blocked_on, join, spawn, wait_until};
use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{World, WorldConfig, pg};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{Error, access, fault, migrate, munmap, pgtable, rmap_walk, ttu};
use mmlab_engine::sync::{Arc, LockClass, Ordering};

fn munmap_waits_for_a_sleeping_migration_waiter(kernel: Kernel) {
    let w = Arc::new(World::new(WorldConfig::stress(2), kernel));
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 7).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();

    // The migration: isolate the page (migration's reference), lock it, pin its anon_vma,
    // replace the PTE by a migration entry.
    assert!(migrate::isolate_lru_page(&w, pfn));
    let page = w.page(pfn);
    let guard = mmlab_engine::ops::pagemap::lock_page(&w, pfn);
    let av = rmap_walk::page_get_anon_vma(&w, pfn).expect("a mapped anon page has an anon_vma");
    ttu::try_to_migrate(&w, &guard, ttu::TtuFlags::empty());
    assert!(matches!(w.pte_at(mm, 0), Some(Pte::Migration { .. })));

    let faulter = {
        let w = w.clone();
        spawn("faulter", &sink, move || access::load(&w, 0, mm, 0))
    };
    // The faulter is queued on PG_locked (PG_waiters set under the PTL).
    wait_until("the faulter to sleep on the migrating page's lock", || {
        page.flags.load(Ordering::SeqCst) & pg::WAITERS != 0
    });
    let unmapper = {
        let w = w.clone();
        spawn("munmap", &sink, move || munmap::munmap(&w, mm, vma))
    };
    wait_until("munmap to block on mmap_lock or to finish", || {
        blocked_on("munmap", LockClass::MmapLock) || unmapper.is_finished()
    });
    assert!(
        !unmapper.is_finished(),
        "munmap finished while the migration waiter slept: the waiter must hold mmap_lock \
         for read across migration_entry_wait"
    );

    // The migration fails back (newpage = page): restore the PTE, unlock, let both go.
    migrate::remove_migration_ptes(&w, pfn, &guard, None);
    pgtable::put_anon_vma(&w, av);
    drop(guard);
    migrate::putback_lru_page(&w, pfn);
    match join(faulter) {
        Ok(7) => {}
        // The retried access may run after munmap (the rwsem favours the waiting writer).
        Err(Error::Segv) => {}
        other => panic!("the faulter's load returned {other:?}"),
    }
    join(unmapper).expect("munmap of a mapped VMA");
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn munmap_waits_for_a_waiter_queued_on_the_locked_page() {
    munmap_waits_for_a_sleeping_migration_waiter(Kernel::default());
}

#[test]
fn munmap_waits_for_a_waiter_sleeping_with_a_page_reference() {
    let mut kernel = Kernel::default();
    kernel.fault.migration_entry_wait = fault::migration_entry_wait_v5_16;
    munmap_waits_for_a_sleeping_migration_waiter(kernel);
}
