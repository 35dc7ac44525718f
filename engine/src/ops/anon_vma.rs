//! The anon_vma family's life (mm/rmap.c): `__anon_vma_prepare` (a VMA's first anonymous
//! fault), `anon_vma_clone` / `anon_vma_fork` (fork), `unlink_anon_vmas` (munmap, exit),
//! `put_anon_vma` / `__put_anon_vma` / `anon_vma_free`.
//!
//! Every change of an anon_vma's tree or counters is made under its *root's* rwsem held for
//! write ([`AnonVmaWriteLocked`], `anon_vma_lock_write` / `lock_anon_vma_root`), on top of
//! `mmap_lock` (write for fork, munmap and exit; read for a fault's prepare, which adds
//! `mm->page_table_lock` under the rwsem) — the order of the mm/rmap.c header.
//!
//! A VMA's side of the links (its `anon_vma_chain` list) is the VMA's own: see
//! [`crate::mm::Vma::chain`], [`crate::mm::Vma::chain_link`] and
//! [`crate::mm::Vma::chain_unlink`].

use crate::mm::anon_vma::{AnonVmaTree, RootHeld};
use crate::mm::mm_struct::MmMap;
use crate::mm::{AnonVmaId, VmaId, World};
use crate::ops::Error;
use crate::ops::vma_lock::vma_start_write;
use crate::sync::lockdep::might_sleep;
use crate::sync::{Ordering, RwSemWriteGuard};

/// The root's rwsem held for write: `anon_vma_lock_write(anon_vma)` (=
/// `down_write(&anon_vma->root->rwsem)`), or what `lock_anon_vma_root` returns.
#[derive(Debug)]
pub struct AnonVmaWriteLocked<'w> {
    root: AnonVmaId,
    _guard: RwSemWriteGuard<'w, ()>,
}

impl AnonVmaWriteLocked<'_> {
    /// The root whose rwsem is held.
    pub fn root_id(&self) -> AnonVmaId {
        self.root
    }

    /// `up_write(&root->rwsem)`.
    pub fn unlock(self) {}
}

impl RootHeld for AnonVmaWriteLocked<'_> {
    fn root(&self) -> AnonVmaId {
        self.root
    }
    fn write(&self) -> bool {
        true
    }
}

/// `anon_vma_lock_write(anon_vma)`: `down_write(&anon_vma->root->rwsem)`.
#[track_caller]
pub fn anon_vma_lock_write(w: &World, av: AnonVmaId) -> AnonVmaWriteLocked<'_> {
    let root = w.anon_vmas.get(av).root();
    AnonVmaWriteLocked {
        root,
        _guard: w.anon_vmas.get(root).rwsem.write(),
    }
}

/// `lock_anon_vma_root(root, anon_vma)`: keep the held root if `anon_vma` is of its family,
/// else drop it (`up_write`) and take `anon_vma->root`'s. Used by `anon_vma_clone` and
/// `unlink_anon_vmas`, whose chains may span families only in theory (a VMA's chain is one
/// family; the kernel still checks).
#[track_caller]
pub fn lock_anon_vma_root<'w>(
    w: &'w World,
    held: Option<AnonVmaWriteLocked<'w>>,
    av: AnonVmaId,
) -> AnonVmaWriteLocked<'w> {
    let new_root = w.anon_vmas.get(av).root();
    match held {
        Some(h) if h.root == new_root => h,
        other => {
            drop(other);
            anon_vma_lock_write(w, av)
        }
    }
}

/// Which counters an era's entries keep (include/linux/rmap.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnonVmaCounters {
    /// 6.0+ (2555283eb40d): `num_children` and `num_active_vmas`.
    #[default]
    ChildrenAndActiveVmas,
    /// v3.19 (7a3ef208e662) .. v5.19: `degree`, children and VMAs together.
    Degree,
}

