//! `wp_page_copy` brackets its PTE change with mmu-notifier start/end, so a secondary MMU
//! (KVM, an IOMMU with ATS) that faults the old translation in meanwhile cannot keep it.
//!
//! mm/memory.c `wp_page_copy` (v5.x, v6.x): after copying the old page it calls
//! `mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr & PAGE_MASK,
//! (addr & PAGE_MASK) + PAGE_SIZE)` and `mmu_notifier_invalidate_range_start`, then takes the
//! PTL, `ptep_clear_flush`es the read-only PTE and sets the new one, and after
//! `pte_unmap_unlock` calls `mmu_notifier_invalidate_range_end`. The device's refresh
//! (`mmu_invalidate_retry`) sees the sequence move and does not install what it read. Without
//! the bracket only the secondary-TLB invalidation under the PTL remains, and a refresh that
//! read the old PTE before it installs the old page after it:
//!
//! ```text
//! writer (cpu0): store to a private file page     device (mirrors the mm)
//!                                                 seq = mmu_invalidate_seq
//!                                                 read the CPU PTE: file page P (read-only)
//! do_wp_page -> wp_page_copy: copy P to N
//!   [invalidate_range_start: seq++, in_progress]
//!   SPIN(ptl); ptep_clear_flush (secondary
//!   invalidated); set_pte_at(N); UNSPIN(ptl)
//!   [invalidate_range_end: seq++]
//!                                                 retry check: seq moved -> give up
//!                                                 (without the bracket: install va0 -> P,
//!                                                 while the mm maps N [I13])
//! ```
#![cfg(mmlab_loom)]

use mmlab_engine::actor::Env;
use mmlab_engine::check::{Violation, quiescent};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::secondary::SecondaryKind;
use mmlab_engine::mm::{World, WorldConfig};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, notifier};
use mmlab_engine::sync::Arc;
use mmlab_loom_tests::{Bound, assert_model_clean};

/// One execution: a private file mapping read-faulted on cpu0 and mirrored by the device;
/// the writer's store takes a write-protect fault (`wp_page_copy`) while the device refreshes
/// its translation of the same address.
fn a_cow_fault_racing_a_secondary_refresh() -> (Vec<Violation>, String) {
    let env = Env::new(0);
    env.play(|| {
        let cfg = WorldConfig::single(2, vec![(1, false)]);
        let w = Arc::new(World::new(cfg, Kernel::default()));
        let mm = mm_alloc(&w).expect("one mm slot");
        let private = MapKind::File {
            file: w.file(0),
            pgoff: 0,
            shared: false,
        };
        mmap(&w, mm, 0, 1, private).expect("one VMA slot");
        access::load(&w, 0, mm, 0).expect("a read fault maps the file page read-only");
        notifier::register(&w, mm, SecondaryKind::Kvm);
        assert!(notifier::secondary_refresh(&w, mm, 0).is_some());

        let writer = {
            let w = w.clone();
            move || access::store(&w, 0, mm, 0, 9).expect("a store to a private file page")
        };
        let device = {
            let w = w.clone();
            move || {
                notifier::secondary_refresh(&w, mm, 0);
            }
        };
        // The device last: it runs first, inline, and one preemption after its PTE read is the
        // race.
        env.run(vec![
            ("writer", Box::new(writer)),
            ("device", Box::new(device)),
        ]);
        quiescent::check_world(&w);
        (env.sink.take(), w.trace.render(48))
    })
}

#[test]
fn a_secondary_refresh_never_keeps_the_page_wp_page_copy_replaced() {
    // Every interleaving: the whole exploration takes about a second in --release.
    assert_model_clean(
        "a_secondary_refresh_never_keeps_the_page_wp_page_copy_replaced",
        Bound::Unbounded,
        a_cow_fault_racing_a_secondary_refresh,
    );
}
