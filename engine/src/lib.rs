//! mmlab-engine: a lock-accurate model of the Linux kernel's mm locking.
#![doc = include_str!("../README.md")]

pub mod actor;
pub mod check;
pub mod kernel;
pub mod mm;
pub mod ops;
pub mod race;
pub mod report;
pub mod sync;
pub mod trace;
