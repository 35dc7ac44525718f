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

use loom::model::Builder;
use mmlab_engine::actor::Env;
use mmlab_engine::check::unmapped::ZapCall;
use mmlab_engine::check::{Oracle, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{Error, access, munmap, page_alloc, tlb, zap};
use mmlab_engine::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The preemption bound every model here is explored to, whatever `LOOM_MAX_PREEMPTIONS` says
/// (the suite's command sets it to 2 for loom's own default). `MMLAB_LOOM_BOUND=<n>` overrides
/// it, as it does every scenario test's bound. At 6 the whole file takes about half a minute
/// (executions and times per model in docs/PERFORMANCE.md, "Loom").
const PREEMPTION_BOUND: usize = 6;

/// The smallest world the race needs: two CPUs, one mm with one one-page VMA, one PTE table
/// of one PTE, a one-entry TLB per CPU, and two page frames (MADV_DONTNEED lets the storer
/// refault a fresh page while the zapped one still sits in the gather).
fn tiny_world(file_pages: usize) -> WorldConfig {
    WorldConfig::single(
        2,
        if file_pages == 0 {
            vec![]
        } else {
            vec![(file_pages, false)]
        },
    )
}

/// What is mapped at va 0.
#[derive(Debug, Clone, Copy)]
enum Memory {
    /// Private anonymous memory.
    Anon,
    /// One page of a file, MAP_SHARED (a store dirties it: the delayed-rmap zap path).
    SharedFile,
    /// The same file page, already mapped read-only by a load on the storer's CPU: the store
    /// takes a write-protect fault (`do_wp_page` → `wp_page_shared`) instead of `do_fault`.
    SharedFileMappedReadOnly,
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
    env.play(|| {
        let w = Arc::new(World::new(
            tiny_world(usize::from(!matches!(memory, Memory::Anon))),
            Kernel::default(),
        ));
        let mm = mm_alloc(&w).expect("one mm slot");
        let kind = match memory {
            Memory::Anon => MapKind::Anon,
            Memory::SharedFile | Memory::SharedFileMappedReadOnly => MapKind::File {
                file: w.file(0),
                pgoff: 0,
                shared: true,
            },
        };
        let vma = mmap(&w, mm, 0, 1, kind).expect("one VMA slot");
        if matches!(memory, Memory::SharedFileMappedReadOnly) {
            access::load(&w, 0, mm, 0).expect("a read fault on a mapped file page");
        }

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
    })
}

/// MADV_DONTNEED as `munmap::madvise_dontneed` writes it — `mmap_lock` read, a gather,
/// `unmap_vmas`, `tlb_finish_mmu` — except that the pages the zap gathered are put before
/// `tlb_finish_mmu` flushes the TLB: "a page reaches the allocator only after a TLB flush that
/// covers its former addresses" (I3, docs/MODEL.md §3) broken on purpose.
fn madvise_dontneed_freeing_before_flush(w: &World, mm: MmId, vma: VmaId) {
    let map = w.mms.get(mm).mmap_lock.read();
    let began = w.unmap_begin(mm);
    let mut gather = tlb::tlb_gather_mmu(w, mm, false);
    zap::unmap_vmas(w, &mut gather, &[vma], 0, 1);
    for page in std::mem::take(&mut gather.pages) {
        page_alloc::put_page(w, page.pfn);
    }
    tlb::tlb_finish_mmu(w, gather);
    munmap::unmap_returned(w, ZapCall::MadvDontneed, &began, 0, 1);
    drop(map);
}

/// Explore `model` with loom and print how many executions that took, and how long.
fn explore(name: &str, model: impl Fn() + Sync + Send + 'static) -> usize {
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = executions.clone();
    let mut builder = Builder::new();
    let bound = match std::env::var("MMLAB_LOOM_BOUND") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("MMLAB_LOOM_BOUND={v}: expected a number of preemptions")),
        Err(_) => PREEMPTION_BOUND,
    };
    builder.preemption_bound = Some(bound);
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

fn render(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The model of a race that must stay clean: any violation fails the execution, printed with
/// the domain trace of the interleaving.
fn stays_clean(memory: Memory, zapper: Zapper) -> impl Fn() + Sync + Send + 'static {
    move || {
        let (violations, trace) = race_a_store_against(memory, zapper);
        assert!(
            violations.is_empty(),
            "{memory:?} store racing {zapper:?}:\n{}\ntrace:\n{trace}",
            render(&violations)
        );
    }
}

