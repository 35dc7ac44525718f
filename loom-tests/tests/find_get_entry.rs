//! A hole punch racing the migration of the page it evicts: truncation's lookup
//! (`truncate.rs:find_get_entry`, mm/filemap.c's `find_get_entry`) must not skip a folio whose
//! refcount it finds frozen, and must take the folio migration stored in its place.
//!
//! ```text
//! punch_hole (invalidate_lock write)        migrate_pages
//!   truncate_inode_pages_range:
//!     i_pages: slot 0 holds P
//!                                             move_to_new_page: SPIN(i_pages)
//!                                               page_ref_freeze(P, 2)
//!     folio_try_get(P) fails (frozen)
//!       skipped (the model's bug)                 slot 0 := N (P's data, clean); UNSPIN
//!       kernel: xas_reset, retry -> N             PGUNLOCK(N)
//!   ext4_ext_remove_space: block freed
//! at rest: N cached over the hole, clean, holding the data the disk no longer has
//! ```
//!
//! The skip was the cause of the one I4 `mixed` reported (`fault-v6-3`, seed
//! `0x5eed ^ 103718`, docs/MODEL.md §15); `engine/tests/find_get_entry.rs` plays that one
//! interleaving on real threads. Here loom explores them all: every quiescent invariant (I4,
//! I23, I1, the lost-store oracle) holds at rest, whichever of the two wins.
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, mkclean, munmap, truncate};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::migration_race::race_with_migration;
use mmlab_loom_tests::{Bound, assert_model_clean};

/// Pinned (the suite's `LOOM_MAX_PREEMPTIONS` does not lower it).
const PREEMPTION_BOUND: usize = 3;

#[test]
fn a_hole_punch_racing_migration_leaves_nothing_cached_over_the_hole() {
    assert_model_clean(
        "punch_hole vs migrate_pages",
        Bound::Preemptions(PREEMPTION_BOUND),
        || {
            let env = Env::new(0);
            env.play(|| {
                // Two page frames: the file page and migration's newpage.
                let cfg = WorldConfig::single(2, vec![(1, false)]);
                let w = Arc::new(World::new(cfg, Kernel::default()));
                let file = w.file(0);
                let mm = mm_alloc(&w).expect("one mm slot");
                let kind = MapKind::File {
                    file,
                    pgoff: 0,
                    shared: true,
                };
                let vma = mmap(&w, mm, 0, 1, kind).expect("one VMA slot");
                // The page: written (7), unmapped, written back — clean, its data in a block.
                access::store(&w, 0, mm, 0, 7).expect("a write fault maps the file page");
                let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
                munmap::munmap(&w, mm, vma).expect("munmap");
                assert!(mkclean::writeback(&w, file, 0), "the dirty page is written");
                let punch = {
                    let w = w.clone();
                    move || truncate::punch_hole(&w, file, 0, 1)
                };
                race_with_migration(&env, &w, pfn, ("punch", Box::new(punch)))
            })
        },
    );
}
