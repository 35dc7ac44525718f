//! `mmlab`: the command line of the lab (docs/RUNNER.md; the command is `mmlab_scenarios::cli`).

mmlab_scenarios::main!();
