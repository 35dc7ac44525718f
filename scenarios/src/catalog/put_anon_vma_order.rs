//! `put-anon-vma-order`: the last put of a child anon_vma freeing its root first —
//! 624483f3ea82 "mm: rmap: fix use-after-free in __put_anon_vma" (Andrey Ryabinin, v3.16),
//! found by KASAN: "For the last anon_vma, anon_vma->root freed before child anon_vma. Later
//! in anon_vma_free(anon_vma) we are referencing to already freed anon_vma->root to check
//! rwsem." Peter Zijlstra, reviewing it ("\[PATCH\] mm: rmap: fix use-after-free in
//! __put_anon_vma", linux-mm, June 2014): "Very hard to hit, but valid since not all callers
//! hold rcu_read_lock()" — the put that frees may come from outside an RCU section, as
//! migration's `put_anon_vma` after `folio_get_anon_vma` does here.
//!
//! A child anon_vma (made by fork) holds a reference on its root (`get_anon_vma(root)` in
//! `anon_vma_fork`). When the child's last reference goes, `__put_anon_vma` must free the
//! child and drop the root's reference; `anon_vma_free(child)` reads
//! `child->root->rwsem` (`rwsem_is_locked`). Before the fix the root's reference was dropped
//! first: if it was the root's last, the root was freed, and the child's free then read it.
//!
//! The story: a parent faults a page and forks; the child faults a page of its own (mapped
//! with the child's anon_vma `A`, whose root is the parent's `R`); the parent exits (the
//! child's VMA keeps `R`'s tree non-empty). Then a migrator pins `A` through the child's page
//! (`folio_get_anon_vma`) while the child exits: `unlink_anon_vmas` empties both trees and
//! puts both (`A`: 2 → 1, `R`: 2 → 1), so the migrator's put is `A`'s last:
//!
//! ```text
//! migrate (page isolated)                 exit_mmap(child)
//! ------------------------------------    ------------------------------------------
//! folio_get_anon_vma: A 1 -> 2
//!                                         zap; unlink_anon_vmas: A, R trees empty
//!                                         put_anon_vma(A): 1; put_anon_vma(R): 1
//! put_anon_vma(A): 0 -> __put_anon_vma
//!   v3.15: put R: 0 -> anon_vma_free(R)
//!          anon_vma_free(A): A->root->rwsem   <- use after free [stale-id]
//!   fixed: anon_vma_free(A) (R live), then put R: 0 -> anon_vma_free(R)
//! ```
//!
//! Oracle: the use-after-free itself (`stale-id`: the arena reports the read of the freed
//! root, as KASAN did); I17 (a live anon_vma whose root is freed) and I9 judge what is left.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, anon_vma, exit, fork, page_alloc};
use mmlab_engine::race_window;

/// The scenario.
#[derive(Debug)]
pub struct PutAnonVmaOrder;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since 624483f3ea82: the child is freed before its root's reference drops.
    Fixed,
    /// v3.15 and older: the root's reference drops (and the root is freed) first.
    RootFreedFirst,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::RootFreedFirst];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "__put_anon_vma frees the child, then puts the root (624483f3ea82)",
            ),
            Variant::RootFreedFirst => VariantInfo::race(
                "root-freed-first",
                "before 624483f3ea82: the root is put (and freed) before the child's anon_vma_free reads it",
            ),
        }
    }
}

impl Scenario for PutAnonVmaOrder {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "put-anon-vma-order",
        title: "__put_anon_vma freeing the root before the child",
        commit: "624483f3ea82",
        source: include_str!("put_anon_vma_order.rs"),
        oracles: &[Oracle::StaleId, Oracle::I17AnonVmaTree, Oracle::I9AnonVma],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::RootFreedFirst => {
                kernel.anon_vma.__put_anon_vma = anon_vma::__put_anon_vma_v3_15;
            }
        }
        let w = kit::world(size, 2, kernel, |_| {});
        let parent = mm_alloc(&w).expect("mm");
        mmap(&w, parent, 0, 2, MapKind::Anon).expect("mmap");
        access::store(&w, 0, parent, 0, 1).expect("the parent's page: the root anon_vma");
        let child = fork::dup_mm(&w, parent).expect("fork");
        access::store(&w, 0, child, 1, 2).expect("the child's page: the child's anon_vma");
        let pfn = w.pte_at(child, 1).and_then(|p| p.pfn()).expect("mapped");
        // The migrator's isolation reference: the page outlives the child's exit.
        page_alloc::get_page(&w, pfn);
        exit::exit_mmap(&w, parent);
        let (wm, we) = (w.clone(), w.clone());
        let actors = vec![
            actor("exit", move || {
                exit::exit_mmap(&we, child);
            }),
            actor("migrate", move || {
                if let Some(av) = (wm.kernel.rmap.page_get_anon_vma)(&wm, pfn) {
                    race_window!("migrate: anon_vma pinned, put_anon_vma not yet");
                    anon_vma::put_anon_vma(&wm, av);
                }
                page_alloc::put_page(&wm, pfn);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
