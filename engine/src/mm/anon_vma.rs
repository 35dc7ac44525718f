//! `struct anon_vma` (include/linux/rmap.h): the rmap of anonymous pages, in trees.
//!
//! Since 5beb49305251 ("mm: change anon_vma linking to fix multi-process server scalability
//! issue", 2.6.34) the anon_vmas of a process tree form a family: fork gives each child VMA a
//! new anon_vma whose `parent` is the parent VMA's anon_vma and whose `root` is the family's
//! root, and links the child VMA (through an `anon_vma_chain`, AVC) into every anon_vma of the
//! parent VMA's chain. A page points at the anon_vma of the VMA it was first mapped in; its
//! rmap walk visits that anon_vma's AVC tree, which holds every VMA that may map it (the VMAs
//! of the processes forked after the page was created).
//!
//! One rwsem serves the family: every anon_vma has an `rwsem`, but only the root's is ever
//! taken (`anon_vma_lock_write(anon_vma)` is `down_write(&anon_vma->root->rwsem)`), and it
//! protects the AVC tree and the counters of *every* anon_vma of the family. The model keeps
//! each anon_vma's tree in its own cell ([`AnonVma::tree`]), reachable only with a proof that
//! the root's rwsem is held ([`RootHeld`]); the proof is checked against `anon_vma->root` on
//! every access (the kernel's `lockdep_assert_held` would be the equivalent check).
//!
//! Slots are recycled as `SLAB_TYPESAFE_BY_RCU` memory is: a reader holding a stale pointer
//! from `page->mapping` may find a different anon_vma in the slot — with a different `root` —
//! and must re-validate with `page_mapped()` (`folio_lock_anon_vma_read` in mm/rmap.c). That is
//! why `root` is a modelled atomic: the lookup reads it racily.

use super::arena::Id;
use super::vma::VmaId;
use crate::sync::{AtomicI32, AtomicU64, LockClass, ObserverMutex, Ordering, RwSem};

pub use super::ids::{AnonVmaId, AnonVmaKind};

/// What the root's rwsem protects in one anon_vma: its AVC tree (`anon_vma->rb_root`) and the
/// counters of the era (include/linux/rmap.h).
#[derive(Debug, Default, Clone)]
pub struct AnonVmaTree {
    /// The VMAs linked to this anon_vma through an AVC (`anon_vma->rb_root`; an interval tree
    /// in the kernel, a set here).
    pub vmas: Vec<VmaId>,
    /// `anon_vma->degree` (v3.19 7a3ef208e662 .. v6.0): child anon_vmas plus VMAs that use this
    /// anon_vma as their `->anon_vma`. Kept by the `*_v6_0` entries only.
    pub degree: i32,
    /// `anon_vma->num_children` (6.1+, 2555283eb40d): child anon_vmas (and the root's
    /// self-parent link).
    pub num_children: i32,
    /// `anon_vma->num_active_vmas` (6.1+, 2555283eb40d): VMAs whose `->anon_vma` is this one.
    pub num_active_vmas: i32,
}

/// A proof that the rwsem of the root `root()` is held (for read, or for write when
/// `write()`): what reads and changes of an anon_vma's [`AnonVmaTree`] require.
pub trait RootHeld {
    /// The root whose rwsem is held.
    fn root(&self) -> AnonVmaId;
    /// Held for write?
    fn write(&self) -> bool;
}

