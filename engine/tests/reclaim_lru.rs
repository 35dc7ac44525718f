//! Reclaim the kernel's way: the LRU lists and isolation, `folio_referenced`'s trylock,
//! `shrink_folio_list`'s deferred TLB flushes (`TTU_BATCH_FLUSH`), and that a missing flush is
//! observable by the oracles that judge stale TLB entries (I3, I4).
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::lruvec::LruList;
use mmlab_engine::mm::{MmId, Pfn, World, WorldConfig, pg, vm};
use mmlab_engine::ops::access::{self, hw_access};
use mmlab_engine::ops::migrate::{isolate_lru_page, putback_lru_page};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::shrink_folio_list::{
    __remove_mapping, AddressSpace, ScanControl, shrink_folio_list,
};
use mmlab_engine::ops::ttu::{TTU_BATCH_FLUSH, try_to_unmap};
use mmlab_engine::ops::{mkclean, page_alloc, tlb_ubc, vmscan};
use mmlab_engine::sync::hw_lock;

/// Two CPUs, one file of four pages.
fn world() -> (World, Sink) {
    let cfg = WorldConfig {
        files: vec![(4, false)],
        ..WorldConfig::tiny(2)
    };
    let w = World::new(cfg, Kernel::default());
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

/// One shared mapping of the file's page 0 at va 0, stored to by cpu0 (value 1): the PTE is
/// writable, dirty and young, and cpu0's TLB caches it writable and dirty.
fn mapped_dirty_page(w: &World) -> (MmId, Pfn) {
    let mm = mm_alloc(w).unwrap();
    let kind = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    mmap(w, mm, 0, 1, kind).unwrap();
    access::store(w, 0, mm, 0, 1).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    (mm, pfn)
}

fn cpu0_caches(w: &World, pfn: Pfn) -> bool {
    hw_lock(&w.cpus[0].tlb).iter().any(|e| e.pfn == pfn)
}

fn in_cache(w: &World, pfn: Pfn) -> bool {
    w.files.get(w.file(0)).i_pages.lock().pages[0] == Some(pfn)
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

const IGNORE_REFERENCES: ScanControl = ScanControl {
    ignore_references: true,
};

#[test]
fn a_folio_isolated_by_migration_is_not_reclaimed_and_putback_restores_it() {
    let (w, sink) = world();
    let (_mm, pfn) = mapped_dirty_page(&w);
    vmscan::lru_add_drain(&w);
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::InactiveFile));
    // Migration wins the PG_lru race.
    assert!(isolate_lru_page(&w, pfn));
    let reclaimed = vmscan::shrink_inactive_list(&w, 8, LruList::InactiveFile, &IGNORE_REFERENCES);
    assert_eq!(reclaimed, 0, "reclaim took a folio migration had isolated");
    assert!(in_cache(&w, pfn) && w.pages.is_live(pfn));
    assert!(!w.page(pfn).test(pg::LRU));
    // Migration puts it back: reclaim may have it now.
    putback_lru_page(&w, pfn);
    let reclaimed = vmscan::shrink_inactive_list(&w, 8, LruList::InactiveFile, &IGNORE_REFERENCES);
    assert_eq!(reclaimed, 1);
    assert!(!w.pages.is_live(pfn) && !cpu0_caches(&w, pfn));
    assert!(w.lru_lock.lock().list_of(pfn).is_none());
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));
}

#[test]
fn folio_isolate_lru_takes_the_folio_off_its_list_and_folio_putback_lru_restores_it() {
    let (w, sink) = world();
    let (_mm, pfn) = mapped_dirty_page(&w);
    vmscan::lru_add_drain(&w);
    let refs = w
        .page(pfn)
        .refcount
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(vmscan::folio_isolate_lru(&w, pfn));
    assert!(!vmscan::folio_isolate_lru(&w, pfn), "isolated twice");
    assert!(w.lru_lock.lock().list_of(pfn).is_none());
    assert!(vmscan::isolate_lru_folios(&w, 8, LruList::InactiveFile).is_empty());
    vmscan::folio_putback_lru(&w, pfn);
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::InactiveFile));
    assert!(w.page(pfn).test(pg::LRU));
    assert_eq!(
        w.page(pfn)
            .refcount
            .load(std::sync::atomic::Ordering::SeqCst),
        refs
    );
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));
}

