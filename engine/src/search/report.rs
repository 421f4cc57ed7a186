//! `report.md` and `report.html`: the task, every generation's candidates, the
//! best reward's code and curves, and the final comparison.
//!
//! `report.html` carries the curves (best fitness per generation; the best
//! reward's fitness and reward components against env steps) as inline SVG
//! plots drawn by `plotters`' SVG backend. plotters is built without its font
//! features, so text is written as SVG `<text>` for the browser to render and
//! no system font is needed.

use super::candidate::Outcome;
use super::record::{CandidateLine, RunRecord, RunSummary};
use super::store::{RunStore, files, read_json, write_atomic};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rewardsmith_core::{Task, TrainReport};
use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |f| format!("{f:.4}"))
}

/// One chart of `report.html`: a caption, what the x axis counts, and curves
/// (name, y value at each x) sharing the x values.
struct Chart<'a> {
    title: &'a str,
    x_desc: &'a str,
    xs: Vec<i64>,
    series: Vec<(String, Vec<f64>)>,
}

/// Chart size in pixels; about the page's text width.
const CHART_SIZE: (u32, u32) = (640, 320);

/// Height of the first legend row, level with the plot's top.
const LEGEND_TOP: u32 = 45;

/// Largest magnitude plotted; larger values are drawn at it.
const Y_LIMIT: f64 = 1e300;

/// Line colours, in series order (matplotlib's tab10, distinguishable and
/// readable on white).
const COLORS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// `chart` as an inline `<figure>` holding an SVG drawn by plotters, or nothing
/// when no curve has a finite point (or drawing fails, which is logged).
fn svg_chart(chart: &Chart<'_>) -> String {
    let mut svg = String::new();
    match draw_chart(chart, &mut svg) {
        Ok(true) => format!("<figure>{svg}</figure>"),
        Ok(false) => String::new(),
        Err(e) => {
            tracing::warn!(chart = chart.title, error = %e, "report chart not drawn");
            String::new()
        }
    }
}

/// Draws `chart` into `out` with plotters' SVG backend; `false` when there is
/// nothing to draw. Text is emitted as SVG `<text>` laid out with plotters'
/// built-in size estimate, so no system font is read.
fn draw_chart(
    chart: &Chart<'_>,
    out: &mut String,
) -> Result<bool, DrawingAreaErrorKind<std::io::Error>> {
    // Non-finite values are skipped; the line joins the points around them.
    // Values are clamped to ±1e300 so the axis span stays finite (plotters
    // finds no tick marks on an infinite span).
    let curves: Vec<Vec<(i64, f64)>> = chart
        .series
        .iter()
        .map(|(_, ys)| {
            chart
                .xs
                .iter()
                .zip(ys)
                .filter(|(_, y)| y.is_finite())
                .map(|(&x, &y)| (x, y.clamp(-Y_LIMIT, Y_LIMIT)))
                .collect()
        })
        .collect();
    let points = || curves.iter().flatten();
    let Some((x_lo, x_hi)) = bounds(points().map(|&(x, _)| x)) else {
        return Ok(false);
    };
    let (y_lo, y_hi) = bounds(points().map(|&(_, y)| y)).unwrap_or((0.0, 0.0));
    // A single x gets a unit of room either side; a flat curve (spread below
    // a billionth of its size) gets a tenth of its value (at least 0.5) above
    // and below; otherwise 5% of the span.
    let (x_lo, x_hi) = if x_lo == x_hi {
        (x_lo.saturating_sub(1), x_hi.saturating_add(1))
    } else {
        (x_lo, x_hi)
    };
    let pad = if y_hi - y_lo <= 1e-9 * y_lo.abs().max(y_hi.abs()).max(1.0) {
        (y_hi.abs() * 0.1).max(0.5)
    } else {
        (y_hi - y_lo) * 0.05
    };

    let y_span = y_hi - y_lo + 2.0 * pad;
    let y_magnitude = y_lo.abs().max(y_hi.abs());

    // The legend gets its own column right of the plot, so it never hides a
    // curve: a row of 20 px per series from the plot's top, ~7 px a character
    // of its 13 px font (capped at half the plot); a long legend makes the
    // chart taller.
    let rows = u32::try_from(chart.series.len()).unwrap_or(u32::MAX);
    let name_chars = chart.series.iter().map(|(n, _)| n.chars().count());
    let legend_w = u32::try_from(name_chars.max().unwrap_or(0))
        .unwrap_or(u32::MAX)
        .saturating_mul(7)
        .saturating_add(40)
        .min(CHART_SIZE.0 / 2);
    let size = (
        CHART_SIZE.0 + legend_w,
        CHART_SIZE
            .1
            .max(LEGEND_TOP.saturating_add(rows.saturating_mul(20))),
    );
    let root = SVGBackend::with_string(out, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(CHART_SIZE.0);
    let mut ctx = ChartBuilder::on(&plot)
        .caption(chart.title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_lo..x_hi, (y_lo - pad)..(y_hi + pad))?;
    ctx.configure_mesh()
        .max_light_lines(0)
        .x_desc(chart.x_desc)
        .y_desc("value")
        .x_label_formatter(&|&x| short_count(x))
        .y_label_formatter(&|&y| value_label(y, y_span, y_magnitude))
        .draw()?;
    let label_style =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, ((name, _), curve)) in chart.series.iter().zip(&curves).enumerate() {
        let color = COLORS[k % COLORS.len()];
        // A lone point is a line of no length, so it also gets a dot.
        let dot = if curve.len() == 1 { 3 } else { 0 };
        ctx.draw_series(
            LineSeries::new(curve.iter().copied(), color.stroke_width(2)).point_size(dot),
        )?;
        let y = i32::try_from(LEGEND_TOP as usize + 20 * k).unwrap_or(i32::MAX);
        legend.draw(&PathElement::new([(0, y), (24, y)], color.stroke_width(2)))?;
        legend.draw(&Text::new(name.as_str(), (30, y), &label_style))?;
    }
    root.present()?;
    Ok(true)
}

