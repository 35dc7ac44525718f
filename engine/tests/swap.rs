//! Anonymous reclaim with swap, one thread, fixed order (docs/MODEL.md §17): a swap-out then a
//! swap-in keeps the data and the counts (`swap_map`, refcount, mapcount) through the swap
//! cache and through the path that skips it; fork duplicates a swap PTE's count and shares the
//! entry; zap frees the slot; migration moves a swap-cache folio's cache entry; and I20 and the
//! lost-store oracle fire on bad states built by hand (their negative controls).
#![cfg(not(mmlab_loom))]

mod common;

use common::{anon_page_stored, assert_world_clean, swap_world};

use mmlab_engine::check::{Oracle, Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::page::pg;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::swap::{SWAP_HAS_CACHE, swp};
use mmlab_engine::mm::{MmId, Pfn, World, WorldConfig};
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages};
use mmlab_engine::ops::reclaim::{Reclaimed, reclaim_anon_page};
use mmlab_engine::ops::{access, fork, munmap};
use mmlab_engine::sync::Ordering;

fn steps(w: &World) -> Vec<&'static str> {
    w.trace.events().iter().map(|e| e.step).collect()
}

fn fired(v: &[Violation], oracle: Oracle) -> bool {
    v.iter().any(|v| v.oracle == oracle)
}

fn swapped_out(w: &World, mm: MmId, pfn: Pfn) -> u32 {
    assert_eq!(reclaim_anon_page(w, pfn), Reclaimed::Freed);
    let Some(Pte::Swap { offset, exclusive }) = w.pte_at(mm, 0) else {
        panic!("reclaim left {:?}", w.pte_at(mm, 0))
    };
    assert!(exclusive, "an exclusive page's swap PTE is exclusive");
    assert!(!w.pages.is_live(pfn), "the page was freed");
    offset
}

#[test]
fn swap_out_then_swap_in_through_the_cache_keeps_data_and_counts() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 42);
    let slot = swapped_out(&w, mm, pfn);
    assert_eq!(w.swap.map(slot), 1, "one swap PTE, no cache");
    assert!(w.swap.cache.lock().pages[slot as usize].is_none());
    assert_eq!(
        w.swap
            .disk(slot, 0)
            .load(std::sync::atomic::Ordering::SeqCst),
        42
    );
    assert_world_clean(&w, &sink);

    // A read fault: `swapin_readahead` through the cache; the folio stays cached.
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 42);
    let Some(Pte::Present { pfn, write, .. }) = w.pte_at(mm, 0) else {
        panic!("swapped in")
    };
    assert!(!write, "a read fault maps read-only");
    let page = w.page(pfn);
    assert!(page.test(pg::SWAPCACHE) && page.test(pg::ANON_EXCLUSIVE));
    assert_eq!(
        w.swap.map(slot),
        SWAP_HAS_CACHE,
        "swap_free left the cache's bit"
    );
    assert_eq!(page.mapcount.load(Ordering::SeqCst), 1);
    assert_eq!(
        page.refcount.load(Ordering::SeqCst),
        2,
        "the PTE's and the cache's"
    );
    assert_world_clean(&w, &sink);

    // A write reuses the exclusive page; a second reclaim writes the new data to the slot
    // the folio still has.
    access::store(&w, 0, mm, 0, 43).expect("store");
    assert_eq!(reclaim_anon_page(&w, pfn), Reclaimed::Freed);
    assert_eq!(w.pte_at(mm, 0).and_then(Pte::swap_offset), Some(slot));
    assert_eq!(
        w.swap
            .disk(slot, 0)
            .load(std::sync::atomic::Ordering::SeqCst),
        43
    );
    assert_world_clean(&w, &sink);
    assert!(steps(&w).contains(&"try_to_unmap_one: set swap entry"));
}

#[test]
fn a_write_fault_frees_the_swap_and_maps_writable() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 7);
    let slot = swapped_out(&w, mm, pfn);
    access::store(&w, 1, mm, 0, 8).expect("store");
    let Some(Pte::Present { pfn, write, .. }) = w.pte_at(mm, 0) else {
        panic!("swapped in")
    };
    assert!(write, "should_try_to_free_swap, then reuse");
    let page = w.page(pfn);
    assert!(!page.test(pg::SWAPCACHE), "folio_free_swap");
    assert_eq!(w.swap.map(slot), 0, "the slot is free");
    assert_eq!(page.refcount.load(Ordering::SeqCst), 1);
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 7, "cpu0's word");
    assert_world_clean(&w, &sink);
}

#[test]
fn a_synchronous_device_skips_the_swap_cache() {
    for kernel in [
        Kernel::default(),
        Kernel {
            fault: mmlab_engine::ops::fault::FaultOps {
                do_swap_page: mmlab_engine::ops::do_swap_page::do_swap_page_v6_7,
                ..Kernel::default().fault
            },
            ..Kernel::default()
        },
    ] {
        let cfg = WorldConfig {
            pages: 8,
            ..WorldConfig::tiny(2)
        };
        let w = World::new(cfg, kernel);
        let sink = Sink::new();
        sink.install();
        w.swap.set_flag(swp::SYNCHRONOUS_IO, true);
        let (mm, pfn) = anon_page_stored(&w, 5);
        let slot = swapped_out(&w, mm, pfn);
        assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 5);
        let Some(Pte::Present { pfn, .. }) = w.pte_at(mm, 0) else {
            panic!("swapped in")
        };
        assert!(!w.page(pfn).test(pg::SWAPCACHE), "never in the cache");
        assert!(
            w.page(pfn).test(pg::ANON_EXCLUSIVE),
            "a fresh folio is exclusive"
        );
        assert_eq!(w.swap.map(slot), 0, "swap_free freed the slot");
        assert!(steps(&w).contains(&"do_swap_page: skip swapcache"));
        assert_world_clean(&w, &sink);
    }
}

