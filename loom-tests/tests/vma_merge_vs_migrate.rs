//! mprotect's `vma_merge` racing the migration of a page of the VMA it removes: clean in every
//! interleaving within the bound. `__vma_adjust` changes `vm_end` of the VMA that grows and
//! unlinks the one removed under the anon_vma root's rwsem held for write, and tears the
//! removed VMA's chain down (`anon_vma_merge`) only after; `try_to_migrate` and
//! `remove_migration_ptes` read the tree and `vm_start` / `vm_pgoff` under the same rwsem for
//! read. So each walk sees either both VMAs with their old bounds or the merged VMA with its
//! new ones, and the migration entry it installs is found again and restored (I6), the page
//! stays reachable (I16, I17) and mapped once (I1).
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::Violation;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::access;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::mprotect::mprotect;
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::migration_race::race_with_migration;
use mmlab_loom_tests::{Bound, assert_model_clean};

fn merge_racing_migration() -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let w = Arc::new(World::new(WorldConfig::tiny(2), Kernel::default()));
        let mm = mm_alloc(&w).expect("an mm slot");
        mmap(&w, mm, 0, 2, MapKind::Anon).expect("a VMA slot");
        access::store(&w, 0, mm, 0, 1).expect("first page");
        access::store(&w, 0, mm, 1, 2).expect("second page");
        mprotect(&w, mm, 1, 2, vm::READ).expect("split: [0,1) RW, [1,2) RO");
        let pfn = w.pte_at(mm, 1).and_then(|p| p.pfn()).expect("mapped");
        let merger = {
            let w = w.clone();
            move || {
                mprotect(&w, mm, 1, 2, vm::READ | vm::WRITE).expect("merge with prev");
            }
        };
        race_with_migration(&env, &w, pfn, ("mprotect", Box::new(merger)))
    })
}

#[test]
fn vma_merge_racing_migration_of_the_removed_vmas_page_is_clean() {
    // Every interleaving: 18,206 executions in about 6 s.
    assert_model_clean(
        "vma_merge_racing_migration_of_the_removed_vmas_page_is_clean",
        Bound::Unbounded,
        merge_racing_migration,
    );
}
