//! `hugetlb-pmd-share`: migrating a hugetlb page whose PMD table is shared — 017b1660df89
//! "mm: migration: fix migration of huge PMD shared pages" (Mike Kravetz, August 2018;
//! database shared memory corrupted after soft offline), and its 4.4 backport (the August
//! 2018 linux-mm thread "Re: [PATCH v6 1/2] mm: migration: fix migration of huge PMD shared
//! pages").
//!
//! Two processes map one hugetlbfs file `MAP_SHARED` at table-aligned addresses, so the fault
//! path's `huge_pmd_share` points the second one's PMD slot at the first one's table: one
//! entry maps the page for both, and the page's mapcount (which counts entries, not mms) is 1.
//! Migration's rmap walk stops as soon as the mapcount reaches 0 — after the first sharer:
//!
//! ```text
//! unmap_and_move_huge_page() (migrator)        mm B's writer (cpu1)
//! ------------------------------------------   ---------------------------------------
//! folio_trylock(H); i_mmap_trylock_write()
//! try_to_migrate(H, TTU_RMAP_LOCKED):
//!   vma of mm A: shared entry -> migration
//!     entry; flush mm A's TLBs; MAP(H) = 0
//!   done(): !folio_mapped -> walk stops;
//!     mm B is never visited: cpu1 keeps its
//!     writable, dirty translation to H
//! move_to_new_folio(N, H): copy H -> N
//!                                              store through the stale TLB entry:
//!                                                lands in H, after the copy  [lost store]
//! remove_migration_ptes: shared entry -> N
//! put H: freed while cpu1's TLB maps it                                         [I3]
//! ```
//!
//! The fix: `try_to_migrate_one` (then `try_to_unmap_one`) calls `huge_pmd_unshare` for a
//! shared table — which needs `i_mmap_rwsem` for write, hence TTU_RMAP_LOCKED — dropping this
//! mm's slot and flushing its TLB over the whole table; the mapcount is unchanged, so the walk
//! goes on to the last sharer, which is unmapped for real. The notifier range must be widened
//! to the whole table up front (`adjust_range_if_pmd_sharing_possible`): the `notifier-range`
//! scenario tells that half of the 4.4 backport.
//!
//! Oracles: the lost store (a sharer's store after the copy is not in the new page), and I3
//! (the old page freed while the unvisited sharer's TLB still maps it).

use crate::kit::{self, Overlap, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::access;
use mmlab_engine::ops::migrate::NewPagePool;
use mmlab_engine::ops::mmap::{mm_alloc, mmap};
use mmlab_engine::ops::ttu;
use mmlab_engine::sync::Ordering;

/// The scenario.
#[derive(Debug)]
pub struct HugetlbPmdShare;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: try_to_migrate_one unshares a shared PMD table (017b1660df89)
    Fixed,
    /// `no-unshare`: before 017b1660df89: the walk stops after the first sharer
    NoUnshare,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::NoUnshare];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "try_to_migrate_one unshares a shared PMD table (017b1660df89)",
            ),
            Variant::NoUnshare => VariantInfo::race(
                "no-unshare",
                "before 017b1660df89: the walk stops after the first sharer",
            ),
        }
    }
}

impl Scenario for HugetlbPmdShare {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "hugetlb-pmd-share",
        title: "hugetlb migration vs a process sharing the PMD table",
        commit: "017b1660df89",
        source: include_str!("hugetlb_pmd_share.rs"),
        oracles: &[Oracle::LostStore, Oracle::I3FreeBeforeFlush],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::NoUnshare => {
                kernel.rmap.try_to_unmap_one = ttu::try_to_unmap_one_v4_18;
                kernel.rmap.try_to_migrate_one = ttu::try_to_migrate_one_v4_18;
            }
        }
        // Tiny: two actors, one page, tables of 2 PTEs. Stress: a third actor, mm A's own
        // writer, which keeps re-sharing the table after each unshare.
        let (cpus, faulted) = match size {
            Size::Tiny => (2, 1),
            Size::Stress => (3, 4),
        };
        let rounds = kit::rounds(size, 4) as u64;
        let w = kit::world(size, cpus, kernel, |c| {
            c.files = vec![(c.ptes_per_table, true)]
        });
        let per = w.cfg.ptes_per_table as u64;
        let file = w.file(0);
        let shared = kit::shared_file(file, 0);
        // Both VMAs cover one whole table at a table-aligned address and file offset: what
        // `huge_pmd_share` needs (`vma_shareable`, `page_table_shareable`). B sits at another
        // address in its mm (the next table slot) to show that only alignment matters.
        let (mm_a, mm_b) = (mm_alloc(&w).expect("mm A"), mm_alloc(&w).expect("mm B"));
        let b_start = match size {
            Size::Tiny => 0,
            Size::Stress => per,
        };
        mmap(&w, mm_a, 0, per, shared).expect("mmap A");
        mmap(&w, mm_b, b_start, per, shared).expect("mmap B");
        // A faults first (cpu0) and populates the table; B's faults (cpu1) share it, and
        // leave cpu1 with writable, dirty translations.
        for index in 0..faulted {
            access::store(&w, 0, mm_a, index, 100 + index).expect("A faults");
        }
        for index in 0..faulted {
            access::store(&w, 1, mm_b, b_start + index, 200 + index).expect("B faults");
        }
        let slot_a = w.mms.get(mm_a).pmd_table(0).expect("A's table");
        let slot_b = w.mms.get(mm_b).pmd_table((b_start / per) as usize);
        assert_eq!(slot_b, Some(slot_a), "huge_pmd_share: B uses A's table");
        assert_eq!(
            w.tables.get(slot_a).share_count.load(Ordering::SeqCst),
            2,
            "the table is shared by A and B"
        );
        let pool = NewPagePool::new(&w, (faulted * rounds) as usize);
        let overlap = Overlap::new(size);
        let helpers = cpus - 1;
        let (wm, om) = (w.clone(), overlap.clone());
        let mut actors = vec![actor("migrator", move || {
            om.wait_for(helpers);
            for _ in 0..rounds {
                for index in 0..faulted {
                    kit::migrate_hugetlb_index(&wm, &pool, file, index);
                }
            }
            om.finish();
        })];
        // The sharers' writers: B's through cpu1 (whose TLB the unfixed walk never flushes),
        // and at Stress size A's through cpu2, whose faults re-share the table after each
        // unshare.
        let writers = [("writer-b", mm_b, b_start), ("writer-a", mm_a, 0)];
        for (cpu, (name, mm, start)) in writers.into_iter().enumerate().take(helpers) {
            let (ww, ow) = (w.clone(), overlap.clone());
            actors.push(actor(name, move || {
                ow.repeat(1, |i| {
                    let index = i as u64 % faulted;
                    let value = 1000 * (cpu as u64 + 1) + i as u64;
                    let _ = access::store(&ww, cpu + 1, mm, start + index, value);
                });
            }));
        }
        kit::run(env, &w, actors)
    }
}
