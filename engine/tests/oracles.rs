//! Regression tests of the oracles themselves: each drives, in one thread and in a fixed order,
//! the exact interleaving a broken path needs, and checks that the oracle meant to catch it
//! does — or, for a legitimate path, that nothing fires.
//!
//! The broken step used throughout is a PTE clear that forgets its TLB flush: what
//! `ptep_clear_flush` exists to prevent, and the bug class of 60bae7370896 ("mm/migrate_device.c:
//! flush TLB while holding PTL"). It leaves a CPU's writable, dirty TLB entry behind.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, Violation};
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{MmId, Pfn, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap, page_alloc, rmap};
use mmlab_engine::protocol::Protocol;
use mmlab_engine::sync::Ordering;

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
    };
    let w = World::new(cfg, Protocol::default());
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
    let mm = w.mms.get(mm_id);
    let (slot, i) = w.pte_slot(va);
    let table = w.tables.get(mm.pmd_table(slot).expect("a table maps va"));
    let ptl = w.pte_lockptr(mm, table).lock();
    let Pte::Present { pfn, dirty, .. } = Pte::decode(table.entries[i].swap(0, Ordering::SeqCst))
    else {
        panic!("va {va} is not mapped");
    };
    if dirty {
        rmap::set_page_dirty(w, pfn);
    }
    rmap::page_remove_rmap(w, pfn, vma);
    drop(ptl);
    pfn
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
