//! The world's unmap log: what the zap-completion (I14) and lost-store oracles need to know
//! about time — which TLB entries predate an unmap, whether a fault could have refilled the
//! range meanwhile, and which unmaps have returned. (Also reachable as `check::unmapped`.)
//!
//! Observer state ([`crate::sync::ObserverMutex`]): the lab's notebook, invisible to loom. A
//! logical clock, the *epoch*, orders three kinds of event: a TLB fill (the walk that created
//! an entry stamps it, [`crate::mm::TlbEntry::filled`]), the start of a munmap or
//! MADV_DONTNEED ([`UnmapStart`]), and its return ([`UnmapLog::returned`]). Then:
//!
//! * an entry filled before an unmap began was filled from a PTE that unmap had to zap, so once
//!   the unmap returns that entry must be gone (I14), and a store through it — whatever page it
//!   lands in — is a lost store: the mm no longer maps that page there;
//! * an entry filled after the unmap began may come from a legitimate refault (MADV_DONTNEED
//!   keeps the VMA) and goes through a new PTE: it is not the unmap's business.
//!
//! The PTE half of I14 after MADV_DONTNEED holds only if no fault could have refilled the
//! range: the log counts faults per mm ([`UnmapLog::fault_begin`], called by
//! `handle_mm_fault`), and the check is skipped when one was in flight or began meanwhile.

use super::ids::MmId;
use std::collections::{HashMap, VecDeque};

/// Which call tore the range down (for I14's and the lost-store oracle's messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZapCall {
    /// `munmap`: the VMA is gone; nothing may map the range afterwards.
    Munmap,
    /// `madvise(MADV_DONTNEED)`: the VMA stays; a later (or concurrent) fault may refill it.
    MadvDontneed,
}

impl ZapCall {
    /// The call's name as a user would write it.
    pub fn name(self) -> &'static str {
        match self {
            ZapCall::Munmap => "munmap",
            ZapCall::MadvDontneed => "MADV_DONTNEED",
        }
    }
}

/// Taken when a munmap or MADV_DONTNEED begins (under its `mmap_lock`, before any zap).
#[derive(Debug, Clone, Copy)]
pub struct UnmapStart {
    /// The epoch at the start: TLB entries stamped earlier predate the unmap.
    pub epoch: u64,
    mm: MmId,
    faults_begun: u64,
    faults_in_flight: u64,
}

impl UnmapStart {
    /// The mm being unmapped.
    pub fn mm(&self) -> MmId {
        self.mm
    }
}

/// One unmap that returned.
#[derive(Debug, Clone, Copy)]
struct Returned {
    call: ZapCall,
    mm: MmId,
    start: u64,
    end: u64,
    began: u64,
}

/// How many returned unmaps are remembered. An entry older than the oldest remembered unmap
/// that covers it is no longer checked: a miss, never a false report.
const REMEMBERED: usize = 64;

/// The log. One per world (`World::unmaps`).
#[derive(Debug, Default)]
pub struct UnmapLog {
    epoch: u64,
    /// Per mm: faults in flight, faults begun.
    faults: HashMap<MmId, (u64, u64)>,
    returned: VecDeque<Returned>,
}

impl UnmapLog {
    /// A new epoch, for a TLB fill.
    pub fn tick(&mut self) -> u64 {
        self.epoch += 1;
        self.epoch
    }

    /// A munmap or MADV_DONTNEED of `mm` begins.
    pub fn begin(&mut self, mm: MmId) -> UnmapStart {
        let epoch = self.tick();
        let (faults_in_flight, faults_begun) = self.faults.get(&mm).copied().unwrap_or_default();
        UnmapStart {
            epoch,
            mm,
            faults_begun,
            faults_in_flight,
        }
    }

    /// A fault on `mm` begins.
    pub fn fault_begin(&mut self, mm: MmId) {
        let f = self.faults.entry(mm).or_default();
        f.0 += 1;
        f.1 += 1;
    }

    /// A fault on `mm` ends.
    pub fn fault_end(&mut self, mm: MmId) {
        if let Some(f) = self.faults.get_mut(&mm) {
            f.0 = f.0.saturating_sub(1);
        }
    }

    /// Could a fault have refilled `start`'s mm since it began (one in flight then, or begun
    /// since)?
    pub fn faulted_since(&self, start: &UnmapStart) -> bool {
        let (_, begun) = self.faults.get(&start.mm).copied().unwrap_or_default();
        start.faults_in_flight != 0 || begun != start.faults_begun
    }

    /// The unmap that began at `start` returned, having torn down `[lo, hi)`.
    pub fn returned(&mut self, call: ZapCall, start: &UnmapStart, lo: u64, hi: u64) {
        if self.returned.len() == REMEMBERED {
            self.returned.pop_front();
        }
        self.returned.push_back(Returned {
            call,
            mm: start.mm,
            start: lo,
            end: hi,
            began: start.epoch,
        });
    }

    /// Is a TLB entry for `mm`/`va` stamped `filled` stale — filled before an unmap of `va`
    /// that has returned? Returns that unmap's call and range.
    pub fn stale(&self, mm: MmId, va: u64, filled: u64) -> Option<(ZapCall, u64, u64)> {
        self.returned
            .iter()
            .rev()
            .find(|r| r.mm == mm && r.start <= va && va < r.end && filled < r.began)
            .map(|r| (r.call, r.start, r.end))
    }

    /// Forget an mm (it was freed).
    pub fn forget(&mut self, mm: MmId) {
        self.faults.remove(&mm);
        self.returned.retain(|r| r.mm != mm);
    }
}
