//! The `mmlab` command, for the catalog's own binary and for a crate of your own.
//!
//! ```text
//! mmlab                      # = mmlab run all, on the default budget: the main job
//! mmlab list [--json]        # scenarios, variants, expectations, commits
//! mmlab explain SCENARIO     # the story: paths, locks, interleaving, oracle, commit
//! mmlab run [SCENARIO|all] [--variant V|all] [--duration 5s | --iterations N] [--threads N]
//!           [--seed S] [--no-inject] [--shard K/N] [--json FILE]
//! mmlab contention SCENARIO [--variant V|all] [--duration D] [--threads N] [--seed S]
//!                  [--inject] [--json FILE] [--svg FILE]
//! ```
//!
//! Exit status: 0 every verdict as expected, 1 something MISSED or UNEXPECTED, 2 bad usage
//! (nothing run, nothing written; a misspelt scenario or variant lists the valid names), 130
//! stopped by Ctrl-C (results so far printed and written).
//!
//! # In a crate of your own
//!
//! ```ignore
//! // src/main.rs: the whole command, with your scenarios after the catalog's.
//! mod my_race;
//! mmlab_scenarios::main!(my_race::MyRace);
//! ```
//!
//! [`main!`](crate::main) adds the scenarios it is given to the catalog ([`main`]); to run
//! yours *instead of* the catalog, call [`main_with`]. Either way every command it prints —
//! the replay of a failing seed, `explain`'s "run it" line — names your package and binary
//! ([`Program`]), so that it works when pasted. This module only parses and dispatches: the
//! work, and everything worth testing, is in `crate::stress`. Under `--cfg mmlab_loom` the
//! command is a stub that says so and exits 2.

use crate::scenario::AnyScenario;
use std::process::ExitCode;

/// The program a command runs as: what the commands it prints invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The Cargo package (`env!("CARGO_PKG_NAME")`).
    pub package: &'static str,
    /// The binary target (`env!("CARGO_BIN_NAME")`).
    pub bin: &'static str,
}

impl Program {
    /// The catalog's own command: `mmlab`, of the `mmlab-scenarios` package.
    pub const MMLAB: Program = Program {
        package: "mmlab-scenarios",
        bin: "mmlab",
    };

    /// What runs it from anywhere in its workspace: `cargo run --release -p PACKAGE
    /// [--bin BIN] --`, ready for the subcommand.
    pub fn invocation(&self) -> String {
        if self.bin == self.package {
            format!("cargo run --release -p {} --", self.package)
        } else {
            format!(
                "cargo run --release -p {} --bin {} --",
                self.package, self.bin
            )
        }
    }
}

impl Default for Program {
    fn default() -> Self {
        Program::MMLAB
    }
}

/// The whole command, in a binary's `main`: `mmlab_scenarios::main!(MyRace, MyOtherRace);`
/// runs the catalog followed by the scenarios named (none: the catalog alone, as `mmlab`
/// does), and names the calling package and binary in every command it prints.
///
/// `mmlab_scenarios::main!(patch = MY_PATCH; MyRace)` does the same with a kernel patch
/// ([`Patch`](crate::patch::Patch)) applied to every world: a binary of its own, so that the
/// replay commands it prints (`--bin`) run the patched kernel again.
#[macro_export]
macro_rules! main {
    (patch = $patch:expr; $($scenario:expr),* $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::cli::main_patched(
                $crate::cli::Program {
                    package: ::core::env!("CARGO_PKG_NAME"),
                    bin: ::core::env!("CARGO_BIN_NAME"),
                },
                $patch,
                &[$(&$scenario),*],
            )
        }
    };
    ($($scenario:expr),* $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::cli::main(
                $crate::cli::Program {
                    package: ::core::env!("CARGO_PKG_NAME"),
                    bin: ::core::env!("CARGO_BIN_NAME"),
                },
                &[$(&$scenario),*],
            )
        }
    };
}

