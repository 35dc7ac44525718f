//! What a stress iteration costs: the model's own work, and the harness around it.
//!
//! For every `clean` variant of the catalog (the long-running `mixed` aside: it runs for a
//! duration, not per iteration), without race-window injection, with 2 actor threads:
//!
//! - `harness/<scenario>/<variant>/model`: the scenario's own work — its world, setup, the
//!   same actor bodies run back to back on the bench thread (`Harness::Inline`), its
//!   quiescent checks — with no thread, channel or watchdog at all;
//! - `.../crew`: whole iterations through the stress runner (`stress::run`, `Budget::Iterations`)
//!   on long-lived threads (`HarnessKind::Crew`, what `mmlab run` uses);
//! - `.../spawn`: the same with a new scenario thread and new actor threads per iteration
//!   (`HarnessKind::Spawn`, the harness before the crew).
//!
//! Every figure is per iteration, with iterations/s as criterion's throughput; crew ÷ model is
//! the harness's overhead, spawn ÷ crew what the crew saves. The three run the same seeds
//! (`iteration_seed`, run seed 1). Time is wall-clock: the harness's cost is mostly threads
//! waking each other, which CPU time would not count.
//!
//! Run: `cargo bench -p mmlab-benches --bench harness -- --warm-up-time 1 --measurement-time 3`
//! (add a filter such as `ttu-sync/fixed` for one variant). The figures are in
//! docs/PERFORMANCE.md ("Stress harness").

#[cfg(not(mmlab_loom))]
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
#[cfg(not(mmlab_loom))]
use mmlab_engine::actor::{Env, Harness};
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::catalog;
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::scenario::{Expect, Size};
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::stress::config::HarnessKind;
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::stress::seed::iteration_seed;
#[cfg(not(mmlab_loom))]
use mmlab_scenarios::stress::{Budget, Pair, Quiet, RunConfig, run};
#[cfg(not(mmlab_loom))]
use std::time::{Duration, Instant};

/// The run seed every figure uses.
#[cfg(not(mmlab_loom))]
const SEED: u64 = 1;

#[cfg(not(mmlab_loom))]
fn clean_pairs() -> Vec<Pair> {
    catalog::all()
        .into_iter()
        .filter(|s| !s.long_running())
        .flat_map(|s| {
            s.variants()
                .into_iter()
                .filter(|v| v.expected == Expect::Clean)
                .map(move |v| Pair {
                    scenario: s,
                    variant: v,
                })
        })
        .collect()
}

/// `iters` iterations of `pair`'s bodies back to back on this thread: the model's own work.
#[cfg(not(mmlab_loom))]
fn model(pair: &Pair, iters: u64) -> Duration {
    let started = Instant::now();
    for i in 0..iters {
        let mut env = Env::new(iteration_seed(
            SEED,
            pair.scenario.name(),
            pair.variant.name,
            i,
        ));
        env.harness = Harness::Inline;
        let outcome = env.play(|| pair.scenario.run_variant(pair.variant, Size::Stress, &env));
        assert!(
            outcome.violations.is_empty(),
            "{}/{} iteration {i}: {:?}",
            pair.scenario.name(),
            pair.variant.name,
            outcome.violations
        );
    }
    started.elapsed()
}

/// `iters` iterations of `pair` through the stress runner on `harness`.
#[cfg(not(mmlab_loom))]
fn runner(pair: &Pair, harness: HarnessKind, iters: u64) -> Duration {
    let mut cfg = RunConfig::new(SEED);
    cfg.budget = Budget::Iterations(iters);
    cfg.inject = false;
    cfg.threads = 2;
    cfg.harness = harness;
    let started = Instant::now();
    let report = run(std::slice::from_ref(pair), &cfg, &mut Quiet).expect("a valid run");
    let elapsed = started.elapsed();
    assert!(report.all_ok(), "{:?}", report.results);
    elapsed
}

#[cfg(not(mmlab_loom))]
fn harness(c: &mut Criterion) {
    let mut g = c.benchmark_group("harness");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    for pair in clean_pairs() {
        let name = format!("{}/{}", pair.scenario.name(), pair.variant.name);
        g.bench_function(BenchmarkId::new(name.clone(), "model"), |b| {
            b.iter_custom(|iters| model(&pair, iters));
        });
        g.bench_function(BenchmarkId::new(name.clone(), "crew"), |b| {
            b.iter_custom(|iters| runner(&pair, HarnessKind::Crew, iters));
        });
        g.bench_function(BenchmarkId::new(name, "spawn"), |b| {
            b.iter_custom(|iters| runner(&pair, HarnessKind::Spawn, iters));
        });
    }
    g.finish();
}

#[cfg(not(mmlab_loom))]
criterion_group!(benches, harness);
#[cfg(not(mmlab_loom))]
criterion_main!(benches);

/// The stress runner is compiled out under `--cfg mmlab_loom`: nothing to run there.
#[cfg(mmlab_loom)]
fn main() {}
