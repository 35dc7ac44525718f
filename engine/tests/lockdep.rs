//! lockdep: each rule reported with its call sites, and the kernel's order accepted.
//!
//! Orders learned between `LockClass::Named` classes are process-wide, as lockdep's are, and
//! tests run in parallel: every named class here is unique to its test.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, with_sink};
use mmlab_engine::check::{Oracle, Sink, Violation};
use mmlab_engine::sync::rcu::Rcu;
use mmlab_engine::sync::{AtomicU32, LockClass, PageLock, RwSem, SpinLock};
use std::sync::Arc;

/// The lines of this file that `v`'s call sites point at, in order.
fn lines(v: &Violation) -> Vec<u32> {
    assert!(
        v.sites.iter().all(|s| s.file() == file!()),
        "call sites are the test's: {:?}",
        v.sites
    );
    v.sites.iter().map(|s| s.line()).collect()
}

#[test]
fn i_mmap_rwsem_under_ptl_is_reported_with_both_sites() {
    let ptl = SpinLock::new(LockClass::Ptl, ());
    let imap = RwSem::new(LockClass::IMmapRwsem, ());
    let v = with_sink(|| {
        let _p = ptl.lock();
        let _i = imap.read();
    });
    assert!(v.iter().all(|v| v.oracle == Oracle::I15Lockdep));
    assert!(
        v.iter().any(|v| v
            .message
            .contains("sleeping function called from invalid context")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|v| v.message.contains("lock order inversion")),
        "{v:?}"
    );
    let sites = &v[0].sites;
    assert_eq!(sites.len(), 2);
    assert!(
        sites.iter().all(|s| s.file().ends_with("lockdep.rs")),
        "call sites are the test's: {sites:?}"
    );
    assert_ne!(sites[0].line(), sites[1].line());
}

