//! fork-vma-lock under loom: fork's `dup_mmap` racing two threads of the parent, one with a
//! writable TLB entry for the page fork write-protects, one taking a write fault on it
//! (fb49c455323f). In 6.4 the fault runs under the VMA lock alone while fork holds `mmap_lock`
//! for write: loom finds the interleaving where it copies the page before fork's TLB flush and
//! the other thread's store lands in the old page, the child's (LostStore). With the parent's
//! VMAs write-locked the fault waits for the fork, TLB flush included.
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::fork_vma_lock::{ForkVmaLock, Variant};

/// Every variant's pinned bound, one exhaustive `match`: a variant added to the scenario
/// without a bound here — and so without its loom test — does not compile.
fn bound(v: Variant) -> Bound {
    match v {
        // 7,909 executions, about 6 s on the shared 2-core machine (load average 15).
        Variant::Fixed => Bound::Preemptions(3),
        // Caught after 548 executions, about 0.4 s.
        Variant::DupMmapV64 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_keeps_every_store_of_the_parent() {
    explore(&ForkVmaLock, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn dup_mmap_v6_4_is_caught_by_the_lost_store_oracle() {
    explore(
        &ForkVmaLock,
        Variant::DupMmapV64,
        bound(Variant::DupMmapV64),
    )
    .assert_caught();
}
