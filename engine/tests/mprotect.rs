//! VMA split and merge through mprotect (`__split_vma`, `vma_merge`, `__vma_adjust`,
//! `change_protection`): bounds, locks, anon_vma chains and counters, mapcounts, I16/I17
//! clean after each step; and the degree-era double reuse turned into a dangling
//! `page->mapping` by a merge (2555283eb40d, CVE-2022-42703).
#![cfg(not(mmlab_loom))]

mod common;

use common::{join, mmap_shared_file, spawn, wait_blocked};
use mmlab_engine::check::{Oracle, Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::mm::{Mapping, MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::anon_vma::AnonVmaOps;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::mprotect::mprotect;
use mmlab_engine::ops::{access, exit, fork, munmap};
use mmlab_engine::sync::{LockClass, Ordering};
use std::sync::Arc;

fn vmas(w: &World, mm: MmId) -> Vec<(VmaId, u64, u64, u64, u32)> {
    let map = w.mms.get(mm).mmap_lock.read();
    let mut v: Vec<_> = map
        .vmas
        .iter()
        .map(|&id| {
            let vma = w.vmas.get(id);
            let i = vma.info.get();
            (
                id,
                i.start,
                i.end,
                i.pgoff,
                vma.flags.load(Ordering::SeqCst),
            )
        })
        .collect();
    v.sort_by_key(|t| t.1);
    v
}

fn quiet(w: &World, sink: &Sink) -> Vec<Violation> {
    quiescent::check_world(w);
    sink.take()
}

const RW: u32 = vm::READ | vm::WRITE;
/// What a private mapping's `vm_flags` hold besides the protection: `VM_MAYREAD |
/// VM_MAYWRITE`, which mprotect keeps.
const MAY: u32 = vm::MAYREAD | vm::MAYWRITE;

#[test]
fn mprotect_splits_write_protects_and_merges_back() {
    let w = World::new(WorldConfig::stress(2), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let id = mmap(&w, mm, 0, 3, MapKind::Anon).unwrap();
    for va in 0..3 {
        access::store(&w, 0, mm, va, va + 1).unwrap();
    }
    let av = w.vmas.get(id).anon_vma().unwrap();
    // The middle page read-only: two splits.
    mprotect(&w, mm, 1, 2, vm::READ).unwrap();
    let v = vmas(&w, mm);
    assert_eq!(v.len(), 3, "{v:?}");
    assert_eq!((v[0].1, v[0].2, v[0].3, v[0].4), (0, 1, 0, RW | MAY));
    assert_eq!((v[1].1, v[1].2, v[1].3, v[1].4), (1, 2, 1, vm::READ | MAY));
    assert_eq!((v[2].1, v[2].2, v[2].3, v[2].4), (2, 3, 2, RW | MAY));
    for &(vid, ..) in &v {
        let vma = w.vmas.get(vid);
        assert_eq!(vma.anon_vma(), Some(av), "a split keeps the anon_vma");
        assert_eq!(vma.chain(), vec![av], "and copies the chain");
    }
    assert!(matches!(
        w.pte_at(mm, 1),
        Some(Pte::Present { write: false, .. })
    ));
    assert!(matches!(
        w.pte_at(mm, 0),
        Some(Pte::Present { write: true, .. })
    ));
    assert!(
        access::store(&w, 0, mm, 1, 9).is_err(),
        "SIGSEGV on the read-only page"
    );
    assert_eq!(access::load(&w, 0, mm, 1).unwrap(), 2);
    for va in 0..3 {
        let pfn = w.pte_at(mm, va).unwrap().pfn().unwrap();
        assert_eq!(w.page(pfn).mapcount.load(Ordering::SeqCst), 1);
    }
    assert!(quiet(&w, &sink).is_empty());
    // The split at the start made the lower part the new VMA (`new_below`): `id` is the
    // middle one now.
    assert_eq!(v[1].0, id);
    let prev = v[0].0;
    // Writable again: case 6, prev + middle + next become prev; two VMAs freed.
    mprotect(&w, mm, 1, 2, RW).unwrap();
    let v = vmas(&w, mm);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].0, v[0].1, v[0].2, v[0].3, v[0].4),
        (prev, 0, 3, 0, RW | MAY)
    );
    assert!(!w.vmas.is_live(id));
    assert_eq!(w.vmas.get(prev).chain(), vec![av]);
    access::store(&w, 0, mm, 1, 7).unwrap();
    assert_eq!(access::load(&w, 0, mm, 1).unwrap(), 7);
    assert!(quiet(&w, &sink).is_empty());
}

