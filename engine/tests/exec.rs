//! exec's stack move (`ops::exec`): `setup_arg_pages` carries the temporary stack's page to its
//! final place and frees the old table; migration leaves a `VM_STACK_INCOMPLETE_SETUP` VMA alone
//! (a8bef8ff6ea1) and migrates the page once the flag is gone; and the negative control of I6's
//! freed-page form: a migration entry that outlives the page it names is reported.
#![cfg(not(mmlab_loom))]

mod common;

use common::with_sink;
use mmlab_engine::check::{Oracle, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{MmId, Pfn, VmaId, World, WorldConfig};
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages, putback_lru_page};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pagemap::lock_page;
use mmlab_engine::ops::rmap_types::TtuFlags;
use mmlab_engine::ops::ttu::{invalid_migration_vma_v2_6_34, try_to_migrate};
use mmlab_engine::ops::{access, exec, page_alloc};
use std::sync::Arc;

/// A tiny world running `kernel` with exec's temporary stack: one page at the top of the
/// address space, written (`copy_strings`). Returns the stack VMA, its address and its page.
fn stack_world(kernel: Kernel) -> (Arc<World>, MmId, VmaId, u64, Pfn) {
    let w = Arc::new(World::new(WorldConfig::tiny(2), kernel));
    let top = (w.cfg.pmds_per_mm * w.cfg.ptes_per_table) as u64;
    let mm = mm_alloc(&w).unwrap();
    let vma = exec::bprm_mm_init(&w, mm, top - 1, 1).unwrap();
    access::store(&w, 0, mm, top - 1, 7).unwrap();
    let pfn = w.pte_at(mm, top - 1).and_then(|p| p.pfn()).unwrap();
    (w, mm, vma, top - 1, pfn)
}

#[test]
fn setup_arg_pages_moves_the_stack_and_frees_the_old_table() {
    let (w, mm, vma, va, pfn) = stack_world(Kernel::default());
    let per = w.cfg.ptes_per_table as u64;
    let v = with_sink(|| {
        assert!(w.vmas.get(vma).is_temporary_stack());
        exec::setup_arg_pages(&w, mm, vma, per).unwrap();
        let info = w.vmas.get(vma).info.get();
        assert_eq!((info.start, info.end), (va - per, va - per + 1));
        assert!(!w.vmas.get(vma).is_temporary_stack(), "the flag is cleared");
        assert_eq!(w.pte_at(mm, va - per).and_then(|p| p.pfn()), Some(pfn));
        assert!(
            w.mms.get(mm).pmd_table(w.pte_slot(va).0).is_none(),
            "free_pgd_range freed the old table"
        );
        assert_eq!(access::load(&w, 0, mm, va - per), Ok(7));
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn migration_skips_the_temporary_stack_until_setup_arg_pages_is_done() {
    let (w, mm, vma, va, pfn) = stack_world(Kernel::default());
    let per = w.cfg.ptes_per_table as u64;
    let v = with_sink(|| {
        let pool = NewPagePool::new(&w, 1);
        assert!(isolate_lru_page(&w, pfn));
        let left = migrate_pages(&w, &pool, &[pfn]);
        assert_eq!(
            left,
            vec![pfn],
            "invalid_migration_vma: the stack is not migrated"
        );
        for p in left {
            putback_lru_page(&w, p);
        }
        assert_eq!(w.pte_at(mm, va).and_then(|p| p.pfn()), Some(pfn));
        exec::setup_arg_pages(&w, mm, vma, per).unwrap();
        assert!(isolate_lru_page(&w, pfn));
        assert!(
            migrate_pages(&w, &pool, &[pfn]).is_empty(),
            "migrated at its new place"
        );
        let new = w.pte_at(mm, va - per).and_then(|p| p.pfn()).unwrap();
        assert_ne!(new, pfn);
        assert_eq!(access::load(&w, 0, mm, va - per), Ok(7));
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn before_a8bef8ff6ea1_the_temporary_stack_is_migrated() {
    let (w, _mm, _vma, _va, pfn) = stack_world(Kernel {
        rmap: mmlab_engine::ops::rmap_walk::RmapOps {
            invalid_migration_vma: invalid_migration_vma_v2_6_34,
            ..Kernel::default().rmap
        },
        ..Kernel::default()
    });
    let v = with_sink(|| {
        let pool = NewPagePool::new(&w, 1);
        assert!(isolate_lru_page(&w, pfn));
        assert!(migrate_pages(&w, &pool, &[pfn]).is_empty());
        quiescent::check_world(&w);
    });
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn negative_control_a_migration_entry_naming_a_freed_page_is_reported() {
    let w = Arc::new(World::new(WorldConfig::tiny(2), Kernel::default()));
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 1).unwrap();
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    let v = with_sink(|| {
        assert!(isolate_lru_page(&w, pfn), "the migrator's reference");
        let page = lock_page(&w, pfn);
        assert!(try_to_migrate(&w, &page, TtuFlags::empty()));
        page.unlock();
        // The migrator's reference goes: the page is freed, its entry stays.
        page_alloc::put_page(&w, pfn);
        assert!(!w.pages.is_live(pfn));
        quiescent::check_world(&w);
    });
    assert!(
        v.iter()
            .any(|v| v.oracle == Oracle::I6MigrationEntry && v.message.contains("page freed")),
        "{v:?}"
    );
}
