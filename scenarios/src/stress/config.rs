//! What a run is asked to do: a documented struct, its defaults, and the parsers that turn what
//! a user typed into it (after `loom::model::Builder`).
//!
//! Every parser returns a [`UsageError`] whose message says what would have been right; the
//! command line feeds them to clap as value parsers, so a bad value is reported before any
//! work starts, with exit status 2.

use super::select::Pair;
use super::shard::Shard;
use super::usage::UsageError;
use crate::cli::Program;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Default budget per (scenario, variant) pair when the user gives none.
pub const DEFAULT_PER_PAIR: Duration = Duration::from_secs(5);
/// Cap on the default budget of a whole run: plain `mmlab` finishes in about a minute.
pub const DEFAULT_TOTAL: Duration = Duration::from_secs(60);
/// Most actor threads a user may ask for: beyond this is a typo, not a machine.
pub const MAX_THREADS: usize = 1024;
/// The watchdog's default bound (see [`RunConfig::hang_after`]).
pub const DEFAULT_HANG_AFTER: Duration = Duration::from_secs(5);
/// The environment variable that overrides [`DEFAULT_HANG_AFTER`].
pub const HANG_AFTER_VAR: &str = "MMLAB_HANG_AFTER";
/// How long one iteration of a long-running scenario lasts under `--iterations`.
pub const LONG_ITERATION: Duration = Duration::from_secs(2);
/// The shortest run a long-running scenario is given at the end of a `--duration` share.
pub const MIN_LONG_ITERATION: Duration = Duration::from_millis(100);

/// Which threads run an iteration: its scenario's own thread and its actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HarnessKind {
    /// Long-lived threads, parked between iterations: one scenario thread per pair and a crew
    /// of actor threads per run (`mmlab_engine::actor::Crew`). A thread that panicked, ended
    /// holding a lock, or never came back is replaced by a fresh one.
    #[default]
    Crew,
    /// New threads for every iteration, joined at its end: the harness before the crew, kept
    /// (`--harness spawn`) to measure what the crew saves.
    Spawn,
}

impl HarnessKind {
    /// `crew` / `spawn`, as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            HarnessKind::Crew => "crew",
            HarnessKind::Spawn => "spawn",
        }
    }
}

/// `--harness crew|spawn`.
pub fn parse_harness(s: &str) -> Result<HarnessKind, UsageError> {
    match s.trim() {
        "crew" => Ok(HarnessKind::Crew),
        "spawn" => Ok(HarnessKind::Spawn),
        _ => Err(UsageError::new(format!(
            "'{s}' is not a harness: expected crew (long-lived threads) or spawn (threads per \
             iteration)"
        ))),
    }
}

/// How much work a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// No budget given: [`DEFAULT_PER_PAIR`] per pair, at most [`DEFAULT_TOTAL`] in all.
    Default,
    /// `--duration D`: the wall-clock budget of the whole run, shared among its pairs. Each
    /// pair gets what is left divided by the pairs left, so a race variant caught early hands
    /// its time to the pairs after it. Every pair runs at least one iteration.
    Duration(Duration),
    /// `--iterations N`: global indices `0..N` of every pair (of which a shard runs its part).
    Iterations(u64),
}

impl Budget {
    /// The wall-clock budget of a run of `pairs` pairs; `None` for an iteration budget.
    pub fn total(self, pairs: usize) -> Option<Duration> {
        match self {
            Budget::Default => Some(
                DEFAULT_PER_PAIR
                    .saturating_mul(u32::try_from(pairs).unwrap_or(u32::MAX))
                    .min(DEFAULT_TOTAL),
            ),
            Budget::Duration(d) => Some(d),
            Budget::Iterations(_) => None,
        }
    }
}

/// Everything the runner needs to know, besides which pairs to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The run seed: iteration 0 of every pair runs this seed (see [`super::seed`]).
    pub seed: u64,
    /// How much to run.
    pub budget: Budget,
    /// `Env::threads`: how many actors a scaling scenario runs. Default: the machine's
    /// available parallelism (one actor per core). Threads are not pinned: std has no
    /// affinity API, and the OS scheduler's placement is part of what a stress run samples.
    pub threads: usize,
    /// Stall actors at race windows with seeded delays (`--no-inject` turns this off).
    pub inject: bool,
    /// Which part of the (scenario, variant, index) space this process runs.
    pub shard: Shard,
    /// The watchdog's bound: an iteration with no progress for this long is reported as a
    /// hang and unwound. Default [`DEFAULT_HANG_AFTER`], or `MMLAB_HANG_AFTER` (e.g. `10s`).
    pub hang_after: Duration,
    /// Set (by Ctrl-C) to stop: the current iteration finishes (long-running actors see it as
    /// `Env::stop`), then the run ends with what it has.
    pub stop: Arc<AtomicBool>,
    /// Which threads run the iterations. Seeds, injected delays and verdicts do not depend on
    /// it: only how fast iterations go.
    pub harness: HarnessKind,
    /// The program the run is part of: what its printed replay commands invoke.
    pub program: Program,
}

