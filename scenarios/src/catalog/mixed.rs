//! `mixed`: every path at once, at random — the shape of the kernel's own stress tests rather
//! than one historical race: will-it-scale's `page_fault1..3` and `tlb_flush1..3`
//! (fault, store, `MADV_DONTNEED`, munmap, in processes and in threads sharing one mm),
//! selftests' `migration.c` (a page migrated back and forth under readers) and
//! `mlock-random-test.c` (random mlock/munlock), plus reclaim and writeback. It is the lab's
//! smoke for the engine itself: a violation here is an engine bug or a missing kernel step, never
//! an expected outcome.
//!
//! Each actor runs on its own CPU and draws its operations from a generator seeded by the
//! iteration's seed. It owns a few address spaces of its own — which it maps, unmaps, exits
//! and respawns — and shares one long-lived mm (the threads mode of will-it-scale) and the
//! files with every other actor. Every mm has the same layout: private anonymous memory, a
//! shared mapping of file 0, a private (copy-on-write) mapping of another part of file 0, and
//! a shared mapping of file 1.
//!
//! ```text
//! actor i (cpu i), repeatedly, at random             against
//! ----------------------------------------------     ---------------------------------
//! load / store / fault        (own or shared mm)     every other actor, on the same
//! MADV_DONTNEED of a range    (own or shared mm)       pages, tables, files and the
//! munmap / mmap a region      (own mm)                 shared mm's VMAs
//! mlock / munlock a VMA       (own or shared mm)
//! migrate a page              (isolate, migrate_pages, putback)
//! reclaim / writeback a file page
//! exit an own mm and respawn it
//! fork the shared mm (or another own mm) into an own slot
//! get_user_pages: PTRACE_PEEKDATA, or a FOLL_PIN (read or write) held a while
//! stress only: mremap a region away and back,   (own mm)
//!   munmap or mprotect part of a region
//! THP (stress only): store / load / MADV_DONTNEED     every other actor's THP steps on
//!   (part of a PMD: split; all of it: zap_huge_pmd)    the same huge PMDs
//!   / NUMA balancing (change_prot_numa) in the THP mm
//! khugepaged: collapse a file range, retracting its page tables (stress size only)
//! stress only: ftruncate a shared file to a random   every fault, store, writeback and
//!   size and back, or punch a hole in it               reclaim of its pages
//!   / split_huge_page of a THP (split_huge_pages_pid)
//!   / khugepaged's anonymous collapse of a PMD range (khugepaged_scan_pmd)
//! ```
//!
//! The stress-only operations are drawn after the others (`STRESS_MIX`), so the tiny loom
//! world's draws from its seed are what they were: mremap moves a whole region of an own mm
//! past the layout — PMD-aligned or one page off, so both `move_normal_pmd` and `move_ptes`
//! run — and back; munmap of part of a region splits its VMA (a later munmap of the region
//! unmaps whatever pieces are left); mprotect makes part of a region read-only (a split), and
//! half the time writable again (a merge).
//!
//! The THP steps act on one more mm, shared by every actor, whose one anonymous VMA is
//! `MADV_HUGEPAGE`'d: THP faults, huge-PMD walks, `zap_huge_pmd`, `__split_huge_pmd` from a
//! partial MADV_DONTNEED, NUMA hinting and its fault, get_user_pages of a subpage and mprotect
//! of huge PMDs (docs/MODEL.md §15). It is kept apart
//! from the other operations because mlock's page-table walk does not handle a huge PMD yet
//! (§6); and it is stress only — the tiny loom workload draws exactly as before
//! (the THP draws come from a generator of their own).
//!
//! Faults go through the function table's arch handler: by default the 6.4+ one, which tries
//! the per-VMA lock (`lock_vma_under_rcu`) before `mmap_lock`, so that faults run beside the
//! `mmap_lock` writers (mmap, munmap, mlock, fork) that write-lock the VMAs they change; the
//! `fault-v6-3` variant runs the ≤6.3 handler (`mmap_lock` only).
//!
//! Fork makes the stores that follow copy-on-write faults: a store to a page fork shared
//! write-faults (`do_wp_page`) and copies or reuses it, racing the other side's stores, GUP,
//! migration, reclaim and zaps. A pin held across a fork makes fork copy the page
//! (`page_needs_cow_for_dma` / PageAnonExclusive).
//!
//! Oracles: all of them — the in-path assertions as they fire, and every quiescent invariant
//! when the actors are done (mapcounts, free-before-flush, lost stores and dirty data,
//! migration entries, mlock state, secondary MMU, stale ids, anon_vma trees, private writes),
//! and I19 for every fork made: at rest, neither side maps a page holding a value a CPU stored
//! at that address of the other side after the fork returned. With a duration the actors run
//! until it is over; without one each does a fixed number of operations.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::check::cow::{self, ForkPoint};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::lruvec::LruList;
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::vm;
use mmlab_engine::mm::{MmId, Pfn, VmaId, World};
use mmlab_engine::ops::gup::{self, FOLL_PIN, FOLL_WRITE};
use mmlab_engine::ops::migrate::{self, NewPagePool};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::shrink_folio_list::ScanControl;
use mmlab_engine::ops::{
    access, collapse_huge_page, exit, fault, fork, huge_memory, khugepaged, migrate_thp, mkclean,
    mprotect, mremap, munlock, munmap, oom_kill, page_alloc, reclaim, split_huge_page, truncate,
    vmscan,
};
use mmlab_engine::sync::ObserverMutex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

