//! The lock kinds under loom: every interleaving of two (sometimes three) threads.
//!
//! What is proved, per kind: exclusion (an increment made of a separate load and store through
//! a loom atomic never loses an update under the lock), the rwsem's semantics (readers share, a
//! writer excludes, a waiting writer fails `try_read`, a downgrade keeps writers out), the page
//! lock's wait and wake (a waiter of `wait_unlocked` or `lock` proceeds after the unlock), and
//! that a trylock never blocks (it is called while the lock is held, and the holder then joins
//! it: a trylock that waited would never return, which loom reports).
//!
//! Under loom a waiter blocks until an unlock wakes it (engine/src/sync/wait.rs): a lost
//! wakeup leaves the waiter blocked, which loom reports as a deadlock, so every test here in
//! which a thread waits also checks that its wake comes. The real-thread tests in engine/tests
//! check parking_lot's parking.
//!
//! Bounds: none. Every model here is explored in every interleaving (the whole file takes a
//! fraction of a second).
#![cfg(mmlab_loom)]

use loom::model::Builder;
use mmlab_engine::check::{Sink, Violation};
use mmlab_engine::sync::{
    Arc, AtomicBool, AtomicU32, AtomicUsize, LockClass, Ordering::Relaxed, PageLock, RwSem,
    SpinLock, rcu::Rcu, thread,
};
use std::mem::ManuallyDrop;

/// Explore every interleaving of `f` (no preemption bound: these models are small enough, now
/// that a waiter blocks instead of polling, for the whole file to take well under a second).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = Builder::new();
    b.preemption_bound = None;
    b.check(f);
}

/// Run `f` on a new model thread that reports into `sink`.
fn spawn<T: 'static>(sink: &Sink, f: impl FnOnce() -> T + 'static) -> thread::JoinHandle<T> {
    let sink = sink.clone();
    thread::spawn(move || {
        sink.install();
        f()
    })
}

/// A sink for the model's main thread; what lockdep or a `BUG` reported must be nothing.
fn main_sink() -> Sink {
    let sink = Sink::new();
    sink.install();
    sink
}

#[track_caller]
fn assert_clean(sink: &Sink) {
    let v: Vec<Violation> = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

/// `count += 1` as a separate load and store: only exclusion keeps it from losing an update.
fn increment(count: &AtomicUsize) {
    let seen = count.load(Relaxed);
    count.store(seen + 1, Relaxed);
}

#[test]
fn spinlock_never_loses_an_update() {
    model(|| {
        let sink = main_sink();
        let lock = Arc::new(SpinLock::new(LockClass::Ptl, ()));
        let count = Arc::new(AtomicUsize::new(0));
        let t = {
            let (lock, count) = (lock.clone(), count.clone());
            spawn(&sink, move || {
                let _g = lock.lock();
                increment(&count);
            })
        };
        {
            let _g = lock.lock();
            increment(&count);
        }
        t.join().unwrap();
        assert_eq!(count.load(Relaxed), 2);
        assert_clean(&sink);
    });
}

#[test]
fn spinlock_trylock_never_blocks_and_excludes() {
    model(|| {
        let sink = main_sink();
        let lock = Arc::new(SpinLock::new(LockClass::Ptl, ()));
        let inside = Arc::new(AtomicBool::new(false));
        let held = lock.lock();
        let blocked = {
            let lock = lock.clone();
            spawn(&sink, move || lock.try_lock().is_some())
        };
        // Joined while still held: a trylock that waited would never return.
        assert!(!blocked.join().unwrap(), "trylock of a held spinlock");
        drop(held);

        let racer = {
            let (lock, inside) = (lock.clone(), inside.clone());
            spawn(&sink, move || {
                if let Some(_g) = lock.try_lock() {
                    assert!(!inside.swap(true, Relaxed), "two holders");
                    inside.store(false, Relaxed);
                }
            })
        };
        if let Some(_g) = lock.try_lock() {
            assert!(!inside.swap(true, Relaxed), "two holders");
            inside.store(false, Relaxed);
        }
        racer.join().unwrap();
        assert_clean(&sink);
    });
}

#[test]
fn rwsem_writers_never_lose_an_update() {
    model(|| {
        let sink = main_sink();
        let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, ()));
        let count = Arc::new(AtomicUsize::new(0));
        let t = {
            let (sem, count) = (sem.clone(), count.clone());
            spawn(&sink, move || {
                let _w = sem.write();
                increment(&count);
            })
        };
        {
            let _w = sem.write();
            increment(&count);
        }
        t.join().unwrap();
        assert_eq!(count.load(Relaxed), 2);
        assert_clean(&sink);
    });
}

