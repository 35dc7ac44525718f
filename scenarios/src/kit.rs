//! The scenario kit: what every scenario does the same way — size its world, run its actors,
//! check, and package the outcome — public, so that a scenario outside this crate (see
//! `examples/my-patch`) is written exactly as the catalog's are.
//!
//! # The `Scenario::run` contract
//!
//! [`Scenario::run`](crate::scenario::Scenario::run) is called once per iteration: once per
//! interleaving under loom (at [`Size::Tiny`], on loom's threads), once per seed on real
//! threads (at [`Size::Stress`]). Each call, in this order:
//!
//! 1. **Build the world** with [`world`]: `World::new` for the size, with the kernel function
//!    table the variant chose (`Kernel::default()` is the modern kernel). Under loom every
//!    call builds a fresh world; on real threads the previous iteration's world on this thread
//!    is renewed in place when it fits (the same state, without the allocations).
//! 2. **Nothing to install**: whoever calls `run` (the runner, the loom explorer) does it
//!    inside `env.play`, which installs the iteration's one sink — the [`Env`]'s — on the
//!    calling thread; the actors get it from the `Env` too. Setup violations land there.
//!    (Under loom a violation panics where it is reported instead.)
//! 3. **Set up** on the calling thread: mms, mappings ([`mmap_shared_file`]), faults, page
//!    references. Nothing here races: no actor has started.
//! 4. **Hand the actors to [`run`]**: each an [`Actor`] made with [`actor`], the last in the
//!    list being the one loom runs first, inline. [`run`] runs them to completion through the
//!    [`Env`] (which injects the seeded delays at race windows on real threads), checks every
//!    quiescent invariant on the world they leave, and returns the [`Outcome`]: every
//!    violation reported, and the domain trace rendered — only when something fired (rendering
//!    is the expensive part of a clean iteration).
//!
//! Randomness comes from `env.seed` only (iteration 0 of a run *is* the run seed, which is
//! what makes a printed `--seed S --iterations 1` replay the iteration); at Tiny size a
//! scenario uses none, so that loom's exploration and its checkpoint replay are deterministic.
//!
//! # Slot reuse: last in, first out
//!
//! Every arena of the world (mms, VMAs, anon_vmas, page tables, pages) hands out its free
//! slots last-in first-out: **a slot freed is the next one allocated** from that arena, with a
//! new generation. That decides whether a race's stale id points at a reused object (the
//! kernel's `SLAB_TYPESAFE_BY_RCU` case: the slot is live again, and a reader that does not
//! re-validate sees someone else's object) or at a freed one (a reported use-after-free,
//! `StaleId`). A scenario that wants reuse frees and allocates back to back; one that wants a
//! plain use-after-free allocates nothing of that kind in between. The page allocator's free
//! list is LIFO too, and is kernel state (under the zone lock): a page freed by `put_page` is
//! the next `alloc_page`'s.

use crate::scenario::{Outcome, Size};
use mmlab_engine::actor::Env;
use mmlab_engine::check::quiescent;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{FileId, MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mmap};
use mmlab_engine::sync::Arc;

/// An actor: a name (printed in traces, and the name of its thread) and its body — the
/// engine's own type (`Env::run` takes them), re-exported here so that a scenario needs one
/// import.
pub use mmlab_engine::actor::Actor;

/// A world for `size` with `cpus` CPUs (one per actor), running `kernel` — with the process's
/// [`patch`](crate::patch) applied on top, if one is — and tweaked by `f`.
///
/// On real threads, the world the previous iteration on this thread left behind is renewed
/// (`World::renew`) instead, if it has the same configuration and nothing else
/// holds it any more: the same state, without the allocations. A thread that runs one
/// iteration (the runner's `--harness spawn`) always builds a new one.
pub fn world(
    size: Size,
    cpus: usize,
    mut kernel: Kernel,
    f: impl FnOnce(&mut WorldConfig),
) -> Arc<World> {
    crate::patch::patch_kernel(&mut kernel);
    let mut cfg = match size {
        Size::Tiny => WorldConfig::tiny(cpus),
        Size::Stress => WorldConfig::stress(cpus),
    };
    f(&mut cfg);
    #[cfg(not(mmlab_loom))]
    if let Some(w) = spare::renew(&cfg, kernel) {
        return w;
    }
    Arc::new(World::new(cfg, kernel))
}

/// The world an iteration leaves behind for the next one on its thread (real threads only:
/// under loom every execution must build its own).
#[cfg(not(mmlab_loom))]
mod spare {
    use mmlab_engine::kernel::Kernel;
    use mmlab_engine::mm::{World, WorldConfig};
    use std::cell::RefCell;
    use std::sync::Arc;

    std::thread_local! {
        /// Protected by: being thread-local (the thread that runs a scenario's setup).
        static SPARE: RefCell<Option<Arc<World>>> = const { RefCell::new(None) };
    }

    /// Keep `w` for the next iteration on this thread.
    pub(super) fn keep(w: &Arc<World>) {
        SPARE.with(|s| *s.borrow_mut() = Some(w.clone()));
    }

