//! The console observer: what `mmlab run` shows while it runs.
//!
//! The header goes out first, each pair's first failure is printed in full as soon as that
//! pair finishes (a long run tells its stories as it finds them, not at the end), and the
//! progress bar ticks on stderr. The table and the summary come last, from the command.
//! Output errors (a closed pipe) are ignored: the exit status still tells the truth.

use super::config::RunConfig;
use super::progress::Progress;
use super::report;
use super::runner::{Observer, PairResult};
use super::select::Pair;
use std::io::Write;
use std::time::Duration;

/// Prints a run to `out` as it goes, with an optional progress bar on stderr.
#[derive(Debug)]
pub struct Console<W: Write> {
    out: W,
    progress: Progress,
    label: String,
}

impl<W: Write> Console<W> {
    /// A console printing to `out`; the bar is drawn only if `progress` (and stderr is a
    /// terminal: see [`Progress::for_stderr`]).
    pub fn new(out: W, pairs: usize, progress: bool) -> Self {
        Console {
            out,
            progress: Progress::new(pairs as u64, progress),
            label: String::new(),
        }
    }

    /// Print `text` with the bar out of the way.
    pub fn print(&mut self, text: &str) {
        let out = &mut self.out;
        self.progress.suspend(|| {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        });
    }

    /// Remove the bar; give back the writer.
    pub fn finish(self) -> W {
        self.progress.finish();
        self.out
    }
}

impl<W: Write> Observer for Console<W> {
    fn run_started(&mut self, cfg: &RunConfig, pairs: &[Pair], _budget: Option<Duration>) {
        let mut h = report::header(pairs, cfg);
        h.push('\n');
        self.print(&h);
    }

    fn pair_started(&mut self, _index: usize, pair: &Pair, _share: Option<Duration>) {
        self.label = pair.label();
        let label = &self.label;
        self.progress.message(|| label.clone());
    }

    fn iteration_done(&mut self, result: &PairResult) {
        let label = &self.label;
        self.progress.message(|| {
            format!(
                "{label}: {} iteration{}, {}",
                result.iterations,
                if result.iterations == 1 { "" } else { "s" },
                report::secs(result.elapsed)
            )
        });
    }

    fn pair_done(&mut self, result: &PairResult) {
        if let Some(text) = report::failure(result) {
            self.print(&text);
        }
        self.progress.inc();
    }
}