#[test]
fn folio_referenced_contention_keeps_the_folio_mapped() {
    let (w, sink) = world();
    let (mm, pfn) = mapped_dirty_page(&w);
    assert!(vmscan::folio_isolate_lru(&w, pfn));
    // Someone holds i_mmap_rwsem for write (a fork, an mmap): folio_referenced's
    // i_mmap_trylock_read fails, rwc.contended, FOLIOREF_KEEP.
    let i_mmap = w.files.get(w.file(0)).i_mmap.write();
    let (reclaimed, kept) = shrink_folio_list(&w, vec![pfn], &ScanControl::default());
    drop(i_mmap);
    assert_eq!((reclaimed, kept.as_slice()), (0, [pfn].as_slice()));
    assert!(w.pte_at(mm, 0).is_some_and(|p| p.is_present()));
    assert!(!w.page(pfn).test(pg::ACTIVE), "kept, not activated");
    vmscan::move_folios_to_lru(&w, &kept);
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::InactiveFile));
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));
}

#[test]
fn a_referenced_folio_is_kept_then_activated_and_an_idle_one_reclaimed() {
    let (w, sink) = world();
    let (mm, pfn) = mapped_dirty_page(&w);
    vmscan::lru_add_drain(&w);
    let sc = ScanControl::default();
    // First look: the PTE is young → PG_referenced, kept (its young bit cleared).
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveFile, &sc),
        0
    );
    assert!(w.page(pfn).test(pg::REFERENCED));
    // cpu0 touches it again through a new walk (its TLB flushed first, as a context switch
    // might): young again, and referenced before → activated.
    hw_lock(&w.cpus[0].tlb).clear();
    access::load(&w, 0, mm, 0).unwrap();
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveFile, &sc),
        0
    );
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::ActiveFile));
    // Aged back to the inactive list (its young bit cleared again), left alone. Still
    // PG_referenced: FOLIOREF_RECLAIM_CLEAN — unmapped, but dirty, so kept.
    vmscan::shrink_active_list(&w, 8, LruList::ActiveFile);
    assert_eq!(w.lru_lock.lock().list_of(pfn), Some(LruList::InactiveFile));
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveFile, &sc),
        0
    );
    assert!(w.page(pfn).test(pg::DIRTY) && !w.page(pfn).mapped());
    // Next time: written out and reclaimed.
    assert_eq!(
        vmscan::shrink_inactive_list(&w, 8, LruList::InactiveFile, &sc),
        1
    );
    assert!(!w.pages.is_live(pfn));
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));
}

#[test]
fn a_deferred_flush_leaves_the_stale_entry_until_try_to_unmap_flush() {
    let (w, sink) = world();
    let (mm, pfn) = mapped_dirty_page(&w);
    assert!(vmscan::folio_isolate_lru(&w, pfn));
    let page = lock_page(&w, pfn);
    assert!(try_to_unmap(&w, &page, TTU_BATCH_FLUSH));
    assert!(w.pte_at(mm, 0).is_none_or(|p| p.is_none()));
    // The PTE is gone, cpu0's writable dirty entry is not.
    assert!(cpu0_caches(&w, pfn), "TTU_BATCH_FLUSH flushed at once");
    let ubc = tlb_ubc::current_tlb_ubc();
    assert!(
        ubc.flush_required && ubc.writable && ubc.cpumask == 1,
        "{ubc:?}"
    );
    assert!(tlb_ubc::tlb_flush_batched_pending(&w, mm));
    // Before pageout: the dirty PTE made the batch writable, so this flushes.
    tlb_ubc::try_to_unmap_flush_dirty(&w);
    assert!(!cpu0_caches(&w, pfn));
    assert_eq!(tlb_ubc::current_tlb_ubc(), Default::default());
    // mm->tlb_flush_batched is caught up only by a PTE modifier's flush_tlb_batched_pending.
    assert!(tlb_ubc::tlb_flush_batched_pending(&w, mm));
    tlb_ubc::flush_tlb_batched_pending(&w, mm);
    assert!(!tlb_ubc::tlb_flush_batched_pending(&w, mm));
    page.unlock();
    vmscan::folio_putback_lru(&w, pfn);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));
}

#[test]
fn shrink_folio_list_flushes_before_pageout_and_frees_after_the_flush() {
    let (w, sink) = world();
    w.trace.observe();
    let (_mm, pfn) = mapped_dirty_page(&w);
    assert!(vmscan::folio_isolate_lru(&w, pfn));
    assert_eq!(vmscan::reclaim_pages(&w, vec![pfn]), 1);
    let trace = w.trace.render(200);
    let at = |step: &str| {
        trace
            .find(step)
            .unwrap_or_else(|| panic!("no {step} in\n{trace}"))
    };
    assert!(at("set_tlb_ubc_flush_pending") < at("arch_tlbbatch_flush"));
    assert!(at("arch_tlbbatch_flush") < at("pageout"), "{trace}");
    assert!(at("__remove_mapping") < at("free_unref_page"), "{trace}");
    assert!(!w.pages.is_live(pfn) && !cpu0_caches(&w, pfn));
    // The data cpu0 stored reached the disk.
    let disk = &w.files.get(w.file(0)).backing[0][0];
    assert_eq!(disk.load(std::sync::atomic::Ordering::SeqCst), 1);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{}", render(&v));
}

