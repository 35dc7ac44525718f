//! `page_vma_mapped_walk` for one small page: find the PTE mapping a page in one VMA and return
//! it **with its PTL held** (`true ⇒ ptl held; false ⇒ unlocked`, mm/page_vma_mapped.c).
//!
//! Without `PVMW_SYNC` an empty-looking PTE is skipped after an unlocked atomic read, exactly as
//! the kernel does — the fast path that `TTU_SYNC` exists to close (732ed55823fc):
//!
//! ```text
//! zap_pte_range()                       unmap_folio() without TTU_SYNC
//!   SPIN(ptl)
//!   ptep_get_and_clear_full()
//!                                         PVMW: unlocked read sees none -> skip
//!                                         walk ends; folio_mapped() is still TRUE -> BUG
//!   page_remove_rmap()
//!   UNSPIN(ptl)
//! ```

use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::{Pfn, VmaId, World};
use crate::ops::pgtable_generic::{LockedPte, pte_offset_map_lock, pte_offset_map_nolock};
use crate::ops::pmd_lock::{LockedPmd, pmd_lock, pmdp_get_lockless};
use crate::race_window;

bitflags::bitflags! {
    /// `pvmw->flags` (include/linux/rmap.h).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PvmwFlags: u32 {
        /// `PVMW_SYNC`: always take the PTL before deciding.
        const SYNC = 1 << 0;
        /// `PVMW_MIGRATION`: look for migration entries of the page, not present PTEs.
        const MIGRATION = 1 << 1;
    }
}

/// `PVMW_SYNC`, spelt as the kernel spells it at a call site.
pub const PVMW_SYNC: PvmwFlags = PvmwFlags::SYNC;
/// `PVMW_MIGRATION`, spelt as the kernel spells it at a call site.
pub const PVMW_MIGRATION: PvmwFlags = PvmwFlags::MIGRATION;

/// A found mapping (`pvmw.pte` with `pvmw.ptl` held). Dropping the item releases the PTL.
#[derive(Debug)]
pub struct PvmwItem<'w> {
    /// The PTE, its PTL held: clear or change it through its methods.
    pub pte: LockedPte<'w>,
    /// The PTE's value when the walk checked it under the PTL. The hardware walker may set
    /// its dirty and accessed bits since: a caller that clears the PTE uses the value the
    /// clear returns, not this one.
    pub value: Pte,
}

/// `check_pte`: does `pte` map `pfn` the way `flags` asks (a present PTE, or with
/// `PVMW_MIGRATION` a migration entry)?
pub fn check_pte(pte: Pte, pfn: Pfn, flags: PvmwFlags) -> bool {
    match pte {
        Pte::Present { pfn: p, .. } if !flags.contains(PVMW_MIGRATION) => p == pfn,
        Pte::Migration { pfn: p, .. } if flags.contains(PVMW_MIGRATION) => p == pfn,
        _ => false,
    }
}

/// `page_vma_mapped_walk` of `pfn` at `va` in `vma` (6.5+: `map_pte` over
/// `pte_offset_map_nolock` / `pte_offset_map_lock`, 0d940a9b270b's series).
///
/// With `PVMW_SYNC` the stricter lookup: `pte_offset_map_lock`, which re-checks the PMD under
/// the PTL. Without it, `pte_offset_map_nolock` (the RCU section keeps the table's memory a
/// PTE table), the unlocked pre-check, then `spin_lock(ptl)` with no PMD re-check: a table
/// retracted meanwhile is empty (its retractor cleared or found every PTE none), so
/// `check_pte` fails on it and the walk moves on, holding nothing freed. A PMD found none is
/// the walk's `restart` finding nothing mapped.
pub fn page_vma_mapped_walk<'w>(
    w: &'w World,
    pfn: Pfn,
    vma: VmaId,
    va: u64,
    flags: PvmwFlags,
) -> Option<PvmwItem<'w>> {
    let mm_id = w.vmas.get(vma).info.get().mm;
    let (_, index) = w.pte_slot(va);
    let pte = if flags.contains(PVMW_SYNC) {
        // Use the stricter lookup.
        pte_offset_map_lock(w, mm_id, va)?
    } else {
        let map = pte_offset_map_nolock(w, mm_id, va)?;
        // The unlocked fast path: a racy read, no PTL.
        let v = map.table.ptep_get_lockless(index);
        race_window!("page_vma_mapped_walk: unlocked pre-check");
        if precheck_skips(v, flags) {
            w.trace(
                "page_vma_mapped_walk: skip (unlocked)",
                format_args!("va {:#x}", va << 12),
                v,
            );
            return None;
        }
        let ptl = w.pte_lockptr(w.mms.get(mm_id), map.table).lock();
        LockedPte::mapped(w, mm_id, va, map.tid, index, ptl, Some(map.rcu))
    };
    this_pte(w, pte, pfn, va, flags)
}

