//! `oom-reaper-mlock`: the OOM reaper unmapping a VMA that the exiting victim's munlock is
//! walking — 27ae357fa82b "mm, oom: fix concurrent munlock and oom reaper unmap, v3" (David
//! Rientjes, May 2018, v4.17-rc5; CVE-2018-1000200, "This affects Linux 4.14, 4.15, and 4.16").
//!
//! Since 212925802454 "mm: oom: let oom_reap_task and exit_mmap run concurrently" (v4.14)
//! `exit_mmap` ran its munlock and `unmap_vmas` with no `mmap_sem` and shook hands with the
//! reaper only before `free_pgtables`. The reaper, holding `mmap_sem` for read (which nobody
//! in exit holds), skips VM_LOCKED VMAs (`can_madv_dontneed_vma`) — but
//! `munlock_vma_pages_range` clears VM_LOCKED *first*, then walks the VMA's page tables:
//!
//! ```text
//! exit_mmap (v4.16, old mlock scheme)          oom_reap_task_mm
//! ------------------------------------------   ------------------------------------------
//! munlock_vma_pages_all(vma):                  down_read_trylock(mmap_sem)   (free)
//!   vma->vm_flags &= ~VM_LOCKED                test_bit(MMF_OOM_SKIP)?       not yet
//!   follow_page_mask(vma, addr)                __oom_reap_task_mm:
//!     ... walks the page tables ...              can_madv_dontneed_vma: !VM_LOCKED  yes
//!                                                unmap_page_range(vma)            [I22]
//!   lock_page; munlock_vma_page               up_read
//! unmap_vmas
//! set_bit(MMF_OOM_SKIP); down_write; up_write
//! free_pgtables
//! ```
//!
//! "If the pmd is zapped by the oom reaper during follow_page_mask() after the check for
//! pmd_none() is bypassed, this ends up deferencing a NULL ptl or a kernel oops." The fix
//! (v4.17): an OOM victim's `exit_mmap` reaps the mm itself first, sets `MMF_OOM_SKIP` and
//! cycles `mmap_sem` for write — the reaper, which tests `MMF_OOM_SKIP` under `mmap_sem`
//! read, is then out for good — and only then munlocks. v5.18 (a213e5cf71cb) removed the
//! munlock from exit altogether and lets the reaper unmap mlocked memory.
//!
//! Oracle: I22 (the reaper starts unmapping a VMA the exit's munlock is walking: the
//! model's walk reads each PTE under its PTL and would not oops, so the overlap the fix
//! forbids is what is reported); I11 and the quiescent checks judge the rest. Variants:
//! `fixed` (v4.17), `pre-27ae357fa82b` (v4.16), `v5-18` (a213e5cf71cb: mlock_count, the
//! modern exit and reaper). The 4.x variants munlock through the pagevec form of
//! `munlock_vma_pages_range` (3.12–5.17), whose `cond_resched()` after each batch is where
//! loom lets the reaper in.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::exit::{self, exit_mmap_v4_16, exit_mmap_v4_17};
use mmlab_engine::ops::mlock::MlockScheme;
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munlock_pagevec::munlock_vma_pages_range_v5_17;
use mmlab_engine::ops::oom_kill::{self, OomKillOps};
use mmlab_engine::ops::{access, munlock};

/// The scenario.
#[derive(Debug)]
pub struct OomReaperMlock;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: v4.17 (27ae357fa82b): exit reaps, sets MMF_OOM_SKIP and cycles mmap_sem before munlock
    Fixed,
    /// `pre-27ae357fa82b`: v4.14–v4.16: exit munlocks with no mmap_sem while the reaper may run
    Pre27ae357fa82b,
    /// `v5-18`: a213e5cf71cb: no munlock at exit; the reaper unmaps mlocked VMAs too
    V5_18,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::Pre27ae357fa82b, Variant::V5_18];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "v4.17 (27ae357fa82b): exit reaps, sets MMF_OOM_SKIP and cycles mmap_sem before munlock",
            ),
            Variant::Pre27ae357fa82b => VariantInfo::race(
                "pre-27ae357fa82b",
                "v4.14-v4.16: exit munlocks with no mmap_sem while the reaper may run",
            ),
            Variant::V5_18 => VariantInfo::clean(
                "v5-18",
                "a213e5cf71cb: no munlock at exit; the reaper unmaps mlocked VMAs too",
            ),
        }
    }
}

/// Pages of the victim's mlocked anonymous VMA.
pub fn pages(size: Size) -> u64 {
    match size {
        Size::Tiny => 1,
        Size::Stress => 8,
    }
}

impl Scenario for OomReaperMlock {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "oom-reaper-mlock",
        title: "the OOM reaper vs exit_mmap's munlock (CVE-2018-1000200)",
        commit: "27ae357fa82b",
        source: include_str!("oom_reaper_mlock.rs"),
        oracles: &[Oracle::I22OomReapMunlock, Oracle::I11Mlock],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let mut kernel = Kernel::default();
        match variant {
            Variant::Fixed | Variant::Pre27ae357fa82b => {
                kernel.mlock.scheme = MlockScheme::PageMlock;
                // 4.16/4.17 munlock through pagevecs, with a `cond_resched()` after each.
                kernel.mlock.munlock_vma_pages_range = munlock_vma_pages_range_v5_17;
                kernel.oom = OomKillOps::v4_17();
                kernel.exit.exit_mmap = if variant == Variant::Fixed {
                    exit_mmap_v4_17
                } else {
                    exit_mmap_v4_16
                };
            }
            Variant::V5_18 => {}
        }
        let w = kit::world(size, 2, kernel, |_| {});
        let n = pages(size);
        let mm = mm_alloc(&w).expect("mm");
        let vma = mmap(&w, mm, 0, n, MapKind::Anon).expect("mmap");
        for va in 0..n {
            access::store(&w, 0, mm, va, va + 1).expect("populate");
        }
        munlock::mlock(&w, mm, vma).expect("mlock");
        // The OOM killer picks the task: SIGKILL (its exit below) and the reaper woken.
        oom_kill::mark_oom_victim(&w, mm);
        let (we, wr) = (w.clone(), w.clone());
        let actors = vec![
            actor("exit", move || exit::exit_mmap(&we, mm)),
            // Last: under loom it runs first and takes `mmap_lock` for read, which exit does
            // not wait for (it holds none): two preemptions — into the exit's munlock after
            // VM_LOCKED is cleared, back to the reaper's test of it — are the race.
            actor("oom_reaper", move || {
                oom_kill::oom_reap_task(&wr, mm);
            }),
        ];
        kit::run(env, &w, actors)
    }
}
