//! Negative controls: every oracle has teeth. Each test builds a tiny world, runs a
//! deliberately broken copy of a kernel path (or one broken step) written here from the
//! engine's public steps — or a catalog scenario's historical race variant — and asserts that
//! loom finds an execution in which *that* oracle fires (the first violation of the failing
//! execution names it; any other oracle, or none, fails the test).
//!
//! | oracle | checks | broken path |
//! |---|---|---|
//! | I1-mapcount | mapcount = present PTEs (+ pending delayed rmaps) | a zap that clears the PTE and flushes but forgets `page_remove_rmap` |
//! | I2-ttu-sync | unmapped after `try_to_unmap/migrate(TTU_SYNC)` | ttu-sync `no-ttu-sync`: THP split's unmap without `TTU_SYNC`, racing a zap (pre-732ed55823fc) |
//! | I3-free-before-flush | no page freed while a CPU TLB maps it | MADV_DONTNEED that puts its gathered pages before the TLB flush |
//! | I4-lost-dirty | a page newer than the disk is dirty | delayed-rmap `immediate-rmap`: pre-6.2 zap removing the rmap before the flush (pre-5df397dec7c4) |
//! | I6-migration-entry | no migration entry outlives its migration | a migration that unlocks the page without `remove_migration_ptes` |
//! | I7-ref-freeze | only an unmapped page is moved | a migration that calls `move_to_new_page` without `try_to_migrate` |
//! | I9-anon-vma | a mapped page's anon_vma is live | a teardown that runs `unlink_anon_vmas` while the page is still mapped; the slot is reused and `page_get_anon_vma` pins the newcomer |
//! | I11-mlock | reclaim never unmaps from a VM_LOCKED VMA | reclaim passing `TTU_IGNORE_MLOCK` |
//! | I12-mlock-locking | `mlock_vma_page` only with the page locked | mlock-page-lock `mlock-without-page-lock` (pre-57e68e9cd65b) |
//! | I13-secondary-mmu | no secondary translation outlives its page | MADV_DONTNEED without its mmu-notifier bracket, a KVM-like secondary registered |
//! | I14-zap-completion | munmap returns with nothing mapped or cached | munmap that drops its gathered range before `tlb_finish_mmu` |
//! | I15-lockdep | lock order; nothing sleeps under a spinlock | `mmu_notifier_invalidate_range_start` called under the PTL |
//! | I16-rmap-reachable | a mapped VMA is in its page's rmap | `unlink_file_vma` while the VMA is still in the mm and mapped |
//! | I17-anon-vma-tree | anon_vma trees, chains and counters agree; roots outlive children | a fork whose `anon_vma_fork` forgets the parent's `num_children++` (the engine's `anon_vma_tree` tests break the other clauses) |
//! | I18-cow-write | a private mapping's write lands in a private anonymous page | dirty-cow `no-foll-cow`: a `FOLL_FORCE` write GUP whose `faultin_page` drops `FOLL_WRITE`, racing MADV_DONTNEED (pre-19be0eaffa3a) |
//! | I19-cow-isolation | after fork, neither side sees the other's later writes | gup-cow-fork `pre-17839856fd58`: a child's vmsplice'd page that the parent's write fault reuses (`reuse_swap_page`, ≤5.7) |
//! | I22-oom-reap-munlock | the OOM reaper never unmaps a VMA `exit_mmap`'s munlock is walking without `mmap_lock` | oom-reaper-mlock `pre-27ae357fa82b`: v4.16's `exit_mmap` munlocking while the 4.x reaper unmaps the VMA whose VM_LOCKED the walk just cleared |
//! | I23-page-over-hole | no cached page holds a freed block's data | punch-hole-fault `filemap-fault-v5-14`: a fault that reads a block and caches it while a hole punch frees it (pre-730633f0b7f9) |
//! | stale-id | no use of a freed object | a thread using an mm without a reference (`mm_users`) racing `exit_mmap` |
//! | lost-store | a store after munmap returned is reported | the munmap above (no final flush), racing a store through the stale TLB entry |
//! | BUG | the kernel's own `BUG_ON`s (here: freeing a page table with live PTEs) | munmap running `free_pgtables` before `unmap_vmas` |
//! | pool-accounting | an unused newpage returns to its pool | migrate-newpage `putback-wrong-pool` (pre-2015 `unmap_and_move`) |
//! | progress | migration does not fail every pass while faults wait | migrate-vs-fault `wait-takes-ref` (≤5.16 `migration_entry_wait` holding a page reference) |
//!
//! Oracles without a loom control here, and why:
//!
//! * **I5-dirty-propagation** has no oracle of its own: a dirty bit lost between the PTE and
//!   the page is visible only as data the disk never gets, which I4 checks
//!   (`negative_control_i4_lost_dirty` is the control for both).
//! * **I20-swap-map** (the swap device's counts agree with the swap PTEs and the swap cache)
//!   is a quiescent invariant over counts, with no race of its own yet: its controls build the
//!   bad states by hand on one thread — a count no PTE accounts for, a swap PTE naming a free
//!   slot — in `engine/tests/swap.rs` (`i20_fires_on_a_count_no_pte_accounts_for`,
//!   `i20_fires_on_a_swap_pte_naming_a_free_slot`).
//! * **I8-migration-fault** is not checked by the engine: only the migrate-vs-fault
//!   scenario's readers raise it, when a fault on a migration entry fails instead of waiting
//!   and retrying; no engine path can make it fail that way, so a control would have to test
//!   the scenario's own assertion. Listed as a gap.
//! * **hang** is the stress runner's watchdog (real threads, wall-clock bound): loom has no
//!   time and reports a deadlock of the model itself. Real-thread control:
//!   `scenarios/tests/runner.rs` `a_deadlock_is_reported_with_its_locks_and_the_run_goes_on`.
//! * **panic** is the catch-all for an actor that panics outside the lab's assertions; under
//!   loom any panic already ends the execution as a failure. Real-thread control:
//!   `scenarios/tests/runner.rs` `panics_in_actors_and_in_setup_are_reported_and_the_run_goes_on`.
//!
//! Every test pins its bound and finds its counterexample in well under two seconds (most in
//! the first execution: the broken path is a certainty, not a race, except where noted).
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::unmapped::ZapCall;
use mmlab_engine::check::{Oracle, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::secondary::SecondaryKind;
use mmlab_engine::mm::{MmId, Pfn, VmaId, World, WorldConfig};
use mmlab_engine::ops::migrate::{isolate_lru_page, move_to_new_page};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::ttu::{TTU_IGNORE_MLOCK, TtuFlags, try_to_migrate, try_to_unmap};
use mmlab_engine::ops::vma_lock::{mmap_write_downgrade, vma_mark_detached, vma_start_write};
use mmlab_engine::ops::{
    access, anon_vma, exit, fork, munlock, munmap, notifier, page_alloc, pgtable, rmap_walk, tlb,
    zap,
};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::{Bound, Exploration, Failure, explore};
use mmlab_scenarios::catalog::delayed_rmap::{self, DelayedRmap};
use mmlab_scenarios::catalog::dirty_cow::{self, DirtyCow};
use mmlab_scenarios::catalog::gup_cow_fork::{self, GupCowFork};
use mmlab_scenarios::catalog::migrate_newpage::{self, MigrateNewpage};
use mmlab_scenarios::catalog::migrate_vs_fault::{self, MigrateVsFault};
use mmlab_scenarios::catalog::mlock_page_lock::{self, MlockPageLock};
use mmlab_scenarios::catalog::oom_reaper_mlock::{self, OomReaperMlock};
use mmlab_scenarios::catalog::punch_hole_fault::{self, PunchHoleFault};
use mmlab_scenarios::catalog::ttu_sync::{self, TtuSync};
use mmlab_scenarios::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};

