//! Real-thread tests: several actors fault, store, load, MADV_DONTNEED and munmap over shared
//! files and private memory; every oracle holds and lockdep reports nothing.
#![cfg(not(mmlab_loom))]

use mmlab_engine::actor::Env;
use mmlab_engine::check::quiescent;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{Ptlocks, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, exit, munmap};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn churn(cfg: WorldConfig, dur: Duration) -> Vec<mmlab_engine::check::Violation> {
    let w = Arc::new(World::new(cfg, Kernel::default()));
    let file = w.file(0);
    let shared = mm_alloc(&w).unwrap();
    mmap(
        &w,
        shared,
        0,
        32,
        MapKind::File {
            file,
            pgoff: 0,
            shared: true,
        },
    )
    .unwrap();
    mmap(&w, shared, 32, 32, MapKind::Anon).unwrap();
    let env = Env::new(1);
    let mut actors: Vec<mmlab_engine::actor::Actor> = Vec::new();
    for cpu in 0..3usize {
        let w = w.clone();
        actors.push((
            ["alice", "bob", "carol"][cpu],
            Box::new(move || {
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < dur {
                    n += 1;
                    let va = (n * 7 + cpu as u64 * 13) % 64;
                    match n % 11 {
                        0 => {
                            let _ = munmap::madvise_dontneed(&w, shared, va, va + 3);
                        }
                        1 => {
                            // A private mm of our own: map, touch, unmap or exit.
                            let mm = mm_alloc(&w).unwrap();
                            let v = mmap(
                                &w,
                                mm,
                                4,
                                6,
                                MapKind::File {
                                    file,
                                    pgoff: 8,
                                    shared: n.is_multiple_of(2),
                                },
                            )
                            .unwrap();
                            mmap(&w, mm, 16, 6, MapKind::Anon).unwrap();
                            for a in 4..10 {
                                access::store(&w, cpu, mm, a, n).unwrap();
                            }
                            access::store(&w, cpu, mm, 17, n).unwrap();
                            if n.is_multiple_of(3) {
                                munmap::munmap(&w, mm, v).unwrap();
                            }
                            exit::exit_mmap(&w, mm);
                        }
                        k if k < 6 => {
                            access::store(&w, cpu, shared, va, n).unwrap();
                        }
                        _ => {
                            access::load(&w, cpu, shared, va).unwrap();
                        }
                    }
                }
            }),
        ));
    }
    env.play(|| {
        env.run(actors);
        quiescent::check_world(&w);
    });
    env.sink.take()
}

#[test]
fn faults_stores_zaps_and_exits_keep_every_oracle_under_the_default_kernel() {
    let v = churn(WorldConfig::stress(3), Duration::from_secs(2));
    assert!(
        v.is_empty(),
        "{}",
        v.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_same_churn_holds_with_one_page_table_lock_per_mm() {
    let v = churn(
        WorldConfig {
            ptlocks: Ptlocks::MmPageTableLock,
            ..WorldConfig::stress(3)
        },
        Duration::from_secs(1),
    );
    assert!(
        v.is_empty(),
        "{}",
        v.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