    /// The spare world, renewed, if it fits and nobody else holds it (an abandoned actor may).
    /// Its kernel table is replaced by `kernel`: the table is behaviour, not state.
    pub(super) fn renew(cfg: &WorldConfig, kernel: Kernel) -> Option<Arc<World>> {
        let mut w = SPARE.with(|s| s.borrow_mut().take())?;
        let world = Arc::get_mut(&mut w)?;
        if world.cfg != *cfg || !world.renew() {
            return None;
        }
        world.kernel = kernel;
        Some(w)
    }
}

/// Run the actors, then the quiescent invariants, and collect what fired. Setup done before
/// this call runs on the caller's thread, which is not one of the actors.
pub fn run(env: &Env, w: &Arc<World>, actors: Vec<Actor>) -> Outcome {
    env.run(actors);
    quiescent::check_world(w);
    let violations = env.sink.take();
    let trace = if violations.is_empty() {
        String::new()
    } else {
        w.trace.render(80)
    };
    #[cfg(not(mmlab_loom))]
    spare::keep(w);
    Outcome {
        violations,
        trace,
        ops: Vec::new(),
    }
}

/// Box an actor body.
pub fn actor(name: &'static str, f: impl FnOnce() + Send + 'static) -> Actor {
    (name, Box::new(f))
}

/// How many rounds an actor repeats its step at `size` (1 under loom).
pub fn rounds(size: Size, stress: usize) -> usize {
    match size {
        Size::Tiny => 1,
        Size::Stress => stress,
    }
}

/// The mapping kind of `file` from page `pgoff`, `MAP_SHARED`.
pub fn shared_file(file: FileId, pgoff: u64) -> MapKind {
    MapKind::File {
        file,
        pgoff,
        shared: true,
    }
}

/// `mmap(start, pages, MAP_SHARED, file, 0)` in `mm`: the shared file mapping most stories
/// start from. Panics if the mapping cannot be made (setup is not the race).
pub fn mmap_shared_file(w: &World, mm: MmId, start: u64, pages: u64, file: FileId) -> VmaId {
    mmap(w, mm, start, pages, shared_file(file, 0)).expect("mmap of the shared file")
}

/// Keeps stress-size helper actors (writers, refreshers) going for as long as the main actor
/// (a migrator) works, so that they overlap it instead of finishing before it starts. This is
/// the harness's own bookkeeping — observer state on `std` atomics, never kernel state — and it
/// is only consulted at [`Size::Stress`]: at Tiny size (loom) helpers repeat a fixed count, as
/// a loom model must not wait on what it cannot see. Run back to back on one thread
/// (`Harness::Inline`, the benchmarks' measure of the model's own work) there is no main actor
/// to overlap, so it behaves as at Tiny size there too.
#[derive(Debug, Clone)]
pub struct Overlap {
    size: Size,
    started: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Overlap {
    /// At most this many steps per helper, whatever the main actor does (a main actor that
    /// hangs must not leave its helpers spinning past the watchdog).
    pub const MAX_STEPS: usize = 20_000;

    /// For a world of `size`.
    pub fn new(size: Size) -> Self {
        Overlap {
            size,
            started: Default::default(),
            done: Default::default(),
        }
    }

    /// Main actor: wait (briefly, bounded) until `helpers` helpers have started. Returns at
    /// once at Tiny size.
    pub fn wait_for(&self, helpers: usize) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.size == Size::Tiny || mmlab_engine::actor::running_inline() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(20);
        while self.started.load(SeqCst) < helpers && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
    }

    /// Main actor: done; helpers stop after their current step.
    pub fn finish(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Helper: run `step` `tiny` times at Tiny size; at Stress size, at least `tiny` times and
    /// then until the main actor finishes (bounded by [`Self::MAX_STEPS`]).
    pub fn repeat(&self, tiny: usize, mut step: impl FnMut(usize)) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.size == Size::Tiny || mmlab_engine::actor::running_inline() {
            (0..tiny).for_each(step);
            return;
        }
        self.started.fetch_add(1, SeqCst);
        for i in 0..Self::MAX_STEPS {
            if i >= tiny && self.done.load(SeqCst) {
                break;
            }
            step(i);
        }
    }
}

/// How many times a hugetlb migrator tries one page before putting it back.
const HUGETLB_TRIES: usize = 3;

/// Migrate the hugetlbfs page-cache page at `index` of `file`: isolate it,
/// `unmap_and_move_huge_page` with a page from `pool`, retry on -EAGAIN, put it back if it
/// never moved (success drops the isolation reference itself).
pub fn migrate_hugetlb_index(
    w: &World,
    pool: &mmlab_engine::ops::migrate::NewPagePool,
    file: mmlab_engine::mm::FileId,
    index: u64,
) {
    use mmlab_engine::ops::migrate::{self, MigrateResult};
    let cached = w.files.get(file).i_pages.lock().pages[index as usize];
    let Some(pfn) = cached else {
        return;
    };
    if !migrate::isolate_lru_page(w, pfn) {
        return;
    }
    for _ in 0..HUGETLB_TRIES {
        match (w.kernel.migrate.unmap_and_move_huge_page)(w, pool, pfn) {
            MigrateResult::Success => return,
            MigrateResult::NoMem => break,
            MigrateResult::Again => {}
        }
    }
    migrate::putback_lru_page(w, pfn);
}
