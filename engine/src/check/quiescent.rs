//! Quiescent-state invariants: checked when a scenario's actors are done (and, in long runs,
//! at quiescent points), over the whole world (docs/MODEL.md §3).

use super::{Oracle, violation};
use crate::mm::page::{Compound, pg};
use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::world::StoreTarget;
use crate::mm::{Mapping, Pfn, World};
use crate::sync::{Ordering, hw_lock};
use std::collections::{HashMap, HashSet};

/// Every PTE of every live mm's tables, a table shared by several mms (hugetlb PMD sharing)
/// visited once: the counts built from it count table entries, not mms.
fn for_each_distinct_pte(w: &World, mut f: impl FnMut(Pte)) {
    let mut seen = HashSet::new();
    for mm_id in w.mms.live() {
        let mm = w.mms.get(mm_id);
        for slot in 0..mm.pmd.len() {
            let Some(t) = mm.pmd_table(slot) else {
                continue;
            };
            if !seen.insert(t) {
                continue;
            }
            let table = w.tables.get(t);
            for i in 0..table.entries.len() {
                f(table.ptep_get_lockless(i));
            }
        }
    }
}

/// Every present PTE, and every migration entry, by page (the mapcount counts table entries).
fn census(w: &World) -> (HashMap<Pfn, (i32, bool)>, HashMap<Pfn, usize>) {
    let mut mapped: HashMap<Pfn, (i32, bool)> = HashMap::new();
    let mut migration: HashMap<Pfn, usize> = HashMap::new();
    for_each_distinct_pte(w, |pte| match pte {
        Pte::Present { pfn, dirty, .. } => {
            let m = mapped.entry(pfn).or_default();
            m.0 += 1;
            m.1 |= dirty;
        }
        Pte::Migration { pfn, .. } => *migration.entry(pfn).or_default() += 1,
        _ => {}
    });
    (mapped, migration)
}

/// Every huge (or transiently invalidated) PMD, by the THP head it maps.
fn huge_census(w: &World) -> HashMap<Pfn, i32> {
    let mut huge: HashMap<Pfn, i32> = HashMap::new();
    for mm_id in w.mms.live() {
        let mm = w.mms.get(mm_id);
        for slot in 0..mm.pmd.len() {
            if let Pmd::Huge { pfn, .. } | Pmd::Invalid { pfn, .. } = mm.pmdp_get_lockless(slot) {
                *huge.entry(pfn).or_default() += 1;
            }
        }
    }
    huge
}

/// I16: every present PTE is reachable through its page's rmap — the VMA covering it is in the
/// page's `i_mmap` (file) or anon_vma tree (anon), at the page's index. A walker that cannot
/// find a mapping cannot unmap or migrate it (97113eb39fa7, a8bef8ff6ea1).
fn check_rmap_reachable(w: &World) {
    for mm_id in w.mms.live() {
        let mm = w.mms.get(mm_id);
        let vmas = mm.mmap_lock.read().vmas.clone();
        for &v in &vmas {
            let vma = w.vmas.get(v);
            let info = vma.info.get();
            for va in info.start..info.end {
                let (slot, i) = w.pte_slot(va);
                let Some(t) = mm.pmd_table(slot) else {
                    continue;
                };
                let Pte::Present { pfn, .. } = w.tables.get(t).ptep_get_lockless(i) else {
                    continue;
                };
                let page = w.page(pfn);
                let index = page.index.load(Ordering::SeqCst);
                let reachable = match page.mapping() {
                    Mapping::File(f) => {
                        info.address(index) == Some(va)
                            && w.files.get(f).i_mmap.read().vmas.contains(&v)
                    }
                    Mapping::Anon(av) => {
                        info.address(index) == Some(va)
                            && w.anon_vmas.is_live(av)
                            && w.anon_vmas.get(av).quiescent_tree().vmas.contains(&v)
                    }
                    Mapping::None => false,
                };
                if !reachable {
                    violation(
                        Oracle::I16RmapReachable,
                        format!(
                            "{mm_id} va {:#x} maps {pfn} but {v} is not in its rmap at index {index}",
                            va << 12
                        ),
                    );
                }
            }
        }
    }
}