/// `anon_vma_alloc`: a new anon_vma, its own root and parent, refcount 1, counters of the
/// era's start (`degree = 1` "Reference for first vma" before 6.0; zero after).
pub fn anon_vma_alloc(w: &World) -> Result<AnonVmaId, Error> {
    let (av_id, av) = w.anon_vmas.alloc().ok_or(Error::Oom)?;
    let tree = match w.kernel.anon_vma.counters {
        AnonVmaCounters::ChildrenAndActiveVmas => AnonVmaTree::default(),
        AnonVmaCounters::Degree => AnonVmaTree {
            degree: 1,
            ..Default::default()
        },
    };
    av.init(av_id, av_id, tree);
    // The slot and its generation: a reused slot shows here.
    w.trace(
        "anon_vma_alloc",
        av_id,
        format_args!("gen {}", av_id.generation),
    );
    Ok(av_id)
}

/// `__anon_vma_prepare`'s allocation of a new root: `anon_vma_alloc`, then
/// `anon_vma->num_children++; /* self-parent link for new root */` (6.0+).
fn anon_vma_alloc_root(w: &World) -> Result<AnonVmaId, Error> {
    let av_id = anon_vma_alloc(w)?;
    if w.kernel.anon_vma.counters == AnonVmaCounters::ChildrenAndActiveVmas {
        w.anon_vmas
            .get(av_id)
            .update_unpublished(|t| t.num_children += 1);
    }
    Ok(av_id)
}

/// `anon_vma_chain_link(vma, avc, anon_vma)`: the AVC goes on the VMA's chain (at its head, as
/// `list_add`) and into the anon_vma's tree, under the root's rwsem held for write.
pub fn anon_vma_chain_link(w: &World, held: &AnonVmaWriteLocked<'_>, vma: VmaId, av: AnonVmaId) {
    w.vmas.get(vma).chain_link(av);
    w.anon_vmas.get(av).update(held, |t| t.vmas.push(vma));
}

/// `anon_vma_prepare`: give `vma` an anon_vma if it has none (`__anon_vma_prepare`).
pub fn anon_vma_prepare(w: &World, vma_id: VmaId) -> Result<(), Error> {
    if w.vmas.get(vma_id).anon_vma().is_some() {
        return Ok(());
    }
    __anon_vma_prepare(w, vma_id)
}

/// `__anon_vma_prepare` (6.x shape): `find_mergeable_anon_vma`, then allocate a new root,
/// take its rwsem for write, then `mm->page_table_lock`, and re-check `vma->anon_vma` under
/// them: link the VMA, count it (`num_active_vmas++`; `degree++` before 6.0).
///
/// Simplification: [`find_mergeable_anon_vma`] checks the lock its walk of the VMA tree needs
/// but reuses no neighbour's anon_vma (the model merges VMAs only in mprotect,
/// docs/MODEL.md §11): every prepare allocates.
///
/// A preparer that lost the race (another fault installed an anon_vma meanwhile) drops its
/// allocation with `put_anon_vma`, as mm/rmap.c does (`put_anon_vma(allocated)`), never with a
/// direct free: the slot is `SLAB_TYPESAFE_BY_RCU` memory, and a reader holding a stale
/// `page->mapping` into it may have pinned it with `atomic_inc_not_zero` meanwhile
/// (`page_get_anon_vma`, `page_lock_anon_vma_read`); the last of the two puts frees it.
///
/// ```text
/// __anon_vma_prepare (lost the race)      page_get_anon_vma (stale page->mapping)
/// anon_vma_alloc: slot S, refcount 1
///                                         atomic_inc_not_zero(S): 2
/// vma->anon_vma already set
/// put_anon_vma(S): 1
///                                         page_mapped: no -> put_anon_vma(S): 0, freed
/// ```
pub fn __anon_vma_prepare(w: &World, vma_id: VmaId) -> Result<(), Error> {
    let vma = w.vmas.get(vma_id);
    let _reusable = find_mergeable_anon_vma(w, vma_id);
    let av_id = anon_vma_alloc_root(w)?;
    let installed = {
        let locked = anon_vma_lock_write(w, av_id);
        let mm = w.mms.get(vma.info.get().mm);
        let _ptl = mm.page_table_lock.lock();
        if vma.anon_vma().is_none() {
            vma.set_anon_vma(Some(av_id));
            anon_vma_chain_link(w, &locked, vma_id, av_id);
            let counters = w.kernel.anon_vma.counters;
            w.anon_vmas.get(av_id).update(&locked, |t| match counters {
                AnonVmaCounters::ChildrenAndActiveVmas => t.num_active_vmas += 1,
                // `/* vma reference or self-parent link for new root */ anon_vma->degree++;`
                AnonVmaCounters::Degree => t.degree += 1,
            });
            true
        } else {
            false
        }
    };
    if installed {
        w.trace("anon_vma_prepare", vma_id, av_id);
    } else {
        w.trace("anon_vma_prepare: lost the race", vma_id, av_id);
        put_anon_vma(w, av_id);
    }
    Ok(())
}

