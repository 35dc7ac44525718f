//! lock-vma-anon-vma under loom: 657b5146955e. A store faults on a VMA whose anon_vma an
//! MREMAP_DONTUNMAP clears under the VMA write lock. With `vma->anon_vma` checked after
//! `vma_start_read`, a fault that read-locks the VMA sees it cleared and falls back to
//! `mmap_lock`; in 6.4 (checked before) loom finds the interleaving where the check passes,
//! mremap runs, the read lock succeeds, and `__anon_vma_prepare` walks the VMA tree under
//! the VMA lock alone (I15).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::lock_vma_anon_vma::{LockVmaAnonVma, Variant};

/// Every variant's pinned bound, one exhaustive `match`.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Unbounded,
        Variant::LockVmaUnderRcuV6_4 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_anon_vma_prepare_always_holds_mmap_lock() {
    explore(&LockVmaAnonVma, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn lock_vma_under_rcu_v6_4_is_caught_by_i15() {
    explore(
        &LockVmaAnonVma,
        Variant::LockVmaUnderRcuV6_4,
        bound(Variant::LockVmaUnderRcuV6_4),
    )
    .assert_caught();
}
