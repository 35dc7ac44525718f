//! `gup-cow-fork`: CVE-2020-29374, "COW can break either way" — a GUP read reference to a
//! page fork shared (a pipe's vmsplice'd page) racing the parent's next write. Jann Horn's
//! report (Project Zero issue 2045, 2020): the child vmsplice()s a page of memory it shares
//! with its parent into a pipe, unmaps it, and reads the pipe after the parent wrote; before
//! 17839856fd58 "gup: document and work around "COW can break either way" issue" (5.8) the
//! parent's write fault reused the page — `reuse_swap_page` saw a mapcount of one — and the
//! child read the parent's new data.
//!
//! ```text
//! child (cpu1)                                      parent (cpu0)
//! ----------------------------------------------    ------------------------------------
//! (fork: the page shared, read-only in both, mapcount 2)
//! vmsplice: get_user_pages_fast(FOLL_GET), read:
//!   follow_page_pte: the shared page, ref +1
//! munmap: mapcount 1
//!                                                   store: write fault -> do_wp_page:
//!                                                     reuse_swap_page: mapcount 1 -> reuse
//!                                                     the secret lands in the shared page
//! read(pipe): the page the pipe holds
//!   -> the parent's write, after fork                                         [I19]
//! ```
//!
//! The fixes, in order: 17839856fd58 (5.8) made GUP break COW for a `FOLL_GET` of a COW
//! mapping even for reads (`should_force_cow_break`: the child gets its own copy before it
//! takes the reference); 09854ba94c6a "mm: do_wp_page() simplification" (5.9) made
//! `do_wp_page` reuse an anonymous page only if its `page_count` is one — the pipe's
//! reference forces a copy — which let a308c71bf1e6 "mm/gup: Remove enfornced COW mechanism"
//! drop the forced break; 6c287605fd56 (5.19) added `PageAnonExclusive`, fork clearing it,
//! and kept the refcount rule for pages that are not exclusive (`wp_can_reuse_anon_folio`).
//!
//! Each variant is one kernel's combination of fork (`copy_present_pte`), GUP and
//! `do_wp_page`: `fixed` (5.19+), `page-count` (5.9–5.18), `gup-breaks-cow` (5.8) and
//! `pre-17839856fd58` (≤5.7), which differs from `gup-breaks-cow` only by the GUP change
//! 17839856fd58 made. The fork runs in setup, before the actors: I19 holds each side to what
//! it may see after `dup_mm` returned ([`mmlab_engine::check::cow::ForkPoint`]).
//!
//! Oracle: I19, on the page the pipe holds (read once both actors are done, as the exploit
//! reads it later) and on both sides' mappings.

use crate::kit::{self, actor};
use crate::scenario::{About, Outcome, Scenario, ScenarioVariant, Size, VariantInfo};
use mmlab_engine::actor::Env;
use mmlab_engine::check::{Oracle, cow};
use mmlab_engine::kernel::Kernel;
use mmlab_engine::mm::Pfn;
use mmlab_engine::ops::fork::{self, dup_mm};
use mmlab_engine::ops::gup::{FOLL_GET, GupOps, get_user_pages_fast};
use mmlab_engine::ops::mmap::{MapKind, mm_alloc, mmap};
use mmlab_engine::ops::{access, fault, munmap, page_alloc};
use mmlab_engine::sync::{Arc, ObserverMutex};

/// The scenario.
#[derive(Debug)]
pub struct GupCowFork;

/// Its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// 5.19+: `PageAnonExclusive`, and the refcount rule for pages that are not.
    Fixed,
    /// 5.9–5.18: 09854ba94c6a's `page_count` rule.
    PageCount,
    /// 5.8: 17839856fd58, GUP breaks COW for reads of COW mappings.
    GupBreaksCow,
    /// ≤5.7: neither.
    Pre17839856fd58,
}