#[test]
fn fork_of_a_swap_pte_duplicates_its_count_and_shares_the_entry() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 9);
    let slot = swapped_out(&w, mm, pfn);
    let child = fork::dup_mm(&w, mm).expect("fork");
    assert_eq!(w.swap.map(slot), 2, "swap_duplicate");
    for m in [mm, child] {
        assert_eq!(
            w.pte_at(m, 0),
            Some(Pte::Swap {
                offset: slot,
                exclusive: false
            }),
            "copy_nonpresent_pte clears pte_swp_exclusive in the parent; the child's is shared"
        );
    }
    assert_world_clean(&w, &sink);
    // (Each CPU has its own word of a page: cpu0's is the one stored.)
    assert_eq!(access::load(&w, 0, child, 0).expect("load"), 9);
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 9);
    assert_world_clean(&w, &sink);
    // The parent writes: its page is shared with the child (not exclusive): COW.
    access::store(&w, 0, mm, 0, 10).expect("store");
    assert_eq!(access::load(&w, 0, child, 0).expect("load"), 9);
    assert_world_clean(&w, &sink);
}

#[test]
fn zap_of_a_swap_pte_frees_the_slot() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 3);
    let slot = swapped_out(&w, mm, pfn);
    let vma = w.mms.get(mm).mmap_lock.read().vmas[0];
    munmap::munmap(&w, mm, vma).expect("munmap");
    assert_eq!(w.swap.map(slot), 0, "free_swap_and_cache");
    assert!(steps(&w).contains(&"free_swap_and_cache"));
    assert_world_clean(&w, &sink);
}

#[test]
fn zap_of_a_swap_pte_frees_its_cached_folio_too() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 3);
    let slot = swapped_out(&w, mm, pfn);
    // Read it back (cached), then swap it out again without freeing it: reclaim's second
    // pass finds it in the cache. Here: fork, so that the folio stays cached and swapped.
    let child = fork::dup_mm(&w, mm).expect("fork");
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 3);
    let cached = w.swap.cache.lock().pages[slot as usize].expect("cached");
    assert_eq!(
        w.swap.map(slot),
        1 | SWAP_HAS_CACHE,
        "the child's PTE and the cache"
    );
    let vma = w.mms.get(child).mmap_lock.read().vmas[0];
    munmap::munmap(&w, child, vma).expect("munmap");
    // free_swap_and_cache: count 0, only the cache left: __try_to_reclaim_swap drops it.
    assert_eq!(w.swap.map(slot), 0);
    assert!(!w.page(cached).test(pg::SWAPCACHE));
    assert_world_clean(&w, &sink);
}

#[test]
fn migration_moves_a_swap_cache_folio_with_its_slot() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 11);
    let slot = swapped_out(&w, mm, pfn);
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 11);
    let old = w.swap.cache.lock().pages[slot as usize].expect("cached");
    let pool = NewPagePool::new(&w, 1);
    assert!(isolate_lru_page(&w, old));
    let left = migrate_pages(&w, &pool, &[old]);
    assert!(left.is_empty(), "migrated");
    let new = w.swap.cache.lock().pages[slot as usize].expect("still cached");
    assert_ne!(new, old);
    assert_eq!(w.pte_at(mm, 0).and_then(Pte::pfn), Some(new));
    assert!(w.page(new).test(pg::SWAPCACHE));
    assert_eq!(access::load(&w, 0, mm, 0).expect("load"), 11);
    assert_world_clean(&w, &sink);
}

#[test]
fn i20_fires_on_a_count_no_pte_accounts_for() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 1);
    let slot = swapped_out(&w, mm, pfn);
    assert_world_clean(&w, &sink);
    w.swap.swap_map[slot as usize].store(2, Ordering::SeqCst);
    quiescent::check_world(&w);
    assert!(fired(&sink.take(), Oracle::I20SwapMap));
}

#[test]
fn i20_fires_on_a_swap_pte_naming_a_free_slot() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 1);
    let slot = swapped_out(&w, mm, pfn);
    w.swap.swap_map[slot as usize].store(0, Ordering::SeqCst);
    quiescent::check_world(&w);
    assert!(fired(&sink.take(), Oracle::I20SwapMap));
}

#[test]
fn the_lost_store_oracle_follows_a_swap_entry() {
    let (w, sink) = swap_world();
    let (mm, pfn) = anon_page_stored(&w, 77);
    let slot = swapped_out(&w, mm, pfn);
    assert_world_clean(&w, &sink);
    // The device lost the write.
    w.swap
        .disk(slot, 0)
        .store(0, std::sync::atomic::Ordering::SeqCst);
    quiescent::check_world(&w);
    assert!(fired(&sink.take(), Oracle::LostStore));
}
