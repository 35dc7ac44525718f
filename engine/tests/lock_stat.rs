//! lock_stat: a forced contention is counted, with its wait, for the contended class only.
//!
//! lock_stat is process-wide and tests run in parallel, so each test uses classes of its own
//! (`LockClass::Named`, unique names) and never resets the counters.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_blocked};
use mmlab_engine::check::Sink;
use mmlab_engine::sync::lock_stat::{self, ClassSnapshot};
use mmlab_engine::sync::{AtomicU32, LockClass, PageLock, RwSem, SpinLock};
use std::sync::Arc;

/// `hot` was taken twice, once after waiting (at `waited_at` of this file); `cold` once,
/// without waiting.
#[track_caller]
fn assert_contended_once(hot: LockClass, cold: LockClass, waited_at: u32) {
    let h = lock_stat::class_snapshot(hot);
    assert_eq!(h.acquisitions, 2, "{h:?}");
    assert_eq!(h.contentions, 1, "{h:?}");
    assert!(h.wait_total_ns > 0, "{h:?}");
    assert_eq!(h.wait_max_ns, h.wait_total_ns, "{h:?}");
    assert_eq!(h.wait_hist.iter().sum::<u64>(), 1, "{h:?}");
    assert!(
        h.hold_total_ns > 0,
        "the holder held across the wait: {h:?}"
    );
    assert!(
        h.hold_max_ns > 0 && h.hold_max_ns <= h.hold_total_ns,
        "{h:?}"
    );

    let c = lock_stat::class_snapshot(cold);
    let uncontended = ClassSnapshot {
        class: cold,
        acquisitions: 1,
        contentions: 0,
        wait_total_ns: 0,
        wait_max_ns: 0,
        hold_total_ns: c.hold_total_ns,
        hold_max_ns: c.hold_max_ns,
        wait_hist: vec![0; lock_stat::HIST_BUCKETS],
    };
    assert_eq!(c, uncontended);

    let points: Vec<_> = lock_stat::sites_snapshot()
        .into_iter()
        .filter(|s| s.class == hot || s.class == cold)
        .collect();
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(points[0].class, hot);
    assert_eq!(points[0].site, format!("{}:{waited_at}", file!()));
    assert_eq!(points[0].contentions, 1);
    assert_eq!(points[0].wait_total_ns, h.wait_total_ns);

    let listed: Vec<_> = lock_stat::snapshot().into_iter().map(|s| s.class).collect();
    assert!(
        listed.contains(&hot) && listed.contains(&cold),
        "{listed:?}"
    );
}

#[test]
fn forced_spinlock_contention_is_counted_for_its_class_only() {
    let hot = LockClass::Named("lock_stat.spinlock.hot");
    let cold = LockClass::Named("lock_stat.spinlock.cold");
    let hot_lock = Arc::new(SpinLock::new(hot, ()));
    let cold_lock = SpinLock::new(cold, ());
    let sink = Sink::new();
    sink.install();

    let held = hot_lock.lock();
    cold_lock.lock().unlock();
    let waiter = {
        let hot_lock = hot_lock.clone();
        spawn("lock-stat-spin-waiter", &sink, move || {
            let at = line!() + 1;
            hot_lock.lock().unlock();
            at
        })
    };
    wait_blocked("lock-stat-spin-waiter", hot);
    held.unlock();
    let waited_at = join(waiter);

    assert_contended_once(hot, cold, waited_at);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn forced_rwsem_contention_is_counted_for_its_class_only() {
    let hot = LockClass::Named("lock_stat.rwsem.hot");
    let cold = LockClass::Named("lock_stat.rwsem.cold");
    let hot_sem = Arc::new(RwSem::new(hot, ()));
    let cold_sem = RwSem::new(cold, ());
    let sink = Sink::new();
    sink.install();

    let held = hot_sem.read();
    cold_sem.write().unlock();
    let waiter = {
        let hot_sem = hot_sem.clone();
        spawn("lock-stat-rwsem-waiter", &sink, move || {
            let at = line!() + 1;
            hot_sem.write().unlock();
            at
        })
    };
    wait_blocked("lock-stat-rwsem-waiter", hot);
    held.unlock();
    let waited_at = join(waiter);

    assert_contended_once(hot, cold, waited_at);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn forced_page_lock_contention_is_counted_for_its_class_only() {
    let hot = LockClass::Named("lock_stat.page_lock.hot");
    let cold = LockClass::Named("lock_stat.page_lock.cold");
    let hot_flags = Arc::new(AtomicU32::new(0));
    let cold_flags = AtomicU32::new(0);
    let sink = Sink::new();
    sink.install();

    let held = PageLock::new(&hot_flags, hot).lock();
    PageLock::new(&cold_flags, cold).lock().unlock();
    let waiter = {
        let hot_flags = hot_flags.clone();
        spawn("lock-stat-page-waiter", &sink, move || {
            let at = line!() + 1;
            PageLock::new(&hot_flags, hot).lock().unlock();
            at
        })
    };
    wait_blocked("lock-stat-page-waiter", hot);
    held.unlock();
    let waited_at = join(waiter);

    assert_contended_once(hot, cold, waited_at);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
