//! get_user_pages (mm/gup.c; mm/memory.c before 3.19 split it out): the kernel's way to reach
//! a user page — `__get_user_pages` → `follow_page_mask` / `follow_page_pte` under the PTL →
//! `faultin_page` (`handle_mm_fault`) → retry — and what it hands back: a page with a
//! reference (`FOLL_GET`, `get_page`) or a pin (`FOLL_PIN`, `try_grab_page` adding
//! [`GUP_PIN_COUNTING_BIAS`]). [`access_remote_vm`] is what `/proc/pid/mem` and
//! `ptrace(PTRACE_POKEDATA)` do with it (`__access_remote_vm`: `FOLL_FORCE`, then
//! `copy_to_user_page` into the page).
//!
//! Locks as in the kernel: the caller holds `mmap_lock` for read across the whole loop
//! (`mmap_read_lock` in `__access_remote_vm`); `follow_page_pte` looks at the PTE and takes its
//! reference under the PTL (`pte_offset_map_lock`); `faultin_page` calls `handle_mm_fault` with
//! `mmap_lock` still held and no PTL.
//!
//! A write GUP to a VMA without `VM_WRITE` (a `FOLL_FORCE` write to a read-only private
//! mapping) must not loop forever: the COW fault leaves the PTE read-only (`maybe_mkwrite`).
//! How the retry accepts that read-only PTE is what changed across three eras, each a set of
//! entries of [`GupOps`] (`w.kernel.gup`):
//!
//! | era | `faultin_page` after a COW fault (`VM_FAULT_WRITE`, no `VM_WRITE`) | `can_follow_write_pte` on a read-only PTE |
//! |---|---|---|
//! | ≤ 4.8 ([`GupOps::v4_8`]) | `*flags &= ~FOLL_WRITE`: the retry is a read | never (but the flag is gone) |
//! | 4.9–5.19 ([`GupOps::v5_19`], 19be0eaffa3a) | `*flags \|= FOLL_COW` | `FOLL_FORCE && FOLL_COW && pte_dirty` |
//! | 5.8 only ([`GupOps::v5_8`], 17839856fd58) | as 4.9, and `FOLL_GET` on a COW mapping forces `FOLL_WRITE` | `FOLL_COW && pte_dirty` |
//! | 6.0+ (default, 5535be309971) | nothing | `FOLL_FORCE`, a private `VM_MAYWRITE` VMA without `VM_WRITE`, and the page `PageAnonExclusive` |

use crate::check;
use crate::mm::mm_struct::{MmMap, mmf};
use crate::mm::page::{GUP_PIN_COUNTING_BIAS, pg};
use crate::mm::pmd::Pmd;
use crate::mm::pte::Pte;
use crate::mm::vma::vm;
use crate::mm::{Mapping, MmId, Pfn, VmaId, World};
use crate::ops::fault::{self, FaultFlags, VmFault};
use crate::ops::pgtable_generic::pte_offset_map_lock;
use crate::ops::pmd_lock::{LockedPmd, pmd_lock};
use crate::ops::{Error, page_alloc, pagemap, rmap};
use crate::race_window;
use crate::sync::{Ordering, RwSemReadGuard};

bitflags::bitflags! {
    /// `FOLL_*` (include/linux/mm.h; internal flags of mm/internal.h), as far as the model's
    /// callers pass them. Values are the model's own.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FollFlags: u32 {
        /// `FOLL_WRITE`: the caller will write to the page.
        const WRITE = 1 << 0;
        /// `FOLL_TOUCH`: mark the page accessed (and dirty for a write).
        const TOUCH = 1 << 1;
        /// `FOLL_GET`: take a reference (`get_page`), dropped with `put_page`.
        const GET = 1 << 2;
        /// `FOLL_FORCE`: ignore the VMA's missing `VM_WRITE` / `VM_READ` (ptrace, /proc/pid/mem).
        const FORCE = 1 << 4;
        /// `FOLL_REMOTE`: the mm is not the caller's.
        const REMOTE = 1 << 13;
        /// `FOLL_COW` (19be0eaffa3a to 5535be309971): this GUP went through a COW cycle,
        /// so a dirty read-only PTE is the private copy it made.
        const COW = 1 << 14;
        /// `FOLL_PIN` (3faa52c03f44): a pin, released with `unpin_user_page`.
        const PIN = 1 << 18;
    }
}

