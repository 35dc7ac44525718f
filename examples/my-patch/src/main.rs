//! The whole `mmlab` command — list, explain, run, contention — over the catalog and this
//! crate's scenarios: `cargo run --release -p my-patch -- run sva-flush --variant all`.
//! `src/bin/patched.rs` is the same command on the kernel patched by `zap_patch`.

mmlab_scenarios::main!(my_patch::sva_flush::SvaFlush);