/// The smallest and largest of `values`, if any.
fn bounds<T: PartialOrd + Copy>(values: impl Iterator<Item = T>) -> Option<(T, T)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((if v < lo { v } else { lo }, if v > hi { v } else { hi })),
    })
}

/// A y axis label for `y` on an axis spanning `span` whose largest magnitude
/// is `magnitude`: as many decimals as a tenth of the span needs (`0.25`,
/// `-1.5`, `120`), in scientific notation (`1.05e6`) when that would be long.
fn value_label(y: f64, span: f64, magnitude: f64) -> String {
    // Ticks are about a tenth of the span apart; round-off near zero is zero.
    let tick_exp = (span / 10.0).log10().floor();
    let y = if y.abs() < span * 1e-9 { 0.0 } else { y };
    let decimals = (-tick_exp).max(0.0);
    if magnitude >= 1e6 || decimals > 6.0 {
        let digits = (magnitude.log10().floor() - tick_exp).clamp(0.0, 12.0);
        format!("{y:.*e}", digits as usize)
    } else {
        format!("{y:.*}", decimals as usize)
    }
}

/// An axis label for a count: `250`, `12.5k`, `1.2M`.
fn short_count(n: i64) -> String {
    let f = n as f64;
    if n.unsigned_abs() >= 1_000_000 {
        format!("{}M", f / 1e6)
    } else if n.unsigned_abs() >= 1_000 {
        format!("{}k", f / 1e3)
    } else {
        n.to_string()
    }
}

/// The training curves of `report` against env steps: its fitness, and each
/// reward component's per-step mean.
fn training_charts(report: &TrainReport) -> [Chart<'static>; 2] {
    let steps: Vec<i64> = report
        .checkpoints
        .iter()
        .map(|c| i64::try_from(c.env_steps).unwrap_or(i64::MAX))
        .collect();
    [
        Chart {
            title: "fitness during training",
            x_desc: "env steps",
            xs: steps.clone(),
            series: vec![("fitness".into(), report.fitness_curve())],
        },
        Chart {
            title: "reward components (per-step mean)",
            x_desc: "env steps",
            xs: steps,
            series: report
                .component_curves()
                .into_iter()
                .map(|c| (c.name, c.curve))
                .collect(),
        },
    ]
}

