//! Does the old munlock convoy exits on `i_mmap_rwsem`, and does mlock_count remove it?
//!
//! K processes map one shared file of P pages and mlock it; then all K exit at once, one
//! thread each (Hugh Dickins' "mm/munlock: delete page_mlock() and all its works", v5.18;
//! docs/MODEL.md §8). Under the old scheme (`page-mlock`,
//! ≤5.17) every exit first munlocks each page — page lock, then, while others still map it,
//! `page_mlock`'s rmap walk under `i_mmap_rwsem` read — and then needs `i_mmap_rwsem` write in
//! `unlink_file_vma`; under the new one (`mlock-count`, 5.18+) exit only zaps. Timed: from the
//! first exit starting to the last finishing. Setup (world, mm_alloc, mmap, mlock with its
//! faults) is not timed. lock_stat is reset after the setup and `i_mmap_rwsem`'s wait total is
//! read after the exits; the means per round are printed after each benchmark, and a summary
//! of ratios per K at the end.
//!
//! ```text
//! cargo bench -p mmlab-benches --bench munlock_exit -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mmlab_benches::{
    Panel, Tally, assert_clean, bench_world, interleaved, median, ns, quiet_instrumentation,
    report_svg, time_concurrently,
};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{exit, munlock};
use mmlab_engine::sync::{LockClass, lock_stat, switches};
use std::sync::Arc;
use std::time::Duration;

/// Pages of the shared file each process maps and mlocks (`MMLAB_BENCH_PAGES` overrides).
const PAGES: u64 = 32;