/// The broken paths written here, as variants of one scenario: each variant's name is the
/// oracle it must trip.
#[derive(Debug)]
struct NegativeControls;

macro_rules! controls {
    ($($name:literal => $oracle:ident, $model:ident, $summary:literal;)*) => {
        /// The broken paths, each named after the oracle it must trip.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Control {
            $($oracle,)*
        }

        impl ScenarioVariant for Control {
            const ALL: &'static [Self] = &[$(Control::$oracle),*];
            fn info(self) -> VariantInfo {
                match self {
                    $(Control::$oracle => VariantInfo::race($name, $summary),)*
                }
            }
        }

        const ORACLES: &[Oracle] = &[$(Oracle::$oracle),*];

        impl Control {
            /// The oracle it must trip.
            fn oracle(self) -> Oracle {
                match self {
                    $(Control::$oracle => Oracle::$oracle,)*
                }
            }

            /// The model of its broken path.
            fn model(self) -> fn(&Env) -> Outcome {
                match self {
                    $(Control::$oracle => $model,)*
                }
            }
        }
    };
}

controls! {
    "i1-mapcount" => I1Mapcount, zap_forgetting_page_remove_rmap,
        "a zap that clears and flushes but forgets page_remove_rmap";
    "i3-free-before-flush" => I3FreeBeforeFlush, dontneed_freeing_before_flush,
        "MADV_DONTNEED that puts its gathered pages before the TLB flush";
    "i6-migration-entry" => I6MigrationEntry, migration_forgetting_remove_migration_ptes,
        "a migration that unlocks the page without remove_migration_ptes";
    "i7-ref-freeze" => I7RefFreeze, migration_moving_a_mapped_page,
        "move_to_new_page without try_to_migrate";
    "i9-anon-vma" => I9AnonVma, unlink_anon_vmas_while_mapped,
        "unlink_anon_vmas while the page is mapped; page_get_anon_vma pins the slot's newcomer";
    "i11-mlock" => I11Mlock, reclaim_ignoring_mlock,
        "reclaim passing TTU_IGNORE_MLOCK";
    "i13-secondary-mmu" => I13SecondaryMmu, dontneed_without_notifier_bracket,
        "MADV_DONTNEED without its mmu-notifier bracket, KVM-like secondary registered";
    "i14-zap-completion" => I14ZapCompletion, munmap_dropping_its_final_flush,
        "munmap that drops its gathered range before tlb_finish_mmu";
    "i15-lockdep" => I15Lockdep, notifier_start_under_ptl,
        "mmu_notifier_invalidate_range_start under the PTL";
    "i16-rmap-reachable" => I16RmapReachable, unlink_file_vma_while_mapped,
        "unlink_file_vma while the VMA is in the mm and mapped";
    "i17-anon-vma-tree" => I17AnonVmaTree, fork_forgetting_num_children,
        "a fork whose anon_vma_fork forgets the parent's num_children++";
    "stale-id" => StaleId, access_racing_exit_without_mm_users,
        "a thread uses an mm without a reference, racing exit_mmap";
    "lost-store" => LostStore, store_racing_munmap_without_final_flush,
        "a store through the TLB entry a munmap without its final flush left";
    "bug" => Bug, free_pgtables_before_unmap_vmas,
        "munmap running free_pgtables before unmap_vmas";
}