#[test]
fn mprotect_shifts_a_boundary_and_merges_with_next() {
    let w = World::new(WorldConfig::stress(2), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 4, MapKind::Anon).unwrap();
    for va in 0..4 {
        access::store(&w, 0, mm, va, va + 1).unwrap();
    }
    mprotect(&w, mm, 2, 4, vm::READ).unwrap();
    // case 5: [1, 2) joins the read-only next, the boundary moves down... from prev's side:
    mprotect(&w, mm, 1, 2, vm::READ).unwrap();
    let v = vmas(&w, mm);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!((v[0].1, v[0].2), (0, 1));
    assert_eq!((v[1].1, v[1].2, v[1].3, v[1].4), (1, 4, 1, vm::READ | MAY));
    assert!(quiet(&w, &sink).is_empty());
    // case 8: [0, 1) joins next entirely; the first VMA is removed.
    mprotect(&w, mm, 0, 1, vm::READ).unwrap();
    let v = vmas(&w, mm);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].1, v[0].2, v[0].3), (0, 4, 0));
    // case 4: the top page back to RW splits; then [2, 3) to RW joins it (prev shrinks).
    mprotect(&w, mm, 3, 4, RW).unwrap();
    mprotect(&w, mm, 2, 3, RW).unwrap();
    let v = vmas(&w, mm);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!((v[0].1, v[0].2, v[0].4), (0, 2, vm::READ | MAY));
    assert_eq!((v[1].1, v[1].2, v[1].3, v[1].4), (2, 4, 2, RW | MAY));
    assert!(quiet(&w, &sink).is_empty());
}

/// The sequence that makes two adjacent VMAs of one mm share an anon_vma with different
/// chains under the degree rule, then merges them (see `scenarios`' `anon-vma-degree`).
/// Returns the world, the mm of the merge and the page whose anon_vma the merge orphans.
fn degree_sequence(kernel: Kernel) -> (World, MmId, Vec<Violation>) {
    // P's VMA [0, 2) (root R); C1, C2, C3 in a line (A1, A2, A3); C2 exits (A2 degree 1);
    // C4 = fork(C3) reuses A2, is split by mprotect into X (read-only) and Y; C3b = fork(C3)
    // gives A3 a child; C1 exits (A1 degree 1); C5 = fork(C4): X reuses A1, Y gets a new N;
    // C3, C3b exit (A3 degree 0); Y of C5 faults a page of its own (mapping N); C6 = fork(C5):
    // X and Y *both* reuse A3 under the degree rule, Y's chain has N and X's has not; C5 exits.
    let w = World::new(WorldConfig::stress(2), kernel);
    let sink = Sink::new();
    sink.install();
    let p = mm_alloc(&w).unwrap();
    mmap(&w, p, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, p, 0, 1).unwrap();
    access::store(&w, 0, p, 1, 2).unwrap();
    let c1 = fork::dup_mm(&w, p).unwrap();
    let c2 = fork::dup_mm(&w, c1).unwrap();
    let c3 = fork::dup_mm(&w, c2).unwrap();
    exit::exit_mmap(&w, c2);
    let c4 = fork::dup_mm(&w, c3).unwrap();
    mprotect(&w, c4, 0, 1, vm::READ).unwrap();
    let c3b = fork::dup_mm(&w, c3).unwrap();
    exit::exit_mmap(&w, c1);
    let c5 = fork::dup_mm(&w, c4).unwrap();
    exit::exit_mmap(&w, c3);
    exit::exit_mmap(&w, c3b);
    // A page of C5's own in Y: its anon_vma is Y's (N). (Not a write fault on the shared
    // page: the model's do_wp_page reuses anonymous pages without copying.)
    munmap::madvise_dontneed(&w, c5, 1, 2).unwrap();
    access::store(&w, 0, c5, 1, 5).unwrap();
    let c6 = fork::dup_mm(&w, c5).unwrap();
    exit::exit_mmap(&w, c5);
    let v = vmas(&w, c6);
    let (x, y) = (w.vmas.get(v[0].0), w.vmas.get(v[1].0));
    let pfn = w.pte_at(c6, 1).unwrap().pfn().unwrap();
    let Mapping::Anon(n) = w.page(pfn).mapping() else {
        panic!("anonymous")
    };
    assert!(y.chain().contains(&n) && !x.chain().contains(&n));
    let pre = quiet(&w, &sink);
    assert!(pre.is_empty(), "{pre:?}");
    let same = x.anon_vma() == y.anon_vma();
    mprotect(&w, c6, 1, 2, vm::READ).unwrap();
    let merged = vmas(&w, c6).len() == 1;
    assert_eq!(
        same, merged,
        "vma_merge merges exactly when the anon_vmas are the same"
    );
    let got = quiet(&w, &sink);
    (w, c6, got)
}

#[test]
fn the_degree_rule_lets_a_merge_orphan_a_page() {
    let (_w, _mm, got) = degree_sequence(Kernel {
        anon_vma: AnonVmaOps::v5_19(),
        ..Kernel::default()
    });
    assert!(
        got.iter()
            .any(|v| v.oracle == Oracle::I17AnonVmaTree && v.message.contains("was freed")),
        "{got:?}"
    );
    assert!(
        got.iter().any(|v| v.oracle == Oracle::I16RmapReachable),
        "{got:?}"
    );
}

#[test]
fn the_num_active_vmas_rule_does_not_merge() {
    let (_w, _mm, got) = degree_sequence(Kernel::default());
    assert!(got.is_empty(), "{got:?}");
}