/// Every genuine swap PTE, by slot (a shared table counted once, as [`census`] counts).
fn swap_census(w: &World) -> HashMap<u32, u32> {
    let mut swapped: HashMap<u32, u32> = HashMap::new();
    for_each_distinct_pte(w, |pte| {
        if let Some(entry) = pte.swap_offset() {
            *swapped.entry(entry).or_default() += 1;
        }
    });
    swapped
}

/// I20: the swap device's `swap_map` agrees with the page tables and the swap cache — each
/// slot's count is its swap PTEs, `SWAP_HAS_CACHE` is set exactly when the cache holds a
/// folio for the slot, and that folio is PG_swapcache and names the slot in `folio->swap`.
/// A swap PTE naming a free slot, or a count no PTE accounts for (a leaked slot), fires it.
pub fn check_swap_map(w: &World) {
    use crate::mm::swap::SWAP_HAS_CACHE;
    let swapped = swap_census(w);
    let cache = w.swap.cache.lock().pages.clone();
    for (slot, cached) in cache.iter().enumerate() {
        let entry = slot as u32;
        let byte = w.swap.map(entry);
        let count = byte & !SWAP_HAS_CACHE;
        let ptes = swapped.get(&entry).copied().unwrap_or_default();
        if count != ptes {
            violation(
                Oracle::I20SwapMap,
                format!("swap slot {slot}: swap_map count {count} but {ptes} swap PTEs name it"),
            );
        }
        let has_cache = byte & SWAP_HAS_CACHE != 0;
        if has_cache != cached.is_some() {
            violation(
                Oracle::I20SwapMap,
                format!(
                    "swap slot {slot}: SWAP_HAS_CACHE {has_cache} but the swap cache holds {cached:?}"
                ),
            );
        }
        if let Some(pfn) = *cached {
            let page = w.page(pfn);
            let named = page.swap.load(Ordering::SeqCst);
            if !page.test(pg::SWAPCACHE) || named != u64::from(entry) {
                violation(
                    Oracle::I20SwapMap,
                    format!(
                        "swap slot {slot}: the cache holds {pfn}, which is {} with folio->swap {named}",
                        if page.test(pg::SWAPCACHE) {
                            "PG_swapcache"
                        } else {
                            "not PG_swapcache"
                        }
                    ),
                );
            }
        }
    }
}