/// `find_mergeable_anon_vma(vma)` (mm/mmap.c, 6.1+ maple-tree shape): look at the VMAs
/// after and before `vma` (`mas_walk` / `mas_prev` of `mm->mm_mt` from `vma->vm_end`) for an
/// anon_vma `reusable_anon_vma` would share. The walk reads the tree and the neighbours'
/// `vm_area_struct`s, so it needs what keeps them: `mmap_lock` (the tree's external lock,
/// `mt_set_external_lock(&mm->mm_mt, &mm->mmap_lock)`) or `rcu_read_lock` —
/// `rcu_dereference_check(..., mt_locked(mt))` in `mas_root`, which CONFIG_PROVE_RCU reports
/// as "suspicious rcu_dereference_check() usage". A page fault holding only a per-VMA lock has
/// neither: a neighbour it reads may be munmap()ed and freed under it. That is the
/// use-after-free of 657b5146955e ("mm: lock_vma_under_rcu() must check vma->anon_vma under
/// vma lock"); since 2024 the kernel states the rule outright (Matthew Wilcox, "mm: Assert the
/// mmap_lock is held in __anon_vma_prepare()": `mmap_assert_locked(mm)`).
///
/// Simplification: the walk's lock rule is checked (I15) and no neighbour's anon_vma is
/// reused (`None`): the model allocates an anon_vma for every VMA that faults first
/// (docs/MODEL.md §6).
#[track_caller]
pub fn find_mergeable_anon_vma(w: &World, vma: VmaId) -> Option<AnonVmaId> {
    use crate::sync::{LockClass, held, switches};
    if switches::lockdep() && !held::holds(LockClass::MmapLock) && !held::holds(LockClass::Rcu) {
        crate::check::violation(
            crate::check::Oracle::I15Lockdep,
            format!(
                "suspicious rcu_dereference_check() usage: find_mergeable_anon_vma({vma}) walks \
                 mm->mm_mt holding neither mmap_lock nor rcu_read_lock (a neighbour it reads \
                 may be freed by a concurrent munmap)"
            ),
        );
    }
    w.trace("find_mergeable_anon_vma", vma, "none (no reuse modelled)");
    None
}

/// `anon_vma_clone(dst, src)` (6.0+): link `dst` into every anon_vma of `src`'s chain, walked
/// in reverse, taking each family's root rwsem for write as the root changes
/// (`lock_anon_vma_root`). Reuse rule of 2555283eb40d: an anon_vma of the chain with no
/// active VMA and fewer than two children may become `dst->anon_vma` (the root never
/// qualifies: its self-parent link and a child make two). Then `num_active_vmas++` of the
/// one chosen.
///
/// Simplification: AVCs are not allocated (no `GFP_NOWAIT` failure, no unlock-and-retry with
/// `GFP_KERNEL`, no `enomem_failure` unwinding).
pub fn anon_vma_clone(w: &World, dst: VmaId, src: VmaId) -> Result<(), Error> {
    let dvma = w.vmas.get(dst);
    let svma = w.vmas.get(src);
    let src_has = svma.anon_vma().is_some();
    let mut root: Option<AnonVmaWriteLocked<'_>> = None;
    for av_id in svma.chain().into_iter().rev() {
        let locked = lock_anon_vma_root(w, root.take(), av_id);
        anon_vma_chain_link(w, &locked, dst, av_id);
        let t = w.anon_vmas.get(av_id).tree(&locked);
        if dvma.anon_vma().is_none() && src_has && t.num_children < 2 && t.num_active_vmas == 0 {
            dvma.set_anon_vma(Some(av_id));
            w.trace("anon_vma_clone: reuse", dst, av_id);
        }
        root = Some(locked);
    }
    if let (Some(av), Some(locked)) = (dvma.anon_vma(), root.as_ref()) {
        w.anon_vmas
            .get(av)
            .update(locked, |t| t.num_active_vmas += 1);
    }
    drop(root);
    w.trace("anon_vma_clone", dst, src);
    Ok(())
}

