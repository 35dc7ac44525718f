//! PageLock (PG_locked) on real threads: exclusion, waiters wake on unlock, trylock never
//! blocks, and the misuse the kernel would BUG on is reported with its call site.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_blocked, wait_until, with_sink};
use mmlab_engine::check::{Oracle, Sink, Violation};
use mmlab_engine::sync::page_lock::{PG_LOCKED, PG_WAITERS};
use mmlab_engine::sync::{AtomicU32, LockClass, PageLock};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

fn page_lock(flags: &AtomicU32) -> PageLock<'_> {
    PageLock::new(flags, LockClass::PageLock)
}

#[test]
fn page_lock_excludes_under_contention() {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 5_000;
    let flags = Arc::new(AtomicU32::new(0));
    // Incremented with a separate load and store: only exclusion keeps updates from being lost.
    let count = Arc::new(AtomicU64::new(0));
    let inside = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS));
    let sink = Sink::new();
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (flags, count, inside, start) =
                (flags.clone(), count.clone(), inside.clone(), start.clone());
            spawn(&format!("page-excl-{i}"), &sink, move || {
                start.wait();
                for _ in 0..ROUNDS {
                    let page = page_lock(&flags).lock();
                    assert!(!inside.swap(true, Relaxed), "two holders at once");
                    let seen = count.load(Relaxed);
                    std::hint::spin_loop();
                    count.store(seen + 1, Relaxed);
                    inside.store(false, Relaxed);
                    page.unlock();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(join);
    assert_eq!(count.load(Relaxed), THREADS as u64 * ROUNDS);
    assert_eq!(flags.load(SeqCst), 0, "PG_locked or PG_waiters left behind");
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn page_lock_waiters_wake_on_unlock() {
    let flags = Arc::new(AtomicU32::new(0));
    let sink = Sink::new();
    sink.install();
    let held = page_lock(&flags).lock();

    // A folio_wait_locked waiter first: it alone can have set PG_waiters, so once the bit is
    // set it is asleep on the page's wait queue (or about to re-check, which is as good).
    let waiter = {
        let flags = flags.clone();
        spawn("page-wake-waiter", &sink, move || {
            page_lock(&flags).wait_unlocked();
        })
    };
    wait_until("the waiter to set PG_waiters", || {
        flags.load(SeqCst) & PG_WAITERS != 0
    });
    let locker = {
        let flags = flags.clone();
        spawn("page-wake-locker", &sink, move || {
            page_lock(&flags).lock().unlock();
        })
    };
    wait_blocked("page-wake-locker", LockClass::PageLock);
    assert!(
        !waiter.is_finished(),
        "wait_unlocked returned on a locked page"
    );

    held.unlock();
    join(waiter);
    join(locker);
    // PG_waiters may outlive its waiter (one that set it just as the page was unlocked), as
    // in the kernel, where the next unlock clears it; PG_locked may not.
    assert_eq!(flags.load(SeqCst) & PG_LOCKED, 0, "PG_locked left behind");
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn page_wait_unlocked_does_not_take_the_lock() {
    let flags = AtomicU32::new(0);
    let v = with_sink(|| {
        page_lock(&flags).wait_unlocked();
        assert_eq!(flags.load(SeqCst), 0);
        assert!(page_lock(&flags).try_lock().is_some());
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn page_trylock_fails_while_locked_and_never_blocks() {
    let flags = Arc::new(AtomicU32::new(0));
    let sink = Sink::new();
    sink.install();
    let held = page_lock(&flags).lock();
    let t = {
        let flags = flags.clone();
        spawn("page-try", &sink, move || {
            page_lock(&flags).try_lock().is_some()
        })
    };
    // `join` is bounded: a trylock that blocked would fail the test there.
    assert!(!join(t), "trylock succeeded on a locked page");
    held.unlock();
    assert!(page_lock(&flags).try_lock().is_some());
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn page_lock_leaves_the_other_page_flags_alone() {
    const PG_DIRTY: u32 = 1 << 4;
    let flags = AtomicU32::new(PG_DIRTY);
    let v = with_sink(|| {
        let page = page_lock(&flags).lock();
        assert_eq!(flags.load(SeqCst), PG_DIRTY | PG_LOCKED);
        page.unlock();
        assert_eq!(flags.load(SeqCst), PG_DIRTY);
    });
    assert!(v.is_empty(), "{v:?}");
}

/// `v` holds exactly one `BUG`, naming the call sites at `lines` of this file, in order.
#[track_caller]
fn assert_bug_at(v: &[Violation], lines: &[u32]) {
    let bug: Vec<_> = v.iter().filter(|v| v.oracle == Oracle::Bug).collect();
    assert_eq!(bug.len(), 1, "{v:?}");
    assert!(
        bug[0].message.contains("VM_BUG_ON_FOLIO"),
        "{}",
        bug[0].message
    );
    let sites: Vec<_> = bug[0].sites.iter().map(|s| (s.file(), s.line())).collect();
    let want: Vec<_> = lines.iter().map(|&l| (file!(), l)).collect();
    assert_eq!(sites, want);
}

#[test]
fn unlock_of_an_unlocked_page_is_a_bug_at_its_call_site() {
    let flags = AtomicU32::new(0);
    let mut unlock = 0;
    let v = with_sink(|| {
        unlock = line!() + 1;
        page_lock(&flags).unlock_unowned();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert_bug_at(&v, &[unlock]);
    assert_eq!(flags.load(SeqCst), 0);
}

#[test]
fn double_unlock_is_a_bug_at_the_second_call_site() {
    let flags = AtomicU32::new(0);
    let mut second = 0;
    let v = with_sink(|| {
        let lock = page_lock(&flags);
        lock.lock().into_raw();
        lock.unlock_unowned();
        assert!(!lock.is_locked());
        second = line!() + 1;
        lock.unlock_unowned();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert_bug_at(&v, &[second]);
    assert_eq!(flags.load(SeqCst), 0);
}

#[test]
fn unlock_behind_the_owners_back_is_a_bug_when_the_owner_unlocks() {
    let flags = AtomicU32::new(0);
    let (mut locked, mut unlock) = (0, 0);
    let v = with_sink(|| {
        let lock = page_lock(&flags);
        locked = line!() + 1;
        let guard = lock.lock();
        lock.unlock_unowned();
        unlock = line!() + 1;
        guard.unlock();
    });
    assert_bug_at(&v, &[unlock, locked]);
    assert_eq!(flags.load(SeqCst), 0);
}

/// A guard's drop has no call site of its own to report (drop glue hides the caller), so the
/// report names where the guard was taken rather than a line of the standard library.
#[test]
fn dropping_the_guard_of_a_page_unlocked_behind_its_back_is_a_bug_at_its_lock_site() {
    let flags = AtomicU32::new(0);
    let mut locked = 0;
    let v = with_sink(|| {
        let lock = page_lock(&flags);
        locked = line!() + 1;
        let guard = lock.lock();
        lock.unlock_unowned();
        drop(guard);
    });
    assert_bug_at(&v, &[locked]);
    assert_eq!(flags.load(SeqCst), 0);
}