impl Scenario for NegativeControls {
    type Variant = Control;
    const ABOUT: About = About {
        name: "negative-controls",
        title: "deliberately broken paths, one per oracle",
        commit: "(none: broken on purpose)",
        source: "//! deliberately broken paths, one per oracle",
        oracles: ORACLES,
        long_running: false,
    };
    fn run(&self, variant: Control, _size: Size, env: &Env) -> Outcome {
        variant.model()(env)
    }
}

/// A tiny world: `cpus` CPUs, tables of two PTEs, one two-page file.
fn world(cpus: usize, kernel: Kernel, f: impl FnOnce(&mut WorldConfig)) -> Arc<World> {
    let mut cfg = WorldConfig::tiny(cpus);
    f(&mut cfg);
    Arc::new(World::new(cfg, kernel))
}

/// Run the actors, then the quiescent oracles; package what fired.
fn finish(env: &Env, w: &Arc<World>, actors: Vec<mmlab_engine::actor::Actor>) -> Outcome {
    env.run(actors);
    quiescent::check_world(w);
    Outcome {
        violations: env.sink.take(),
        ..Outcome::default()
    }
}

fn actor(name: &'static str, f: impl FnOnce() + Send + 'static) -> mmlab_engine::actor::Actor {
    (name, Box::new(f))
}

fn shared_file(w: &World) -> MapKind {
    MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: true,
    }
}

/// An mm with one VMA of `pages` at va 0, and the page at va 0 faulted in by a store of 7 on
/// cpu0 (its TLB then caches it writable and dirty).
fn mapped(w: &World, pages: u64, kind: MapKind) -> (MmId, VmaId, Pfn) {
    let mm = mm_alloc(w).expect("an mm slot");
    let vma = mmap(w, mm, 0, pages, kind).expect("a VMA slot");
    access::store(w, 0, mm, 0, 7).expect("a store faults the page in");
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
    (mm, vma, pfn)
}

// ---------------------------------------------------------------------------------------
// The broken paths.