/// An anon_vma.
#[derive(Debug)]
pub struct AnonVma {
    /// `anon_vma->root`, packed id. Set by `anon_vma_alloc` (itself) or `anon_vma_fork` (the
    /// parent's root) before the anon_vma is published, never changed while it lives; read
    /// racily through stale `page->mapping` pointers (`folio_lock_anon_vma_read`), which may
    /// find the slot reused with another root.
    /// Protected by: nothing (written before publication; readers re-validate).
    pub root: AtomicU64,
    /// `anon_vma->parent`, packed id: the anon_vma this one was forked from (itself for a
    /// root). Written before publication.
    /// Protected by: nothing (written before publication, read under the root's rwsem).
    pub parent: AtomicU64,
    /// `anon_vma->rwsem`: only a root's is taken (see the module docs).
    /// Protected by: itself.
    pub rwsem: RwSem<()>,
    /// `anon_vma->refcount`: 1 from `anon_vma_alloc` (dropped when the tree empties), 1 per
    /// child anon_vma on the root (`get_anon_vma(anon_vma->root)` in `anon_vma_fork`), plus
    /// pins (`folio_get_anon_vma`, the trylock fallback of `folio_lock_anon_vma_read`).
    pub refcount: AtomicI32,
    /// The AVC tree and the counters.
    /// Protected by: the root's rwsem (`anon_vma->root->rwsem`): read for rmap walks, write
    /// to change. Observer cell: the rwsem, not the cell, orders its readers and writers.
    tree: ObserverMutex<AnonVmaTree>,
}

impl AnonVma {
    pub(crate) fn new() -> Self {
        AnonVma {
            root: AtomicU64::new(0),
            parent: AtomicU64::new(0),
            rwsem: RwSem::new(LockClass::AnonVmaRwsem, ()),
            refcount: AtomicI32::new(0),
            tree: ObserverMutex::new(AnonVmaTree::default()),
        }
    }

    /// `anon_vma->root` (a racy read for a reader that found the slot through a stale
    /// pointer; exact for a live anon_vma).
    pub fn root(&self) -> AnonVmaId {
        Id::unpack(self.root.load(Ordering::SeqCst))
    }

    /// `anon_vma->parent`.
    pub fn parent(&self) -> AnonVmaId {
        Id::unpack(self.parent.load(Ordering::SeqCst))
    }

    /// Set up a freshly allocated anon_vma (`anon_vma_alloc`, and `anon_vma_fork`'s `root` /
    /// `parent`): before publication, so nothing else can see it.
    pub(crate) fn init(&self, root: AnonVmaId, parent: AnonVmaId, tree: AnonVmaTree) {
        self.root.store(root.pack(), Ordering::SeqCst);
        self.parent.store(parent.pack(), Ordering::SeqCst);
        self.refcount.store(1, Ordering::SeqCst);
        *self.tree.lock() = tree;
    }

    /// A copy of the tree and counters, under the root's rwsem (`held`).
    #[track_caller]
    pub fn tree(&self, held: &dyn RootHeld) -> AnonVmaTree {
        self.check_held(held, false);
        self.tree.lock().clone()
    }

    /// The VMAs of the tree, under the root's rwsem (`held`).
    #[track_caller]
    pub fn vmas(&self, held: &dyn RootHeld) -> Vec<VmaId> {
        self.check_held(held, false);
        self.tree.lock().vmas.clone()
    }

    /// Change the tree or counters under the root's rwsem held for write (`held`).
    #[track_caller]
    pub fn update<R>(&self, held: &dyn RootHeld, f: impl FnOnce(&mut AnonVmaTree) -> R) -> R {
        self.check_held(held, true);
        f(&mut self.tree.lock())
    }

    /// Change the counters of an anon_vma not yet published (`anon_vma_alloc` to the link
    /// that makes it reachable): no lock needed, nothing else can see it.
    pub fn update_unpublished<R>(&self, f: impl FnOnce(&mut AnonVmaTree) -> R) -> R {
        f(&mut self.tree.lock())
    }

    /// A copy of the tree for an observer at quiescence (no actor runs): the oracles'
    /// snapshot, never a kernel path's read.
    pub fn quiescent_tree(&self) -> AnonVmaTree {
        self.tree.lock().clone()
    }

    /// The tree is the family's: the lock held must be this anon_vma's root's
    /// (`lockdep_assert_held(&anon_vma->root->rwsem)`).
    #[track_caller]
    fn check_held(&self, held: &dyn RootHeld, write: bool) {
        let root = self.root();
        if held.root() != root || (write && !held.write()) {
            crate::report::violation(
                crate::report::Oracle::I15Lockdep,
                format!(
                    "anon_vma tree accessed under the rwsem of {} ({}) but its root is {root}",
                    held.root(),
                    if held.write() { "write" } else { "read" },
                ),
            );
        }
    }
}