/// Explore a model of a deliberately broken path and assert that loom finds `oracle` firing
/// in some interleavings, stays clean in others (the bug is a race, not a certainty), and
/// that no other oracle ever fires. Reports are switched from panics to plain sink values
/// (`check::set_panic_under_loom(false)`), so each execution records what it saw instead of
/// failing.
fn finds(name: &str, oracle: Oracle, model: impl Fn() -> Vec<Violation> + Sync + Send + 'static) {
    mmlab_engine::check::set_panic_under_loom(false);
    let caught = std::sync::Arc::new(AtomicUsize::new(0));
    let clean = std::sync::Arc::new(AtomicUsize::new(0));
    let other = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (c, k, o) = (caught.clone(), clean.clone(), other.clone());
    explore(name, move || {
        let violations = model();
        if violations.is_empty() {
            k.fetch_add(1, Ordering::Relaxed);
        } else if violations.iter().all(|v| v.oracle == oracle) {
            c.fetch_add(1, Ordering::Relaxed);
        } else {
            let mut other = o.lock().unwrap_or_else(|e| e.into_inner());
            other.push(render(&violations));
        }
    });
    let (caught, clean) = (
        caught.load(Ordering::Relaxed),
        clean.load(Ordering::Relaxed),
    );
    println!("  {caught} executions caught by {oracle}, {clean} clean");
    let other = other.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        other.is_empty(),
        "oracles other than {oracle} fired:\n{}",
        other.join("\n---\n")
    );
    assert!(caught > 0, "no interleaving made {oracle} fire");
    assert!(
        clean > 0,
        "every interleaving fired {oracle}: that is not a race"
    );
}

/// Two MADV_DONTNEEDs of one anonymous page that a third CPU has cached writable and dirty,
/// each checking I14 (`munmap::assert_range_unmapped`) as soon as it returns. `zap` is the
/// MADV_DONTNEED each one runs.
fn two_dontneeds(zap: fn(&World, MmId)) -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let mut cfg = tiny_world(0);
        cfg.cpus = 3;
        let w = Arc::new(World::new(cfg, Kernel::default()));
        let mm = mm_alloc(&w).expect("one mm slot");
        mmap(&w, mm, 0, 1, MapKind::Anon).expect("one VMA slot");
        access::store(&w, 2, mm, 0, 9).expect("a store on cpu2 maps the page");
        let dontneed = |w: Arc<World>| {
            move || {
                let began = w.unmap_begin(mm);
                zap(&w, mm);
                munmap::assert_range_unmapped(&w, mm, 0, 1, ZapCall::MadvDontneed, &began);
            }
        };
        env.run(vec![
            ("a", Box::new(dontneed(w.clone()))),
            ("b", Box::new(dontneed(w.clone()))),
        ]);
        quiescent::check_world(&w);
        (env.sink.take(), w.trace.render(48))
    })
}

fn madvise_dontneed(w: &World, mm: MmId) {
    munmap::madvise_dontneed(w, mm, 0, 1).expect("MADV_DONTNEED of a mapped range");
}

/// MADV_DONTNEED whose gather does not count itself in `mm->tlb_flush_pending`, as before the
/// kernel's "mm: fix MADV_[FREE|DONTNEED] TLB flush miss problem" (Minchan Kim, 2017): a
/// concurrent gather cannot see it (`mm_tlb_flush_nested` is false), so one that finds the
/// PTE already cleared flushes nothing and returns while a TLB still caches the page.
fn madvise_dontneed_without_nested_flush(w: &World, mm: MmId) {
    let m = w.mms.get(mm);
    let map = m.mmap_lock.read();
    let began = w.unmap_begin(mm);
    let vma = map.vmas[0];
    let mut gather = tlb::tlb_gather_mmu(w, mm, false);
    m.tlb_flush_pending.fetch_sub(1, Ordering::SeqCst);
    zap::unmap_vmas(w, &mut gather, &[vma], 0, 1);
    // Re-count just for tlb_finish_mmu's own decrement: the window above is the bug.
    m.tlb_flush_pending.fetch_add(1, Ordering::SeqCst);
    tlb::tlb_finish_mmu(w, gather);
    munmap::unmap_returned(w, ZapCall::MadvDontneed, &began, 0, 1);
    drop(map);
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
