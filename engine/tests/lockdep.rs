//! lockdep: each rule reported with its call sites, and the kernel's order accepted.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink};
use mmlab_engine::sync::{AtomicU32, LockClass, PageLock, RwSem, SpinLock};

fn with_sink(f: impl FnOnce()) -> Vec<mmlab_engine::check::Violation> {
    let sink = Sink::new();
    sink.install();
    f();
    sink.take()
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
fn double_unlock_is_a_bug_report() {
    let flags = AtomicU32::new(0);
    let v = with_sink(|| {
        let lock = PageLock::new(&flags, LockClass::PageLock);
        lock.lock().into_raw();
        lock.unlock_unowned();
        lock.unlock_unowned();
    });
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].oracle, Oracle::Bug);
}
