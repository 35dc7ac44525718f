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
//! The last test is the negative control that shows the oracle has teeth: the same race
//! against a MADV_DONTNEED composed from the engine's public zap steps but freeing its
//! gathered pages *before* the TLB flush. Loom must find the interleaving where the storer's
//! TLB entry is still live when the page is freed, and the I3 check in `free_page` must
//! report it — and no other oracle may fire.
//!
//! Run: `RUSTFLAGS="--cfg mmlab_loom" CARGO_TARGET_DIR=target/loom cargo test --release
//! -p mmlab-loom-tests --test engine_smoke -- --nocapture --test-threads=1` (each test prints
//! how many executions it explored and how long that took).
#![cfg(mmlab_loom)]

use loom::model::Builder;
use mmlab_engine::actor::Env;
use mmlab_engine::check::{Oracle, Violation, quiescent};
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{Error, access, munmap, page_alloc, tlb, zap};
use mmlab_engine::protocol::Protocol;
use mmlab_engine::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The preemption bound every model here is explored to, unless `LOOM_MAX_PREEMPTIONS` asks
/// for another (a deeper hunt; see the figures in the test names' report).
const PREEMPTION_BOUND: usize = 3;

/// The smallest world the race needs: two CPUs, one mm with one one-page VMA, one PTE table
/// of one PTE, a one-entry TLB per CPU, and two page frames (MADV_DONTNEED lets the storer
/// refault a fresh page while the zapped one still sits in the gather).
fn tiny_world(file_pages: usize) -> WorldConfig {
    WorldConfig {
        cpus: 2,
        pages: 2,
        mms: 1,
        vmas: 1,
        anon_vmas: 1,
        tables: 1,
        ptes_per_table: 1,
        pmds_per_mm: 1,
        files: if file_pages == 0 {
            vec![]
        } else {
            vec![(file_pages, false)]
        },
        tlb_entries: 1,
    }
}

/// What is mapped at va 0.
#[derive(Debug, Clone, Copy)]
enum Memory {
    /// Private anonymous memory.
    Anon,
    /// One page of a file, MAP_SHARED (a store dirties it: the delayed-rmap zap path).
    SharedFile,
}

/// How the zapper takes the page away.
#[derive(Debug, Clone, Copy)]
enum Zapper {
    /// `munmap` of the whole VMA: a later store gets SIGSEGV.
    Munmap,
    /// `madvise(MADV_DONTNEED)`: the VMA stays, a later store refaults.
    DontNeed,
    /// MADV_DONTNEED composed from public zap steps, with the bug under test: the gathered
    /// pages go back to the allocator before the TLB flush.
    DontNeedFreeingBeforeFlush,
}

/// One execution: build the world (loom objects must be created inside the model), map the
/// page, race `store` on cpu0 against `zapper` on cpu1, then run the quiescent oracles.
/// Returns every violation: the in-path ones reported during the race and the quiescent ones.
fn race_a_store_against(memory: Memory, zapper: Zapper) -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.sink.install();
    let w = Arc::new(World::new(
        tiny_world(matches!(memory, Memory::SharedFile) as usize),
        Protocol::default(),
    ));
    let mm = mm_alloc(&w).expect("one mm slot");
    let kind = match memory {
        Memory::Anon => MapKind::Anon,
        Memory::SharedFile => MapKind::File {
            file: w.file(0),
            pgoff: 0,
            shared: true,
        },
    };
    let vma = mmap(&w, mm, 0, 1, kind).expect("one VMA slot");

    let storer = {
        let w = w.clone();
        move || match access::store(&w, 0, mm, 0, 7) {
            Ok(()) => {}
            // The VMA is gone: the store's fault finds nothing to map.
            Err(Error::Segv) if matches!(zapper, Zapper::Munmap) => {}
            Err(e) => panic!("store to va 0 failed with {e:?} racing {zapper:?}"),
        }
    };
    let unmapper = {
        let w = w.clone();
        move || match zapper {
            Zapper::Munmap => munmap::munmap(&w, mm, vma).expect("munmap of a mapped VMA"),
            Zapper::DontNeed => {
                munmap::madvise_dontneed(&w, mm, 0, 1).expect("MADV_DONTNEED of a mapped range")
            }
            Zapper::DontNeedFreeingBeforeFlush => {
                madvise_dontneed_freeing_before_flush(&w, mm, vma)
            }
        }
    };
    env.run(vec![
        ("storer", Box::new(storer)),
        ("zapper", Box::new(unmapper)),
    ]);
    quiescent::check_world(&w);
    (env.sink.take(), w.trace.render(48))
}

