//! I17 (anon_vma trees) negative controls, one per clause: each test builds a forked world,
//! breaks one clause by hand, and sees I17 fire at quiescence; and the unowned
//! `anon_vma_unlock_read`: an `up_read` through `anon_vma->root` that finds another rwsem than
//! the one taken is lockdep's "bad unlock balance" (I15).
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{AnonVmaId, MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, anon_vma, fork, munmap, rmap_walk};
use mmlab_engine::sync::{LockClass, Ordering, RwSem};

/// A parent whose anon_vma (`root`) maps nothing any more (its page was zapped by
/// MADV_DONTNEED), a child forked from it with a page of its own (its anon_vma `child_av`).
struct Family {
    w: World,
    sink: Sink,
    child: MmId,
    cvma: VmaId,
    root: AnonVmaId,
    child_av: AnonVmaId,
}

fn family() -> Family {
    let w = World::new(WorldConfig::stress(2), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    munmap::madvise_dontneed(&w, mm, 0, 1).unwrap();
    let root = w.vmas.get(vma).anon_vma().unwrap();
    let child = fork::dup_mm(&w, mm).unwrap();
    access::store(&w, 0, child, 1, 2).unwrap();
    let cvma = w.mms.get(child).mmap_lock.read().vmas[0];
    let child_av = w.vmas.get(cvma).anon_vma().unwrap();
    assert_ne!(child_av, root);
    let f = Family {
        w,
        sink,
        child,
        cvma,
        root,
        child_av,
    };
    assert!(
        check(&f).is_empty(),
        "the family is consistent before it is broken"
    );
    f
}

fn check(f: &Family) -> Vec<Violation> {
    quiescent::check_world(&f.w);
    f.sink.take()
}

fn assert_i17(v: &[Violation], says: &str) {
    assert!(
        v.iter()
            .any(|v| v.oracle == Oracle::I17AnonVmaTree && v.message.contains(says)),
        "I17 saying {says:?} expected: {v:?}"
    );
}

#[test]
fn a_freed_root_with_a_live_child_is_reported() {
    let f = family();
    // The root freed under its child (what 624483f3ea82's wrong order left behind, without the
    // child's free reading it).
    f.w.anon_vmas.free(f.root);
    let v = check(&f);
    assert_i17(&v, "its root");
    assert_i17(&v, "which was freed");
}

#[test]
fn an_anon_vma_missing_from_a_vmas_chain_is_reported() {
    let f = family();
    f.w.vmas.get(f.cvma).chain_unlink(f.child_av);
    let v = check(&f);
    assert_i17(&v, "is not on");
    // The mapped page's anon_vma is not on the chain of the VMA that maps it, and the VMA's
    // own anon_vma is not on its chain.
    assert_i17(&v, "is mapped by");
    assert_i17(&v, "is not on its anon_vma_chain");
}

#[test]
fn a_vma_missing_from_a_tree_its_chain_links_is_reported() {
    let f = family();
    let locked = anon_vma::anon_vma_lock_write(&f.w, f.root);
    f.w.anon_vmas
        .get(f.root)
        .update(&locked, |t| t.vmas.retain(|&v| v != f.cvma));
    drop(locked);
    let v = check(&f);
    assert_i17(&v, "is not in its tree");
}

#[test]
fn counters_that_disagree_with_the_trees_are_reported() {
    let f = family();
    let locked = anon_vma::anon_vma_lock_write(&f.w, f.child_av);
    f.w.anon_vmas
        .get(f.root)
        .update(&locked, |t| t.num_children += 1);
    drop(locked);
    assert_i17(&check(&f), "num_children");
}

#[test]
fn a_tree_read_under_another_familys_rwsem_is_reported() {
    let f = family();
    // Another family: a second process with its own anon_vma.
    let other = mm_alloc(&f.w).unwrap();
    let ovma = mmap(&f.w, other, 0, 1, MapKind::Anon).unwrap();
    access::store(&f.w, 0, other, 0, 3).unwrap();
    let oav = f.w.vmas.get(ovma).anon_vma().unwrap();
    let locked = anon_vma::anon_vma_lock_write(&f.w, oav);
    let _ = f.w.anon_vmas.get(f.child_av).tree(&locked);
    drop(locked);
    let v = f.sink.take();
    assert!(
        v.iter()
            .any(|v| v.oracle == Oracle::I15Lockdep && v.message.contains("its root is")),
        "{v:?}"
    );
}

#[test]
fn up_read_of_another_rwsem_than_the_one_taken_is_a_bad_unlock_balance() {
    let sink = Sink::new();
    sink.install();
    let a = RwSem::new(LockClass::Named("anon_vma_tree.a"), ());
    let b = RwSem::new(LockClass::Named("anon_vma_tree.b"), ());
    let held = a.read_held();
    b.up_read(held);
    let v = sink.take();
    assert!(
        v.iter()
            .any(|v| v.oracle == Oracle::I15Lockdep && v.message.contains("bad unlock balance")),
        "{v:?}"
    );
    // `a` stays read-locked, as the kernel's would: a writer could never get it.
    assert!(a.try_write().is_none());
    // And an up_read of the rwsem taken is clean.
    let c = RwSem::new(LockClass::Named("anon_vma_tree.c"), ());
    let held = c.read_held();
    c.up_read(held);
    assert!(sink.take().is_empty());
    assert!(c.try_write().is_some());
}

#[test]
fn anon_vma_unlock_read_through_a_root_that_changed_is_a_bad_unlock_balance() {
    let f = family();
    let pfn = f.w.pte_at(f.child, 1).and_then(|p| p.pfn()).unwrap();
    let locked = rmap_walk::page_lock_anon_vma_read(&f.w, pfn).expect("mapped");
    assert_eq!(locked.anon_vma, f.child_av);
    // The slot now names another root (as a recycled SLAB_TYPESAFE_BY_RCU slot would):
    // anon_vma_unlock_read's up_read(&anon_vma->root->rwsem) finds the child's own rwsem,
    // which this thread does not hold.
    let av = f.w.anon_vmas.get(f.child_av);
    av.root.store(f.child_av.pack(), Ordering::SeqCst);
    // Another thread holds the found rwsem for read (and keeps it), so the count it loses is
    // that reader's.
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(av.rwsem.read_held()));
    });
    drop(locked);
    let v = f.sink.take();
    assert!(
        v.iter()
            .any(|v| v.oracle == Oracle::I15Lockdep && v.message.contains("bad unlock balance")),
        "{v:?}"
    );
    // The root's rwsem taken by the lookup was never released.
    assert!(f.w.anon_vmas.get(f.root).rwsem.try_write().is_none());
}
