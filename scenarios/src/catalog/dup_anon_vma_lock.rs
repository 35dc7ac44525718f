//! `dup-anon-vma-lock`: d8ab9f7b644a "mm: lock VMA in dup_anon_vma() before setting
//! ->anon_vma" (Jann Horn, July 2023, merged during v6.5-rc through the mm hotfixes; stable
//! 6.4.8). `Fixes: 5e31275cc997 ("mm: add per-VMA lock and helper functions to control it")`:
//! the bug is as old as per-VMA locks (v6.4).
//!
//! When `vma_merge` grows a VMA over a neighbour that has an anon_vma, `dup_anon_vma(dst, src)`
//! gives the growing VMA that anon_vma: `dst->anon_vma = src->anon_vma`, then
//! `anon_vma_clone(dst, src)` links `dst` into the anon_vma's tree. In 6.4 `dst` was not
//! write-locked yet (`vma_prepare` locks it later), so from the assignment on, a page fault
//! on `dst` could run under the per-VMA lock alone — and found an anon_vma to use. The
//! commit's message: "such page faults can now install pages into `dst` that are attached to
//! an `anon_vma` that is not yet tied back to the `anon_vma` with an `anon_vma_chain`. But if
//! `anon_vma_clone()` fails due to an out-of-memory error, things get much worse:
//! `anon_vma_clone()` then reverts `dst->anon_vma` back to NULL, and `dst` remains completely
//! unconnected to the `anon_vma`, even though we can have pages in the area covered by `dst`
//! that point to the `anon_vma`. This means the `anon_vma` of such pages can be freed while
//! the pages are still mapped into userspace, which leads to UAF when a helper like
//! folio_lock_anon_vma_read() tries to look up the anon_vma of such a page." Its author
//! reproduced it with the allocation failure injected (the patch mail's notes); the world
//! here runs `anon_vma_clone` in that allocator state (`anon_vma::anon_vma_clone_enomem`),
//! in every variant.
//!
//! The story (one mm; `prev` `[0,1)` read-write, never faulted; `curr` `[1,2)` read-only;
//! `next` `[2,3)` read-write with a page, so with anon_vma `A`; `mprotect(curr, RW)` is
//! `vma_merge` case 6, three VMAs into one):
//!
//! ```text
//! mprotect(curr, PROT_READ|PROT_WRITE)          store to prev (do_user_addr_fault)
//! mmap_write_lock                               ------------------------------------------
//! vma_merge: prev grows over curr and next
//!   dup_anon_vma(prev, next):
//!     [6.4: no vma_start_write(prev)]
//!     prev->anon_vma = A
//!     anon_vma_clone(prev, next):
//!       anon_vma_chain_alloc(GFP_KERNEL): reclaim ...
//!                                               lock_vma_under_rcu(prev): vma_start_read ok
//!                                               do_anonymous_page: anon_vma_prepare: A is set
//!                                               page_add_new_anon_rmap: page->mapping = A
//!                                               set_pte_at; vma_end_read
//!       -ENOMEM: prev->anon_vma = NULL; unlink_anon_vmas(prev)
//!   return NULL (not merged); curr gets its new flags alone
//! mmap_write_unlock
//! ```
//!
//! `prev` now maps a page whose anon_vma `A` does not have `prev` on its tree: rmap walks
//! cannot find that mapping (I16, at rest), and once `next` goes, `A` is freed under it — the
//! use-after-free of the commit message. If the unwind lands between the fault's
//! `anon_vma_prepare` and its `page_add_new_anon_rmap`, the fault meets `vma->anon_vma ==
//! NULL` where it has just seen it set: `__page_set_anon_rmap`'s `BUG_ON(!anon_vma)` (`BUG`).
//!
//! With the fix, `vma_start_write(prev)` comes first: from then until `mmap_write_unlock`,
//! `vma_start_read(prev)` fails and the fault falls back to `mmap_lock`, which it gets only
//! once mprotect is done (and then gives `prev` an anon_vma of its own); a fault that locked
//! `prev` first makes `vma_start_write` wait for its `vma_end_read`.
//!
//! Oracles: I16 (at rest: the page in `prev` unreachable through its anon_vma), `BUG`
//! (`__page_set_anon_rmap`), I17 (the same state seen as the anon_vma tree's consistency), and
//! I15 when the unwind lands after the fault's `lock_vma_under_rcu` saw `prev->anon_vma` set
//! but before its `anon_vma_prepare` read it: the fault then runs `__anon_vma_prepare` under
//! the VMA lock alone, and `find_mergeable_anon_vma` walks the VMA tree with neither
//! `mmap_lock` nor RCU — the harm of 657b5146955e, reached through this race.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::ops::access;
use mmlab_engine::ops::anon_vma;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::mprotect::mprotect;