/// Writes `report.md` and `report.html` into the run folder.
///
/// # Errors
/// The files cannot be written.
pub fn write_reports(
    store: &RunStore,
    task: &Task,
    record: &RunRecord,
    summary: &RunSummary,
) -> anyhow::Result<()> {
    let mut md = String::new();
    let _ = writeln!(md, "# rewardsmith run: `{}`\n", task.name);
    let _ = writeln!(md, "{}\n", task.description);
    let _ = writeln!(
        md,
        "- fitness: {}\n- reward writer: `{}`\n- {} generations × {} samples, {} env steps per candidate, seed {}\n",
        task.fitness.doc,
        record.llm.resolved_backend().as_str(),
        record.search.generations,
        record.search.samples,
        record.budget,
        record.search.seed
    );
    if let Some(d) = &record.described {
        let fitness = std::fs::read_to_string(store.root().join(super::FITNESS_FILE))
            .unwrap_or_else(|_| "(fitness.rhai is missing)".to_string());
        let _ = writeln!(
            md,
            "**This task was described in the user's own words (environment `{}`), so its fitness is machine-written**: the program below, written by `{}` from the description and checked in the sandbox, measured every candidate and the final evaluation. Read it before trusting the numbers.\n\n```rhai\n{}\n```\n",
            d.env,
            record.llm.resolved_backend().as_str(),
            fitness.trim_end()
        );
    }
    if let Some(stop) = &summary.stopped {
        let _ = writeln!(md, "**Stopped early:** {stop}\n");
    }
    let _ = writeln!(
        md,
        "## Generations\n\n| generation | candidate | fitness | failure |\n|---|---|---|---|"
    );
    for g in &summary.generations {
        for c in &g.candidates {
            let mark = if g.best == Some(c.index) { " ★" } else { "" };
            let _ = writeln!(
                md,
                "| {} | {}{mark} | {} | {} |",
                g.generation,
                c.index,
                fmt_opt(c.fitness),
                c.failure
                    .as_deref()
                    .unwrap_or("")
                    .replace('|', "\\|")
                    .replace('\n', " ")
            );
        }
    }
    let mut charts = Vec::new();
    let best_per_gen: Vec<f64> = summary
        .generations
        .iter()
        .map(|g| {
            g.candidates
                .iter()
                .filter_map(|c| c.fitness)
                .fold(f64::NAN, f64::max)
        })
        .collect();
    charts.push(svg_chart(&Chart {
        title: "best fitness per generation",
        x_desc: "generation",
        xs: summary
            .generations
            .iter()
            .map(|g| i64::try_from(g.generation).unwrap_or(i64::MAX))
            .collect(),
        series: vec![("best".to_string(), best_per_gen)],
    }));
    if let Some(b) = &summary.best {
        let _ = writeln!(
            md,
            "\n## Best reward (generation {}, candidate {}, fitness {:.4})\n\n```rhai\n{}\n```",
            b.generation,
            b.candidate,
            b.fitness,
            b.reward.trim_end()
        );
        let result: Option<Outcome> = read_json(
            &store
                .candidate_dir(b.generation, b.candidate)
                .join(files::RESULT),
        )?;
        if let Some(Outcome::Trained {
            report, analysis, ..
        }) = result
        {
            charts.extend(training_charts(&report).iter().map(svg_chart));
            let _ = writeln!(md, "\n### What the policy did\n\n{}", analysis.describe());
        }
    } else {
        let _ = writeln!(md, "\nNo candidate trained successfully.");
    }
    if let Some(f) = &summary.final_eval {
        let _ = writeln!(
            md,
            "\n## Final evaluation ({} seeds × {} env steps)\n\n{}\nHuman-normalised score (F − F_sparse) / |F_human − F_sparse|: {}",
            f.best.values.len(),
            f.budget,
            f.markdown_table(),
            f.score_text()
        );
    }
    let _ = writeln!(
        md,
        "\n## LLM usage\n\n{} calls, {} HTTP requests, {} prompt + {} completion tokens, ${:.4}",
        summary.llm.calls,
        summary.llm.requests,
        summary.llm.prompt_tokens,
        summary.llm.completion_tokens,
        summary.llm.cost_usd
    );
    let rollouts = rendered_rollouts(store, summary);
    if !rollouts.is_empty() {
        let _ = writeln!(md, "\n## Rollouts\n");
        for (g, c, rel) in &rollouts {
            let _ = writeln!(
                md,
                "- generation {}, candidate {}: [{rel}]({rel})",
                g, c.index
            );
        }
        let pictures: Vec<String> = rollouts
            .iter()
            .map(|(g, c, rel)| {
                format!(
                    "<figure style=\"margin:0\"><a href=\"{rel}\"><img src=\"{rel}\" width=\"256\"></a><figcaption>generation {g}, candidate {}{}</figcaption></figure>",
                    c.index,
                    c.fitness.map_or(String::new(), |f| format!(", fitness {f:.4}"))
                )
            })
            .collect();
        charts.push(format!(
            "<h2>Rollouts</h2><div style=\"display:flex;flex-wrap:wrap;gap:1em\">{}</div>",
            pictures.join("")
        ));
    }
    write_atomic(&store.root().join(files::REPORT_MD), md.as_bytes())?;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>rewardsmith: {}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}pre{{background:#f4f4f4;padding:1em;overflow:auto}}</style>\
         </head><body>{}<pre>{}</pre></body></html>",
        esc(&task.name),
        charts.join(""),
        esc(&md)
    );
    write_atomic(&store.root().join(files::REPORT_HTML), html.as_bytes())
}

