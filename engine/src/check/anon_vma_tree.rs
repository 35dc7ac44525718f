//! I17, the anon_vma tree oracle (docs/MODEL.md §3), checked at quiescence over the whole
//! world:
//!
//! 1. every live anon_vma's root is live — a root outlives its children (`__put_anon_vma`
//!    frees the child first, 624483f3ea82);
//! 2. the two sides of every AVC agree: an anon_vma on a VMA's chain has the VMA in its tree,
//!    a VMA in an anon_vma's tree has the anon_vma on its chain, both live, and a VMA's own
//!    `->anon_vma` is on its chain;
//! 3. every mapped anonymous page's anon_vma is live and on the chain of every VMA that maps
//!    it — which puts that VMA in the tree an rmap walk of the page reads (the tree side
//!    alone is I16's; the chain side is what `unlink_anon_vmas` tears down, and
//!    `vma_merge` trusts when it compares `->anon_vma`s: 2555283eb40d);
//! 4. the era's counters match the trees ([`AnonVmaCounters`]): `num_active_vmas` counts the
//!    VMAs whose `->anon_vma` it is, `num_children` the anon_vmas with a non-empty tree whose
//!    `parent` it is (a root is its own parent); `degree` before 6.0 is their sum.
//!
//! Where the kernel would crash rather than go on (a freed anon_vma read by
//! `anon_vma_free` or an rmap walk), the arena's use-after-free report ([`Oracle::StaleId`])
//! or I9 fires first, at the read; this oracle judges what a run leaves behind.

use super::{Oracle, violation};
use crate::mm::pte::Pte;
use crate::mm::{AnonVmaId, Mapping, World};
use crate::ops::anon_vma::AnonVmaCounters;

/// Check I17 over `w` (no actor may be running).
pub fn check_anon_vma_trees(w: &World) {
    let avs = w.anon_vmas.live();
    let vmas = w.vmas.live();
    let tree = |av: AnonVmaId| w.anon_vmas.get(av).quiescent_tree();
    for &av in &avs {
        let a = w.anon_vmas.get(av);
        let root = a.root();
        if !w.anon_vmas.is_live(root) {
            violation(
                Oracle::I17AnonVmaTree,
                format!("{av} is live but its root {root} was freed"),
            );
        }
        for v in tree(av).vmas {
            if !w.vmas.is_live(v) {
                violation(
                    Oracle::I17AnonVmaTree,
                    format!("{av}'s tree holds {v}, which was freed"),
                );
            } else if !w.vmas.get(v).chain().contains(&av) {
                violation(
                    Oracle::I17AnonVmaTree,
                    format!("{av}'s tree holds {v} but {av} is not on {v}'s anon_vma_chain"),
                );
            }
        }
    }
    for &v in &vmas {
        let vma = w.vmas.get(v);
        let chain = vma.chain();
        for &av in &chain {
            if !w.anon_vmas.is_live(av) {
                violation(
                    Oracle::I17AnonVmaTree,
                    format!("{v}'s anon_vma_chain links {av}, which was freed"),
                );
            } else if !tree(av).vmas.contains(&v) {
                violation(
                    Oracle::I17AnonVmaTree,
                    format!("{v}'s anon_vma_chain links {av} but {v} is not in its tree"),
                );
            }
        }
        if let Some(av) = vma.anon_vma()
            && !chain.contains(&av)
        {
            violation(
                Oracle::I17AnonVmaTree,
                format!("{v}'s anon_vma {av} is not on its anon_vma_chain"),
            );
        }
        let info = vma.info.get();
        for va in info.start..info.end {
            let Some(Pte::Present { pfn, .. }) = w.pte_at(info.mm, va) else {
                continue;
            };
            let Mapping::Anon(av) = w.page(pfn).mapping() else {
                continue;
            };
            if !w.anon_vmas.is_live(av) {
                violation(
                    Oracle::I17AnonVmaTree,
                    format!("{pfn} is mapped by {v} but its {av} was freed"),
                );
            } else if !chain.contains(&av) {
                violation(
                    Oracle::I17AnonVmaTree,
                    format!("{pfn} is mapped by {v} but its {av} is not on {v}'s anon_vma_chain"),
                );
            }
        }
    }
    for &av in &avs {
        let active = vmas
            .iter()
            .filter(|&&v| w.vmas.get(v).anon_vma() == Some(av))
            .count() as i32;
        let children = avs
            .iter()
            .filter(|&&c| w.anon_vmas.get(c).parent() == av && !tree(c).vmas.is_empty())
            .count() as i32;
        let t = tree(av);
        let (ok, kept) = match w.kernel.anon_vma.counters {
            AnonVmaCounters::ChildrenAndActiveVmas => (
                t.num_active_vmas == active && t.num_children == children,
                format!(
                    "num_active_vmas {} num_children {}",
                    t.num_active_vmas, t.num_children
                ),
            ),
            AnonVmaCounters::Degree => (
                t.degree == active + children,
                format!("degree {}", t.degree),
            ),
        };
        if !ok {
            violation(
                Oracle::I17AnonVmaTree,
                format!("{av}: {kept}, but {active} VMAs use it and it has {children} children"),
            );
        }
    }
}
