//! `anon-vma-degree`: CVE-2022-42703 — 2555283eb40d "mm/rmap: Fix anon_vma->degree ambiguity
//! leading to double-reuse" (Jann Horn, 2022: merged during v6.0's -rc phase and backported to
//! stable, 4.19.257 among them; its message: "is_mergeable_anon_vma() and
//! its callers assume that if two VMAs have the same ->anon_vma, the list of anon_vmas
//! attached to the VMAs is guaranteed to be the same. When this assumption is violated,
//! vma_merge() can merge pages into a VMA that is not attached to the corresponding anon_vma,
//! leading to dangling page->mapping pointers that will be dereferenced during rmap walks").
//!
//! From v3.19 (7a3ef208e662 "mm: prevent endless growth of anon_vma hierarchy") to v5.19,
//! `anon_vma_clone` at fork reused an anon_vma of the parent VMA's chain — other than the
//! parent's own — whose `degree` was below 2, and `degree` counted child anon_vmas and VMAs
//! together. An anon_vma abandoned as a leaf (no child, no VMA of its own) has degree 0; a
//! fork reuses it for a first VMA (degree 1, which also reads as "one child, no VMA") and
//! then for a second VMA of the same fork. The two VMAs then share `->anon_vma` while their
//! chains differ, and mprotect's `vma_merge` merges them, tearing down the chain that held
//! the anon_vma of some of the pages.
//!
//! The story (an mm per process; one VMA `[0, 2)` of two pages; `A1`, `A2`, `A3` the
//! anon_vmas of C1, C2, C3, each the child of the one before; `R` the root):
//!
//! ```text
//! P: mmap, fault both pages (R).  C1 = fork(P) (A1).  C2 = fork(C1) (A2).  C3 = fork(C2) (A3).
//! C2 exits: A2 degree 1 (its child A3).
//! C4 = fork(C3): reuses A2 (degree 1 < 2). mprotect(C4, [0,1), PROT_READ) splits it: X, Y.
//! C3b = fork(C3): A3 gets a child (degree 2).  C1 exits: A1 degree 1 (its child A2).
//! C5 = fork(C4): X reuses A1; for Y, A1 is now at 2 and A3 at 2: a new anon_vma N.
//! C3, C3b exit: A3 degree 0 — an abandoned leaf on both X's and Y's chains.
//! C5: MADV_DONTNEED and a store give Y a page of its own: page->mapping = N.
//! C6 = fork(C5): X reuses A3 (degree 1), and so does Y (1 < 2): same ->anon_vma, and only
//!      Y's chain has N.  C5 exits: Y of C6 is N's only VMA.
//! ```
//!
//! Then, concurrently (the reproducer is sequential; the concurrency is where the kernel has
//! it — an rmap walker meeting the page while the merge frees its anon_vma):
//!
//! ```text
//! mprotect(C6, [1,2), PROT_READ)             reclaim (folio_referenced of Y's page)
//! ------------------------------------       ------------------------------------------
//! vma_merge: X and Y share A3 ->
//!   __vma_adjust: X grows over Y
//!   anon_vma_merge: unlink_anon_vmas(Y):
//!     N's tree empty: put_anon_vma(N), freed
//!                                            folio_lock_anon_vma_read: page->mapping = N,
//!                                            page_mapped -> N is "still its anon_vma"
//!                                            <- N was freed [I9 / stale-id]
//! ```
//!
//! With the fix (`num_active_vmas == 0 && num_children < 2`), C6's Y does not reuse A3 — X's
//! reuse made A3 active — so X and Y keep different anon_vmas and never merge.
//!
//! Oracles: I9 (the walk's anon_vma, re-validated by `page_mapped`, is freed) or `stale-id`
//! at the walk; I17 (a mapped page whose anon_vma was freed, or not on its VMA's chain) and
//! I16 (the page unreachable through its rmap) at quiescence, whichever order the two ran in.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::ops::anon_vma::AnonVmaOps;
use mmlab_engine::ops::folio_referenced::folio_referenced;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::mprotect::mprotect;
use mmlab_engine::ops::pagemap::trylock_page;
use mmlab_engine::ops::{access, exit, fork, munmap, page_alloc};

