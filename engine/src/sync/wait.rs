//! Sleeping and waking, for the sleeping lock kinds (RwSem, PageLock), RCU's grace-period wait
//! and, under loom only, a spinlock's waiters.
//!
//! Real mode parks on the lock word's address in parking_lot_core's hashed wait queues: the
//! same idea as the kernel's hashed page wait queues (`folio_waitqueue`).
//!
//! Loom blocks the waiter too (`loom::thread::park` on a per-execution wait queue, in the sync
//! facade): a blocked model thread is not scheduled until a waker unparks it. A waiter that
//! yielded and re-checked instead (as this lab did before) was runnable again as soon as any
//! other thread took a step, and every re-check was another scheduling point: interleavings
//! that differ only in how often a waiter looked at a lock that had not changed. Loom's own
//! documentation warns that spin loops blow up the state space. Blocking keeps the lock
//! semantics (the woken waiter races for the lock like any other thread) and explores only
//! the interleavings in which something changed.
//!
//! The contract that keeps wakeups from being lost, under loom: the waker changes the lock
//! word with an atomic read-modify-write and then calls `wake_all`; the waiter's
//! `still_blocked` reads the lock word with **one** atomic read-modify-write (`recheck`); and
//! nothing writes a lock word with a plain store while it may have waiters. Loom switches model
//! threads only at a loom operation, so the waiter's re-check, queueing and sleep are one step,
//! and so are the waker's update and its look at the queue; a read-modify-write reads the
//! newest value in the word's modification order, which is a chain when every write is one
//! (a plain store may be left unordered with a concurrent read-modify-write in loom's
//! modification order, and the next read-modify-write may then read either: a lost wakeup
//! that no real execution has). So either the waker's update came first and the waiter's
//! re-check sees it, or the waiter was queued first and the waker wakes it. This is the
//! kernel's wait-queue protocol with its `q->lock` made implicit: `folio_wait_bit_common`
//! queues the waiter and tests the bit under `q->lock`, and `folio_wake_bit` takes it to wake.
//! In real mode `still_blocked` runs under the parking_lot bucket's lock, which the waker's
//! unpark takes.
//!
//! A waiter never sleeps unboundedly in real mode: it wakes every `RECHECK` to look at the
//! thread's abort flag, so the stress runner's watchdog can unwind a hung iteration instead of
//! losing the process to it. The watchdog and the abort flag are real-mode only.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::AtomicBool as StdAtomicBool;
use std::time::Duration;

use super::Ordering;

/// How often a parked waiter wakes to look at its abort flag.
const RECHECK: Duration = Duration::from_millis(20);

std::thread_local! {
    static ABORT: RefCell<Option<Arc<StdAtomicBool>>> = const { RefCell::new(None) };
}

/// The panic payload of a wait that was aborted by the watchdog.
#[derive(Debug, Clone, Copy)]
pub struct Aborted;

/// Install (or clear) this thread's abort flag. When the flag is set, every wait in a sleeping
/// lock unwinds with [`Aborted`]. Used by the stress runner's watchdog.
pub fn set_abort_flag(flag: Option<Arc<StdAtomicBool>>) {
    ABORT.with(|a| *a.borrow_mut() = flag);
}

fn check_abort() {
    let abort = ABORT.with(|a| {
        a.borrow()
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    });
    if abort {
        std::panic::panic_any(Aborted);
    }
}

/// Sleep on `key` while `still_blocked()` holds. Returns whether it slept: `false` when
/// `still_blocked()` was already false. Either way the caller re-tries its acquisition (a wake
/// hands nothing over: the woken waiter races for the lock).
///
/// `still_blocked` must read the lock word once, with [`recheck`] (or another atomic
/// read-modify-write): see the module's note on lost wakeups.
pub(crate) fn block_on(key: usize, still_blocked: impl FnOnce() -> bool) -> bool {
    if !super::LOOM {
        check_abort();
    }
    super::park(key, still_blocked, std::time::Instant::now() + RECHECK)
}

/// Wake every waiter sleeping on `key`. Called after the lock word has been changed.
pub(crate) fn wake_all(key: usize) {
    super::unpark_all(key);
}

/// A sleeper's look at its lock word before it sleeps. Real mode: a load (it runs under the
/// wait-queue bucket's lock, which orders it with the waker's unpark). Loom: a read-modify-write
/// that changes nothing (`fetch_or(0)`), because loom returns the newest value in the word's
/// modification order only to a read-modify-write; a load could see an older value, sleep on
/// a lock already released, and never be woken. Relaxed: the sleeper learns whether to sleep,
/// not data (it re-tries the acquisition afterwards), and a release here would order the
/// sleeper's earlier accesses before the next holder's, which the kernel's waiter does not.
#[inline]
pub(crate) fn recheck<A: Recheck>(word: &A) -> A::Value {
    if super::LOOM {
        word.fetch_or_zero()
    } else {
        word.load_seqcst()
    }
}

/// The atomic lock words a sleeper re-checks: [`recheck`]'s two ways of reading one.
pub(crate) trait Recheck {
    /// The word's value.
    type Value;
    /// `fetch_or(0, Relaxed)`.
    fn fetch_or_zero(&self) -> Self::Value;
    /// `load(SeqCst)`.
    fn load_seqcst(&self) -> Self::Value;
}

macro_rules! recheck_impl {
    ($($atomic:ty => $value:ty, $zero:expr;)*) => {$(
        impl Recheck for $atomic {
            type Value = $value;
            #[inline]
            fn fetch_or_zero(&self) -> $value {
                self.fetch_or($zero, Ordering::Relaxed)
            }
            #[inline]
            fn load_seqcst(&self) -> $value {
                self.load(Ordering::SeqCst)
            }
        }
    )*};
}

recheck_impl! {
    super::AtomicBool => bool, false;
    super::AtomicU32 => u32, 0;
}
