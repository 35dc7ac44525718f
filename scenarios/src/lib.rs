//! mmlab-scenarios: the catalog of races and the stress runner.

pub mod catalog;
pub mod scenario;
