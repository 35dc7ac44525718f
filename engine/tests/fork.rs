//! fork (`dup_mm`): the child shares the parent's anonymous pages read-only (mapcount 2), its
//! VMA is linked into the parent's anon_vma tree through its chain, and either side's exit
//! leaves the other consistent (the quiescent oracles, I17 among them, hold throughout).
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, exit, fork, munmap};
use mmlab_engine::sync::Ordering;

/// The anonymous VMA's size; the parent fills all but its last page before the fork.
const ANON: u64 = 4;
const FILLED: u64 = 3;

fn setup() -> (World, Sink, MmId, VmaId, VmaId, VmaId) {
    setup_with(Kernel::default())
}

fn setup_with(kernel: Kernel) -> (World, Sink, MmId, VmaId, VmaId, VmaId) {
    let w = World::new(WorldConfig::stress(2), kernel);
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let anon = mmap(&w, mm, 0, ANON, MapKind::Anon).unwrap();
    let file = w.file(0);
    let private = mmap(
        &w,
        mm,
        8,
        2,
        MapKind::File {
            file,
            pgoff: 0,
            shared: false,
        },
    )
    .unwrap();
    let shared = mmap(
        &w,
        mm,
        16,
        2,
        MapKind::File {
            file,
            pgoff: 2,
            shared: true,
        },
    )
    .unwrap();
    for va in 0..FILLED {
        access::store(&w, 0, mm, va, 100 + va).unwrap();
    }
    access::load(&w, 0, mm, 8).unwrap();
    access::store(&w, 0, mm, 9, 7).unwrap(); // a COW copy in the private file VMA
    access::store(&w, 0, mm, 16, 5).unwrap();
    (w, sink, mm, anon, private, shared)
}

fn finish(w: &World, sink: &Sink) -> Vec<Violation> {
    quiescent::check_world(w);
    sink.take()
}

fn child_vma(w: &World, child: MmId, start: u64) -> VmaId {
    w.mms
        .get(child)
        .mmap_lock
        .read()
        .vmas
        .iter()
        .copied()
        .find(|&v| w.vmas.get(v).info.get().start == start)
        .expect("the child has a copy of every VMA")
}

#[test]
fn dup_mm_shares_anon_pages_write_protected_and_links_the_child_into_the_parents_tree() {
    let (w, sink, mm, anon, _private, shared) = setup();
    let child = fork::dup_mm(&w, mm).unwrap();
    for va in 0..FILLED {
        let (Some(p), Some(c)) = (w.pte_at(mm, va), w.pte_at(child, va)) else {
            panic!("va {va}: both map it");
        };
        let (
            Pte::Present {
                pfn: pp, write: pw, ..
            },
            Pte::Present {
                pfn: cp, write: cw, ..
            },
        ) = (p, c)
        else {
            panic!("va {va}: {p} / {c}");
        };
        assert_eq!(pp, cp, "va {va}: one page shared");
        assert!(!pw && !cw, "va {va}: write-protected in both");
        assert_eq!(w.page(pp).mapcount.load(Ordering::SeqCst), 2);
        assert_eq!(access::load(&w, 0, child, va).unwrap(), 100 + va);
    }
    // The private file VMA's COW copy is shared too; its unmodified file page is not copied
    // (vma_needs_copy: the child faults it again). The shared VMA is not copied at all.
    assert!(w.pte_at(child, 9).is_some_and(|p| p.is_present()));
    assert!(w.pte_at(child, 16).is_none_or(|p| p.is_none()));
    // The anon_vma family: the child's VMA has its own anon_vma, a child of the parent's, and
    // is linked into the parent's (the root's) tree through its chain.
    let root = w.vmas.get(anon).anon_vma().unwrap();
    let cvma = child_vma(&w, child, 0);
    let cav = w.vmas.get(cvma).anon_vma().unwrap();
    assert_ne!(cav, root);
    assert_eq!(w.anon_vmas.get(cav).root(), root);
    assert_eq!(w.anon_vmas.get(cav).parent(), root);
    assert_eq!(w.vmas.get(cvma).chain(), vec![cav, root]);
    assert!(w.anon_vmas.get(root).quiescent_tree().vmas.contains(&cvma));
    let rt = w.anon_vmas.get(root).quiescent_tree();
    assert_eq!((rt.num_children, rt.num_active_vmas), (2, 1));
    // The shared file VMA's copy is in i_mmap.
    let cshared = child_vma(&w, child, 16);
    let f = w.vmas.get(shared).info.get().file.unwrap();
    assert!(w.files.get(f).i_mmap.read().vmas.contains(&cshared));
    // VM_LOCKED never crosses fork (no VMA here has it; the copy's flags are the parent's).
    assert_eq!(
        w.vmas.get(cvma).flags.load(Ordering::SeqCst),
        w.vmas.get(anon).flags.load(Ordering::SeqCst)
    );
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

fn exit_one_then_other(parent_first: bool) {
    let (w, sink, mm, _anon, _private, _shared) = setup();
    let free_before_fork = w.free_pages.lock().len();
    let child = fork::dup_mm(&w, mm).unwrap();
    // A page of the child's own (mapped with the child's anon_vma).
    access::store(&w, 0, child, FILLED, 9).unwrap();
    let (first, second) = if parent_first {
        (mm, child)
    } else {
        (child, mm)
    };
    exit::exit_mmap(&w, first);
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "after the first exit: {v:?}");
    for va in 0..FILLED {
        let Some(Pte::Present { pfn, .. }) = w.pte_at(second, va) else {
            panic!("va {va} still mapped in the survivor");
        };
        assert_eq!(w.page(pfn).mapcount.load(Ordering::SeqCst), 1);
        access::load(&w, 0, second, va).unwrap();
    }
    access::store(&w, 0, second, FILLED, 77).unwrap();
    assert_eq!(access::load(&w, 0, second, FILLED).unwrap(), 77);
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "the survivor after a write: {v:?}");
    exit::exit_mmap(&w, second);
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "after both exits: {v:?}");
    assert!(w.anon_vmas.live().is_empty(), "every anon_vma freed");
    assert!(w.vmas.live().is_empty());
    assert!(w.free_pages.lock().len() >= free_before_fork);
}