/// The scenario.
#[derive(Debug)]
pub struct DupAnonVmaLock;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Since d8ab9f7b644a: `dst` is write-locked before `dst->anon_vma` is set.
    Fixed,
    /// v6.4: `dup_anon_vma_v6_4`, the assignment on a VMA a fault may hold read-locked.
    DupAnonVmaV6_4,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::DupAnonVmaV6_4];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "dup_anon_vma write-locks dst before setting dst->anon_vma (d8ab9f7b644a)",
            ),
            Variant::DupAnonVmaV6_4 => VariantInfo::race(
                "dup-anon-vma-v6-4",
                "v6.4: a VMA-locked fault uses the anon_vma a failing anon_vma_clone then takes back",
            ),
        }
    }
}

impl Scenario for DupAnonVmaLock {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "dup-anon-vma-lock",
        title: "dup_anon_vma without the VMA write lock: a fault keeps an anon_vma the merge gave back",
        commit: "d8ab9f7b644a",
        source: include_str!("dup_anon_vma_lock.rs"),
        oracles: &[
            Oracle::I16RmapReachable,
            Oracle::Bug,
            Oracle::I17AnonVmaTree,
            Oracle::I15Lockdep,
        ],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        // The allocator state the commit's harm needs, in every variant (module doc).
        kernel.anon_vma.anon_vma_clone = anon_vma::anon_vma_clone_enomem;
        match variant {
            Variant::Fixed => {}
            Variant::DupAnonVmaV6_4 => {
                kernel.anon_vma.dup_anon_vma = anon_vma::dup_anon_vma_v6_4;
            }
        }
        let _ = size;
        // Three VMAs, two anon_vmas (next's, and prev's own after a clean fallback), two
        // pages.
        let w = kit::world(size, 2, kernel, |cfg| {
            cfg.vmas = cfg.vmas.max(3);
            cfg.anon_vmas = cfg.anon_vmas.max(2);
            cfg.pages = cfg.pages.max(4);
            cfg.tables = cfg.tables.max(2);
        });
        let mm = mm_alloc(&w).expect("mm");
        mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap prev");
        mmap(&w, mm, 1, 1, MapKind::Anon).expect("mmap curr");
        mprotect(&w, mm, 1, 2, vm::READ).expect("curr read-only");
        mmap(&w, mm, 2, 1, MapKind::Anon).expect("mmap next");
        access::store(&w, 0, mm, 2, 2).expect("next's page: anon_vma A");
        let (wm, wf) = (w.clone(), w.clone());
        // The last actor is the one loom runs first, inline: mprotect, preempted in the
        // window of its failing clone.
        let actors = vec![
            actor("fault", move || {
                access::store(&wf, 1, mm, 0, 1).expect("store to prev");
            }),
            actor("mprotect", move || {
                mprotect(&wm, mm, 1, 2, vm::READ | vm::WRITE).expect("mprotect curr");
            }),
        ];
        kit::run(env, &w, actors)
    }
}