#[test]
fn rwsem_reader_never_sees_a_writer_half_done() {
    model(|| {
        let sink = main_sink();
        let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, ()));
        // The writer stores both; a reader inside the lock must see both or neither.
        let (x, y) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let writer = {
            let (sem, x, y) = (sem.clone(), x.clone(), y.clone());
            spawn(&sink, move || {
                let _w = sem.write();
                x.store(1, Relaxed);
                y.store(1, Relaxed);
            })
        };
        {
            let _r = sem.read();
            assert_eq!(x.load(Relaxed), y.load(Relaxed), "a writer beside a reader");
        }
        writer.join().unwrap();
        assert_clean(&sink);
    });
}

#[test]
fn rwsem_readers_share() {
    model(|| {
        let sink = main_sink();
        let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, ()));
        let first = sem.read();
        let second = {
            let sem = sem.clone();
            spawn(&sink, move || drop(sem.read()))
        };
        // Joined while the first reader holds: a second reader that waited would never return.
        second.join().unwrap();
        assert!(sem.try_write().is_none(), "try_write among readers");
        drop(first);
        assert_clean(&sink);
    });
}

#[test]
fn rwsem_trylocks_never_block() {
    model(|| {
        let sink = main_sink();
        let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, ()));
        let held = sem.write();
        let t = {
            let sem = sem.clone();
            spawn(&sink, move || {
                (sem.try_read().is_some(), sem.try_write().is_some())
            })
        };
        assert_eq!(t.join().unwrap(), (false, false), "trylock beside a writer");
        drop(held);
        assert_clean(&sink);
    });
}

#[test]
fn rwsem_waiting_writer_fails_try_read_and_gets_in_after_the_reader() {
    model(|| {
        let sink = main_sink();
        let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, ()));
        let count = Arc::new(AtomicUsize::new(0));
        let first = sem.read();
        let writer = {
            let (sem, count) = (sem.clone(), count.clone());
            spawn(&sink, move || {
                let _w = sem.write();
                increment(&count);
            })
        };
        while !sem.has_waiting_writer() {
            thread::yield_now();
        }
        assert!(sem.try_read().is_none(), "try_read while a writer waits");
        assert_eq!(count.load(Relaxed), 0, "the writer got in beside a reader");
        drop(first);
        writer.join().unwrap();
        assert_eq!(count.load(Relaxed), 1);
        assert!(sem.try_read().is_some());
        assert_clean(&sink);
    });
}

/// `down_read_trylock` fails only while a writer holds or waits: never because another reader
/// entered or left between its read of the count and its compare-and-swap
/// (`__down_read_trylock` retries with the value the failed compare-and-swap returned).
#[test]
fn rwsem_try_read_fails_only_for_a_writer() {
    model(|| {
        let sink = main_sink();
        let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, ()));
        let first = sem.read();
        let other = {
            let sem = sem.clone();
            spawn(&sink, move || drop(sem.read()))
        };
        assert!(
            sem.try_read().is_some(),
            "try_read failed with no writer about"
        );
        drop(first);
        other.join().unwrap();
        assert_clean(&sink);
    });
}

/// The writer is already trying while the downgrade happens: no interleaving lets it in
/// between the write lock and the read lock it becomes.
#[test]
fn rwsem_downgrade_keeps_out_writers() {
    model(|| {
        let sink = main_sink();
        let sem = Arc::new(RwSem::new(LockClass::MmapLock, ()));
        let value = Arc::new(AtomicUsize::new(0));
        let w = sem.write();
        let writer = {
            let (sem, value) = (sem.clone(), value.clone());
            spawn(&sink, move || {
                let _w = sem.write();
                value.store(2, Relaxed);
            })
        };
        value.store(1, Relaxed);
        let r = w.downgrade();
        assert_eq!(value.load(Relaxed), 1, "a writer got in at the downgrade");
        drop(r);
        writer.join().unwrap();
        assert_eq!(value.load(Relaxed), 2);
        assert_clean(&sink);
    });
}

