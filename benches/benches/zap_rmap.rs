//! What does each generation of `zap_pte_range`'s rmap removal cost a munmap of dirty shared
//! file pages? (5df397dec7c4; the shape of will-it-scale's `page_fault3`, whose every munmap
//! zaps dirty shared-file PTEs.)
//!
//! One process maps a shared file of P pages, write-faults and stores to every page (so every
//! PTE is dirty: each PTE table's zap forces a TLB flush under its PTL), then munmaps it. Only
//! the munmap is timed; the mmap and the faults are set up again before each one. Compared, in
//! one run, under each generation's `ZapOps` (`kernel.zap`):
//!
//! - `immediate` (≤6.1): `page_remove_rmap` right after the PTE is cleared;
//! - `delayed-dirty-file` (6.2+, 5df397dec7c4): dirty file pages' rmaps removed by
//!   `tlb_flush_rmaps` after the TLB flush, still under the PTL;
//! - `batch-all` (Ryan Roberts' 2023 RFC "mm/mmu_gather: generalize mmu_gather rmap removal
//!   mechanism"): every page's rmap removed in one batch per table;
//! - `after-ptl-release` (deliberately wrong): the delayed rmaps removed after the PTL is
//!   dropped — measured only to show that the unsafe order buys nothing.
//!
//! ```text
//! cargo bench -p mmlab-benches --bench zap_rmap -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use mmlab_benches::{
    assert_clean, bench_world, interleaved, median, ns, quiet_instrumentation, report_svg,
};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::access::store;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munmap::munmap;
use mmlab_engine::ops::zap::ZapOps;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pages mapped, dirtied and unmapped per round (8 PTE tables of 8).
const PAGES: u64 = 64;
/// A generation's name in the report, and its zap table.
type Generation = (&'static str, fn() -> ZapOps);

/// Each generation's zap table (`ZapOps` constructors), by the name the report uses.
const POLICIES: [Generation; 4] = [
    ("immediate", ZapOps::v6_1),
    ("delayed-dirty-file", ZapOps::default),
    ("batch-all", ZapOps::rfc_batch_all),
    ("after-ptl-release", ZapOps::rmaps_after_unlock),
];

fn world(zap: ZapOps) -> Arc<World> {
    let mut cfg = WorldConfig::stress(1);
    cfg.files = vec![(PAGES as usize, false)];
    bench_world(
        cfg,
        Kernel {
            zap,
            ..Kernel::default()
        },
    )
}

/// Map the file shared, store to every page (write fault + dirty PTE), then time the munmap.
fn round(w: &World, mm: mmlab_engine::mm::MmId, value: u64) -> Duration {
    let kind = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    };
    let vma = mmap(w, mm, 0, PAGES, kind).expect("mmap");
    for va in 0..PAGES {
        store(w, 0, mm, va, value).expect("store");
    }
    let start = Instant::now();
    munmap(w, mm, vma).expect("munmap");
    start.elapsed()
}

/// Paired rounds for the printed ratios (see `mmlab_benches::interleaved`).
const PAIRED_ROUNDS: usize = 3000;

fn bench(c: &mut Criterion) {
    quiet_instrumentation();
    let mut group = c.benchmark_group("zap_rmap");
    for (name, policy) in POLICIES {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let w = world(policy());
                let mm = mm_alloc(&w).expect("mm");
                let total = (0..iters).map(|i| round(&w, mm, i)).sum();
                assert_clean(&w, name);
                total
            })
        });
    }
    group.finish();
    if !mmlab_benches::whole_run() {
        return;
    }

    let worlds: Vec<_> = POLICIES
        .iter()
        .map(|&(_, p)| {
            let w = world(p());
            let mm = mm_alloc(&w).expect("mm");
            (w, mm)
        })
        .collect();
    let times = interleaved(POLICIES.len(), PAIRED_ROUNDS, |v| {
        round(&worlds[v].0, worlds[v].1, v as u64)
    });
    for ((name, _), (w, _)) in POLICIES.iter().zip(&worlds) {
        assert_clean(w, name);
    }
    let base = median(&times[0]);
    println!(
        "\nzap_rmap: munmap of {PAGES} dirty shared-file pages, {PAIRED_ROUNDS} paired rounds \
         (variants alternating), median per munmap:"
    );
    for ((name, _), t) in POLICIES.iter().zip(&times) {
        let m = median(t);
        println!(
            "  {name:<20} {:>10}  {:+6.1}% vs immediate  ({:.1} ns per page)",
            ns(m),
            (m / base - 1.0) * 100.0,
            m / PAGES as f64
        );
    }
    let series = POLICIES
        .iter()
        .zip(&times)
        .map(|((name, _), t)| (*name, &t[..]))
        .collect();
    report_svg(
        "zap_rmap.svg",
        "zap_rmap: munmap of 64 dirty shared-file pages, paired rounds",
        &[(format!("rmap removal, {PAIRED_ROUNDS} rounds each"), series)],
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
