//! The world: every object of one simulated machine, in arenas, plus its CPUs, its kernel
//! function table and its trace. (Violations go to the sink of whoever runs the world's actors:
//! the iteration's `Env`, or a test's own `Sink`.)

use super::address_space::AddressSpace;
use super::anon_vma::AnonVma;
use super::arena::{Arena, Id};
use super::cpu::Cpu;
use super::ids::{AnonVmaKind, FileKind, MmKind, PageKind, Pfn, TableKind, VmaKind};
use super::mm_struct::Mm;
use super::page::Page;
use super::table::PageTable;
use super::unmap_log::{UnmapLog, UnmapStart};
use super::vma::Vma;
use crate::kernel::Kernel;
use crate::sync::rcu::Rcu;
use crate::sync::{LockClass, ObserverMutex, RwSem, SpinLock};
use crate::trace::Trace;
use std::collections::HashMap;

/// How big a world is. Scenarios pick a tiny one for loom and a larger one for stress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldConfig {
    /// Simulated CPUs (one per actor).
    pub cpus: usize,
    /// Page frames.
    pub pages: usize,
    /// mm slots.
    pub mms: usize,
    /// VMA slots.
    pub vmas: usize,
    /// anon_vma slots.
    pub anon_vmas: usize,
    /// PTE-table slots.
    pub tables: usize,
    /// PTEs per table (the kernel's PTRS_PER_PTE, 512 on x86-64; small here so that ranges
    /// span several tables and several PTLs).
    pub ptes_per_table: usize,
    /// PMD slots per mm (tables per address space).
    pub pmds_per_mm: usize,
    /// Files: (pages, hugetlb).
    pub files: Vec<(usize, bool)>,
    /// TLB entries per CPU.
    pub tlb_entries: usize,
    /// Which lock guards a PTE table (`CONFIG_SPLIT_PTE_PTLOCKS`).
    pub ptlocks: Ptlocks,
    /// The mmu_gather batch size (`MAX_GATHER_BATCH`: pages gathered before a forced flush);
    /// small in tests so that forced flushes happen.
    pub gather_batch: usize,
}

/// Which lock guards a PTE table: a kernel build option (a `WorldConfig` field), not a kernel
/// function table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ptlocks {
    /// `USE_SPLIT_PTE_PTLOCKS` (the default on SMP builds): each table has its own
    /// `ptlock_ptr(ptdesc)`.
    #[default]
    Split,
    /// Split PTE locks off: every table of an mm is guarded by `mm->page_table_lock`.
    MmPageTableLock,
}

impl WorldConfig {
    /// A tiny world for loom: the given CPUs, a handful of pages, tables of 2 PTEs.
    pub fn tiny(cpus: usize) -> Self {
        WorldConfig {
            cpus,
            pages: 4,
            mms: 2,
            vmas: 3,
            anon_vmas: 2,
            tables: 2,
            ptes_per_table: 2,
            pmds_per_mm: 2,
            files: vec![(2, false)],
            tlb_entries: 4,
            ptlocks: Ptlocks::Split,
            gather_batch: 32,
        }
    }

    /// The smallest world a reduced regression model needs: two CPUs with one-entry TLBs, one
    /// mm, one VMA, one anon_vma, one page table of one PTE, `pages` page frames and the given
    /// files (`(pages, hugetlb)` each). Every loom state it adds is one the race needs.
    pub fn single(pages: usize, files: Vec<(usize, bool)>) -> Self {
        WorldConfig {
            cpus: 2,
            pages,
            mms: 1,
            vmas: 1,
            anon_vmas: 1,
            tables: 1,
            ptes_per_table: 1,
            pmds_per_mm: 1,
            files,
            tlb_entries: 1,
            ptlocks: Ptlocks::Split,
            gather_batch: 32,
        }
    }

    /// A world for real threads.
    pub fn stress(cpus: usize) -> Self {
        WorldConfig {
            cpus,
            pages: 1024,
            mms: 16,
            vmas: 64,
            anon_vmas: 64,
            tables: 256,
            ptes_per_table: 8,
            pmds_per_mm: 16,
            files: vec![(64, false)],
            tlb_entries: 32,
            ptlocks: Ptlocks::Split,
            gather_batch: 32,
        }
    }
}