/// `FOLL_WRITE`, spelt as the kernel spells it at a call site.
pub const FOLL_WRITE: FollFlags = FollFlags::WRITE;
/// `FOLL_TOUCH`.
pub const FOLL_TOUCH: FollFlags = FollFlags::TOUCH;
/// `FOLL_GET`.
pub const FOLL_GET: FollFlags = FollFlags::GET;
/// `FOLL_FORCE`.
pub const FOLL_FORCE: FollFlags = FollFlags::FORCE;
/// `FOLL_REMOTE`.
pub const FOLL_REMOTE: FollFlags = FollFlags::REMOTE;
/// `FOLL_COW`.
pub const FOLL_COW: FollFlags = FollFlags::COW;
/// `FOLL_PIN`.
pub const FOLL_PIN: FollFlags = FollFlags::PIN;

/// How many times one page's lookup may go round `follow_page_mask` → `faultin_page` before the
/// lab calls it a livelock (the kernel loops, `cond_resched()` between rounds).
const MAX_RETRIES: usize = 10_000;

/// What `follow_page_mask` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The page, with the reference or pin `FOLL_GET` / `FOLL_PIN` asked for.
    Page(Pfn),
    /// `NULL`: no page the flags accept (none, not present, or read-only for a write): fault
    /// it in and retry.
    NoPage,
}

/// `is_cow_mapping` (include/linux/mm.h): private and `VM_MAYWRITE`.
pub fn is_cow_mapping(flags: u32) -> bool {
    flags & (vm::SHARED | vm::MAYWRITE) == vm::MAYWRITE
}

/// `check_vma_flags`: may this GUP touch this VMA at all? A write needs `VM_WRITE`, or
/// `FOLL_FORCE` on a COW mapping (a read-only private mapping: the write will go to a private
/// copy); `VM_IO`/`VM_PFNMAP` VMAs are refused (-EFAULT, here SIGSEGV's `Error::Segv`).
/// Simplification: hugetlb VMAs are refused too (`follow_hugetlb_page` is not modelled).
pub fn check_vma_flags(w: &World, vma: VmaId, gup_flags: FollFlags) -> Result<(), Error> {
    let flags = w.vmas.get(vma).flags.load(Ordering::SeqCst);
    if flags & (vm::IO | vm::HUGETLB) != 0 {
        return Err(Error::Segv);
    }
    if gup_flags.contains(FOLL_WRITE) {
        if flags & vm::WRITE == 0 {
            if !gup_flags.contains(FOLL_FORCE) {
                return Err(Error::Segv);
            }
            if !is_cow_mapping(flags) {
                return Err(Error::Segv);
            }
        }
    } else if flags & vm::READ == 0 && !(gup_flags.contains(FOLL_FORCE) && flags & vm::MAYREAD != 0)
    {
        return Err(Error::Segv);
    }
    Ok(())
}

/// `can_follow_write_pte` (6.0+, 5535be309971 "mm/gup: fix FOLL_FORCE COW security issue and
/// remove FOLL_COW"): a write GUP may use a read-only PTE only with `FOLL_FORCE`, in a private
/// (`!VM_MAYSHARE`), `VM_MAYWRITE`, `!VM_WRITE` VMA, and only if the page is anonymous and
/// `PageAnonExclusive` — a private copy this mm alone maps, which it could map writable. No
/// soft-dirty or uffd-wp tracking is modelled, so no write fault is "required for other
/// reasons".
pub fn can_follow_write_pte(
    w: &World,
    pte: Pte,
    page: Option<Pfn>,
    vma: VmaId,
    flags: FollFlags,
) -> bool {
    if matches!(pte, Pte::Present { write: true, .. }) {
        return true;
    }
    if !flags.contains(FOLL_FORCE) {
        return false;
    }
    let v = w.vmas.get(vma);
    if v.has(vm::MAYSHARE | vm::SHARED) || !v.has(vm::MAYWRITE) || v.has(vm::WRITE) {
        return false;
    }
    let Some(pfn) = page else {
        return false;
    };
    let p = w.page(pfn);
    p.is_anon() && p.test(pg::ANON_EXCLUSIVE)
}

