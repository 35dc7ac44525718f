//! `mremap-tlb-flush`: mremap's `move_ptes` flushing the old range after it drops the page
//! table locks, racing `ftruncate` of the file — eb66ae030829 "mremap: properly flush TLB
//! before releasing the page" (Linus Torvalds, v4.19; CVE-2018-18281, reported by Jann Horn).
//! mremap moves a page from one PTE to another without holding a reference to it: the page
//! table lock is what keeps it alive, so the old address's TLB entries must be flushed before
//! that lock is dropped, or whoever takes the lock next — a truncation zapping the new
//! address — frees the page while another CPU's TLB still maps it at the old one. LTP's
//! `mremap06` is the user-space test: a reader spinning on the old address, `mremap` to a
//! new one, `ftruncate(fd, 0)`.
//!
//! ```text
//! mremap → move_ptes (≤4.18)              ftruncate → truncate_pagecache
//! ------------------------------------   ------------------------------------------
//! (cpu1's TLB maps old va -> page)
//! SPIN(ptl)
//! ptep_get_and_clear(old); set_pte_at(new)
//! UNSPIN(ptl)
//!                                        unmap_mapping_range: i_mmap -> the new VMA
//!                                          zap new va under the ptl; flush new va
//!                                        truncate_inode_pages_range: page removed,
//!                                          its last reference put: freed     => I3
//! flush_tlb_range(old)  -- too late
//! ```
//!
//! Since eb66ae030829 (`fixed`) `move_ptes` flushes the old range before it drops the PTLs
//! (ops/mremap.rs [`move_ptes`]); `move-ptes-v4-18` flushes after
//! ([`move_ptes_v4_18`]).
//!
//! Oracle: I3, in `free_pages_prepare`'s place: no page is freed while a CPU's TLB maps it.
//!
//! [`move_ptes`]: mmlab_engine::ops::mremap::move_ptes
//! [`move_ptes_v4_18`]: mmlab_engine::ops::mremap::move_ptes_v4_18

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::{access, mremap, truncate};

/// The scenario.
#[derive(Debug)]
pub struct MremapTlbFlush;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since eb66ae030829.
    Fixed,
    /// Before it: `move_ptes` flushes the old range after dropping the PTLs.
    MovePtesV4_18,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::MovePtesV4_18];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "move_ptes flushes the old range before dropping the PTLs (eb66ae030829)",
            ),
            Variant::MovePtesV4_18 => VariantInfo::race(
                "move-ptes-v4-18",
                "before eb66ae030829: the flush after the PTLs are dropped; ftruncate frees the \
                 page in between",
            ),
        }
    }
}

/// The kernel of `variant`.
pub fn kernel(variant: Variant) -> Kernel {
    let mut kernel = Kernel::default();
    match variant {
        Variant::Fixed => {}
        Variant::MovePtesV4_18 => kernel.mremap.move_ptes = mremap::move_ptes_v4_18,
    }
    kernel
}

impl Scenario for MremapTlbFlush {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "mremap-tlb-flush",
        title: "mremap's move_ptes vs ftruncate: the old address's TLB entry outlives the page",
        commit: "eb66ae030829",
        source: include_str!("mremap_tlb_flush.rs"),
        oracles: &[Oracle::I3FreeBeforeFlush],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        // One page of a shared file at va 0, moved to va 1 (one PTE table of two entries, so
        // that `move_ptes` moves it, not `move_normal_pmd`). Tiny at both sizes: one mremap
        // against one ftruncate, repeated by the runner's iterations.
        let _ = size;
        let w = kit::world(Size::Tiny, 2, kernel(variant), |cfg| {
            cfg.pages = 2;
            cfg.mms = 1;
            cfg.vmas = 2;
            cfg.anon_vmas = 1;
            cfg.tables = 1;
            cfg.ptes_per_table = 2;
            cfg.pmds_per_mm = 1;
            cfg.files = vec![(1, false)];
            cfg.tlb_entries = 1;
        });
        let file = w.file(0);
        let mm = mm_alloc(&w).expect("mm");
        kit::mmap_shared_file(&w, mm, 0, 1, file);
        // mremap06's reader: cpu1 has read the page through the old address (its TLB maps it).
        access::load(&w, 1, mm, 0).expect("read fault");
        let (wm, wt) = (w.clone(), w.clone());
        let actors = vec![
            actor("ftruncate", move || {
                truncate::ftruncate(&wt, file, 0);
            }),
            // Last: under loom it runs first, to be preempted between dropping the PTL and
            // the flush.
            actor("mremap", move || {
                let _ = mremap::mremap(&wm, mm, 0, 1, 1, 1);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
