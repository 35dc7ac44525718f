//! Race windows: the named places where the kernel's races live, widened in stress mode.
//!
//! `race_window!("zap_pte_range: pte cleared, rmap not yet removed")` compiles to nothing under
//! loom (loom explores every interleaving anyway) and, on real threads, asks the thread's
//! injector whether to stall here: spin, yield or a short sleep, chosen by the iteration's seed.
//! A window a few nanoseconds wide in the code is then hit in seconds instead of days.
//! Replaying a seed repeats the injector's choices, not the OS scheduler's: a real-thread
//! replay is likely, not certain, to fail the same way (the loom suite gives exact replays).

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::cell::RefCell;

/// Mark a race window. See the module docs.
#[macro_export]
macro_rules! race_window {
    ($name:literal) => {
        if !$crate::sync::LOOM {
            $crate::race::window($name);
        }
    };
}

/// How the injector stalls a thread at a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// Busy-wait this many spin-loop hints.
    Spin(u32),
    /// Give the CPU away once.
    Yield,
    /// Sleep this many microseconds.
    Sleep(u32),
}

/// A seeded per-thread injector.
#[derive(Debug)]
pub struct Injector {
    rng: SmallRng,
    /// Probability (out of 256) of stalling at any window hit.
    rate: u32,
    /// Windows reached, whether or not the injector stalled there: one add per hit, read by
    /// [`hits`] (a count, not a per-window table, so that the hot path does no hashing).
    hits: u64,
}

impl Injector {
    /// An injector for one actor of one iteration.
    pub fn new(seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        // Each iteration draws its own aggressiveness, so a run covers both sparse and dense
        // stalling without the user tuning anything.
        let rate = rng.random_range(32..=192);
        Injector { rng, rate, hits: 0 }
    }

    fn choose(&mut self) -> Option<Stall> {
        if self.rng.random_range(0..256) >= self.rate {
            return None;
        }
        Some(match self.rng.random_range(0..10) {
            0..=4 => Stall::Spin(self.rng.random_range(50..4000)),
            5..=7 => Stall::Yield,
            _ => Stall::Sleep(self.rng.random_range(5..200)),
        })
    }
}

std::thread_local! {
    static INJECTOR: RefCell<Option<Injector>> = const { RefCell::new(None) };
}

/// Install (or remove, with `None`) the current thread's injector.
pub fn install(injector: Option<Injector>) {
    INJECTOR.with(|i| *i.borrow_mut() = injector);
}

/// How many race windows the current thread's injector has seen (0 without an injector): how
/// a test tells that an actor ran with injection on.
pub fn hits() -> u64 {
    INJECTOR.with(|i| i.borrow().as_ref().map_or(0, |i| i.hits))
}

/// A window was reached (called by [`race_window!`]).
///
/// `name` is the window's documentation at the call site; the injector does not look at it.
pub fn window(name: &'static str) {
    let _ = name;
    let stall = INJECTOR.with(|i| {
        let mut i = i.borrow_mut();
        let inj = i.as_mut()?;
        inj.hits += 1;
        inj.choose()
    });
    match stall {
        None => {}
        Some(Stall::Spin(n)) => {
            for _ in 0..n {
                std::hint::spin_loop();
            }
        }
        Some(Stall::Yield) => std::thread::yield_now(),
        Some(Stall::Sleep(us)) => {
            std::thread::sleep(std::time::Duration::from_micros(u64::from(us)))
        }
    }
}
