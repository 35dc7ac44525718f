//! Copy-on-write and get_user_pages, one thread, fixed order: each era's `do_wp_page` reuse
//! decision, `maybe_mkwrite`, `PageAnonExclusive`, every GUP shape's `FOLL_FORCE` write to a
//! read-only private file mapping (it must land in a private copy, the file unchanged), pins,
//! and I18's at-rest form on the bad state built by hand (its negative control; the in-path
//! form's control is dirty-cow's race variant in loom-tests/tests/negative_controls.rs).
#![cfg(not(mmlab_loom))]

use mmlab_engine::check::{Oracle, Sink, Violation, cow};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::mm_struct::mmf;
use mmlab_engine::mm::page::{GUP_PIN_COUNTING_BIAS, pg};
use mmlab_engine::mm::pte::Pte;
use mmlab_engine::mm::vma::vm;
use mmlab_engine::mm::{Mapping, MmId, VmaId, World, WorldConfig};
use mmlab_engine::ops::fault;
use mmlab_engine::ops::gup::{self, FOLL_GET, FOLL_PIN, FOLL_WRITE, GupOps, access_remote_vm};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::pgtable_generic::pte_offset_map_lock;
use mmlab_engine::ops::{Error, access, page_alloc};
use mmlab_engine::sync::Ordering;

fn world(kernel: Kernel) -> (World, Sink) {
    let cfg = WorldConfig {
        pages: 8,
        mms: 2,
        vmas: 4,
        files: vec![(1, false)],
        ..WorldConfig::tiny(2)
    };
    let w = World::new(cfg, kernel);
    let sink = Sink::new();
    sink.install();
    (w, sink)
}

fn fired(v: &[Violation], oracle: Oracle) -> bool {
    v.iter().any(|v| v.oracle == oracle)
}

/// A read-only private mapping of file page 0 at va 0 (`PROT_READ, MAP_PRIVATE`).
fn read_only_private_file(w: &World) -> (MmId, VmaId) {
    let mm = mm_alloc(w).expect("mm");
    let kind = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: false,
    };
    let vma = mmap(w, mm, 0, 1, kind).expect("mmap");
    w.vmas
        .get(vma)
        .flags
        .store(vm::READ | vm::MAYREAD | vm::MAYWRITE, Ordering::SeqCst);
    (mm, vma)
}

fn era_kernels() -> Vec<(&'static str, Kernel)> {
    let modern = Kernel::default();
    let mut v5_18 = Kernel {
        gup: GupOps::v5_19(),
        ..Kernel::default()
    };
    v5_18.fault.do_wp_page = fault::do_wp_page_v5_18;
    let mut v5_8 = Kernel {
        gup: GupOps::v5_8(),
        ..Kernel::default()
    };
    v5_8.fault.do_wp_page = fault::do_wp_page_v5_8;
    let mut v4_8 = Kernel {
        gup: GupOps::v4_8(),
        ..Kernel::default()
    };
    v4_8.fault.do_wp_page = fault::do_wp_page_v5_8;
    vec![
        ("6.0+", modern),
        ("5.9-5.18", v5_18),
        ("5.8", v5_8),
        ("4.8", v4_8),
    ]
}