impl ScenarioVariant for Variant {
    const ALL: &'static [Self] = &[
        Variant::Fixed,
        Variant::PageCount,
        Variant::GupBreaksCow,
        Variant::Pre17839856fd58,
    ];
    fn info(self) -> VariantInfo {
        match self {
            Variant::Fixed => VariantInfo::clean(
                "fixed",
                "5.19+: fork clears PageAnonExclusive; do_wp_page copies a shared page with a \
                 GUP reference",
            ),
            Variant::PageCount => VariantInfo::clean(
                "page-count",
                "5.9-5.18 (09854ba94c6a): do_wp_page reuses only at page_count 1",
            ),
            Variant::GupBreaksCow => VariantInfo::clean(
                "gup-breaks-cow",
                "5.8 (17839856fd58): a FOLL_GET of a COW mapping breaks COW first",
            ),
            Variant::Pre17839856fd58 => VariantInfo::race(
                "pre-17839856fd58",
                "<=5.7: the GUP reference stays on the shared page, reuse_swap_page reuses it",
            ),
        }
    }
}

impl Variant {
    /// The kernel this variant runs.
    pub fn kernel(self) -> Kernel {
        let mut kernel = Kernel::default();
        match self {
            Variant::Fixed => {}
            Variant::PageCount => {
                kernel.fork.copy_present_pte = fork::copy_present_pte_v5_18;
                kernel.gup = GupOps::v5_19();
                kernel.fault.do_wp_page = fault::do_wp_page_v5_18;
            }
            Variant::GupBreaksCow => {
                kernel.fork.copy_present_pte = fork::copy_present_pte_v5_8;
                kernel.gup = GupOps::v5_8();
                kernel.fault.do_wp_page = fault::do_wp_page_v5_8;
            }
            Variant::Pre17839856fd58 => {
                kernel.fork.copy_present_pte = fork::copy_present_pte_v5_8;
                kernel.gup = GupOps::v5_19();
                kernel.fault.do_wp_page = fault::do_wp_page_v5_8;
            }
        }
        kernel
    }
}

impl Scenario for GupCowFork {
    type Variant = Variant;
    const ABOUT: About = About {
        name: "gup-cow-fork",
        title: "CVE-2020-29374: a vmsplice'd page and the parent's write after fork",
        commit: "17839856fd58",
        source: include_str!("gup_cow_fork.rs"),
        oracles: &[Oracle::I19CowIsolation],
        long_running: false,
    };
    fn run(&self, variant: Variant, size: Size, env: &Env) -> Outcome {
        let w = kit::world(size, 2, variant.kernel(), |_| {});
        let parent = mm_alloc(&w).expect("mm");
        mmap(&w, parent, 0, 1, MapKind::Anon).expect("mmap");
        access::store(&w, 0, parent, 0, 1).expect("the parent's data before fork");
        let child = dup_mm(&w, parent).expect("fork");
        let fp = cow::ForkPoint::after_fork(&w, parent, child);
        let child_vma = w.mms.get(child).mmap_lock.read().vmas[0];
        let pipe: Arc<ObserverMutex<Option<Pfn>>> = Arc::new(ObserverMutex::new(None));
        let (wc, wp, pipe_c) = (w.clone(), w.clone(), pipe.clone());
        let actors = vec![
            actor("child", move || {
                // vmsplice(pipe, the page, SPLICE_F_GIFT = 0): a FOLL_GET read reference.
                if let Ok(pages) = get_user_pages_fast(&wc, child, 0, 1, FOLL_GET) {
                    *pipe_c.lock() = Some(pages[0]);
                }
                munmap::munmap(&wc, child, child_vma).expect("the child unmaps the page");
            }),
            actor("parent", move || {
                // The parent's later secret.
                access::store(&wp, 0, parent, 0, 2).expect("the parent's write after fork");
            }),
        ];
        let outcome = kit::run(env, &w, actors);
        // read(pipe): the child reads what the pipe holds, then the pipe lets the page go.
        if let Some(pfn) = pipe.lock().take() {
            cow::check_isolation(&w, &fp, child, 0, pfn, "the page its pipe holds");
            page_alloc::put_page(&w, pfn);
        }
        cow::check_isolation_at_rest(&w, &fp, 0);
        let mut violations = outcome.violations;
        violations.extend(env.sink.take());
        Outcome {
            violations,
            ..outcome
        }
    }
}