/// Where a store was made, for the lost-store oracle: a file page, or an anonymous address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreTarget {
    /// A file page (shared mappings write the page cache).
    File(Id<FileKind>, u64),
    /// An anonymous page of an mm (private memory and COW copies).
    Anon(Id<MmKind>, u64),
}

/// One simulated machine.
#[derive(Debug)]
pub struct World {
    /// Its size.
    pub cfg: WorldConfig,
    /// The kernel functions this world runs: the modern kernel's by default, or a historical
    /// version or a user's patch of any of them (see [`crate::kernel`]).
    pub kernel: Kernel,
    /// Page frames.
    pub pages: Arena<PageKind, Page>,
    /// The page allocator's free list, under `zone->lock`.
    pub free_pages: SpinLock<Vec<u32>>,
    /// mm_structs.
    pub mms: Arena<MmKind, Mm>,
    /// VMAs.
    pub vmas: Arena<VmaKind, Vma>,
    /// anon_vmas.
    pub anon_vmas: Arena<AnonVmaKind, AnonVma>,
    /// address_spaces.
    pub files: Arena<FileKind, AddressSpace>,
    /// PTE tables.
    pub tables: Arena<TableKind, PageTable>,
    /// CPUs.
    pub cpus: Vec<Cpu>,
    /// The secondary MMUs (device TLBs behind mmu notifiers), one of each kind
    /// ([`super::secondary::SecondaryKind::ALL`] order), each registered on at most one mm.
    pub secondaries: [super::secondary::SecondaryMmu; 2],
    /// The RCU domain.
    pub rcu: Rcu,
    /// The RCU read sections of page-table walkers (`__pte_offset_map` .. `pte_unmap`, 6.5+)
    /// and the grace period `pte_free_defer` waits for: the kernel's one RCU, counted apart
    /// so that the walkers' sections stay invisible to loom ([`Rcu::observed`]).
    pub rcu_pgtable: Rcu,
    /// `lruvec->lru_lock` (one lruvec: one node, one memcg), and the LRU lists it protects.
    /// Protected by: itself.
    pub lru_lock: SpinLock<super::lruvec::Lruvec>,
    /// `hugetlb_fault_mutex_table`: `roundup_pow_of_two(8 * num_possible_cpus())` mutexes,
    /// indexed by `hugetlb_fault_mutex_hash(mapping, idx)` (see `ops::hugetlb`).
    /// Protected by: itself (each entry serialises hugetlb faults on its hash bucket).
    pub hugetlb_fault_mutex_table: Vec<RwSem<()>>,
    /// The domain trace.
    pub trace: Trace,
    /// The last value each CPU stored at each target (observer state, for the lost-store
    /// oracle); a target's entry is dropped when its memory legitimately goes away (munmap
    /// of anonymous memory).
    pub stores: ObserverMutex<HashMap<(usize, StoreTarget), u64>>,
    /// TLB fills, unmap starts and returns, faults in flight (observer state, for I14 and the
    /// lost-store oracle: see [`crate::check::unmapped`]).
    pub unmaps: ObserverMutex<UnmapLog>,
    /// Some VMA of this world was made THP-eligible (`MADV_HUGEPAGE`,
    /// [`crate::ops::huge_memory::madvise_hugepage`]), so a PMD may be huge. Until then every
    /// PMD is none or a table, and `zap_pmd_range` leaves its unlocked huge-PMD check to
    /// `pte_offset_map_lock`'s read (docs/MODEL.md §15, simplifications).
    /// Protected by: set under `mmap_lock` write before the first THP fault can run (which
    /// holds it for read); observer state, never cleared.
    pub thp: super::super::sync::observer::AtomicBool,
    /// The swap device and its swap cache (one slot per page frame; `crate::mm::swap`).
    pub swap: super::swap::SwapInfo,
}

