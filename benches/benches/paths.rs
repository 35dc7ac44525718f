//! What a kernel path costs in the model, per page, beside what its locks cost.
//!
//! `paths/anon`: one CPU maps a 512-page anonymous range, stores to every page (each store
//! takes a fault: `do_anonymous_page`, then the hardware walk fills the TLB) and munmaps it
//! (zap, `free_pgtables`, `tlb_finish_mmu`, every page back to the allocator).
//! `paths/file`: the same over a MAP_SHARED mapping of a 512-page file whose page cache stays
//! populated between iterations (`do_shared_fault` finds each page cached; munmap's zap takes
//! the delayed-rmap path for every dirty PTE).
//! `paths/thp`: the anonymous range made `MADV_HUGEPAGE`, so each of its 8 PMDs takes one THP
//! fault (`do_huge_pmd_anonymous_page`: a 64-page compound page, the deposited table, the
//! huge PMD under the PMD lock) and every other store only a walk of the huge PMD; munmap's
//! `zap_pmd_range` zaps each whole PMD with `zap_huge_pmd`.
//!
//! Each is measured with the instrumentation off (`switches::set_stats(false)`,
//! `set_lockdep(false)`, the world's domain trace off) and on (all three on), reported per
//! page (`Throughput::Elements(512)`).
//! `locks/*`: an uncontended lock + unlock of each lock kind these paths take, off and on.
//! `rmap/migrate/K` and `rmap/walk/K`: migration of one page mapped by K VMAs, and an rmap walk
//! over its K mappings, per mapping (K = 1, 8, 64).
//!
//! Time is the bench thread's CPU time (`CLOCK_THREAD_CPUTIME_ID` on Linux, wall time
//! elsewhere): every bench here is one thread that never blocks, so on an idle machine the two
//! agree, and on a shared one (the lab's CI boxes run several builds on two cores) CPU time
//! leaves out the time the thread sat descheduled, which made wall-clock figures vary 2–3×
//! between runs.
//!
//! Run: `cargo bench -p mmlab-benches --bench paths -- --warm-up-time 1 --measurement-time 3`.
//! The figures and what dominates them are in docs/PERFORMANCE.md ("Paths").

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mmlab_engine::check::Sink;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, huge_memory, munmap};
use mmlab_engine::sync::{AtomicU32, LockClass, PageLock, RwSem, SpinLock, switches};
use std::hint::black_box;
use std::time::Duration;

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
        ..WorldConfig::stress(1)
    }
}

/// This thread's CPU time so far.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_time() -> Duration {
    /// `struct timespec` on 64-bit Linux.
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    // The C library std already links.
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `struct timespec` through the pointer, which points at
    // a live, properly laid out local; no lock is involved.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Elsewhere: wall time since the first call (the benches then measure wall time).
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_time() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// Run `routine` `iters` times and return the CPU time it took (for `Bencher::iter_custom`).
fn cpu_time(iters: u64, mut routine: impl FnMut()) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iters {
        routine();
    }
    thread_cpu_time() - start
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
    store_munmap(w, mm, vma);
}

/// One THP iteration: map, `MADV_HUGEPAGE`, store to every page (a THP fault per PMD),
/// munmap.
fn thp_fault_store_munmap(w: &World, mm: MmId) {
    let vma = mmap(w, mm, 0, RANGE, MapKind::Anon).expect("the range fits the world");
    huge_memory::madvise_hugepage(w, mm, 0, RANGE).expect("MADV_HUGEPAGE");
    store_munmap(w, mm, vma);
}

