//! `notifier-range`: keeping a secondary MMU coherent across an unmap — the August 2018 thread
//! "Re: [PATCH v6 1/2] mm: migration: fix migration of huge PMD shared pages" (the 4.4
//! backport of 017b1660df89: Mike Kravetz, Jérôme Glisse, Michal Hocko, August 2018),
//! 369ea8242c0f "mm/rmap: update to new mmu_notifier semantic v2" (Jérôme Glisse, 2017) and
//! e649b3f0188f "KVM: x86: Fix APIC page invalidation race" (2020).
//!
//! A device (KVM's shadow MMU, an IOMMU) mirrors mm A: it caches A's translations and is kept
//! coherent by mmu notifiers. mm A and mm B map one hugetlbfs file `MAP_SHARED` at
//! table-aligned addresses, so they share one PMD table (`huge_pmd_share`); a migrator moves
//! one of its pages. Migration's `try_to_migrate_one` must `huge_pmd_unshare` (017b1660df89):
//! A's whole table range disappears from A, not just the migrated page. Two ways for the
//! device to keep a translation A no longer has:
//!
//! `invalidate-page-after-ptl` — 4.4's `try_to_unmap_one` has no start/end bracket; after the
//! PTL it calls `mmu_notifier_invalidate_page(mm, address)`, one page. The 2018 thread asks how to
//! notify the unshare with only that: the answer was to add start/end with the range widened
//! by `adjust_range_if_pmd_sharing_possible`, as 369ea8242c0f had done upstream.
//!
//! ```text
//! try_to_migrate_one(vma of A, va0)          the device (mirrors A: va0, va1 cached)
//! ----------------------------------------   ----------------------------------------
//! SPIN(ptl)
//! huge_pmd_unshare: A's slot cleared —
//!   A maps nothing in [table) any more;
//!   flush A's CPU TLBs over the table
//! UNSPIN(ptl)
//! mmu_notifier_invalidate_page(A, va0)       drops va0 only
//!                                            keeps va1 -> page 1: A has no PTE there [I13]
//! ```
//!
//! `refresh-without-seq` — start/end are there, but the device re-establishes a translation
//! inside the window without the `mmu_invalidate_retry` check (KVM's APIC-access page:
//! b1394e745b94 reloaded it from `invalidate_range_start`, racing the unmap it announced;
//! e649b3f0188f moved the reload after the PTE change):
//!
//! ```text
//! migrator                                   the device (refresh, no sequence check)
//! ----------------------------------------   ----------------------------------------
//!                                            read A's PTE: present(H)
//! invalidate_range_start(table range)
//!   (drops the range, seq++)
//! huge_pmd_unshare; migrate H -> N; free H
//! invalidate_range_end
//!                                            install va0 -> H: H is freed, or A maps
//!                                            nothing there                       [I13]
//! ```
//!
//! `fixed`: start/end bracket the widened range, the secondary is invalidated under the PTL
//! after the CPU flush, and the device refreshes only when `mmu_invalidate_retry` says no
//! invalidation began since it read the PTE.
//!
//! Oracle: I13 — a page is never freed while the secondary maps it, and at rest every
//! secondary translation equals the primary PTE of the mm it mirrors.

use crate::kit::{self, Overlap, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::secondary::SecondaryKind;
use mmlab_engine::mm::{MmId, Pfn, World};
use mmlab_engine::ops::migrate::NewPagePool;
use mmlab_engine::ops::mmap::{mm_alloc, mmap};
use mmlab_engine::ops::ttu;
use mmlab_engine::ops::{access, notifier};
use mmlab_engine::sync::Ordering;

/// The scenario.
#[derive(Debug)]
pub struct NotifierRange;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: start/end over the widened range, invalidate after the CPU flush, seq-checked refresh
    Fixed,
    /// `invalidate-page-after-ptl`: 4.4 notifiers: one invalidate_page after the PTL for a whole-table unshare
    InvalidatePageAfterPtl,
    /// `refresh-without-seq`: b1394e745b94..e649b3f0188f: the device refreshes without mmu_invalidate_retry
    RefreshWithoutSeq,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[
        Variant::Fixed,
        Variant::InvalidatePageAfterPtl,
        Variant::RefreshWithoutSeq,
    ];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "start/end over the widened range, invalidate after the CPU flush, seq-checked refresh",
            ),
            Variant::InvalidatePageAfterPtl => VariantInfo::race(
                "invalidate-page-after-ptl",
                "4.4 notifiers: one invalidate_page after the PTL for a whole-table unshare",
            ),
            Variant::RefreshWithoutSeq => VariantInfo::race(
                "refresh-without-seq",
                "b1394e745b94..e649b3f0188f: the device refreshes without mmu_invalidate_retry",
            ),
        }
    }
}