/// A fault in flight on an mm, for the I14 check of MADV_DONTNEED ([`World::fault_begin`]).
#[derive(Debug)]
#[must_use = "the fault is in flight until this is dropped"]
pub struct FaultInFlight<'a> {
    w: &'a World,
    mm: Id<MmKind>,
}

impl Drop for FaultInFlight<'_> {
    fn drop(&mut self) {
        self.w.unmaps.lock().fault_end(self.mm);
    }
}

impl World {
    /// A world of `cfg`'s size running `kernel`'s functions. Files are created (empty page caches).
    pub fn new(cfg: WorldConfig, kernel: Kernel) -> Self {
        let cpus = cfg.cpus;
        let w = World {
            pages: Arena::new(cfg.pages, |_| Page::new(cpus)),
            free_pages: SpinLock::new(LockClass::ZoneLock, (0..cfg.pages as u32).rev().collect()),
            mms: Arena::new(cfg.mms, |_| Mm::new(cfg.pmds_per_mm, cfg.vmas)),
            vmas: Arena::new(cfg.vmas, |_| Vma::new()),
            anon_vmas: Arena::new(cfg.anon_vmas, |_| AnonVma::new()),
            files: Arena::new(cfg.files.len(), |i| {
                let (pages, huge) = cfg.files[i as usize];
                AddressSpace::new(pages, cpus, huge)
            }),
            tables: Arena::new(cfg.tables, |_| PageTable::new(cfg.ptes_per_table)),
            cpus: (0..cpus).map(|_| Cpu::new()).collect(),
            secondaries: super::secondary::SecondaryKind::ALL
                .map(super::secondary::SecondaryMmu::new),
            rcu: Rcu::new(),
            rcu_pgtable: Rcu::observed(),
            lru_lock: SpinLock::new(LockClass::LruLock, super::lruvec::Lruvec::default()),
            hugetlb_fault_mutex_table: (0..(8 * cpus).next_power_of_two())
                .map(|_| RwSem::new(LockClass::HugetlbFaultMutex, ()))
                .collect(),
            trace: Trace::default(),
            stores: ObserverMutex::new(HashMap::new()),
            unmaps: ObserverMutex::new(UnmapLog::default()),
            thp: super::super::sync::observer::AtomicBool::new(false),
            swap: super::swap::SwapInfo::new(cfg.pages, cpus),
            kernel,
            cfg,
        };
        for _ in 0..w.cfg.files.len() {
            w.files.alloc();
        }
        if crate::sync::LOOM {
            // A loom violation panics mid-path: let its message quote this world's trace.
            w.trace.observe();
        }
        w
    }

    /// The secondary MMU of `kind`.
    pub fn secondary(
        &self,
        kind: super::secondary::SecondaryKind,
    ) -> &super::secondary::SecondaryMmu {
        let i = super::secondary::SecondaryKind::ALL
            .iter()
            .position(|&k| k == kind)
            .expect("ALL lists every kind");
        &self.secondaries[i]
    }

    /// The `i`-th file.
    pub fn file(&self, i: usize) -> Id<FileKind> {
        self.files
            .live_id(i as u32)
            .expect("files are created with the world")
    }

    /// The page `pfn` names (a stale pfn is reported as a use-after-free).
    #[track_caller]
    pub fn page(&self, pfn: Pfn) -> &Page {
        self.pages.get(pfn)
    }

    /// Record a trace step by the current actor.
    pub fn trace(
        &self,
        step: &'static str,
        object: impl std::fmt::Display,
        value: impl std::fmt::Display,
    ) {
        self.trace.record(step, object, value);
    }

    /// The PMD slot and PTE index of a virtual page.
    pub fn pte_slot(&self, va: u64) -> (usize, usize) {
        let n = self.cfg.ptes_per_table as u64;
        ((va / n) as usize, (va % n) as usize)
    }

