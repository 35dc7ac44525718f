//! RwSem on real threads: readers share, a writer excludes everyone, a waiting writer blocks
//! new readers (the kernel's writer preference), and a downgraded writer keeps writers out.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_blocked, wait_until};
use mmlab_engine::check::Sink;
use mmlab_engine::sync::{LockClass, RwSem, wait};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};

#[test]
fn rwsem_writer_excludes_readers_and_writers_under_contention() {
    const WRITERS: usize = 2;
    const READERS: usize = 2;
    const ROUNDS: u64 = 5_000;
    let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, 0u64));
    let writer_inside = Arc::new(AtomicBool::new(false));
    let readers_inside = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(WRITERS + READERS));
    let sink = Sink::new();
    let mut threads = Vec::new();
    for i in 0..WRITERS {
        let (sem, writer_inside, readers_inside, start) = (
            sem.clone(),
            writer_inside.clone(),
            readers_inside.clone(),
            start.clone(),
        );
        threads.push(spawn(&format!("rwsem-excl-w{i}"), &sink, move || {
            start.wait();
            for _ in 0..ROUNDS {
                let mut count = sem.write();
                assert!(!writer_inside.swap(true, SeqCst), "two writers at once");
                assert_eq!(readers_inside.load(SeqCst), 0, "a reader beside a writer");
                let seen = *count;
                std::hint::spin_loop();
                *count = seen + 1;
                writer_inside.store(false, SeqCst);
            }
        }));
    }
    for i in 0..READERS {
        let (sem, writer_inside, readers_inside, start) = (
            sem.clone(),
            writer_inside.clone(),
            readers_inside.clone(),
            start.clone(),
        );
        threads.push(spawn(&format!("rwsem-excl-r{i}"), &sink, move || {
            start.wait();
            for _ in 0..ROUNDS {
                let count = sem.read();
                readers_inside.fetch_add(1, SeqCst);
                assert!(!writer_inside.load(SeqCst), "a writer beside a reader");
                let seen = *count;
                std::hint::spin_loop();
                assert_eq!(*count, seen, "the data changed under a read lock");
                readers_inside.fetch_sub(1, SeqCst);
            }
        }));
    }
    threads.into_iter().for_each(join);
    assert_eq!(*sem.read(), WRITERS as u64 * ROUNDS);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rwsem_readers_share_the_lock() {
    let sem = Arc::new(RwSem::new(LockClass::IMmapRwsem, ()));
    let sink = Sink::new();
    sink.install();
    let first = sem.read();
    let second_in = Arc::new(AtomicBool::new(false));
    let t = {
        let (sem, second_in) = (sem.clone(), second_in.clone());
        spawn("rwsem-share-reader", &sink, move || {
            let _second = sem.read();
            second_in.store(true, SeqCst);
        })
    };
    // The first reader still holds: the second gets in anyway, or this wait is the hang.
    wait_until("a second reader to share the lock", || {
        second_in.load(SeqCst)
    });
    assert!(sem.try_read().is_some(), "try_read failed among readers");
    assert!(
        sem.try_write().is_none(),
        "try_write succeeded among readers"
    );
    drop(first);
    join(t);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rwsem_writer_blocks_readers_until_released() {
    let class = LockClass::Named("rwsem_writer_blocks_readers_until_released");
    let sem = Arc::new(RwSem::new(class, 0u32));
    let sink = Sink::new();
    sink.install();
    let mut w = sem.write();
    assert!(
        sem.try_read().is_none(),
        "try_read succeeded beside a writer"
    );
    assert!(
        sem.try_write().is_none(),
        "try_write succeeded beside a writer"
    );
    let t = {
        let sem = sem.clone();
        spawn("rwsem-wbr-reader", &sink, move || *sem.read())
    };
    wait_blocked("rwsem-wbr-reader", class);
    *w = 7;
    drop(w);
    assert_eq!(join(t), 7, "the reader got in before the writer left");
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

/// The kernel's rwsem queues a new reader behind a waiting writer, and `down_read_trylock`
/// fails while one waits; otherwise a stream of readers starves the writer (the munlock convoy
/// that v5.18's "mm/munlock: delete page_mlock() and all its works" removed depends on this).
#[test]
fn rwsem_waiting_writer_blocks_new_readers() {
    let class = LockClass::Named("rwsem_waiting_writer_blocks_new_readers");
    let sem = Arc::new(RwSem::new(class, ()));
    let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let sink = Sink::new();
    sink.install();
    let first = sem.read();

    let writer = {
        let (sem, log) = (sem.clone(), log.clone());
        spawn("rwsem-wwbnr-writer", &sink, move || {
            let _w = sem.write();
            log.lock().unwrap().push("writer in");
            log.lock().unwrap().push("writer out");
        })
    };
    wait_blocked("rwsem-wwbnr-writer", class);
    // Blocked (lockdep's record) comes a step before queued (the rwsem's count).
    wait_until("the writer to queue", || sem.has_waiting_writer());
    assert!(
        sem.try_read().is_none(),
        "try_read succeeded while a writer waits"
    );

    let reader = {
        let (sem, log) = (sem.clone(), log.clone());
        spawn("rwsem-wwbnr-reader", &sink, move || {
            let _r = sem.read();
            log.lock().unwrap().push("reader in");
        })
    };
    wait_blocked("rwsem-wwbnr-reader", class);
    assert!(
        log.lock().unwrap().is_empty(),
        "someone got in while the first reader held"
    );

    drop(first);
    join(writer);
    join(reader);
    assert_eq!(
        *log.lock().unwrap(),
        ["writer in", "writer out", "reader in"],
        "the new reader overtook the waiting writer"
    );
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rwsem_downgrade_keeps_out_writers() {
    let class = LockClass::Named("rwsem_downgrade_keeps_out_writers");
    let sem = Arc::new(RwSem::new(class, 0u32));
    let sink = Sink::new();
    sink.install();
    let mut w = sem.write();
    *w = 1;
    let r = w.downgrade();

    let writer = {
        let sem = sem.clone();
        spawn("rwsem-dg-writer", &sink, move || {
            assert!(
                sem.try_write().is_none(),
                "try_write succeeded beside a downgraded writer"
            );
            let mut w = sem.write();
            let seen = *w;
            *w = 2;
            seen
        })
    };
    wait_blocked("rwsem-dg-writer", class);
    assert_eq!(*r, 1, "a writer got in after the downgrade");
    drop(r);
    assert_eq!(join(writer), 1);
    assert_eq!(*sem.read(), 2);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rwsem_downgrade_lets_readers_in() {
    let sem = Arc::new(RwSem::new(LockClass::MmapLock, 0u32));
    let sink = Sink::new();
    sink.install();
    let mut w = sem.write();
    *w = 5;
    let r = w.downgrade();
    let t = {
        let sem = sem.clone();
        spawn("rwsem-dg-reader", &sink, move || *sem.read())
    };
    // The downgraded holder still reads: a reader that could not share would hang here.
    let seen = join(t);
    assert_eq!(seen, 5);
    assert_eq!(*r, 5);
    drop(r);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}

/// The stress runner's watchdog unwinds the waits of a hung iteration. A writer unwound while
/// queued must withdraw its claim, or every later reader would wait for a writer that is gone.
#[test]
fn rwsem_writer_aborted_while_waiting_does_not_block_readers() {
    let class = LockClass::Named("rwsem_writer_aborted_while_waiting");
    let sem = Arc::new(RwSem::new(class, ()));
    let abort = Arc::new(AtomicBool::new(false));
    let sink = Sink::new();
    sink.install();
    let first = sem.read();
    let writer = {
        let (sem, abort) = (sem.clone(), abort.clone());
        spawn("rwsem-abort-writer", &sink, move || {
            wait::set_abort_flag(Some(abort));
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(sem.write())));
            wait::set_abort_flag(None);
            r.is_err_and(|payload| payload.is::<wait::Aborted>())
        })
    };
    wait_blocked("rwsem-abort-writer", class);
    wait_until("the writer to queue", || sem.has_waiting_writer());
    abort.store(true, SeqCst);
    assert!(join(writer), "the writer's wait was not aborted");
    assert!(!sem.has_waiting_writer(), "the aborted writer still waits");
    assert!(
        sem.try_read().is_some(),
        "a reader is blocked by a writer that is gone"
    );
    drop(first);
    assert!(sem.try_write().is_some());
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