/// `can_follow_write_pte` of 19be0eaffa3a (4.9–5.7, and again 5.9–5.19 after a308c71bf1e6
/// restored it): "FOLL_FORCE can write to even unwritable pte's, but only after we've gone
/// through a COW cycle and they are dirty" — `FOLL_FORCE && FOLL_COW && pte_dirty`.
pub fn can_follow_write_pte_v5_19(
    _w: &World,
    pte: Pte,
    _page: Option<Pfn>,
    _vma: VmaId,
    flags: FollFlags,
) -> bool {
    match pte {
        Pte::Present { write: true, .. } => true,
        Pte::Present { dirty, .. } => flags.contains(FOLL_FORCE | FOLL_COW) && dirty,
        _ => false,
    }
}

/// `can_follow_write_pte` of 17839856fd58 (5.8): "FOLL_FORCE or a forced COW break can write
/// even to unwritable pte's" — `FOLL_COW && pte_dirty`, the `FOLL_FORCE` test dropped because
/// a read GUP's forced COW break has no `FOLL_FORCE`.
pub fn can_follow_write_pte_v5_8(
    _w: &World,
    pte: Pte,
    _page: Option<Pfn>,
    _vma: VmaId,
    flags: FollFlags,
) -> bool {
    match pte {
        Pte::Present { write: true, .. } => true,
        Pte::Present { dirty, .. } => flags.contains(FOLL_COW) && dirty,
        _ => false,
    }
}

/// `follow_page_pte` before 19be0eaffa3a (≤4.8): `(flags & FOLL_WRITE) && !pte_write(pte)`
/// — a write lookup accepts only a writable PTE (the Dirty COW era: its `faultin_page` drops
/// `FOLL_WRITE` instead).
pub fn can_follow_write_pte_v4_8(
    _w: &World,
    pte: Pte,
    _page: Option<Pfn>,
    _vma: VmaId,
    _flags: FollFlags,
) -> bool {
    matches!(pte, Pte::Present { write: true, .. })
}

/// `follow_page_mask` → `follow_pmd_mask` (6.6): the PMD read without its lock
/// (`pmdp_get_lockless`) — none or not present (a PMD migration entry, an invalidated one) is
/// `no_page_table`; a PTE table is [`follow_page_pte`]; a huge PMD that is a NUMA-hinting
/// entry is `no_page_table` too (GUP honours NUMA hinting faults: `is_valid_gup_args` sets
/// `FOLL_HONOR_NUMA_FAULT`, 6.5+, and the fault restores the entry); else, under the PMD lock,
/// re-checked — no longer present: `no_page_table`; no longer huge (split meanwhile): the PTE
/// path — and [`follow_trans_huge_pmd`].
pub fn follow_page_mask(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    flags: FollFlags,
) -> Result<Follow, Error> {
    let (slot, _) = w.pte_slot(va);
    let pmdval = w.mms.get(mm).pmdp_get_lockless(slot);
    match pmdval {
        Pmd::None | Pmd::Migration { .. } | Pmd::Invalid { .. } => return Ok(Follow::NoPage),
        Pmd::Table(_) => return follow_page_pte(w, mm, vma, va, flags),
        Pmd::Huge { protnone: true, .. } => return Ok(Follow::NoPage),
        Pmd::Huge { .. } => {}
    }
    let pmd = pmd_lock(w, mm, slot);
    match pmd.get() {
        Pmd::Huge {
            protnone: false, ..
        } => follow_trans_huge_pmd(w, &pmd, vma, va, flags),
        Pmd::Table(_) => {
            drop(pmd);
            follow_page_pte(w, mm, vma, va, flags)
        }
        _ => Ok(Follow::NoPage),
    }
}

/// `follow_trans_huge_pmd` (mm/huge_memory.c, 6.6), the PMD lock held on a present huge PMD:
/// refused for a write the entry does not allow (`can_follow_write_pmd`, the PMD twin of
/// `can_follow_write_pte`), then `try_grab_folio` of the THP (the reference or pin is the
/// folio's: the head's count), `touch_pmd` for `FOLL_TOUCH` (young; dirty for a write), and
/// the subpage at `va`.
///
/// Simplification: one era — the 6.x write rule, whichever `can_follow_write_pte` the world
/// runs (the pre-6.0 THP rule was 8310d48b125d's `FOLL_COW && pmd_dirty`, not modelled).
pub fn follow_trans_huge_pmd(
    w: &World,
    pmd: &LockedPmd<'_>,
    vma: VmaId,
    va: u64,
    flags: FollFlags,
) -> Result<Follow, Error> {
    let entry = pmd.get();
    let Pmd::Huge {
        pfn: head,
        write,
        dirty,
        young,
        protnone,
    } = entry
    else {
        unreachable!("{pmd}: follow_trans_huge_pmd of a PMD that is not huge")
    };
    if flags.contains(FOLL_WRITE) && !can_follow_write_pmd(w, write, head, vma, flags) {
        w.trace("follow_trans_huge_pmd: no write", pmd, entry);
        return Ok(Follow::NoPage);
    }
    try_grab_page(w, pmd.mm(), head, flags)?;
    if flags.contains(FOLL_TOUCH) {
        // touch_pmd: pmd_mkyoung, pmd_mkdirty for a write (pmdp_set_access_flags).
        let touched = Pmd::Huge {
            pfn: head,
            write,
            dirty: dirty || flags.contains(FOLL_WRITE),
            young: true,
            protnone,
        };
        if touched != entry || !young {
            pmd.set_pmd_at(touched);
        }
    }
    let (_, i) = w.pte_slot(va);
    let page = w.subpage(head, i);
    w.trace(
        "follow_trans_huge_pmd",
        pmd,
        format_args!("{page} {flags:?}"),
    );
    Ok(Follow::Page(page))
}