/// The scenario.
#[derive(Debug)]
pub struct Mixed;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `fixed`: the modern kernel (Kernel::default()) under a random mix of every path; its
    /// faults try the per-VMA lock first (6.4+ `do_user_addr_fault`).
    Fixed,
    /// `fault-v6-3`: the same, with the arch fault handler of ≤6.3 (`mmap_lock` only,
    /// `do_user_addr_fault_v6_3`): every fault excluded by every `mmap_lock` writer.
    FaultV63,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::FaultV63];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "the modern kernel (Kernel::default()) under a random mix of every path",
            ),
            Variant::FaultV63 => VariantInfo::clean(
                "fault-v6-3",
                "the same with <=6.3 faults: mmap_lock only, no per-VMA lock",
            ),
        }
    }
}

impl Variant {
    /// The kernel this variant runs.
    pub fn kernel(self) -> Kernel {
        let mut kernel = Kernel::default();
        if self == Variant::FaultV63 {
            kernel.fault.do_user_addr_fault = fault::do_user_addr_fault_v6_3;
        }
        kernel
    }
}

const ALL_ORACLES: &[Oracle] = &[
    Oracle::I1Mapcount,
    Oracle::I2TtuSync,
    Oracle::I3FreeBeforeFlush,
    Oracle::I4LostDirty,
    Oracle::I5DirtyPropagation,
    Oracle::I6MigrationEntry,
    Oracle::I7RefFreeze,
    Oracle::I8MigrationFault,
    Oracle::I9AnonVma,
    Oracle::I11Mlock,
    Oracle::I12MlockLocking,
    Oracle::I13SecondaryMmu,
    Oracle::I14ZapCompletion,
    Oracle::I15Lockdep,
    Oracle::I16RmapReachable,
    Oracle::I17AnonVmaTree,
    Oracle::I18CowWrite,
    Oracle::I19CowIsolation,
    Oracle::I20SwapMap,
    Oracle::I23PageOverHole,
    Oracle::StaleId,
    Oracle::LostStore,
    Oracle::Bug,
    Oracle::PoolAccounting,
    Oracle::Progress,
    Oracle::Hang,
    Oracle::Panic,
];

/// The operations, with their weights in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Load,
    Store,
    Fault,
    Dontneed,
    Munmap,
    Mmap,
    Mlock,
    Munlock,
    Migrate,
    Reclaim,
    Writeback,
    Exit,
    Fork,
    Gup,
    Mremap,
    MunmapPart,
    Mprotect,
    Khugepaged,
    Truncate,
    PunchHole,
    SwapOut,
    SwapIn,
    ShrinkLru,
    OomKill,
}

const MIX: &[(Op, u32)] = &[
    (Op::Load, 20),
    (Op::Store, 25),
    (Op::Fault, 5),
    (Op::Dontneed, 6),
    (Op::Munmap, 3),
    (Op::Mmap, 3),
    (Op::Mlock, 3),
    (Op::Munlock, 3),
    (Op::Migrate, 14),
    (Op::Reclaim, 6),
    (Op::Writeback, 6),
    (Op::Exit, 2),
    (Op::Fork, 2),
    (Op::Gup, 4),
    // Drawn apart, at stress size only ([`KHUGEPAGED_PERCENT`]): a zero weight keeps the
    // tiny loom world's draws (its seed's) as they were.
    (Op::Khugepaged, 0),
];

/// The operations only the stress workload draws, after [`MIX`]: the tiny (loom) world's
/// draws from `TINY_SEED` stay what they were. Each acts on an own mm (whose VMAs only its
/// actor keeps ids of) and leaves the region's slot re-resolved by its bounds.
///
/// Anonymous reclaim with swap (docs/MODEL.md §17): `swap_out` reclaims the anonymous page
/// at an address as MADV_PAGEOUT does (`folio_isolate_lru`, `reclaim_pages` →
/// `shrink_folio_list`: `add_to_swap`, `try_to_unmap`, `pageout`, `__remove_mapping`);
/// `shrink_lru` scans the anon lists as well as the file ones; `swap_in`
/// faults on an address whose PTE is a swap entry (`do_swap_page`; loads and stores fault on
/// them too). Half the iterations run with a `SWP_SYNCHRONOUS_IO` device (by the seed's low
/// bit), so that both swap-in paths — through the cache and skipping it — run.
const STRESS_MIX: &[(Op, u32)] = &[
    (Op::Mremap, 2),
    (Op::MunmapPart, 2),
    (Op::Mprotect, 3),
    (Op::Truncate, 1),
    (Op::PunchHole, 2),
    (Op::SwapOut, 5),
    (Op::SwapIn, 3),
    (Op::ShrinkLru, 4),
    (Op::OomKill, 1),
];