/// I1: `zap_pte_range` that clears the PTE (`ptep_get_and_clear_full`) and flushes, but never
/// calls `page_remove_rmap` (nor gathers the page): the page stays counted as mapped by a PTE
/// that no longer exists.
fn zap_forgetting_page_remove_rmap(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (mm, _vma, _pfn) = mapped(&w, 1, MapKind::Anon);
    let wz = w.clone();
    let actors = vec![actor("zap", move || {
        let pte = pte_offset_map_lock(&wz, mm, 0).expect("a table");
        pte.ptep_get_and_clear_full(false);
        tlb::flush_tlb_range(&wz, mm, 0, 1);
        drop(pte);
    })];
    finish(env, &w, actors)
}

/// I3: MADV_DONTNEED as `munmap::madvise_dontneed` writes it, except that the gathered pages
/// are put before `tlb_finish_mmu` flushes: cpu0 still caches the page when it is freed.
fn dontneed_freeing_before_flush(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (mm, vma, _) = mapped(&w, 1, MapKind::Anon);
    let wz = w.clone();
    let actors = vec![actor("dontneed", move || {
        let map = wz.mms.get(mm).mmap_lock.read();
        let began = wz.unmap_begin(mm);
        let mut gather = tlb::tlb_gather_mmu(&wz, mm, false);
        zap::unmap_vmas(&wz, &mut gather, &[vma], 0, 1);
        for page in std::mem::take(&mut gather.pages) {
            page_alloc::put_page(&wz, page.pfn);
        }
        tlb::tlb_finish_mmu(&wz, gather);
        munmap::unmap_returned(&wz, ZapCall::MadvDontneed, &began, 0, 1);
        drop(map);
    })];
    finish(env, &w, actors)
}

/// I6: `__unmap_and_move` that installs migration entries (`try_to_migrate`) and then unlocks
/// the page without `remove_migration_ptes`: the entries outlive the migration.
fn migration_forgetting_remove_migration_ptes(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (_, _, pfn) = mapped(&w, 1, MapKind::Anon);
    assert!(isolate_lru_page(&w, pfn), "the migrator's reference");
    let wm = w.clone();
    let actors = vec![actor("migrator", move || {
        let guard = lock_page(&wm, pfn);
        try_to_migrate(&wm, &guard, TtuFlags::empty());
        guard.unlock();
    })];
    finish(env, &w, actors)
}

/// I7: a migration that goes straight to `move_to_new_page` without `try_to_migrate`: the
/// page it moves is still mapped.
fn migration_moving_a_mapped_page(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (_, _, pfn) = mapped(&w, 1, MapKind::Anon);
    assert!(isolate_lru_page(&w, pfn), "the migrator's reference");
    let new = page_alloc::alloc_page(&w).expect("a free page");
    let wm = w.clone();
    let actors = vec![actor("migrator", move || {
        let old_guard = wm.page(pfn).lock().lock();
        let new_guard = wm
            .page(new)
            .lock()
            .try_lock()
            .expect("the new page is ours");
        move_to_new_page(&wm, new, pfn);
        drop(new_guard);
        drop(old_guard);
    })];
    finish(env, &w, actors)
}

/// I9: a teardown that unlinks the VMA from its anon_vma (`unlink_anon_vmas`, whose put frees
/// it) while the page is still mapped — `free_pgtables` before `unmap_vmas`. The freed slot is
/// reused by the next anon fault, and a walker's `page_get_anon_vma` pins the newcomer through
/// the page's stale `->mapping`.
fn unlink_anon_vmas_while_mapped(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |c| c.anon_vmas = 1);
    let (mm, vma, pfn) = mapped(&w, 1, MapKind::Anon);
    let other = mmap(&w, mm, 2, 1, MapKind::Anon).expect("a second VMA");
    let wt = w.clone();
    let actors = vec![actor("teardown", move || {
        pgtable::unlink_anon_vmas(&wt, vma);
        access::store(&wt, 0, mm, 2, 9).expect("a fault in the other VMA reuses the slot");
        if let Some(av) = rmap_walk::page_get_anon_vma(&wt, pfn) {
            pgtable::put_anon_vma(&wt, av);
        }
        let _ = other;
    })];
    finish(env, &w, actors)
}

