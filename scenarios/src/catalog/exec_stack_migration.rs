//! `exec-stack-migration`: exec's `shift_arg_pages` moving the temporary stack while a page
//! of it is migrated — a8bef8ff6ea1 "mm: migration: avoid race between shift_arg_pages() and
//! rmap_walk() during migration by not migrating temporary stacks" (Mel Gorman, 2.6.35; the
//! linux-mm thread "[PATCH] mm,migration: Avoid race between shift_arg_pages() and
//! rmap_walk() during migration by not migrating temporary stacks", May 2010, with the
//! 2.6.34-rc4-mm1 report `kernel BUG at include/linux/swapops.h:105` in
//! `migration_entry_wait` from `load_elf_binary`).
//!
//! ```text
//! migrate (__unmap_and_move)              exec (setup_arg_pages, mmap_lock write)
//! lock_page(P)
//! try_to_migrate: stack PTE at old_start
//!   -> migration entry
//!                                          shift_arg_pages:
//!                                           vma_adjust(vma, new_start, old_end, pgoff)
//!                                             (anon_vma lock: vma_address(P) = new addr)
//! move_to_new_page(P -> N)
//! remove_migration_ptes: rmap walk looks
//!   at the *new* address: nothing there
//!   => the entry at old_start is missed
//! unlock_page(P)                            move_page_tables: the entry moves down
//!                                           free_pgd_range(old tables); vma_adjust(shrink)
//!                                          -> a migration entry outlives its migration [I6]
//!                                             (the next fault: BUG in migration_entry_wait)
//! ```
//!
//! The fix (`fixed`): the stack carries `VM_STACK_INCOMPLETE_SETUP` until `setup_arg_pages`
//! has moved it, and `try_to_migrate` skips such a VMA (`invalid_migration_vma`) — migration
//! fails with -EAGAIN and retries or gives up; `migrate_pages` passes that run after the flag
//! is cleared migrate the page at its final address. `skip-none-v2-6-34` is the kernel before
//! it: the table's `rmap.invalid_migration_vma` skips nothing.
//!
//! The stack is one page in the last page table of the address space; exec moves it down by
//! one table's span, so the move is a PTE-level `move_ptes` into a freshly allocated table
//! and the old table is freed.
//!
//! Oracles: I6 (no migration entry outlives its migration — here it names the freed source
//! page) and the lost-store oracle (the value the stack held is behind that entry).

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::Oracle;
use mmlab_engine::kernel::Kernel;
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages, putback_lru_page};
use mmlab_engine::ops::mmap::mm_alloc;
use mmlab_engine::ops::{access, exec, ttu};

/// The scenario.
#[derive(Debug)]
pub struct ExecStackMigration;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// a8bef8ff6ea1 (2.6.35+): migration skips exec's temporary stack.
    Fixed,
    /// 2.6.34: migration walks the temporary stack while `shift_arg_pages` moves it.
    SkipNoneV2_6_34,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[Variant::Fixed, Variant::SkipNoneV2_6_34];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "a8bef8ff6ea1 (2.6.35+): try_to_migrate skips a VM_STACK_INCOMPLETE_SETUP VMA \
                 (invalid_migration_vma)",
            ),
            Variant::SkipNoneV2_6_34 => VariantInfo::race(
                "skip-none-v2-6-34",
                "before a8bef8ff6ea1: remove_migration_ptes looks at the stack's new address \
                 before move_page_tables carried the migration entry there",
            ),
        }
    }
}

/// The kernel of `variant`.
pub fn kernel(variant: Variant) -> Kernel {
    let mut k = Kernel::default();
    if variant == Variant::SkipNoneV2_6_34 {
        k.rmap.invalid_migration_vma = ttu::invalid_migration_vma_v2_6_34;
    }
    k
}

impl Scenario for ExecStackMigration {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "exec-stack-migration",
        title: "exec's shift_arg_pages moving the temporary stack vs migration's rmap walk",
        commit: "a8bef8ff6ea1",
        source: include_str!("exec_stack_migration.rs"),
        oracles: &[Oracle::I6MigrationEntry, Oracle::LostStore],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let w = kit::world(size, 2, kernel(variant), |_| {});
        let per = w.cfg.ptes_per_table as u64;
        let top = (w.cfg.pmds_per_mm * w.cfg.ptes_per_table) as u64;
        let mm = mm_alloc(&w).expect("mm");
        // __bprm_mm_init: the temporary stack's one page at the top; copy_strings writes it.
        let stack = exec::bprm_mm_init(&w, mm, top - 1, 1).expect("the temporary stack");
        access::store(&w, 0, mm, top - 1, 7).expect("copy_strings");
        let pfn = w.pte_at(mm, top - 1).and_then(|p| p.pfn()).expect("mapped");
        assert!(isolate_lru_page(&w, pfn), "the page is on the LRU");
        let pool = NewPagePool::new(&w, 1);
        let (we, wm) = (w.clone(), w.clone());
        let actors = vec![
            actor("exec", move || {
                exec::setup_arg_pages(&we, mm, stack, per).expect("setup_arg_pages");
            }),
            actor("migrate", move || {
                // move_pages(2) / compaction: what did not move goes back on the LRU.
                for p in migrate_pages(&wm, &pool, &[pfn]) {
                    putback_lru_page(&wm, p);
                }
            }),
        ];
        kit::run(env, &w, actors)
    }
}