/// `can_follow_write_pmd` (6.x): a writable PMD, or `FOLL_FORCE` in a private, `VM_MAYWRITE`,
/// `!VM_WRITE` VMA on an exclusive anonymous THP — [`can_follow_write_pte`]'s rule at the PMD.
pub fn can_follow_write_pmd(
    w: &World,
    write: bool,
    head: Pfn,
    vma: VmaId,
    flags: FollFlags,
) -> bool {
    if write {
        return true;
    }
    if !flags.contains(FOLL_FORCE) {
        return false;
    }
    let v = w.vmas.get(vma);
    if v.has(vm::MAYSHARE | vm::SHARED) || !v.has(vm::MAYWRITE) || v.has(vm::WRITE) {
        return false;
    }
    let p = w.page(head);
    p.is_anon() && p.test(pg::ANON_EXCLUSIVE)
}

/// `follow_page_pte`, every era (the era is the `can_follow_write_pte` entry): under the PTL
/// (`pte_offset_map_lock`), a present PTE's page (`vm_normal_page`), refused for a write the
/// entry does not allow; then the reference or pin ([`try_grab_page`]) and, for `FOLL_TOUCH`,
/// a write's `set_page_dirty` (`mark_page_accessed` is not modelled). A migration entry is
/// `no_page` (the fault waits for it).
pub fn follow_page_pte(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    flags: FollFlags,
) -> Result<Follow, Error> {
    let Some(pte) = pte_offset_map_lock(w, mm, va) else {
        return Ok(Follow::NoPage);
    };
    let entry = pte.get();
    let Pte::Present { pfn, dirty, .. } = entry else {
        return Ok(Follow::NoPage);
    };
    if flags.contains(FOLL_WRITE)
        && !(w.kernel.gup.can_follow_write_pte)(w, entry, Some(pfn), vma, flags)
    {
        w.trace("follow_page_pte: no write", &pte, entry);
        return Ok(Follow::NoPage);
    }
    try_grab_page(w, mm, pfn, flags)?;
    if flags.contains(FOLL_TOUCH | FOLL_WRITE) && !dirty && !w.page(pfn).test(pg::DIRTY) {
        rmap::set_page_dirty(w, pfn);
    }
    w.trace("follow_page_pte", &pte, format_args!("{pfn} {flags:?}"));
    drop(pte);
    Ok(Follow::Page(pfn))
}

/// `try_grab_page`: `FOLL_GET` takes one reference; `FOLL_PIN` adds
/// [`GUP_PIN_COUNTING_BIAS`] (3faa52c03f44) and marks the mm `MMF_HAS_PINNED` (a458b76a4171
/// "mm: gup: pack has_pinned in MMF_HAS_PINNED"), so that fork copies the pinned pages of this
/// mm instead of sharing them. The page is mapped under the PTL the caller holds, so its
/// count is above zero. The reference is the folio's (`folio_ref_inc(page_folio(page))`): a
/// subpage of a PTE-mapped THP counts on its head, where `put_page` drops it.
pub fn try_grab_page(w: &World, mm: MmId, pfn: Pfn, flags: FollFlags) -> Result<(), Error> {
    let page = w.page(w.compound_head(pfn));
    if flags.contains(FOLL_GET) {
        page.refcount.fetch_add(1, Ordering::SeqCst);
    } else if flags.contains(FOLL_PIN) {
        page.refcount
            .fetch_add(GUP_PIN_COUNTING_BIAS, Ordering::SeqCst);
        w.mms
            .get(mm)
            .flags
            .fetch_or(mmf::HAS_PINNED, Ordering::SeqCst);
    }
    Ok(())
}

