//! A scenario written outside the catalog, with nothing but the public API: the engine's
//! kernel paths, the scenario kit (`mmlab_scenarios::kit`) and the `Scenario` trait.
//! `src/main.rs` adds it to the `mmlab` command; `tests/` explores it under loom.

pub mod sva_flush;