impl RunConfig {
    /// A configuration with every default and this seed.
    pub fn new(seed: u64) -> Self {
        RunConfig {
            seed,
            budget: Budget::Default,
            threads: default_threads(),
            inject: true,
            shard: Shard::WHOLE,
            hang_after: DEFAULT_HANG_AFTER,
            stop: Arc::new(AtomicBool::new(false)),
            harness: HarnessKind::Crew,
            program: Program::MMLAB,
        }
    }

    /// Refuse a configuration that cannot run `pairs` sensibly.
    pub fn check(&self, pairs: &[Pair]) -> Result<(), UsageError> {
        if self.threads == 0 || self.threads > MAX_THREADS {
            return Err(UsageError::new(format!(
                "--threads {}: expected 1 to {MAX_THREADS}",
                self.threads
            )));
        }
        if self.hang_after.is_zero() {
            return Err(UsageError::new("the watchdog bound must be more than zero"));
        }
        match self.budget {
            Budget::Iterations(0) => {
                return Err(UsageError::new("--iterations must be at least 1"));
            }
            Budget::Iterations(n) if !pairs.is_empty() && self.shard.count_below(n) == 0 => {
                return Err(UsageError::new(format!(
                    "--iterations {n} leaves shard {} with nothing to run: \
                     give at least {} iterations, or fewer shards",
                    self.shard,
                    self.shard.k()
                )));
            }
            Budget::Duration(d) if d.is_zero() => {
                return Err(UsageError::new("--duration must be more than zero"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// One actor per core: the machine's available parallelism (2 if it cannot be read).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(MAX_THREADS)
}

/// A duration as users write it: `5s`, `500ms`, `2m`, `1h 30m`; a bare number is seconds.
/// Zero is refused: a run that does nothing is a mistake.
pub fn parse_duration(s: &str) -> Result<Duration, UsageError> {
    let t = s.trim();
    let d = if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
            return Err(UsageError::new(format!(
                "'{s}' is not a duration: expected e.g. 5s, 500ms, 2m"
            )));
        }
        Duration::from_secs_f64(secs)
    } else {
        humantime::parse_duration(t).map_err(|e| {
            UsageError::new(format!(
                "'{s}' is not a duration ({e}): expected e.g. 5s, 500ms, 2m"
            ))
        })?
    };
    if d.is_zero() {
        return Err(UsageError::new(format!(
            "'{s}' is a zero duration: give a positive one, e.g. 5s"
        )));
    }
    Ok(d)
}

/// `--iterations N`, N >= 1.
pub fn parse_iterations(s: &str) -> Result<u64, UsageError> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err(UsageError::new("zero iterations: expected at least 1")),
        Ok(n) => Ok(n),
        Err(_) => Err(UsageError::new(format!(
            "'{s}' is not an iteration count: expected a whole number >= 1"
        ))),
    }
}

/// `--threads N`, 1 ..= [`MAX_THREADS`].
pub fn parse_threads(s: &str) -> Result<usize, UsageError> {
    match s.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_THREADS) => Ok(n),
        Ok(n) => Err(UsageError::new(format!(
            "{n} threads: expected 1 to {MAX_THREADS} (one actor per core is the default)"
        ))),
        Err(_) => Err(UsageError::new(format!(
            "'{s}' is not a thread count: expected a whole number from 1 to {MAX_THREADS}"
        ))),
    }
}

/// `--seed S`: decimal, or hexadecimal with `0x`.
pub fn parse_seed(s: &str) -> Result<u64, UsageError> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse::<u64>(),
    };
    parsed.map_err(|_| {
        UsageError::new(format!(
            "'{s}' is not a seed: expected a 64-bit unsigned number (decimal, or hex with 0x)"
        ))
    })
}

/// The watchdog bound from `MMLAB_HANG_AFTER`, or the default.
pub fn hang_after_from_env() -> Result<Duration, UsageError> {
    match std::env::var(HANG_AFTER_VAR) {
        Ok(v) => {
            parse_duration(&v).map_err(|e| UsageError::new(format!("{HANG_AFTER_VAR}={v}: {e}")))
        }
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_HANG_AFTER),
        Err(std::env::VarError::NotUnicode(_)) => Err(UsageError::new(format!(
            "{HANG_AFTER_VAR} is not valid UTF-8"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_people_write_them() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0s", "0", "", "fast", "-1", "5 parsecs", "NaN", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn counts_and_seeds_reject_nonsense() {
        assert_eq!(parse_threads("4"), Ok(4));
        assert!(parse_threads("0").is_err());
        assert!(parse_threads("1025").is_err());
        assert!(parse_threads("many").is_err());
        assert_eq!(parse_iterations("10"), Ok(10));
        assert!(parse_iterations("0").is_err());
        assert!(parse_iterations("-3").is_err());
        assert_eq!(parse_seed("42"), Ok(42));
        assert_eq!(parse_seed("0xff"), Ok(255));
        assert_eq!(parse_seed(&u64::MAX.to_string()), Ok(u64::MAX));
        assert!(parse_seed("18446744073709551616").is_err());
        assert!(parse_seed("seed").is_err());
    }

    #[test]
    fn the_default_budget_is_five_seconds_a_pair_and_a_minute_at_most() {
        assert_eq!(Budget::Default.total(2), Some(Duration::from_secs(10)));
        assert_eq!(Budget::Default.total(40), Some(DEFAULT_TOTAL));
        assert_eq!(Budget::Iterations(3).total(4), None);
    }
}