/// Store to every page of the range (faulting as needed), then munmap it.
fn store_munmap(w: &World, mm: MmId, vma: mmlab_engine::mm::VmaId) {
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
            let w = World::new(world(), Kernel::default());
            w.trace.set_enabled(on);
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
                b.iter_custom(|iters| {
                    cpu_time(iters, || fault_store_munmap(&w, mm, black_box(kind)))
                })
            });
            let violations = sink.take();
            assert!(violations.is_empty(), "{name}: {violations:?}");
        }
    }
    for on in [false, true] {
        instrumentation(on);
        let sink = Sink::new();
        sink.install();
        let w = World::new(world(), Kernel::default());
        w.trace.set_enabled(on);
        let mm = mm_alloc(&w).expect("one mm");
        let name = format!("thp/{}", label(on));
        g.bench_function(name.as_str(), |b| {
            b.iter_custom(|iters| cpu_time(iters, || thp_fault_store_munmap(&w, black_box(mm))))
        });
        let violations = sink.take();
        assert!(violations.is_empty(), "{name}: {violations:?}");
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
            b.iter_custom(|iters| cpu_time(iters, || drop(black_box(&ptl).lock())))
        });
        g.bench_function(format!("rwsem-read/{}", label(on)), |b| {
            b.iter_custom(|iters| cpu_time(iters, || drop(black_box(&mmap_lock).read())))
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

/// Sharers of one file page in the migration and rmap-walk benches.
const SHARERS: [usize; 3] = [1, 8, 64];

/// A world where `k` mms each map one shared page of one file.
fn shared_page(k: usize) -> (World, mmlab_engine::mm::Pfn) {
    let w = World::new(
        WorldConfig {
            cpus: 1,
            pages: 8,
            mms: k,
            vmas: k,
            anon_vmas: 1,
            tables: k,
            ptes_per_table: 1,
            pmds_per_mm: 1,
            files: vec![(1, false)],
            tlb_entries: 1,
            ..WorldConfig::stress(1)
        },
        Kernel::default(),
    );
    w.trace.set_enabled(false);
    let file = w.file(0);
    for _ in 0..k {
        let mm = mm_alloc(&w).expect("an mm per sharer");
        mmap(
            &w,
            mm,
            0,
            1,
            MapKind::File {
                file,
                pgoff: 0,
                shared: true,
            },
        )
        .expect("one page");
        access::load(&w, 0, mm, 0).expect("fault it in");
    }
    let pfn = w.files.get(file).i_pages.lock().pages[0].expect("cached");
    (w, pfn)
}

/// Migration of one page mapped by 1, 8 and 64 VMAs (`migrate_pages`: try_to_migrate over
/// every mapping, the refcount freeze, the copy, remove_migration_ptes), and an rmap walk
/// that visits every mapping (`page_vma_mapped_walk` under each PTL, i_mmap_rwsem read held
/// for the whole walk), both reported per mapping. Instrumentation off.
fn rmap(c: &mut Criterion) {
    use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages};
    use mmlab_engine::ops::pagemap::lock_page;
    use mmlab_engine::ops::pvmw::{PVMW_SYNC, page_vma_mapped_walk};
    use mmlab_engine::ops::rmap_walk::{RmapWalkControl, rmap_walk};
    instrumentation(false);
    let mut g = c.benchmark_group("rmap");
    for k in SHARERS {
        g.throughput(Throughput::Elements(k as u64));
        let (w, first) = shared_page(k);
        let file = w.file(0);
        g.bench_function(format!("migrate/{k}-mappings"), |b| {
            b.iter_custom(|iters| {
                cpu_time(iters, || {
                    // Each round allocates its newpage into a one-page pool; the old page is
                    // freed by the migration, so the world never runs out.
                    let pfn = w.files.get(file).i_pages.lock().pages[0].expect("cached");
                    let pool = NewPagePool::new(&w, 1);
                    assert!(isolate_lru_page(&w, pfn));
                    assert!(migrate_pages(&w, &pool, &[pfn]).is_empty(), "migrated");
                })
            })
        });
        let _ = first;
        g.bench_function(format!("walk/{k}-mappings"), |b| {
            b.iter_custom(|iters| {
                let pfn = w.files.get(file).i_pages.lock().pages[0].expect("cached");
                let page = lock_page(&w, pfn);
                let t = cpu_time(iters, || {
                    let mut found = 0usize;
                    let mut one = |vma, va| {
                        found += usize::from(
                            page_vma_mapped_walk(&w, pfn, vma, va, PVMW_SYNC).is_some(),
                        );
                        true
                    };
                    let mut rwc = RmapWalkControl::new(&mut one);
                    rwc.anon_lock = Some(w.kernel.rmap.anon_lock);
                    rmap_walk(&w, &page, &mut rwc);
                    assert_eq!(found, k);
                });
                page.unlock();
                t
            })
        });
    }
    g.finish();
    instrumentation(true);
}

criterion_group!(benches, paths, locks, rmap);
criterion_main!(benches);