/// The scenario.
#[derive(Debug)]
pub struct AnonVmaDegree;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Since 2555283eb40d: `num_children` and `num_active_vmas`.
    Fixed,
    /// v3.19 .. v5.19 (7a3ef208e662 .. 2555283eb40d): the `degree` reuse rule
    /// (`AnonVmaOps::v5_19`, the table's degree-era entries).
    DegreeV5_19,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::DegreeV5_19];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "anon_vma_clone reuses an anon_vma with no active VMA and < 2 children (2555283eb40d)",
            ),
            Variant::DegreeV5_19 => VariantInfo::race(
                "degree-v5-19",
                "v3.19..v5.19: degree < 2 reuses one anon_vma for two VMAs with different chains; vma_merge orphans a page",
            ),
        }
    }
}

impl Scenario for AnonVmaDegree {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "anon-vma-degree",
        title: "anon_vma degree double reuse: vma_merge leaves page->mapping dangling",
        commit: "2555283eb40d",
        source: include_str!("anon_vma_degree.rs"),
        oracles: &[
            Oracle::I9AnonVma,
            Oracle::StaleId,
            Oracle::I17AnonVmaTree,
            Oracle::I16RmapReachable,
        ],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::DegreeV5_19 => kernel.anon_vma = AnonVmaOps::v5_19(),
        }
        // Eight processes over the story (at most six at once), one or two VMAs each, one
        // PTE table each.
        let w = kit::world(size, 2, kernel, |cfg| {
            cfg.mms = cfg.mms.max(8);
            cfg.vmas = cfg.vmas.max(10);
            cfg.anon_vmas = cfg.anon_vmas.max(8);
            cfg.pages = cfg.pages.max(6);
            cfg.tables = cfg.tables.max(8);
        });
        let p = mm_alloc(&w).expect("mm");
        mmap(&w, p, 0, 2, MapKind::Anon).expect("mmap");
        access::store(&w, 0, p, 0, 1).expect("P's first page: the root R");
        access::store(&w, 0, p, 1, 2).expect("P's second page");
        let c1 = fork::dup_mm(&w, p).expect("fork");
        let c2 = fork::dup_mm(&w, c1).expect("fork");
        let c3 = fork::dup_mm(&w, c2).expect("fork");
        exit::exit_mmap(&w, c2);
        let c4 = fork::dup_mm(&w, c3).expect("fork: reuses A2");
        mprotect(&w, c4, 0, 1, vm::READ).expect("split C4's VMA into X and Y");
        let c3b = fork::dup_mm(&w, c3).expect("fork: a child for A3");
        exit::exit_mmap(&w, c1);
        let c5 = fork::dup_mm(&w, c4).expect("fork: X reuses A1, Y gets N");
        exit::exit_mmap(&w, c3);
        exit::exit_mmap(&w, c3b);
        munmap::madvise_dontneed(&w, c5, 1, 2).expect("MADV_DONTNEED");
        access::store(&w, 0, c5, 1, 5).expect("a page of Y's own: mapping N");
        let c6 = fork::dup_mm(&w, c5).expect("fork: X and Y reuse A3 (degree era)");
        exit::exit_mmap(&w, c5);
        let pfn = w.pte_at(c6, 1).and_then(|p| p.pfn()).expect("mapped");
        // Reclaim's isolation reference: the page stays a page while it is looked at.
        page_alloc::get_page(&w, pfn);
        let (wm, wr) = (w.clone(), w.clone());
        // The last actor is the one loom runs first, inline: the merge, then the walk.
        let actors = vec![
            actor("reclaim", move || {
                if let Some(locked) = trylock_page(&wr, pfn) {
                    folio_referenced(&wr, &locked);
                    drop(locked);
                }
                page_alloc::put_page(&wr, pfn);
            }),
            actor("mprotect", move || {
                mprotect(&wm, c6, 1, 2, vm::READ).expect("mprotect");
            }),
        ];
        kit::run(env, &w, actors)
    }
}