/// Run every quiescent invariant over `w`, reporting to the current sink.
pub fn check_world(w: &World) {
    check_page_over_hole(w);
    check_rmap_reachable(w);
    super::anon_vma_tree::check_anon_vma_trees(w);
    super::cow::check_private_ptes(w);
    let (mapped, migration) = census(w);
    // I6 for an entry whose page is gone: migrated and freed while the entry survived (exec's
    // stack move carrying it past remove_migration_ptes, a8bef8ff6ea1).
    for (&pfn, &k) in &migration {
        if !w.pages.is_live(pfn) {
            violation(
                Oracle::I6MigrationEntry,
                format!("{k} migration entries for {pfn} left behind, page freed"),
            );
        }
    }
    let huge = huge_census(w);
    for pfn in w.pages.live() {
        let page = w.page(pfn);
        let (n, dirty_pte) = mapped.get(&pfn).copied().unwrap_or_default();
        // I1: mapcount equals the present PTEs (nothing is pending once every PTL is free).
        let mapcount = page.mapcount.load(Ordering::SeqCst);
        if mapcount != n {
            violation(
                Oracle::I1Mapcount,
                format!("{pfn}: mapcount {mapcount} but {n} PTEs map it"),
            );
        }
        let refcount = page.refcount.load(Ordering::SeqCst);
        // A THP's references are the head's: its own, its tails' and its PMD mappings'
        // (`folio_ref_count`); a tail holds none of its own.
        let (refcount, n) = match page.compound.get() {
            Compound::Tail { .. } => (n, n),
            Compound::Head { nr } => {
                let huge_maps = huge.get(&pfn).copied().unwrap_or_default();
                let entire = page.entire_mapcount.load(Ordering::SeqCst);
                if entire != huge_maps {
                    violation(
                        Oracle::I1Mapcount,
                        format!("THP {pfn}: entire mapcount {entire} but {huge_maps} PMDs map it"),
                    );
                }
                let ptes: i32 = (0..nr as usize)
                    .map(|i| mapped.get(&w.subpage(pfn, i)).map_or(0, |m| m.0))
                    .sum();
                (refcount, ptes + huge_maps)
            }
            Compound::Single => (refcount, n),
        };
        // The swap cache holds a reference of its own (`add_to_swap_cache`'s folio_ref_add).
        let cache_ref = i32::from(page.test(pg::SWAPCACHE));
        if refcount < n + cache_ref {
            violation(
                Oracle::I1Mapcount,
                format!(
                    "{pfn}: refcount {refcount} below its {n} mappings{}",
                    if cache_ref > 0 {
                        " and the swap cache"
                    } else {
                        ""
                    }
                ),
            );
        }
        // I6: no migration entry outlives its migration.
        if let Some(&k) = migration.get(&pfn)
            && !page.lock().is_locked()
        {
            violation(
                Oracle::I6MigrationEntry,
                format!("{k} migration entries for {pfn} left behind, page unlocked"),
            );
        }
        // I4: a file page whose data is newer than the disk is dirty, or dirty in a PTE.
        if let Mapping::File(f) = page.mapping() {
            let index = page.index.load(Ordering::SeqCst) as usize;
            let file = w.files.get(f);
            let in_cache = file.i_pages.lock().pages.get(index).copied().flatten() == Some(pfn);
            if in_cache && !page.test(pg::DIRTY) && !dirty_pte {
                let differs = page.data.iter().zip(&file.backing[index]).any(|(d, b)| {
                    d.load(Ordering::SeqCst) != b.load(std::sync::atomic::Ordering::SeqCst)
                });
                if differs {
                    violation(
                        Oracle::I4LostDirty,
                        format!(
                            "{pfn} ({f} index {index}) holds data the disk lacks, but is clean and no PTE is dirty: reclaim would lose it"
                        ),
                    );
                }
            }
        }
        // I11: no page stays mlocked with nothing mlocking it — unless a munlock walk passed it
        // while it was a migration entry, which the kernel's walk skips and leaves it stranded
        // (`Page::munlock_missed`).
        if page.test(pg::MLOCKED)
            && n == 0
            && !page.lock().is_locked()
            && !page
                .munlock_missed
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            violation(
                Oracle::I11Mlock,
                format!("{pfn} stranded PG_mlocked with no mapping"),
            );
        }
    }
    // I11: an mlocked VMA stays resident — reclaim never unmaps from a VM_LOCKED VMA.
    for vma_id in w.vmas.live() {
        let vma = w.vmas.get(vma_id);
        if vma.flags.load(Ordering::SeqCst) & (crate::mm::vm::LOCKED | crate::mm::vm::IO)
            != crate::mm::vm::LOCKED
        {
            continue;
        }
        let info = vma.info.get();
        if !w.mms.is_live(info.mm) {
            continue;
        }
        // A truncation or hole punch unmaps an mlocked file range too (docs/MODEL.md §20).
        if info.file.is_some_and(|f| {
            w.files
                .get(f)
                .truncated
                .load(std::sync::atomic::Ordering::SeqCst)
        }) {
            continue;
        }
        let mm = w.mms.get(info.mm);
        for va in info.start..info.end {
            let (slot, i) = w.pte_slot(va);
            let pte = mm
                .pmd_table(slot)
                .map(|t| w.tables.get(t).ptep_get_lockless(i));
            if !pte.is_some_and(|p| p.is_present()) {
                violation(
                    Oracle::I11Mlock,
                    format!(
                        "{vma_id} is VM_LOCKED but va {:#x} is not resident",
                        va << 12
                    ),
                );
            }
        }
    }
    // I3: no TLB entry reaches a freed page.
    for (c, cpu) in w.cpus.iter().enumerate() {
        for e in hw_lock(&cpu.tlb).iter() {
            if !w.pages.is_live(e.pfn) {
                violation(
                    Oracle::I3FreeBeforeFlush,
                    format!(
                        "cpu{c} TLB maps freed {} at {} va {:#x}",
                        e.pfn,
                        e.mm,
                        e.va << 12
                    ),
                );
            }
        }
    }
    check_secondary(w);
    check_swap_map(w);
    check_stores(w);
}