/// The unlocked pre-check's verdict: nothing of the kind the walk looks for is there.
fn precheck_skips(v: Pte, flags: PvmwFlags) -> bool {
    if flags.contains(PVMW_MIGRATION) {
        !matches!(v, Pte::Migration { .. })
    } else {
        !v.is_present()
    }
}

/// `this_pte: if (check_pte(pvmw)) return true;` — under the PTL.
fn this_pte<'w>(
    w: &'w World,
    pte: LockedPte<'w>,
    pfn: Pfn,
    va: u64,
    flags: PvmwFlags,
) -> Option<PvmwItem<'w>> {
    let value = pte.get();
    if check_pte(value, pfn, flags) {
        Some(PvmwItem { pte, value })
    } else {
        w.trace(
            "page_vma_mapped_walk: not mapped (locked)",
            format_args!("va {:#x}", va << 12),
            value,
        );
        None
    }
}

/// `page_vma_mapped_walk` before 6.5: the PMD read once (`pmd_none` ends the walk) and
/// trusted, `pte_offset_map` without RCU, the pre-check unless `PVMW_SYNC`, then the PTL.
/// Safe only while no table can be freed under a walker holding an rmap lock — what
/// 8d3c106e19e8 restored for khugepaged's file retraction.
pub fn page_vma_mapped_walk_v6_4<'w>(
    w: &'w World,
    pfn: Pfn,
    vma: VmaId,
    va: u64,
    flags: PvmwFlags,
) -> Option<PvmwItem<'w>> {
    let mm_id = w.vmas.get(vma).info.get().mm;
    let mm = w.mms.get(mm_id);
    let (slot, index) = w.pte_slot(va);
    // pmd_none: nothing mapped at this level (the table was never populated, or freed).
    let tid = mm.pmd_table(slot)?;
    let table = w.tables.get(tid);
    if !flags.contains(PVMW_SYNC) {
        // The unlocked fast path: a racy read, no PTL.
        let v = table.ptep_get_lockless(index);
        race_window!("page_vma_mapped_walk: unlocked pre-check");
        if precheck_skips(v, flags) {
            w.trace(
                "page_vma_mapped_walk: skip (unlocked)",
                format_args!("va {:#x}", va << 12),
                v,
            );
            return None;
        }
    }
    let ptl = w.pte_lockptr(mm, w.tables.get(tid)).lock();
    let pte = LockedPte::mapped(w, mm_id, va, tid, index, ptl, None);
    this_pte(w, pte, pfn, va, flags)
}

/// The frames `[pfn, pfn + nr)` as the walk compares them: the arena index range of a folio
/// (`check_pte` / `check_pmd` compare pfn ranges; the model's frames of one compound page
/// are consecutive arena slots, [`World::subpage`]).
fn in_folio(p: Pfn, pfn: Pfn, nr: usize) -> bool {
    p.idx >= pfn.idx && p.idx < pfn.idx + nr as u32
}

