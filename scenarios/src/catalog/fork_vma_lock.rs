//! `fork-vma-lock`: fb49c455323f "fork: lock VMAs of the parent process when forking" (Suren
//! Baghdasaryan, v6.5-rc1, applied by Linus Torvalds on 8 July 2023) — per-VMA locks (6.4) let
//! a page fault of the parent run while `dup_mmap` copies the parent's page tables, which
//! `mmap_lock` held for write had always excluded. Reported as memory corruption in Go programs
//! on 6.4 (bugzilla.kernel.org 217624; the regression thread "[PATCH v2 3/3] fork: lock VMAs of
//! the parent process when forking" on linux-mm). The commit message: "When forking a child
//! process, the parent write-protects anonymous pages and COW-shares them with the child being
//! forked using copy_present_pte(). We must not take any concurrent page faults on the source
//! vma's as they are being processed, as we expect both the vma and the pte's behind it to be
//! stable." Fixes: 0bff0aaea03e ("x86/mm: try VMA lock-based page fault handling first").
//! Per-VMA locks were also switched off meanwhile (f96c48670319 "mm: disable
//! CONFIG_PER_VMA_LOCK until its fixed", the series' second patch, before v6.5-rc1; in 6.4.3
//! with the fix).
//!
//! The harm modelled is the lost store: fork write-protects the parent's PTE under the PTLs
//! but flushes the parent's TLBs only once, at the end (`flush_tlb_mm(oldmm)` before
//! `mmap_write_unlock`), relying on `mmap_lock` to keep the parent's faults out until then.
//! Another thread of the parent still has a writable TLB entry for the page.
//!
//! ```text
//! fork (dup_mmap, v6.4)        faulter (cpu1)                       writer (cpu0, stale TLB)
//! --------------------------   ----------------------------------   ------------------------
//! mmap_write_lock(parent)
//! copy_present_pte: PTE -> RO,
//!   page shared with the child
//!                              store: RO PTE -> write fault
//!                              lock_vma_under_rcu: not write-locked
//!                              do_wp_page: shared -> wp_page_copy:
//!                                copy the page
//!                                                                   store through the old,
//!                                                                   writable TLB entry:
//!                                                                   lands in the old page
//!                              ptep_clear_flush, map the copy
//! flush_tlb_mm(parent)
//! mmap_write_unlock(parent)
//! => the writer's store is in the child's page, not in the parent's                [LostStore]
//! ```
//!
//! With fb49c455323f `dup_mmap` `vma_start_write`s each parent VMA before copying it: the
//! fault's `vma_start_read` fails, it falls back to `mmap_lock` and waits for the fork — whose
//! TLB flush has then made the writer fault too, so its store goes to the copy.
//!
//! Variants: `fixed` (the modern kernel, 6.5+) and `dup-mmap-v6-4`, whose `dup_mmap` differs
//! only by the missing `vma_start_write` ([`fork::dup_mmap_v6_4`]). Oracle: the lost-store
//! oracle (the last value each CPU stored to the parent's page is in the page the parent maps
//! there, `check_stores`, a quiescent invariant).

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Pte, World};
use mmlab_engine::ops::access::{self, hw_access};
use mmlab_engine::ops::fork::{self, dup_mm};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The scenario.
#[derive(Debug)]
pub struct ForkVmaLock;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// 6.5+: `dup_mmap` write-locks each parent VMA (fb49c455323f).
    Fixed,
    /// 6.4: per-VMA locks, and `dup_mmap` without `vma_start_write`.
    DupMmapV64,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::DupMmapV64];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "6.5+ (fb49c455323f): dup_mmap vma_start_write()s each parent VMA",
            ),
            Variant::DupMmapV64 => VariantInfo::race(
                "dup-mmap-v6-4",
                "6.4: a fault under the VMA lock copies a page fork write-protected before \
                 fork's TLB flush",
            ),
        }
    }
}

impl Variant {
    /// The kernel this variant runs.
    pub fn kernel(self) -> Kernel {
        let mut kernel = Kernel::default();
        if self == Variant::DupMmapV64 {
            kernel.fork.dup_mmap = fork::dup_mmap_v6_4;
        }
        kernel
    }
}

impl Scenario for ForkVmaLock {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "fork-vma-lock",
        title: "fb49c455323f: a parent's fault under the VMA lock during fork loses a store",
        commit: "fb49c455323f",
        source: include_str!("fork_vma_lock.rs"),
        oracles: &[Oracle::LostStore],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let w = kit::world(size, 2, variant.kernel(), |cfg| {
            if size == Size::Tiny {
                // Two mms (parent and child), a VMA and a one-PTE table each, the page, its
                // copy; one TLB entry per CPU.
                cfg.pages = 3;
                cfg.vmas = 2;
                cfg.anon_vmas = 2;
                cfg.tables = 2;
                cfg.ptes_per_table = 1;
                cfg.pmds_per_mm = 1;
                cfg.files = vec![];
                cfg.tlb_entries = 1;
            }
        });
        let parent = mm_alloc(&w).expect("mm");
        mmap(&w, parent, 0, 1, MapKind::Anon).expect("mmap");
        // The writer's thread touched the page before fork: its CPU caches a writable entry.
        access::store(&w, 0, parent, 0, 1).expect("the writer's store before fork");
        let (wf, ww, wq) = (w.clone(), w.clone(), w.clone());
        let forked = Arc::new(AtomicBool::new(false));
        let (fw, fq, ff) = (forked.clone(), forked.clone(), forked.clone());
        let stress = size == Size::Stress;
        let actors = vec![
            actor("writer", move || {
                if !stress {
                    access::store(&ww, 0, parent, 0, 2).expect("the writer's store during fork");
                    return;
                }
                // A thread of the parent that keeps writing (the Go runtime's): once fork has
                // write-protected the page (an observer poll of the PTE, bounded), it stores in
                // a tight loop through its TLB entry until a store faults — the entry was
                // flushed and the PTE is read-only — or fork is long over. Its last store must
                // stay the parent's.
                wait_write_protected(&ww, parent, &fw);
                for (k, v) in (2..).enumerate() {
                    if hw_access(&ww, 0, parent, 0, Some(v)).is_err()
                        || (k > 64 && fw.load(Relaxed))
                        || k > 1_000_000
                    {
                        break;
                    }
                    std::hint::spin_loop();
                }
            }),
            actor("faulter", move || {
                if stress {
                    // Another thread of the parent that writes to the page as soon as fork
                    // has write-protected it.
                    wait_write_protected(&wq, parent, &fq);
                }
                access::store(&wq, 1, parent, 0, 1_000_000)
                    .expect("the faulter's store during fork");
            }),
            actor("fork", move || {
                dup_mm(&wf, parent).expect("fork");
                ff.store(true, Relaxed);
            }),
        ];
        kit::run(env, &w, actors)
    }
}

/// Stress only: poll (observer reads, yielding) until the parent's PTE at 0 is read-only —
/// fork's `copy_present_pte` write-protected it — or fork returned, for at most 100,000 polls.
fn wait_write_protected(w: &World, parent: MmId, forked: &AtomicBool) {
    for _ in 0..100_000 {
        let wp = matches!(w.pte_at(parent, 0), Some(Pte::Present { write: false, .. }));
        if wp || forked.load(Relaxed) {
            return;
        }
        std::thread::yield_now();
    }
}