/// `anon_vma_fork` written from its public steps, forgetting the parent's
/// `num_children++`: the tree links are right, the counter is not.
fn anon_vma_fork_forgetting_num_children(
    w: &World,
    vma: VmaId,
    pvma: VmaId,
) -> Result<(), mmlab_engine::ops::Error> {
    let Some(pav) = w.vmas.get(pvma).anon_vma() else {
        return Ok(());
    };
    let v = w.vmas.get(vma);
    v.set_anon_vma(None);
    anon_vma::anon_vma_clone(w, vma, pvma)?;
    if v.anon_vma().is_some() {
        return Ok(());
    }
    let av = anon_vma::anon_vma_alloc(w)?;
    let a = w.anon_vmas.get(av);
    a.update_unpublished(|t| t.num_active_vmas += 1);
    let root = w.anon_vmas.get(pav).root();
    a.root
        .store(root.pack(), mmlab_engine::sync::Ordering::SeqCst);
    a.parent
        .store(pav.pack(), mmlab_engine::sync::Ordering::SeqCst);
    w.anon_vmas
        .get(root)
        .refcount
        .fetch_add(1, mmlab_engine::sync::Ordering::SeqCst);
    v.set_anon_vma(Some(av));
    let locked = anon_vma::anon_vma_lock_write(w, av);
    anon_vma::anon_vma_chain_link(w, &locked, vma, av);
    Ok(())
}

/// I17: a fork whose `anon_vma_fork` forgets the parent's `num_children++`; the quiescent
/// check counts the children and disagrees.
fn fork_forgetting_num_children(env: &Env) -> Outcome {
    let mut kernel = Kernel::default();
    kernel.anon_vma.anon_vma_fork = anon_vma_fork_forgetting_num_children;
    let w = world(1, kernel, |_| {});
    let (mm, _vma, _pfn) = mapped(&w, 1, MapKind::Anon);
    let wt = w.clone();
    let actors = vec![actor("fork", move || {
        fork::dup_mm(&wt, mm).expect("the tiny world has room for one child");
    })];
    finish(env, &w, actors)
}

/// I11: reclaim that passes `TTU_IGNORE_MLOCK` (only munlock and migration may): it unmaps
/// the page of a VM_LOCKED VMA.
fn reclaim_ignoring_mlock(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let mm = mm_alloc(&w).expect("an mm slot");
    let vma = mmap(&w, mm, 0, 1, shared_file(&w)).expect("a VMA slot");
    access::load(&w, 0, mm, 0).expect("a read fault maps the page");
    munlock::mlock(&w, mm, vma).expect("mlock of a mapped VMA");
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
    let wr = w.clone();
    let actors = vec![actor("reclaim", move || {
        let guard = lock_page(&wr, pfn);
        try_to_unmap(&wr, &guard, TTU_IGNORE_MLOCK);
        guard.unlock();
    })];
    finish(env, &w, actors)
}

/// I13: MADV_DONTNEED composed from the zap steps without its notifier bracket
/// (`unmap_page_range` called directly instead of through `unmap_vmas`), while a KVM-like
/// secondary maps the page: only start/end reach it, so it still maps the page when the
/// gather frees it.
fn dontneed_without_notifier_bracket(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (mm, vma, _) = mapped(&w, 1, MapKind::Anon);
    notifier::register(&w, mm, SecondaryKind::Kvm);
    assert!(notifier::secondary_refresh(&w, mm, 0).is_some());
    let wz = w.clone();
    let actors = vec![actor("dontneed", move || {
        let map = wz.mms.get(mm).mmap_lock.read();
        let began = wz.unmap_begin(mm);
        let mut gather = tlb::tlb_gather_mmu(&wz, mm, false);
        zap::unmap_page_range(&wz, &mut gather, vma, 0, 1);
        tlb::tlb_finish_mmu(&wz, gather);
        munmap::unmap_returned(&wz, ZapCall::MadvDontneed, &began, 0, 1);
        drop(map);
    })];
    finish(env, &w, actors)
}

/// munmap as `munmap::munmap` writes it, except that the range the zap gathered (and
/// `pte_free_tlb` widened) is dropped before `tlb_finish_mmu`, so the final flush flushes
/// nothing. With `check_i14` it checks I14 on return as the real one does; without, it only
/// records that it returned (so that the store, not the return, is what is judged).
fn munmap_without_final_flush(w: &World, mm: MmId, vma: VmaId, check_i14: bool) {
    let m = w.mms.get(mm);
    let mut map = m.mmap_lock.write();
    let began = w.unmap_begin(mm);
    let info = w.vmas.get(vma).info.get();
    vma_start_write(w, &map, vma);
    vma_mark_detached(w, &map, vma);
    map.vma_iter_clear(m, vma);
    let map = mmap_write_downgrade(w, mm, map);
    let mut gather = tlb::tlb_gather_mmu(w, mm, false);
    zap::unmap_vmas(w, &mut gather, &[vma], info.start, info.end);
    pgtable::free_pgtables(w, &mut gather, &[vma], &map.vmas);
    gather.tlb_reset_range(); // the bug
    tlb::tlb_finish_mmu(w, gather);
    munmap::remove_vma(w, vma);
    if check_i14 {
        munmap::assert_range_unmapped(w, mm, info.start, info.end, ZapCall::Munmap, &began);
    }
    munmap::unmap_returned(w, ZapCall::Munmap, &began, info.start, info.end);
    drop(map);
}

