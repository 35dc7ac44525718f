# The commands people type (https://github.com/casey/just). Each recipe is plain cargo: read it
# and type it if just is not installed.

# The main job: the stress run of every scenario (`mmlab` = `mmlab run all`, short budget).
run:
    cargo run --release

# The README's test command: the unit and real-thread tests, then the loom suite.
test: unit loom

# Unit and real-thread tests of every crate.
unit:
    cargo test --workspace

# The loom suite: its own target dir (RUSTFLAGS changes rebuild everything), release builds.
loom:
    RUSTFLAGS="--cfg mmlab_loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=2 cargo test --release -p mmlab-loom-tests -p my-patch

# The catalog (and examples/my-patch's scenario) on the kernel patched by examples/my-patch.
patched:
    cd examples/my-patch && cargo run --release --bin patched -- run all --duration 30s

# A longer stress run of every scenario.
stress:
    cargo run --release -- run all --duration 60s

# The criterion benchmarks (docs/PERFORMANCE.md says how to read them).
bench:
    cargo bench -p mmlab-benches

# Formatting, and clippy with warnings denied, in real mode and under the loom cfg.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTFLAGS="--cfg mmlab_loom" CARGO_TARGET_DIR=target/loom cargo clippy -p mmlab-engine -p mmlab-loom-tests -p my-patch --all-targets -- -D warnings

# What CI runs: the README's test command, from the repository's root.
ci:
    bash .ci/run

# Regenerate docs/RESULTS.md: time to first violation with and without injection, a 10-minute
# clean run, mixed throughput (about half an hour).
results:
    cargo run --release -p mmlab-scenarios --example results -- --runs 10 --cap 10s --clean 600s --mixed 20s > docs/RESULTS.md.new && mv docs/RESULTS.md.new docs/RESULTS.md

# lock_stat for the munlock-exit story (v5.18's munlock rework), both munlock schemes, with the
# wait-time picture.
contention:
    cargo run --release -- contention munlock-exit --variant all --duration 5s --svg docs/img/munlock-exit-contention.svg

# Regenerate docs/LOOM.md: every loom test's bound, executions, wall time and result, and the
# counterexample a failing test prints.
loom-report:
    loom-tests/report.sh
