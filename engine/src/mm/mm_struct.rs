//! `struct mm_struct`: an address space's VMAs under `mmap_lock`, its page-table tree, rss,
//! `tlb_flush_pending`, and the CPUs that ran it (`mm_cpumask`).

use super::ids::{TableId, VmaId};
use super::mm_mt::MmMt;
use super::pmd::Pmd;
use crate::sync::{AtomicU32, AtomicU64, LockClass, Ordering, RwSem, SpinLock, observer};

pub use super::ids::{MmId, MmKind};

/// The VMA set of an mm.
#[derive(Debug, Default)]
pub struct MmMap {
    /// The VMAs (the maple tree in the kernel, as walked under `mmap_lock`). Its RCU-readable
    /// side is [`Mm::mm_mt`]: change both together through [`MmMap::vma_iter_store`] /
    /// [`MmMap::vma_iter_clear`].
    pub vmas: Vec<VmaId>,
}

impl MmMap {
    /// `vma_iter_store` / `vma_iter_bulk_store` (mm/internal.h): link `vma` into `mm`'s tree —
    /// the `mmap_lock` list and the RCU-readable index lockless faults walk. The caller holds
    /// `mmap_lock` for write (this `&mut MmMap`).
    pub fn vma_iter_store(&mut self, mm: &Mm, vma: VmaId) {
        if !self.vmas.contains(&vma) {
            self.vmas.push(vma);
        }
        mm.mm_mt.store(vma);
    }

    /// `vma_iter_clear` (`mas_store_gfp(NULL)`): remove `vma` from `mm`'s tree, both sides.
    pub fn vma_iter_clear(&mut self, mm: &Mm, vma: VmaId) {
        self.vmas.retain(|&v| v != vma);
        mm.mm_mt.erase(vma);
    }

    /// `__mt_destroy(&mm->mm_mt)` (`exit_mmap`): the tree emptied, both sides.
    pub fn mt_destroy(&mut self, mm: &Mm) {
        self.vmas.clear();
        mm.mm_mt.clear();
    }
}

