//! What a lock costs: uncontended lock + unlock of each mmlab lock kind, with the
//! instrumentation off, with lock_stat on, and with lockdep on, beside parking_lot's and std's
//! locks in the same run so that the figures can be read as ratios to `parking_lot::Mutex`.
//!
//! Targets (docs/PERFORMANCE.md): instrumentation off within 1.5x of `parking_lot::Mutex`,
//! lock_stat on within 2.5x, lockdep on within 5x.
//!
//! ```text
//! cargo bench -p mmlab-benches --bench locks -- --warm-up-time 1 --measurement-time 2
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use mmlab_engine::sync::{AtomicU32, LockClass, PageLock, RwSem, SpinLock, switches};
use std::hint::black_box;

/// Which instrumentation is on for a measurement.
#[derive(Debug, Clone, Copy)]
enum Instrumentation {
    Off,
    Stats,
    Lockdep,
}

impl Instrumentation {
    const ALL: [Instrumentation; 3] = [Self::Off, Self::Stats, Self::Lockdep];

    fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Stats => "stats",
            Self::Lockdep => "lockdep",
        }
    }

    fn install(self) {
        switches::set_stats(matches!(self, Self::Stats));
        switches::set_lockdep(matches!(self, Self::Lockdep));
    }
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("locks/uncontended");

    let pl_mutex = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot::Mutex", |b| {
        b.iter(|| *black_box(&pl_mutex).lock() += 1)
    });
    let pl_rwlock = parking_lot::RwLock::new(0u64);
    g.bench_function("parking_lot::RwLock/read", |b| {
        b.iter(|| black_box(*black_box(&pl_rwlock).read()))
    });
    g.bench_function("parking_lot::RwLock/write", |b| {
        b.iter(|| *black_box(&pl_rwlock).write() += 1)
    });
    let std_mutex = std::sync::Mutex::new(0u64);
    g.bench_function("std::sync::Mutex", |b| {
        b.iter(|| *black_box(&std_mutex).lock().unwrap() += 1)
    });

    let spin = SpinLock::new(LockClass::Ptl, 0u64);
    let rwsem = RwSem::new(LockClass::IMmapRwsem, 0u64);
    let flags = AtomicU32::new(0);
    for mode in Instrumentation::ALL {
        mode.install();
        let m = mode.name();
        g.bench_function(format!("SpinLock/{m}"), |b| {
            b.iter(|| *black_box(&spin).lock() += 1)
        });
        g.bench_function(format!("RwSem/read/{m}"), |b| {
            b.iter(|| black_box(*black_box(&rwsem).read()))
        });
        g.bench_function(format!("RwSem/write/{m}"), |b| {
            b.iter(|| *black_box(&rwsem).write() += 1)
        });
        g.bench_function(format!("PageLock/{m}"), |b| {
            b.iter(|| {
                PageLock::new(black_box(&flags), LockClass::PageLock)
                    .lock()
                    .unlock()
            })
        });
    }
    g.finish();
    // Back to the defaults, for anything that runs after.
    switches::set_stats(true);
    switches::set_lockdep(true);
}

criterion_group!(benches, uncontended);
criterion_main!(benches);