/// The operations a world of `size` draws from.
fn mix(size: Size) -> impl Iterator<Item = &'static (Op, u32)> {
    let extra: &'static [(Op, u32)] = match size {
        Size::Tiny => &[],
        Size::Stress => STRESS_MIX,
    };
    MIX.iter().chain(extra)
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Load => "load",
            Op::Store => "store",
            Op::Fault => "fault",
            Op::Dontneed => "madv_dontneed",
            Op::Munmap => "munmap",
            Op::Mmap => "mmap",
            Op::Mlock => "mlock",
            Op::Munlock => "munlock",
            Op::Migrate => "migrate",
            Op::Reclaim => "reclaim",
            Op::Writeback => "writeback",
            Op::Exit => "exit",
            Op::Fork => "fork",
            Op::Gup => "get_user_pages",
            Op::Mremap => "mremap",
            Op::MunmapPart => "munmap_part",
            Op::Mprotect => "mprotect_part",
            Op::Khugepaged => "khugepaged",
            Op::Truncate => "ftruncate",
            Op::PunchHole => "punch_hole",
            Op::SwapOut => "swap_out",
            Op::SwapIn => "swap_in",
            Op::ShrinkLru => "shrink_lru",
            Op::OomKill => "oom_kill",
        }
    }

    fn index(self) -> usize {
        mix(Size::Stress)
            .position(|&(o, _)| o == self)
            .expect("in MIX or STRESS_MIX")
    }

    fn draw(rng: &mut SmallRng, size: Size) -> Op {
        let total: u32 = mix(size).map(|&(_, w)| w).sum();
        let mut x = rng.random_range(0..total);
        for &(op, weight) in mix(size) {
            if x < weight {
                return op;
            }
            x -= weight;
        }
        unreachable!("weights sum to total")
    }
}

/// One region of the common mm layout.
#[derive(Debug, Clone, Copy)]
struct Region {
    start: u64,
    len: u64,
    kind: MapKind,
}

/// The layout every mm gets, for `w`'s size.
fn layout(w: &World, size: Size) -> Vec<Region> {
    let per = w.cfg.ptes_per_table as u64;
    let file = |i: usize, pgoff: u64, shared: bool| MapKind::File {
        file: w.file(i),
        pgoff,
        shared,
    };
    match size {
        // One table each: anonymous memory and a shared file mapping.
        Size::Tiny => vec![
            Region {
                start: 0,
                len: per,
                kind: MapKind::Anon,
            },
            Region {
                start: per,
                len: per,
                kind: file(0, 0, true),
            },
        ],
        Size::Stress => vec![
            Region {
                start: 0,
                len: 2 * per,
                kind: MapKind::Anon,
            },
            Region {
                start: 2 * per,
                len: 2 * per,
                kind: file(0, 0, true),
            },
            Region {
                start: 4 * per,
                len: 2 * per,
                kind: file(0, 2 * per, false),
            },
            Region {
                start: 6 * per,
                len: per,
                kind: file(1, 0, true),
            },
        ],
    }
}

fn map_region(w: &World, mm: MmId, r: &Region) -> Option<VmaId> {
    mmap(w, mm, r.start, r.len, r.kind).ok()
}

/// A new mm with the whole layout mapped (`None` when the world is out of mm or VMA slots).
fn spawn_mm(w: &World, regions: &[Region]) -> Option<(MmId, Vec<Option<VmaId>>)> {
    let mm = mm_alloc(w).ok()?;
    let vmas = regions.iter().map(|r| map_region(w, mm, r)).collect();
    Some((mm, vmas))
}

/// An actor's address spaces: its own, and the shared one.
struct Spaces {
    regions: Vec<Region>,
    shared: (MmId, Vec<Option<VmaId>>),
    own: Vec<Option<(MmId, Vec<Option<VmaId>>)>>,
    /// Pages this actor holds FOLL_PIN pins on (as an RDMA registration or io_uring buffer
    /// does), released by a later get_user_pages step or when the actor is done.
    pins: Vec<Pfn>,
    /// The forks this actor made, for I19 once every actor is done.
    forks: Vec<ForkPoint>,
    /// Stress size: khugepaged's collapse is in the mix.
    stress: bool,
}