/// An mm.
#[derive(Debug)]
pub struct Mm {
    /// `mm->mmap_lock` with the VMA set it protects.
    /// Protected by: itself (write: mmap, munmap before downgrade, mlock; read: faults, zap).
    pub mmap_lock: RwSem<MmMap>,
    /// `mm->page_table_lock`: populating the level above the PTE tables (and the PTL itself
    /// when split PTLs are off, `WorldConfig::ptlocks`).
    pub page_table_lock: SpinLock<()>,
    /// The PMD level: one slot per PTE table, a [`Pmd`] word (a table is its packed
    /// `TableId` + 1, 0 is none, huge and migration entries have bit 63 set).
    /// Protected by: the PMD lock ([`crate::mm::World::pmd_lockptr`]) to populate a table
    /// (`pmd_install`) or change a huge entry; cleared by `free_pgtables` once nothing can
    /// reach the table; read without locks by walkers, as `pmd_none` / `pmd_trans_huge` are.
    pub pmd: Vec<AtomicU64>,
    /// The split PMD lock: `ptlock_ptr(page_ptdesc(pmd_page))` of the one PMD page the model's
    /// mm has (`pmd_lockptr` with `USE_SPLIT_PMD_PTLOCKS`; `&mm->page_table_lock` without, as
    /// [`crate::mm::World::pmd_lockptr`] chooses). Class `Ptl`: the kernel gives PTE and PMD
    /// split locks one lockdep class and nests them by subclass.
    /// Protected by: itself (it guards the PMD entries, [`Mm::pmd`]).
    pub pmd_ptl: SpinLock<()>,
    /// `pmd_huge_pte(mm, pmd)`: the PTE table deposited for each huge PMD
    /// (`pgtable_trans_huge_deposit`), packed `TableId` + 1 (0 = none).
    /// Protected by: the PMD lock (deposit and withdraw happen under it). Observer atomics:
    /// the PMD lock, not the cell, orders every access.
    pub pmd_huge_pte: Vec<observer::AtomicU64>,
    /// `mm->tlb_flush_pending`: nesting count of mmu_gathers in flight.
    pub tlb_flush_pending: AtomicU32,
    /// `mm->tlb_flush_batched` (6.x layout): the low half counts `set_tlb_ubc_flush_pending`
    /// calls — PTEs reclaim cleared with their TLB flush deferred to the reclaiming task's
    /// batch — and the high half, from `TLB_FLUSH_BATCH_FLUSHED_SHIFT`, how many of them the
    /// last `flush_tlb_batched_pending` had flushed. Pending ≠ flushed: some CPU may still
    /// cache a translation reclaim has cleared ([`crate::ops::tlb_ubc`]).
    ///
    /// Observer atomic, deliberately, as [`Mm::cpus_ran`]: reclaim increments it under the
    /// PTL of the PTE it cleared, and the only reader that must see that increment is a PTE
    /// modifier that then takes the same PTL and finds the PTE already none — the PTL's
    /// acquisition carries the order. A reader under another table's PTL may miss it and
    /// that is harmless: reclaim cleared nothing it could find. A facade atomic would add a
    /// loom branch point to every zap, mprotect and mremap of every test.
    /// Protected by: the PTL of the PTE whose flush was deferred (written with atomics).
    pub tlb_flush_batched: observer::AtomicU32,
    /// MM_ANONPAGES + MM_FILEPAGES. Observer state: the kernel's rss is a percpu counter no
    /// path synchronises on, read here only by tests and reports.
    /// Protected by: nothing (a statistic).
    pub rss: observer::AtomicI64,
    /// `mm_cpumask`: bit c set once CPU c ran this mm, read by `flush_tlb_range` to choose its
    /// shootdown targets, in the order of x86's `switch_mm_irqs_off` (arch/x86/mm/tlb.c): a
    /// CPU sets its bit before it walks the tables, a flush reads the mask after it changed a
    /// PTE, so a CPU the flush skips can only load the new PTE.
    ///
    /// Observer atomic, deliberately: each access sits right next to a loom operation that
    /// carries it — the set (`hw_access`) just before the CPU takes its TLB lock, the read at
    /// the start of the shootdown, before it takes the target TLBs' locks — so loom, which
    /// switches threads only at its own operations, already runs the set before and after the
    /// read. As a facade atomic it added branch points and no new order of set and read: the
    /// delayed-rmap clean variants went from 154,470 to 269,947 executions.
    /// Protected by: nothing (set with an atomic OR, read locklessly by flushers).
    pub cpus_ran: observer::AtomicU64,
    /// `mm->flags` (`MMF_*` bits, [`mmf`]).
    /// Protected by: nothing (set with atomic bit operations, read racily, as the kernel's
    /// `test_bit` / `set_bit`).
    pub flags: AtomicU32,
    /// `mm->mm_mt` as the lockless fault path reads it (`mas_walk` under RCU).
    /// Protected by: `mmap_lock` for write to change; RCU to read.
    pub mm_mt: MmMt,
    /// `mm->mm_lock_seq` (6.4+): a VMA whose `vm_lock_seq` equals it is write-locked.
    /// Protected by: `mmap_lock` for write to change (`vma_end_write_all`); read locklessly
    /// by `vma_start_read` (READ_ONCE).
    /// Observer atomic, as `vm_lock_seq` (see `crate::mm::vma_lock::VmaLock`).
    pub mm_lock_seq: observer::AtomicU32,
    /// The `MMF_OOM_*` bits and `MMF_UNSTABLE` of `mm->flags` ([`mmf::OOM_VICTIM`],
    /// [`mmf::OOM_SKIP`], [`mmf::UNSTABLE`]): the OOM killer's and the OOM reaper's handshake
    /// with `exit_mmap` (mm/oom_kill.c, mm/mmap.c).
    ///
    /// Observer atomic, kept apart from [`Mm::flags`] for that reason: every set and test
    /// sits next to an `mmap_lock` operation that orders it — the reaper tests `MMF_OOM_SKIP`
    /// right after its `mmap_read_trylock`, `exit_mmap` sets it right before its
    /// `mmap_write_lock` (or its `down_write(); up_write()` handshake) — so loom already runs
    /// the set before and after the test; as a facade atomic it would add branch points to
    /// every exit in the catalog and no new order.
    /// Protected by: nothing (atomic bit operations, as the kernel's `set_bit` / `test_bit`).
    pub oom_flags: observer::AtomicU32,
    /// `mm->mm_count` (`mmgrab` / `mmdrop`): references to the `struct mm_struct` itself — the
    /// OOM killer's on its victim (`mark_oom_victim`: `tsk->signal->oom_mm`) keeps the mm the
    /// reaper works on from being freed under it once `exit_mmap` is done. Starts at one (the
    /// `mm_users` side's reference, dropped after `exit_mmap`).
    ///
    /// Observer atomic: its decrement in `mmdrop` follows an `mmap_lock` release (exit's, the
    /// reaper's `up_read`), which loom switches at; whoever drops the last reference frees.
    /// Protected by: nothing (atomic).
    pub mm_count: observer::AtomicU32,
    /// Observer bookkeeping for I22 (not kernel state): the VMA that an `exit_mmap` munlock
    /// walk without `mmap_lock` (`munlock_vma_pages_all`, ≤5.17) is walking, packed
    /// `VmaId` + 1 (0 = none).
    /// Protected by: nothing (set and cleared by the exiting thread only).
    pub munlock_walk: observer::AtomicU64,
}