/// `unpin_user_page`: drop a `FOLL_PIN` pin (the last reference frees the page, as
/// `put_page` would). The pin is the folio's (`gup_put_folio(page_folio(page))`): a subpage of
/// a THP unpins its head.
pub fn unpin_user_page(w: &World, pfn: Pfn) {
    let pfn = w.compound_head(pfn);
    let prev = w
        .page(pfn)
        .refcount
        .fetch_sub(GUP_PIN_COUNTING_BIAS, Ordering::SeqCst);
    if prev == GUP_PIN_COUNTING_BIAS {
        page_alloc::free_page(w, pfn);
    } else if prev < GUP_PIN_COUNTING_BIAS {
        check::violation(
            check::Oracle::Bug,
            format!("unpin_user_page of {pfn} with ref {prev}: not pinned"),
        );
    }
}

/// `faultin_page` (6.0+, 5535be309971): turn the `FOLL_*` flags into fault flags
/// (`FAULT_FLAG_WRITE`, `FAULT_FLAG_REMOTE`) and call [`fault::handle_mm_fault`] with
/// `mmap_lock` held. No flag games: the retry looks at the PTE with the same flags.
pub fn faultin_page(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    flags: &mut FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
) -> Result<VmFault, Error> {
    handle_fault_for_gup(w, mm, vma, va, *flags, map)
}

/// `faultin_page` of 19be0eaffa3a (4.9–5.19): after a fault that broke COW
/// (`VM_FAULT_WRITE`) in a VMA without `VM_WRITE`, set `FOLL_COW`, so that the retry accepts
/// the dirty read-only PTE of the private copy — and nothing else.
pub fn faultin_page_v5_19(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    flags: &mut FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
) -> Result<VmFault, Error> {
    let ret = handle_fault_for_gup(w, mm, vma, va, *flags, map)?;
    if ret.contains(VmFault::WRITE) && !w.vmas.get(vma).has(vm::WRITE) {
        *flags |= FOLL_COW;
    }
    Ok(ret)
}

/// `faultin_page` before 19be0eaffa3a (≤4.8, CVE-2016-5195 "Dirty COW"): "The
/// VM_FAULT_WRITE bit tells us that do_wp_page has broken COW when necessary, even if
/// maybe_mkwrite decided not to set pte_write. We can thus safely do subsequent page lookups
/// as if they were reads." — `*flags &= ~FOLL_WRITE`. If the private copy is zapped
/// (MADV_DONTNEED) before the retry, the retry is a read: it read-faults the file's page-cache
/// page in and hands it to the writer.
pub fn faultin_page_v4_8(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    flags: &mut FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
) -> Result<VmFault, Error> {
    let ret = handle_fault_for_gup(w, mm, vma, va, *flags, map)?;
    if ret.contains(VmFault::WRITE) && !w.vmas.get(vma).has(vm::WRITE) {
        flags.remove(FOLL_WRITE);
    }
    Ok(ret)
}

/// The part every era's `faultin_page` shares: the fault flags, and the fault itself (counted
/// as a fault in flight for MADV_DONTNEED's I14, as a user fault is).
pub fn handle_fault_for_gup(
    w: &World,
    mm: MmId,
    vma: VmaId,
    va: u64,
    flags: FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
) -> Result<VmFault, Error> {
    let _in_flight = w.fault_begin(mm);
    let mut fault_flags = FaultFlags::empty();
    if flags.contains(FOLL_WRITE) {
        fault_flags |= FaultFlags::WRITE;
    }
    if flags.contains(FOLL_REMOTE) {
        fault_flags |= FaultFlags::REMOTE;
    }
    w.trace(
        "faultin_page",
        format_args!("{mm} va {:#x}", va << 12),
        format_args!("{flags:?}"),
    );
    fault::handle_mm_fault(w, mm, vma, va, fault_flags, map)
}

