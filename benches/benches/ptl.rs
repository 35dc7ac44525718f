//! What do split page-table locks buy threads that fault and zap in different page tables of
//! one mm? (`USE_SPLIT_PTE_PTLOCKS`; will-it-scale's threads mode is where
//! PTE-table contention appears, because the threads share one mm.)
//!
//! T threads (1 or 2) share one mm; thread t maps its own shared file at its own range of
//! RANGE pages (its own PTE tables) and, per round, stores to every page (write faults) and
//! then zaps the range with MADV_DONTNEED. With split PTLs each table has its own lock; with
//! `WorldConfig::ptlocks = Ptlocks::MmPageTableLock` every table is guarded by the one
//! `mm->page_table_lock`. Timed: all rounds of all threads, from the first thread starting to
//! the last finishing; the world and the mappings are set up untimed. The summary after the
//! criterion estimates pairs the two locks round by round, and one extra, untimed,
//! instrumented run per lock prints the page-table locks' lock_stat.
//!
//! ```text
//! cargo bench -p mmlab-benches --bench ptl -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mmlab_benches::{
    Body, Panel, assert_clean, bench_world, interleaved, median, ns, quiet_instrumentation,
    report_svg, time_concurrently,
};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Ptlocks, World, WorldConfig};
use mmlab_engine::ops::access::store;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munmap::madvise_dontneed;
use mmlab_engine::sync::{LockClass, lock_stat, switches};
use std::sync::Arc;
use std::time::Duration;

/// Pages per thread: 4 PTE tables of 8.
const RANGE: u64 = 32;
const THREADS: [usize; 2] = [1, 2];
const LOCKS: [(&str, bool); 2] = [("split-ptl", true), ("page-table-lock", false)];
const NAMES: [&str; 2] = ["thread0", "thread1"];

/// One mm, and one shared file mapped per thread at the thread's own range.
fn setup(threads: usize, split_ptl: bool) -> (Arc<World>, MmId) {
    let mut cfg = WorldConfig::stress(threads);
    cfg.files = vec![(RANGE as usize, false); threads];
    cfg.ptlocks = if split_ptl {
        Ptlocks::Split
    } else {
        Ptlocks::MmPageTableLock
    };
    let w = bench_world(cfg, Kernel::default());
    let mm = mm_alloc(&w).expect("mm");
    for t in 0..threads {
        let kind = MapKind::File {
            file: w.file(t),
            pgoff: 0,
            shared: true,
        };
        mmap(&w, mm, t as u64 * RANGE, RANGE, kind).expect("mmap");
    }
    (w, mm)
}

/// `rounds` rounds of (store to every page of its range, MADV_DONTNEED the range) per thread.
fn run(w: &Arc<World>, mm: MmId, threads: usize, rounds: u64) -> Duration {
    let bodies: Vec<Body> = (0..threads)
        .map(|t| {
            let w = w.clone();
            let body: Box<dyn FnOnce() + Send> = Box::new(move || {
                let start = t as u64 * RANGE;
                for r in 0..rounds {
                    for va in start..start + RANGE {
                        store(&w, t, mm, va, r).expect("store");
                    }
                    madvise_dontneed(&w, mm, start, start + RANGE).expect("madvise");
                }
            });
            (NAMES[t], body)
        })
        .collect();
    time_concurrently(w, bodies)
}

/// Rounds per thread in one paired measurement, and paired measurements, for the printed
/// ratios (see `mmlab_benches::interleaved`).
const PAIRED_ROUNDS_PER_RUN: u64 = 10;
const PAIRED_RUNS: usize = 200;

fn bench(c: &mut Criterion) {
    quiet_instrumentation();
    let mut group = c.benchmark_group("ptl");
    for threads in THREADS {
        // Work per iteration: every thread's round (RANGE faults and a zap of RANGE pages).
        group.throughput(Throughput::Elements(threads as u64 * RANGE));
        for (name, split) in LOCKS {
            group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
                b.iter_custom(|iters| {
                    let (w, mm) = setup(threads, split);
                    let t = run(&w, mm, threads, iters);
                    assert_clean(&w, name);
                    t
                })
            });
        }
    }
    group.finish();
    if !mmlab_benches::whole_run() {
        return;
    }

    println!(
        "\nptl: {PAIRED_RUNS} paired runs of {PAIRED_ROUNDS_PER_RUN} rounds per thread \
         (split and single lock alternating); median time per round of all threads:"
    );
    let mut all_times = Vec::new();
    for threads in THREADS {
        let worlds: Vec<_> = LOCKS
            .iter()
            .map(|&(_, split)| setup(threads, split))
            .collect();
        let times = interleaved(LOCKS.len(), PAIRED_RUNS, |v| {
            run(&worlds[v].0, worlds[v].1, threads, PAIRED_ROUNDS_PER_RUN)
        });
        let per_round: Vec<f64> = times
            .iter()
            .map(|t| median(t) / PAIRED_ROUNDS_PER_RUN as f64)
            .collect();
        // One instrumented run per lock, untimed: how much the page-table locks were fought over.
        let mut fought = Vec::new();
        for (i, &(_, split)) in LOCKS.iter().enumerate() {
            assert_clean(&worlds[i].0, LOCKS[i].0);
            let (w, mm) = setup(threads, split);
            switches::set_stats(true);
            lock_stat::reset();
            run(&w, mm, threads, 100);
            switches::set_stats(false);
            let class = if split {
                LockClass::Ptl
            } else {
                LockClass::PageTableLock
            };
            let s = lock_stat::class_snapshot(class);
            fought.push(format!(
                "{}: {} of {} acquisitions contended, {} waited",
                class.name(),
                s.contentions,
                s.acquisitions,
                ns(s.wait_total_ns as f64)
            ));
        }
        println!(
            "  T={threads}: split-ptl {:>10}  page-table-lock {:>10}  ratio {:.2}x",
            ns(per_round[0]),
            ns(per_round[1]),
            per_round[1] / per_round[0]
        );
        for f in fought {
            println!("       100 instrumented rounds, {f}");
        }
        let round_times: Vec<Vec<Duration>> = times
            .iter()
            .map(|t| {
                t.iter()
                    .map(|d| *d / PAIRED_ROUNDS_PER_RUN as u32)
                    .collect()
            })
            .collect();
        all_times.push((threads, round_times));
    }
    let panels: Vec<Panel<'_>> = all_times
        .iter()
        .map(|(threads, t)| {
            (
                format!("{threads} thread{}", if *threads == 1 { "" } else { "s" }),
                vec![("split-ptl", &t[0][..]), ("page-table-lock", &t[1][..])],
            )
        })
        .collect();
    report_svg(
        "ptl.svg",
        &format!(
            "ptl: fault + MADV_DONTNEED in one mm, {PAIRED_ROUNDS_PER_RUN} rounds per thread \
             per run, paired runs"
        ),
        &panels,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
