//! The catalog: one file per scenario, each a sourced story of one real race (or workload).

mod common;
pub mod hugetlb_lock_order;
pub mod hugetlb_pmd_share;
pub mod mixed;
pub mod notifier_range;
pub mod ttu_sync;

use crate::scenario::Scenario;

/// Every scenario, in the order `mmlab list` prints them.
pub fn all() -> Vec<&'static dyn Scenario> {
    vec![
        &ttu_sync::TtuSync,
        &hugetlb_lock_order::HugetlbLockOrder,
        &hugetlb_pmd_share::HugetlbPmdShare,
        &notifier_range::NotifierRange,
        &mixed::Mixed,
    ]
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    all().into_iter().find(|s| s.name() == name)
}