/// `anon_vma_clone(dst, src)` when its first `anon_vma_chain_alloc` fails, `GFP_NOWAIT` and
/// then `GFP_KERNEL` (mm/rmap.c, `goto enomem_failure`): an out-of-memory condition, not a
/// kernel version — the one d8ab9f7b644a ("mm: lock VMA in dup_anon_vma() before setting
/// ->anon_vma") needs, which its author reached with fault injection (CONFIG_FAILSLAB on
/// `anon_vma_chain_cachep`). A world runs it to model that allocator state; every kernel
/// era unwinds the same way:
///
/// ```text
/// avc = anon_vma_chain_alloc(GFP_NOWAIT | __GFP_NOWARN);   NULL
/// unlock_anon_vma_root(root); root = NULL;
/// avc = anon_vma_chain_alloc(GFP_KERNEL);                  NULL (reclaim may sleep here)
/// enomem_failure:
///   dst->anon_vma = NULL;   /* else unlink_anon_vmas() miscounts num_active_vmas */
///   unlink_anon_vmas(dst);
///   return -ENOMEM;
/// ```
///
/// The `GFP_KERNEL` attempt enters direct reclaim and may sleep: the window in which
/// `dst->anon_vma` is set and `dst` is not yet on the anon_vma's tree is that wide.
pub fn anon_vma_clone_enomem(w: &World, dst: VmaId, src: VmaId) -> Result<(), Error> {
    might_sleep("anon_vma_chain_alloc(GFP_KERNEL)");
    w.trace("anon_vma_chain_alloc: -ENOMEM", dst, src);
    crate::race_window!("anon_vma_clone: anon_vma_chain_alloc(GFP_KERNEL) reclaims");
    w.vmas.get(dst).set_anon_vma(None);
    unlink_anon_vmas(w, dst);
    w.trace("anon_vma_clone: enomem_failure", dst, src);
    Err(Error::Oom)
}

/// `anon_vma_clone` of v3.19 .. v5.19 (7a3ef208e662 "mm: prevent endless growth of anon_vma
/// hierarchy"; replaced by 2555283eb40d): the reuse rule reads `degree`, which counts child
/// anon_vmas and VMAs together — `anon_vma != src->anon_vma && anon_vma->degree < 2` — then
/// `degree++` of the one chosen. An anon_vma left as a leaf by an earlier reuse still has a
/// VMA using it but a degree of 1, and is reused a second time (CVE-2022-42703).
pub fn anon_vma_clone_v5_19(w: &World, dst: VmaId, src: VmaId) -> Result<(), Error> {
    let dvma = w.vmas.get(dst);
    let svma = w.vmas.get(src);
    let src_av = svma.anon_vma();
    let mut root: Option<AnonVmaWriteLocked<'_>> = None;
    for av_id in svma.chain().into_iter().rev() {
        let locked = lock_anon_vma_root(w, root.take(), av_id);
        anon_vma_chain_link(w, &locked, dst, av_id);
        let t = w.anon_vmas.get(av_id).tree(&locked);
        if dvma.anon_vma().is_none() && Some(av_id) != src_av && t.degree < 2 {
            dvma.set_anon_vma(Some(av_id));
            w.trace("anon_vma_clone: reuse", dst, av_id);
        }
        root = Some(locked);
    }
    if let (Some(av), Some(locked)) = (dvma.anon_vma(), root.as_ref()) {
        w.anon_vmas.get(av).update(locked, |t| t.degree += 1);
    }
    drop(root);
    w.trace("anon_vma_clone", dst, src);
    Ok(())
}