/// An anonymous page mapped at va 0 (cached writable and dirty by cpu0) and pinned by a
/// second reference (a GUP pin, as O_DIRECT takes): a zap of it forces no flush (not a dirty
/// file page) and frees nothing (the pin), so a missing flush is seen only by I14 and the
/// lost-store oracle, not by I3.
fn mapped_and_pinned(w: &World) -> (MmId, VmaId) {
    let (mm, vma, pfn) = mapped(w, 1, MapKind::Anon);
    page_alloc::get_page(w, pfn);
    (mm, vma)
}

/// I14: the munmap above returns while cpu0 still caches the page.
fn munmap_dropping_its_final_flush(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (mm, vma) = mapped_and_pinned(&w);
    let wz = w.clone();
    let actors = vec![actor("munmap", move || {
        munmap_without_final_flush(&wz, mm, vma, true)
    })];
    finish(env, &w, actors)
}

/// I15: `mmu_notifier_invalidate_range_start` (which may sleep) called with the PTL held —
/// the bracket must be opened before `pte_offset_map_lock`, never inside it.
fn notifier_start_under_ptl(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (mm, _, _) = mapped(&w, 1, MapKind::Anon);
    let wz = w.clone();
    let actors = vec![actor("zap", move || {
        let pte = pte_offset_map_lock(&wz, mm, 0).expect("a table");
        let bracket = notifier::invalidate_range_start(&wz, mm, 0, 1);
        notifier::invalidate_range_end(&wz, bracket);
        drop(pte);
    })];
    finish(env, &w, actors)
}

/// I16: `unlink_file_vma` (free_pgtables' step) run while the VMA is still in the mm and its
/// PTE still maps the page: rmap walkers can no longer find that mapping.
fn unlink_file_vma_while_mapped(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (_, vma, _) = mapped(&w, 1, shared_file(&w));
    let wu = w.clone();
    let actors = vec![actor("unlink", move || pgtable::unlink_file_vma(&wu, vma))];
    finish(env, &w, actors)
}

/// stale-id: a thread that uses an mm it holds no reference to (no `mmget`) races
/// `exit_mmap`; loom finds the interleaving where the access comes after the mm was freed
/// (its first schedule: the last actor, the exit, runs first).
fn access_racing_exit_without_mm_users(env: &Env) -> Outcome {
    let w = world(2, Kernel::default(), |_| {});
    let (mm, _, _) = mapped(&w, 1, MapKind::Anon);
    let (wa, we) = (w.clone(), w.clone());
    let actors = vec![
        actor("user", move || {
            let _ = access::load(&wa, 1, mm, 0);
        }),
        actor("exit", move || exit::exit_mmap(&we, mm)),
    ];
    finish(env, &w, actors)
}

/// lost-store: cpu0 caches the page writable and dirty; the munmap without its final flush
/// returns; cpu0's next store goes through the stale entry into a page the mm no longer maps.
/// A race: the store before the munmap is legitimate.
fn store_racing_munmap_without_final_flush(env: &Env) -> Outcome {
    let w = world(2, Kernel::default(), |_| {});
    let (mm, vma) = mapped_and_pinned(&w);
    let (ws, wz) = (w.clone(), w.clone());
    let actors = vec![
        actor("storer", move || {
            let _ = access::store(&ws, 0, mm, 0, 8);
        }),
        actor("munmap", move || {
            munmap_without_final_flush(&wz, mm, vma, false)
        }),
    ];
    finish(env, &w, actors)
}