/// MADV_DONTNEED as `munmap::madvise_dontneed` writes it — `mmap_lock` read, a gather,
/// `unmap_vmas`, `tlb_finish_mmu` — except that the pages the zap gathered are put before
/// `tlb_finish_mmu` flushes the TLB: KERNEL.md §2.a.2 rule 1 broken on purpose.
fn madvise_dontneed_freeing_before_flush(w: &World, mm: MmId, vma: VmaId) {
    let map = w.mms.get(mm).mmap_lock.read();
    let mut gather = tlb::tlb_gather_mmu(w, mm, false);
    zap::unmap_vmas(w, &mut gather, &[vma], 0, 1);
    for page in std::mem::take(&mut gather.pages) {
        page_alloc::put_page(w, page.pfn);
    }
    tlb::tlb_finish_mmu(w, gather);
    w.forget_anon_stores(mm, 0, 1);
    drop(map);
}

/// Explore `model` with loom and print how many executions that took, and how long.
fn explore(name: &str, model: impl Fn() + Sync + Send + 'static) -> usize {
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = executions.clone();
    let mut builder = Builder::new();
    let bound = *builder.preemption_bound.get_or_insert(PREEMPTION_BOUND);
    builder.max_branches = 100_000;
    let started = Instant::now();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        model();
    });
    let n = executions.load(Ordering::Relaxed);
    println!(
        "{name}: {n} executions (preemption bound {bound}) in {:.2?}",
        started.elapsed()
    );
    n
}

/// The model of a race that must stay clean: any violation fails the execution, printed with
/// the domain trace of the interleaving.
fn stays_clean(memory: Memory, zapper: Zapper) -> impl Fn() + Sync + Send + 'static {
    move || {
        let (violations, trace) = race_a_store_against(memory, zapper);
        assert!(
            violations.is_empty(),
            "{memory:?} store racing {zapper:?}:\n{}\ntrace:\n{trace}",
            violations
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

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
fn loom_catches_a_zap_that_frees_its_pages_before_the_tlb_flush() {
    static CAUGHT: AtomicUsize = AtomicUsize::new(0);
    static CLEAN: AtomicUsize = AtomicUsize::new(0);
    static OTHER: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    explore("anon store vs MADV_DONTNEED freeing before flush", || {
        let (violations, _) =
            race_a_store_against(Memory::Anon, Zapper::DontNeedFreeingBeforeFlush);
        // Violations are values in the sink, not panics: record what this interleaving saw.
        if violations.is_empty() {
            CLEAN.fetch_add(1, Ordering::Relaxed);
        } else if violations
            .iter()
            .all(|v| v.oracle == Oracle::I3FreeBeforeFlush)
        {
            CAUGHT.fetch_add(1, Ordering::Relaxed);
        } else {
            let mut other = OTHER.lock().unwrap_or_else(|e| e.into_inner());
            other.extend(violations.iter().map(|v| v.to_string()));
        }
    });
    let (caught, clean) = (
        CAUGHT.load(Ordering::Relaxed),
        CLEAN.load(Ordering::Relaxed),
    );
    println!("  {caught} executions caught by I3, {clean} clean");
    let other = OTHER.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        other.is_empty(),
        "oracles other than I3 fired:\n{}",
        other.join("\n")
    );
    assert!(
        caught > 0,
        "no interleaving freed the page under a live TLB entry"
    );
    assert!(
        clean > 0,
        "every interleaving failed: the bug should need the store to fill the TLB first"
    );
}
