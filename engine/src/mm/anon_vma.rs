//! `struct anon_vma`: the rmap of anonymous pages.
//!
//! Simplification: fork is not modelled, so every anon_vma is the root of its own tree and its
//! `rb_root` (the AVCs of the VMAs using it) sits under its own rwsem — which is the root's
//! rwsem, as in the kernel. `root` is kept because `page_lock_anon_vma_read` must read
//! `anon_vma->root` racily, as the kernel does.
//!
//! Slots are recycled as `SLAB_TYPESAFE_BY_RCU` memory is: a reader holding a stale pointer
//! from `page->mapping` may find a different anon_vma in the slot, and must re-validate with
//! `page_mapped()` (`page_lock_anon_vma_read` in mm/rmap.c).

use super::arena::Id;
use super::vma::VmaId;
use crate::sync::{AtomicI32, Frozen, LockClass, RwSem};

pub use super::ids::{AnonVmaId, AnonVmaKind};

/// The AVC interval tree of an anon_vma (a set of VMAs here).
#[derive(Debug, Default)]
pub struct AnonVmaTree {
    /// The VMAs linked to this anon_vma (`anon_vma->rb_root`).
    pub vmas: Vec<VmaId>,
}

/// An anon_vma.
#[derive(Debug)]
pub struct AnonVma {
    /// `anon_vma->root` (itself: fork is not modelled).
    pub root: Frozen<AnonVmaId>,
    /// `anon_vma->root->rwsem`, with the tree it protects.
    /// Protected by: itself (write: anon_vma_prepare, unlink_anon_vmas; read: rmap walks).
    pub rwsem: RwSem<AnonVmaTree>,
    /// `anon_vma->refcount`: one per VMA linked (`degree`, folded in), plus pins
    /// (`page_get_anon_vma`, the trylock fallback of `page_lock_anon_vma_read`).
    pub refcount: AtomicI32,
}

impl AnonVma {
    pub(crate) fn new() -> Self {
        AnonVma {
            root: Frozen::new(Id::new(0, 0)),
            rwsem: RwSem::new(LockClass::AnonVmaRwsem, AnonVmaTree::default()),
            refcount: AtomicI32::new(0),
        }
    }
}