/// One THP step in the stress workload's THP mm (`thp_mm`, one `MADV_HUGEPAGE`'d anonymous
/// VMA of `len` pages at 0): a store or load (a THP fault on a none PMD, a walk of a huge
/// one), MADV_DONTNEED of a random range (a whole PMD zapped, part of one split), NUMA
/// balancing over the whole VMA, khugepaged's anonymous collapse of a PMD range,
/// `split_huge_page` of the THP at an address (the debugfs `split_huge_pages_pid`: the
/// anon_vma write lock, `unmap_folio`, the freeze, the remap), migration of the THP a huge
/// PMD maps at an address without splitting it (`move_pages` → `migrate_pages`: PMD migration
/// entries, faults waiting on them, the copy, the remap), get_user_pages of a subpage
/// (`PTRACE_PEEKDATA`, or a write pin dropped at once), or mprotect of a range (huge PMDs changed in place or
/// split at the new VMA bounds).
fn thp_step(w: &World, cpu: usize, rng: &mut SmallRng, thp_mm: MmId, len: u64, value: u64) {
    let va = rng.random_range(0..len);
    match rng.random_range(0..15) {
        13 => {
            // get_user_pages of a THP subpage (`follow_trans_huge_pmd`: the folio's reference
            // under the PMD lock): PTRACE_PEEKDATA, or a FOLL_PIN | FOLL_WRITE pin
            // (`can_follow_write_pmd`, `touch_pmd` dirtying) dropped at once. Not POKEDATA:
            // its write is not a user store, which the lost-store oracle would report.
            if rng.random_bool(0.5) {
                let _ = gup::access_remote_vm(w, cpu, thp_mm, va, None);
            } else {
                let map = w.mms.get(thp_mm).mmap_lock.read();
                let pages =
                    gup::get_user_pages_remote(w, thp_mm, va, 1, FOLL_PIN | FOLL_WRITE, &map);
                drop(map);
                for pfn in pages.into_iter().flatten() {
                    gup::unpin_user_page(w, pfn);
                }
            }
        }
        14 => {
            // mprotect a range read-only — a PMD it covers whole is write-protected in place
            // (`change_huge_pmd`), a bound inside one splits it (`vma_adjust_trans_huge`) —
            // and, half the time, writable again (the halves merge back).
            let n = rng.random_range(1..=len - va);
            if mprotect::mprotect(w, thp_mm, va, va + n, vm::READ).is_ok() && rng.random_bool(0.5) {
                let _ = mprotect::mprotect(w, thp_mm, va, va + n, vm::READ | vm::WRITE);
            }
        }
        12 => {
            // khugepaged's anonymous collapse of the PMD range (a range a split left
            // PTE-mapped becomes a THP again).
            let per = w.cfg.ptes_per_table as u64;
            let _ = collapse_huge_page::khugepaged_scan_pmd(w, thp_mm, va / per * per);
        }
        10 => {
            let _ = split_huge_page::split_huge_pages_pid(w, thp_mm, va);
        }
        11 => {
            let _ = migrate_thp::migrate_thp_at(w, thp_mm, va);
        }
        0..=3 => {
            let _ = access::store(w, cpu, thp_mm, va, value);
        }
        4..=5 => {
            let _ = access::load(w, cpu, thp_mm, va);
        }
        6..=8 => {
            let n = rng.random_range(1..=len - va);
            let _ = munmap::madvise_dontneed(w, thp_mm, va, va + n);
        }
        _ => {
            huge_memory::change_prot_numa(w, thp_mm, 0, len);
        }
    }
}

/// One in this many stress steps is a THP step.
const THP_ONE_IN: u32 = 8;

/// The tiny (loom) world's seed: loom models must be deterministic, so its two actors' three
/// operations each are drawn from this fixed seed — chosen among the first few hundred so that
/// the draws include a fork (of the shared mm, whose anonymous pages are populated), a
/// get_user_pages and stores by the other actor: actor 0 forks, pins or peeks, and migrates;
/// actor 1 maps and stores twice.
const TINY_SEED: u64 = 110;

/// How often (percent of the operations, stress size only) an actor runs khugepaged's
/// collapse of a file range: lock its pages, unmap them, retract the page tables
/// (`khugepaged::collapse_file`, 6.5+ `retract_page_tables` without `mmap_lock`).
const KHUGEPAGED_PERCENT: u32 = 2;

/// At most this many pins held by one actor.
const MAX_PINS: usize = 2;

impl Spaces {
    /// An mm to act on (own or shared, at random) and its VMAs.
    fn pick(&mut self, rng: &mut SmallRng, own_only: bool) -> Option<(usize, MmId)> {
        let k = rng.random_range(0..self.own.len() + 1);
        if k < self.own.len() {
            return self.own[k].as_ref().map(|(mm, _)| (k, *mm));
        }
        (!own_only).then_some((usize::MAX, self.shared.0))
    }

    fn vmas(&mut self, k: usize) -> &mut Vec<Option<VmaId>> {
        if k == usize::MAX {
            &mut self.shared.1
        } else {
            &mut self.own[k].as_mut().expect("picked a live own mm").1
        }
    }
}

/// The VMA of each region in `mm` (a child of fork has its parent's layout, less the regions
/// the parent had unmapped).
fn vmas_by_region(w: &World, mm: MmId, regions: &[Region]) -> Vec<Option<VmaId>> {
    let map = w.mms.get(mm).mmap_lock.read();
    regions
        .iter()
        .map(|r| {
            map.vmas.iter().copied().find(|&v| {
                let i = w.vmas.get(v).info.get();
                (i.start, i.end) == (r.start, r.start + r.len)
            })
        })
        .collect()
}

/// Fork into own slot `k`: its mm exits, and a child of the shared mm (or of another own mm)
/// takes its place. The fork point is kept for I19.
fn fork_into(w: &World, rng: &mut SmallRng, sp: &mut Spaces, k: usize) {
    let others: Vec<MmId> = (0..sp.own.len())
        .filter(|&j| j != k)
        .filter_map(|j| sp.own[j].as_ref().map(|(mm, _)| *mm))
        .chain([sp.shared.0])
        .collect();
    let parent = others[rng.random_range(0..others.len())];
    if let Some((mm, _)) = sp.own[k].take() {
        exit::exit_mmap(w, mm);
    }
    sp.own[k] = match fork::dup_mm(w, parent) {
        Ok(child) => {
            sp.forks.push(ForkPoint::after_fork(w, parent, child));
            Some((child, vmas_by_region(w, child, &sp.regions)))
        }
        Err(_) => spawn_mm(w, &sp.regions),
    };
}

