//! Why the munlock_exit benchmark shows no convoy on a small machine: two measurements that
//! `docs/BENCHMARKS.md` quotes.
//!
//! 1. **Walk outcomes.** The old munlock's `page_mlock` walk stops at the first VMA that is
//!    still VM_LOCKED. The kernel's quadratic case needs many exits *in progress at once*, so
//!    that walks skip many munlocked-but-still-linked VMAs. This counts, per round of K exits
//!    of a P-page file, the walks that found a VM_LOCKED VMA ("still mlocked") and those that
//!    found none, from the domain trace — once with `exit_mmap` as it is, and once with an
//!    exit composed from the engine's public steps that yields after every page it munlocks
//!    and every PTE table it zaps, as if every exit had a CPU of its own.
//! 2. **The domain trace.** Every kernel step records a formatted event under one mutex per
//!    world. This times that record from one thread and from two.
//!
//! ```text
//! cargo run --release -p mmlab-benches --example why_no_convoy
//! ```

use mmlab_benches::{Body, ns, quiet_instrumentation, time_concurrently};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig, vm};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap, mmdrop};
use mmlab_engine::ops::{exit, munlock, munmap, page_alloc, pgtable, tlb, zap};
use mmlab_engine::sync::Ordering;
use std::sync::Arc;

/// Small enough that one round's events fit in the trace (4096 events).
const PAGES: u64 = 8;
const ROUNDS: usize = 100;

/// `exit_mmap` under the old scheme, with a yield after each page munlocked and each PTE
/// table zapped: every exit makes progress a page at a time, interleaved with the others.
fn exit_interleaved(w: &World, mm_id: MmId) {
    let mm = w.mms.get(mm_id);
    let vmas: Vec<VmaId> = mm.mmap_lock.read().vmas.clone();
    for &v in &vmas {
        let vma = w.vmas.get(v);
        let info = vma.info.get();
        if vma.flags.fetch_and(!vm::LOCKED, Ordering::SeqCst) & vm::LOCKED == 0 {
            continue;
        }
        for va in info.start..info.end {
            // follow_page(FOLL_GET)
            let Some(pfn) = munlock::follow_page(w, mm_id, va) else {
                continue;
            };
            let page = mmlab_engine::ops::pagemap::lock_page(w, pfn);
            munlock::munlock_vma_page(w, &page);
            page.unlock();
            page_alloc::put_page(w, pfn);
            std::thread::yield_now();
        }
    }
    let mut gather = tlb::tlb_gather_mmu(w, mm_id, true);
    {
        let _map = mm.mmap_lock.read();
        for &v in &vmas {
            let info = w.vmas.get(v).info.get();
            let mut addr = info.start;
            while addr < info.end {
                addr = zap::zap_pte_range(w, &mut gather, v, addr, info.end);
                std::thread::yield_now();
            }
        }
    }
    let mut map = mm.mmap_lock.write();
    pgtable::free_pgtables(w, &mut gather, &vmas, &[]);
    tlb::tlb_finish_mmu(w, gather);
    for &v in &vmas {
        munmap::remove_vma(w, v);
    }
    map.vmas.clear();
    drop(map);
    mmdrop(w, mm_id);
}

/// Mean (walks that found a VM_LOCKED VMA, walks that found none) per round of K exits.
fn walks(k: usize, interleave: bool) -> (f64, f64) {
    let (mut found, mut none) = (0, 0);
    for _ in 0..ROUNDS {
        let mut cfg = WorldConfig::stress(k);
        cfg.files = vec![(PAGES as usize, false)];
        let mut kernel = Kernel::default();
        kernel.mlock.scheme = MlockScheme::PageMlock;
        let w = Arc::new(World::new(cfg, kernel));
        mmlab_benches::bench_sink().install();
        let mms: Vec<MmId> = (0..k)
            .map(|_| {
                let mm = mm_alloc(&w).expect("mm");
                let kind = MapKind::File {
                    file: w.file(0),
                    pgoff: 0,
                    shared: true,
                };
                let vma = mmap(&w, mm, 0, PAGES, kind).expect("mmap");
                munlock::mlock(&w, mm, vma).expect("mlock");
                mm
            })
            .collect();
        let first = w.trace.events().last().map_or(0, |e| e.seq + 1);
        let bodies: Vec<Body> = mms
            .into_iter()
            .map(|mm| {
                let w = w.clone();
                let body: Box<dyn FnOnce() + Send> = if interleave {
                    Box::new(move || exit_interleaved(&w, mm))
                } else {
                    Box::new(move || exit::exit_mmap(&w, mm))
                };
                ("exit", body)
            })
            .collect();
        time_concurrently(&w, bodies);
        mmlab_benches::assert_clean(&w, "why_no_convoy");
        let events = w.trace.events();
        assert!(
            events.first().is_none_or(|e| e.seq <= first),
            "the round's events overflowed the trace"
        );
        for e in events
            .iter()
            .filter(|e| e.seq >= first && e.step == "page_mlock")
        {
            if e.value == "still mlocked" {
                found += 1;
            } else {
                none += 1;
            }
        }
    }
    (found as f64 / ROUNDS as f64, none as f64 / ROUNDS as f64)
}

fn trace_cost(threads: usize) -> f64 {
    const EVENTS: u64 = 200_000;
    let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
    let bodies: Vec<Body> = (0..threads)
        .map(|_| {
            let w = w.clone();
            let body: Box<dyn FnOnce() + Send> = Box::new(move || {
                for i in 0..EVENTS {
                    w.trace("store", format!("mm 1 va {:#x}", i << 12), i);
                }
            });
            ("tracer", body)
        })
        .collect();
    let t = time_concurrently(&w, bodies);
    t.as_nanos() as f64 / (EVENTS * threads as u64) as f64
}

fn main() {
    quiet_instrumentation();
    println!(
        "1. page_mlock walks per round of K exits of a {PAGES}-page mlocked file \
         ({ROUNDS} rounds; a walk that finds a VM_LOCKED VMA stops there)"
    );
    println!(
        "{:>3}  {:>28}  {:>28}",
        "K", "exit_mmap: found / none", "page-interleaved: found / none"
    );
    for k in [2, 4, 8, 16] {
        let (f, n) = walks(k, false);
        let (fi, ni) = walks(k, true);
        println!("{k:>3}  {f:>19.1} / {n:>6.1}  {fi:>19.1} / {ni:>6.1}");
    }
    println!("\n2. the domain trace: one event recorded");
    let (one, two) = (trace_cost(1), trace_cost(2));
    println!(
        "   1 thread: {} per event; 2 threads: {} per event overall (speed-up {:.2}x)",
        ns(one),
        ns(two),
        one / two
    );
}