#[test]
fn a_force_write_to_a_read_only_private_mapping_lands_in_a_private_copy_in_every_era() {
    for (era, kernel) in era_kernels() {
        let (w, sink) = world(kernel);
        let (mm, _vma) = read_only_private_file(&w);
        // Twice: the first makes the copy (do_cow_fault), the second finds it dirty and
        // read-only (the retry each era accepts differently).
        for v in [5, 6] {
            assert_eq!(access_remote_vm(&w, 0, mm, 0, Some(v)), Ok(v), "{era}");
            let Some(Pte::Present {
                pfn, write, dirty, ..
            }) = w.pte_at(mm, 0)
            else {
                panic!("{era}: not mapped after the write");
            };
            assert!(!write && dirty, "{era}: maybe_mkwrite: dirty and read-only");
            let page = w.page(pfn);
            assert!(page.is_anon(), "{era}: the write went to a private copy");
            assert!(
                page.test(pg::ANON_EXCLUSIVE),
                "{era}: a new anon page is exclusive"
            );
            assert_eq!(page.data[0].load(Ordering::SeqCst), v, "{era}");
        }
        let cached = w.files.get(w.file(0)).i_pages.lock().pages[0].expect("cached");
        assert_eq!(
            w.page(cached).data[0].load(Ordering::SeqCst),
            0,
            "{era}: file unchanged"
        );
        assert_eq!(
            access_remote_vm(&w, 0, mm, 0, None),
            Ok(6),
            "{era}: a read sees the copy"
        );
        cow::check_private_ptes(&w);
        let v = sink.take();
        assert!(v.is_empty(), "{era}: {v:?}");
    }
}

#[test]
fn a_user_write_to_a_read_only_mapping_is_sigsegv_and_a_write_gup_without_force_is_refused() {
    let (w, _sink) = world(Kernel::default());
    let (mm, _vma) = read_only_private_file(&w);
    assert_eq!(access::store(&w, 0, mm, 0, 1), Err(Error::Segv));
    let map = w.mms.get(mm).mmap_lock.read();
    assert_eq!(
        gup::__get_user_pages(&w, mm, 0, 1, FOLL_WRITE | FOLL_GET, &map),
        Err(Error::Segv)
    );
}