/// One get_user_pages step at `va` of `mm`: `PTRACE_PEEKDATA` (`access_remote_vm`, FOLL_FORCE
/// read), or a FOLL_PIN of the page, read or write (`pin_user_pages_remote`), kept until a
/// later step drops it — or, with pins already held, drop the oldest.
fn gup_step(w: &World, cpu: usize, rng: &mut SmallRng, sp: &mut Spaces, mm: MmId, va: u64) {
    match rng.random_range(0..3) {
        0 => {
            let _ = gup::access_remote_vm(w, cpu, mm, va, None);
        }
        1 if sp.pins.len() < MAX_PINS => {
            let flags = if rng.random_bool(0.5) {
                FOLL_PIN | FOLL_WRITE
            } else {
                FOLL_PIN
            };
            let map = w.mms.get(mm).mmap_lock.read();
            let pages = gup::get_user_pages_remote(w, mm, va, 1, flags, &map);
            drop(map);
            if let Ok(pages) = pages {
                sp.pins.extend(pages);
            }
        }
        _ => {
            if !sp.pins.is_empty() {
                gup::unpin_user_page(w, sp.pins.remove(0));
            }
        }
    }
}

/// The first page past the layout.
fn layout_end(regions: &[Region]) -> u64 {
    regions.iter().map(|r| r.start + r.len).max().unwrap_or(0)
}

/// A random address in a random region.
fn pick_va(rng: &mut SmallRng, regions: &[Region]) -> (usize, u64) {
    let r = rng.random_range(0..regions.len());
    let reg = &regions[r];
    (r, reg.start + rng.random_range(0..reg.len))
}

/// The page mapped at `va` of `mm`, read as the hardware would (no lock).
fn mapped_page(w: &World, mm: MmId, va: u64) -> Option<Pfn> {
    w.pte_at(mm, va)?.pfn()
}

/// A random file and index within what the layout maps of it.
fn pick_file_page(rng: &mut SmallRng, w: &World, regions: &[Region]) -> (usize, u64) {
    let files: Vec<(usize, u64)> = regions
        .iter()
        .filter_map(|r| match r.kind {
            MapKind::File { file, pgoff, .. } => Some((file.idx as usize, pgoff + r.len)),
            MapKind::Anon => None,
        })
        .collect();
    let (f, end) = files[rng.random_range(0..files.len())];
    let end = end.min(w.files.get(w.file(f)).nr_pages() as u64);
    (f, rng.random_range(0..end))
}

/// A truncation of a file to a random size and back (`ftruncate` twice: faults beyond the
/// size meanwhile get SIGBUS, and the regrown range reads as holes), or a hole punched in it
/// (`FALLOC_FL_PUNCH_HOLE`). Only ranges no private mapping covers: the model's
/// `unmap_mapping_range` does not read `even_cows` (docs/MODEL.md §6), so a punch would zap
/// private COW copies the kernel keeps. The layout's private mapping of file 0 starts at the
/// end of its shared one, so file 0 is punched below that, file 1 (shared only) anywhere.
fn truncate_step(w: &World, rng: &mut SmallRng, regions: &[Region], op: Op) {
    let mut private_from = std::collections::HashMap::new();
    for r in regions {
        if let MapKind::File {
            file,
            pgoff,
            shared: false,
        } = r.kind
        {
            let e = private_from.entry(file.idx).or_insert(u64::MAX);
            *e = (*e).min(pgoff);
        }
    }
    let shared: Vec<(mmlab_engine::mm::FileId, u64)> = regions
        .iter()
        .filter_map(|r| match r.kind {
            MapKind::File {
                file, shared: true, ..
            } => {
                let cap = w.files.get(file).nr_pages() as u64;
                Some((
                    file,
                    cap.min(private_from.get(&file.idx).copied().unwrap_or(u64::MAX)),
                ))
            }
            _ => None,
        })
        .collect();
    let (file, end) = shared[rng.random_range(0..shared.len())];
    let cap = w.files.get(file).nr_pages() as u64;
    match op {
        Op::Truncate if end == cap => {
            truncate::ftruncate(w, file, rng.random_range(0..cap));
            truncate::ftruncate(w, file, cap);
        }
        _ => {
            let first = rng.random_range(0..end);
            let nr = rng.random_range(1..=end - first);
            truncate::punch_hole(w, file, first, nr);
        }
    }
}

/// `migrate_pages` of one page, as `move_pages(2)` does it: isolate, migrate with a fresh
/// newpage, put back what did not move, free the unused newpage.
fn migrate_one(w: &World, pfn: Pfn) {
    if !migrate::isolate_lru_page(w, pfn) {
        return;
    }
    let pool = NewPagePool::new(w, 1);
    for left in migrate::migrate_pages(w, &pool, &[pfn]) {
        migrate::putback_lru_page(w, left);
    }
    for unused in pool.available() {
        page_alloc::put_page(w, unused);
    }
}

