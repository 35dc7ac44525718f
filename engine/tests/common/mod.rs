//! Helpers shared by the engine's integration tests.
//!
//! Tests here never sleep and hope: they wait for a condition they can observe (a flag, a lock
//! word, lockdep's record that a thread is blocked on a class), with a bound so generous that
//! only a hang reaches it, and then fail with what they were waiting for.

// Each test file is its own crate and uses a subset of these helpers.
#![allow(dead_code)]

use mmlab_engine::check::{Sink, Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::{FileId, MmId, Pfn, VmaId, World, WorldConfig};
use mmlab_engine::ops::access;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::sync::{LockClass, held};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a bounded wait waits before calling it a hang.
pub(crate) const HANG: Duration = Duration::from_secs(30);

/// Poll `cond` until it holds; panic naming `what` if it has not after [`HANG`].
#[track_caller]
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "no progress after {HANG:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Is the thread named `thread` blocked in the slow path of a lock of `class`? Read from
/// lockdep's held-lock state (what the stress runner's watchdog prints), so a test can know that
/// a thread really waits, not merely that it was started.
pub(crate) fn blocked_on(thread: &str, class: LockClass) -> bool {
    held::all_threads()
        .iter()
        .any(|(name, _, waiting)| name == thread && waiting.is_some_and(|(c, _)| c == class))
}

/// Wait until the thread named `thread` is blocked on `class`.
#[track_caller]
pub(crate) fn wait_blocked(thread: &str, class: LockClass) {
    wait_until(&format!("{thread} to block on {class}"), || {
        blocked_on(thread, class)
    });
}

/// Spawn a named thread that reports into `sink`.
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    sink: &Sink,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let sink = sink.clone();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            sink.install();
            f()
        })
        .expect("spawn a test thread")
}

/// Join `h` within [`HANG`], failing the test with the thread's own panic if it panicked.
#[track_caller]
pub(crate) fn join<T>(h: JoinHandle<T>) -> T {
    let name = h.thread().name().unwrap_or("a test thread").to_string();
    wait_until(&format!("{name} to finish"), || h.is_finished());
    match h.join() {
        Ok(v) => v,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Run `f` on this thread with a fresh sink installed; return what was reported. Tests run in
/// parallel threads, so each test needs its own sink.
pub(crate) fn with_sink(f: impl FnOnce()) -> Vec<Violation> {
    let sink = Sink::new();
    sink.install();
    f();
    sink.take()
}

/// `mmap(MAP_SHARED)` of `pages` pages of `file` from page `pgoff`, at `start` of `mm`.
#[track_caller]
pub(crate) fn mmap_shared_file(
    w: &World,
    mm: MmId,
    start: u64,
    pages: u64,
    file: FileId,
    pgoff: u64,
) -> VmaId {
    mmap(
        w,
        mm,
        start,
        pages,
        MapKind::File {
            file,
            pgoff,
            shared: true,
        },
    )
    .expect("a VMA slot for the shared file mapping")
}

/// A small world for the swap and anonymous-reclaim tests (8 pages, 2 mms, 4 VMAs, 2 CPUs),
/// the modern kernel, with a violation sink installed.
pub(crate) fn swap_world() -> (World, Sink) {
    let cfg = WorldConfig {
        pages: 8,
        mms: 2,
        vmas: 4,
        ..WorldConfig::tiny(2)
    };
    let w = World::new(cfg, Kernel::default());
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

/// An mm with one anonymous page at va 0, cpu0 having stored `value` to it: its TLB caches
/// the PTE writable and dirty.
pub(crate) fn anon_page_stored(w: &World, value: u64) -> (MmId, Pfn) {
    let mm = mm_alloc(w).expect("mm");
    mmap(w, mm, 0, 1, MapKind::Anon).expect("mmap");
    access::store(w, 0, mm, 0, value).expect("store");
    let Some(Pte::Present { pfn, .. }) = w.pte_at(mm, 0) else {
        panic!("the store mapped a page")
    };
    (mm, pfn)
}

/// The world at rest breaks no oracle.
pub(crate) fn assert_world_clean(w: &World, sink: &Sink) {
    quiescent::check_world(w);
    let v: Vec<Violation> = sink.take();
    assert!(v.is_empty(), "{v:?}");
}