/// `__get_user_pages` (6.0+, and 4.9–5.7 / 5.9–5.19: the loop did not change, only its
/// callees): for each page, `find_vma` + [`check_vma_flags`] on the caller's flags, then
/// `follow_page_mask` until it returns a page, `faultin_page` between tries. `mmap_lock` is
/// held for read by the caller throughout (`map`).
pub fn __get_user_pages(
    w: &World,
    mm: MmId,
    start: u64,
    nr_pages: u64,
    gup_flags: FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
) -> Result<Vec<Pfn>, Error> {
    get_user_pages_loop(w, mm, start, nr_pages, gup_flags, map, |_, _, f| f)
}

/// `__get_user_pages` of 17839856fd58 "gup: document and work around "COW can break either
/// way" issue" (5.8; reverted by a308c71bf1e6 "mm/gup: Remove enfornced COW mechanism" in
/// 5.9, which 09854ba94c6a's `do_wp_page` made unnecessary): "A (separate) COW fault might
/// break the page the other way and get_user_pages() would return the page from what is now
/// the wrong VM. So we need to force a COW break at GUP time even for reads." —
/// `should_force_cow_break(vma, flags)` (`is_cow_mapping && FOLL_GET`) adds `FOLL_WRITE` to
/// the lookup (after `check_vma_flags`, which saw the caller's read).
pub fn __get_user_pages_v5_8(
    w: &World,
    mm: MmId,
    start: u64,
    nr_pages: u64,
    gup_flags: FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
) -> Result<Vec<Pfn>, Error> {
    get_user_pages_loop(w, mm, start, nr_pages, gup_flags, map, |w, vma, f| {
        if should_force_cow_break(w, vma, f) {
            f | FOLL_WRITE
        } else {
            f
        }
    })
}

/// `should_force_cow_break` (17839856fd58, 5.8).
pub fn should_force_cow_break(w: &World, vma: VmaId, flags: FollFlags) -> bool {
    is_cow_mapping(w.vmas.get(vma).flags.load(Ordering::SeqCst)) && flags.contains(FOLL_GET)
}

/// The loop of every era's `__get_user_pages`; `foll` turns the caller's flags into the
/// lookup's (`foll_flags`), once per VMA, after `check_vma_flags`.
fn get_user_pages_loop(
    w: &World,
    mm: MmId,
    start: u64,
    nr_pages: u64,
    gup_flags: FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
    foll: impl Fn(&World, VmaId, FollFlags) -> FollFlags,
) -> Result<Vec<Pfn>, Error> {
    let mut pages = Vec::new();
    for va in start..start + nr_pages {
        let vma = fault::find_vma(w, &map.vmas, va).ok_or(Error::Segv)?;
        check_vma_flags(w, vma, gup_flags)?;
        let mut foll_flags = foll(w, vma, gup_flags);
        let mut tries = 0;
        let pfn = loop {
            match (w.kernel.gup.follow_page_mask)(w, mm, vma, va, foll_flags)? {
                Follow::Page(pfn) => break pfn,
                Follow::NoPage => {
                    tries += 1;
                    if tries > MAX_RETRIES {
                        check::violation(
                            check::Oracle::Progress,
                            format!(
                                "__get_user_pages: {MAX_RETRIES} faults at {mm} va {:#x} \
                                 without a page ({foll_flags:?})",
                                va << 12
                            ),
                        );
                        return Err(Error::Segv);
                    }
                    (w.kernel.gup.faultin_page)(w, mm, vma, va, &mut foll_flags, map)?;
                    race_window!("__get_user_pages: faultin_page returned, retry not yet run");
                }
            }
        };
        pages.push(pfn);
    }
    Ok(pages)
}

/// `get_user_pages_remote(mm, addr, nr, gup_flags | FOLL_REMOTE | FOLL_TOUCH, ...)`: through
/// the `__get_user_pages` entry, the caller holding `mmap_lock` for read.
pub fn get_user_pages_remote(
    w: &World,
    mm: MmId,
    start: u64,
    nr_pages: u64,
    gup_flags: FollFlags,
    map: &RwSemReadGuard<'_, MmMap>,
) -> Result<Vec<Pfn>, Error> {
    (w.kernel.gup.__get_user_pages)(
        w,
        mm,
        start,
        nr_pages,
        gup_flags | FOLL_REMOTE | FOLL_TOUCH,
        map,
    )
}