/// BUG: munmap running `free_pgtables` before `unmap_vmas` (the VMA unlinked and its table
/// queued while its PTE still maps the page): `tlb_finish_mmu` frees a page table with a live
/// PTE (I10's rule, reported as the kernel's bad-page-table BUG).
fn free_pgtables_before_unmap_vmas(env: &Env) -> Outcome {
    let w = world(1, Kernel::default(), |_| {});
    let (mm, vma, _) = mapped(&w, 1, MapKind::Anon);
    let wz = w.clone();
    let actors = vec![actor("munmap", move || {
        let m = wz.mms.get(mm);
        let mut map = m.mmap_lock.write();
        vma_start_write(&wz, &map, vma);
        vma_mark_detached(&wz, &map, vma);
        map.vma_iter_clear(m, vma);
        let map = mmap_write_downgrade(&wz, mm, map);
        let mut gather = tlb::tlb_gather_mmu(&wz, mm, false);
        pgtable::free_pgtables(&wz, &mut gather, &[vma], &map.vmas);
        zap::unmap_vmas(&wz, &mut gather, &[vma], 0, 1);
        tlb::tlb_finish_mmu(&wz, gather);
        drop(map);
    })];
    finish(env, &w, actors)
}

// ---------------------------------------------------------------------------------------
// The tests.

/// Assert that the exploration failed, and that the failing execution's first violation is
/// `oracle`'s.
#[track_caller]
fn assert_caught_by(e: Exploration, oracle: Oracle) {
    let fired = e.failure.as_ref().and_then(Failure::oracle);
    assert_eq!(
        fired,
        Some(oracle),
        "expected {oracle} to catch the broken path:\n{}",
        e.failure_report()
    );
    e.assert_caught();
}

#[track_caller]
fn control(control: Control) {
    assert_caught_by(
        explore(&NegativeControls, control, Bound::Preemptions(2)),
        control.oracle(),
    );
}

#[test]
fn negative_control_i1_mapcount() {
    control(Control::I1Mapcount);
}

#[test]
fn negative_control_i2_ttu_sync() {
    assert_caught_by(
        explore(
            &TtuSync,
            ttu_sync::Variant::NoTtuSync,
            Bound::Preemptions(3),
        ),
        Oracle::I2TtuSync,
    );
}

#[test]
fn negative_control_i3_free_before_flush() {
    control(Control::I3FreeBeforeFlush);
}

#[test]
fn negative_control_i4_lost_dirty() {
    assert_caught_by(
        explore(
            &DelayedRmap,
            delayed_rmap::Variant::ImmediateRmap,
            Bound::Preemptions(3),
        ),
        Oracle::I4LostDirty,
    );
}

#[test]
fn negative_control_i6_migration_entry() {
    control(Control::I6MigrationEntry);
}

#[test]
fn negative_control_i7_ref_freeze() {
    control(Control::I7RefFreeze);
}

#[test]
fn negative_control_i9_anon_vma() {
    control(Control::I9AnonVma);
}

#[test]
fn negative_control_i11_mlock() {
    control(Control::I11Mlock);
}

#[test]
fn negative_control_i12_mlock_locking() {
    assert_caught_by(
        explore(
            &MlockPageLock,
            mlock_page_lock::Variant::MlockWithoutPageLock,
            Bound::Preemptions(3),
        ),
        Oracle::I12MlockLocking,
    );
}

#[test]
fn negative_control_i13_secondary_mmu() {
    control(Control::I13SecondaryMmu);
}

#[test]
fn negative_control_i14_zap_completion() {
    control(Control::I14ZapCompletion);
}

#[test]
fn negative_control_i15_lockdep() {
    control(Control::I15Lockdep);
}

#[test]
fn negative_control_i16_rmap_reachable() {
    control(Control::I16RmapReachable);
}

#[test]
fn negative_control_i17_anon_vma_tree() {
    control(Control::I17AnonVmaTree);
}

#[test]
fn negative_control_stale_id() {
    control(Control::StaleId);
}

#[test]
fn negative_control_lost_store() {
    control(Control::LostStore);
}

#[test]
fn negative_control_bug() {
    control(Control::Bug);
}

#[test]
fn negative_control_i18_cow_write() {
    assert_caught_by(
        explore(
            &DirtyCow,
            dirty_cow::Variant::NoFollCow,
            Bound::Preemptions(2),
        ),
        Oracle::I18CowWrite,
    );
}

#[test]
fn negative_control_i19_cow_isolation() {
    assert_caught_by(
        explore(
            &GupCowFork,
            gup_cow_fork::Variant::Pre17839856fd58,
            Bound::Preemptions(2),
        ),
        Oracle::I19CowIsolation,
    );
}

