//! `sva-flush`: MADV_DONTNEED vs a device that fills its TLB by walking the CPU page tables
//! (AMD IOMMUv2 with PASID/ATS; Intel SVM since) — 34ee645e83b6 "mmu_notifier: call
//! mmu_notifier_invalidate_range() from VMM" (Joerg Roedel, v3.19), the series of "[PATCH
//! 1/3] mmu_notifier: Add mmu_notifier_invalidate_range()" (linux-mm, 24 July 2014).
//!
//! ```text
//! zap (MADV_DONTNEED), ≤3.18            device (ATS translation request)
//! ----------------------------------    ---------------------------------
//! invalidate_range_start
//!                                       IOMMU walks the CPU page table:
//!                                       PTE present -> IOTLB: va -> P
//! SPIN(ptl); clear PTE; batch full
//! flush CPU TLBs; UNSPIN(ptl)
//! tlb_flush_mmu: free P                 => P freed, the IOTLB still maps it  [I13]
//! invalidate_range_end                  (too late: the device may write to P)
//! ```
//!
//! Start and end suit a secondary MMU that can refuse new translations between them (KVM);
//! a hardware TLB that refills from the page table on its own cannot. The series adds
//! `mmu_notifier_invalidate_range()` — `arch_invalidate_secondary_tlbs()` today — to
//! `tlb_flush_mmu_tlbonly()`: the device hears of the unmap at the CPU flush, under the PTL,
//! before any page is freed (the walk takes the invalidation's lock: dropped, or no PTE).
//!
//! Model: a gather batch of one page, so zap_pte_range's forced flush frees each page before
//! the bracket ends, as 3.18 did once a zap filled its batch. The model's SVA device has no
//! start/end callbacks (AMD IOMMUv2's flushed at start): the race is the translation made
//! after start; one made before it is caught the same way.
//!
//! Oracle: I13, checked when the page is freed.

use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::secondary::SecondaryKind;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap, notifier};
use mmlab_scenarios::kit::{self, Overlap, actor};
use mmlab_scenarios::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};

/// The scenario.
#[derive(Debug)]
pub struct SvaFlush;

/// Its variants: v3.19 and later; before 34ee645e83b6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Fixed,
    NoInvalidateRange,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::NoInvalidateRange];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "tlb_flush_mmu_tlbonly invalidates secondary TLBs under the PTL (34ee645e83b6)",
            ),
            Variant::NoInvalidateRange => VariantInfo::race(
                "no-invalidate-range",
                "≤3.18: the device hears only start/end; a full batch frees pages before end",
            ),
        }
    }
}

impl Scenario for SvaFlush {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "sva-flush",
        title: "MADV_DONTNEED vs a page-table-walking device TLB: no invalidation at the flush",
        commit: "34ee645e83b6",
        source: include_str!("sva_flush.rs"),
        oracles: &[Oracle::I13SecondaryMmu],
        long_running: false,
    };

    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::NoInvalidateRange => {
                kernel.notifier.arch_invalidate_secondary_tlbs =
                    notifier::arch_invalidate_secondary_tlbs_v3_18
            }
        }
        let w = kit::world(size, 2, kernel, |cfg| cfg.gather_batch = 1);
        let pages = if size == Size::Tiny { 1 } else { 4 };
        let mm = mm_alloc(&w).expect("mm");
        mmap(&w, mm, 0, pages, MapKind::Anon).expect("mmap");
        for va in 0..pages {
            access::store(&w, 0, mm, va, va + 1).expect("populate");
        }
        notifier::register(&w, mm, SecondaryKind::Sva);
        // Stress: the device translates for as long as the zap runs; Tiny (loom): once.
        let overlap = Overlap::new(size);
        let (od, oz) = (overlap.clone(), overlap);
        let (wd, wz) = (w.clone(), w.clone());
        let actors = vec![
            actor("device", move || {
                od.repeat(1, |_| {
                    for va in 0..pages {
                        notifier::sva_translate(&wd, mm, va);
                    }
                });
            }),
            // The zapper last: loom runs it first, so the race is one preemption away.
            actor("zap", move || {
                oz.wait_for(1);
                munmap::madvise_dontneed(&wz, mm, 0, pages).expect("a mapped range");
                oz.finish();
            }),
        ];
        kit::run(env, &w, actors)
    }
}