/// `dup_anon_vma(dst, src)` (mm/mmap.c, 6.4+; the same lines sat in `__vma_adjust` before
/// 6.3): when `vma_merge` grows `dst` over a neighbour `src` that has an anon_vma and `dst`
/// has none, give `dst` that anon_vma and `src`'s chain ("Easily overlooked: when mprotect
/// shifts the boundary, make sure the expanding vma has anon_vma set if the shrinking vma
/// had, to cover any anon pages imported"). Under `mmap_lock` held for write.
///
/// d8ab9f7b644a ("mm: lock VMA in dup_anon_vma() before setting ->anon_vma", v6.5-rc,
/// stable 6.4.8): `vma_start_write(dst)` first, so that no page fault under the per-VMA lock
/// alone runs on `dst` from the moment it has an anon_vma that its chain does not link yet —
/// nor keeps it once a failed `anon_vma_clone` takes it back. (Later in 2023 Suren Baghdasaryan's "mm:
/// move vma locking out of vma_prepare and dup_anon_vma" moved the lock to `vma_merge`'s
/// callers and left `vma_assert_write_locked(dst)` here: the same exclusion.)
pub fn dup_anon_vma(
    w: &World,
    map: &RwSemWriteGuard<'_, MmMap>,
    dst: VmaId,
    src: VmaId,
) -> Result<(), Error> {
    let (dvma, svma) = (w.vmas.get(dst), w.vmas.get(src));
    if let (Some(av), None) = (svma.anon_vma(), dvma.anon_vma()) {
        vma_start_write(w, map, dst);
        dvma.set_anon_vma(Some(av));
        return (w.kernel.anon_vma.anon_vma_clone)(w, dst, src);
    }
    Ok(())
}

/// `dup_anon_vma` of v6.4 (5e31275cc997 .. d8ab9f7b644a): `dst->anon_vma` is set while `dst`
/// is not write-locked — `vma_prepare` locks it only after this returns, and not at all if
/// `anon_vma_clone` fails and `vma_merge` gives up. [`dup_anon_vma`] less its
/// `vma_start_write(dst)`.
pub fn dup_anon_vma_v6_4(
    w: &World,
    _map: &RwSemWriteGuard<'_, MmMap>,
    dst: VmaId,
    src: VmaId,
) -> Result<(), Error> {
    let (dvma, svma) = (w.vmas.get(dst), w.vmas.get(src));
    if let (Some(av), None) = (svma.anon_vma(), dvma.anon_vma()) {
        dvma.set_anon_vma(Some(av));
        return (w.kernel.anon_vma.anon_vma_clone)(w, dst, src);
    }
    Ok(())
}

/// `anon_vma_fork(vma, pvma)`: the child VMA `vma` gets the parent VMA's chain
/// (`anon_vma_clone`, through the table) and, unless an anon_vma was reused, a new anon_vma
/// with `root = pvma->anon_vma->root`, `parent = pvma->anon_vma`, a reference on the root
/// (`get_anon_vma(anon_vma->root)`), linked under the root's rwsem, counted in its parent
/// (`num_children++`; `degree++` before 6.0).
pub fn anon_vma_fork(w: &World, vma: VmaId, pvma: VmaId) -> Result<(), Error> {
    let Some(pav) = w.vmas.get(pvma).anon_vma() else {
        return Ok(());
    };
    let v = w.vmas.get(vma);
    v.set_anon_vma(None);
    (w.kernel.anon_vma.anon_vma_clone)(w, vma, pvma)?;
    if v.anon_vma().is_some() {
        // An existing anon_vma has been reused, all done then.
        return Ok(());
    }
    let av_id = anon_vma_alloc(w)?;
    let av = w.anon_vmas.get(av_id);
    let counters = w.kernel.anon_vma.counters;
    if counters == AnonVmaCounters::ChildrenAndActiveVmas {
        av.update_unpublished(|t| t.num_active_vmas += 1);
    }
    let root = w.anon_vmas.get(pav).root();
    av.root.store(root.pack(), Ordering::SeqCst);
    av.parent.store(pav.pack(), Ordering::SeqCst);
    // get_anon_vma(anon_vma->root)
    w.anon_vmas
        .get(root)
        .refcount
        .fetch_add(1, Ordering::SeqCst);
    v.set_anon_vma(Some(av_id));
    let locked = anon_vma_lock_write(w, av_id);
    anon_vma_chain_link(w, &locked, vma, av_id);
    w.anon_vmas.get(pav).update(&locked, |t| match counters {
        AnonVmaCounters::ChildrenAndActiveVmas => t.num_children += 1,
        AnonVmaCounters::Degree => t.degree += 1,
    });
    drop(locked);
    w.trace(
        "anon_vma_fork",
        vma,
        format_args!("{av_id} parent {pav} root {root}"),
    );
    Ok(())
}

