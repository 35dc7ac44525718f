//! The per-VMA lock (6.4+): `vma_start_read` / `vma_start_write` and the sequence numbers,
//! `vma_mark_detached` and `lock_vma_under_rcu`'s re-checks, the fault path's choice between
//! the VMA lock and `mmap_lock`, and lockdep knowing the class.
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, spawn, wait_blocked, with_sink};
use mmlab_engine::check::{Oracle, Sink};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::fault::{self, FaultOps};
use mmlab_engine::ops::lock_vma::{lock_vma_under_rcu, lock_vma_under_rcu_v6_4};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::vma_lock::{
    mmap_write_downgrade, mmap_write_unlock, vma_end_read, vma_mark_detached, vma_start_read,
    vma_start_write,
};
use mmlab_engine::ops::{access, munmap};
use mmlab_engine::sync::order::{Relation, relation};
use mmlab_engine::sync::{LockClass, Ordering};
use std::sync::Arc;

/// A world with one mm and one anonymous VMA of one page at 0, touched (so it has an
/// anon_vma, which the lockless lookup requires).
fn anon_world() -> (Arc<World>, MmId, VmaId) {
    let w = Arc::new(World::new(WorldConfig::tiny(2), Kernel::default()));
    let mm = mm_alloc(&w).expect("mm");
    let vma = mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap");
    access::store(&w, 0, mm, 0, 1).expect("first touch");
    (w, mm, vma)
}

