//! Regression tests of the oracles themselves: each drives, in one thread and in a fixed order,
//! the exact interleaving a broken path needs, and checks that the oracle meant to catch it
//! does — or, for a legitimate path, that nothing fires.
//!
//! The broken step used throughout is a PTE clear that forgets its TLB flush: what
//! `ptep_clear_flush` exists to prevent, and the bug class of 60bae7370896 ("mm/migrate_device.c:
//! flush TLB while holding PTL"). It leaves a CPU's writable, dirty TLB entry behind.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::unmapped::ZapCall;
use mmlab_engine::check::{Oracle, Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::secondary::SecondaryKind;
use mmlab_engine::mm::{MmId, Pfn, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::{access, munmap, notifier, page_alloc, rmap, tlb, zap};

/// Two CPUs, tables of two PTEs (so one table can hold two VMAs, and a second VMA can sit in a
/// second table), one shared file.
fn world() -> (World, Sink) {
    let cfg = WorldConfig {
        cpus: 2,
        pages: 8,
        mms: 1,
        vmas: 4,
        anon_vmas: 2,
        tables: 4,
        ptes_per_table: 2,
        pmds_per_mm: 4,
        files: vec![(2, false)],
        tlb_entries: 4,
        ..WorldConfig::tiny(2)
    };
    let w = World::new(cfg, Kernel::default());
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

fn fired(v: &[Violation], oracle: Oracle) -> bool {
    v.iter().any(|v| v.oracle == oracle)
}

fn render(v: &[Violation]) -> String {
    v.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The broken step: clear the PTE at `va` under its PTL, move its dirty bit to the page and
/// remove the rmap — but no `flush_tlb_range`. Returns the page it mapped; the PTE's page
/// reference is handed to the caller (who puts it when the test wants the page freed).
fn clear_pte_without_flush(w: &World, mm_id: MmId, vma: VmaId, va: u64) -> Pfn {
    let pte = pte_offset_map_lock(w, mm_id, va).expect("a table maps va");
    let Pte::Present { pfn, dirty, .. } = pte.ptep_get_and_clear() else {
        panic!("va {va} is not mapped");
    };
    if dirty {
        rmap::set_page_dirty(w, pfn);
    }
    rmap::page_remove_rmap(w, pfn, vma);
    drop(pte);
    pfn
}

/// Item: a store through a stale TLB entry after munmap returned is a lost store, whatever
/// page it lands in — here a shared file page, which the old oracle took for a legitimate
/// store to the file.
///
/// ```text
/// cpu0: store va1 (TLB: writable, dirty)
/// broken path: clear va1's PTE, no flush
/// munmap(file VMA): zap finds va1 none, nothing to flush; the table stays (anon VMA at va0)
/// cpu0: store va1 again -> lands in the page cache page through the stale entry  [lost-store]
/// ```
#[test]
fn a_store_through_a_stale_tlb_entry_after_munmap_returned_is_a_lost_store() {
    let (w, sink) = world();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    let file = mmap(
        &w,
        mm,
        1,
        1,
        MapKind::File {
            file: w.file(0),
            pgoff: 0,
            shared: true,
        },
    )
    .unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    access::store(&w, 0, mm, 1, 2).unwrap();
    let pfn = clear_pte_without_flush(&w, mm, file, 1);
    page_alloc::put_page(&w, pfn); // the PTE's reference; the page cache keeps the page
    munmap::munmap(&w, mm, file).unwrap();
    let after = access::store(&w, 0, mm, 1, 3);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(
        fired(&v, Oracle::LostStore),
        "a store after munmap returned ({after:?}) was not reported as lost:\n{}",
        render(&v)
    );
}

/// A legitimate refault after MADV_DONTNEED goes through a new PTE: nothing fires.
#[test]
fn a_store_that_refaults_after_madv_dontneed_is_not_a_lost_store() {
    let (w, sink) = world();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 1, 1).unwrap();
    access::store(&w, 1, mm, 1, 2).unwrap();
    munmap::madvise_dontneed(&w, mm, 0, 2).unwrap();
    access::store(&w, 0, mm, 1, 3).unwrap();
    access::store(&w, 1, mm, 1, 4).unwrap();
    munmap::madvise_dontneed(&w, mm, 1, 2).unwrap();
    access::store(&w, 0, mm, 1, 5).unwrap();
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));
}

/// Item: MADV_DONTNEED checks I14 when it returns, and says so.
///
/// ```text
/// cpu0: store va1 (TLB: writable, dirty)
/// broken path: clear va1's PTE, no flush
/// MADV_DONTNEED(va1): zap finds it none, nothing to flush; returns   [I14: cpu0 still caches]
/// ```
#[test]
fn madv_dontneed_checks_zap_completion_when_it_returns() {
    let (w, sink) = world();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 1, 1).unwrap();
    let pfn = clear_pte_without_flush(&w, mm, vma, 1);
    munmap::madvise_dontneed(&w, mm, 0, 2).unwrap();
    let v = sink.take();
    let i14: Vec<_> = v
        .iter()
        .filter(|v| v.oracle == Oracle::I14ZapCompletion)
        .collect();
    assert!(
        !i14.is_empty(),
        "MADV_DONTNEED returned with cpu0 caching va1, unreported:\n{}",
        render(&v)
    );
    assert!(
        i14.iter().all(|v| v.message.contains("MADV_DONTNEED")),
        "I14's message names the call that returned:\n{}",
        render(&v)
    );
    // Clean up: flush and put the page the broken path kept.
    tlb::flush_tlb_range(&w, mm, 0, 2);
    page_alloc::put_page(&w, pfn);
}

