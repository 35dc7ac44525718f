//! SpinLock on real threads: mutual exclusion under contention, and trylock never blocks.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_until};
use mmlab_engine::check::Sink;
use mmlab_engine::sync::{LockClass, SpinLock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

#[test]
fn spinlock_excludes_under_contention() {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 20_000;
    let lock = Arc::new(SpinLock::new(LockClass::Ptl, 0u64));
    // A second witness besides the count: an exclusive lock never lets two threads inside.
    let inside = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS));
    let sink = Sink::new();
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (lock, inside, start) = (lock.clone(), inside.clone(), start.clone());
            spawn(&format!("spin-excl-{i}"), &sink, move || {
                start.wait();
                for _ in 0..ROUNDS {
                    let mut count = lock.lock();
                    assert!(!inside.swap(true, Ordering::Relaxed), "two holders at once");
                    // Read, pause, write: a lost update if anyone else gets in between.
                    let seen = *count;
                    std::hint::spin_loop();
                    *count = seen + 1;
                    inside.store(false, Ordering::Relaxed);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(join);
    assert_eq!(*lock.lock(), THREADS as u64 * ROUNDS);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn spinlock_try_lock_fails_while_held_and_never_blocks() {
    let lock = Arc::new(SpinLock::new(LockClass::Ptl, ()));
    let sink = Sink::new();
    sink.install();
    let held = lock.lock();
    let done = Arc::new(AtomicBool::new(false));
    let t = {
        let (lock, done) = (lock.clone(), done.clone());
        spawn("spin-try", &sink, move || {
            let got = lock.try_lock().is_some();
            done.store(true, Ordering::SeqCst);
            got
        })
    };
    // If try_lock blocked, this wait would be the hang that fails the test.
    wait_until("try_lock to return while the lock is held", || {
        done.load(Ordering::SeqCst)
    });
    assert!(!join(t), "try_lock succeeded on a held spinlock");
    drop(held);
    assert!(
        lock.try_lock().is_some(),
        "try_lock failed on a free spinlock"
    );
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
