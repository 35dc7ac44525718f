//! `munlock-exit`: many processes mlock one file, then exit together — "[v2,01/13]
//! mm/munlock: delete page_mlock() and all its works" (Hugh Dickins, Feb 2022, v5.18), whose
//! cover letter calls the old scheme's `i_mmap_rwsem` contention at exit "intolerable".
//!
//! ```text
//! exit of mm A (≤5.17)                         exit of mm B
//! ------------------------------------------   ------------------------------------------
//! munlock_vma_pages_all(vma):                  ...
//!   clear VM_LOCKED
//!   per page: lock_page; TestClearPageMlocked
//!     mapcount > 1: page_mlock():
//!       RLOCK(i_mmap_rwsem)  (whole walk,       free_pgtables -> unlink_file_vma:
//!         O(mappers) VMAs, each: PTL)             WLOCK(i_mmap_rwsem)   ... waits
//!       found B's VM_LOCKED: re-mlock            (a queued writer blocks new readers:
//!       RUNLOCK                                   the next page's walk queues behind it)
//! ```
//!
//! Work under the read lock is O(pages × mappers) per exiting mm, O(mappers² × pages) in all,
//! while every exit also needs the write lock once per VMA: the exits convoy on one rwsem.
//! v5.18 keeps `mlock_count` from rmap add/remove under the PTL and takes neither the page lock
//! nor `i_mmap_rwsem` to munlock. Both schemes are correct — the scenario checks that — and
//! `mmlab contention munlock-exit --variant all` measures the difference.
//!
//! Oracle: I11 (no page stranded PG_mlocked or unevictable; reclaim never unmaps from a
//! VM_LOCKED VMA, checked as residency of every page of a live VM_LOCKED VMA). At Tiny (loom)
//! the actors are the two exits alone; the reclaimer joins them on real threads.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::reclaim::reclaim_page;
use mmlab_engine::ops::{exit, munlock};

/// The scenario.
#[derive(Debug)]
pub struct MunlockExit;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `mlock-count`: v5.18+: mlock_count kept by rmap add/remove, no rmap walk (07ca76067308)
    MlockCount,
    /// `page-mlock`: ≤v5.17: munlock walks the rmap per page under i_mmap_rwsem (page_mlock)
    PageMlock,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::MlockCount, Variant::PageMlock];
    fn info(self) -> VariantInfo {
        match self {
            Variant::MlockCount => VariantInfo::clean(
                "mlock-count",
                "v5.18+: mlock_count kept by rmap add/remove, no rmap walk (07ca76067308)",
            ),
            Variant::PageMlock => VariantInfo::clean(
                "page-mlock",
                "≤v5.17: munlock walks the rmap per page under i_mmap_rwsem (page_mlock)",
            ),
        }
    }
}

/// Shape of the workload: (mms, pages of the file each maps and mlocks).
pub fn shape(size: Size) -> (usize, u64) {
    match size {
        Size::Tiny => (2, 1),
        Size::Stress => (4, 16),
    }
}

impl MunlockExit {
    /// Run with `mms` processes mapping `pages` pages, plus a reclaimer (Stress only); public
    /// so that the benchmarks can sweep K.
    pub fn run_with(
        &self,
        variant: Variant,
        size: Size,
        env: &Env,
        mms: usize,
        pages: u64,
    ) -> Outcome {
        let mut kernel = Kernel::default();
        kernel.mlock.scheme = match variant {
            Variant::MlockCount => MlockScheme::MlockCount,
            Variant::PageMlock => MlockScheme::PageMlock,
        };
        let w = kit::world(size, mms + 1, kernel, |cfg| {
            if size == Size::Stress {
                cfg.files = vec![(pages as usize, false)];
                cfg.mms = cfg.mms.max(mms);
                cfg.vmas = cfg.vmas.max(mms * 2);
                cfg.tables = cfg
                    .tables
                    .max(mms * (pages as usize / cfg.ptes_per_table + 1));
                cfg.pages = cfg.pages.max(pages as usize * 3);
            }
        });
        let file = w.file(0);
        let mut ids = Vec::new();
        for _ in 0..mms {
            let mm = mm_alloc(&w).expect("mm");
            let vma = kit::mmap_shared_file(&w, mm, 0, pages, file);
            munlock::mlock(&w, mm, vma).expect("mlock");
            ids.push(mm);
        }
        let mut actors = Vec::new();
        for (k, mm) in ids.into_iter().enumerate() {
            let we = w.clone();
            let name = [
                "exit0", "exit1", "exit2", "exit3", "exit4", "exit5", "exit6", "exit7",
            ]
            .get(k)
            .copied()
            .unwrap_or("exit");
            actors.push(actor(name, move || exit::exit_mmap(&we, mm)));
        }
        // The reclaimer runs on real threads only: under loom (Tiny) the two exits racing on
        // one page are the model. With a reclaimer as a third actor the page-mlock model
        // passes 240,000 executions at preemption bound 2 without finishing (loom-tests).
        if size == Size::Stress {
            let wr = w.clone();
            actors.push(actor("reclaim", move || {
                for index in 0..pages {
                    reclaim_page(&wr, file, index);
                }
            }));
        }
        kit::run(env, &w, actors)
    }
}

impl Scenario for MunlockExit {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "munlock-exit",
        title: "many mms mlock one file and exit: the old munlock's i_mmap_rwsem convoy",
        commit: "a213e5cf71cb, 07ca76067308 (mm/munlock series, v5.18)",
        source: include_str!("munlock_exit.rs"),
        oracles: &[Oracle::I11Mlock],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let (mms, pages) = shape(size);
        self.run_with(variant, size, env, mms, pages)
    }
}