/// `get_user_pages_fast` as a pipe's `vmsplice` uses it (`iov_iter_get_pages` → `FOLL_GET`,
/// read): the pages of `mm` at `[start, start + nr_pages)`, each with a reference the caller
/// keeps (the pipe buffer) and drops with `put_page`. Simplification: no lockless fast path —
/// it always takes the slow path's `mmap_read_lock` and `__get_user_pages`, which the fast
/// path falls back to for any page it cannot take locklessly.
pub fn get_user_pages_fast(
    w: &World,
    mm: MmId,
    start: u64,
    nr_pages: u64,
    gup_flags: FollFlags,
) -> Result<Vec<Pfn>, Error> {
    let map = w.mms.get(mm).mmap_lock.read();
    let pages = (w.kernel.gup.__get_user_pages)(
        w,
        mm,
        start,
        nr_pages,
        gup_flags | FOLL_GET | FOLL_TOUCH,
        &map,
    );
    drop(map);
    pages
}

/// `__access_remote_vm` (mm/memory.c; `access_remote_vm` for `/proc/pid/mem`,
/// `ptrace_access_vm` for `PTRACE_PEEKDATA`/`POKEDATA`): `mmap_read_lock(mm)`, then
/// `get_user_pages_remote(mm, addr, 1, FOLL_FORCE | (write ? FOLL_WRITE : 0) | FOLL_GET)`, and
/// `copy_to_user_page` (the kernel's own mapping of the page, writable whatever the PTE says)
/// or `copy_from_user_page`, on CPU `cpu`'s data word; a write ends with `set_page_dirty_lock`;
/// then `put_page` and `mmap_read_unlock`. Returns the word read, or the one written.
///
/// A write is checked by I18 ([`cow_write`]) where it lands. It is not a user store:
/// the lost-store oracle does not expect it (a concurrent MADV_DONTNEED may legitimately drop
/// the page the write went to, which GUP still held).
pub fn access_remote_vm(
    w: &World,
    cpu: usize,
    mm: MmId,
    va: u64,
    write: Option<u64>,
) -> Result<u64, Error> {
    let map = w.mms.get(mm).mmap_lock.read();
    let mut gup_flags = FOLL_FORCE | FOLL_GET;
    if write.is_some() {
        gup_flags |= FOLL_WRITE;
    }
    let pfn = match get_user_pages_remote(w, mm, va, 1, gup_flags, &map) {
        Ok(pages) => pages[0],
        Err(e) => return Err(e),
    };
    let vma = fault::find_vma(w, &map.vmas, va).ok_or(Error::Segv)?;
    let page = w.page(pfn);
    let value = match write {
        Some(v) => {
            cow_write(w, mm, vma, va, pfn);
            // copy_to_user_page
            page.data[cpu].store(v, Ordering::SeqCst);
            w.trace(
                "copy_to_user_page",
                format_args!("{mm} va {:#x}", va << 12),
                format_args!("{pfn} := {v} ({:?})", page.mapping()),
            );
            // set_page_dirty_lock
            let locked = pagemap::lock_page(w, pfn);
            rmap::set_page_dirty(w, pfn);
            drop(locked);
            v
        }
        None => page.data[cpu].load(Ordering::SeqCst),
    };
    page_alloc::put_page(w, pfn);
    drop(map);
    Ok(value)
}

/// I18, in-path: a write `mm` makes through `vma` at `va` (a `FOLL_FORCE` GUP write, as
/// `/proc/pid/mem` and `PTRACE_POKEDATA` make) is about to land in `pfn`. If `vma` is private,
/// `pfn` must be an anonymous page (a page-cache page would change the file, which nobody
/// mapped shared and writable: CVE-2016-5195) that no other mm maps (that would change another
/// process's memory). A shared mapping's writes belong in the page cache and are not judged.
pub fn cow_write(w: &World, mm: MmId, vma: VmaId, va: u64, pfn: Pfn) {
    if w.vmas.get(vma).has(vm::SHARED) {
        return;
    }
    match w.page(pfn).mapping() {
        Mapping::File(f) => check::violation(
            check::Oracle::I18CowWrite,
            format!(
                "a write for {mm}'s private mapping at va {:#x} lands in {pfn}, page {} of {f}'s \
                 page cache: the file changes under a read-only private mapping",
                va << 12,
                w.page(pfn).index.load(Ordering::SeqCst)
            ),
        ),
        Mapping::Anon(_) => {
            if let Some(other) = mapped_by_other_mm(w, mm, pfn) {
                check::violation(
                    check::Oracle::I18CowWrite,
                    format!(
                        "a write for {mm}'s private mapping at va {:#x} lands in {pfn}, which \
                         {other} maps too",
                        va << 12
                    ),
                );
            }
        }
        Mapping::None => {}
    }
}

