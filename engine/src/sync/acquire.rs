//! The bookkeeping every lock kind does around an acquisition: lockdep before blocking,
//! lock_stat after, and the per-acquisition state that a guard carries to the release.

use super::class::LockClass;
use super::held::Mode;
use super::lockdep::{self, Attempt};
use super::{lock_stat, switches};
use std::marker::PhantomData;
use std::panic::Location;
use std::time::Instant;

pub(crate) type Site = &'static Location<'static>;

/// Per-acquisition state, carried by the guard (lock_api 0.5's `RawMutex::Guard`).
///
/// Not `Send`: the held-lock record lives in the acquiring thread's lockdep state, as a
/// kernel lock is released by the context that took it.
#[derive(Debug)]
pub struct Acquisition {
    class: LockClass,
    instance: usize,
    lockdep: bool,
    acquired_at: Option<Instant>,
    _not_send: PhantomData<*const ()>,
}

/// Checks to run before an attempt: lockdep's order and context checks. Returns whether lockdep
/// is on for this acquisition.
#[inline]
pub(crate) fn before(
    class: LockClass,
    subclass: u8,
    instance: usize,
    attempt: Attempt,
    site: Site,
) -> bool {
    let on = switches::lockdep();
    if on {
        lockdep::check_acquire(class, subclass, instance, attempt, site);
    }
    on
}

/// Note that the thread is about to block (for the watchdog). Returns the wait's start time.
#[cold]
pub(crate) fn contended(class: LockClass, lockdep_on: bool, site: Site) -> Option<Instant> {
    if lockdep_on {
        lockdep::waiting(class, site);
    }
    if switches::stats() {
        super::now()
    } else {
        None
    }
}

/// Build the state of a successful acquisition.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn after(
    class: LockClass,
    subclass: u8,
    instance: usize,
    mode: Mode,
    attempt: Attempt,
    lockdep_on: bool,
    wait_start: Option<Instant>,
    site: Site,
) -> Acquisition {
    if lockdep_on {
        lockdep::acquired(class, subclass, instance, mode, attempt, site);
    }
    let acquired_at = if switches::stats() {
        let now = Instant::now();
        lock_stat::acquired(class, wait_start.map(|t| now - t), site);
        Some(now)
    } else {
        None
    };
    Acquisition {
        class,
        instance,
        lockdep: lockdep_on,
        acquired_at,
        _not_send: PhantomData,
    }
}

/// Account for a release.
#[inline]
pub(crate) fn release(acq: Acquisition, site: Site) {
    if acq.lockdep {
        lockdep::released(acq.class, acq.instance, site);
    }
    if let Some(t) = acq.acquired_at {
        lock_stat::released(acq.class, t.elapsed());
    }
}

impl Acquisition {
    /// The instance this acquisition is of.
    pub(crate) fn instance(&self) -> usize {
        self.instance
    }

    /// Is lockdep tracking this acquisition?
    pub(crate) fn tracked(&self) -> bool {
        self.lockdep
    }
}