fn pages() -> u64 {
    std::env::var("MMLAB_BENCH_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&p| p > 0)
        .unwrap_or(PAGES)
}
/// Processes exiting together.
const KS: [usize; 5] = [1, 2, 4, 8, 16];
const SCHEMES: [(&str, MlockScheme); 2] = [
    ("page-mlock", MlockScheme::PageMlock),
    ("mlock-count", MlockScheme::MlockCount),
];
const NAMES: [&str; 16] = [
    "exit0", "exit1", "exit2", "exit3", "exit4", "exit5", "exit6", "exit7", "exit8", "exit9",
    "exit10", "exit11", "exit12", "exit13", "exit14", "exit15",
];

/// A world with `k` processes that each map and mlock the whole file; returns their mm ids.
fn setup(k: usize, mlock: MlockScheme) -> (Arc<World>, Vec<mmlab_engine::mm::MmId>) {
    let pages = pages();
    let mut cfg = WorldConfig::stress(k);
    cfg.files = vec![(pages as usize, false)];
    cfg.mms = k;
    cfg.vmas = k;
    cfg.pmds_per_mm = cfg
        .pmds_per_mm
        .max((pages as usize).div_ceil(cfg.ptes_per_table));
    cfg.tables = k * (pages as usize).div_ceil(cfg.ptes_per_table);
    cfg.pages = pages as usize * 2;
    let mut kernel = Kernel::default();
    kernel.mlock.scheme = mlock;
    let w = bench_world(cfg, kernel);
    let file = w.file(0);
    let mms = (0..k)
        .map(|_| {
            let mm = mm_alloc(&w).expect("mm");
            let kind = MapKind::File {
                file,
                pgoff: 0,
                shared: true,
            };
            let vma = mmap(&w, mm, 0, pages, kind).expect("mmap");
            munlock::mlock(&w, mm, vma).expect("mlock");
            mm
        })
        .collect();
    (w, mms)
}

/// What one round measured.
struct Round {
    /// From the first exit starting to the last finishing.
    time: Duration,
    /// `i_mmap_rwsem`: wait total, contentions.
    wait_ns: u64,
    contentions: u64,
    /// The part of the wait spent by readers in the rmap walk (`page_mlock`); the rest is
    /// writers (`unlink_file_vma`).
    read_wait_ns: u64,
}

/// One round: set up, reset lock_stat, exit all K at once.
fn round(k: usize, mlock: MlockScheme) -> Round {
    let (w, mms) = setup(k, mlock);
    let bodies = mms
        .into_iter()
        .enumerate()
        .map(|(i, mm)| {
            let w = w.clone();
            let body: Box<dyn FnOnce() + Send> = Box::new(move || exit::exit_mmap(&w, mm));
            (NAMES[i], body)
        })
        .collect();
    lock_stat::reset();
    let t = time_concurrently(&w, bodies);
    let s = lock_stat::class_snapshot(LockClass::IMmapRwsem);
    let read_wait_ns = lock_stat::sites_snapshot()
        .iter()
        .filter(|site| site.class == LockClass::IMmapRwsem && site.site.contains("rmap_walk"))
        .map(|site| site.wait_total_ns)
        .sum();
    assert_clean(&w, "munlock_exit");
    Round {
        time: t,
        wait_ns: s.wait_total_ns,
        contentions: s.contentions,
        read_wait_ns,
    }
}

/// Paired rounds per K for the printed ratios (see `mmlab_benches::interleaved`).
const PAIRED_ROUNDS: usize = 1000;

fn bench(c: &mut Criterion) {
    quiet_instrumentation();
    switches::set_stats(true);
    let mut group = c.benchmark_group("munlock_exit");
    for k in KS {
        for (name, scheme) in SCHEMES {
            group.bench_with_input(BenchmarkId::new(name, k), &k, |b, &k| {
                b.iter_custom(|iters| (0..iters).map(|_| round(k, scheme).time).sum())
            });
        }
    }
    group.finish();
    if !mmlab_benches::whole_run() {
        return;
    }

    println!(
        "\nmunlock_exit: {PAIRED_ROUNDS} paired rounds per K (old page-mlock and new \
         mlock-count alternating), P = {} pages",
        pages()
    );
    println!(
        "{:>3}  {:>10}  {:>10}  {:>10}  {:>26}  {:>20}  {:>10}",
        "K",
        "old exit",
        "new exit",
        "time ratio",
        "old i_mmap wait (readers)",
        "new i_mmap wait",
        "wait ratio"
    );
    let mut all_times = Vec::new();
    for k in KS {
        let mut waits = [Tally::default(); 2];
        let mut read_wait = [0.0f64; 2];
        let times = interleaved(2, PAIRED_ROUNDS, |v| {
            let r = round(k, SCHEMES[v].1);
            waits[v].add(r.time, r.wait_ns, r.contentions);
            read_wait[v] += r.read_wait_ns as f64;
            r.time
        });
        let (old, new) = (median(&times[0]), median(&times[1]));
        let (ow, nw) = (waits[0].wait(), waits[1].wait());
        let wait_ratio = if nw > 0.0 {
            format!("{:.0}x", ow / nw)
        } else if ow > 0.0 {
            "inf (new 0)".to_string()
        } else {
            "-".to_string()
        };
        println!(
            "{k:>3}  {:>10}  {:>10}  {:>9.2}x  {:>26}  {:>20}  {:>10}",
            ns(old),
            ns(new),
            old / new,
            format!(
                "{} ({}) {:.2}/round",
                ns(ow),
                ns(read_wait[0] / PAIRED_ROUNDS as f64),
                waits[0].contended()
            ),
            format!("{} {:.2}/round", ns(nw), waits[1].contended()),
            wait_ratio
        );
        all_times.push((k, times));
    }
    let panels: Vec<Panel<'_>> = all_times
        .iter()
        .map(|(k, t)| {
            (
                format!("K = {k}"),
                vec![("page-mlock", &t[0][..]), ("mlock-count", &t[1][..])],
            )
        })
        .collect();
    report_svg(
        "munlock_exit.svg",
        &format!(
            "munlock_exit: K exits of a {}-page mlocked file, paired rounds",
            pages()
        ),
        &panels,
    );
    println!(
        "(exit: median time from the first exit starting to the last finishing; i_mmap wait: \
         mean total wait on &mapping->i_mmap_rwsem per round, of it by page_mlock's readers, \
         and contentions per round)"
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
