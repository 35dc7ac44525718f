//! `mmlab`: the command line of the lab (docs/RUNNER.md).
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
//! (nothing run, nothing written), 130 stopped by Ctrl-C (results so far printed and written).
//! This file only parses and dispatches: the work, and everything worth testing, is in
//! `mmlab_scenarios::stress`.

#[cfg(not(mmlab_loom))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(command::main())
}

/// The command runs real threads; a loom build has none to offer.
#[cfg(mmlab_loom)]
fn main() -> std::process::ExitCode {
    eprintln!("mmlab: this is a --cfg mmlab_loom build; the command runs on real threads only");
    std::process::ExitCode::from(2)
}

#[cfg(not(mmlab_loom))]
mod command {
    use clap::{Args, Parser, Subcommand};
    use mmlab_engine::sync::wait::Aborted;
    use mmlab_scenarios::catalog;
    use mmlab_scenarios::scenario::Scenario;
    use mmlab_scenarios::stress::config::{self, Budget, RunConfig};
    use mmlab_scenarios::stress::console::Console;
    use mmlab_scenarios::stress::contention::{self, ContentionConfig};
    use mmlab_scenarios::stress::contention_svg;
    use mmlab_scenarios::stress::json_file::{self, JsonFile};
    use mmlab_scenarios::stress::output_file::OutputFile;
    use mmlab_scenarios::stress::progress::Progress;
    use mmlab_scenarios::stress::{
        EXIT_OK, EXIT_USAGE, Pair, Shard, UsageError, listing, report, runner, seed, select,
    };
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

    pub(crate) fn main() -> u8 {
        let cli = Cli::parse();
        quiet_scenario_panics();
        let catalog = catalog::all();
        let result = match cli.command {
            None => run(&catalog, RunArgs::default()),
            Some(Command::Run(args)) => run(&catalog, args),
            Some(Command::List { json }) => list(&catalog, json),
            Some(Command::Explain { name }) => explain(&catalog, &name),
            Some(Command::Contention(args)) => contention(&catalog, args),
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("mmlab: error: {e}");
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
                std::process::exit(i32::from(mmlab_scenarios::stress::EXIT_INTERRUPTED));
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

    fn list(catalog: &[&'static dyn Scenario], json: bool) -> Result<u8, UsageError> {
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

    fn explain(catalog: &[&'static dyn Scenario], name: &str) -> Result<u8, UsageError> {
        let s = select::find_scenario(catalog, name)?;
        print(&listing::explain(s));
        Ok(EXIT_OK)
    }

    fn run(catalog: &[&'static dyn Scenario], args: RunArgs) -> Result<u8, UsageError> {
        // Everything the user could get wrong is checked before anything runs or is written.
        let pairs = select::select(catalog, args.scenario.as_deref(), args.variant.as_deref())?;
        let mut cfg = RunConfig::new(args.seed.unwrap_or_else(seed::random_seed));
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
        catalog: &[&'static dyn Scenario],
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
            mmlab_scenarios::stress::EXIT_INTERRUPTED
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
