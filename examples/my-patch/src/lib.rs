//! A kernel developer's crate, written with nothing but the public API: a one-line patch of a
//! kernel function (`zap_patch`) tried against the whole catalog, and a historical race written
//! as a new scenario (`sva_flush`). `src/main.rs` adds the scenario to the `mmlab` command,
//! `src/bin/patched.rs` runs that command on the patched kernel; `tests/` explores both under
//! loom.

pub mod sva_flush;
pub mod zap_patch;