/// I13 at rest: every translation a secondary MMU holds equals the current primary PTE of
/// the mm it mirrors (present, same page). A stale one lets the device reach a page its mm no
/// longer maps — unmapped, migrated away or freed.
pub fn check_secondary(w: &World) {
    for s in w.secondaries.iter().filter(|s| s.registered()) {
        let entries = hw_lock(&s.tlb).clone();
        for e in entries {
            let what = format!(
                "{} maps {} va {:#x} -> {}",
                s.kind.name(),
                e.mm,
                e.va << 12,
                e.pfn
            );
            if !w.mms.is_live(e.mm) {
                violation(
                    Oracle::I13SecondaryMmu,
                    format!("{what}, but the mm is gone"),
                );
                continue;
            }
            match w.pte_at(e.mm, e.va) {
                Some(Pte::Present { pfn, .. }) if pfn == e.pfn => {}
                Some(pte) => violation(
                    Oracle::I13SecondaryMmu,
                    format!("{what}, but the primary PTE is {pte}"),
                ),
                None => violation(
                    Oracle::I13SecondaryMmu,
                    format!("{what}, but the primary has no page table there"),
                ),
            }
        }
    }
}

/// The lost-store oracle: the last value each CPU stored to a target is still there — in the
/// page cache page or on the disk for a file, in the mapped page for anonymous memory.
pub fn check_stores(w: &World) {
    let stores: Vec<_> = w.stores.lock().iter().map(|(&k, &v)| (k, v)).collect();
    for ((cpu, target), value) in stores {
        let found = match target {
            StoreTarget::File(f, index) => {
                let file = w.files.get(f);
                match file.i_pages.lock().pages[index as usize] {
                    Some(pfn) => w.page(pfn).data[cpu].load(Ordering::SeqCst),
                    None => {
                        file.backing[index as usize][cpu].load(std::sync::atomic::Ordering::SeqCst)
                    }
                }
            }
            StoreTarget::Anon(mm_id, va) => {
                if !w.mms.is_live(mm_id) {
                    continue;
                }
                // A huge PMD answers as the PTE of the subpage (`World::pte_at`).
                let Some(pte) = w.pte_at(mm_id, va) else {
                    violation(
                        Oracle::LostStore,
                        format!(
                            "cpu{cpu}'s store of {value} to {mm_id} va {:#x}: no page table any more",
                            va << 12
                        ),
                    );
                    continue;
                };
                match pte {
                    Pte::Present { pfn, .. } => w.page(pfn).data[cpu].load(Ordering::SeqCst),
                    // Swapped out: the data is in the swap cache's folio for the slot, or on
                    // the device.
                    Pte::Swap { offset, .. } => w.swap.swapped_word(&w.pages, offset, cpu),
                    other => {
                        violation(
                            Oracle::LostStore,
                            format!(
                                "cpu{cpu}'s store of {value} to {mm_id} va {:#x}: pte is {other}",
                                va << 12
                            ),
                        );
                        continue;
                    }
                }
            }
        };
        if found != value {
            violation(
                Oracle::LostStore,
                format!("cpu{cpu} stored {value} to {target:?} but {found} is there"),
            );
        }
    }
}

/// I23: no page in a file's page cache holds the data of a block the file no longer has. A
/// page remembers the block it was read from or written to ([`Page::block`]); truncation and
/// hole punching free blocks (`AddressSpace::block_free`) after evicting the cache under
/// `invalidate_lock`. A cached page whose block is freed — the file has a hole there, or a
/// newer block — was added between the eviction and the freeing by someone who read the old
/// block: "read / page fault / readahead can instantiate pages in page cache with
/// potentially stale data" (730633f0b7f9). A page read from a hole (block 0) is zeros, as the
/// hole is, and is never stale.
///
/// [`Page::block`]: crate::mm::page::Page::block
pub fn check_page_over_hole(w: &World) {
    for file in w.files.live() {
        let f = w.files.get(file);
        let cached: Vec<(usize, Pfn)> = f
            .i_pages
            .lock()
            .pages
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|pfn| (i, pfn)))
            .collect();
        for (index, pfn) in cached {
            let read = w.page(pfn).block.load(std::sync::atomic::Ordering::SeqCst);
            let now = f.block(index as u64);
            if read != 0 && read != now {
                let what = if now == 0 {
                    "a hole".to_string()
                } else {
                    format!("block {now}")
                };
                violation(
                    Oracle::I23PageOverHole,
                    format!(
                        "{pfn} caches {file} index {index} with the data of block {read}, freed: the file has {what} there"
                    ),
                );
            }
        }
    }
}
