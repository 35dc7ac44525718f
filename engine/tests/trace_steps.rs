//! Steps that a counterexample's trace must show: the entry to `remove_migration_ptes` (the
//! walk that turns migration entries back into PTEs, and whose rmap locks it takes), and the
//! empty PTEs `zap_pte_range` passes over (`if (pte_none(ptent)) continue;` — a zap that
//! found nothing where a racing fault maps a moment later).
#![cfg(not(mmlab_loom))]

use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::migrate::{NewPagePool, isolate_lru_page, migrate_pages};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, munmap};

fn steps(w: &World) -> Vec<&'static str> {
    w.trace.events().iter().map(|e| e.step).collect()
}

#[test]
fn a_migration_traces_its_entry_to_remove_migration_ptes_before_each_pte() {
    let w = World::new(WorldConfig::stress(1), Kernel::default());
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 1, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 0, 5).unwrap();
    let old = w.pte_at(mm, 0).and_then(|p| p.pfn()).unwrap();
    assert!(isolate_lru_page(&w, old));
    let pool = NewPagePool::new(&w, 1);
    assert!(migrate_pages(&w, &pool, &[old]).is_empty());
    let steps = steps(&w);
    let entry = steps.iter().position(|s| *s == "remove_migration_ptes");
    let pte = steps.iter().position(|s| *s == "remove_migration_pte");
    assert!(
        matches!((entry, pte), (Some(e), Some(p)) if e < p),
        "remove_migration_ptes's entry must be traced before its remove_migration_pte: {steps:?}"
    );
}

#[test]
fn a_zap_traces_the_empty_ptes_it_skips() {
    let w = World::new(WorldConfig::stress(1), Kernel::default());
    let mm = mm_alloc(&w).unwrap();
    mmap(&w, mm, 0, 4, MapKind::Anon).unwrap();
    access::store(&w, 0, mm, 1, 5).unwrap();
    munmap::madvise_dontneed(&w, mm, 0, 4).unwrap();
    let skips: Vec<(String, String)> = w
        .trace
        .events()
        .into_iter()
        .filter(|e| e.step == "zap_pte_range: pte_none, skip")
        .map(|e| (e.object, e.value))
        .collect();
    assert_eq!(
        skips,
        vec![
            ("mm 0 va 0x0-0x1000".to_string(), "1 empty".to_string()),
            ("mm 0 va 0x2000-0x4000".to_string(), "2 empty".to_string()),
        ],
        "the zap of va 0x0-0x4000 passed over 0x0-0x1000 and 0x2000-0x4000"
    );
}