/// I22: v4.16's `exit_mmap` (munlock with no `mmap_sem`, the reaper shut out only before
/// `free_pgtables`) and the 4.x reaper (skips VM_LOCKED): the reaper unmaps the VMA whose
/// VM_LOCKED the munlock walk has just cleared. Hand-built states for both of I22's checks
/// are in `engine/tests/oom_reaper.rs`.
#[test]
fn negative_control_i22_oom_reap_munlock() {
    assert_caught_by(
        explore(
            &OomReaperMlock,
            oom_reaper_mlock::Variant::Pre27ae357fa82b,
            Bound::Preemptions(2),
        ),
        Oracle::I22OomReapMunlock,
    );
}

#[test]
fn negative_control_i23_page_over_hole() {
    assert_caught_by(
        explore(
            &PunchHoleFault,
            punch_hole_fault::Variant::FilemapFaultV5_14,
            Bound::Preemptions(2),
        ),
        Oracle::I23PageOverHole,
    );
}

#[test]
fn negative_control_pool_accounting() {
    assert_caught_by(
        explore(
            &MigrateNewpage,
            migrate_newpage::Variant::PutbackWrongPool,
            Bound::Preemptions(3),
        ),
        Oracle::PoolAccounting,
    );
}

#[test]
fn negative_control_progress() {
    assert_caught_by(
        explore(
            &MigrateVsFault,
            migrate_vs_fault::Variant::WaitTakesRef,
            Bound::Preemptions(3),
        ),
        Oracle::Progress,
    );
}

/// Every broken path's test, one exhaustive `match`: a control added without its test does
/// not compile.
fn test_of(control: Control) -> fn() {
    match control {
        Control::I1Mapcount => negative_control_i1_mapcount,
        Control::I3FreeBeforeFlush => negative_control_i3_free_before_flush,
        Control::I6MigrationEntry => negative_control_i6_migration_entry,
        Control::I7RefFreeze => negative_control_i7_ref_freeze,
        Control::I9AnonVma => negative_control_i9_anon_vma,
        Control::I11Mlock => negative_control_i11_mlock,
        Control::I13SecondaryMmu => negative_control_i13_secondary_mmu,
        Control::I14ZapCompletion => negative_control_i14_zap_completion,
        Control::I15Lockdep => negative_control_i15_lockdep,
        Control::I16RmapReachable => negative_control_i16_rmap_reachable,
        Control::I17AnonVmaTree => negative_control_i17_anon_vma_tree,
        Control::StaleId => negative_control_stale_id,
        Control::LostStore => negative_control_lost_store,
        Control::Bug => negative_control_bug,
    }
}

#[test]
fn every_broken_path_has_a_loom_test() {
    for &c in Control::ALL {
        let _: fn() = test_of(c);
    }
}

/// Every oracle the engine defines is either controlled above or listed, with its reason and
/// its real-thread control, in this file's doc. The match is exhaustive: a new oracle does not
/// compile until it is given one or the other.
#[test]
fn every_oracle_has_a_negative_control_or_a_reason() {
    use Oracle::*;
    let source = include_str!("negative_controls.rs");
    for o in [
        I1Mapcount,
        I2TtuSync,
        I3FreeBeforeFlush,
        I4LostDirty,
        I5DirtyPropagation,
        I6MigrationEntry,
        I7RefFreeze,
        I8MigrationFault,
        I9AnonVma,
        I11Mlock,
        I12MlockLocking,
        I13SecondaryMmu,
        I14ZapCompletion,
        I15Lockdep,
        I16RmapReachable,
        I17AnonVmaTree,
        I18CowWrite,
        I19CowIsolation,
        I20SwapMap,
        I22OomReapMunlock,
        I23PageOverHole,
        StaleId,
        LostStore,
        Bug,
        PoolAccounting,
        Progress,
        Hang,
        Panic,
    ] {
        let controlled = match o {
            I5DirtyPropagation | I8MigrationFault | I20SwapMap | Hang | Panic => false,
            I1Mapcount | I2TtuSync | I3FreeBeforeFlush | I4LostDirty | I6MigrationEntry
            | I7RefFreeze | I9AnonVma | I11Mlock | I12MlockLocking | I13SecondaryMmu
            | I14ZapCompletion | I15Lockdep | I16RmapReachable | I17AnonVmaTree | I18CowWrite
            | I19CowIsolation | I22OomReapMunlock | I23PageOverHole | StaleId | LostStore | Bug
            | PoolAccounting | Progress => true,
        };
        let wanted = if controlled {
            format!(
                "fn negative_control_{}()",
                o.name().to_lowercase().replace('-', "_")
            )
        } else {
            format!("**{}**", o.name())
        };
        assert!(source.contains(&wanted), "{o}: no `{wanted}` in this file");
    }
}