    /// The PTE mapping `va` of `mm` right now, without its PTL (a racy snapshot, as the
    /// kernel's lockless reads are): `None` when no table covers `va`. For setup, oracles and
    /// tests; a path that acts on the PTE takes the PTL (`pte_offset_map_lock`).
    ///
    /// A huge PMD answers for each page it maps as the PTE `__split_huge_pmd` would make of it
    /// (present, the subpage's pfn, the PMD's bits: an invalidated or NUMA-hinting PMD still
    /// maps the page, so it answers present too), and a PMD migration entry as a migration
    /// PTE of the subpage: so that I14 and the other oracles see a huge mapping as mapped.
    pub fn pte_at(&self, mm: Id<MmKind>, va: u64) -> Option<super::pte::Pte> {
        use super::pmd::Pmd;
        use super::pte::Pte;
        let (slot, i) = self.pte_slot(va);
        match self.mms.get(mm).pmdp_get_lockless(slot) {
            Pmd::None => None,
            Pmd::Table(t) => Some(self.tables.get(t).ptep_get_lockless(i)),
            Pmd::Huge {
                pfn,
                write,
                dirty,
                young,
                ..
            }
            | Pmd::Invalid {
                pfn,
                write,
                dirty,
                young,
            } => Some(Pte::Present {
                pfn: self.subpage(pfn, i),
                write,
                dirty,
                young,
            }),
            Pmd::Migration { pfn, write } => Some(Pte::Migration {
                pfn: self.subpage(pfn, i),
                write,
            }),
        }
    }

    /// `nth_page(head, i)`: the `i`-th frame of the compound page headed by `head` (the head
    /// itself for `i == 0`), with the generation it has now.
    pub fn subpage(&self, head: Pfn, i: usize) -> Pfn {
        if i == 0 {
            return head;
        }
        self.pages
            .live_id(head.idx + i as u32)
            .unwrap_or(Id::new(head.idx + i as u32, 0))
    }

    /// `compound_head`: the head of the compound page `pfn` belongs to (itself for a head or
    /// an order-0 page).
    pub fn compound_head(&self, pfn: Pfn) -> Pfn {
        match self.pages.slot(pfn.idx).compound.get() {
            super::page::Compound::Tail { head } => {
                self.pages.live_id(head).unwrap_or(Id::new(head, 0))
            }
            _ => pfn,
        }
    }

    /// `page_mapcount`: a frame's own PTE mappings plus the mappings of its whole THP by PMDs
    /// (`_mapcount + _entire_mapcount`), both zero-based here.
    pub fn page_mapcount(&self, pfn: Pfn) -> i32 {
        use crate::sync::Ordering;
        let own = self.pages.slot(pfn.idx).mapcount.load(Ordering::SeqCst);
        let head = self.compound_head(pfn);
        match self.pages.slot(head.idx).compound.get() {
            super::page::Compound::Head { .. } => {
                own + self
                    .pages
                    .slot(head.idx)
                    .entire_mapcount
                    .load(Ordering::SeqCst)
            }
            _ => own,
        }
    }

    /// `folio_mapped` (include/linux/mm.h): is any page of the folio of `pfn` mapped — by a
    /// PMD (the head's `_entire_mapcount`) or by a PTE (a frame's `_mapcount`). For an order-0
    /// page it is `page_mapped`, one load, as before THPs.
    ///
    /// Simplification: 6.8+ keeps the total in one counter (`_large_mapcount`); the model
    /// reads the entire mapcount first, then each frame's, racily. The paths that move
    /// mappings between them (`__split_huge_pmd_locked`) raise the frames' before they drop
    /// the entire one, so a reader in this order never sees a mapped THP as unmapped.
    pub fn folio_mapped(&self, pfn: Pfn) -> bool {
        use crate::sync::Ordering;
        let page = self.pages.slot(pfn.idx);
        match page.compound.get() {
            super::page::Compound::Head { nr } => {
                page.entire_mapcount.load(Ordering::SeqCst) > 0
                    || (0..nr as usize).any(|i| {
                        self.pages
                            .slot(self.subpage(pfn, i).idx)
                            .mapcount
                            .load(Ordering::SeqCst)
                            > 0
                    })
            }
            _ => page.mapped(),
        }
    }

