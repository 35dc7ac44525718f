//! The whole command, every world running the kernel patched by `my_patch::zap_patch`:
//! `cargo run --release -p my-patch --bin patched -- run all`.

mmlab_scenarios::main!(patch = my_patch::zap_patch::PATCH; my_patch::sva_flush::SvaFlush);