/// One operation.
fn step(w: &World, cpu: usize, rng: &mut SmallRng, sp: &mut Spaces, value: u64, size: Size) -> Op {
    let op = if sp.stress && rng.random_range(0..100) < KHUGEPAGED_PERCENT {
        Op::Khugepaged
    } else {
        Op::draw(rng, size)
    };
    match op {
        Op::Load | Op::Store | Op::Fault => {
            let Some((_, mm)) = sp.pick(rng, false) else {
                return op;
            };
            let (_, va) = pick_va(rng, &sp.regions);
            let _ = match op {
                Op::Load => access::load(w, cpu, mm, va).map(|_| ()),
                Op::Store => access::store(w, cpu, mm, va, value),
                _ => (w.kernel.fault.do_user_addr_fault)(w, mm, va, rng.random_bool(0.5)),
            };
        }
        Op::Dontneed => {
            let Some((_, mm)) = sp.pick(rng, false) else {
                return op;
            };
            let (r, va) = pick_va(rng, &sp.regions);
            let end = sp.regions[r].start + sp.regions[r].len;
            let len = rng.random_range(1..=end - va);
            let _ = munmap::madvise_dontneed(w, mm, va, va + len);
        }
        Op::Munmap | Op::Mmap => {
            let Some((k, mm)) = sp.pick(rng, true) else {
                return op;
            };
            let r = rng.random_range(0..sp.regions.len());
            let region = sp.regions[r];
            let slot = &mut sp.vmas(k)[r];
            match (op, *slot) {
                (Op::Munmap, Some(vma)) => {
                    let _ = munmap::munmap(w, mm, vma);
                    *slot = None;
                }
                (Op::Mmap, None) => *slot = map_region(w, mm, &region),
                (Op::Munmap, None) if size == Size::Stress => {
                    // What a partial munmap, mprotect or mremap left of the region, if
                    // anything: unmapped across its pieces.
                    let _ = munmap::munmap_range(w, mm, region.start, region.start + region.len);
                }
                _ => {}
            }
        }
        Op::Mremap | Op::MunmapPart | Op::Mprotect => {
            let Some((k, mm)) = sp.pick(rng, true) else {
                return op;
            };
            let r = rng.random_range(0..sp.regions.len());
            let region = sp.regions[r];
            let end = region.start + region.len;
            let a = region.start + rng.random_range(0..region.len);
            let b = rng.random_range(a + 1..=end);
            match op {
                Op::Mremap => {
                    if sp.vmas(k)[r].is_some() {
                        // The whole region out past the layout — PMD-aligned or one page off,
                        // so both `move_normal_pmd` and `move_ptes` run — and back.
                        let per = w.cfg.ptes_per_table as u64;
                        let away = layout_end(&sp.regions).next_multiple_of(per)
                            + u64::from(rng.random_bool(0.5));
                        if mremap::mremap(w, mm, region.start, region.len, region.len, away).is_ok()
                        {
                            let _ =
                                mremap::mremap(w, mm, away, region.len, region.len, region.start);
                        }
                    }
                }
                Op::MunmapPart => {
                    let _ = munmap::munmap_range(w, mm, a, b);
                }
                _ => {
                    // Read-only, then writable again: split, then merged back.
                    if mprotect::mprotect(w, mm, a, b, vm::READ).is_ok() && rng.random_bool(0.5) {
                        let _ = mprotect::mprotect(w, mm, a, b, vm::READ | vm::WRITE);
                    }
                }
            }
            sp.vmas(k)[r] = vmas_by_region(w, mm, std::slice::from_ref(&region))[0];
        }
        Op::Mlock | Op::Munlock => {
            let Some((k, mm)) = sp.pick(rng, false) else {
                return op;
            };
            let r = rng.random_range(0..sp.regions.len());
            if let Some(vma) = sp.vmas(k)[r] {
                let _ = if op == Op::Mlock {
                    munlock::mlock(w, mm, vma)
                } else {
                    munlock::munlock(w, mm, vma)
                };
            }
        }
        Op::Migrate => {
            let page = if rng.random_bool(0.5) {
                let (f, index) = pick_file_page(rng, w, &sp.regions);
                w.files.get(w.file(f)).i_pages.lock().pages[index as usize]
            } else {
                let (_, mm) = sp.pick(rng, false).unwrap_or((usize::MAX, sp.shared.0));
                let (_, va) = pick_va(rng, &sp.regions);
                mapped_page(w, mm, va)
            };
            if let Some(pfn) = page {
                migrate_one(w, pfn);
            }
        }
        Op::Reclaim | Op::Writeback => {
            let (f, index) = pick_file_page(rng, w, &sp.regions);
            if op == Op::Reclaim {
                reclaim::reclaim_page(w, w.file(f), index);
            } else {
                mkclean::writeback(w, w.file(f), index);
            }
        }
        Op::ShrinkLru => {
            // kswapd's turn on the file or the anon LRU: age the active list, then reclaim a
            // batch from the inactive one through shrink_folio_list (TTU_BATCH_FLUSH, deferred
            // flushes; anonymous folios swapped out).
            let (active, inactive) = if rng.random_bool(0.5) {
                (LruList::ActiveFile, LruList::InactiveFile)
            } else {
                (LruList::ActiveAnon, LruList::InactiveAnon)
            };
            if rng.random_bool(0.5) {
                vmscan::shrink_active_list(w, 4, active);
            }
            vmscan::shrink_inactive_list(w, 4, inactive, &ScanControl::default());
        }
        Op::Exit => {
            let k = rng.random_range(0..sp.own.len());
            if let Some((mm, _)) = sp.own[k].take() {
                exit::exit_mmap(w, mm);
            }
            sp.own[k] = spawn_mm(w, &sp.regions);
        }
        Op::OomKill => {
            // The OOM killer picks an own mm (often a fork's child): `mark_oom_victim`, the
            // reaper's pass (`oom_reap_task`: trylock, unmap what it may, MMF_OOM_SKIP), then
            // the victim's exit — while the other actors' rmap walks, migrations, reclaim
            // and faults run on the pages it shares with them.
            let k = rng.random_range(0..sp.own.len());
            if let Some((mm, _)) = sp.own[k].take() {
                oom_kill::mark_oom_victim(w, mm);
                oom_kill::oom_reap_task(w, mm);
                exit::exit_mmap(w, mm);
            }
            sp.own[k] = spawn_mm(w, &sp.regions);
        }
        Op::Fork => {
            let k = rng.random_range(0..sp.own.len());
            fork_into(w, rng, sp, k);
        }
        Op::Gup => {
            let Some((_, mm)) = sp.pick(rng, false) else {
                return op;
            };
            let (_, va) = pick_va(rng, &sp.regions);
            gup_step(w, cpu, rng, sp, mm, va);
        }
        Op::SwapOut | Op::SwapIn => {
            let Some((_, mm)) = sp.pick(rng, false) else {
                return op;
            };
            let anon: Vec<&Region> = sp
                .regions
                .iter()
                .filter(|r| matches!(r.kind, MapKind::Anon))
                .collect();
            let r = anon[rng.random_range(0..anon.len())];
            let va = r.start + rng.random_range(0..r.len);
            match (op, w.pte_at(mm, va)) {
                // MADV_PAGEOUT's way (madvise_cold_or_pageout_pte_range): the folio taken off
                // the LRU (folio_isolate_lru, under a reference of our own where the kernel
                // holds the PTL) and reclaim_pages → shrink_folio_list.
                (Op::SwapOut, Some(Pte::Present { pfn, .. }))
                    if page_alloc::get_page_unless_zero(w, pfn) =>
                {
                    let isolated = w.page(pfn).is_anon() && vmscan::folio_isolate_lru(w, pfn);
                    page_alloc::put_page(w, pfn);
                    if isolated {
                        vmscan::reclaim_pages(w, vec![pfn]);
                    }
                }
                (Op::SwapIn, Some(Pte::Swap { .. })) => {
                    let _ = (w.kernel.fault.do_user_addr_fault)(w, mm, va, rng.random_bool(0.5));
                }
                _ => {}
            }
        }
        Op::Khugepaged => {
            // A PMD-aligned range of a file the layout maps (every region starts on a table
            // boundary at a table-aligned pgoff).
            let per = w.cfg.ptes_per_table as u64;
            let (f, index) = pick_file_page(rng, w, &sp.regions);
            let _ = khugepaged::collapse_file(w, w.file(f), index / per * per);
        }
        Op::Truncate | Op::PunchHole => truncate_step(w, rng, &sp.regions, op),
    }
    op
}

