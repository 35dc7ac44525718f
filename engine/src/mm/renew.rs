//! Renewing a world in place: the state [`World::new`] builds, without its allocations.
//!
//! A stress iteration builds a world of about 1,500 heap objects (a data vector per page, an
//! entry vector per page table, ...) and drops it a millisecond later; on real threads that
//! malloc/free was as large a part of an iteration as the model's own work. A renewed world
//! keeps its buffers and puts every object back as `new` made it. Two things make that safe:
//!
//! - it takes `&mut World`: no actor, guard or id-holding reader can see it happen (a caller
//!   holding the world in an `Arc` renews only what `Arc::get_mut` hands it, i.e. a world no
//!   abandoned thread still holds);
//! - every arena slot's generation moves *on*, never back: an id handed out before the renewal
//!   is stale after it, and its use is reported as a use-after-free exactly as if the world had
//!   been freed and a new one allocated in its place.
//!
//! Objects whose fields are all visible here (pages, page tables, the world itself) are reset
//! field by field through an exhaustive destructuring, so that a field added later is a
//! compile error here rather than state that leaks from one iteration into the next. The rest
//! are rebuilt with their own constructors, as `World::new` builds them.

use super::address_space::AddressSpace;
use super::anon_vma::AnonVma;
use super::cpu::Cpu;
use super::mm_struct::Mm;
use super::page::Page;
use super::table::PageTable;
use super::unmap_log::UnmapLog;
use super::vma::Vma;
use super::world::World;
use crate::sync::{Frozen, LockClass, Ordering, RwSem, SpinLock, rcu::Rcu};
use crate::trace::Trace;

impl World {
    /// Put the world back in the state `World::new(self.cfg, self.kernel)` builds (files
    /// created, page caches empty, every page free), keeping its memory. Ids from before are
    /// stale afterwards (see the module docs). Returns false, and changes nothing, when an
    /// arena's generations are too near the top of their range for another renewal (after
    /// hundreds of millions of them): build a new world then.
    pub fn renew(&mut self) -> bool {
        let World {
            cfg,
            kernel: _,
            pages,
            free_pages,
            mms,
            vmas,
            anon_vmas,
            files,
            tables,
            cpus,
            secondaries,
            rcu,
            rcu_pgtable,
            lru_lock,
            hugetlb_fault_mutex_table,
            trace,
            stores,
            unmaps,
            thp,
            swap,
        } = self;
        let room = pages.renewed_generation().is_some()
            && mms.renewed_generation().is_some()
            && vmas.renewed_generation().is_some()
            && anon_vmas.renewed_generation().is_some()
            && files.renewed_generation().is_some()
            && tables.renewed_generation().is_some();
        if !room {
            return false;
        }
        let ncpus = cfg.cpus;
        pages.renew(|_, p| reset_page(p, ncpus));
        *free_pages = SpinLock::new(LockClass::ZoneLock, (0..cfg.pages as u32).rev().collect());
        mms.renew(|_, m| *m = Mm::new(cfg.pmds_per_mm, cfg.vmas));
        vmas.renew(|_, v| *v = Vma::new());
        anon_vmas.renew(|_, a| *a = AnonVma::new());
        files.renew(|i, f| {
            let (npages, huge) = cfg.files[i as usize];
            *f = AddressSpace::new(npages, ncpus, huge);
        });
        let ptes = cfg.ptes_per_table;
        tables.renew(|_, t| reset_table(t, ptes));
        cpus.clear();
        cpus.extend((0..ncpus).map(|_| Cpu::new()));
        *secondaries =
            super::secondary::SecondaryKind::ALL.map(super::secondary::SecondaryMmu::new);
        *rcu = Rcu::new();
        *rcu_pgtable = Rcu::observed();
        *lru_lock = SpinLock::new(LockClass::LruLock, super::lruvec::Lruvec::default());
        for m in hugetlb_fault_mutex_table.iter_mut() {
            *m = RwSem::new(LockClass::HugetlbFaultMutex, ());
        }
        *trace = Trace::default();
        stores.get_mut().clear();
        *unmaps.get_mut() = UnmapLog::default();
        *thp.get_mut() = false;
        swap.renew();
        for _ in 0..cfg.files.len() {
            files.alloc();
        }
        true
    }
}

/// A page as `Page::new` makes it, keeping its data vector.
fn reset_page(p: &mut Page, cpus: usize) {
    let Page {
        flags,
        mapcount,
        refcount,
        mapping,
        index,
        mlock_count,
        data,
        compound,
        entire_mapcount,
        block,
        munlock_missed,
        swap,
    } = p;
    block.store(0, std::sync::atomic::Ordering::Relaxed);
    munlock_missed.store(false, std::sync::atomic::Ordering::Relaxed);
    swap.store(0, Ordering::Relaxed);
    *compound = Frozen::new(super::page::Compound::Single);
    entire_mapcount.store(0, Ordering::Relaxed);
    flags.store(0, Ordering::Relaxed);
    mapcount.store(0, Ordering::Relaxed);
    refcount.store(0, Ordering::Relaxed);
    mapping.store(0, Ordering::Relaxed);
    index.store(0, Ordering::Relaxed);
    mlock_count.store(0, Ordering::Relaxed);
    data.truncate(cpus);
    for d in data.iter_mut() {
        d.store(0, Ordering::Relaxed);
    }
    while data.len() < cpus {
        data.push(Default::default());
    }
}

/// A page table as `PageTable::new` makes it, keeping its entry vector.
fn reset_table(t: &mut PageTable, ptes: usize) {
    let PageTable {
        ptl,
        entries,
        owner,
        share_count,
    } = t;
    *ptl = SpinLock::new(LockClass::Ptl, ());
    entries.truncate(ptes);
    for e in entries.iter_mut() {
        e.store(0, Ordering::Relaxed);
    }
    while entries.len() < ptes {
        entries.push(Default::default());
    }
    *owner = Frozen::new((super::Id::new(0, 0), 0));
    share_count.store(1, Ordering::Relaxed);
}