/// Negative control: a reclaim that freed its folios before `try_to_unmap_flush` frees a page
/// cpu0's TLB still reaches — I3 sees the stale entry a deferred flush leaves. (A clean PTE
/// does not make the batch writable, so `try_to_unmap_flush_dirty` does not flush it.)
#[test]
fn negative_control_freeing_before_the_batch_flush_is_caught_by_i3() {
    let (w, sink) = world();
    let (mm, pfn) = mapped_dirty_page(&w);
    assert!(mkclean::writeback(&w, w.file(0), 0));
    access::load(&w, 0, mm, 0).unwrap();
    assert!(cpu0_caches(&w, pfn));
    assert!(vmscan::folio_isolate_lru(&w, pfn));
    let page = lock_page(&w, pfn);
    assert!(try_to_unmap(&w, &page, TTU_BATCH_FLUSH));
    tlb_ubc::try_to_unmap_flush_dirty(&w);
    assert!(
        cpu0_caches(&w, pfn),
        "a clean entry's flush is not forced before I/O"
    );
    assert!(__remove_mapping(
        &w,
        AddressSpace::File(w.file(0), 0),
        &page
    ));
    page.unlock();
    // The wrong order: free_unref_page_list before try_to_unmap_flush.
    page_alloc::put_page(&w, pfn);
    tlb_ubc::try_to_unmap_flush(&w);
    let v = sink.take();
    assert!(fired(&v, Oracle::I3FreeBeforeFlush), "{}", render(&v));
}

/// Negative control: a reclaim that wrote a folio out without `try_to_unmap_flush_dirty`
/// lets cpu0 store through its stale writable, dirty entry after the I/O took its snapshot —
/// a clean page-cache page whose data the disk lacks, and no dirty PTE left to say so (I4).
#[test]
fn negative_control_pageout_without_flush_dirty_is_caught_by_i4() {
    let (w, sink) = world();
    let (mm, pfn) = mapped_dirty_page(&w);
    assert!(vmscan::folio_isolate_lru(&w, pfn));
    let page = lock_page(&w, pfn);
    assert!(try_to_unmap(&w, &page, TTU_BATCH_FLUSH));
    // The wrong order: pageout with the writable entry still cached.
    assert!(mkclean::writeback_locked(&w, w.file(0), 0, &page));
    hw_access(&w, 0, mm, 0, Some(5)).expect("the stale entry takes the store");
    page.unlock();
    tlb_ubc::try_to_unmap_flush(&w);
    vmscan::folio_putback_lru(&w, pfn);
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(fired(&v, Oracle::I4LostDirty), "{}", render(&v));
}

/// `flush_tlb_batched_pending` in `change_pte_range` (3ea277194daa's first site): mprotect
/// finds the PTE reclaim cleared none, changes nothing — and still flushes the stale entry.
/// The v4.12 zap, without the call, leaves it (tlb-batched-pending's race, sequentially).
#[test]
fn pte_modifiers_catch_up_with_a_deferred_flush_and_the_v4_12_zap_does_not() {
    for (kernel_zap, modifier, v4_12) in [
        (mmlab_engine::ops::zap::ZapOps::default(), "mprotect", false),
        (mmlab_engine::ops::zap::ZapOps::default(), "madvise", false),
        (mmlab_engine::ops::zap::ZapOps::v4_12(), "madvise", true),
    ] {
        let cfg = WorldConfig {
            files: vec![(4, false)],
            ..WorldConfig::tiny(2)
        };
        let kernel = Kernel {
            zap: kernel_zap,
            ..Kernel::default()
        };
        let w = World::new(cfg, kernel);
        let sink = Sink::new();
        sink.install();
        let (mm, pfn) = mapped_dirty_page(&w);
        assert!(vmscan::folio_isolate_lru(&w, pfn));
        let page = lock_page(&w, pfn);
        assert!(try_to_unmap(&w, &page, TTU_BATCH_FLUSH));
        assert!(cpu0_caches(&w, pfn));
        match modifier {
            "mprotect" => mmlab_engine::ops::mprotect::mprotect(&w, mm, 0, 1, vm::READ).unwrap(),
            _ => mmlab_engine::ops::munmap::madvise_dontneed(&w, mm, 0, 1).unwrap(),
        }
        assert_eq!(cpu0_caches(&w, pfn), v4_12, "{modifier}, v4.12: {v4_12}");
        tlb_ubc::try_to_unmap_flush(&w);
        page.unlock();
        vmscan::folio_putback_lru(&w, pfn);
        let v = sink.take();
        assert_eq!(
            fired(&v, Oracle::I14ZapCompletion),
            v4_12,
            "{modifier}: {}",
            render(&v)
        );
    }
}
