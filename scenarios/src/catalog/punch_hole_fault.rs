//! `punch-hole-fault`: a hole punch racing a page fault that fills the page cache —
//! 730633f0b7f9 "mm: Protect operations adding pages to page cache with invalidate_lock"
//! (Jan Kara, v5.15; the series "fs: Hole punch vs page cache filling races"). Its message:
//!
//! ```text
//! fallocate(FALLOC_FL_PUNCH_HOLE)          read / fault / ..
//!   truncate_inode_pages_range()
//!                                            <create pages in page
//!                                             cache here>
//!   <update fs block mapping and free blocks>
//! ```
//!
//! "Now the problem is in this way read / page fault / readahead can instantiate pages in
//! page cache with potentially stale data (if blocks get quickly reused)." The fix is a
//! rw_semaphore in the address_space, `invalidate_lock`: `filemap_fault` takes it shared
//! before it creates a page (and holds it until the page is in the cache and uptodate); the
//! file system takes it exclusive from the eviction to the block freeing (`ext4_punch_hole`,
//! d4f5258eae7b).
//!
//! In the model (ops/truncate.rs, ops/fault.rs):
//!
//! ```text
//! filemap_fault (≤5.14)                   punch_hole (ext4_punch_hole)
//! ------------------------------------   ------------------------------------------
//! find_get_page: miss
//! alloc_page; read block 1 (data 42)
//!                                        filemap_invalidate_lock
//!                                        truncate_pagecache_range: nothing cached
//!                                        ext4_ext_remove_space: block 1 freed
//!                                        filemap_invalidate_unlock
//! filemap_add_folio: the page of block 1
//!   cached over a hole                    => I23
//! ```
//!
//! With `filemap_fault` taking `invalidate_lock` shared on a miss (`fixed`), the fault either
//! adds its page before the punch starts — and the punch evicts it under its page lock — or
//! waits and reads the hole.
//!
//! `filemap-fault-v5-14` is the generic `filemap_fault` before 730633f0b7f9, as a file system
//! without a lock of its own in its `->fault` ran it. The series names one: cifs, whose
//! `->fault` is `filemap_fault` and whose `smb3_punch_hole` evicts the range
//! (`truncate_pagecache_range`) before the server zeroes it — e996ae6bdbd1 "cifs: Fix race
//! between hole punch and page fault" (same series, v5.15): "CPU1 smb3_punch_hole() →
//! truncate_pagecache_range(); CPU2 filemap_fault() - loads old data into the page cache;
//! CPU1 SMB2_ioctl(..., FSCTL_SET_ZERO_DATA, ...). And now we have stale data in the page
//! cache." (ext4 and xfs took their own lock, `i_mmap_sem` / `MMAPLOCK`, in their `->fault`
//! wrappers; readahead from `madvise(MADV_WILLNEED)` took none on any of them — the series'
//! other path, not modelled.) The punch here is `ext4_punch_hole`'s shape for every era: with
//! a fault that takes no lock, what the punch holds does not matter to this race.
//!
//! Oracle: I23 (a cached page holding a freed block's data), checked when the actors are done.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::WorldConfig;
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::{access, fault, truncate};

/// The scenario.
#[derive(Debug)]
pub struct PunchHoleFault;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The kernel since 730633f0b7f9.
    Fixed,
    /// Before it: `filemap_fault` adds the page without `invalidate_lock`.
    FilemapFaultV5_14,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::FilemapFaultV5_14];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "filemap_fault takes invalidate_lock shared to add a page (730633f0b7f9)",
            ),
            Variant::FilemapFaultV5_14 => VariantInfo::race(
                "filemap-fault-v5-14",
                "before 730633f0b7f9: the fault reads a block and caches it while a hole punch \
                 frees it",
            ),
        }
    }
}

/// The kernel of `variant`.
pub fn kernel(variant: Variant) -> Kernel {
    let mut kernel = Kernel::default();
    match variant {
        Variant::Fixed => {}
        Variant::FilemapFaultV5_14 => kernel.fault.filemap_fault = fault::filemap_fault_v5_14,
    }
    kernel
}

impl Scenario for PunchHoleFault {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "punch-hole-fault",
        title: "hole punch vs a fault filling the page cache: a freed block's data cached",
        commit: "730633f0b7f9",
        source: include_str!("punch_hole_fault.rs"),
        oracles: &[Oracle::I23PageOverHole],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        // One file page, not cached; one shared mapping of it. Tiny at both sizes: the race is
        // one fault against one punch, repeated by the runner's iterations.
        let _ = size;
        // Two frames: the fault's page, and a refault's after the punch evicted it.
        let w = kit::world(Size::Tiny, 2, kernel(variant), |cfg| {
            *cfg = WorldConfig::single(2, vec![(1, false)]);
        });
        let file = w.file(0);
        let mm = mm_alloc(&w).expect("mm");
        kit::mmap_shared_file(&w, mm, 0, 1, file);
        // The disk: block 1, at index 0, holds cpu0's 42 (written back before the page left
        // the cache).
        w.files.get(file).backing[0][0].store(42, std::sync::atomic::Ordering::SeqCst);
        let (wf, wp) = (w.clone(), w.clone());
        let actors = vec![
            actor("punch", move || {
                truncate::punch_hole(&wp, file, 0, 1);
            }),
            // Last: under loom it runs first, to be preempted between its block read and
            // filemap_add_folio.
            actor("fault", move || {
                let _ = access::load(&wf, 0, mm, 0);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