/// Every candidate with a rendered rollout: generation, candidate, and the
/// picture's path relative to the report.
fn rendered_rollouts<'s>(
    store: &RunStore,
    summary: &'s RunSummary,
) -> Vec<(usize, &'s CandidateLine, String)> {
    let mut out = Vec::new();
    for g in &summary.generations {
        for c in &g.candidates {
            let rel = format!(
                "gen-{:03}/cand-{:02}/{}",
                g.generation,
                c.index,
                crate::feedback::ROLLOUT_GIF
            );
            if store.root().join(&rel).exists() {
                out.push((g.generation, c, rel));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewardsmith_core::Checkpoint;

    fn report(steps: &[u64], fitness: &[f64], comps: &[(&str, &[f64])]) -> TrainReport {
        TrainReport {
            task: "t".into(),
            components: comps.iter().map(|(n, _)| (*n).to_string()).collect(),
            checkpoints: steps
                .iter()
                .enumerate()
                .map(|(i, &env_steps)| Checkpoint {
                    env_steps,
                    components: comps.iter().map(|(_, c)| c[i]).collect(),
                    episode_return: f64::NAN,
                    episode_length: f64::NAN,
                    fitness: fitness[i],
                })
                .collect(),
            env_steps: steps.last().copied().unwrap_or(0),
            final_fitness: 0.0,
            max_fitness: 0.0,
            wall_s: 1.0,
            env_steps_per_sec: 1.0,
        }
    }

    #[test]
    fn training_charts_are_plots_with_caption_axes_and_a_named_line_per_curve() {
        let r = report(
            &[2048, 4096, 6144],
            &[0.1, 0.4, 0.7],
            &[
                ("forward", &[0.5, 0.8, 1.1]),
                ("energy<&>", &[-0.2, -0.1, -0.05]),
            ],
        );
        let [fitness, comps] = training_charts(&r);
        let svg = svg_chart(&comps);
        assert!(svg.starts_with("<figure><svg"), "{svg}");
        assert!(svg.contains("reward components (per-step mean)"));
        assert!(svg.contains("env steps") && svg.contains("value"));
        assert!(
            svg.contains(">\nforward\n<") || svg.contains(">forward<"),
            "{svg}"
        );
        assert!(
            svg.contains("energy&lt;&amp;&gt;"),
            "legend names are escaped"
        );
        // Each curve is one polyline, and so is its legend swatch.
        for color in ["#1F77B4", "#D62728"] {
            let lines = svg
                .match_indices("<polyline")
                .filter(|(i, _)| {
                    svg[*i..]
                        .split('>')
                        .next()
                        .is_some_and(|t| t.contains(color))
                })
                .count();
            assert_eq!(lines, 2, "{color} in {svg}");
        }
        let svg = svg_chart(&fitness);
        assert!(svg.contains("fitness during training"));
        assert!(svg.contains("4k"), "env steps are labelled short: {svg}");
    }

    #[test]
    fn nan_single_point_and_flat_curves_draw_without_panicking() {
        let chart = |xs: Vec<i64>, series: Vec<(String, Vec<f64>)>| {
            svg_chart(&Chart {
                title: "t",
                x_desc: "x",
                xs,
                series,
            })
        };
        let one = chart(vec![7], vec![("one".into(), vec![0.25])]);
        assert!(one.contains("<svg") && one.contains("<circle"), "{one}");
        let flat = chart(vec![1, 2, 3], vec![("flat".into(), vec![2.0; 3])]);
        assert!(flat.contains("<polyline"), "{flat}");
        let gaps = chart(
            vec![1, 2, 3, 4],
            vec![
                ("gaps".into(), vec![f64::NAN, 1.0, f64::INFINITY, 3.0]),
                ("none".into(), vec![f64::NAN; 4]),
            ],
        );
        assert!(gaps.contains("gaps") && gaps.contains("none"), "{gaps}");
        let huge = chart(vec![0, 1], vec![("huge".into(), vec![-f64::MAX, f64::MAX])]);
        assert!(huge.contains("<svg"));
        assert_eq!(
            chart(vec![1, 2], vec![("nan".into(), vec![f64::NAN; 2])]),
            ""
        );
        assert_eq!(chart(vec![], vec![]), "");
    }
}
