//! `ptep_clear_flush`: a path that clears a present PTE under the PTL must use the PTE value
//! the clear itself returned, because the hardware sets the dirty bit without the PTL.
//!
//! A CPU holding a clean writable TLB entry stores through it: the hardware re-walks the page
//! table and sets the PTE's dirty bit with an atomic update (x86: a locked RMW of the PTE),
//! taking no lock. The kernel's clearing paths read the old PTE back atomically — x86
//! `native_ptep_get_and_clear` is an `xchg` — and move *that* value's dirty bit to the page:
//!
//! ```text
//! cpu0 (store)                          try_to_unmap_one / try_to_migrate_one / page_mkclean_one
//!                                         SPIN(ptl); pvmw: pte present, clean, writable
//! TLB hit: writable, clean
//! hw walk: CAS pte |= dirty; store lands
//!                                         pteval = ptep_clear_flush(pte)    <- xchg: dirty seen
//!                                         pte_dirty(pteval) -> set_page_dirty
//!                                         (mkclean: cleaned++ -> folio_mark_dirty)
//! ```
//!
//! A model that clears with a plain store and takes the dirty bit from the walk's earlier
//! snapshot loses the store's dirty bit: writeback skips the page (I4), reclaim frees it with
//! the store's data never written (lost-store), migration moves the data into a clean page (I4).
//!
//! Setup: a shared file page whose PTE is writable and clean over a clean page (the disk has
//! its data), cached writable-clean in cpu0's TLB. The model's shared-file faults always
//! write-notify (a read fault maps read-only, a write fault maps writable *and* dirty), so the
//! test writes that PTE itself, under the PTL: it is what the kernel's read fault installs in a
//! shared writable mapping that does not write-notify (`vma_wants_writenotify()` false), and
//! what `remove_migration_pte` installs from a writable migration entry (v5.15:
//! `maybe_mkwrite` without `pte_mkdirty`). Either way the clearing path must be right for it.
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::{Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{FileId, MmId, World, WorldConfig};
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages, putback_lru_page};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::{access, mkclean, reclaim};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::{Bound, assert_model_clean};

/// Pinned (the suite's `LOOM_MAX_PREEMPTIONS` does not lower it): writeback and reclaim explore
/// a few hundred executions, migration about 200,000 (under a minute in --release).
const PREEMPTION_BOUND: usize = 3;

/// Which kernel path clears the PTE while cpu0 stores.
#[derive(Debug, Clone, Copy)]
enum Clearer {
    /// Writeback: `folio_clear_dirty_for_io` → `folio_mkclean` → `page_mkclean_one`.
    Writeback,
    /// Reclaim: `try_to_unmap` → `try_to_unmap_one`, then `pageout` if dirty, then free.
    Reclaim,
    /// Migration: `try_to_migrate` → `try_to_migrate_one`, copy, `remove_migration_ptes`.
    Migration,
}

/// Two CPUs, one mm with one one-page shared file VMA, one table of one PTE, one-entry TLBs,
/// and two page frames (the file page and migration's newpage).
fn tiny_world() -> WorldConfig {
    WorldConfig::single(2, vec![(1, false)])
}

/// Make the PTE at `va` writable and clean, under its PTL (see the module docs).
fn make_pte_writable_clean(w: &World, mm: MmId, va: u64) {
    let locked = pte_offset_map_lock(w, mm, va).expect("mapped");
    let Pte::Present { pfn, young, .. } = locked.get() else {
        panic!("va {va} is not mapped");
    };
    let pte = Pte::Present {
        pfn,
        write: true,
        dirty: false,
        young,
    };
    locked.set_pte_at(pte);
}

/// One execution: set up the clean writable mapping, race cpu0's store of 8 against
/// `clearer`, then run the quiescent oracles. Returns every violation.
fn race_a_store_against(clearer: Clearer) -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let w = Arc::new(World::new(tiny_world(), Kernel::default()));
        let mm = mm_alloc(&w).expect("one mm slot");
        let file: FileId = w.file(0);
        let kind = MapKind::File {
            file,
            pgoff: 0,
            shared: true,
        };
        mmap(&w, mm, 0, 1, kind).expect("one VMA slot");
        // The page: faulted in by a store of 7, written back (the disk has 7, the page is clean,
        // the PTE read-only and clean), then made writable-clean and loaded into cpu0's TLB.
        access::store(&w, 0, mm, 0, 7).expect("a write fault maps the file page");
        assert!(mkclean::writeback(&w, file, 0), "the dirty page is written");
        make_pte_writable_clean(&w, mm, 0);
        access::load(&w, 0, mm, 0).expect("cpu0's TLB caches the clean writable PTE");

        let storer = {
            let w = w.clone();
            move || access::store(&w, 0, mm, 0, 8).expect("a store to a mapped shared file page")
        };
        let kernel = {
            let w = w.clone();
            move || match clearer {
                Clearer::Writeback => {
                    mkclean::writeback(&w, file, 0);
                }
                Clearer::Reclaim => {
                    reclaim::reclaim_page(&w, file, 0);
                }
                Clearer::Migration => {
                    let Some(pfn) = w.pte_at(mm, 0).and_then(|p| p.pfn()) else {
                        return;
                    };
                    if !isolate_lru_page(&w, pfn) {
                        return;
                    }
                    let pool = NewPagePool::new(&w, 1);
                    for p in migrate_pages(&w, &pool, &[pfn]) {
                        putback_lru_page(&w, p);
                    }
                }
            }
        };
        env.run(vec![
            ("kernel", Box::new(kernel)),
            ("storer", Box::new(storer)),
        ]);
        quiescent::check_world(&w);
        (env.sink.take(), w.trace.render(64))
    })
}

/// Explore every interleaving within the pinned bound; any violation fails the test with the
/// trace of the interleaving that produced it.
fn stays_clean(name: &str, clearer: Clearer) {
    assert_model_clean(name, Bound::Preemptions(PREEMPTION_BOUND), move || {
        race_a_store_against(clearer)
    });
}

#[test]
fn page_mkclean_one_keeps_the_dirty_bit_a_racing_store_sets() {
    stays_clean("store vs page_mkclean_one", Clearer::Writeback);
}

#[test]
fn try_to_unmap_one_keeps_the_dirty_bit_a_racing_store_sets() {
    stays_clean("store vs try_to_unmap_one", Clearer::Reclaim);
}

#[test]
fn try_to_migrate_one_keeps_the_dirty_bit_a_racing_store_sets() {
    stays_clean("store vs try_to_migrate_one", Clearer::Migration);
}