#[test]
fn page_lock_never_loses_an_update() {
    model(|| {
        let sink = main_sink();
        let flags = Arc::new(AtomicU32::new(0));
        let count = Arc::new(AtomicUsize::new(0));
        let t = {
            let (flags, count) = (flags.clone(), count.clone());
            spawn(&sink, move || {
                let page = PageLock::new(&flags, LockClass::PageLock).lock();
                increment(&count);
                page.unlock();
            })
        };
        let page = PageLock::new(&flags, LockClass::PageLock).lock();
        increment(&count);
        page.unlock();
        t.join().unwrap();
        assert_eq!(count.load(Relaxed), 2);
        assert!(!PageLock::new(&flags, LockClass::PageLock).is_locked());
        assert_clean(&sink);
    });
}

#[test]
fn page_lock_waiter_of_wait_unlocked_proceeds_after_unlock() {
    model(|| {
        let sink = main_sink();
        let flags = Arc::new(AtomicU32::new(0));
        let unlocked = Arc::new(AtomicBool::new(false));
        let page = PageLock::new(&flags, LockClass::PageLock).lock();
        let waiter = {
            let (flags, unlocked) = (flags.clone(), unlocked.clone());
            spawn(&sink, move || {
                PageLock::new(&flags, LockClass::PageLock).wait_unlocked();
                assert!(
                    unlocked.load(Relaxed),
                    "wait_unlocked returned on a locked page"
                );
            })
        };
        unlocked.store(true, Relaxed);
        page.unlock();
        waiter.join().unwrap();
        assert_clean(&sink);
    });
}

#[test]
fn page_lock_waiter_of_lock_proceeds_after_unlock() {
    model(|| {
        let sink = main_sink();
        let flags = Arc::new(AtomicU32::new(0));
        let value = Arc::new(AtomicUsize::new(0));
        let page = PageLock::new(&flags, LockClass::PageLock).lock();
        let locker = {
            let (flags, value) = (flags.clone(), value.clone());
            spawn(&sink, move || {
                let page = PageLock::new(&flags, LockClass::PageLock).lock();
                let seen = value.load(Relaxed);
                page.unlock();
                seen
            })
        };
        value.store(1, Relaxed);
        page.unlock();
        assert_eq!(
            locker.join().unwrap(),
            1,
            "the waiter got the page before the unlock"
        );
        assert!(!PageLock::new(&flags, LockClass::PageLock).is_locked());
        assert_clean(&sink);
    });
}

#[test]
fn page_trylock_never_blocks_and_excludes() {
    model(|| {
        let sink = main_sink();
        let flags = Arc::new(AtomicU32::new(0));
        let inside = Arc::new(AtomicBool::new(false));
        let held = PageLock::new(&flags, LockClass::PageLock).lock();
        let blocked = {
            let flags = flags.clone();
            spawn(&sink, move || {
                PageLock::new(&flags, LockClass::PageLock)
                    .try_lock()
                    .is_some()
            })
        };
        assert!(!blocked.join().unwrap(), "trylock of a locked page");
        held.unlock();

        let racer = {
            let (flags, inside) = (flags.clone(), inside.clone());
            spawn(&sink, move || {
                if let Some(page) = PageLock::new(&flags, LockClass::PageLock).try_lock() {
                    assert!(!inside.swap(true, Relaxed), "two holders");
                    inside.store(false, Relaxed);
                    page.unlock();
                }
            })
        };
        if let Some(page) = PageLock::new(&flags, LockClass::PageLock).try_lock() {
            assert!(!inside.swap(true, Relaxed), "two holders");
            inside.store(false, Relaxed);
            page.unlock();
        }
        racer.join().unwrap();
        assert_clean(&sink);
    });
}