/// `unlink_anon_vmas(vma)`: under the root's rwsem held for write, take the VMA out of the tree
/// of every anon_vma of its chain; an anon_vma whose tree empties is uncounted in its parent
/// (`num_children--`; `degree--` before 6.0) and left on the chain; the VMA's own anon_vma
/// loses an active VMA (`num_active_vmas--`; `degree--`). After `unlock_anon_vma_root`, the
/// emptied anon_vmas are put (`put_anon_vma`), which may free them.
pub fn unlink_anon_vmas(w: &World, vma_id: VmaId) {
    let vma = w.vmas.get(vma_id);
    let chain = vma.chain();
    if chain.is_empty() {
        return;
    }
    let counters = w.kernel.anon_vma.counters;
    let mut emptied = Vec::new();
    let mut root: Option<AnonVmaWriteLocked<'_>> = None;
    for av_id in chain {
        let locked = lock_anon_vma_root(w, root.take(), av_id);
        let av = w.anon_vmas.get(av_id);
        let empty = av.update(&locked, |t| {
            t.vmas.retain(|&v| v != vma_id);
            t.vmas.is_empty()
        });
        w.trace("unlink_anon_vmas", vma_id, av_id);
        if empty {
            // `anon_vma->parent->num_children--` (the root is its own parent)
            w.anon_vmas
                .get(av.parent())
                .update(&locked, |t| match counters {
                    AnonVmaCounters::ChildrenAndActiveVmas => t.num_children -= 1,
                    AnonVmaCounters::Degree => t.degree -= 1,
                });
            emptied.push(av_id);
        } else {
            vma.chain_unlink(av_id);
        }
        root = Some(locked);
    }
    if let (Some(av), Some(locked)) = (vma.anon_vma(), root.as_ref()) {
        w.anon_vmas.get(av).update(locked, |t| match counters {
            AnonVmaCounters::ChildrenAndActiveVmas => t.num_active_vmas -= 1,
            AnonVmaCounters::Degree => t.degree -= 1,
        });
    }
    drop(root);
    // Iterate the list once more: it now only holds empty, unlinked anon_vmas; destroy them.
    for av_id in emptied {
        vma.chain_unlink(av_id);
        put_anon_vma(w, av_id);
    }
}

/// `put_anon_vma`: drop a reference; the last one runs `__put_anon_vma` (through the table).
pub fn put_anon_vma(w: &World, av_id: AnonVmaId) {
    let av = w.anon_vmas.get(av_id);
    if av.refcount.fetch_sub(1, Ordering::SeqCst) == 1 {
        (w.kernel.anon_vma.__put_anon_vma)(w, av_id);
    }
}

/// `__put_anon_vma` (v3.16+, 624483f3ea82 "mm: rmap: fix use-after-free in __put_anon_vma"):
/// free the anon_vma first — `anon_vma_free` reads `anon_vma->root->rwsem`, and the child's
/// reference keeps the root alive until then — and only then drop the child's reference on
/// the root, freeing it if that was the last.
pub fn __put_anon_vma(w: &World, av_id: AnonVmaId) {
    let root = w.anon_vmas.get(av_id).root();
    anon_vma_free(w, av_id);
    if root != av_id
        && w.anon_vmas
            .get(root)
            .refcount
            .fetch_sub(1, Ordering::SeqCst)
            == 1
    {
        anon_vma_free(w, root);
    }
}

