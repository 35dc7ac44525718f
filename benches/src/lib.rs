//! Shared helpers for the criterion benchmarks in benches/.
//!
//! Every benchmark here compares variants of one kernel path (kernel function table entries,
//! or a `WorldConfig` option) in one run, so that the ratios it prints were measured on the
//! same machine under the same load. Each builds its world and does its setup (mm_alloc,
//! mmap, mlock, faults) outside the timed part, with criterion's `iter_custom`, and times only
//! the operation the question is about.
//! `docs/BENCHMARKS.md` has the questions, the commands and the figures.

use mmlab_engine::check::Sink;
use mmlab_engine::mm::World;
use mmlab_engine::sync::switches;
use mmlab_engine::trace;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A body to run on a thread of its own: its actor name (for the trace) and the work.
pub type Body = (&'static str, Box<dyn FnOnce() + Send + 'static>);

/// Benchmarks measure the model, not its instruments: lockdep off, lock_stat off unless a
/// benchmark turns it on for a figure it prints.
pub fn quiet_instrumentation() {
    switches::set_lockdep(false);
    switches::set_stats(false);
}

/// The benchmarks' one sink: a benchmark process measures one thing at a time, and every
/// thread that plays a part of it reports here ([`bench_world`] installs it on the calling
/// thread, [`time_concurrently`] on each body's), until [`assert_clean`] drains it.
pub fn bench_sink() -> &'static Sink {
    static SINK: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();
    SINK.get_or_init(Sink::new)
}

/// A world for a benchmark: `cfg` running `kernel`, with the domain trace off (the lab's
/// notebook, not kernel work, as in production) and [`bench_sink`] installed on this thread, so
/// that setup violations are seen by [`assert_clean`].
pub fn bench_world(
    cfg: mmlab_engine::mm::WorldConfig,
    kernel: mmlab_engine::kernel::Kernel,
) -> Arc<World> {
    let w = Arc::new(World::new(cfg, kernel));
    w.trace.set_enabled(false);
    bench_sink().install();
    w
}

/// Run `bodies` concurrently, body `i` on simulated CPU `i`, and return the time from the
/// first body starting to the last one finishing. Thread creation is not timed: every thread
/// is created and parked at a barrier first. Violations the bodies report go to [`bench_sink`].
pub fn time_concurrently(_w: &Arc<World>, bodies: Vec<Body>) -> Duration {
    let n = bodies.len();
    let ready = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(cpu, (name, body))| {
            let (ready, go) = (ready.clone(), go.clone());
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    bench_sink().install();
                    trace::set_actor(name, cpu);
                    ready.fetch_add(1, Ordering::SeqCst);
                    go.wait();
                    let start = Instant::now();
                    body();
                    (start, Instant::now())
                })
                .expect("spawn a benchmark thread")
        })
        .collect();
    while ready.load(Ordering::SeqCst) < n {
        std::thread::yield_now();
    }
    go.wait();
    let spans: Vec<(Instant, Instant)> = handles
        .into_iter()
        .map(|h| h.join().expect("a benchmark thread panicked"))
        .collect();
    let first = spans.iter().map(|s| s.0).min().expect("at least one body");
    let last = spans.iter().map(|s| s.1).max().expect("at least one body");
    last - first
}

/// A benchmark that trips an oracle measures a broken run: stop it. Drains [`bench_sink`]
/// (`_w` is the world it measured, for the call sites' sake).
#[track_caller]
pub fn assert_clean(_w: &World, what: &str) {
    let violations = bench_sink().take();
    assert!(
        violations.is_empty(),
        "{what}: the model reported violations: {:?}",
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
}

/// Measure `variants` variants against each other under the same load: `rounds` rounds, each
/// running every variant once (`f(v)` returns its time), in an order rotated every round.
/// On a shared machine whose load drifts (other builds on 2 cores), criterion's one-variant-
/// after-another estimates drift with it; paired rounds cancel the drift out of the ratios.
/// Returns each variant's times.
pub fn interleaved(
    variants: usize,
    rounds: usize,
    mut f: impl FnMut(usize) -> Duration,
) -> Vec<Vec<Duration>> {
    let mut times = vec![Vec::with_capacity(rounds); variants];
    for r in 0..rounds {
        for i in 0..variants {
            let v = (i + r) % variants;
            times[v].push(f(v));
        }
    }
    times
}

/// Was the whole benchmark asked for, rather than a subset (`cargo bench ... -- FILTER`)? The
/// paired summaries cover every variant, so a filtered run skips them.
pub fn whole_run() -> bool {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .all(|a| a.parse::<f64>().is_ok())
}

/// The median of `times`, ns.
pub fn median(times: &[Duration]) -> f64 {
    let mut ns: Vec<u128> = times.iter().map(Duration::as_nanos).collect();
    ns.sort_unstable();
    ns.get(ns.len() / 2).copied().unwrap_or(0) as f64
}

/// Nanoseconds, in the unit that suits them.
pub fn ns(n: f64) -> String {
    if n < 1e3 {
        format!("{n:.0}ns")
    } else if n < 1e6 {
        format!("{:.1}us", n / 1e3)
    } else if n < 1e9 {
        format!("{:.2}ms", n / 1e6)
    } else {
        format!("{:.2}s", n / 1e9)
    }
}

/// Means of what a benchmark measured per round, beside criterion's estimate: criterion keeps
/// its own statistics, these are for the ratios and lock_stat figures printed after it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    /// Rounds measured (warm-up included).
    pub rounds: u64,
    /// Total timed duration, ns.
    pub time_ns: f64,
    /// Total wait of the lock class the benchmark watches, ns.
    pub wait_ns: f64,
    /// Total contentions of that class.
    pub contentions: u64,
}