/// The kinds of wait a [`deadlock_model`] makes.
#[derive(Clone, Copy, Debug)]
enum Wait {
    Spin,
    RwSemWrite,
    RwSemRead,
    PageLock,
    PageWaitUnlocked,
    SynchronizeRcu,
}

/// The holder takes the lock, starts a waiter for it, and then waits for the waiter to finish
/// without unlocking: a deadlock. A waiter that blocks (`wait::block_on`) leaves no thread
/// runnable, which loom reports as a deadlock, naming every thread's state. A waiter that polled
/// the lock word instead (the yield loop this lab had before) stayed runnable and polled until
/// loom's branch limit ended the execution, with a message about the limit, not the deadlock.
fn deadlock_model(wait: Wait) -> impl Fn() + Sync + Send + 'static {
    move || {
        let sink = main_sink();
        // Never dropped: loom ends the execution at the deadlock, and a loom object dropped
        // while this thread unwinds from there would panic again inside loom.
        let locks = ManuallyDrop::new((
            Arc::new(SpinLock::new(LockClass::Ptl, ())),
            Arc::new(RwSem::new(LockClass::IMmapRwsem, ())),
            Arc::new(AtomicU32::new(0)),
            Arc::new(Rcu::new()),
        ));
        let (spin, sem, flags, rcu) = &*locks;
        let page = PageLock::new(flags, LockClass::PageLock);
        let _held = ManuallyDrop::new((
            matches!(wait, Wait::Spin).then(|| spin.lock()),
            matches!(wait, Wait::RwSemWrite | Wait::RwSemRead).then(|| sem.write()),
            matches!(wait, Wait::PageLock | Wait::PageWaitUnlocked).then(|| page.lock()),
            matches!(wait, Wait::SynchronizeRcu).then(|| rcu.read_lock()),
        ));
        let waiter = {
            // The waiter's clones too: loom unwinds the blocked waiter at the deadlock.
            let mine = ManuallyDrop::new((spin.clone(), sem.clone(), flags.clone(), rcu.clone()));
            spawn(&sink, move || {
                let (spin, sem, flags, rcu) = &*mine;
                let page = PageLock::new(flags, LockClass::PageLock);
                match wait {
                    Wait::Spin => drop(spin.lock()),
                    Wait::RwSemWrite => drop(sem.write()),
                    Wait::RwSemRead => drop(sem.read()),
                    Wait::PageLock => page.lock().unlock(),
                    Wait::PageWaitUnlocked => page.wait_unlocked(),
                    Wait::SynchronizeRcu => rcu.synchronize(),
                }
            })
        };
        waiter.join().unwrap();
    }
}

/// Under loom a waiter blocks until an unlock wakes it: with the holder blocked too, loom finds
/// no runnable thread and reports the deadlock.
#[test]
fn a_waiter_blocks_so_loom_reports_a_deadlock_as_one() {
    for wait in [
        Wait::Spin,
        Wait::RwSemWrite,
        Wait::RwSemRead,
        Wait::PageLock,
        Wait::PageWaitUnlocked,
        Wait::SynchronizeRcu,
    ] {
        let result = std::panic::catch_unwind(|| model(deadlock_model(wait)));
        let payload = result.expect_err("a deadlock went unnoticed");
        let message = mmlab_engine::check::panic_message(payload.as_ref());
        assert!(
            message.starts_with("deadlock"),
            "{wait:?}: loom did not see a deadlock but: {message}"
        );
    }
}

/// `synchronize_rcu` returns only after the read section open at the call has closed, and the
/// reader's `rcu_read_unlock` wakes it (a lost wake would be a deadlock loom reports).
#[test]
fn rcu_synchronize_waits_for_the_open_reader() {
    model(|| {
        let sink = main_sink();
        let rcu = Arc::new(Rcu::new());
        let closed = Arc::new(AtomicBool::new(false));
        let section = rcu.read_lock();
        let syncer = {
            let (rcu, closed) = (rcu.clone(), closed.clone());
            spawn(&sink, move || {
                rcu.synchronize();
                assert!(
                    closed.load(Relaxed),
                    "synchronize_rcu returned inside a read section"
                );
            })
        };
        closed.store(true, Relaxed);
        drop(section);
        syncer.join().unwrap();
        assert_clean(&sink);
    });
}