#[test]
fn a_write_locked_vma_refuses_readers_until_mmap_write_unlock() {
    let (w, mm, vma) = anon_world();
    let v = with_sink(|| {
        let map = w.mms.get(mm).mmap_lock.write();
        vma_start_write(&w, &map, vma);
        let seq = w.mms.get(mm).mm_lock_seq.load(Ordering::SeqCst);
        assert_eq!(
            w.vmas.get(vma).vm_lock.vm_lock_seq.load(Ordering::SeqCst),
            seq,
            "vm_lock_seq = mm_lock_seq: write-locked"
        );
        // A second vma_start_write in the same section is the fast path: nothing changes.
        vma_start_write(&w, &map, vma);
        {
            let rcu = w.rcu.read_lock();
            assert!(
                vma_start_read(&w, vma, &rcu).is_none(),
                "a write-locked VMA cannot be read-locked"
            );
        }
        assert!(lock_vma_under_rcu(&w, mm, 0).is_none());
        mmap_write_unlock(&w, mm, map);
        assert_eq!(
            w.mms.get(mm).mm_lock_seq.load(Ordering::SeqCst),
            seq + 1,
            "vma_end_write_all: mm_lock_seq + 1"
        );
        let locked = lock_vma_under_rcu(&w, mm, 0).expect("unlocked again after the unlock");
        assert_eq!(locked.vma(), vma);
        vma_end_read(&w, locked);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn mmap_write_downgrade_ends_the_write_lock_and_detached_is_what_refuses_the_vma() {
    let (w, mm, vma) = anon_world();
    let v = with_sink(|| {
        let map = w.mms.get(mm).mmap_lock.write();
        vma_start_write(&w, &map, vma);
        vma_mark_detached(&w, &map, vma);
        let map = mmap_write_downgrade(&w, mm, map);
        // The VMA is no longer write-locked (the sequence moved on): vma_start_read alone
        // would take it — the `detached` re-check of lock_vma_under_rcu is what refuses it.
        let rcu = w.rcu.read_lock();
        let locked = vma_start_read(&w, vma, &rcu).expect("not write-locked after downgrade");
        assert!(w.vmas.get(vma).vm_lock.detached.load(Ordering::SeqCst));
        vma_end_read(&w, locked);
        drop(rcu);
        drop(map);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn munmap_leaves_nothing_for_the_lockless_lookup() {
    let (w, mm, vma) = anon_world();
    let v = with_sink(|| {
        munmap::munmap(&w, mm, vma).expect("munmap");
        assert!(lock_vma_under_rcu(&w, mm, 0).is_none());
        assert!(lock_vma_under_rcu_v6_4(&w, mm, 0).is_none());
        let rcu = w.rcu.read_lock();
        assert_eq!(w.mms.get(mm).mm_mt.mas_walk(&w.vmas, 0, &rcu), None);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn vma_start_write_waits_for_a_fault_holding_the_vma() {
    let (w, mm, vma) = anon_world();
    let sink = Sink::new();
    sink.install();
    let locked = lock_vma_under_rcu(&w, mm, 0).expect("read-locked");
    let w2 = w.clone();
    let writer = spawn("vma-writer", &sink, move || {
        let map = w2.mms.get(mm).mmap_lock.write();
        vma_start_write(&w2, &map, vma);
        mmap_write_unlock(&w2, mm, map);
    });
    wait_blocked("vma-writer", LockClass::VmaLock);
    vma_end_read(&w, locked);
    join(writer);
    assert!(sink.take().is_empty());
}

#[test]
fn detaching_without_vma_start_write_is_reported() {
    let (w, mm, vma) = anon_world();
    let v = with_sink(|| {
        let map = w.mms.get(mm).mmap_lock.write();
        vma_mark_detached(&w, &map, vma);
        mmap_write_unlock(&w, mm, map);
    });
    assert!(
        v.iter()
            .any(|v| v.oracle == Oracle::I15Lockdep && v.message.contains("vma_start_write")),
        "{v:?}"
    );
}

#[test]
fn lockdep_knows_the_vma_lock_class() {
    assert_eq!(LockClass::VmaLock.name(), "&vma->vm_lock");
    assert_eq!(
        relation(LockClass::MmapLock, LockClass::VmaLock),
        Relation::InOrder
    );
    for below in [
        LockClass::InvalidateLock,
        LockClass::PageLock,
        LockClass::IMmapRwsem,
        LockClass::AnonVmaRwsem,
        LockClass::PageTableLock,
        LockClass::Ptl,
        LockClass::LruLock,
    ] {
        assert_eq!(
            relation(LockClass::VmaLock, below),
            Relation::InOrder,
            "{below}"
        );
        assert_eq!(
            relation(below, LockClass::VmaLock),
            Relation::Inverted,
            "{below}"
        );
    }
    // A thread holding a VMA read-locked that then takes mmap_lock: the inversion lockdep
    // reports (the kernel's fault never does it: it drops the VMA lock first).
    let (w, mm, _) = anon_world();
    let v = with_sink(|| {
        let locked = lock_vma_under_rcu(&w, mm, 0).expect("read-locked");
        let map = w.mms.get(mm).mmap_lock.read();
        drop(map);
        vma_end_read(&w, locked);
    });
    assert!(
        v.iter().any(|v| v.oracle == Oracle::I15Lockdep
            && v.message.contains("&mm->mmap_lock")
            && v.message.contains("&vma->vm_lock")),
        "{v:?}"
    );
}

#[test]
fn faults_take_the_vma_lock_only_where_6_4_could() {
    let (w, mm, _) = anon_world();
    // A second, untouched anonymous VMA: no anon_vma yet, so its first fault falls back.
    let w = Arc::try_unwrap(w).expect("sole owner");
    mmap(&w, mm, 1, 1, MapKind::Anon).expect("mmap");
    let v = with_sink(|| {
        access::store(&w, 1, mm, 1, 7).expect("first touch under mmap_lock");
        // A fault on the touched VMA (it has an anon_vma): handled under the VMA lock.
        fault::do_user_addr_fault(&w, mm, 0, true).expect("fault");
    });
    assert!(v.is_empty(), "{v:?}");
    let steps: Vec<&str> = w.trace.events().iter().map(|e| e.step).collect();
    assert!(
        steps.contains(&"lock_vma_under_rcu: inval"),
        "the untouched VMA has no anon_vma: {steps:?}"
    );
    assert!(steps.contains(&"lock_vma_under_rcu"), "{steps:?}");
}

#[test]
fn the_pre_6_4_handler_never_takes_the_vma_lock() {
    let mut kernel = Kernel::default();
    kernel.fault = FaultOps {
        do_user_addr_fault: fault::do_user_addr_fault_v6_3,
        ..kernel.fault
    };
    let w = World::new(WorldConfig::tiny(2), kernel);
    let mm = mm_alloc(&w).expect("mm");
    mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap");
    let v = with_sink(|| {
        access::store(&w, 0, mm, 0, 1).expect("store");
        access::store(&w, 1, mm, 0, 2).expect("store");
    });
    assert!(v.is_empty(), "{v:?}");
    assert!(
        !w.trace
            .events()
            .iter()
            .any(|e| e.step.starts_with("lock_vma_under_rcu")),
        "no lockless lookup before 6.4"
    );
}
