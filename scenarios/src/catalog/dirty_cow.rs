//! `dirty-cow`: CVE-2016-5195, a `FOLL_FORCE` write through `/proc/self/mem` racing
//! MADV_DONTNEED of the same page of a read-only private file mapping — 19be0eaffa3a "mm:
//! remove gup_flags FOLL_WRITE games from __get_user_pages()" (Linus Torvalds, 13 Oct 2016).
//! The commit message: "This is an ancient bug that was actually attempted to be fixed once
//! (badly) by me eleven years ago in commit 4ceb5db9757a ("Fix get_user_pages() race for
//! write access") but that was then undone due to problems on s390".
//!
//! The public exploit (dirtycow.github.io) maps a root-owned file `PROT_READ, MAP_PRIVATE`
//! and runs two threads: one writes to the mapping through `/proc/self/mem` (a `FOLL_FORCE`
//! write GUP: `__access_remote_vm`), the other calls `madvise(MADV_DONTNEED)` on it in a loop.
//!
//! ```text
//! /proc/self/mem write (mmap_lock read)              madvise(MADV_DONTNEED)
//! ----------------------------------------------     ------------------------------------
//! follow_page_pte(FOLL_WRITE): RO PTE -> NULL
//! faultin_page(FOLL_WRITE) -> do_wp_page:
//!   anon private copy, reuse_swap_page: reuse;
//!   maybe_mkwrite: dirty, still read-only;
//!   VM_FAULT_WRITE, !VM_WRITE
//!   => *flags &= ~FOLL_WRITE   (≤4.8)
//!                                                    zap_pte_range: the private copy goes
//! follow_page_pte(read): none -> NULL
//! faultin_page(read) -> do_read_fault:
//!   the file's page-cache page, mapped read-only
//! follow_page_pte(read): the page-cache page
//! copy_to_user_page: the write lands in the file's page cache              [I18]
//! ```
//!
//! Since 19be0eaffa3a `faultin_page` keeps `FOLL_WRITE` and sets `FOLL_COW`, and
//! `follow_page_pte` accepts a read-only PTE only if it is dirty (`can_follow_write_pte`):
//! after the zap the retry write-faults again and gets a new private copy. Since 5535be309971
//! (6.0) there is no `FOLL_COW`: the read-only PTE is accepted only if its page is anonymous
//! and `PageAnonExclusive`.
//!
//! The model starts from the state the exploit's loop keeps returning to: one earlier
//! `/proc/self/mem` write made the private copy (mapped dirty and read-only). Variants:
//! `fixed` (the modern kernel: 6.0+ GUP, 5.19+ `do_wp_page`), `foll-cow` (4.9–5.7: 19be0eaffa3a's
//! GUP, `reuse_swap_page`'s `do_wp_page`) and `no-foll-cow` (≤4.8): the race variant differs
//! from `foll-cow` only by what 19be0eaffa3a changed (`faultin_page` and
//! `can_follow_write_pte`).
//!
//! Oracle: I18, checked where the write lands (`check::cow::cow_write`), and at rest
//! (`check::cow::check_private_ptes`, one of the quiescent invariants).

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::ops::fault;
use mmlab_engine::ops::gup::{GupOps, access_remote_vm};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::munmap::madvise_dontneed;
use mmlab_engine::sync::Ordering;

/// The scenario.
#[derive(Debug)]
pub struct DirtyCow;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The modern kernel (6.0+: `PageAnonExclusive`, no `FOLL_COW`).
    Fixed,
    /// 4.9–5.7: 19be0eaffa3a's `FOLL_COW`, with that era's `do_wp_page`.
    FollCow,
    /// ≤4.8: `faultin_page` drops `FOLL_WRITE` after the COW fault.
    NoFollCow,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::FollCow, Variant::NoFollCow];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "6.0+ (5535be309971): a FOLL_FORCE write follows a read-only PTE only to a \
                 PageAnonExclusive page",
            ),
            Variant::FollCow => VariantInfo::clean(
                "foll-cow",
                "4.9-5.7 (19be0eaffa3a): FOLL_COW, and only a dirty read-only PTE is followed",
            ),
            Variant::NoFollCow => VariantInfo::race(
                "no-foll-cow",
                "before 19be0eaffa3a: faultin_page drops FOLL_WRITE, the retry is a read",
            ),
        }
    }
}

impl Variant {
    /// The kernel this variant runs.
    pub fn kernel(self) -> Kernel {
        let mut kernel = Kernel::default();
        match self {
            Variant::Fixed => {}
            Variant::FollCow => {
                kernel.gup = GupOps::v5_19();
                kernel.fault.do_wp_page = fault::do_wp_page_v5_8;
            }
            Variant::NoFollCow => {
                kernel.gup = GupOps::v4_8();
                kernel.fault.do_wp_page = fault::do_wp_page_v5_8;
            }
        }
        kernel
    }
}

impl Scenario for DirtyCow {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "dirty-cow",
        title: "CVE-2016-5195: a FOLL_FORCE write GUP vs MADV_DONTNEED writes the page cache",
        commit: "19be0eaffa3a",
        source: include_str!("dirty_cow.rs"),
        oracles: &[Oracle::I18CowWrite],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let w = kit::world(size, 2, variant.kernel(), |cfg| {
            if size == Size::Tiny {
                cfg.mms = 1;
                cfg.vmas = 1;
                cfg.anon_vmas = 1;
                cfg.tables = 1;
                cfg.ptes_per_table = 1;
                cfg.pmds_per_mm = 1;
                cfg.pages = 3;
                cfg.files = vec![(1, false)];
                cfg.tlb_entries = 1;
            }
        });
        let mm = mm_alloc(&w).expect("mm");
        let private = MapKind::File {
            file: w.file(0),
            pgoff: 0,
            shared: false,
        };
        let vma = mmap(&w, mm, 0, 1, private).expect("mmap of the file");
        {
            // The file is opened O_RDONLY and mapped PROT_READ, MAP_PRIVATE: VM_READ and the
            // VM_MAYREAD | VM_MAYWRITE every private mapping gets, no VM_WRITE.
            let _map = w.mms.get(mm).mmap_lock.write();
            w.vmas
                .get(vma)
                .flags
                .store(vm::READ | vm::MAYREAD | vm::MAYWRITE, Ordering::SeqCst);
        }
        // The exploit's earlier rounds: one /proc/self/mem write made the private copy
        // (do_cow_fault, mapped dirty and read-only).
        access_remote_vm(&w, 0, mm, 0, Some(1)).expect("the first /proc/self/mem write");
        let rounds = kit::rounds(size, 64);
        let (wm, wd) = (w.clone(), w.clone());
        let actors = vec![
            actor("procselfmem", move || {
                for r in 0..rounds {
                    // write(fd of /proc/self/mem, lseek'd to the mapping)
                    let _ = access_remote_vm(&wm, 0, mm, 0, Some(2 + r as u64));
                }
            }),
            actor("madvise", move || {
                for _ in 0..rounds {
                    madvise_dontneed(&wd, mm, 0, 1).expect("MADV_DONTNEED of the mapping");
                }
            }),
        ];
        // I18 at rest (`check::cow::check_private_ptes`) is one of `kit::run`'s quiescent
        // invariants.
        kit::run(env, &w, actors)
    }
}
