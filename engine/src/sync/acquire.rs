//! The bookkeeping every lock kind does around an acquisition: lockdep before blocking,
//! lock_stat after, and the per-acquisition state that a guard carries to the release.

use super::class::LockClass;
use super::held::Mode;
use super::lockdep::{self, Attempt};
use super::{lock_stat, switches};
use std::marker::PhantomData;
use std::time::Instant;

pub(crate) use super::class::LockId;
pub(crate) use crate::report::Site;

/// Per-acquisition state, carried by the guard (lock_api 0.5's `RawMutex::Guard`).
///
/// Not `Send`: the held-lock record lives in the acquiring thread's lockdep state, as a
/// kernel lock is released by the context that took it.
#[derive(Debug)]
pub struct Acquisition {
    class: LockClass,
    instance: usize,
    lockdep: bool,
    /// When the hold began, on lock_stat's clock (`None` with stats off).
    acquired_at: Option<u64>,
    /// Where the lock was taken: the one call site a report about a guard's release can name
    /// when the release itself happens in drop glue, which `#[track_caller]` does not reach.
    site: Site,
    _not_send: PhantomData<*const ()>,
}

/// Checks to run before an attempt: lockdep's order and context checks. Returns whether lockdep
/// is on for this acquisition.
#[inline]
pub(crate) fn before(lock: LockId, subclass: u8, attempt: Attempt, site: Site) -> bool {
    let on = switches::lockdep();
    if on {
        lockdep::check_acquire(lock, subclass, attempt, site);
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
pub(crate) fn after(
    lock: LockId,
    subclass: u8,
    mode: Mode,
    attempt: Attempt,
    lockdep_on: bool,
    wait_start: Option<Instant>,
    site: Site,
) -> Acquisition {
    if lockdep_on {
        lockdep::acquired(lock, subclass, mode, attempt, site);
    }
    let acquired_at = switches::stats().then(|| lock_stat::acquired(lock.class, wait_start, site));
    Acquisition {
        class: lock.class,
        instance: lock.instance,
        lockdep: lockdep_on,
        acquired_at,
        site,
        _not_send: PhantomData,
    }
}

/// Account for a release at `site`; `None` when a guard is dropped (the drop's own location is
/// in the standard library, not in the caller).
#[inline]
pub(crate) fn release(acq: Acquisition, site: Option<Site>) {
    if acq.lockdep {
        lockdep::released(acq.class, acq.instance, site, Some(acq.site));
    }
    if let Some(since) = acq.acquired_at {
        lock_stat::released(acq.class, since);
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

    /// Where the lock was taken.
    pub(crate) fn site(&self) -> Site {
        self.site
    }
}