    /// `pmd_lockptr`: the lock of the mm's PMD page — its split lock
    /// ([`Mm::pmd_ptl`], `USE_SPLIT_PMD_PTLOCKS`), or `mm->page_table_lock` when split locks
    /// are off. Simplification: the model ties split PMD locks to split PTE locks
    /// ([`WorldConfig::ptlocks`]), as an x86-64 build does (`USE_SPLIT_PMD_PTLOCKS` needs
    /// `USE_SPLIT_PTE_PTLOCKS`).
    pub fn pmd_lockptr<'a>(&'a self, mm: &'a Mm) -> &'a SpinLock<()> {
        match self.cfg.ptlocks {
            Ptlocks::Split => &mm.pmd_ptl,
            Ptlocks::MmPageTableLock => &mm.page_table_lock,
        }
    }

    /// `pte_lockptr`: the lock of a PTE table — its split PTL, or the mm's
    /// `page_table_lock` when split PTLs are off ([`WorldConfig::ptlocks`]).
    pub fn pte_lockptr<'a>(&'a self, mm: &'a Mm, table: &'a PageTable) -> &'a SpinLock<()> {
        match self.cfg.ptlocks {
            Ptlocks::Split => &table.ptl,
            Ptlocks::MmPageTableLock => &mm.page_table_lock,
        }
    }

    /// The epoch stamped on a TLB entry when a walk fills it ([`crate::mm::TlbEntry::filled`]).
    pub fn tlb_fill_epoch(&self) -> u64 {
        self.unmaps.lock().tick()
    }

    /// A munmap or MADV_DONTNEED of `mm` begins (before it zaps anything): what I14 and the
    /// lost-store oracle compare against when it returns.
    pub fn unmap_begin(&self, mm: Id<MmKind>) -> UnmapStart {
        self.unmaps.lock().begin(mm)
    }

    /// A fault on `mm` begins; it ends when the guard drops (`handle_mm_fault` holds one).
    pub fn fault_begin(&self, mm: Id<MmKind>) -> FaultInFlight<'_> {
        self.unmaps.lock().fault_begin(mm);
        FaultInFlight { w: self, mm }
    }

    /// Note a successful store (for the lost-store oracle).
    pub fn note_store(&self, cpu: usize, target: StoreTarget, value: u64) {
        self.stores.lock().insert((cpu, target), value);
    }

    /// The stores to an mm's anonymous range `[start, end)` now live `start - new_start` pages
    /// lower (exec's `shift_arg_pages` moved the memory, page tables and all).
    pub fn move_anon_stores(&self, mm: Id<MmKind>, start: u64, end: u64, new_start: u64) {
        let mut stores = self.stores.lock();
        let moved: Vec<_> = stores
            .iter()
            .filter(|((_, t), _)| matches!(*t, StoreTarget::Anon(m, va) if m == mm && start <= va && va < end))
            .map(|(&k, &v)| (k, v))
            .collect();
        for ((cpu, t), v) in moved {
            stores.remove(&(cpu, t));
            if let StoreTarget::Anon(m, va) = t {
                stores.insert((cpu, StoreTarget::Anon(m, va - start + new_start)), v);
            }
        }
    }

    /// Forget the stores to an mm's anonymous range (its memory went away legitimately).
    pub fn forget_anon_stores(&self, mm: Id<MmKind>, start: u64, end: u64) {
        self.stores
            .lock()
            .retain(|(_, t), _| !matches!(*t, StoreTarget::Anon(m, va) if m == mm && start <= va && va < end));
    }

    /// Forget the stores to pages `[first, end)` of a file (truncated or punched: their data
    /// went away legitimately). Called with the range unmapped (every TLB flushed, so no store
    /// to it is still being recorded) and its cache evicted, under `invalidate_lock` write (so
    /// no fault has brought a new page in yet).
    pub fn forget_file_stores(&self, file: Id<FileKind>, first: u64, end: u64) {
        self.stores.lock().retain(
            |(_, t), _| !matches!(*t, StoreTarget::File(f, i) if f == file && first <= i && i < end),
        );
    }
}
