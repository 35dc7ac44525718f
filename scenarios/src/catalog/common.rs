//! What every scenario does the same way: size its world, run its actors, check, and package
//! the outcome.

use crate::scenario::{Outcome, Size};
use mmlab_engine::actor::Env;
use mmlab_engine::check::quiescent;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::sync::Arc;

/// An actor: a name (printed in traces) and its body.
pub(crate) type Actor = (&'static str, Box<dyn FnOnce() + Send + 'static>);

/// A world for `size` with `cpus` CPUs (one per actor), tweaked by `f`.
///
/// On real threads, the world the previous iteration on this thread left behind is renewed
/// (`World::renew`) instead, if it has the same configuration and nothing else
/// holds it any more: the same state, without the allocations. A thread that runs one
/// iteration (the runner's `--harness spawn`) always builds a new one.
pub(crate) fn world(
    size: Size,
    cpus: usize,
    kernel: impl Into<Kernel>,
    f: impl FnOnce(&mut WorldConfig),
) -> Arc<World> {
    let kernel = kernel.into();
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
pub(crate) fn run(env: &Env, w: &Arc<World>, actors: Vec<Actor>) -> Outcome {
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
pub(crate) fn actor(name: &'static str, f: impl FnOnce() + Send + 'static) -> Actor {
    (name, Box::new(f))
}

/// How many rounds an actor repeats its step at `size` (1 under loom).
pub(crate) fn rounds(size: Size, stress: usize) -> usize {
    match size {
        Size::Tiny => 1,
        Size::Stress => stress,
    }
}

/// A scenario file's `//!` doc comment, as plain text (what `mmlab explain` prints).
pub(crate) fn story(source: &str) -> String {
    source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.strip_prefix("//! ")
                .or_else(|| l.strip_prefix("//!"))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Keeps stress-size helper actors (writers, refreshers) going for as long as the main actor
/// (a migrator) works, so that they overlap it instead of finishing before it starts. This is
/// the harness's own bookkeeping — observer state on `std` atomics, never kernel state — and it
/// is only consulted at [`Size::Stress`]: at Tiny size (loom) helpers repeat a fixed count, as
/// a loom model must not wait on what it cannot see. Run back to back on one thread
/// (`Harness::Inline`, the benchmarks' measure of the model's own work) there is no main actor
/// to overlap, so it behaves as at Tiny size there too.
#[derive(Debug, Clone)]
pub(crate) struct Overlap {
    size: Size,
    started: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Overlap {
    /// At most this many steps per helper, whatever the main actor does (a main actor that
    /// hangs must not leave its helpers spinning past the watchdog).
    const MAX_STEPS: usize = 20_000;

    /// For a world of `size`.
    pub(crate) fn new(size: Size) -> Self {
        Overlap {
            size,
            started: Default::default(),
            done: Default::default(),
        }
    }

    /// Main actor: wait (briefly, bounded) until `helpers` helpers have started. Returns at
    /// once at Tiny size.
    pub(crate) fn wait_for(&self, helpers: usize) {
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
    pub(crate) fn finish(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Helper: run `step` `tiny` times at Tiny size; at Stress size, at least `tiny` times and
    /// then until the main actor finishes (bounded by [`Self::MAX_STEPS`]).
    pub(crate) fn repeat(&self, tiny: usize, mut step: impl FnMut(usize)) {
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
pub(crate) fn migrate_hugetlb_index(
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
