//! `lock-vma-anon-vma`: 657b5146955e "mm: lock_vma_under_rcu() must check vma->anon_vma under
//! vma lock" (Jann Horn, July 2023, v6.5-rc4; stable 6.4.8). `Fixes: 5e31275cc997 ("mm: add
//! per-VMA lock and helper functions to control it")`: 6.4 had it from the start.
//!
//! 6.4's `lock_vma_under_rcu` refused a VMA without an anon_vma ("find_mergeable_anon_vma
//! uses adjacent vmas which are not locked"), so that a fault under the per-VMA lock alone
//! would never reach `__anon_vma_prepare`, whose `find_mergeable_anon_vma` walks the VMA tree
//! and reads the neighbours — safe only under `mmap_lock`. But it checked `vma->anon_vma`
//! *before* `vma_start_read`. The commit message:
//!
//! ```text
//!   THREAD 1                   THREAD 2
//!   <page fault>
//!     lock_vma_under_rcu()
//!       rcu_read_lock()
//!       mas_walk()
//!       check vma->anon_vma
//!                              mremap() syscall
//!                                move_vma()
//!                                 vma_start_write()
//!                                  unlink_anon_vmas()
//!                              <syscall end>
//!     handle_mm_fault()
//!       ... do_anonymous_page()
//!             anon_vma_prepare()
//!               __anon_vma_prepare()
//!                 find_mergeable_anon_vma()
//!                   mas_walk() [looks up VMA X]
//!                              munmap() syscall (deletes VMA X)
//!                   reusable_anon_vma() [called on freed VMA X]
//! ```
//!
//! "This is a security bug if you can hit it, although an attacker would have to win two
//! races at once where the first race window is only a few instructions wide." The fix moves
//! the check after `vma_start_read`: a VMA read-locked with an anon_vma keeps it, since the
//! only writer that clears it on a live VMA — `move_vma`'s MREMAP_DONTUNMAP tail — write-locks
//! the VMA first (`vm_flags_clear(vma, VM_LOCKED_MASK)`).
//!
//! The model: `A` `[0,1)` anonymous, with an anon_vma and (after MADV_DONTNEED) no page — the
//! state MREMAP_DONTUNMAP leaves its old VMA in once `move_page_tables` has moved the pages.
//! The `mremap` actor runs that syscall's effect on the old VMA: `mmap_write_lock`,
//! `vma_start_write(A)`, `unlink_anon_vmas(A)` (which clears `A->anon_vma`),
//! `mmap_write_unlock`. The `fault` actor stores to `A`. In 6.4 the fault checks
//! `A->anon_vma` (set), mremap runs, `vma_start_read(A)` succeeds (the write lock ended with
//! `mmap_write_unlock`), and `do_anonymous_page` runs `__anon_vma_prepare` under the VMA lock
//! alone: `find_mergeable_anon_vma` walks `mm->mm_mt` holding neither `mmap_lock` nor
//! `rcu_read_lock` — what a CONFIG_PROVE_RCU kernel reports as "suspicious
//! rcu_dereference_check() usage" before the second race (a munmap freeing the neighbour it
//! reads) turns it into the use-after-free. Since 2024 the kernel asserts the rule outright
//! (`mmap_assert_locked` in `__anon_vma_prepare`).
//!
//! Simplifications: the `mremap` actor is `move_vma`'s MREMAP_DONTUNMAP tail on the old VMA
//! only — `copy_vma` (the new VMA elsewhere) and `move_page_tables` are not run, so it acts
//! only while the old VMA maps no page (in the interleavings where the fault mapped one
//! first, the fault is over before mremap begins and the actor leaves the VMA alone); the model's `unlink_anon_vmas` leaves `vma->anon_vma` to its callers (all of which
//! free the VMA but this one), so the actor clears it, as the kernel's `unlink_anon_vmas`
//! does; the neighbour whose munmap would be the use-after-free is not modelled
//! (`find_mergeable_anon_vma` reuses nothing in the model): the walk's lock rule is the
//! oracle.
//!
//! Oracle: I15 (lockdep: `find_mergeable_anon_vma`'s walk without `mmap_lock` or RCU).

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, VmaId, World};
use mmlab_engine::ops::anon_vma::unlink_anon_vmas;
use mmlab_engine::ops::lock_vma;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::vma_lock::{mmap_write_unlock, vma_start_write};
use mmlab_engine::ops::{access, munmap};

