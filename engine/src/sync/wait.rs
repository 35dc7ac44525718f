//! Sleeping and waking, for the sleeping lock kinds (RwSem, PageLock).
//!
//! Real mode parks on the lock word's address in parking_lot_core's hashed wait queues: the
//! same idea as the kernel's hashed page wait queues (`folio_waitqueue`). Loom has no parking
//! for arbitrary addresses, so a waiter yields and re-checks; loom's scheduler treats the yield
//! as "let every other thread run first", which keeps the model finite.
//!
//! A waiter never sleeps unboundedly in real mode: it wakes every `RECHECK` to look at the
//! thread's abort flag, so the stress runner's watchdog can unwind a hung iteration instead of
//! losing the process to it.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a parked waiter wakes to look at its abort flag.
const RECHECK: Duration = Duration::from_millis(20);

std::thread_local! {
    static ABORT: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// The panic payload of a wait that was aborted by the watchdog.
#[derive(Debug, Clone, Copy)]
pub struct Aborted;

/// Install (or clear) this thread's abort flag. When the flag is set, every wait in a sleeping
/// lock unwinds with [`Aborted`]. Used by the stress runner's watchdog.
pub fn set_abort_flag(flag: Option<Arc<AtomicBool>>) {
    ABORT.with(|a| *a.borrow_mut() = flag);
}

fn check_abort() {
    let abort = ABORT.with(|a| {
        a.borrow()
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    });
    if abort {
        std::panic::panic_any(Aborted);
    }
}

/// Sleep on `key` while `still_blocked()` holds. Returns when woken or when the condition no
/// longer holds; the caller re-tries its acquisition either way.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn block_on(key: usize, still_blocked: impl Fn() -> bool) {
    if super::LOOM {
        super::yield_now();
        return;
    }
    check_abort();
    let deadline = std::time::Instant::now() + RECHECK;
    // SAFETY: `key` is the address of a lock word owned by the caller's lock; parking_lot_core
    // only uses it as a hash key. `validate` runs under the bucket lock and does not call back
    // into parking_lot.
    unsafe {
        parking_lot_core::park(
            key,
            still_blocked,
            || {},
            |_, _| {},
            parking_lot_core::DEFAULT_PARK_TOKEN,
            Some(deadline),
        );
    }
}

/// Wake every waiter sleeping on `key`.
pub(crate) fn wake_all(key: usize) {
    if super::LOOM {
        return;
    }
    // SAFETY: `key` is the address of a lock word the caller owns (see `block_on`).
    unsafe {
        parking_lot_core::unpark_all(key, parking_lot_core::DEFAULT_UNPARK_TOKEN);
    }
}