/// `struct page_vma_mapped_walk` for a large folio (6.x: `pvmw.pfn`, `pvmw.nr_pages`): the
/// kernel's walk over every PMD and PTE of `vma` that may map one of the folio's
/// `nr_pages` frames, returning each mapping found with its lock held. It is the kernel's
/// loop, step for step (mm/page_vma_mapped.c, 6.x):
///
/// ```text
/// pmde = pmdp_get_lockless(pmd);
/// if (pmd_trans_huge(pmde) || is_pmd_migration_entry(pmde)) {
///         ptl = pmd_lock(mm, pmd);  pmde = *pmd;           // re-check under the lock
///         !pmd_present: PVMW_MIGRATION and a migration entry of the folio -> found (pmd)
///         pmd_trans_huge: !PVMW_MIGRATION and check_pmd -> found (pmd), else not_found
///         otherwise: "THP pmd was split under us: handle on pte level", unlock
/// } else if (!pmd_present(pmde)) {
///         /* If PVMW_SYNC, take and drop THP pmd lock so that we cannot return
///          * prematurely, while zap_huge_pmd() has cleared *pmd but not decremented
///          * compound_mapcount().  -- 732ed55823fc */
///         if (PVMW_SYNC && thp_vma_suitable_order(vma, address, PMD_ORDER) &&
///             nr_pages >= HPAGE_PMD_NR) { spin_lock(pmd_lock); spin_unlock(); }
///         step_forward(PMD_SIZE); continue;
/// }
/// map_pte(): PVMW_SYNC -> pte_offset_map_lock; else ptep_get_lockless, skip a none PTE
///            (and, PVMW_MIGRATION, a present one) without the lock
/// check_pte() each PTE of the range, the PTL held across the table
/// ```
///
/// Use: `while walk.page_vma_mapped_walk() { walk.pmd() / walk.pte() ... }`, `done()` to stop early,
/// `restart()` after changing the PMD under its lock (`page_vma_mapped_walk_restart`).
///
/// The model keeps the order-0 walk ([`page_vma_mapped_walk`], one PTE) as the kernel's walk
/// of a one-page folio, unchanged; this one is for THPs, whose walk may meet a huge PMD.
pub struct PageVmaMappedWalk<'w> {
    w: &'w World,
    /// `pvmw->pfn`: the folio's first frame.
    pfn: Pfn,
    /// `pvmw->nr_pages`.
    nr_pages: usize,
    vma: VmaId,
    mm: crate::mm::MmId,
    /// `pvmw->address`: the virtual page being looked at.
    address: u64,
    /// `vma_address_end(pvmw)`.
    end: u64,
    /// `pvmw->flags`.
    flags: PvmwFlags,
    /// `pvmw->pmd` with `pvmw->ptl` held, when the walk found a PMD mapping.
    pmd: Option<LockedPmd<'w>>,
    /// `pvmw->pte` with `pvmw->ptl` held, when the walk found a PTE mapping (or is crossing a
    /// table under its PTL).
    pte: Option<LockedPte<'w>>,
    /// A PTE was returned: the next call goes on with the next PTE (`goto next_pte`).
    in_table: bool,
    /// The walk is over (`not_found`).
    finished: bool,
}

impl std::fmt::Debug for PageVmaMappedWalk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PageVmaMappedWalk({} x{} in {} at {:#x})",
            self.pfn,
            self.nr_pages,
            self.vma,
            self.address << 12
        )
    }
}

impl<'w> PageVmaMappedWalk<'w> {
    /// `DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, address, flags)`: the walk of the folio
    /// headed by `pfn` in `vma`, from `va` (`vma_address` of the folio's first page).
    pub fn new(
        w: &'w World,
        pfn: Pfn,
        nr_pages: usize,
        vma: VmaId,
        va: u64,
        flags: PvmwFlags,
    ) -> Self {
        let info = w.vmas.get(vma).info.get();
        PageVmaMappedWalk {
            w,
            pfn,
            nr_pages,
            vma,
            mm: info.mm,
            address: va,
            end: (va + nr_pages as u64).min(info.end),
            flags,
            pmd: None,
            pte: None,
            in_table: false,
            finished: false,
        }
    }

    /// `pvmw.address`: where the mapping found is.
    pub fn address(&self) -> u64 {
        self.address
    }

