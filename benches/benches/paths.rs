//! What a kernel path costs in the model, per page, beside what its locks cost.
//!
//! `paths/anon`: one CPU maps a 512-page anonymous range, stores to every page (each store
//! takes a fault: `do_anonymous_page`, then the hardware walk fills the TLB) and munmaps it
//! (zap, `free_pgtables`, `tlb_finish_mmu`, every page back to the allocator).
//! `paths/file`: the same over a MAP_SHARED mapping of a 512-page file whose page cache stays
//! populated between iterations (`do_shared_fault` finds each page cached; munmap's zap takes
//! the delayed-rmap path for every dirty PTE).
//!
//! Each is measured with the instrumentation off (`switches::set_stats(false)`,
//! `set_lockdep(false)`) and on (both true), reported per page (`Throughput::Elements(512)`).
//! `locks/*`: an uncontended lock + unlock of each lock kind these paths take, off and on.
//!
//! Run: `cargo bench -p mmlab-benches --bench paths -- --warm-up-time 1 --measurement-time 3`.
//! The figures and what dominates them are in docs/PERFORMANCE.md ("Paths").

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mmlab_engine::check::Sink;
use mmlab_engine::mm::{MmId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap};
use mmlab_engine::protocol::Protocol;
use mmlab_engine::sync::{AtomicU32, LockClass, PageLock, RwSem, SpinLock, switches};
use std::hint::black_box;

/// Pages mapped, stored to and unmapped per iteration.
const RANGE: u64 = 512;

/// A world with room for one 512-page range (anonymous, or a file's) and its tables.
fn world() -> WorldConfig {
    WorldConfig {
        cpus: 1,
        pages: 1024,
        mms: 1,
        vmas: 2,
        anon_vmas: 2,
        tables: 128,
        ptes_per_table: 64,
        pmds_per_mm: 128,
        files: vec![(RANGE as usize, false)],
        tlb_entries: 32,
    }
}

/// Both instrumentation switches at once.
fn instrumentation(on: bool) {
    switches::set_stats(on);
    switches::set_lockdep(on);
}

fn label(on: bool) -> &'static str {
    if on {
        "instrumentation-on"
    } else {
        "instrumentation-off"
    }
}

/// One iteration: map, store to every page (faulting each in), munmap.
fn fault_store_munmap(w: &World, mm: MmId, kind: MapKind) {
    let vma = mmap(w, mm, 0, RANGE, kind).expect("the range fits the world");
    for va in 0..RANGE {
        access::store(w, 0, mm, va, va).expect("a store to a mapped page");
    }
    munmap::munmap(w, mm, vma).expect("munmap of the range");
}

fn paths(c: &mut Criterion) {
    let mut g = c.benchmark_group("paths");
    g.throughput(Throughput::Elements(RANGE));
    for file in [false, true] {
        for on in [false, true] {
            instrumentation(on);
            let sink = Sink::new();
            sink.install();
            let w = World::new(world(), Protocol::default());
            let mm = mm_alloc(&w).expect("one mm");
            let kind = if file {
                MapKind::File {
                    file: w.file(0),
                    pgoff: 0,
                    shared: true,
                }
            } else {
                MapKind::Anon
            };
            let name = format!("{}/{}", if file { "file" } else { "anon" }, label(on));
            g.bench_function(name.as_str(), |b| {
                b.iter(|| fault_store_munmap(&w, mm, black_box(kind)))
            });
            let violations = sink.take();
            assert!(violations.is_empty(), "{name}: {violations:?}");
        }
    }
    g.finish();
    instrumentation(true);
}

fn locks(c: &mut Criterion) {
    let mut g = c.benchmark_group("locks");
    let ptl = SpinLock::new(LockClass::Ptl, ());
    let mmap_lock = RwSem::new(LockClass::MmapLock, ());
    let flags = AtomicU32::new(0);
    for on in [false, true] {
        instrumentation(on);
        g.bench_function(format!("spinlock/{}", label(on)), |b| {
            b.iter(|| drop(black_box(&ptl).lock()))
        });
        g.bench_function(format!("rwsem-read/{}", label(on)), |b| {
            b.iter(|| drop(black_box(&mmap_lock).read()))
        });
        g.bench_function(format!("page-lock/{}", label(on)), |b| {
            b.iter(|| {
                PageLock::new(black_box(&flags), LockClass::PageLock)
                    .lock()
                    .unlock()
            })
        });
    }
    g.finish();
    instrumentation(true);
}

criterion_group!(benches, paths, locks);
criterion_main!(benches);