/// The command over the catalog followed by `added` (scenarios of your own).
pub fn main(program: Program, added: &[&'static dyn AnyScenario]) -> ExitCode {
    let mut catalog = crate::catalog::all();
    catalog.extend_from_slice(added);
    main_with(program, catalog)
}

/// The command over the catalog followed by `added`, every world running `patch`. The patch is
/// announced on stderr (stdout stays the command's own, e.g. `list --json`).
pub fn main_patched(
    program: Program,
    patch: crate::patch::Patch,
    added: &[&'static dyn AnyScenario],
) -> ExitCode {
    if let Err(other) = crate::patch::apply(patch) {
        eprintln!(
            "{}: patch {} refused: {} is already applied",
            program.bin, patch.name, other.name
        );
        return ExitCode::from(2);
    }
    eprintln!("kernel patch {}: {}", patch.name, patch.summary);
    main(program, added)
}

/// The command over `scenarios` only, instead of the catalog.
pub fn main_with(program: Program, scenarios: Vec<&'static dyn AnyScenario>) -> ExitCode {
    #[cfg(not(mmlab_loom))]
    {
        ExitCode::from(command::main(program, scenarios))
    }
    // The command runs real threads; a loom build has none to offer.
    #[cfg(mmlab_loom)]
    {
        let _ = scenarios;
        eprintln!(
            "{}: this is a --cfg mmlab_loom build; the command runs on real threads only",
            program.bin
        );
        ExitCode::from(2)
    }
}

#[cfg(not(mmlab_loom))]
mod command {

    use super::Program;
    use crate::scenario::AnyScenario;
    use crate::stress::config::{self, Budget, RunConfig};
    use crate::stress::console::Console;
    use crate::stress::contention::{self, ContentionConfig};
    use crate::stress::contention_svg;
    use crate::stress::json_file::{self, JsonFile};
    use crate::stress::output_file::OutputFile;
    use crate::stress::progress::Progress;
    use crate::stress::{
        EXIT_OK, EXIT_USAGE, Pair, Shard, UsageError, listing, report, runner, seed, select,
    };
    use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
    use mmlab_engine::sync::wait::Aborted;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::Duration;

    /// A concurrency stress lab for the Linux kernel's mm locking.
    ///
    /// With no command, runs every scenario on the default budget (`mmlab run all`).
    #[derive(Debug, Parser)]
    #[command(name = "mmlab", version)]
    struct Cli {
        #[command(subcommand)]
        command: Option<Command>,
    }

    #[derive(Debug, Subcommand)]
    enum Command {
        /// List scenarios, their variants, expectations and commits.
        List {
            /// Print JSON: [{"name","title","commit","variants":[{"name","expected"}]}].
            #[arg(long)]
            json: bool,
        },
        /// Tell a scenario's story: paths, locks, interleaving, oracle, commit.
        Explain {
            /// The scenario.
            name: String,
        },
        /// Run scenarios on real threads and judge every variant (OK / MISSED / UNEXPECTED).
        Run(RunArgs),
        /// Measure lock contention of a scenario's variants, lock_stat style.
        Contention(ContentionArgs),
    }

    #[derive(Debug, Args, Default)]
    struct RunArgs {
        /// A scenario, or `all`.
        #[arg(value_name = "SCENARIO|all")]
        scenario: Option<String>,
        /// A variant, or `all` (default): with `all` scenarios, every scenario that has it.
        #[arg(long, value_name = "V|all")]
        variant: Option<String>,
        /// Wall-clock budget of the whole run, shared among the pairs (default: 5s a pair, at
        /// most 60s). Race variants stop at their first violation and hand back their time.
        #[arg(long, value_name = "D", value_parser = config::parse_duration, conflicts_with = "iterations")]
        duration: Option<Duration>,
        /// Iterations per pair instead of a duration.
        #[arg(long, value_name = "N", value_parser = config::parse_iterations)]
        iterations: Option<u64>,
        /// Actor threads for scenarios that scale (default: one per core).
        #[arg(long, value_name = "N", value_parser = config::parse_threads)]
        threads: Option<usize>,
        /// Run seed: iteration 0 of each pair runs it (default: random, printed).
        #[arg(long, value_name = "S", value_parser = config::parse_seed)]
        seed: Option<u64>,
        /// Do not stall threads at race windows.
        #[arg(long)]
        no_inject: bool,
        /// Run shard K of N (1-based) of the iteration space.
        #[arg(long, value_name = "K/N", value_parser = parse_shard)]
        shard: Option<Shard>,
        /// Write the results as JSON to FILE (whole, or not at all).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Which threads run iterations: `crew` (long-lived, the default) or `spawn` (new
        /// threads per iteration). Hidden: it exists to measure what the crew saves
        /// (docs/PERFORMANCE.md), and changes no seed, delay or verdict.
        #[arg(long, value_name = "crew|spawn", value_parser = config::parse_harness, hide = true)]
        harness: Option<config::HarnessKind>,
    }

    #[derive(Debug, Args)]
    struct ContentionArgs {
        /// The scenario.
        scenario: String,
        /// The variant, or `all` to measure each in turn (default: `fixed`, else the first).
        #[arg(long, value_name = "V|all")]
        variant: Option<String>,
        /// How long to measure (each variant, with `--variant all`).
        #[arg(long, value_name = "D", value_parser = config::parse_duration, default_value = "5s")]
        duration: Duration,
        /// Actor threads for scenarios that scale (default: one per core).
        #[arg(long, value_name = "N", value_parser = config::parse_threads)]
        threads: Option<usize>,
        /// Run seed (default: random, printed).
        #[arg(long, value_name = "S", value_parser = config::parse_seed)]
        seed: Option<u64>,
        /// Stall threads at race windows (off by default: stalls would count as hold time).
        #[arg(long)]
        inject: bool,
        /// Write the report as JSON to FILE (with `--variant all`: {"scenario", "seed",
        /// "variants": [one report each]}).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Draw the wait-time histograms per lock class as SVG to FILE (one panel per variant).
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    }

    fn parse_shard(s: &str) -> Result<Shard, UsageError> {
        s.parse()
    }

    pub(super) fn main(program: Program, catalog: Vec<&'static dyn AnyScenario>) -> u8 {
        // Named as the binary it runs in, in `--help` and usage errors alike.
        let matches = Cli::command()
            .name(program.bin)
            .bin_name(program.bin)
            .get_matches();
        let cli = match Cli::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        };
        quiet_scenario_panics();
        let result = match cli.command {
            None => run(program, &catalog, RunArgs::default()),
            Some(Command::Run(args)) => run(program, &catalog, args),
            Some(Command::List { json }) => list(&catalog, json),
            Some(Command::Explain { name }) => explain(program, &catalog, &name),
            Some(Command::Contention(args)) => contention(program, &catalog, args),
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{}: error: {e}", program.bin);
                EXIT_USAGE
            }
        }
    }

    /// Panics in scenario threads are something a stress run observes, not a crash: each is
    /// reported as a `[panic]` violation with its iteration's seed. Print the first one as Rust
    /// would (its location and backtrace are worth having), and not the thousand after it. The
    /// watchdog's `Aborted` unwinds are the engine working, never printed. A panic on the main
    /// thread is a bug in the command and is always printed.
    fn quiet_scenario_panics() {
        let default = std::panic::take_hook();
        let shown = AtomicBool::new(false);
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Aborted>().is_some() {
                return;
            }
            let on_main = std::thread::current().name() == Some("main");
            if on_main {
                default(info);
            } else if !shown.swap(true, Ordering::SeqCst) {
                default(info);
                eprintln!(
                    "mmlab: further panics in scenario threads are not printed here; \
                 each is reported as a [panic] violation"
                );
            }
        }));
    }

    /// First Ctrl-C: stop after the current iteration. Second: remove unfinished `--json`
    /// temporaries and exit 130 now.
    fn handle_ctrl_c(stop: Arc<AtomicBool>) {
        let presses = AtomicU32::new(0);
        let installed = ctrlc::set_handler(move || {
            if presses.fetch_add(1, Ordering::SeqCst) == 0 {
                stop.store(true, Ordering::SeqCst);
                eprintln!(
                    "\nmmlab: stopping after the current iteration (Ctrl-C again to quit now)"
                );
            } else {
                json_file::remove_pending();
                std::process::exit(i32::from(crate::stress::EXIT_INTERRUPTED));
            }
        });
        if let Err(e) = installed {
            eprintln!("mmlab: warning: Ctrl-C will not stop gracefully: {e}");
        }
    }

    fn print(text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn list(catalog: &[&'static dyn AnyScenario], json: bool) -> Result<u8, UsageError> {
        if json {
            let doc = listing::document(catalog);
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        } else {
            print(&listing::table(catalog));
        }
        Ok(EXIT_OK)
    }

    fn explain(
        program: Program,
        catalog: &[&'static dyn AnyScenario],
        name: &str,
    ) -> Result<u8, UsageError> {
        let s = select::find_scenario(catalog, name)?;
        print(&listing::explain(s, &program));
        Ok(EXIT_OK)
    }

    fn run(
        program: Program,
        catalog: &[&'static dyn AnyScenario],
        args: RunArgs,
    ) -> Result<u8, UsageError> {
        // Everything the user could get wrong is checked before anything runs or is written.
        let pairs = select::select(catalog, args.scenario.as_deref(), args.variant.as_deref())?;
        let mut cfg = RunConfig::new(args.seed.unwrap_or_else(seed::random_seed));
        cfg.program = program;
        cfg.budget = match (args.duration, args.iterations) {
            (Some(d), _) => Budget::Duration(d),
            (None, Some(n)) => Budget::Iterations(n),
            (None, None) => Budget::Default,
        };
        if let Some(t) = args.threads {
            cfg.threads = t;
        }
        cfg.inject = !args.no_inject;
        cfg.harness = args.harness.unwrap_or_default();
        cfg.shard = args.shard.unwrap_or_default();
        cfg.hang_after = config::hang_after_from_env()?;
        cfg.check(&pairs)?;
        let json = args.json.as_deref().map(JsonFile::prepare).transpose()?;
        if pairs.is_empty() {
            eprintln!("mmlab: the catalog is empty: nothing to run");
        }

        handle_ctrl_c(cfg.stop.clone());
        let mut console = Console::new(std::io::stdout(), pairs.len(), Progress::for_stderr());
        let report = runner::run(&pairs, &cfg, &mut console)?;
        // The bar goes first, so that it is not redrawn under the table.
        let _stdout = console.finish();
        print(&format!(
            "\n{}{}\n",
            report::table(&report),
            report::summary(&report)
        ));
        if let Some(json) = json {
            let target = json.target().display().to_string();
            if let Err(e) = json.commit(&report::document(&report)) {
                eprintln!("mmlab: error: cannot write --json {target}: {e}");
                return Ok(EXIT_USAGE);
            }
        }
        Ok(report.exit_code())
    }

    fn contention(
        program: Program,
        catalog: &[&'static dyn AnyScenario],
        args: ContentionArgs,
    ) -> Result<u8, UsageError> {
        // Everything the user could get wrong is checked before anything runs or is written.
        let scenario = select::find_scenario(catalog, &args.scenario)?;
        let all = args.variant.as_deref() == Some(select::ALL);
        let pairs = match args.variant.as_deref() {
            Some(v) => select::select(catalog, Some(&args.scenario), Some(v))?,
            None => contention::default_variant(scenario)
                .map(|variant| vec![Pair { scenario, variant }])
                .unwrap_or_default(),
        };
        if pairs.is_empty() {
            return Err(UsageError::new(format!(
                "scenario '{}' has no variants to measure",
                scenario.name()
            )));
        }
        let mut cfg = ContentionConfig::new(args.seed.unwrap_or_else(seed::random_seed));
        cfg.program = program;
        cfg.duration = args.duration;
        if let Some(t) = args.threads {
            cfg.threads = t;
        }
        cfg.inject = args.inject;
        cfg.hang_after = config::hang_after_from_env()?;
        let json = args.json.as_deref().map(JsonFile::prepare).transpose()?;
        let svg = args
            .svg
            .as_deref()
            .map(|p| OutputFile::prepare("--svg", p))
            .transpose()?;

        handle_ctrl_c(cfg.stop.clone());
        let names: Vec<&str> = pairs.iter().map(|p| p.variant.name).collect();
        eprintln!(
            "mmlab contention: {}/{} for {}{} (seed {}, {} threads, injection {})",
            scenario.name(),
            names.join(","),
            report::short(cfg.duration),
            if pairs.len() > 1 { " each" } else { "" },
            cfg.seed,
            cfg.threads,
            if cfg.inject { "on" } else { "off" }
        );
        let mut reports = Vec::new();
        for pair in &pairs {
            let r = contention::measure(pair, &cfg);
            if !reports.is_empty() {
                print("\n");
            }
            print(&contention::table(&r));
            let interrupted = r.interrupted;
            reports.push(r);
            if interrupted {
                break;
            }
        }
        if reports.len() > 1 {
            print(&format!("\n{}", contention::comparison(&reports)));
        }
        let mut code = if reports.iter().any(|r| r.interrupted) {
            crate::stress::EXIT_INTERRUPTED
        } else {
            EXIT_OK
        };
        if let Some(json) = json {
            let target = json.target().display().to_string();
            let written = if all {
                json.commit(&contention::document_all(&reports))
            } else {
                json.commit(&contention::document(&reports[0]))
            };
            if let Err(e) = written {
                eprintln!("mmlab: error: cannot write --json {target}: {e}");
                code = EXIT_USAGE;
            }
        }
        if let Some(svg) = svg {
            let target = svg.target().display().to_string();
            let written = contention_svg::render(&reports)
                .map_err(std::io::Error::other)
                .and_then(|doc| svg.commit(|w| w.write_all(doc.as_bytes())));
            if let Err(e) = written {
                eprintln!("mmlab: error: cannot write --svg {target}: {e}");
                code = EXIT_USAGE;
            }
        }
        Ok(code)
    }
}