/// An era's name, how it sets the kernel, and whether it reuses a page a GUP still holds.
type Era = (&'static str, fn(&mut Kernel), bool);

/// An anonymous page fork once shared (write-protected, not `PageAnonExclusive`) whose other
/// mapping is gone, but which still has an extra reference (the child's vmsplice'd page in a
/// pipe): which era's `do_wp_page` reuses it on the parent's next write (CVE-2020-29374).
#[test]
fn the_reuse_decision_of_each_do_wp_page_era() {
    let eras: [Era; 3] = [
        ("5.19+", |_| {}, false),
        (
            "5.9-5.18",
            |k| k.fault.do_wp_page = fault::do_wp_page_v5_18,
            false,
        ),
        (
            "<=5.8",
            |k| k.fault.do_wp_page = fault::do_wp_page_v5_8,
            true,
        ),
    ];
    for (era, set, reuses_with_gup_ref) in eras {
        let mut kernel = Kernel::default();
        set(&mut kernel);
        let (w, sink) = world(kernel);
        let mm = mm_alloc(&w).expect("mm");
        let vma = mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap");
        access::store(&w, 0, mm, 0, 1).expect("store");
        let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
        // Write-protect it as fork does, and clear PageAnonExclusive: it was shared.
        {
            let pte = pte_offset_map_lock(&w, mm, 0).expect("pte");
            pte.set_pte_at(fault::present(pfn, false, true));
        }
        w.page(pfn).test_clear(pg::ANON_EXCLUSIVE);
        // The child's GUP reference, taken while it mapped the page (it has unmapped since).
        page_alloc::get_page(&w, pfn);
        access::store(&w, 1, mm, 0, 2).expect("the parent's write");
        let now = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
        assert_eq!(now == pfn, reuses_with_gup_ref, "{era}");
        if now == pfn {
            assert!(
                w.page(pfn).test(pg::ANON_EXCLUSIVE),
                "{era}: moved, exclusive"
            );
            assert_eq!(
                w.page(pfn).mapping(),
                Mapping::Anon(w.vmas.get(vma).anon_vma().expect("anon_vma"))
            );
        }
        page_alloc::put_page(&w, pfn);
        // Without the extra reference every era reuses an unshared page.
        assert!(sink.take().is_empty(), "{era}");
    }
}

#[test]
fn a_pin_adds_the_bias_and_marks_the_mm() {
    let (w, _sink) = world(Kernel::default());
    let mm = mm_alloc(&w).expect("mm");
    mmap(&w, mm, 0, 1, MapKind::Anon).expect("mmap");
    access::store(&w, 0, mm, 0, 1).expect("store");
    let pfn = {
        let map = w.mms.get(mm).mmap_lock.read();
        gup::__get_user_pages(&w, mm, 0, 1, FOLL_PIN, &map).expect("pinned")[0]
    };
    assert!(w.page(pfn).maybe_dma_pinned());
    assert_eq!(
        w.page(pfn).refcount.load(Ordering::SeqCst),
        1 + GUP_PIN_COUNTING_BIAS
    );
    assert!(w.mms.get(mm).flags.load(Ordering::SeqCst) & mmf::HAS_PINNED != 0);
    gup::unpin_user_page(&w, pfn);
    assert!(!w.page(pfn).maybe_dma_pinned());
}

/// I18's negative control, at rest: a private file mapping whose PTE maps the page-cache page
/// writable (what the hardware would write through) is caught; after a normal COW write it is
/// not.
#[test]
fn i18_catches_a_writable_pte_of_a_private_mapping_to_the_page_cache() {
    let (w, sink) = world(Kernel::default());
    let mm = mm_alloc(&w).expect("mm");
    let kind = MapKind::File {
        file: w.file(0),
        pgoff: 0,
        shared: false,
    };
    mmap(&w, mm, 0, 1, kind).expect("mmap");
    access::load(&w, 0, mm, 0).expect("a read maps the page-cache page read-only");
    cow::check_private_ptes(&w);
    assert!(sink.take().is_empty());
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
    {
        let pte = pte_offset_map_lock(&w, mm, 0).expect("pte");
        pte.set_pte_at(fault::present(pfn, true, false));
    }
    cow::check_private_ptes(&w);
    assert!(fired(&sink.take(), Oracle::I18CowWrite));
}

/// I18's in-path form on the bad state built by hand: a write for a private mapping handed the
/// page-cache page.
#[test]
fn i18_catches_a_private_write_into_the_page_cache() {
    let (w, sink) = world(Kernel::default());
    let (mm, vma) = read_only_private_file(&w);
    access::load(&w, 0, mm, 0).expect("a read maps the page-cache page");
    let pfn = w.pte_at(mm, 0).and_then(|p| p.pfn()).expect("mapped");
    gup::cow_write(&w, mm, vma, 0, pfn);
    assert!(fired(&sink.take(), Oracle::I18CowWrite));
}

/// I19's negative control on a hand-built state: after fork, the child reads a page holding a
/// value the parent stored after fork (the page the parent wrote, read through a reference the
/// child kept); a store the parent made before fork is no violation.
#[test]
fn i19_catches_the_parents_later_write_in_the_childs_page() {
    let (w, sink) = world(Kernel::default());
    let parent = mm_alloc(&w).expect("mm");
    mmap(&w, parent, 0, 1, MapKind::Anon).expect("mmap");
    access::store(&w, 0, parent, 0, 1).expect("before fork");
    let child = mmlab_engine::ops::fork::dup_mm(&w, parent).expect("fork");
    let fp = cow::ForkPoint::after_fork(&w, parent, child);
    let shared = w.pte_at(child, 0).and_then(|p| p.pfn()).expect("shared");
    cow::check_isolation(&w, &fp, child, 0, shared, "its mapping");
    cow::check_isolation_at_rest(&w, &fp, 0);
    assert!(
        sink.take().is_empty(),
        "the pre-fork value is shared legitimately"
    );
    // The parent's write after fork copies (mapcount 2): the child's page keeps the old value.
    access::store(&w, 0, parent, 0, 2).expect("after fork");
    cow::check_isolation_at_rest(&w, &fp, 0);
    assert!(sink.take().is_empty());
    // The bad state: the parent's new page read as the child's.
    let parents = w.pte_at(parent, 0).and_then(|p| p.pfn()).expect("mapped");
    assert_ne!(parents, shared);
    cow::check_isolation(&w, &fp, child, 0, parents, "a reference to the wrong page");
    assert!(fired(&sink.take(), Oracle::I19CowIsolation));
}