impl Scenario for NotifierRange {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "notifier-range",
        title: "secondary MMU vs a PMD-unsharing migration: notifier range and refresh",
        commit: "369ea8242c0f",
        source: include_str!("notifier_range.rs"),
        oracles: &[Oracle::I13SecondaryMmu],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed | Variant::RefreshWithoutSeq => {}
            Variant::InvalidatePageAfterPtl => {
                kernel.rmap.try_to_unmap_one = ttu::try_to_unmap_one_v4_4;
                kernel.rmap.try_to_migrate_one = ttu::try_to_migrate_one_v4_4;
                kernel.notifier.arch_invalidate_secondary_tlbs =
                    notifier::arch_invalidate_secondary_tlbs_v3_18;
            }
        }
        // The device's driver: one that checks `mmu_invalidate_retry`, or one that does not.
        let refresh: fn(&World, MmId, u64) -> Option<Pfn> = match variant {
            Variant::Fixed | Variant::InvalidatePageAfterPtl => notifier::secondary_refresh,
            Variant::RefreshWithoutSeq => notifier::secondary_refresh_without_retry,
        };
        let w = kit::world(size, 2, kernel, |c| {
            c.files = vec![(c.ptes_per_table, true)]
        });
        let per = w.cfg.ptes_per_table as u64;
        let faulted = match size {
            Size::Tiny => 2,
            Size::Stress => 4,
        };
        let rounds = kit::rounds(size, 2) as u64;
        let file = w.file(0);
        let shared = kit::shared_file(file, 0);
        let (mm_a, mm_b) = (mm_alloc(&w).expect("mm A"), mm_alloc(&w).expect("mm B"));
        mmap(&w, mm_a, 0, per, shared).expect("mmap A");
        mmap(&w, mm_b, 0, per, shared).expect("mmap B");
        for index in 0..faulted {
            access::store(&w, 0, mm_a, index, 100 + index).expect("A faults");
            access::store(&w, 1, mm_b, index, 200 + index).expect("B faults");
        }
        let table = w.mms.get(mm_a).pmd_table(0).expect("A's table");
        assert_eq!(
            w.mms.get(mm_b).pmd_table(0),
            Some(table),
            "B shares A's table"
        );
        assert_eq!(w.tables.get(table).share_count.load(Ordering::SeqCst), 2);
        // The device (KVM-like: start/end and the invalidate sequence) mirrors A and has
        // faulted every page in.
        notifier::register(&w, mm_a, SecondaryKind::Kvm);
        for va in 0..faulted {
            assert!(notifier::secondary_refresh(&w, mm_a, va).is_some());
        }
        let pool = NewPagePool::new(&w, (faulted * rounds) as usize);
        let overlap = Overlap::new(size);
        let (wm, om) = (w.clone(), overlap.clone());
        let (wd, od) = (w.clone(), overlap.clone());
        let actors = vec![
            actor("migrator", move || {
                om.wait_for(1);
                for _ in 0..rounds {
                    for index in 0..faulted {
                        kit::migrate_hugetlb_index(&wm, &pool, file, index);
                    }
                }
                om.finish();
            }),
            actor("device", move || {
                od.repeat(faulted as usize, |i| {
                    refresh(&wd, mm_a, i as u64 % faulted);
                });
            }),
        ];
        kit::run(env, &w, actors)
    }
}
