//! The engine's zap smoke models — a user store that faults its page in racing a zap of that
//! page by another CPU, and two MADV_DONTNEEDs of one page — shared by the suite's
//! `tests/engine_smoke.rs` and by a crate of your own that tries a kernel patch against them
//! (`examples/my-patch/tests/zap_patch.rs`): every world they build runs the process's
//! patch, if one is applied. The races and what each model asserts are told in
//! `tests/engine_smoke.rs`.

use loom::model::Builder;
use mmlab_engine::actor::Env;
use mmlab_engine::check::unmapped::ZapCall;
use mmlab_engine::check::{Oracle, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{Error, access, munmap, page_alloc, tlb, zap};
use mmlab_engine::sync::Arc;
use mmlab_scenarios::patch::patch_kernel;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The preemption bound every model here is explored to, whatever `LOOM_MAX_PREEMPTIONS` says
/// (the suite's command sets it to 2 for loom's own default). `MMLAB_LOOM_BOUND=<n>` overrides
/// it, as it does every scenario test's bound. At 6 the whole file takes about half a minute
/// (executions and times per model in docs/PERFORMANCE.md, "Loom").
pub const PREEMPTION_BOUND: usize = 6;

/// The smallest world the race needs: two CPUs, one mm with one one-page VMA, one PTE table
/// of one PTE, a one-entry TLB per CPU, and two page frames (MADV_DONTNEED lets the storer
/// refault a fresh page while the zapped one still sits in the gather).
pub fn tiny_world(file_pages: usize) -> WorldConfig {
    WorldConfig::single(
        2,
        if file_pages == 0 {
            vec![]
        } else {
            vec![(file_pages, false)]
        },
    )
}

/// `kernel` with the process's patch, if one is applied (`mmlab_scenarios::patch`): a crate of
/// your own runs these models on its patched kernel as the catalog's scenarios do.
fn patched(mut kernel: Kernel) -> Kernel {
    patch_kernel(&mut kernel);
    kernel
}

/// What is mapped at va 0.
#[derive(Debug, Clone, Copy)]
pub enum Memory {
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
pub enum Zapper {
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
pub fn race_a_store_against(memory: Memory, zapper: Zapper) -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let w = Arc::new(World::new(
            tiny_world(usize::from(!matches!(memory, Memory::Anon))),
            patched(Kernel::default()),
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
pub fn madvise_dontneed_freeing_before_flush(w: &World, mm: MmId, vma: VmaId) {
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

/// Explore `model` with loom at [`PREEMPTION_BOUND`] and print how many executions that took, and how long.
pub fn explore(name: &str, model: impl Fn() + Sync + Send + 'static) -> usize {
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

/// The violations, one per line.
pub fn render(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The model of a race that must stay clean: any violation fails the execution, printed with
/// the domain trace of the interleaving.
pub fn stays_clean(memory: Memory, zapper: Zapper) -> impl Fn() + Sync + Send + 'static {
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
pub fn finds(
    name: &str,
    oracle: Oracle,
    model: impl Fn() -> Vec<Violation> + Sync + Send + 'static,
) {
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
pub fn two_dontneeds(zap: fn(&World, MmId)) -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let mut cfg = tiny_world(0);
        cfg.cpus = 3;
        let w = Arc::new(World::new(cfg, patched(Kernel::default())));
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

/// The engine's MADV_DONTNEED of va 0.
pub fn madvise_dontneed(w: &World, mm: MmId) {
    munmap::madvise_dontneed(w, mm, 0, 1).expect("MADV_DONTNEED of a mapped range");
}

/// MADV_DONTNEED whose gather does not count itself in `mm->tlb_flush_pending`, as before the
/// kernel's "mm: fix MADV_[FREE|DONTNEED] TLB flush miss problem" (Minchan Kim, 2017): a
/// concurrent gather cannot see it (`mm_tlb_flush_nested` is false), so one that finds the
/// PTE already cleared flushes nothing and returns while a TLB still caches the page.
pub fn madvise_dontneed_without_nested_flush(w: &World, mm: MmId) {
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
