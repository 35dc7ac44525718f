//! `page_get_anon_vma` drops the last reference of the anon_vma it pinned only after
//! `rcu_read_unlock()`: `put_anon_vma` → `anon_vma_free` may sleep (`might_sleep()`, and the
//! write lock it takes when the rwsem looks locked), which is forbidden inside an RCU read-side
//! critical section.
//!
//! mm/rmap.c `page_get_anon_vma` / `folio_get_anon_vma` (v5.x, v6.x):
//!
//! ```text
//! migration (pinner)                        munmap
//! rcu_read_lock
//! anon_vma = page->mapping; page_mapped: yes
//! atomic_inc_not_zero(&anon_vma->refcount)
//!                                           zap: page_remove_rmap (page unmapped)
//!                                           free_pgtables: unlink_anon_vmas:
//!                                             put_anon_vma (not the last)
//! page_mapped: no ->
//!   rcu_read_unlock(); put_anon_vma()        <- the last reference: anon_vma_free,
//!                                               which may sleep, outside RCU
//! ```
//!
//! The model put the anon_vma inside the RCU section; lockdep reported "sleeping function
//! called from invalid context" (I15) whenever that put was the last one.
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::{Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, migrate, munmap, pgtable, rmap_walk};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::{Bound, assert_model_clean};

/// One execution: an anonymous page isolated for migration (a page reference, so its
/// `->mapping` stays), pinned with `page_get_anon_vma` while its only VMA is unmapped.
fn a_pin_racing_the_unlink_of_the_last_vma() -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let cfg = WorldConfig::single(1, vec![]);
        let w = Arc::new(World::new(cfg, Kernel::default()));
        let mm = mm_alloc(&w).expect("one mm slot");
        let vma = mmap(&w, mm, 0, 1, MapKind::Anon).expect("one VMA slot");
        access::store(&w, 0, mm, 0, 7).expect("a store maps an anonymous page");
        let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
        assert!(migrate::isolate_lru_page(&w, pfn));

        let unmapper = {
            let w = w.clone();
            move || munmap::munmap(&w, mm, vma).expect("munmap of a mapped VMA")
        };
        let pinner = {
            let w = w.clone();
            move || {
                if let Some(av) = rmap_walk::page_get_anon_vma(&w, pfn) {
                    pgtable::put_anon_vma(&w, av);
                }
                migrate::putback_lru_page(&w, pfn);
            }
        };
        // The pinner last: it runs first, inline; one preemption between its pin and its
        // re-check of page_mapped lets munmap run to the end.
        env.run(vec![
            ("munmap", Box::new(unmapper)),
            ("migration", Box::new(pinner)),
        ]);
        quiescent::check_world(&w);
        (env.sink.take(), w.trace.render(48))
    })
}

#[test]
fn the_last_put_of_a_pinned_anon_vma_is_made_outside_rcu() {
    // Every interleaving: the whole exploration takes about a second in --release.
    assert_model_clean(
        "the_last_put_of_a_pinned_anon_vma_is_made_outside_rcu",
        Bound::Unbounded,
        a_pin_racing_the_unlink_of_the_last_vma,
    );
}
