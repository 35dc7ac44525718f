//! Anonymous folios through the LRU (docs/MODEL.md §17–§18): `shrink_inactive_list` of the
//! inactive anon list swaps a folio out through `shrink_folio_list` — `add_to_swap`,
//! `try_to_unmap(TTU_BATCH_FLUSH)` installing the swap entry, `try_to_unmap_flush_dirty`
//! before `pageout` → `swap_writepage`, `__remove_mapping` of the swap cache, and
//! `try_to_unmap_flush` before the folio is freed — and a fault swaps it back in.
#![cfg(not(mmlab_loom))]

mod common;

use common::{anon_page_stored, assert_world_clean, swap_world};

use mmlab_engine::mm::lruvec::LruList;
use mmlab_engine::mm::page::pg;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{Pfn, World};
use mmlab_engine::ops::access;
use mmlab_engine::ops::shrink_folio_list::ScanControl;
use mmlab_engine::ops::vmscan;
use mmlab_engine::sync::hw_lock;

fn cpu0_caches(w: &World, pfn: Pfn) -> bool {
    hw_lock(&w.cpus[0].tlb).iter().any(|e| e.pfn == pfn)
}

fn disk(w: &World, slot: u32) -> u64 {
    w.swap
        .disk(slot, 0)
        .load(std::sync::atomic::Ordering::SeqCst)
}

const IGNORE_REFERENCES: ScanControl = ScanControl {
    ignore_references: true,
};

#[test]
fn shrink_inactive_list_swaps_an_anon_folio_out_and_a_fault_brings_it_back() {
    let (w, sink) = swap_world();
    w.trace.observe();
    let (mm, pfn) = anon_page_stored(&w, 42);
    vmscan::lru_add_drain(&w);
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::InactiveAnon));
    assert!(cpu0_caches(&w, pfn));
    let reclaimed = vmscan::shrink_inactive_list(&w, 8, LruList::InactiveAnon, &IGNORE_REFERENCES);
    assert_eq!(reclaimed, 1);
    // The swap PTE, the slot's count (the PTE's only: the cache let go), the data on the
    // device, the folio freed and off every list, no CPU left translating it.
    let Some(Pte::Swap { offset, exclusive }) = w.pte_at(mm, 0) else {
        panic!("reclaim left {:?}", w.pte_at(mm, 0))
    };
    assert!(exclusive);
    assert_eq!(w.swap.map(offset), 1);
    assert!(w.swap.cache.lock().pages[offset as usize].is_none());
    assert_eq!(disk(&w, offset), 42);
    assert!(!w.pages.is_live(pfn) && !cpu0_caches(&w, pfn));
    assert!(w.lru_lock.lock().list_of(pfn).is_none());
    // The order shrink_folio_list keeps: the swap entry installed with the flush deferred;
    // the (writable) batch flushed before pageout writes the slot; the folio off the swap
    // cache before the batch's final flush, and freed only after it.
    let trace = w.trace.render(400);
    let at = |step: &str| {
        trace
            .find(step)
            .unwrap_or_else(|| panic!("no {step} in\n{trace}"))
    };
    assert!(at("add_to_swap_cache") < at("try_to_unmap_one: set swap entry"));
    assert!(at("set_tlb_ubc_flush_pending") < at("arch_tlbbatch_flush"));
    assert!(at("arch_tlbbatch_flush") < at("pageout"), "{trace}");
    assert!(at("pageout") < at("swap_writepage: written"), "{trace}");
    assert!(at("swap_writepage: written") < at("__delete_from_swap_cache"));
    assert!(
        at("__delete_from_swap_cache") < at("free_unref_page"),
        "{trace}"
    );
    assert_world_clean(&w, &sink);

    // A fault swaps it back in, through the swap cache, with the data.
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 42);
    let Some(Pte::Present { pfn, .. }) = w.pte_at(mm, 0) else {
        panic!("swapped in")
    };
    assert!(w.page(pfn).test(pg::SWAPCACHE));
    assert_world_clean(&w, &sink);
}

#[test]
fn a_clean_swap_cache_folio_is_unmapped_and_dropped_without_a_write() {
    let (w, sink) = swap_world();
    let (mm, _) = anon_page_stored(&w, 7);
    vmscan::lru_add_drain(&w);
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveAnon, &IGNORE_REFERENCES),
        1
    );
    let slot = w.pte_at(mm, 0).and_then(Pte::swap_offset).expect("swapped");
    // A read fault maps it back read-only and clean, still in the swap cache (the slot keeps
    // its copy).
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 7);
    let pfn2 = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
    assert!(w.page(pfn2).test(pg::SWAPCACHE) && !w.page(pfn2).test(pg::DIRTY));
    let before = w.trace.events().len();
    vmscan::lru_add_drain(&w);
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveAnon, &IGNORE_REFERENCES),
        1
    );
    let steps: Vec<&str> = w.trace.events()[before..].iter().map(|e| e.step).collect();
    assert!(!steps.contains(&"add_to_swap_cache"), "{steps:?}");
    assert!(
        !steps.contains(&"pageout"),
        "a clean folio is not written: {steps:?}"
    );
    assert!(steps.contains(&"__delete_from_swap_cache"), "{steps:?}");
    assert_eq!(w.pte_at(mm, 0).and_then(Pte::swap_offset), Some(slot));
    assert_eq!(w.swap.map(slot), 1);
    assert_eq!(disk(&w, slot), 7);
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 7);
    assert!(!w.pages.is_live(pfn2));
    assert_world_clean(&w, &sink);
}

#[test]
fn a_referenced_anon_folio_is_looked_at_twice_then_activated_and_an_idle_one_swapped() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 5);
    vmscan::lru_add_drain(&w);
    let sc = ScanControl::default();
    // folio_check_references (b518154e59aa): the young PTE of the instantiating fault earns
    // PG_referenced and another trip around the inactive list — no slot taken yet.
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveAnon, &sc),
        0
    );
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::InactiveAnon));
    assert!(w.page(pfn).test(pg::REFERENCED));
    assert!(
        !w.page(pfn).test(pg::SWAPCACHE),
        "no slot taken before the references"
    );
    // Touched again through a new walk: referenced twice → activated.
    hw_lock(&w.cpus[0].tlb).clear();
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 5);
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveAnon, &sc),
        0
    );
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::ActiveAnon));
    assert!(w.pte_at(mm, 0).is_some_and(|p| p.is_present()));
    // Aged to the inactive list (its young bit cleared); unreferenced now, it is swapped out
    // (an anonymous folio is never FOLIOREF_RECLAIM_CLEAN).
    vmscan::shrink_active_list(&w, 8, LruList::ActiveAnon);
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::InactiveAnon));
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveAnon, &sc),
        1
    );
    assert!(matches!(w.pte_at(mm, 0), Some(Pte::Swap { .. })));
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 5);
    assert_world_clean(&w, &sink);
}
