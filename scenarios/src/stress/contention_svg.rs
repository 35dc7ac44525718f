//! `mmlab contention --svg FILE`: the wait-time distribution of each lock class, drawn.
//!
//! lock_stat keeps, per class, a histogram of wait times in log2 buckets (bucket `i` counts
//! waits in `[2^i, 2^(i+1))` ns). The table gives totals; the picture gives the shape — whether
//! a class's waits are a few microseconds of spinning or milliseconds of sleeping behind a
//! convoy. One panel per measured variant, side by side, on the same axes (so a glance compares
//! them); in each panel one step line per class that had to wait, in a colour that names the
//! same class in every panel. Counts are on a log scale: classes that differ by orders of
//! magnitude stay readable, and a bucket with no waits drops to the panel's floor.
//!
//! The SVG is built in memory and handed to an [`OutputFile`](super::output_file::OutputFile),
//! so the file appears whole or not at all.

use super::contention::{ContentionReport, ns};
use super::report::secs;
use mmlab_engine::sync::lock_stat::ClassSnapshot;
use plotters::prelude::*;

/// Size of one panel, pixels.
const PANEL: (u32, u32) = (720, 480);
/// Height of the title strip above the panels.
const TITLE: u32 = 40;
/// Where a bucket with no waits is drawn (log scale: zero has no place).
const FLOOR: f64 = 0.7;

/// The SVG document for these reports (one panel each), or what went wrong drawing it.
pub fn render(reports: &[ContentionReport]) -> Result<String, String> {
    let mut svg = String::new();
    draw(reports, &mut svg).map_err(|e| format!("cannot draw the SVG: {e}"))?;
    Ok(svg)
}

/// The classes that waited in any report, most total wait (over all reports) first: the
/// order of the colours and of the legends.
fn waiting_classes(reports: &[ContentionReport]) -> Vec<&'static str> {
    let mut totals: Vec<(&'static str, u64)> = Vec::new();
    for c in reports.iter().flat_map(|r| &r.classes) {
        if c.contentions == 0 {
            continue;
        }
        match totals.iter_mut().find(|(n, _)| *n == c.class.name()) {
            Some((_, t)) => *t += c.wait_total_ns,
            None => totals.push((c.class.name(), c.wait_total_ns)),
        }
    }
    totals.sort_by_key(|t| std::cmp::Reverse(t.1));
    totals.into_iter().map(|(n, _)| n).collect()
}

/// The bucket range `[lo, hi]` holding every wait of every report (padded by one bucket each
/// side), or a default microsecond-to-millisecond range when nothing waited.
fn bucket_range(reports: &[ContentionReport]) -> (i32, i32) {
    let used: Vec<i32> = reports
        .iter()
        .flat_map(|r| &r.classes)
        .flat_map(|c| {
            c.wait_hist
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, _)| i as i32)
        })
        .collect();
    match (used.iter().min(), used.iter().max()) {
        (Some(&lo), Some(&hi)) => ((lo - 1).max(0), hi + 1),
        _ => (10, 20),
    }
}

/// A class's histogram as step outlines, one per run of consecutive non-empty buckets over
/// `[lo, hi]`, each rising from the floor and falling back to it (so that empty stretches draw
/// nothing, and classes do not paint over each other along the floor).
fn steps(c: &ClassSnapshot, lo: i32, hi: i32) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for b in lo..=hi + 1 {
        let n = if b <= hi {
            c.wait_hist.get(b as usize).copied().unwrap_or(0)
        } else {
            0
        };
        let x = f64::from(b);
        if n == 0 {
            if !run.is_empty() {
                let y = run.last().map_or(FLOOR, |p| p.1);
                run.push((x, y));
                run.push((x, FLOOR));
                runs.push(std::mem::take(&mut run));
            }
            continue;
        }
        let y = n as f64;
        match run.last().copied() {
            None => run.extend([(x, FLOOR), (x, y)]),
            Some((_, prev)) => run.extend([(x, prev), (x, y)]),
        }
    }
    runs
}