/// Another live mm whose page table maps `pfn` right now (a lockless snapshot of every other
/// mm's PTEs, as an observer reads them), if any.
pub fn mapped_by_other_mm(w: &World, mm: MmId, pfn: Pfn) -> Option<MmId> {
    let per_table = w.cfg.ptes_per_table as u64;
    w.mms.live().into_iter().filter(|&m| m != mm).find(|&m| {
        let other = w.mms.get(m);
        (0..other.pmd.len()).any(|slot| {
            other.pmd_table(slot).is_some()
                && (0..per_table).any(|i| {
                    matches!(w.pte_at(m, slot as u64 * per_table + i),
                        Some(Pte::Present { pfn: p, .. }) if p == pfn)
                })
        })
    })
}

/// Whether `pfn` is a page-cache page (for messages).
pub fn is_file_page(w: &World, pfn: Pfn) -> bool {
    matches!(w.page(pfn).mapping(), Mapping::File(_))
}

/// The type of [`GupOps::can_follow_write_pte`]: `(w, pte, vm_normal_page, vma, flags)`.
pub type CanFollowWritePteFn = fn(&World, Pte, Option<Pfn>, VmaId, FollFlags) -> bool;
/// The type of [`GupOps::faultin_page`]: `(w, mm, vma, va, &mut foll_flags, mmap_lock)`.
pub type FaultinPageFn = for<'a> fn(
    &World,
    MmId,
    VmaId,
    u64,
    &mut FollFlags,
    &RwSemReadGuard<'a, MmMap>,
) -> Result<VmFault, Error>;
/// The type of [`GupOps::__get_user_pages`]: `(w, mm, start, nr_pages, gup_flags, mmap_lock)`.
pub type GetUserPagesFn = for<'a> fn(
    &World,
    MmId,
    u64,
    u64,
    FollFlags,
    &RwSemReadGuard<'a, MmMap>,
) -> Result<Vec<Pfn>, Error>;
/// The type of [`GupOps::follow_page_mask`]: `(w, mm, vma, va, flags)`.
pub type FollowPageMaskFn = fn(&World, MmId, VmaId, u64, FollFlags) -> Result<Follow, Error>;

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the GUP
/// steps whose eras differ. Its `Default`, the modern kernel (6.0+), is implemented in
/// [`crate::kernel`] (above the paths); the historical sets are the constructors below.
#[derive(Debug, Clone, Copy)]
pub struct GupOps {
    /// `__get_user_pages`. Alternative: [`__get_user_pages_v5_8`] (17839856fd58's forced COW
    /// break for reads).
    pub __get_user_pages: GetUserPagesFn,
    /// `follow_page_mask`.
    pub follow_page_mask: FollowPageMaskFn,
    /// `can_follow_write_pte` (read by `follow_page_pte`). Alternatives:
    /// [`can_follow_write_pte_v5_19`], [`can_follow_write_pte_v5_8`],
    /// [`can_follow_write_pte_v4_8`].
    pub can_follow_write_pte: CanFollowWritePteFn,
    /// `faultin_page`. Alternatives: [`faultin_page_v5_19`] (`FOLL_COW`),
    /// [`faultin_page_v4_8`] (drops `FOLL_WRITE`).
    pub faultin_page: FaultinPageFn,
}

impl GupOps {
    /// 4.9–5.7 and 5.9–5.19: 19be0eaffa3a's `FOLL_COW` (the Dirty COW fix).
    pub fn v5_19() -> Self {
        GupOps {
            can_follow_write_pte: can_follow_write_pte_v5_19,
            faultin_page: faultin_page_v5_19,
            ..GupOps::default()
        }
    }

    /// 5.8: 17839856fd58's forced COW break for `FOLL_GET` on COW mappings, with `FOLL_COW`
    /// accepted without `FOLL_FORCE`.
    pub fn v5_8() -> Self {
        GupOps {
            __get_user_pages: __get_user_pages_v5_8,
            can_follow_write_pte: can_follow_write_pte_v5_8,
            faultin_page: faultin_page_v5_19,
            ..GupOps::default()
        }
    }

    /// ≤4.8: `faultin_page` drops `FOLL_WRITE` after a COW fault (CVE-2016-5195).
    pub fn v4_8() -> Self {
        GupOps {
            can_follow_write_pte: can_follow_write_pte_v4_8,
            faultin_page: faultin_page_v4_8,
            ..GupOps::default()
        }
    }
}
