//! `munlock-pagevec`: the batched munlock dropping a page's last pin under `lru_lock` —
//! 3b25df93c6e3 "mm: munlock: fix deadlock in __munlock_pagevec()" (Vlastimil Babka, Dec
//! 2013, v3.13; found by Sasha Levin with trinity). Old mlock scheme (3.12–5.17).
//!
//! 7225522bb429 (v3.12) batched munlock: `munlock_vma_pages_range` pins each page
//! (`follow_page(FOLL_GET)`) into a pagevec, and `__munlock_pagevec`'s phase 1 isolates the
//! batch under `lru_lock`, dropping at once the pin of a page it will not munlock. When a
//! truncation has meanwhile unmapped the page (whose last unmap clears PG_mlocked,
//! `clear_page_mlock`) and deleted it from the page cache, that pin is the last one:
//!
//! ```text
//! munlock(2): munlock_vma_pages_range          truncate: truncate_pagecache
//! ------------------------------------------   ------------------------------------------
//! clear VM_LOCKED
//! follow_page(FOLL_GET): pin P
//!                                              unmap_mapping_range: zap P's PTE
//!                                                page_remove_rmap -> clear_page_mlock(P)
//!                                              truncate_inode_page: delete_from_page_cache,
//!                                                put_page (the cache's reference)
//! __munlock_pagevec phase 1:
//!   SPIN(lru_lock)
//!   TestClearPageMlocked(P)? no: skip_munlock
//!   put_page(P): the last pin
//!     __page_cache_release: SPIN(lru_lock)     <- already held: deadlock   [I15]
//! ```
//!
//! The fix moves the skipped pages' pins to a second pagevec released after `spin_unlock`.
//!
//! Oracle: I15 (lockdep's recursive-locking report, made as the free path's
//! `__page_cache_release` would take `lru_lock`: docs/MODEL.md §19 says why the model checks
//! that acquisition without making it); the deadlock itself would be a `hang` on real threads.
//! The truncation is written here from engine steps (`unmap_mapping_range`, then the page
//! cache deletion under the page lock and `i_pages`), as `truncate_pagecache` orders them.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{FileId, Pfn, World};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::munlock_pagevec::{
    __munlock_pagevec, __munlock_pagevec_v3_12, munlock_vma_pages_range_v5_17,
};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::unmap_mapping::unmap_mapping_range;
use mmlab_engine::ops::{munlock, page_alloc};
use mmlab_engine::sync::Ordering;

/// The scenario.
#[derive(Debug)]
pub struct MunlockPagevec;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: 3b25df93c6e3: skipped pages' pins released after spin_unlock(lru_lock)
    Fixed,
    /// `pre-3b25df93c6e3`: v3.12: put_page of a skipped page under lru_lock
    Pre3b25df93c6e3,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::Pre3b25df93c6e3];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "3b25df93c6e3: skipped pages' pins released after spin_unlock(lru_lock)",
            ),
            Variant::Pre3b25df93c6e3 => VariantInfo::race(
                "pre-3b25df93c6e3",
                "v3.12: put_page of a skipped page under lru_lock",
            ),
        }
    }
}

/// `truncate_inode_page` → `delete_from_page_cache` of page `index` of `file`, the page
/// locked: out of `i_pages`, its `->mapping` cleared, the cache's reference dropped.
fn truncate_inode_page(w: &World, file: FileId, index: u64, pfn: Pfn) {
    let locked = lock_page(w, pfn);
    let f = w.files.get(file);
    let mut cache = f.i_pages.lock();
    if cache.pages[index as usize] != Some(pfn) {
        return;
    }
    cache.pages[index as usize] = None;
    drop(cache);
    w.page(pfn).mapping.store(0, Ordering::SeqCst);
    w.trace(
        "delete_from_page_cache",
        pfn,
        format_args!("{file} index {index}"),
    );
    drop(locked);
    page_alloc::put_page(w, pfn);
}

impl Scenario for MunlockPagevec {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "munlock-pagevec",
        title: "__munlock_pagevec drops the last pin under lru_lock (deadlock)",
        commit: "3b25df93c6e3",
        source: include_str!("munlock_pagevec.rs"),
        oracles: &[Oracle::I15Lockdep],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        kernel.mlock.scheme = MlockScheme::PageMlock;
        kernel.mlock.munlock_vma_pages_range = munlock_vma_pages_range_v5_17;
        kernel.mlock.__munlock_pagevec = match variant {
            Variant::Fixed => __munlock_pagevec,
            Variant::Pre3b25df93c6e3 => __munlock_pagevec_v3_12,
        };
        let w = kit::world(size, 2, kernel, |_| {});
        let file = w.file(0);
        let mm = mm_alloc(&w).expect("mm");
        let vma = kit::mmap_shared_file(&w, mm, 0, 1, file);
        munlock::mlock(&w, mm, vma).expect("mlock");
        let pfn = w.files.get(file).i_pages.lock().pages[0].expect("page cache page");
        let (wm, wt) = (w.clone(), w.clone());
        let actors = vec![
            actor("truncate", move || {
                // truncate_pagecache: unmap, then evict from the page cache.
                unmap_mapping_range(&wt, file, 0, 1);
                truncate_inode_page(&wt, file, 0, pfn);
            }),
            actor("munlock", move || {
                let _ = munlock::munlock(&wm, mm, vma);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
