//! The progress bar: on a terminal, for runs long enough to wonder about.
//!
//! A bar on a run that ends in a second is flicker, and a bar in a CI log is noise: the bar
//! starts hidden, appears once the run has lasted [`SHOW_AFTER`], and never appears unless
//! stderr is a terminal. It counts pairs; its message names the pair running and how far it
//! is. Anything printed while it is visible goes through [`Progress::suspend`] so that lines
//! and bar do not tear.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How long a run goes before its bar appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(2);
/// Least time between message updates (an iteration can take microseconds).
const REFRESH: Duration = Duration::from_millis(100);

/// A progress bar over a run's pairs.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    enabled: bool,
    visible: bool,
    started: Instant,
    last_update: Option<Instant>,
}

impl Progress {
    /// A bar over `pairs` pairs, drawn on stderr if `enabled` (see [`Progress::for_stderr`]).
    pub fn new(pairs: u64, enabled: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(pairs), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:24} {pos}/{len} pairs  {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress {
            bar,
            enabled,
            visible: false,
            started: Instant::now(),
            last_update: None,
        }
    }

    /// Is stderr a terminal (the only place a bar belongs)?
    pub fn for_stderr() -> bool {
        std::io::stderr().is_terminal()
    }

    fn reveal_if_due(&mut self) {
        if self.enabled && !self.visible && self.started.elapsed() >= SHOW_AFTER {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(REFRESH);
            self.visible = true;
        }
    }

    /// Update the message (at most every 100 ms; `msg` is only built then).
    pub fn message(&mut self, msg: impl FnOnce() -> String) {
        let now = Instant::now();
        if self.last_update.is_some_and(|t| now - t < REFRESH) {
            return;
        }
        self.last_update = Some(now);
        self.reveal_if_due();
        if self.visible {
            self.bar.set_message(msg());
        }
    }

    /// One more pair done.
    pub fn inc(&mut self) {
        self.bar.inc(1);
        self.last_update = None;
        self.reveal_if_due();
    }

    /// Run `f` (which prints) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Remove the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
