//! The copy-on-write oracles: I18 (a private write lands in a private page) and I19 (after
//! fork, neither side sees the other's later writes). docs/MODEL.md §3 states them.
//!
//! I19 is checked against a [`ForkPoint`], the stores each side had made when fork
//! returned, by whoever reads memory after fork: [`check_isolation`] for one page a side
//! reads (through its mapping, or a page reference GUP took for it), [`check_isolation_at_rest`]
//! for both sides' mappings.
//!
//! I18 is checked in-path where a kernel write for a private mapping lands
//! (`ops::gup::cow_write`, called by `access_remote_vm` before `copy_to_user_page`: an
//! in-path assertion lives beside its path, below the oracles' floor) and at
//! rest for the hardware ([`check_private_ptes`]: no writable PTE of a private mapping maps a
//! page-cache page or a page another mapping shares). [`check_private_ptes`] is one of the
//! quiescent invariants ([`crate::check::quiescent::check_world`]), so every scenario gets it.

use crate::check::{Oracle, violation};
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::world::StoreTarget;
use crate::mm::{Mapping, MmId, Pfn, World};
use crate::sync::Ordering;
use std::collections::HashMap;

/// I18, at rest: no present, writable PTE of a private VMA maps a page-cache page, or an
/// anonymous page that another mapping maps too (mapcount above one: the model has no
/// mremap, so a second mapping is another VMA's — after fork, another mm's).
///
/// True of every quiescent world, hence in `check_world`: a private file VMA maps page-cache
/// pages only read-only (`do_read_fault`'s `finish_fault`; a write goes to `do_cow_fault`'s
/// copy, and `do_wp_page` copies a page-cache page it meets); fork write-protects both sides
/// of every anonymous page it shares (`copy_present_pte`'s `ptep_set_wrprotect`, and
/// `copy_nonpresent_pte` downgrades a writable migration entry so `remove_migration_ptes`
/// restores it read-only); mprotect only takes write bits away (`change_pte_range`); a private
/// hugetlb mapping never maps writable (its write faults SIGBUS here); and PMD sharing, the
/// one way two mms reach one PTE, is for `VM_MAYSHARE` VMAs only (`vma_shareable`). Only a
/// read-only PTE of a private VMA may map a page-cache or shared page.
pub fn check_private_ptes(w: &World) {
    for mm in w.mms.live() {
        let map = w.mms.get(mm).mmap_lock.read();
        for &vma in &map.vmas {
            let v = w.vmas.get(vma);
            if v.has(vm::SHARED) {
                continue;
            }
            let info = v.info.get();
            for va in info.start..info.end {
                let Some(Pte::Present {
                    pfn, write: true, ..
                }) = w.pte_at(mm, va)
                else {
                    continue;
                };
                let page = w.page(pfn);
                let shared = page.mapcount.load(Ordering::SeqCst) > 1;
                if matches!(page.mapping(), Mapping::File(_)) || shared {
                    violation(
                        Oracle::I18CowWrite,
                        format!(
                            "{mm} va {:#x}: a writable PTE of a private mapping maps {pfn} \
                             ({:?}, mapcount {})",
                            va << 12,
                            page.mapping(),
                            page.mapcount.load(Ordering::SeqCst)
                        ),
                    );
                }
            }
        }
    }
}

/// What fork promised, for I19: the parent, the child, and the last value each CPU had stored
/// at each target when `dup_mm` returned — after `dup_mmap`'s `flush_tlb_mm(oldmm)` and
/// `mmap_write_unlock(oldmm)`. A store recorded by then may be seen by either side: a thread
/// of the parent writing *during* fork may land before or after its PTE is write-protected,
/// and the kernel promises nothing about which. Only a store made after this point is the
/// other side's "later write".
///
/// Taken by the thread that called `dup_mm`, once it returned ([`ForkPoint::after_fork`]):
/// a store another thread records between the return and the snapshot counts as "during
/// fork" — the oracle checks less than the kernel promises, never more.
#[derive(Debug, Clone)]
pub struct ForkPoint {
    /// The mm that forked.
    pub parent: MmId,
    /// The new mm.
    pub child: MmId,
    before: HashMap<(usize, StoreTarget), u64>,
}

impl ForkPoint {
    /// The stores as `dup_mm` returned `child`, a copy of `parent`.
    pub fn after_fork(w: &World, parent: MmId, child: MmId) -> Self {
        ForkPoint {
            parent,
            child,
            before: w.stores.lock().clone(),
        }
    }

    /// The other side of `mm`.
    pub fn other(&self, mm: MmId) -> MmId {
        if mm == self.parent {
            self.child
        } else {
            self.parent
        }
    }
}

/// I19: side `reader` reads `pfn` for its address `va` — through its own mapping, or through
/// a page reference GUP took for it at `va` (a pipe's vmsplice'd page). No CPU's word of the
/// page may hold a value that CPU stored at `va` of the *other* side after fork (its last
/// store there, if it differs from the one it had made by the [`ForkPoint`]) — unless the
/// reader itself stored that same value there. `how` says how the page was reached.
///
/// Only the last store of each CPU per address is recorded (`w.stores`): an earlier post-fork
/// store that leaked and was then overwritten by the other side is not seen — a missed
/// report, never a false one. Scenarios store distinct values on each side.
pub fn check_isolation(w: &World, fp: &ForkPoint, reader: MmId, va: u64, pfn: Pfn, how: &str) {
    let page = w.page(pfn);
    let words: Vec<u64> = page.data.iter().map(|d| d.load(Ordering::SeqCst)).collect();
    check_words(w, fp, reader, va, &words, &format!("{how}, {pfn}"));
}

/// The I19 check of the words `reader` sees at `va` (one per CPU), `how` saying where.
fn check_words(w: &World, fp: &ForkPoint, reader: MmId, va: u64, words: &[u64], how: &str) {
    let other = fp.other(reader);
    for (cpu, &seen) in words.iter().enumerate() {
        let (later, own) = {
            let stores = w.stores.lock();
            let key = (cpu, StoreTarget::Anon(other, va));
            let later = stores
                .get(&key)
                .copied()
                .filter(|v| fp.before.get(&key) != Some(v));
            let own = stores.get(&(cpu, StoreTarget::Anon(reader, va))).copied();
            (later, own)
        };
        if let Some(v) = later
            && seen == v
            && own != Some(v)
        {
            violation(
                Oracle::I19CowIsolation,
                format!(
                    "{reader} reads {v} at va {:#x} ({how}): cpu{cpu} stored it to {other} after fork",
                    va << 12
                ),
            );
        }
    }
}

/// I19 at rest: each side's page at `va`, through its own mapping, if mapped — or, swapped
/// out, the data its swap entry stands for (the swap cache's folio, or the device's slot).
/// `can_show` is the check of [`check_isolation`], for words that are not in a mapped page.
pub fn check_isolation_at_rest(w: &World, fp: &ForkPoint, va: u64) {
    for mm in [fp.parent, fp.child] {
        if !w.mms.is_live(mm) {
            continue;
        }
        match w.pte_at(mm, va) {
            Some(Pte::Present { pfn, .. }) => check_isolation(w, fp, mm, va, pfn, "its mapping"),
            Some(Pte::Swap { offset, .. }) => {
                let words: Vec<u64> = (0..w.cfg.cpus)
                    .map(|c| w.swap.swapped_word(&w.pages, offset, c))
                    .collect();
                check_words(w, fp, mm, va, &words, &format!("swap slot {offset}"));
            }
            _ => {}
        }
    }
}