impl Scenario for Mixed {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "mixed",
        title: "a random mix of every path: faults, zaps, mlock, migration, reclaim, writeback, exit",
        commit: "selftests/mm, will-it-scale",
        source: include_str!("mixed.rs"),
        oracles: ALL_ORACLES,
        long_running: true,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let (actors_n, own_n, fixed_ops, seed) = match size {
            Size::Tiny => (2, 1, 3, TINY_SEED),
            // At most 64 CPUs: `mm_cpumask` is a 64-bit mask.
            Size::Stress => (env.threads.clamp(1, 64), 2, 200, env.seed),
        };
        let mms = 1 + actors_n * own_n;
        let w = kit::world(size, actors_n, variant.kernel(), |c| match size {
            Size::Tiny => {
                c.mms = mms;
                c.vmas = mms * 2;
                c.anon_vmas = mms;
                c.tables = mms * 2;
                c.pages = 10;
            }
            Size::Stress => {
                c.files = vec![(4 * c.ptes_per_table, false), (c.ptes_per_table, false)];
                // Room for an exiting mm and its respawn side by side.
                c.mms = mms + actors_n;
                c.vmas = c.mms * 4;
                c.anon_vmas = c.mms * 2;
                c.tables = c.mms * 8;
                c.pages = 2048;
                // The THP mm, counted on its own: its one VMA and anon_vma, a table per PMD
                // (deposited under a huge PMD, or the PTE table a split left), and one more per
                // actor for a THP fault's `pte_alloc_one` or `copy_huge_pmd` in flight. Before
                // they were counted the THP mm's anon_vma was taken from the actors' share,
                // and a run whose forks had made every other anon_vma (each one a live VMA's,
                // or an inner node of a fork tree) failed an mlock's populate with -ENOMEM:
                // VM_LOCKED with nothing resident, I11 at rest. One anon_vma more per actor
                // is the margin those fork trees reached in runs with the THP steps on.
                c.mms += 1;
                c.vmas += 1;
                c.anon_vmas += 1 + actors_n;
                c.tables += 2 + actors_n;
            }
        });
        if size == Size::Stress {
            // swapon: a zram-like device in half the iterations (STRESS_MIX's swap steps).
            w.swap.set_flag(
                mmlab_engine::mm::swap::swp::SYNCHRONOUS_IO,
                env.seed & 1 == 1,
            );
        }
        let regions = layout(&w, size);
        let shared = spawn_mm(&w, &regions).expect("the shared mm");
        // The shared mm's anonymous memory is populated before the actors start (a store to
        // each page, on the setup thread), so that a fork of it shares pages and the stores
        // after it take copy-on-write faults — in the tiny loom world too, whose few
        // operations would rarely populate a page and fork it in one run.
        for va in regions[0].start..regions[0].start + regions[0].len {
            let _ = access::store(&w, 0, shared.0, va, va + 1);
        }
        // The THP mm (stress only): two PMDs of one MADV_HUGEPAGE'd anonymous VMA.
        let thp = match size {
            Size::Tiny => None,
            Size::Stress => {
                let len = 2 * w.cfg.ptes_per_table as u64;
                let mm = mm_alloc(&w).expect("the THP mm");
                mmap(&w, mm, 0, len, MapKind::Anon).expect("the THP VMA");
                huge_memory::madvise_hugepage(&w, mm, 0, len).expect("MADV_HUGEPAGE");
                Some((mm, len))
            }
        };
        let thp_steps = std::sync::Arc::new(ObserverMutex::new(0u64));
        let counts = std::sync::Arc::new(ObserverMutex::new(vec![0u64; mix(Size::Stress).count()]));
        let forks = std::sync::Arc::new(ObserverMutex::new(Vec::<ForkPoint>::new()));
        let started = Instant::now();
        const NAMES: [&str; 16] = [
            "actor0", "actor1", "actor2", "actor3", "actor4", "actor5", "actor6", "actor7",
            "actor8", "actor9", "actor10", "actor11", "actor12", "actor13", "actor14", "actor15",
        ];
        let actors = (0..actors_n)
            .map(|cpu| {
                let (w, env, counts, forks, thp_steps) = (
                    w.clone(),
                    env.clone(),
                    counts.clone(),
                    forks.clone(),
                    thp_steps.clone(),
                );
                let (regions, shared) = (regions.clone(), shared.clone());
                let name = NAMES.get(cpu).copied().unwrap_or("actor");
                actor(name, move || {
                    let mut rng = SmallRng::seed_from_u64(seed ^ ((cpu as u64 + 1) << 32));
                    let mut thp_rng = SmallRng::seed_from_u64(!seed ^ ((cpu as u64 + 1) << 40));
                    let mut my_thp_steps = 0u64;
                    let own = (0..own_n).map(|_| spawn_mm(&w, &regions)).collect();
                    let mut sp = Spaces {
                        regions,
                        shared,
                        own,
                        pins: Vec::new(),
                        forks: Vec::new(),
                        stress: size == Size::Stress,
                    };
                    let mut mine = vec![0u64; mix(Size::Stress).count()];
                    let mut n = 0u64;
                    loop {
                        let done = match env.duration {
                            Some(_) => env.should_stop(started),
                            None => n >= fixed_ops,
                        };
                        if done {
                            break;
                        }
                        n += 1;
                        let value = ((cpu as u64) << 48) | n;
                        if let Some((thp_mm, len)) = thp
                            && thp_rng.random_ratio(1, THP_ONE_IN)
                        {
                            thp_step(&w, cpu, &mut thp_rng, thp_mm, len, value);
                            my_thp_steps += 1;
                            env.tick();
                            continue;
                        }
                        let op = step(&w, cpu, &mut rng, &mut sp, value, size);
                        mine[op.index()] += 1;
                        env.tick();
                    }
                    for pfn in sp.pins.drain(..) {
                        gup::unpin_user_page(&w, pfn);
                    }
                    for (total, m) in counts.lock().iter_mut().zip(mine) {
                        *total += m;
                    }
                    forks.lock().append(&mut sp.forks);
                    *thp_steps.lock() += my_thp_steps;
                })
            })
            .collect();
        let mut out = kit::run(env, &w, actors);
        // I19 for every fork, over every address of the layout, on the sides still alive.
        for fp in forks.lock().iter() {
            for r in &regions {
                for va in r.start..r.start + r.len {
                    cow::check_isolation_at_rest(&w, fp, va);
                }
            }
        }
        out.violations.extend(env.sink.take());
        if out.trace.is_empty() && !out.violations.is_empty() {
            out.trace = w.trace.render(80);
        }
        out.ops = mix(size)
            .zip(counts.lock().iter())
            .map(|(&(op, _), &n)| (op.name(), n))
            .collect();
        if thp.is_some() {
            out.ops.push(("thp", *thp_steps.lock()));
        }
        out
    }
}