/// A bucket boundary, to two significant figures (`2^14` ns is "16us", not "16.4us").
fn approx_ns(n: u64) -> String {
    let (v, unit) = match n {
        0..1_000 => return format!("{n}ns"),
        1_000..1_000_000 => (n as f64 / 1e3, "us"),
        1_000_000..1_000_000_000 => (n as f64 / 1e6, "ms"),
        _ => (n as f64 / 1e9, "s"),
    };
    if v >= 10.0 {
        format!("{v:.0}{unit}")
    } else {
        let s = format!("{v:.1}");
        format!("{}{unit}", s.trim_end_matches(".0"))
    }
}

fn colour(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 8] = [
        RGBColor(214, 39, 40),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLOURS[i % COLOURS.len()]
}

fn draw(reports: &[ContentionReport], svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let panels = reports.len().max(1) as u32;
    let classes = waiting_classes(reports);
    let (lo, hi) = bucket_range(reports);
    let ymax = reports
        .iter()
        .flat_map(|r| &r.classes)
        .flat_map(|c| c.wait_hist.iter().copied())
        .max()
        .unwrap_or(0)
        .max(10) as f64;
    let root =
        SVGBackend::with_string(svg, (PANEL.0 * panels, PANEL.1 + TITLE)).into_drawing_area();
    root.fill(&WHITE)?;
    let scenario = reports.first().map_or("", |r| r.scenario);
    let (title, body) = root.split_vertically(TITLE);
    title.draw(&Text::new(
        format!(
            "mmlab contention {scenario}: lock wait times per class (lock_stat wait histogram)"
        ),
        (12, 12),
        ("sans-serif", 18).into_font(),
    ))?;
    for (area, r) in body.split_evenly((1, panels as usize)).iter().zip(reports) {
        let waited: Vec<&ClassSnapshot> = r.classes.iter().filter(|c| c.contentions > 0).collect();
        let total: u64 = waited.iter().map(|c| c.wait_total_ns).sum();
        let caption = format!(
            "{}: {} iterations in {}, {} waited in all",
            r.variant,
            r.iterations,
            secs(r.elapsed),
            ns(total)
        );
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(
                f64::from(lo)..f64::from(hi + 1),
                (FLOOR..ymax * 10.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("wait time (log2 buckets: [2^i, 2^(i+1)) ns)")
            .y_desc("waits (log scale)")
            .x_label_formatter(&|x| {
                if x.fract() == 0.0 && *x >= 0.0 {
                    approx_ns(1u64 << (*x as u32).min(63))
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                // Decades only: 1, 10, 100, ...
                let decade = y.log10();
                if *y >= 1.0 && (decade - decade.round()).abs() < 1e-9 {
                    format!("{y:.0}")
                } else {
                    String::new()
                }
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        if waited.is_empty() {
            area.draw(&Text::new(
                "no lock had to wait",
                (PANEL.0 as i32 / 2 - 70, PANEL.1 as i32 / 2),
                ("sans-serif", 16).into_font(),
            ))?;
            continue;
        }
        for c in &waited {
            let i = classes
                .iter()
                .position(|n| *n == c.class.name())
                .unwrap_or(0);
            let col = colour(i);
            let mut runs = steps(c, lo, hi).into_iter();
            let Some(first) = runs.next() else {
                continue;
            };
            for run in runs {
                chart.draw_series(LineSeries::new(run, col.stroke_width(2)))?;
            }
            chart
                .draw_series(LineSeries::new(first, col.stroke_width(2)))?
                .label(format!(
                    "{}: {} wait{}, {} total, max {}",
                    c.class.name(),
                    c.contentions,
                    if c.contentions == 1 { "" } else { "s" },
                    ns(c.wait_total_ns),
                    ns(c.wait_max_ns)
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    root.present()?;
    Ok(())
}