    /// `pvmw.pmd` without `pvmw.pte`: a PMD mapping of the folio, its lock held.
    pub fn pmd(&self) -> Option<&LockedPmd<'w>> {
        self.pmd.as_ref()
    }

    /// `pvmw.pte`: a PTE mapping one page of the folio, its PTL held.
    pub fn pte(&self) -> Option<&LockedPte<'w>> {
        self.pte.as_ref()
    }

    /// `page_vma_mapped_walk_done`: drop whatever lock the walk holds and end it.
    pub fn done(&mut self) {
        self.pte = None;
        self.pmd = None;
        self.finished = true;
    }

    /// `page_vma_mapped_walk_restart` (6.11+): the caller changed the PMD it was given (split
    /// it); drop its lock and walk the same range again from the PMD level.
    pub fn restart(&mut self) {
        self.pte = None;
        self.pmd = None;
        self.in_table = false;
    }

    fn per(&self) -> u64 {
        self.w.cfg.ptes_per_table as u64
    }

    fn not_found(&mut self) -> bool {
        self.done();
        false
    }

    /// `step_forward(pvmw, PMD_SIZE)`.
    fn step_forward(&mut self) {
        self.address = (self.address / self.per() + 1) * self.per();
    }

    /// `check_pte`, for the folio's range.
    fn check_pte(&self, pte: Pte) -> bool {
        match pte {
            Pte::Present { pfn, .. } if !self.flags.contains(PVMW_MIGRATION) => {
                in_folio(pfn, self.pfn, self.nr_pages)
            }
            Pte::Migration { pfn, .. } if self.flags.contains(PVMW_MIGRATION) => {
                in_folio(pfn, self.pfn, self.nr_pages)
            }
            _ => false,
        }
    }

    /// `thp_vma_suitable_order(vma, address, PMD_ORDER)`: the PMD range around `address` lies
    /// inside the VMA (an anonymous VMA needs no offset alignment).
    fn thp_vma_suitable(&self) -> bool {
        let info = self.w.vmas.get(self.vma).info.get();
        let haddr = self.address / self.per() * self.per();
        haddr >= info.start && haddr + self.per() <= info.end
    }

    /// `page_vma_mapped_walk(&pvmw)`: find the next mapping; true with its lock held
    /// ([`Self::pmd`] or [`Self::pte`]), false when there is none (every lock dropped).
    pub fn page_vma_mapped_walk(&mut self) -> bool {
        if self.finished {
            return false;
        }
        // "The only possible pmd mapping has been handled on last iteration".
        if self.pmd.is_some() {
            return self.not_found();
        }
        if self.in_table && !self.next_pte() {
            return self.not_found();
        }
        loop {
            if let Some(pte) = &self.pte {
                // this_pte:
                if self.check_pte(pte.get()) {
                    self.in_table = true;
                    return true;
                }
                if !self.next_pte() {
                    return self.not_found();
                }
                continue;
            }
            if self.address >= self.end {
                return self.not_found();
            }
            match self.pmd_level() {
                PmdLevel::Found => return true,
                PmdLevel::NotFound => return self.not_found(),
                PmdLevel::StepForward => continue,
                PmdLevel::Table => {}
            }
            if !self.map_pte() {
                return self.not_found();
            }
        }
    }

    /// The PMD level of the walk (`restart:` down to `map_pte`), at `self.address`.
    fn pmd_level(&mut self) -> PmdLevel {
        let slot = self.w.pte_slot(self.address).0;
        let pmde = pmdp_get_lockless(self.w, self.mm, slot);
        race_window!("page_vma_mapped_walk: unlocked pmd read");
        if pmde.is_trans_huge() || pmde.is_swap_pmd() {
            let pmd = pmd_lock(self.w, self.mm, slot);
            let pmde = pmd.get();
            let (found, what) = match pmde {
                // !pmd_present: only a PVMW_MIGRATION walk wants a migration entry.
                Pmd::Migration { pfn, .. } => (
                    self.flags.contains(PVMW_MIGRATION) && in_folio(pfn, self.pfn, self.nr_pages),
                    "pmd migration entry",
                ),
                Pmd::None => (false, "pmd none under the lock"),
                // pmd_trans_huge: check_pmd, unless the walk wants migration entries.
                Pmd::Huge { pfn, .. } | Pmd::Invalid { pfn, .. } => (
                    !self.flags.contains(PVMW_MIGRATION) && in_folio(pfn, self.pfn, self.nr_pages),
                    "huge pmd",
                ),
                Pmd::Table(_) => {
                    // "THP pmd was split under us: handle on pte level".
                    drop(pmd);
                    return PmdLevel::Table;
                }
            };
            self.w.trace(
                if found {
                    "page_vma_mapped_walk: found (pmd lock held)"
                } else {
                    "page_vma_mapped_walk: not mapped (pmd lock held)"
                },
                format_args!("{} pmd {slot}: {what}", self.mm),
                pmde,
            );
            if !found {
                return PmdLevel::NotFound;
            }
            self.pmd = Some(pmd);
            return PmdLevel::Found;
        }
        if !pmde.is_present() {
            // If PVMW_SYNC, take and drop THP pmd lock so that we cannot return
            // prematurely, while zap_huge_pmd() has cleared *pmd but not decremented
            // compound_mapcount() (732ed55823fc).
            if self.flags.contains(PVMW_SYNC)
                && self.thp_vma_suitable()
                && self.nr_pages >= self.w.cfg.ptes_per_table
            {
                drop(pmd_lock(self.w, self.mm, slot));
                self.w.trace(
                    "page_vma_mapped_walk: pmd none, pmd lock taken and dropped (PVMW_SYNC)",
                    format_args!("{} pmd {slot}", self.mm),
                    pmde,
                );
            } else {
                self.w.trace(
                    "page_vma_mapped_walk: pmd none, skip",
                    format_args!("{} pmd {slot}", self.mm),
                    pmde,
                );
            }
            self.step_forward();
            return PmdLevel::StepForward;
        }
        PmdLevel::Table
    }

    /// `map_pte` and the unlocked part of `next_pte`: with `PVMW_SYNC`, `pte_offset_map_lock`;
    /// without, read each PTE of the table locklessly and skip the ones that cannot match
    /// without taking the PTL, then lock and re-check that the PMD still points at the table
    /// (`pmd_same`). Leaves `self.pte` set (with `self.address` on it), or returns to the PMD
    /// level (`self.pte` unset: a new table, or the table changed), or false at the end.
    fn map_pte(&mut self) -> bool {
        let m = self.w.mms.get(self.mm);
        let slot = self.w.pte_slot(self.address).0;
        let Some(tid) = m.pmd_table(slot) else {
            // The table went under us (`!pvmw->pte`: `goto restart`).
            return true;
        };
        let table = self.w.tables.get(tid);
        if !self.flags.contains(PVMW_SYNC) {
            loop {
                let index = self.w.pte_slot(self.address).1;
                let v = table.ptep_get_lockless(index);
                race_window!("page_vma_mapped_walk: unlocked pte pre-check");
                let skip = if self.flags.contains(PVMW_MIGRATION) {
                    !matches!(v, Pte::Migration { .. })
                } else {
                    !v.is_present()
                };
                if !skip {
                    break;
                }
                self.w.trace(
                    "page_vma_mapped_walk: skip (unlocked)",
                    format_args!("va {:#x}", self.address << 12),
                    v,
                );
                self.address += 1;
                if self.address >= self.end {
                    return false;
                }
                if self.address.is_multiple_of(self.per()) {
                    return true; // the next table: from the PMD level
                }
            }
        }
        let ptl = self.w.pte_lockptr(m, table).lock();
        if m.pmd_table(slot) != Some(tid) {
            // !pmd_same: the table changed under us; again from the PMD level.
            drop(ptl);
            return true;
        }
        let index = self.w.pte_slot(self.address).1;
        self.pte = Some(LockedPte::mapped(
            self.w,
            self.mm,
            self.address,
            tid,
            index,
            ptl,
            None,
        ));
        true
    }

    /// `next_pte:` with the PTL held: the next address; false when past the end. Crossing
    /// into the next table drops the PTL and goes back to the PMD level (`goto restart`).
    fn next_pte(&mut self) -> bool {
        self.in_table = false;
        self.address += 1;
        if self.address >= self.end {
            return false;
        }
        if self.address.is_multiple_of(self.per()) {
            self.pte = None;
            return true;
        }
        if let Some(pte) = &mut self.pte {
            pte.move_to(self.address);
        }
        true
    }
}

/// Where the PMD level of [`PageVmaMappedWalk`] left the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PmdLevel {
    /// A PMD mapping of the folio, its lock held.
    Found,
    /// The PMD maps something else: the walk is over (`not_found`).
    NotFound,
    /// Nothing at this PMD: the next one (`step_forward(pvmw, PMD_SIZE)`).
    StepForward,
    /// A PTE table: `map_pte`.
    Table,
}