impl Tally {
    /// Add one round.
    pub fn add(&mut self, time: Duration, wait_ns: u64, contentions: u64) {
        self.rounds += 1;
        self.time_ns += time.as_nanos() as f64;
        self.wait_ns += wait_ns as f64;
        self.contentions += contentions;
    }

    /// Mean time per round, ns.
    pub fn time(&self) -> f64 {
        self.time_ns / self.rounds.max(1) as f64
    }

    /// Mean wait per round, ns.
    pub fn wait(&self) -> f64 {
        self.wait_ns / self.rounds.max(1) as f64
    }

    /// Mean contentions per round.
    pub fn contended(&self) -> f64 {
        self.contentions as f64 / self.rounds.max(1) as f64
    }
}

/// One panel of [`paired_svg`]: its title and, per variant, its name and paired times.
pub type Panel<'a> = (String, Vec<(&'a str, &'a [Duration])>);

/// Where [`paired_svg`] writes: `MMLAB_BENCH_SVG_DIR`, or `target/mmlab-bench` of the workspace.
pub fn svg_dir() -> std::path::PathBuf {
    std::env::var_os("MMLAB_BENCH_SVG_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            let benches = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            benches
                .parent()
                .unwrap_or(benches)
                .join("target/mmlab-bench")
        })
}

/// Draw the paired rounds' time distributions as SVG: one panel per parameter value, in each
/// the cumulative distribution of every variant's round times (x: time, y: fraction of rounds
/// at most that long), so equal variants draw one curve and a slower one lies to the right.
/// Criterion's own plots show its sequential estimates, which drift with the machine's load;
/// this shows the paired rounds the printed ratios come from. Written to [`svg_dir`]`/name`
/// (temporary file + rename); returns the path.
pub fn paired_svg(
    name: &str,
    title: &str,
    panels: &[Panel<'_>],
) -> std::io::Result<std::path::PathBuf> {
    use plotters::prelude::*;
    const COLOURS: [RGBColor; 4] = [
        RGBColor(214, 39, 40),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
    ];
    let (pw, ph, top) = (460u32, 340u32, 36u32);
    let mut svg = String::new();
    let drawn: Result<(), Box<dyn std::error::Error>> = (|| {
        // Up to three panels a row.
        let cols = panels.len().clamp(1, 3);
        let rows = panels.len().max(1).div_ceil(cols);
        let root = SVGBackend::with_string(&mut svg, (pw * cols as u32, ph * rows as u32 + top))
            .into_drawing_area();
        root.fill(&WHITE)?;
        let (head, body) = root.split_vertically(top);
        head.draw(&Text::new(
            title.to_string(),
            (10, 10),
            ("sans-serif", 16).into_font(),
        ))?;
        for (area, (panel, series)) in body.split_evenly((rows, cols)).iter().zip(panels) {
            let us = |d: &Duration| d.as_nanos() as f64 / 1e3;
            // Clip at the 99th percentile of the slowest variant: the tail is load, not model.
            let xmax = series
                .iter()
                .map(|(_, t)| {
                    let mut v: Vec<f64> = t.iter().map(us).collect();
                    v.sort_by(f64::total_cmp);
                    v.get(v.len() * 99 / 100).copied().unwrap_or(1.0)
                })
                .fold(1.0, f64::max)
                * 1.1;
            let mut chart = ChartBuilder::on(area)
                .caption(panel.as_str(), ("sans-serif", 14))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(44)
                .build_cartesian_2d(0.0..xmax, 0.0..1.0)?;
            chart
                .configure_mesh()
                .x_desc("time per round (us)")
                .y_desc("fraction of rounds")
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            for (i, (variant, times)) in series.iter().enumerate() {
                let mut v: Vec<f64> = times.iter().map(us).collect();
                v.sort_by(f64::total_cmp);
                let n = v.len().max(1) as f64;
                let pts: Vec<(f64, f64)> = v
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| (x.min(xmax), (k + 1) as f64 / n))
                    .collect();
                let col = COLOURS[i % COLOURS.len()];
                let med = median(times) / 1e3;
                chart
                    .draw_series(LineSeries::new(pts, col.stroke_width(2)))?
                    .label(format!("{variant}: median {med:.1}us"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], col.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(("sans-serif", 11))
                .draw()?;
        }
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| std::io::Error::other(e.to_string()))?;
    let dir = svg_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, svg)?;
    std::fs::rename(&temp, &path)?;
    Ok(path)
}

/// [`paired_svg`], saying where the picture went (or why there is none) beside the figures.
pub fn report_svg(name: &str, title: &str, panels: &[Panel<'_>]) {
    match paired_svg(name, title, panels) {
        Ok(path) => println!("picture: {}", path.display()),
        Err(e) => println!("picture: not drawn: {e}"),
    }
}
