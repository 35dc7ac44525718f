//! The anon_vma steps the per-VMA lock races turn on: `find_mergeable_anon_vma`'s lock rule
//! (I15 when `__anon_vma_prepare` runs with neither `mmap_lock` nor `rcu_read_lock`: the
//! 657b5146955e harm), `anon_vma_clone_enomem`'s unwind, `vma_merge` giving up on it, and
//! `__page_set_anon_rmap`'s `BUG_ON(!anon_vma)` (the d8ab9f7b644a harms).
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::mprotect::mprotect;
use mmlab_engine::ops::{access, anon_vma};

fn world(kernel: Kernel) -> (World, Sink, MmId, VmaId) {
    let w = World::new(WorldConfig::stress(2), kernel);
    let sink = Sink::new();
    sink.install();
    let mm = mm_alloc(&w).unwrap();
    let vma = mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    (w, sink, mm, vma)
}

fn fired(v: &[Violation], oracle: Oracle, says: &str) -> bool {
    v.iter()
        .any(|v| v.oracle == oracle && v.message.contains(says))
}

/// Negative control: `__anon_vma_prepare` with neither lock its `find_mergeable_anon_vma`
/// walk needs — what a fault holding only the per-VMA lock does in 6.4 when a concurrent
/// MREMAP_DONTUNMAP cleared `vma->anon_vma` after `lock_vma_under_rcu` checked it.
#[test]
fn anon_vma_prepare_without_mmap_lock_is_reported() {
    let (w, sink, _mm, vma) = world(Kernel::default());
    anon_vma::__anon_vma_prepare(&w, vma).unwrap();
    let v = sink.take();
    assert!(
        fired(&v, Oracle::I15Lockdep, "find_mergeable_anon_vma"),
        "I15 expected: {v:?}"
    );
}

/// ... and the same call under `mmap_lock` read (every fault before 6.4, and a 6.4+ fault
/// after its fallback) or inside an RCU read section is clean.
#[test]
fn anon_vma_prepare_under_mmap_lock_or_rcu_is_clean() {
    let (w, sink, mm, vma) = world(Kernel::default());
    {
        let _map = w.mms.get(mm).mmap_lock.read();
        anon_vma::__anon_vma_prepare(&w, vma).unwrap();
    }
    let other = mmap(&w, mm, 1, 1, MapKind::Anon).unwrap();
    {
        let _rcu = w.rcu.read_lock();
        let _ = anon_vma::find_mergeable_anon_vma(&w, other);
    }
    let v = sink.take();
    assert!(v.is_empty(), "clean expected: {v:?}");
    assert!(w.vmas.get(vma).anon_vma().is_some());
}

/// The enomem unwind: `dst->anon_vma` back to NULL, nothing linked, -ENOMEM.
#[test]
fn anon_vma_clone_enomem_unwinds() {
    let (w, sink, mm, src) = world(Kernel::default());
    access::store(&w, 0, mm, 0, 1).unwrap();
    let av = w.vmas.get(src).anon_vma().unwrap();
    let dst = mmap(&w, mm, 4, 1, MapKind::Anon).unwrap();
    let _map = w.mms.get(mm).mmap_lock.write();
    w.vmas.get(dst).set_anon_vma(Some(av));
    assert!(anon_vma::anon_vma_clone_enomem(&w, dst, src).is_err());
    assert_eq!(w.vmas.get(dst).anon_vma(), None);
    assert!(w.vmas.get(dst).chain().is_empty());
    assert!(sink.take().is_empty());
}

/// mprotect's case-6 merge whose `dup_anon_vma` clone fails gives up (`vma_merge` returns
/// NULL): three VMAs stay, the middle one takes the new flags, and the world is consistent.
#[test]
fn a_merge_whose_clone_fails_is_not_made() {
    let mut kernel = Kernel::default();
    kernel.anon_vma.anon_vma_clone = anon_vma::anon_vma_clone_enomem;
    let (w, sink, mm, prev) = world(kernel);
    let curr = mmap(&w, mm, 1, 1, MapKind::Anon).unwrap();
    mprotect(&w, mm, 1, 2, vm::READ).unwrap();
    let next = mmap(&w, mm, 2, 1, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 2, 2).unwrap();
    mprotect(&w, mm, 1, 2, vm::READ | vm::WRITE).unwrap();
    let vmas = w.mms.get(mm).mmap_lock.read().vmas.clone();
    assert_eq!(vmas.len(), 3, "not merged: {vmas:?}");
    assert!(w.vmas.get(curr).has(vm::WRITE));
    assert_eq!(w.vmas.get(prev).anon_vma(), None);
    assert!(w.vmas.get(next).anon_vma().is_some());
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "clean expected: {v:?}");
}

/// ... and with the clone succeeding, the same mprotect merges the three into `prev`, which
/// imports `next`'s anon_vma (`dup_anon_vma`).
#[test]
fn the_same_merge_with_memory_imports_the_anon_vma() {
    let (w, sink, mm, prev) = world(Kernel::default());
    mmap(&w, mm, 1, 1, MapKind::Anon).unwrap();
    mprotect(&w, mm, 1, 2, vm::READ).unwrap();
    let next = mmap(&w, mm, 2, 1, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 2, 2).unwrap();
    let av = w.vmas.get(next).anon_vma();
    mprotect(&w, mm, 1, 2, vm::READ | vm::WRITE).unwrap();
    let vmas = w.mms.get(mm).mmap_lock.read().vmas.clone();
    assert_eq!(vmas, vec![prev], "case 6: one VMA left");
    assert_eq!(w.vmas.get(prev).anon_vma(), av);
    assert_eq!(access::load(&w, 0, mm, 2), Ok(2));
    quiescent::check_world(&w);
    let v = sink.take();
    assert!(v.is_empty(), "clean expected: {v:?}");
}

/// Negative control of the `BUG` in `page_add_new_anon_rmap`: a VMA whose anon_vma is gone
/// when the new page's rmap is added.
#[test]
fn page_add_new_anon_rmap_without_anon_vma_is_a_bug() {
    use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
    use mmlab_engine::ops::{fault, page_alloc, rmap};
    let (w, sink, mm, vma) = world(Kernel::default());
    {
        let m = w.mms.get(mm);
        let _map = m.mmap_lock.read();
        fault::pte_alloc(&w, m, mm, 0).unwrap();
    }
    let pfn = page_alloc::alloc_page(&w).unwrap();
    let pte = pte_offset_map_lock(&w, mm, 0).unwrap();
    rmap::page_add_new_anon_rmap(&w, &pte, pfn, vma);
    drop(pte);
    let v = sink.take();
    assert!(
        fired(&v, Oracle::Bug, "BUG_ON(!anon_vma)"),
        "BUG expected: {v:?}"
    );
}
