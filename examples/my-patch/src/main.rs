//! The whole `mmlab` command — list, explain, run, contention — over the catalog and this
//! crate's scenarios: `cargo run --release -p my-patch -- run sva-flush --variant all`.
//!
//! PATCH: the other half of this example — a one-line patch of a kernel function (a zap
//! entry of the kernel function table) tried against the whole catalog — goes here once the
//! table has that entry.

mmlab_scenarios::main!(my_patch::sva_flush::SvaFlush);