/// `mm->flags` bits (include/linux/sched/coredump.h names; the model's own bit values).
pub mod mmf {
    /// MMF_HAS_PINNED (5.13+, a458b76a4171 "mm: gup: pack has_pinned in MMF_HAS_PINNED"; the
    /// `mm->has_pinned` field before it): some page of this mm was FOLL_PIN'ed
    /// once, so fork must look for pinned pages (`page_needs_cow_for_dma`).
    pub const HAS_PINNED: u32 = 1 << 0;
    /// MMF_OOM_SKIP (a bit of `mm->flags`; here of [`super::Mm::oom_flags`]): the
    /// OOM killer and the OOM reaper disregard this mm — the reaper has reaped it, or
    /// `exit_mmap` set it to shut the reaper out (212925802454 "mm: oom: let oom_reap_task and
    /// exit_mmap run concurrently", 27ae357fa82b).
    pub const OOM_SKIP: u32 = 1 << 1;
    /// MMF_UNSTABLE: the reaper has unmapped (some of) this mm; its contents are no longer
    /// what the user wrote (`check_stable_address_space`). Bit of [`super::Mm::oom_flags`].
    pub const UNSTABLE: u32 = 1 << 2;
    /// MMF_OOM_VICTIM (`mm_is_oom_victim`, set by `mark_oom_victim`, 4.16+): `exit_mmap` must
    /// shake hands with the reaper. Bit of [`super::Mm::oom_flags`].
    pub const OOM_VICTIM: u32 = 1 << 3;
}

impl Mm {
    pub(crate) fn new(pmds: usize, vmas: usize) -> Self {
        Mm {
            mmap_lock: RwSem::new(LockClass::MmapLock, MmMap::default()),
            page_table_lock: SpinLock::new(LockClass::PageTableLock, ()),
            pmd: (0..pmds).map(|_| AtomicU64::new(0)).collect(),
            pmd_ptl: SpinLock::new(LockClass::Ptl, ()),
            pmd_huge_pte: (0..pmds).map(|_| observer::AtomicU64::new(0)).collect(),
            tlb_flush_pending: AtomicU32::new(0),
            tlb_flush_batched: observer::AtomicU32::new(0),
            rss: observer::AtomicI64::new(0),
            cpus_ran: observer::AtomicU64::new(0),
            flags: AtomicU32::new(0),
            mm_mt: MmMt::new(vmas),
            mm_lock_seq: observer::AtomicU32::new(0),
            oom_flags: observer::AtomicU32::new(0),
            mm_count: observer::AtomicU32::new(1),
            munlock_walk: observer::AtomicU64::new(0),
        }
    }

    /// The PTE table at PMD slot `i`, if it points to one: `None` for `pmd_none`, and also for
    /// a huge, invalidated or migration entry (no PTE table to walk; callers that must tell
    /// those apart read [`Mm::pmdp_get_lockless`]).
    pub fn pmd_table(&self, i: usize) -> Option<TableId> {
        self.pmdp_get_lockless(i).table()
    }

    /// `pmdp_get_lockless`: the PMD at slot `i` read without the PMD lock (`None` past the
    /// end) — one atomic load, a snapshot the caller re-checks under the lock before it acts.
    pub fn pmdp_get_lockless(&self, i: usize) -> Pmd {
        self.pmd
            .get(i)
            .map_or(Pmd::None, |p| Pmd::decode(p.load(Ordering::SeqCst)))
    }

    /// Note that CPU `cpu` runs this mm (`switch_mm` sets the bit in `mm_cpumask`).
    pub fn note_cpu(&self, cpu: usize) {
        self.cpus_ran.fetch_or(1 << cpu, observer::Ordering::SeqCst);
    }
}