#[test]
fn parent_exit_leaves_the_child_consistent() {
    exit_one_then_other(true);
}

#[test]
fn child_exit_leaves_the_parent_consistent() {
    exit_one_then_other(false);
}

#[test]
fn munmap_of_a_forked_vma_unlinks_it_through_its_chain() {
    let (w, sink, mm, anon, _private, _shared) = setup();
    let root = w.vmas.get(anon).anon_vma().unwrap();
    let child = fork::dup_mm(&w, mm).unwrap();
    let cvma = child_vma(&w, child, 0);
    let cav = w.vmas.get(cvma).anon_vma().unwrap();
    munmap::munmap(&w, child, cvma).unwrap();
    assert!(
        !w.anon_vmas.is_live(cav),
        "the child's anon_vma went with its VMA"
    );
    let rt = w.anon_vmas.get(root).quiescent_tree();
    assert_eq!(rt.vmas, vec![anon]);
    assert_eq!((rt.num_children, rt.num_active_vmas), (1, 1));
    assert_eq!(w.anon_vmas.get(root).refcount.load(Ordering::SeqCst), 1);
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
    exit::exit_mmap(&w, child);
    exit::exit_mmap(&w, mm);
    assert!(w.anon_vmas.live().is_empty());
}

#[test]
fn a_grandchild_reuses_nothing_while_every_anon_vma_is_in_use() {
    let (w, sink, mm, anon, _private, _shared) = setup();
    let child = fork::dup_mm(&w, mm).unwrap();
    let grandchild = fork::dup_mm(&w, child).unwrap();
    let gvma = child_vma(&w, grandchild, 0);
    let root = w.vmas.get(anon).anon_vma().unwrap();
    let cav = w.vmas.get(child_vma(&w, child, 0)).anon_vma().unwrap();
    let gav = w.vmas.get(gvma).anon_vma().unwrap();
    assert!(gav != root && gav != cav);
    assert_eq!(w.anon_vmas.get(gav).parent(), cav);
    assert_eq!(w.vmas.get(gvma).chain(), vec![gav, cav, root]);
    exit::exit_mmap(&w, child);
    // The child's anon_vma now has no VMA but a child: the next fork of the grandchild reuses
    // it (anon_vma_clone's reuse rule), instead of growing the hierarchy.
    let great = fork::dup_mm(&w, grandchild).unwrap();
    let great_vma = child_vma(&w, great, 0);
    assert_eq!(w.vmas.get(great_vma).anon_vma(), Some(cav));
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
    for m in [great, grandchild, mm] {
        exit::exit_mmap(&w, m);
    }
    assert!(w.anon_vmas.live().is_empty());
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn the_degree_era_keeps_its_counter_through_fork_reuse_and_exit() {
    let kernel = Kernel {
        anon_vma: mmlab_engine::ops::anon_vma::AnonVmaOps::v6_0(),
        ..Kernel::default()
    };
    let (w, sink, mm, anon, _private, _shared) = setup_with(kernel);
    let root = w.vmas.get(anon).anon_vma().unwrap();
    // A new root: 1 from anon_vma_alloc ("Reference for first vma") + 1 in prepare.
    assert_eq!(w.anon_vmas.get(root).quiescent_tree().degree, 2);
    let child = fork::dup_mm(&w, mm).unwrap();
    let grandchild = fork::dup_mm(&w, child).unwrap();
    exit::exit_mmap(&w, child);
    let great = fork::dup_mm(&w, grandchild).unwrap();
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
    for m in [great, grandchild, mm] {
        exit::exit_mmap(&w, m);
    }
    assert!(w.anon_vmas.live().is_empty());
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn fork_without_split_ptlocks_nests_the_two_page_table_locks_as_lockdep_accepts() {
    let cfg = WorldConfig {
        ptlocks: mmlab_engine::mm::world::Ptlocks::MmPageTableLock,
        ..WorldConfig::stress(2)
    };
    let w = World::new(cfg, Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    let child = fork::dup_mm(&w, mm).unwrap();
    assert_eq!(access::load(&w, 0, child, 0).unwrap(), 1);
    let v = finish(&w, &sink);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn two_mmap_locks_nest_only_with_the_declared_subclass() {
    let w = World::new(WorldConfig::stress(2), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let (a, b) = (mm_alloc(&w).unwrap(), mm_alloc(&w).unwrap());
    {
        let _old = w.mms.get(a).mmap_lock.write();
        let _new = w
            .mms
            .get(b)
            .mmap_lock
            .write_nested(fork::SINGLE_DEPTH_NESTING);
    }
    assert!(sink.take().is_empty(), "dup_mmap's nesting is accepted");
    {
        let _old = w.mms.get(a).mmap_lock.write();
        let _new = w.mms.get(b).mmap_lock.write();
    }
    let v = sink.take();
    assert!(
        v.iter()
            .any(|v| v.oracle == mmlab_engine::check::Oracle::I15Lockdep
                && v.message.contains("recursive locking")),
        "without the subclass lockdep reports it: {v:?}"
    );
}
