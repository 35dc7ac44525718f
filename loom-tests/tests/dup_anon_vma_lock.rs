//! dup-anon-vma-lock under loom: d8ab9f7b644a. `mprotect`'s case-6 merge gives `prev` the
//! anon_vma of `next` (`dup_anon_vma`) and its `anon_vma_clone` fails (-ENOMEM) and takes it
//! back, while a store faults on `prev`. With `prev` write-locked first, the fault never runs
//! under `prev`'s VMA lock in between: it falls back to `mmap_lock` and gives `prev` an
//! anon_vma of its own; in 6.4 loom finds the interleaving where the fault maps a page whose
//! anon_vma never links `prev` (I16 at rest), or meets the anon_vma gone between
//! `anon_vma_prepare` and `page_add_new_anon_rmap` (`BUG`).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::dup_anon_vma_lock::{DupAnonVmaLock, Variant};

/// Every variant's pinned bound, one exhaustive `match`.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Unbounded,
        Variant::DupAnonVmaV6_4 => Bound::Preemptions(2),
    }
}

#[test]
fn fixed_fault_never_uses_the_anon_vma_a_failed_merge_takes_back() {
    explore(&DupAnonVmaLock, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn dup_anon_vma_v6_4_is_caught() {
    explore(
        &DupAnonVmaLock,
        Variant::DupAnonVmaV6_4,
        bound(Variant::DupAnonVmaV6_4),
    )
    .assert_caught();
}
