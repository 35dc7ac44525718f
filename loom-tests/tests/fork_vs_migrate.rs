//! fork racing the migration of the parent's anonymous page: clean in every interleaving
//! within the bound, because `dup_mmap` links the child's VMA into the page's anon_vma tree
//! (`anon_vma_fork`, under the root's rwsem) *before* `copy_page_range` copies the PTE, under
//! both PTLs. Whatever fork copies — the present PTE, or the migration entry that
//! `try_to_migrate` left (`copy_nonpresent_pte`) — `remove_migration_ptes` walks a tree that
//! already holds the child's VMA and restores it; and a `try_to_migrate` that runs after the
//! copy finds both mappings. I1, I6, I16 and I17 judge the world the two leave.
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::Violation;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, fork};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::migration_race::race_with_migration;
use mmlab_loom_tests::{Bound, assert_model_clean};

fn fork_racing_migration() -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let w = Arc::new(World::new(WorldConfig::tiny(2), Kernel::default()));
        let mm = mm_alloc(&w).expect("an mm slot");
        mmap(&w, mm, 0, 1, MapKind::Anon).expect("a VMA slot");
        access::store(&w, 0, mm, 0, 7).expect("a store maps an anonymous page");
        let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
        let forker = {
            let w = w.clone();
            move || {
                fork::dup_mm(&w, mm).expect("the tiny world has room for one child");
            }
        };
        race_with_migration(&env, &w, pfn, ("fork", Box::new(forker)))
    })
}

#[test]
fn fork_racing_migration_of_the_parents_page_is_clean() {
    // Bound 4: 15,180 executions in about 5 s (bound 5: 79,496 in 20 s).
    assert_model_clean(
        "fork_racing_migration_of_the_parents_page_is_clean",
        Bound::Preemptions(4),
        fork_racing_migration,
    );
}
