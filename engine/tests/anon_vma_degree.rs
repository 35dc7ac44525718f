//! The degree-era reuse rule of `anon_vma_clone` (7a3ef208e662, v3.19 .. v6.0) reuses one
//! anon_vma twice, for two VMAs at once — the "double-reuse" of 2555283eb40d "mm/rmap: Fix
//! anon_vma->degree ambiguity leading to double-reuse" (CVE-2022-42703) — with fork and exit
//! alone; the 6.1+ rule (`num_children < 2 && num_active_vmas == 0`) does not.
//!
//! `degree` counts child anon_vmas and VMAs using the anon_vma together, so an abandoned leaf
//! that a VMA reused has degree 1 and looks like "one child, no VMA": it is reused again.
//! The harm needs what the model does not have: `vma_merge` trusting that two VMAs with the
//! same `->anon_vma` have the same chain, and merging pages into a VMA not attached to their
//! anon_vma (docs/MODEL.md §7). So the double reuse is shown here as the state it leaves, and
//! I17 (which judges trees, chains and counters) rightly stays silent: each VMA's chain still
//! matches the trees.
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Sink, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{AnonVmaId, MmId, World, WorldConfig};
use mmlab_engine::ops::anon_vma::AnonVmaOps;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, exit, fork};

fn anon_vma_of(w: &World, mm: MmId) -> AnonVmaId {
    let v = w.mms.get(mm).mmap_lock.read().vmas[0];
    w.vmas.get(v).anon_vma().expect("the VMA has an anon_vma")
}

/// P faults (root R); C1 = fork(P) (A1); C2 = fork(C1) (A2); C1 exits; C3 = fork(C2) reuses
/// A1; C2 exits, leaving A2 a leaf with C3's VMA in its tree; C4 and C5 are forked from C3.
/// Returns (A2, C4's anon_vma, C5's anon_vma).
fn sequence(kernel: Kernel) -> (AnonVmaId, AnonVmaId, AnonVmaId) {
    let w = World::new(WorldConfig::stress(2), kernel);
    let sink = Sink::new();
    sink.install();
    let p = mm_alloc(&w).unwrap();
    mmap(&w, p, 0, 2, MapKind::Anon).unwrap();
    access::store(&w, 0, p, 0, 1).unwrap();
    let c1 = fork::dup_mm(&w, p).unwrap();
    let a1 = anon_vma_of(&w, c1);
    let c2 = fork::dup_mm(&w, c1).unwrap();
    let a2 = anon_vma_of(&w, c2);
    exit::exit_mmap(&w, c1);
    let c3 = fork::dup_mm(&w, c2).unwrap();
    assert_eq!(anon_vma_of(&w, c3), a1, "both eras reuse the abandoned A1");
    exit::exit_mmap(&w, c2);
    let c4 = fork::dup_mm(&w, c3).unwrap();
    let c5 = fork::dup_mm(&w, c3).unwrap();
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "{v:?}");
    (a2, anon_vma_of(&w, c4), anon_vma_of(&w, c5))
}

#[test]
fn the_degree_rule_reuses_one_anon_vma_for_two_vmas() {
    let (a2, c4, c5) = sequence(Kernel {
        anon_vma: AnonVmaOps::v6_0(),
        ..Kernel::default()
    });
    assert_eq!(c4, a2);
    assert_eq!(c5, a2, "reused a second time while C4's VMA uses it");
}

#[test]
fn the_num_active_vmas_rule_reuses_it_once() {
    let (a2, c4, c5) = sequence(Kernel::default());
    assert_eq!(c4, a2);
    assert_ne!(
        c5, a2,
        "A2 has an active VMA: C5 gets an anon_vma of its own"
    );
}
