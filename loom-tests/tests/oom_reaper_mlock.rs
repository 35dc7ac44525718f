//! oom-reaper-mlock under loom: the OOM reaper vs the exiting victim's munlock
//! (27ae357fa82b, CVE-2018-1000200). v4.16's `exit_mmap` munlocks with no `mmap_sem` while
//! the reaper, which only trylocks it for read, may unmap the VMA whose VM_LOCKED the munlock
//! has just cleared: loom finds the interleaving and I22 fires. v4.17's exit reaps first,
//! sets MMF_OOM_SKIP and cycles `mmap_sem` for write before munlocking: clean in every
//! interleaving, as is v5.18+ (no munlock at exit; the reaper unmaps mlocked memory).
#![cfg(mmlab_loom)]

use mmlab_engine::check::Oracle;
use mmlab_loom_tests::{Bound, Failure, explore};
use mmlab_scenarios::catalog::oom_reaper_mlock::{OomReaperMlock, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(3),
        Variant::Pre27ae357fa82b => Bound::Preemptions(2),
        Variant::V5_18 => Bound::Preemptions(3),
    }
}

#[test]
fn fixed_shuts_the_reaper_out_before_munlock_in_every_interleaving() {
    explore(&OomReaperMlock, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn pre_27ae357fa82b_is_caught_by_i22() {
    let e = explore(
        &OomReaperMlock,
        Variant::Pre27ae357fa82b,
        bound(Variant::Pre27ae357fa82b),
    );
    assert_eq!(
        e.failure.as_ref().and_then(Failure::oracle),
        Some(Oracle::I22OomReapMunlock),
        "{}",
        e.failure_report()
    );
    e.assert_caught();
}

#[test]
fn v5_18_reaps_mlocked_memory_cleanly_in_every_interleaving() {
    explore(&OomReaperMlock, Variant::V5_18, bound(Variant::V5_18)).assert_clean();
}
