//! User accesses: the hardware (`hw_load` / `hw_store` through the TLB and the page-table
//! walker) and the user-level `load` / `store` that take a fault and retry, as a real access
//! does.

use crate::check::{self, Oracle};
use crate::mm::page::Mapping;
use crate::mm::pte::Pte;
use crate::mm::world::StoreTarget;
use crate::mm::{MmId, Pfn, TlbEntry, World};
use crate::ops::Error;
use crate::sync::{Ordering, hw_lock};

/// Why the hardware could not complete an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HwFault {
    /// No present PTE (none, migration or swap entry): a page fault.
    NotPresent,
    /// A store to a read-only PTE: a write-protect fault.
    WriteProtect,
}

/// The hardware walker: read the PTE without locks and, for a store, set its dirty bit.
/// Runs under the CPU's TLB lock (see `mm::cpu`).
///
/// This is the MMU, not a kernel path: it takes no PTL (no `LockedPte`), reads the raw PTE
/// word and sets the accessed and dirty bits with a compare-and-exchange, as x86's walker
/// does with a locked update — which is why every kernel path's clear must return the old
/// PTE atomically (`LockedPte::ptep_get_and_clear`) rather than trust an earlier read.
fn walk(w: &World, mm_id: MmId, va: u64, store: bool) -> Result<TlbEntry, HwFault> {
    let mm = w.mms.get(mm_id);
    let (slot, i) = w.pte_slot(va);
    let table_id = mm.pmd_table(slot).ok_or(HwFault::NotPresent)?;
    let table = w.tables.get(table_id);
    let entry = &table.entries[i];
    loop {
        let raw = entry.load(Ordering::SeqCst);
        let Pte::Present {
            pfn, write, dirty, ..
        } = Pte::decode(raw)
        else {
            return Err(HwFault::NotPresent);
        };
        if store && !write {
            return Err(HwFault::WriteProtect);
        }
        let new = Pte::Present {
            pfn,
            write,
            dirty: dirty || store,
            young: true,
        }
        .encode();
        if new != raw
            && entry
                .compare_exchange(raw, new, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            continue;
        }
        return Ok(TlbEntry {
            mm: mm_id,
            va,
            pfn,
            write,
            dirty: dirty || store,
            filled: w.tlb_fill_epoch(),
        });
    }
}

/// A hardware access by `cpu`: a load returns the CPU's word of the page; a store writes it.
/// Returns the page the access landed in.
pub fn hw_access(
    w: &World,
    cpu: usize,
    mm_id: MmId,
    va: u64,
    store: Option<u64>,
) -> Result<(Pfn, u64), HwFault> {
    w.mms.get(mm_id).note_cpu(cpu);
    let mut tlb = hw_lock(&w.cpus[cpu].tlb);
    let cached = tlb.iter().position(|e| e.mm == mm_id && e.va == va);
    let mut stale = None;
    let entry = match cached {
        Some(k) if store.is_none() || (tlb[k].write && tlb[k].dirty) => {
            if store.is_some() {
                // The lost-store oracle: a store that uses, without a walk, an entry filled
                // before a munmap/MADV_DONTNEED of this address that has since returned goes
                // to a page the mm no longer maps here.
                // Simplification: only such stores are judged; a load through a stale entry
                // is not.
                stale = w.unmaps.lock().stale(mm_id, va, tlb[k].filled);
            }
            tlb[k]
        }
        Some(k) if tlb[k].write => {
            // Clean→dirty: the hardware re-walks and sets the PTE's dirty bit; if the PTE
            // is gone or changed, the access faults (the x86 rule `try_to_unmap_one`'s
            // deferred-flush comment relies on).
            match walk(w, mm_id, va, true) {
                Ok(e) if e.pfn == tlb[k].pfn => {
                    tlb[k] = e;
                    e
                }
                Ok(e) => {
                    tlb[k] = e;
                    e
                }
                Err(f) => {
                    tlb.remove(k);
                    return Err(f);
                }
            }
        }
        Some(k) => {
            tlb.remove(k);
            let e = walk(w, mm_id, va, store.is_some())?;
            tlb.push(e);
            e
        }
        None => {
            let e = walk(w, mm_id, va, store.is_some())?;
            if tlb.len() >= w.cfg.tlb_entries {
                tlb.remove(0);
            }
            tlb.push(e);
            e
        }
    };
    let page = w.page(entry.pfn);
    let value = match store {
        Some(v) if stale.is_some() => {
            // It lands all the same (the hardware does not know), but it is no store to
            // anything the mm maps: reported, and not recorded as a legitimate store.
            page.data[cpu].store(v, Ordering::SeqCst);
            let (call, lo, hi) = stale.expect("checked by the guard");
            check::violation(
                Oracle::LostStore,
                format!(
                    "cpu{cpu}'s store of {v} to {mm_id} va {:#x} landed in {} through a TLB entry \
                     older than the {} of {:#x}-{:#x}, which has returned",
                    va << 12,
                    entry.pfn,
                    call.name(),
                    lo << 12,
                    hi << 12
                ),
            );
            v
        }
        Some(v) => {
            page.data[cpu].store(v, Ordering::SeqCst);
            // Recorded under the TLB lock, so that a zap's flush (which takes it) orders the
            // record before any `forget_anon_stores` that follows the zap.
            let target = match page.mapping() {
                Mapping::File(f) => StoreTarget::File(f, page.index.load(Ordering::SeqCst)),
                _ => StoreTarget::Anon(mm_id, va),
            };
            w.note_store(cpu, target, v);
            v
        }
        None => page.data[cpu].load(Ordering::SeqCst),
    };
    drop(tlb);
    Ok((entry.pfn, value))
}

/// How many faults one access may take before the lab calls it a livelock.
const MAX_FAULTS: usize = 10_000;

fn access(
    w: &World,
    cpu: usize,
    mm: MmId,
    va: u64,
    store: Option<u64>,
) -> Result<(Pfn, u64), Error> {
    for _ in 0..MAX_FAULTS {
        match hw_access(w, cpu, mm, va, store) {
            Ok(r) => return Ok(r),
            Err(f) => (w.kernel.fault.do_user_addr_fault)(
                w,
                mm,
                va,
                store.is_some() || f == HwFault::WriteProtect,
            )?,
        }
    }
    check::violation(
        Oracle::Progress,
        format!(
            "cpu{cpu}: {MAX_FAULTS} faults at {mm} va {:#x} without progress",
            va << 12
        ),
    );
    Err(Error::Segv)
}

/// A user load by `cpu` (faulting as needed): the CPU's word of the page.
pub fn load(w: &World, cpu: usize, mm: MmId, va: u64) -> Result<u64, Error> {
    let (pfn, v) = access(w, cpu, mm, va, None)?;
    w.trace(
        "load",
        format_args!("{mm} va {:#x}", va << 12),
        format_args!("{pfn} = {v}"),
    );
    Ok(v)
}

/// A user store by `cpu` (faulting as needed). On success the value is recorded for the
/// lost-store oracle.
pub fn store(w: &World, cpu: usize, mm: MmId, va: u64, value: u64) -> Result<(), Error> {
    let (pfn, _) = access(w, cpu, mm, va, Some(value))?;
    w.trace(
        "store",
        format_args!("{mm} va {:#x}", va << 12),
        format_args!("{pfn} := {value}"),
    );
    Ok(())
}