#[test]
fn kernel_order_is_accepted() {
    let flags = AtomicU32::new(0);
    let imap = RwSem::new(LockClass::IMmapRwsem, ());
    let av = RwSem::new(LockClass::AnonVmaRwsem, ());
    let ptl = SpinLock::new(LockClass::Ptl, ());
    let v = with_sink(|| {
        let _pg = PageLock::new(&flags, LockClass::PageLock).lock();
        let _i = imap.read();
        let _a = av.read();
        let _p = ptl.lock();
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn trylock_of_second_page_lock_is_accepted() {
    let old = AtomicU32::new(0);
    let new = AtomicU32::new(0);
    let v = with_sink(|| {
        let _o = PageLock::new(&old, LockClass::PageLock).lock();
        let n = PageLock::new(&new, LockClass::PageLock).try_lock();
        assert!(n.is_some());
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn rwsem_under_a_spinlock_is_sleeping_in_atomic() {
    let spin = SpinLock::new(LockClass::Named("rwsem_under_a_spinlock.spin"), ());
    let sem = RwSem::new(LockClass::Named("rwsem_under_a_spinlock.rwsem"), ());
    let (mut outer, mut inner) = (0, 0);
    let v = with_sink(|| {
        outer = line!() + 1;
        let _s = spin.lock();
        inner = line!() + 1;
        let _r = sem.read();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].oracle, Oracle::I15Lockdep);
    assert!(
        v[0].message
            .contains("sleeping function called from invalid context"),
        "{}",
        v[0].message
    );
    assert_eq!(lines(&v[0]), [inner, outer]);
}

#[test]
fn rwsem_in_an_rcu_read_section_is_sleeping_in_atomic() {
    let rcu = Rcu::new();
    let sem = RwSem::new(LockClass::Named("rwsem_in_an_rcu_read_section"), ());
    let v = with_sink(|| {
        let _r = rcu.read_lock();
        let _w = sem.write();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message
            .contains("sleeping function called from invalid context"),
        "{}",
        v[0].message
    );
}

#[test]
fn waiting_on_a_page_under_a_spinlock_is_sleeping_in_atomic() {
    let spin = SpinLock::new(LockClass::Named("waiting_on_a_page_under_a_spinlock"), ());
    let flags = AtomicU32::new(0);
    let v = with_sink(|| {
        let _s = spin.lock();
        PageLock::new(&flags, LockClass::PageLock).wait_unlocked();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message.contains("wait_on_page_locked"),
        "{}",
        v[0].message
    );
}

#[test]
fn trylock_under_a_spinlock_is_accepted() {
    let spin = SpinLock::new(LockClass::Named("trylock_under_a_spinlock"), ());
    let sem = RwSem::new(LockClass::IMmapRwsem, ());
    let flags = AtomicU32::new(0);
    let v = with_sink(|| {
        let _s = spin.lock();
        assert!(sem.try_read().is_some());
        assert!(
            PageLock::new(&flags, LockClass::PageLock)
                .try_lock()
                .is_some()
        );
    });
    assert!(v.is_empty(), "{v:?}");
}

/// lockdep's point: the inverted order is reported the first time it is taken, whether or not
/// this run deadlocks. The two threads never overlap, so nothing can deadlock here.
#[test]
fn abba_between_named_classes_in_two_threads_is_reported_without_deadlock() {
    let a = Arc::new(RwSem::new(LockClass::Named("abba_two_threads.A"), ()));
    let b = Arc::new(RwSem::new(LockClass::Named("abba_two_threads.B"), ()));
    let first = Sink::new();
    let (a1, b1) = (a.clone(), b.clone());
    let ab = join(spawn("lockdep-abba-1", &first, move || {
        let _a = a1.write();
        let l = line!() + 1;
        let _b = b1.write();
        l
    }));
    assert!(
        first.is_empty(),
        "A then B alone is fine: {:?}",
        first.take()
    );

    let second = Sink::new();
    let (outer, inner) = join(spawn("lockdep-abba-2", &second, move || {
        let outer = line!() + 1;
        let _b = b.write();
        let inner = line!() + 1;
        let _a = a.write();
        (outer, inner)
    }));
    let v = second.take();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message
            .contains("possible circular locking dependency"),
        "{}",
        v[0].message
    );
    // This acquisition, what it is taken under, and the earlier pair in the other order.
    let sites = lines(&v[0]);
    assert_eq!(sites[..2], [inner, outer]);
    assert!(
        sites[2..].contains(&ab),
        "{sites:?} names B taken under A at {ab}"
    );
}

#[test]
fn release_of_a_lock_not_held_is_reported() {
    let flags = Arc::new(AtomicU32::new(0));
    let taker = Sink::new();
    {
        let flags = flags.clone();
        // Another context locks the page and keeps lockdep's record of it.
        join(spawn("lockdep-unheld-taker", &taker, move || {
            PageLock::new(&flags, LockClass::PageLock).lock().into_raw();
        }));
    }
    let mut unlock = 0;
    let v = with_sink(|| {
        unlock = line!() + 1;
        PageLock::new(&flags, LockClass::PageLock).unlock_unowned();
    });
    assert!(taker.is_empty(), "{:?}", taker.take());
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message.contains("bad unlock balance"),
        "{}",
        v[0].message
    );
    assert_eq!(lines(&v[0]), [unlock]);
    assert_eq!(flags.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn nesting_two_locks_of_one_class_without_subclass_is_reported() {
    let (src, dst) = (
        SpinLock::new(LockClass::Ptl, ()),
        SpinLock::new(LockClass::Ptl, ()),
    );
    let (mut outer, mut inner) = (0, 0);
    let v = with_sink(|| {
        outer = line!() + 1;
        let _s = src.lock();
        inner = line!() + 1;
        let _d = dst.lock();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message.contains("possible recursive locking detected"),
        "{}",
        v[0].message
    );
    assert_eq!(lines(&v[0]), [inner, outer]);
}

/// mremap's `move_ptes` takes the destination PTL with `spin_lock_nested(...,
/// SINGLE_DEPTH_NESTING)`: the annotation is what makes two PTLs at once legal.
#[test]
fn nesting_two_locks_of_one_class_with_lock_nested_is_accepted() {
    let (src, dst) = (
        SpinLock::new(LockClass::Ptl, ()),
        SpinLock::new(LockClass::Ptl, ()),
    );
    let v = with_sink(|| {
        let _s = src.lock();
        let _d = dst.lock_nested(1);
    });
    assert!(v.is_empty(), "{v:?}");
}

/// A recursive `down_read` deadlocks as soon as a writer queues between the two reads (writer
/// preference), so lockdep reports it even when no writer is around.
#[test]
fn recursive_read_of_one_rwsem_is_reported() {
    let sem = RwSem::new(LockClass::Named("recursive_read_of_one_rwsem"), ());
    let v = with_sink(|| {
        let _r1 = sem.read();
        let _r2 = sem.read();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("is already held"), "{}", v[0].message);
}
