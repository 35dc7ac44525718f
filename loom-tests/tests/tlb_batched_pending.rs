//! tlb-batched-pending under loom: reclaim's deferred TLB flush (TTU_BATCH_FLUSH) against
//! MADV_DONTNEED (3ea277194daa). With `flush_tlb_batched_pending` in `zap_pte_range` the zap
//! sees reclaim's pending count under the PTL and flushes the mm, so no store after
//! MADV_DONTNEED lands through the stale entry; without it (v4.12), loom finds the
//! interleaving where reclaim cleared the PTE without a flush, the zap finds it none and
//! flushes nothing, and MADV_DONTNEED returns with cpu0's TLB still caching the translation
//! it removed (I14; the store through it, lost-store, would follow).
#![cfg(mmlab_loom)]

use mmlab_loom_tests::{Bound, explore};
use mmlab_scenarios::catalog::tlb_batched_pending::{TlbBatchedPending, Variant};

/// Every variant's pinned bound, one exhaustive `match`.
fn bound(v: Variant) -> Bound {
    match v {
        Variant::Fixed => Bound::Preemptions(3),
        Variant::ZapPteRangeV4_12 => Bound::Preemptions(2),
    }
}

/// 1,084 executions, under a second.
#[test]
fn fixed_no_store_lands_through_a_stale_entry_in_any_interleaving() {
    explore(&TlbBatchedPending, Variant::Fixed, bound(Variant::Fixed)).assert_clean();
}

#[test]
fn zap_pte_range_v4_12_is_caught_by_i14() {
    explore(
        &TlbBatchedPending,
        Variant::ZapPteRangeV4_12,
        bound(Variant::ZapPteRangeV4_12),
    )
    .assert_caught();
}