/// `__put_anon_vma` before 624483f3ea82 (v3.15 and older): the root's reference is dropped —
/// and the root freed, if it was the last — *before* the anon_vma itself is freed; the
/// anon_vma's `anon_vma_free` then reads `anon_vma->root->rwsem` in freed memory.
pub fn __put_anon_vma_v3_15(w: &World, av_id: AnonVmaId) {
    let root = w.anon_vmas.get(av_id).root();
    if root != av_id
        && w.anon_vmas
            .get(root)
            .refcount
            .fetch_sub(1, Ordering::SeqCst)
            == 1
    {
        anon_vma_free(w, root);
    }
    anon_vma_free(w, av_id);
}

/// `anon_vma_free`: if the root's rwsem looks locked, take and release it for write first
/// (`anon_vma_lock_write` / `anon_vma_unlock_write`), so that a reader that got in through
/// `folio_lock_anon_vma_read`'s trylock is not left holding a lock inside freed memory
/// (mm/rmap.c's two-column comment):
///
/// ```text
/// page_lock_anon_vma_read()          VS      put_anon_vma()
///   down_read_trylock()                        atomic_dec_and_test()
///   LOCK                                       MB
///   atomic_read()                              rwsem_is_locked()
/// ```
///
/// It reads `anon_vma->root`: a root freed before its child is a use-after-free here, which
/// the arena reports ([`crate::check::Oracle::StaleId`], as KASAN reported it in 2014).
pub fn anon_vma_free(w: &World, av_id: AnonVmaId) {
    // As mm/rmap.c's anon_vma_free: it may take the rwsem for write, so it may sleep, whether
    // or not it does this time — lockdep checks every caller's context, not just the unlucky.
    might_sleep("anon_vma_free");
    let av = w.anon_vmas.get(av_id);
    let root = w.anon_vmas.get(av.root());
    if root.rwsem.is_locked() {
        drop(root.rwsem.write());
    }
    w.trace("anon_vma_free", av_id, "");
    w.anon_vmas.free(av_id);
}

/// `dup_anon_vma(dst, src)` under the caller's `mmap_lock` held for write (the guard).
pub type DupAnonVmaFn =
    for<'a, 'b> fn(&World, &'a RwSemWriteGuard<'b, MmMap>, VmaId, VmaId) -> Result<(), Error>;

/// This file's entries of the kernel function table ([`crate::kernel::Kernel`]): the anon_vma
/// family's links and frees. Its `Default`, the modern kernel, is in [`crate::kernel`].
#[derive(Debug, Clone, Copy)]
pub struct AnonVmaOps {
    /// The counters the era keeps (must match the entries below: the `_v5_19` clone keeps
    /// `degree`).
    pub counters: AnonVmaCounters,
    /// `anon_vma_clone`. Default [`anon_vma_clone`]; alternative [`anon_vma_clone_v5_19`]
    /// (the `degree` reuse rule, with [`AnonVmaCounters::Degree`]).
    pub anon_vma_clone: fn(&World, VmaId, VmaId) -> Result<(), Error>,
    /// `anon_vma_fork`. Default [`anon_vma_fork`].
    pub anon_vma_fork: fn(&World, VmaId, VmaId) -> Result<(), Error>,
    /// `__put_anon_vma`. Default [`__put_anon_vma`]; alternative [`__put_anon_vma_v3_15`]
    /// (root freed before the child, before 624483f3ea82).
    pub __put_anon_vma: fn(&World, AnonVmaId),
    /// `dup_anon_vma` (a merge's import of a neighbour's anon_vma). Default [`dup_anon_vma`]
    /// (d8ab9f7b644a: `dst` write-locked first); alternative [`dup_anon_vma_v6_4`].
    pub dup_anon_vma: DupAnonVmaFn,
}

impl AnonVmaOps {
    /// v3.19 .. v5.19: the `degree` counter and its reuse rule (before 2555283eb40d).
    pub fn v5_19() -> Self {
        AnonVmaOps {
            counters: AnonVmaCounters::Degree,
            anon_vma_clone: anon_vma_clone_v5_19,
            anon_vma_fork,
            __put_anon_vma,
            dup_anon_vma,
        }
    }
}