/// The scenario.
#[derive(Debug)]
pub struct LockVmaAnonVma;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Since 657b5146955e: `vma->anon_vma` checked once the VMA is read-locked.
    Fixed,
    /// v6.4: `lock_vma_under_rcu_v6_4`, the check before `vma_start_read`.
    LockVmaUnderRcuV6_4,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::LockVmaUnderRcuV6_4];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "lock_vma_under_rcu checks vma->anon_vma under the VMA lock (657b5146955e)",
            ),
            Variant::LockVmaUnderRcuV6_4 => VariantInfo::race(
                "lock-vma-under-rcu-v6-4",
                "v6.4: anon_vma checked before vma_start_read; MREMAP_DONTUNMAP clears it; __anon_vma_prepare runs without mmap_lock",
            ),
        }
    }
}

/// `move_vma`'s MREMAP_DONTUNMAP tail on the old VMA (mm/mremap.c, 6.4), for a VMA with no
/// present page (module doc): under `mmap_lock` write, `vm_flags_clear(vma, VM_LOCKED_MASK)`
/// write-locks it ("We always clear VM_LOCKED[ONFAULT] on the old vma"), then "anon_vma links
/// of the old vma is no longer needed after its page table has been moved":
/// `unlink_anon_vmas(vma)`, whose end is `vma->anon_vma = NULL`.
///
/// Once the VMA is write-locked no fault is inside it. If one already mapped a page there,
/// the fault finished before mremap began — past the race — and the kernel's
/// `move_page_tables` would move that page to the new VMA, which the model does not build:
/// the actor then leaves the VMA as it is (module doc).
fn mremap_dontunmap_old_vma(w: &World, mm_id: MmId, vma: VmaId) {
    let map = w.mms.get(mm_id).mmap_lock.write();
    vma_start_write(w, &map, vma);
    let info = w.vmas.get(vma).info.get();
    if (info.start..info.end).any(|va| w.pte_at(mm_id, va).is_some_and(|p| p.pfn().is_some())) {
        w.trace(
            "move_vma: MREMAP_DONTUNMAP",
            vma,
            "a page to move: not modelled",
        );
        mmap_write_unlock(w, mm_id, map);
        return;
    }
    w.trace("move_vma: MREMAP_DONTUNMAP", vma, "old vma");
    unlink_anon_vmas(w, vma);
    // unlink_anon_vmas: "vma would still be needed after unlink, and anon_vma will be
    // prepared when handle fault": vma->anon_vma = NULL (the model's leaves it to callers).
    w.vmas.get(vma).set_anon_vma(None);
    mmap_write_unlock(w, mm_id, map);
}

impl Scenario for LockVmaAnonVma {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "lock-vma-anon-vma",
        title: "lock_vma_under_rcu checks anon_vma before locking: __anon_vma_prepare without mmap_lock",
        commit: "657b5146955e",
        source: include_str!("lock_vma_anon_vma.rs"),
        oracles: &[Oracle::I15Lockdep],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed => {}
            Variant::LockVmaUnderRcuV6_4 => {
                kernel.fault.lock_vma_under_rcu = lock_vma::lock_vma_under_rcu_v6_4;
            }
        }
        // One VMA; its first anon_vma, freed by the unlink, and the one the fault prepares.
        let w = kit::world(size, 2, kernel, |cfg| {
            cfg.anon_vmas = cfg.anon_vmas.max(2);
        });
        let mm = mm_alloc(&w).expect("mm");
        let a = mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap A");
        access::store(&w, 0, mm, 0, 1).expect("A's anon_vma");
        munmap::madvise_dontneed(&w, mm, 0, 1).expect("A's page gone, its anon_vma kept");
        let (wm, wf) = (w.clone(), w.clone());
        // The last actor is the one loom runs first, inline: the fault, preempted between
        // its anon_vma check and vma_start_read.
        let actors = vec![
            actor("mremap", move || mremap_dontunmap_old_vma(&wm, mm, a)),
            actor("fault", move || {
                access::store(&wf, 1, mm, 0, 2).expect("store to A");
            }),
        ];
        kit::run(env, &w, actors)
    }
}