/// Item: `tlb_finish_mmu` flushes the range it gathered, widened by the freed tables'
/// addresses (`pte_free_tlb`), not the whole mm — so another path's missing flush is no longer
/// hidden by an unrelated munmap that happened to free a table.
///
/// ```text
/// cpu0: store va3 (VMA B, table 1; TLB: writable, dirty)
/// broken path: clear va3's PTE, no flush (keeps the page reference)
/// munmap(VMA A, table 0): frees table 0; its flush covers A, not va3
/// broken path: put the page -> freed while cpu0's TLB maps it              [I3]
/// ```
#[test]
fn tlb_finish_mmu_no_longer_hides_another_paths_missing_flush() {
    let (w, sink) = world();
    let mm = mm_alloc(&w).unwrap();
    let a = mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    let b = mmap(&w, mm, 2, 2, MapKind::Anon).unwrap();
    access::store(&w, 1, mm, 0, 1).unwrap();
    access::store(&w, 0, mm, 3, 2).unwrap();
    let pfn = clear_pte_without_flush(&w, mm, b, 3);
    munmap::munmap(&w, mm, a).unwrap();
    page_alloc::put_page(&w, pfn);
    let v = sink.take();
    assert!(
        fired(&v, Oracle::I3FreeBeforeFlush),
        "the page was freed while cpu0 still cached va3, unreported:\n{}",
        render(&v)
    );
}

/// MADV_DONTNEED composed from the engine's zap steps without its mmu-notifier bracket:
/// `unmap_page_range` called directly instead of through `unmap_vmas`.
fn madvise_dontneed_without_bracket(w: &World, mm_id: MmId, vma: VmaId, start: u64, end: u64) {
    let map = w.mms.get(mm_id).mmap_lock.read();
    let began = w.unmap_begin(mm_id);
    let mut gather = tlb::tlb_gather_mmu(w, mm_id, false);
    zap::unmap_page_range(w, &mut gather, vma, start, end);
    tlb::tlb_finish_mmu(w, gather);
    munmap::unmap_returned(w, ZapCall::MadvDontneed, &began, start, end);
    drop(map);
}

/// Item: a KVM-like secondary MMU is kept coherent only by invalidate_range_start/end; a path
/// that forgets its bracket leaves it mapping a freed page (I13), even though the CPU flush
/// ran (that flush reaches only secondaries that share the CPU page tables).
#[test]
fn a_zap_without_its_notifier_bracket_is_caught_by_a_kvm_like_secondary() {
    let (w, sink) = world();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    notifier::register(&w, mm, SecondaryKind::Kvm);
    assert!(notifier::secondary_refresh(&w, mm, 0).is_some());
    madvise_dontneed_without_bracket(&w, mm, vma, 0, 2);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(
        fired(&v, Oracle::I13SecondaryMmu),
        "the secondary MMU kept a translation to a freed page, unreported:\n{}",
        render(&v)
    );
}

/// The SVA kind hears no start/end at all: it is kept coherent by the invalidation that follows
/// the CPU flush under the PTL (`arch_invalidate_secondary_tlbs`), so even a bracket-less zap
/// leaves it nothing stale; and with both kinds registered, the KVM-like one still catches the
/// missing bracket.
#[test]
fn an_sva_secondary_is_invalidated_by_the_cpu_flush_alone() {
    let (w, sink) = world();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    notifier::register(&w, mm, SecondaryKind::Sva);
    assert!(notifier::sva_translate(&w, mm, 0).is_some());
    madvise_dontneed_without_bracket(&w, mm, vma, 0, 2);
    access::store(&w, 0, mm, 1, 2).unwrap();
    assert!(notifier::sva_translate(&w, mm, 1).is_some());
    munmap::madvise_dontneed(&w, mm, 0, 2).unwrap();
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));

    access::store(&w, 0, mm, 0, 3).unwrap();
    notifier::register(&w, mm, SecondaryKind::Kvm);
    assert!(notifier::sva_translate(&w, mm, 0).is_some());
    assert!(notifier::secondary_refresh(&w, mm, 0).is_some());
    madvise_dontneed_without_bracket(&w, mm, vma, 0, 2);
    let v = sink.take();
    assert!(
        v.iter()
            .all(|v| v.oracle == Oracle::I13SecondaryMmu && v.message.contains("KVM")),
        "only the KVM-like secondary is left stale:\n{}",
        render(&v)
    );
    assert!(
        !v.is_empty(),
        "the KVM-like secondary's stale translation is reported"
    );
}

/// I13's first clause: between `invalidate_range_start` and `_end` the KVM-like secondary
/// establishes no translation in the range. A refresh that skips `mmu_invalidate_retry` and
/// installs inside the window is reported where it installs — even when the primary PTE is
/// left unchanged, so that nothing stale remains for the checks at rest to find.
#[test]
fn a_secondary_translation_installed_inside_an_invalidate_window_is_reported() {
    let (w, sink) = world();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    notifier::register(&w, mm, SecondaryKind::Kvm);
    let bracket = notifier::invalidate_range_start(&w, mm, 0, 2);
    notifier::secondary_refresh_without_retry(&w, mm, 0);
    notifier::invalidate_range_end(&w, bracket);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(
        fired(&v, Oracle::I13SecondaryMmu),
        "a translation installed inside the invalidate window, unreported:\n{}",
        render(&v)
    );
}
