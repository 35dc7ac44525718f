//! The OOM reaper (mm/oom_kill.c), one thread, fixed order: it backs off when it cannot
//! trylock `mmap_lock`, skips an mm whose exit shut it out (`MMF_OOM_SKIP`), skips VM_LOCKED
//! VMAs before 5.18 and reaps them since (a213e5cf71cb), keeps the mm struct alive with its
//! `mmgrab`; and I22 on a hand-built state (the reaper starting on a VMA the exit's munlock
//! walk is on) — the oracle's negative control beside the loom one
//! (`negative_control_i22_oom_reap_munlock`).
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, Violation};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::mm_struct::mmf;
use mmlab_engine::mm::page::pg;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::mm::{MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::oom_kill::{self, OomKillOps};
use mmlab_engine::ops::{access, exit, munlock};
use mmlab_engine::sync::Ordering;

fn world(kernel: Kernel) -> (World, Sink) {
    let w = World::new(WorldConfig::tiny(2), kernel);
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

fn fired(v: &[Violation], oracle: Oracle) -> bool {
    v.iter().any(|v| v.oracle == oracle)
}

/// An mm with one anonymous page at va 0, mlocked, marked the OOM victim.
fn victim(w: &World) -> (MmId, VmaId) {
    let mm = mm_alloc(w).expect("mm");
    let vma = mmap(w, mm, 0, 1, MapKind::Anon).expect("mmap");
    access::store(w, 0, mm, 0, 7).expect("populate");
    munlock::mlock(w, mm, vma).expect("mlock");
    oom_kill::mark_oom_victim(w, mm);
    (mm, vma)
}

fn old_kernel() -> Kernel {
    let mut k = Kernel::default();
    k.mlock.scheme = MlockScheme::PageMlock;
    k.oom = OomKillOps::v4_17();
    k
}

fn present(w: &World, mm: MmId) -> bool {
    w.pte_at(mm, 0).is_some_and(|p| p.is_present())
}

#[test]
fn the_reaper_backs_off_when_it_cannot_trylock_mmap_lock() {
    let (w, sink) = world(Kernel::default());
    let (mm, _) = victim(&w);
    let held = w.mms.get(mm).mmap_lock.write();
    assert!(!oom_kill::oom_reap_task_mm(&w, mm), "trylock must fail");
    drop(held);
    assert!(present(&w, mm), "nothing reaped while it backed off");
    assert!(!oom_kill::test_bit(&w, mm, mmf::UNSTABLE));
    // After MAX_OOM_REAP_RETRIES failures the mm is hidden anyway.
    let held = w.mms.get(mm).mmap_lock.write();
    assert!(!oom_kill::oom_reap_task(&w, mm));
    drop(held);
    assert!(oom_kill::test_bit(&w, mm, mmf::OOM_SKIP));
    assert!(present(&w, mm));
    exit::exit_mmap(&w, mm);
    assert!(sink.take().is_empty());
}

#[test]
fn the_modern_reaper_unmaps_mlocked_memory_and_keeps_the_mm_alive() {
    let (w, sink) = world(Kernel::default());
    let (mm, _) = victim(&w);
    assert!(oom_kill::oom_reap_task_mm(&w, mm));
    assert!(!present(&w, mm), "5.18+: VM_LOCKED is reaped");
    assert!(oom_kill::test_bit(&w, mm, mmf::UNSTABLE));
    exit::exit_mmap(&w, mm);
    // The reaper's mmgrab keeps the struct: a second pass sees MMF_OOM_SKIP.
    assert!(oom_kill::test_bit(&w, mm, mmf::OOM_SKIP));
    assert!(oom_kill::oom_reap_task(&w, mm));
    assert!(sink.take().is_empty());
}

#[test]
fn the_v4_reaper_skips_vm_locked_and_exit_v4_17_shuts_it_out() {
    let mut k = old_kernel();
    k.exit.exit_mmap = exit::exit_mmap_v4_17;
    let (w, sink) = world(k);
    let (mm, _) = victim(&w);
    assert!(oom_kill::oom_reap_task_mm(&w, mm));
    assert!(present(&w, mm), "≤5.17: VM_LOCKED is skipped");
    exit::exit_mmap(&w, mm);
    assert!(oom_kill::test_bit(&w, mm, mmf::OOM_SKIP));
    assert!(oom_kill::oom_reap_task(&w, mm));
    assert!(sink.take().is_empty());
}

/// I22, the reaper's side: the exit's munlock walk is on the VMA (VM_LOCKED cleared, the
/// walk mark set) when the 4.x reaper tests VM_LOCKED.
#[test]
fn i22_fires_when_the_reaper_starts_on_a_vma_the_munlock_walk_is_on() {
    let (w, sink) = world(old_kernel());
    let (mm, vma) = victim(&w);
    w.vmas
        .get(vma)
        .flags
        .fetch_and(!vm::LOCKED, Ordering::SeqCst);
    oom_kill::note_munlock_walk(&w, mm, Some(vma));
    oom_kill::oom_reap_task_mm(&w, mm);
    assert!(fired(&sink.take(), Oracle::I22OomReapMunlock));
    // The same reap with no walk on the VMA is clean.
    let (w2, sink2) = world(old_kernel());
    let (mm2, vma2) = victim(&w2);
    w2.vmas
        .get(vma2)
        .flags
        .fetch_and(!vm::LOCKED, Ordering::SeqCst);
    oom_kill::oom_reap_task_mm(&w2, mm2);
    assert!(!fired(&sink2.take(), Oracle::I22OomReapMunlock));
}

/// v4.17's exit of an OOM victim (its own reap, the handshake, then the old scheme's munlock)
/// leaves the page not PG_mlocked, and the reaper's later pass finds MMF_OOM_SKIP.
#[test]
fn exit_v4_17_of_an_oom_victim_leaves_nothing_mlocked() {
    let mut k = old_kernel();
    k.exit.exit_mmap = exit::exit_mmap_v4_17;
    let (w, sink) = world(k);
    let (mm, _) = victim(&w);
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
    mmlab_engine::ops::page_alloc::get_page(&w, pfn);
    exit::exit_mmap(&w, mm);
    assert!(!w.page(pfn).test(pg::MLOCKED));
    mmlab_engine::ops::page_alloc::put_page(&w, pfn);
    assert!(oom_kill::oom_reap_task(&w, mm));
    assert!(sink.take().is_empty());
}
