//! mmlab-engine: a lock-accurate model of the Linux kernel's mm locking.
#![doc = include_str!("../README.md")]

pub mod check;
pub mod sync;
