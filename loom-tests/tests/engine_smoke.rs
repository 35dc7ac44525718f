//! Loom smoke tests of the engine's own paths, before any scenario: a user store that faults
//! its page in, racing a zap of that same page by another CPU, keeps the mapcount exact (I1)
//! and never lets a page reach the allocator while a TLB can still translate to it (I3) — in
//! every interleaving loom explores within the pinned preemption bound.
//!
//! ```text
//! storer (cpu0)                          zapper (cpu1)
//! access::store(va 0)                    munmap / MADV_DONTNEED of va 0
//!   hw walk: pte none -> fault             mmap_lock (write, then downgrade | read)
//!   handle_mm_fault (mmap_lock read)       zap_pte_range: SPIN(ptl)
//!     alloc, SPIN(ptl), set_pte_at           ptep_get_and_clear_full, page_remove_rmap
//!   hw walk: pte present -> TLB fill         [dirty file: flush + tlb_flush_rmaps]
//!   store lands (or SIGSEGV after munmap)  UNSPIN(ptl); tlb_finish_mmu: flush, then free
//! ```
//!
//! A second race has no store in it: two MADV_DONTNEEDs of one page, each of which must
//! return with no TLB caching the page (I14) even when the other cleared the PTE and has not
//! flushed yet (`mm_tlb_flush_nested`).
//!
//! Two negative controls show the oracles have teeth. Each composes a broken variant from
//! the engine's public zap steps and asserts that loom finds the oracle firing in some
//! interleavings, not in others, and that nothing else fires: a MADV_DONTNEED that puts its
//! gathered pages *before* the TLB flush (I3, reported by `free_page`), and MADV_DONTNEEDs
//! whose gathers do not count themselves in `tlb_flush_pending` (I14).
//!
//! Run: `RUSTFLAGS="--cfg mmlab_loom" CARGO_TARGET_DIR=target/loom cargo test --release
//! -p mmlab-loom-tests --test engine_smoke -- --nocapture --test-threads=1` (each test prints
//! how many executions it explored and how long that took).
#![cfg(mmlab_loom)]

use mmlab_engine::check::Oracle;
use mmlab_loom_tests::zap_smoke::{
    Memory, Zapper, explore, finds, madvise_dontneed, madvise_dontneed_without_nested_flush,
    race_a_store_against, render, stays_clean, two_dontneeds,
};

#[test]
fn a_store_faulting_in_an_anon_page_racing_its_munmap_keeps_mapcount_and_flushes_before_free() {
    explore(
        "anon store vs munmap",
        stays_clean(Memory::Anon, Zapper::Munmap),
    );
}

#[test]
fn a_store_faulting_in_an_anon_page_racing_madv_dontneed_keeps_mapcount_and_flushes_before_free() {
    explore(
        "anon store vs MADV_DONTNEED",
        stays_clean(Memory::Anon, Zapper::DontNeed),
    );
}

#[test]
fn a_store_dirtying_a_shared_file_page_racing_its_munmap_keeps_mapcount_and_flushes_before_free() {
    explore(
        "shared-file store vs munmap",
        stays_clean(Memory::SharedFile, Zapper::Munmap),
    );
}

#[test]
fn a_store_dirtying_a_shared_file_page_racing_madv_dontneed_keeps_mapcount_and_flushes_before_free()
{
    explore(
        "shared-file store vs MADV_DONTNEED",
        stays_clean(Memory::SharedFile, Zapper::DontNeed),
    );
}

#[test]
fn a_write_protect_fault_on_a_shared_file_page_racing_madv_dontneed_keeps_mapcount_and_flushes_before_free()
 {
    explore(
        "shared-file write-protect fault vs MADV_DONTNEED",
        stays_clean(Memory::SharedFileMappedReadOnly, Zapper::DontNeed),
    );
}

/// ```text
/// a (cpu0)                          b (cpu1)
/// tlb_gather_mmu (pending 1)
/// zap: clear pte, gather page       tlb_gather_mmu (pending 2)
///   (anon: no forced flush)         zap: pte none, nothing gathered
///                                   tlb_finish_mmu: nested -> flush all
///                                   I14: cpu2's TLB no longer caches va 0
/// tlb_finish_mmu: flush, free
/// ```
#[test]
fn two_madv_dontneeds_of_one_page_each_return_with_no_tlb_caching_it() {
    explore("MADV_DONTNEED vs MADV_DONTNEED", || {
        let (violations, trace) = two_dontneeds(madvise_dontneed);
        assert!(
            violations.is_empty(),
            "{}\ntrace:\n{trace}",
            render(&violations)
        );
    });
}

#[test]
fn loom_catches_a_zap_that_frees_its_pages_before_the_tlb_flush() {
    finds(
        "anon store vs MADV_DONTNEED freeing before flush",
        Oracle::I3FreeBeforeFlush,
        || race_a_store_against(Memory::Anon, Zapper::DontNeedFreeingBeforeFlush).0,
    );
}

#[test]
fn loom_catches_a_madv_dontneed_that_misses_the_other_gathers_flush() {
    finds(
        "MADV_DONTNEED vs MADV_DONTNEED without nested flush",
        Oracle::I14ZapCompletion,
        || two_dontneeds(madvise_dontneed_without_nested_flush).0,
    );
}
