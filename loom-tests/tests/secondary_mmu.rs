//! The two kinds of secondary MMU under loom: a device filling its TLB from the CPU page table
//! races a MADV_DONTNEED of the page it translates.
//!
//! ```text
//! device                                    zapper (MADV_DONTNEED of va 0)
//! KVM-like: seq = mmu_invalidate_seq        [invalidate_range_start: in_progress++, seq++,
//!           read PTE: present(P)              drop the range]
//!           lock; retry if seq moved        SPIN(ptl); clear PTE; flush_tlb_range
//!           or in progress; install P         [SVA: arch_invalidate_secondary_tlbs]
//! SVA:      lock; walk PTE; install P       UNSPIN(ptl); [invalidate_range_end]; free P
//! ```
//!
//! With the bracket both kinds stay coherent (`kvm`, `sva`). Without it (`*-no-bracket`, the
//! MADV_DONTNEED composed from `unmap_page_range` directly) the KVM-like device can install or
//! keep P after it is freed — I13 — while the SVA device, which only ever hears the
//! invalidation that follows the CPU flush, is unaffected: a missing bracket is visible only
//! to the kind that relies on it.
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::unmapped::ZapCall;
use mmlab_engine::check::{Oracle, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::secondary::SecondaryKind;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap, notifier, tlb, zap};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};

#[derive(Debug)]
struct SecondaryMmu;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `kvm`: KVM-like device (seq retry) vs a bracketed MADV_DONTNEED
    Kvm,
    /// `sva`: SVA device (walks under its lock) vs a bracketed MADV_DONTNEED
    Sva,
    /// `kvm-no-bracket`: KVM-like device vs a MADV_DONTNEED without its notifier bracket
    KvmNoBracket,
    /// `sva-no-bracket`: SVA device vs a MADV_DONTNEED without its notifier bracket: unaffected
    SvaNoBracket,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[
        Variant::Kvm,
        Variant::Sva,
        Variant::KvmNoBracket,
        Variant::SvaNoBracket,
    ];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Kvm => VariantInfo::clean(
                "kvm",
                "KVM-like device (seq retry) vs a bracketed MADV_DONTNEED",
            ),
            Variant::Sva => VariantInfo::clean(
                "sva",
                "SVA device (walks under its lock) vs a bracketed MADV_DONTNEED",
            ),
            Variant::KvmNoBracket => VariantInfo::race(
                "kvm-no-bracket",
                "KVM-like device vs a MADV_DONTNEED without its notifier bracket",
            ),
            Variant::SvaNoBracket => VariantInfo::clean(
                "sva-no-bracket",
                "SVA device vs a MADV_DONTNEED without its notifier bracket: unaffected",
            ),
        }
    }
}

impl Scenario for SecondaryMmu {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "secondary-mmu",
        title: "KVM-like and SVA secondary MMUs vs MADV_DONTNEED, with and without the bracket",
        commit: "369ea8242c0f",
        source: concat!(
            "//! ",
            "KVM-like and SVA secondary MMUs vs MADV_DONTNEED, with and without the bracket"
        ),
        oracles: &[Oracle::I13SecondaryMmu],
        long_running: false,
    };
    fn run(&self, variant: Variant, _size: Size, env: &Env) -> Outcome {
        let (kind, bracket) = match variant {
            Variant::Kvm => (SecondaryKind::Kvm, true),
            Variant::Sva => (SecondaryKind::Sva, true),
            Variant::KvmNoBracket => (SecondaryKind::Kvm, false),
            Variant::SvaNoBracket => (SecondaryKind::Sva, false),
        };
        let w = Arc::new(World::new(WorldConfig::tiny(2), Kernel::default()));
        let mm = mm_alloc(&w).expect("an mm slot");
        let vma = mmap(&w, mm, 0, 1, MapKind::Anon).expect("a VMA slot");
        access::store(&w, 0, mm, 0, 7).expect("a store faults the page in");
        notifier::register(&w, mm, kind);
        let (wd, wz) = (w.clone(), w.clone());
        env.run(vec![
            (
                "device",
                Box::new(move || {
                    match kind {
                        SecondaryKind::Kvm => notifier::secondary_refresh(&wd, mm, 0),
                        SecondaryKind::Sva => notifier::sva_translate(&wd, mm, 0),
                    };
                }),
            ),
            (
                "zapper",
                Box::new(move || {
                    if bracket {
                        munmap::madvise_dontneed(&wz, mm, 0, 1).expect("a mapped range");
                    } else {
                        let map = wz.mms.get(mm).mmap_lock.read();
                        let began = wz.unmap_begin(mm);
                        let mut gather = tlb::tlb_gather_mmu(&wz, mm, false);
                        zap::unmap_page_range(&wz, &mut gather, vma, 0, 1);
                        tlb::tlb_finish_mmu(&wz, gather);
                        munmap::unmap_returned(&wz, ZapCall::MadvDontneed, &began, 0, 1);
                        drop(map);
                    }
                }),
            ),
        ]);
        quiescent::check_world(&w);
        Outcome {
            violations: env.sink.take(),
            ..Outcome::default()
        }
    }
}

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Kvm => Bound::Unbounded,
        Variant::Sva => Bound::Unbounded,
        Variant::KvmNoBracket => Bound::Preemptions(3),
        Variant::SvaNoBracket => Bound::Unbounded,
    }
}

#[test]
fn a_kvm_like_device_stays_coherent_across_a_bracketed_zap() {
    explore(&SecondaryMmu, Variant::Kvm, bound(Variant::Kvm)).assert_clean();
}

#[test]
fn an_sva_device_stays_coherent_across_a_bracketed_zap() {
    explore(&SecondaryMmu, Variant::Sva, bound(Variant::Sva)).assert_clean();
}

#[test]
fn a_zap_without_its_bracket_is_caught_by_the_kvm_like_device() {
    explore(
        &SecondaryMmu,
        Variant::KvmNoBracket,
        bound(Variant::KvmNoBracket),
    )
    .assert_caught();
}

#[test]
fn an_sva_device_needs_no_bracket() {
    explore(
        &SecondaryMmu,
        Variant::SvaNoBracket,
        bound(Variant::SvaNoBracket),
    )
    .assert_clean();
}