/// Negative control of the bounds' lock check: a change of `vm_start` without the anon_vma
/// root's rwsem (or `i_mmap_rwsem` of a file VMA) held for write is reported (I15).
#[test]
fn adjust_bounds_without_the_rmap_locks_is_reported() {
    struct OnlyMmapLock(MmId);
    impl mmlab_engine::mm::vma::VmaBoundsHeld for OnlyMmapLock {
        fn mmap_write(&self) -> MmId {
            self.0
        }
        fn i_mmap_write(&self) -> Option<mmlab_engine::mm::FileId> {
            None
        }
        fn anon_vma_root_write(&self) -> Option<mmlab_engine::mm::AnonVmaId> {
            None
        }
    }
    let w = World::new(WorldConfig::stress(2), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let id = mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    let root = w.vmas.get(id).anon_vma();
    w.vmas
        .get(id)
        .adjust_bounds(&OnlyMmapLock(mm), root, 0, 1, 0);
    let got = sink.take();
    assert!(
        got.iter()
            .any(|v| v.oracle == Oracle::I15Lockdep && v.message.contains("anon_vma->root->rwsem")),
        "{got:?}"
    );
    let file = w.files.live()[0];
    let fid = mmap_shared_file(&w, mm, 4, 2, file, 0);
    w.vmas
        .get(fid)
        .adjust_bounds(&OnlyMmapLock(mm), None, 4, 5, 0);
    let got = sink.take();
    assert!(
        got.iter()
            .any(|v| v.oracle == Oracle::I15Lockdep && v.message.contains("i_mmap_rwsem")),
        "{got:?}"
    );
}

/// mprotect of a shared file VMA splits it under `i_mmap_rwsem`: both halves are in the
/// file's i_mmap, and I16 stays clean.
#[test]
fn a_file_vma_split_links_both_halves_into_i_mmap() {
    let w = World::new(WorldConfig::stress(2), Kernel::default());
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let file = w.files.live()[0];
    mmap_shared_file(&w, mm, 0, 4, file, 8);
    for va in 0..4 {
        access::store(&w, 0, mm, va, va + 1).unwrap();
    }
    mprotect(&w, mm, 2, 4, vm::READ).unwrap();
    let v = vmas(&w, mm);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[1].1, v[1].2, v[1].3),
        (2, 4, 10),
        "vm_pgoff of the upper half"
    );
    let imap = w.files.get(file).i_mmap.read().vmas.clone();
    assert!(imap.contains(&v[0].0) && imap.contains(&v[1].0));
    assert!(quiet(&w, &sink).is_empty());
    mprotect(&w, mm, 2, 4, RW).unwrap();
    assert_eq!(vmas(&w, mm).len(), 1);
    assert_eq!(w.files.get(file).i_mmap.read().vmas.len(), 1);
    assert!(quiet(&w, &sink).is_empty());
}

/// The bounds change waits for an rmap walker: with the anon_vma root's rwsem held for read (as
/// `rmap_walk_anon` holds it), mprotect's merge blocks on it in `__vma_adjust` with the bounds
/// unchanged, and completes once the walker is done. Likewise a file VMA's split waits for
/// `i_mmap_rwsem` held for read (`rmap_walk_file`).
#[test]
fn a_merge_or_split_waits_for_a_walker_holding_the_rmap_lock() {
    let w = Arc::new(World::new(WorldConfig::stress(2), Kernel::default()));
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    access::store(&w, 0, mm, 1, 2).unwrap();
    mprotect(&w, mm, 1, 2, vm::READ).unwrap();
    let prev = vmas(&w, mm)[0].0;
    let av = w.vmas.get(prev).anon_vma().unwrap();
    let root = w.anon_vmas.get(av).root();
    let walker = w.anon_vmas.get(root).rwsem.read();
    let h = {
        let w = w.clone();
        spawn("merger", &sink, move || mprotect(&w, mm, 1, 2, RW))
    };
    wait_blocked("merger", LockClass::AnonVmaRwsem);
    assert_eq!(
        w.vmas.get(prev).info.get().end,
        1,
        "unchanged under the walker"
    );
    drop(walker);
    join(h).unwrap();
    assert_eq!(w.vmas.get(prev).info.get().end, 2);

    let file = w.files.live()[0];
    let f = mmap_shared_file(&w, mm, 4, 2, file, 0);
    let walker = w.files.get(file).i_mmap.read();
    let h = {
        let w = w.clone();
        spawn("splitter", &sink, move || mprotect(&w, mm, 5, 6, vm::READ))
    };
    wait_blocked("splitter", LockClass::IMmapRwsem);
    assert_eq!(
        w.vmas.get(f).info.get().start,
        4,
        "unchanged under the walker"
    );
    drop(walker);
    join(h).unwrap();
    // new_below: the new VMA is [4, 5), `f` keeps [5, 6).
    assert_eq!(w.vmas.get(f).info.get().start, 5);
    assert!(quiet(&w, &sink).is_empty());
}
