//! `report.md` and `report.html`: the run folder read back for people.
//!
//! `report.html` is one self-contained page (inline CSS, no script but an
//! error catcher, no network) that links only the run's own pictures by
//! relative path: a header (task, designer, seed, date, wall time, env steps,
//! tokens and cost), the verdict in words, the final table, a best-so-far
//! curve with every candidate as a point, then one card per candidate (its
//! highlighted code, curves, rollout, checks, failure) and the LLM exchange
//! folded away. [`write_live_report`] writes the same page mid-run from what
//! the folder holds so far; [`write_reports`] writes it once the run is done.
//!
//! Everything that comes from a program or an LLM is HTML-escaped. The curves
//! are inline SVG drawn by `plotters`' SVG backend; plotters is built without
//! its font features, so text is written as SVG `<text>` for the browser to
//! render and no system font is needed.

use super::candidate::Outcome;
use super::record::{
    BestRecord, CandidateLine, FinalReport, GenerationRecord, RunRecord, RunSummary, SeedStats,
    Timing, best_candidate,
};
use super::store::{RunStore, files, read_json, write_atomic};
use crate::llm::Recorder;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rewardsmith_core::{Task, TrainReport};
use std::fmt::Write as _;
use std::path::Path;

/// `s` escaped for HTML text and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
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

/// The best-so-far fitness after each generation as a line, and every trained
/// candidate's fitness as a point at its generation, as an inline `<figure>`
/// (nothing when no candidate trained).
fn progress_chart(generations: &[GenerationRecord]) -> String {
    let mut svg = String::new();
    match draw_progress(generations, &mut svg) {
        Ok(true) => format!("<figure>{svg}</figure>"),
        Ok(false) => String::new(),
        Err(e) => {
            tracing::warn!(error = %e, "report progress chart not drawn");
            String::new()
        }
    }
}

/// Draws [`progress_chart`] into `out`; `false` when there is nothing to draw.
fn draw_progress(
    generations: &[GenerationRecord],
    out: &mut String,
) -> Result<bool, DrawingAreaErrorKind<std::io::Error>> {
    let points: Vec<(f64, f64)> = generations
        .iter()
        .flat_map(|g| {
            g.candidates.iter().filter_map(move |c| {
                c.fitness
                    .filter(|f| f.is_finite())
                    .map(|f| (g.generation as f64, f.clamp(-Y_LIMIT, Y_LIMIT)))
            })
        })
        .collect();
    let mut best_so_far = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for g in generations {
        for f in g.candidates.iter().filter_map(|c| c.fitness) {
            if f.is_finite() {
                best = best.max(f.clamp(-Y_LIMIT, Y_LIMIT));
            }
        }
        if best.is_finite() {
            best_so_far.push((g.generation as f64, best));
        }
    }
    let Some((y_lo, y_hi)) = bounds(points.iter().map(|&(_, y)| y)) else {
        return Ok(false);
    };
    let x_hi = generations.last().map_or(0.0, |g| g.generation as f64);
    let pad = if y_hi - y_lo <= 1e-9 * y_lo.abs().max(y_hi.abs()).max(1.0) {
        (y_hi.abs() * 0.1).max(0.5)
    } else {
        (y_hi - y_lo) * 0.05
    };
    let y_span = y_hi - y_lo + 2.0 * pad;
    let y_magnitude = y_lo.abs().max(y_hi.abs());
    let legend_w = 160;
    let root =
        SVGBackend::with_string(out, (CHART_SIZE.0 + legend_w, CHART_SIZE.1)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(CHART_SIZE.0);
    let mut ctx = ChartBuilder::on(&plot)
        .caption("fitness by generation", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..x_hi + 0.5, (y_lo - pad)..(y_hi + pad))?;
    ctx.configure_mesh()
        .max_light_lines(0)
        .x_desc("generation")
        .y_desc("fitness")
        .x_labels(generations.len().clamp(1, 20))
        .x_label_formatter(&|&x| {
            if (x - x.round()).abs() < 1e-6 && x >= 0.0 {
                format!("{}", x.round())
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|&y| value_label(y, y_span, y_magnitude))
        .draw()?;
    let (line, dot) = (COLORS[0], COLORS[4]);
    ctx.draw_series(
        points
            .iter()
            .map(|&(x, y)| Circle::new((x, y), 4, dot.mix(0.7).filled())),
    )?;
    ctx.draw_series(
        LineSeries::new(best_so_far.iter().copied(), line.stroke_width(2)).point_size(3),
    )?;
    let label_style =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let y0 = i32::try_from(LEGEND_TOP).unwrap_or(0);
    legend.draw(&PathElement::new([(0, y0), (24, y0)], line.stroke_width(2)))?;
    legend.draw(&Text::new("best so far", (30, y0), &label_style))?;
    legend.draw(&Circle::new((12, y0 + 20), 4, dot.mix(0.7).filled()))?;
    legend.draw(&Text::new("a candidate", (30, y0 + 20), &label_style))?;
    root.present()?;
    Ok(true)
}

/// Rhai's keywords, for the highlighting of programs.
const RHAI_KEYWORDS: [&str; 28] = [
    "let",
    "const",
    "fn",
    "if",
    "else",
    "while",
    "loop",
    "for",
    "in",
    "do",
    "until",
    "return",
    "break",
    "continue",
    "switch",
    "throw",
    "try",
    "catch",
    "true",
    "false",
    "this",
    "import",
    "export",
    "as",
    "private",
    "global",
    "is_def_fn",
    "Fn",
];

/// `src` as HTML with light highlighting: keywords, numbers, strings and
/// comments wrapped in `<span class>` (`k`, `n`, `s`, `c`), every piece escaped.
fn highlight_rhai(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let n = chars.len();
    let at = |i: usize| chars.get(i).copied();
    let mut out = String::with_capacity(src.len() * 2);
    let mut i = 0;
    while i < n {
        let start = i;
        let c = chars[i];
        let class = if c == '/' && at(i + 1) == Some('/') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            Some("c")
        } else if c == '/' && at(i + 1) == Some('*') {
            i += 2;
            while i < n && !(chars[i] == '*' && at(i + 1) == Some('/')) {
                i += 1;
            }
            i += 2;
            Some("c")
        } else if c == '"' || c == '`' {
            i += 1;
            while i < n && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            Some("s")
        } else if c.is_ascii_digit() {
            while i < n
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '_'
                    || (chars[i] == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 1;
            }
            Some("n")
        } else if c.is_alphabetic() || c == '_' {
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            RHAI_KEYWORDS.contains(&word.as_str()).then_some("k")
        } else {
            i += 1;
            None
        };
        i = i.min(n);
        let text: String = chars[start..i].iter().collect();
        match class {
            Some(k) => {
                let _ = write!(out, "<span class=\"{k}\">{}</span>", esc(&text));
            }
            None => out.push_str(&esc(&text)),
        }
    }
    out
}

/// Writes `report.md` and `report.html` of a finished run into its folder.
///
/// # Errors
/// [`Error::Other`](crate::Error::Other): the files cannot be written, or a
/// file of the run folder is corrupt.
pub fn write_reports(
    store: &RunStore,
    task: &Task,
    record: &RunRecord,
    summary: &RunSummary,
) -> Result<(), crate::Error> {
    write_both(store, task, record, summary, false).map_err(crate::Error::Other)
}

/// Rewrites `report.md` and `report.html` mid-run from what the run folder
/// holds so far (every concluded generation, the LLM record), so a person can
/// open the page while the search goes on. The page says the run is still
/// going and reloads itself every [`LIVE_REFRESH_S`] seconds; the run's end
/// replaces it with [`write_reports`]' page.
///
/// # Errors
/// The files cannot be written, or a file of the run folder is corrupt.
pub fn write_live_report(store: &RunStore, task: &Task, record: &RunRecord) -> anyhow::Result<()> {
    // Candidates finish on several threads at once; one page is written at a
    // time (each write is atomic, but they share a temporary file).
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = WRITING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let summary = summary_so_far(store, task, record)?;
    write_both(store, task, record, &summary, true)
}

/// Generations concluded so far (a generation under way has no feedback for
/// the next one yet).
fn concluded(summary: &RunSummary) -> usize {
    summary
        .generations
        .iter()
        .filter(|g| !g.next_feedback.is_empty())
        .count()
}

/// The generation under way, as far as its finished candidates go (their
/// `result.json`); `None` when none has finished yet.
fn generation_under_way(store: &RunStore, g: usize, samples: usize) -> Option<GenerationRecord> {
    let candidates: Vec<CandidateLine> = (0..samples)
        .filter_map(|i| {
            let outcome =
                read_json::<Outcome>(&store.candidate_file(g, i, files::RESULT)).ok()??;
            Some(CandidateLine {
                index: i,
                fitness: outcome.fitness(),
                failure: outcome.failure(),
            })
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let best = best_candidate(&candidates);
    Some(GenerationRecord {
        generation: g,
        candidates,
        best,
        next_answer: None,
        next_feedback: String::new(),
    })
}

/// Seconds between reloads of a live page: often enough to follow a search
/// whose generations take minutes, rarely enough not to disturb reading.
pub const LIVE_REFRESH_S: u32 = 30;

/// A summary of the run so far, from its folder: the concluded generations,
/// the best candidate among them, the LLM usage; no final evaluation.
fn summary_so_far(store: &RunStore, task: &Task, record: &RunRecord) -> anyhow::Result<RunSummary> {
    let mut generations: Vec<GenerationRecord> = Vec::new();
    let mut best: Option<BestRecord> = None;
    for g in 0..record.search.generations {
        let concluded =
            read_json::<GenerationRecord>(&store.generation_file(g, files::GENERATION))?;
        let under_way = concluded.is_none();
        let Some(done) =
            concluded.or_else(|| generation_under_way(store, g, record.search.samples))
        else {
            break;
        };
        let gen_best = done
            .best
            .and_then(|b| done.candidates.iter().find(|c| c.index == b))
            .and_then(|c| c.fitness.map(|f| (c.index, f)));
        if let Some((b, fitness)) = gen_best
            && best.as_ref().is_none_or(|cur| fitness > cur.fitness)
        {
            let success =
                read_json::<super::candidate::Outcome>(&store.candidate_file(g, b, files::RESULT))
                    .ok()
                    .flatten()
                    .and_then(|o| match o {
                        super::candidate::Outcome::Trained { report, .. } => report.best?.success,
                        _ => None,
                    });
            best = Some(BestRecord {
                generation: g,
                candidate: b,
                fitness,
                success,
                reward: std::fs::read_to_string(store.candidate_file(g, b, files::REWARD_RHAI))
                    .unwrap_or_default(),
            });
        }
        generations.push(done);
        if under_way {
            break;
        }
    }
    Ok(RunSummary {
        run_dir: store.root().to_path_buf(),
        task: task.name.clone(),
        best,
        generations,
        final_eval: None,
        llm: Recorder::totals(&store.llm_dir()).unwrap_or_default(),
        stopped: None,
        timing: Timing::default(),
    })
}

fn write_both(
    store: &RunStore,
    task: &Task,
    record: &RunRecord,
    summary: &RunSummary,
    live: bool,
) -> anyhow::Result<()> {
    let md = markdown(store, task, record, summary)?;
    write_atomic(&store.root().join(files::REPORT_MD), md.as_bytes())?;
    let html = html_page(store, task, record, summary, live);
    write_atomic(&store.root().join(files::REPORT_HTML), html.as_bytes())
}

/// `report.md`: the run in Markdown.
fn markdown(
    store: &RunStore,
    task: &Task,
    record: &RunRecord,
    summary: &RunSummary,
) -> anyhow::Result<String> {
    let mut md = String::new();
    md_header(&mut md, store, task, record);
    if let Some(stop) = &summary.stopped {
        let _ = writeln!(md, "**Stopped early:** {stop}\n");
    }
    md_generations(&mut md, summary);
    md_best(&mut md, store, summary)?;
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
        "\n## LLM usage\n\n{} calls, {} HTTP requests, {} prompt + {} completion tokens, cost {}",
        summary.llm.calls,
        summary.llm.requests,
        summary.llm.prompt_tokens,
        summary.llm.completion_tokens,
        record.llm.cost_text(summary.llm.cost_usd)
    );
    let rollouts: Vec<(usize, usize, String)> = summary
        .generations
        .iter()
        .flat_map(|g| {
            g.candidates.iter().filter_map(|c| {
                rollout_picture(store, g.generation, c.index)
                    .map(|rel| (g.generation, c.index, rel))
            })
        })
        .collect();
    if !rollouts.is_empty() {
        let _ = writeln!(md, "\n## Rollouts\n");
        for (g, c, rel) in &rollouts {
            let _ = writeln!(md, "- generation {g}, candidate {c}: [{rel}]({rel})");
        }
    }
    Ok(md)
}

/// `report.md`'s title, settings and, for a described task, its fitness.
fn md_header(md: &mut String, store: &RunStore, task: &Task, record: &RunRecord) {
    let _ = writeln!(md, "# rewardsmith run: `{}`\n", task.name);
    let _ = writeln!(md, "{}\n", task.description);
    let _ = writeln!(
        md,
        "- fitness: {}\n- reward writer: {}\n- {} generations × {} samples, {} env steps per candidate, seed {}\n",
        task.fitness.doc,
        designer_words(
            record,
            record
                .llm
                .resolved_model()
                .as_deref()
                .unwrap_or("as recorded"),
        ),
        record.search.generations,
        record.search.samples,
        record.budget,
        record.search.seed
    );
    if let Some(d) = &record.described {
        let fitness = std::fs::read_to_string(store.root().join(files::FITNESS))
            .unwrap_or_else(|_| "(fitness.rhai is missing)".to_string());
        if let Ok(Some(reading)) = super::described::load_fitness_reading(store.root()) {
            let _ = writeln!(md, "{}", reading.markdown());
        }
        let _ = writeln!(
            md,
            "**This task was described in the user's own words (environment `{}`), so its fitness is machine-written**: the program below, written by `{}` from the description and checked in the sandbox, measured every candidate and the final evaluation. Read it before trusting the numbers.\n\n```rhai\n{}\n```\n",
            d.env,
            record.llm.resolved_backend().as_str(),
            fitness.trim_end()
        );
    }
}

/// `report.md`'s table of every candidate of every generation.
fn md_generations(md: &mut String, summary: &RunSummary) {
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
}

/// `report.md`'s best reward and what its policy did.
fn md_best(md: &mut String, store: &RunStore, summary: &RunSummary) -> anyhow::Result<()> {
    if let Some(b) = &summary.best {
        let _ = writeln!(
            md,
            "\n## Best reward (generation {}, candidate {}, fitness {:.4})\n\n```rhai\n{}\n```",
            b.generation,
            b.candidate,
            b.fitness,
            b.reward.trim_end()
        );
        let result: Option<Outcome> =
            read_json(&store.candidate_file(b.generation, b.candidate, files::RESULT))?;
        if let Some(Outcome::Trained { analysis, .. }) = result {
            let _ = writeln!(md, "\n### What the policy did\n\n{}", analysis.describe());
        }
    } else {
        let _ = writeln!(md, "\nNo candidate trained successfully.");
    }
    Ok(())
}

/// The page's style: a readable column, cards, a highlighted program.
const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:72em;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:bold;padding:.3em 0}\
.facts th{width:10em}.verdict{font-size:1.2em;padding:.8em 1em;border-left:6px solid #888;background:#f6f6f6}\
.verdict.good{border-color:#2ca02c;background:#eef8ee}.verdict.bad{border-color:#d62728;background:#fbeeee}\
.live{padding:.5em 1em;background:#fff7d6;border:1px solid #e6c84f}\
.card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:1em 0}.card.best{border:2px solid #2ca02c}\
.card h3{margin:.2em 0}.failure{color:#a00;white-space:pre-wrap}.badge{font-weight:normal;color:#555}\
pre{background:#f6f6f6;padding:.7em;overflow:auto;white-space:pre-wrap;word-break:break-word}\
.k{color:#8b008b;font-weight:bold}.n{color:#1f5fb4}.s{color:#2a7d2a}.c{color:#888;font-style:italic}\
figure{margin:.4em 0}figure svg{max-width:100%;height:auto}.media{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}\
img.rollout{max-width:320px;border:1px solid #ccc}details{margin:.5em 0}summary{cursor:pointer}";

/// Writes an uncaught script error into the page (`#script-error`), so a
/// browser test sees it in the DOM; the page has no other script.
const ERROR_CATCHER: &str = "window.onerror=function(m,s,l){var p=document.createElement('p');p.id='script-error';p.textContent='script error: '+m+' ('+s+':'+l+')';(document.body||document.documentElement).appendChild(p);};";

/// `report.html`.
fn html_page(
    store: &RunStore,
    task: &Task,
    record: &RunRecord,
    summary: &RunSummary,
    live: bool,
) -> String {
    let mut h = String::new();
    let refresh = if live {
        format!("<meta http-equiv=\"refresh\" content=\"{LIVE_REFRESH_S}\">")
    } else {
        String::new()
    };
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>rewardsmith: {}</title><style>{CSS}</style><script>{ERROR_CATCHER}</script></head><body>",
        esc(&task.name)
    );
    h.push_str(&header(store, task, record, summary));
    if live {
        live_note(&mut h, record, summary);
    }
    if let Some(stop) = &summary.stopped {
        let _ = write!(
            h,
            "<p class=\"live\"><b>Stopped early:</b> {}</p>",
            esc(stop)
        );
    }
    if let Some(d) = &record.described {
        described_fitness(&mut h, store, d);
    }
    let (class, words) = verdict(record, summary, live);
    let _ = write!(
        h,
        "<section id=\"verdict\"><h2>Verdict</h2><p class=\"verdict {class}\">{}</p>",
        esc(&words)
    );
    if let Some(f) = &summary.final_eval {
        h.push_str(&final_table(f));
    }
    h.push_str("</section>");
    let trained = summary
        .generations
        .iter()
        .flat_map(|g| &g.candidates)
        .filter(|c| c.fitness.is_some())
        .count();
    let total: usize = summary.generations.iter().map(|g| g.candidates.len()).sum();
    let _ = write!(
        h,
        "<section id=\"progress\"><h2>Search progress</h2><p>{trained} of {total} candidates trained{}. \
         The line is the best fitness found up to each generation; each dot is one candidate's \
         fitness after its search training.</p>{}</section>",
        if trained < total {
            "; the others failed (see their cards)"
        } else {
            ""
        },
        progress_chart(&summary.generations)
    );
    generation_sections(&mut h, store, summary);
    h.push_str(&llm_exchange(store));
    let _ = write!(
        h,
        "<footer><p>Files: <a href=\"{0}\">{0}</a> · <a href=\"{1}\">{1}</a> · <a href=\"{2}\">{2}</a> · <a href=\"{3}\">{3}</a></p></footer></body></html>",
        files::REPORT_MD,
        files::EVENTS,
        files::RUN,
        files::SUMMARY
    );
    h
}

/// The live page's note: how far the search is.
fn live_note(h: &mut String, record: &RunRecord, summary: &RunSummary) {
    let partial = summary
        .generations
        .last()
        .filter(|g| g.next_feedback.is_empty())
        .map_or(String::new(), |g| {
            format!(
                "; {} candidate(s) of generation {} finished",
                g.candidates.len(),
                g.generation
            )
        });
    let _ = write!(
        h,
        "<p class=\"live\" id=\"live\">The search is still running: {} of {} generations done{partial}. \
         This page is rewritten after every finished candidate and reloads itself every {LIVE_REFRESH_S} s.</p>",
        concluded(summary),
        record.search.generations
    );
}

/// A described task's fitness program and its reading.
fn described_fitness(h: &mut String, store: &RunStore, d: &super::described::DescribedTask) {
    let fitness = std::fs::read_to_string(store.root().join(files::FITNESS))
        .unwrap_or_else(|_| "(fitness.rhai is missing)".to_string());
    let _ = write!(
        h,
        "<section id=\"fitness\"><h2>How the task is measured</h2><p>This task was described in the \
         user's own words (environment <code>{}</code>), so its fitness is <b>machine-written</b>: \
         the program below, written by the designer from the description and checked in the \
         sandbox, measured every candidate and the final evaluation. Read it before trusting \
         the numbers.</p><pre class=\"code\">{}</pre></section>",
        esc(&d.env),
        highlight_rhai(fitness.trim_end())
    );
    if let Ok(Some(reading)) = super::described::load_fitness_reading(store.root()) {
        h.push_str(&reading_html(&reading));
    }
}

/// One section per generation: its candidates' cards and its reflection.
fn generation_sections(h: &mut String, store: &RunStore, summary: &RunSummary) {
    for g in &summary.generations {
        let _ = write!(
            h,
            "<section class=\"generation\" id=\"gen-{0}\"><h2>Generation {0}</h2>",
            g.generation
        );
        for c in &g.candidates {
            let run_best = summary
                .best
                .as_ref()
                .is_some_and(|b| b.generation == g.generation && b.candidate == c.index);
            h.push_str(&candidate_card(store, g, c, run_best));
        }
        let _ = write!(
            h,
            "<details><summary>Reflection sent to the designer after generation {}</summary><pre>{}</pre></details></section>",
            g.generation,
            esc(g.next_feedback.trim_end())
        );
    }
}

/// The page's header: what was searched, by whom, when, and at what cost.
fn header(store: &RunStore, task: &Task, record: &RunRecord, summary: &RunSummary) -> String {
    let (started, elapsed) = event_span(store);
    let what = record
        .described
        .as_ref()
        .map_or(task.description.as_str(), |d| d.description.as_str());
    let model = record
        .llm
        .resolved_model()
        .unwrap_or_else(|| "as recorded".to_string());
    let wall = if summary.timing.total_s > 0.0 {
        format!("{:.1} s", summary.timing.total_s)
    } else {
        elapsed.map_or("—".to_string(), |s| format!("{s:.1} s so far"))
    };
    let search_steps: u64 = summary
        .generations
        .iter()
        .flat_map(|g| {
            g.candidates.iter().filter_map(|c| {
                match read_json::<Outcome>(&store.candidate_file(
                    g.generation,
                    c.index,
                    files::RESULT,
                )) {
                    Ok(Some(Outcome::Trained { report, .. })) => Some(report.env_steps),
                    _ => None,
                }
            })
        })
        .sum();
    let mut steps = format!("{search_steps} in the search's trainings");
    if let Some(f) = &summary.final_eval {
        let runs = f.best.values.len()
            + f.human.as_ref().map_or(0, |s| s.values.len())
            + f.sparse.as_ref().map_or(0, |s| s.values.len());
        let _ = write!(
            steps,
            " + {} in the final evaluation ({runs} trainings × {})",
            f.budget.saturating_mul(runs as u64),
            f.budget
        );
    }
    let u = &summary.llm;
    let rows = [
        (
            "task",
            record.described.as_ref().map_or(task.name.clone(), |d| {
                format!(
                    "{} (described by the user, environment {})",
                    task.name, d.env
                )
            }),
        ),
        ("fitness", task.fitness.doc.to_string()),
        ("designer", designer_words(record, &model)),
        (
            "search",
            format!(
                "{} generations × {} samples, {} env steps per candidate",
                record.search.generations, record.search.samples, record.budget
            ),
        ),
        ("seed", record.search.seed.to_string()),
        ("started", started.unwrap_or_else(|| "—".to_string())),
        ("wall time", wall),
        ("env steps", steps),
        (
            "LLM",
            format!(
                "{} calls, {} HTTP requests, {} prompt + {} completion tokens, cost {}",
                u.calls,
                u.requests,
                u.prompt_tokens,
                u.completion_tokens,
                record.llm.cost_text(u.cost_usd)
            ),
        ),
    ];
    let mut h = format!(
        "<header><h1>rewardsmith: {}</h1><p>{}</p><table class=\"facts\">",
        esc(&task.name),
        esc(what)
    );
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    h.push_str("</table></header>");
    h
}

/// When the run began (its first event's UTC time) and the seconds since then
/// at its last event, from `events.jsonl`.
fn event_span(store: &RunStore) -> (Option<String>, Option<f64>) {
    let Ok(text) = std::fs::read_to_string(store.root().join(files::EVENTS)) else {
        return (None, None);
    };
    let stamped: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let started = stamped
        .iter()
        .find_map(|v| v["ts"].as_str().map(str::to_string));
    let elapsed = stamped.iter().rev().find_map(|v| v["elapsed_s"].as_f64());
    (started, elapsed)
}

/// `mean (95% interval lo to hi)` for people.
fn stats_words(s: &SeedStats) -> String {
    match s.ci95 {
        Some([lo, hi]) => format!("{:.4} (95% interval {lo:.4} to {hi:.4})", s.mean),
        None => format!("{:.4} (one seed, no interval)", s.mean),
    }
}

/// How the best reward compares with the human-written one: the verb and
/// whether that is good news. With intervals on both sides, "matches" means
/// the 95% intervals overlap; with one seed, the means are compared.
fn compare(best: &SeedStats, human: &SeedStats) -> (&'static str, &'static str) {
    let (b, h) = match (best.ci95, human.ci95) {
        (Some([bl, bh]), Some([hl, hh])) => {
            if bl > hh {
                (1, 0)
            } else if bh < hl {
                (0, 1)
            } else {
                (0, 0)
            }
        }
        _ => (
            i32::from(best.mean > human.mean),
            i32::from(best.mean < human.mean),
        ),
    };
    match b.cmp(&h) {
        std::cmp::Ordering::Greater => ("exceeds", "good"),
        std::cmp::Ordering::Less => ("falls short of", "bad"),
        std::cmp::Ordering::Equal => ("matches", "good"),
    }
}

/// Who wrote the rewards, in words: the offline designer says what it is.
fn designer_words(record: &RunRecord, model: &str) -> String {
    match record.llm.resolved_backend() {
        crate::llm::Backend::Builtin => "the offline designer: a seeded composer and mutator of \
            reward terms (a baseline and an offline fallback, not a language model)"
            .to_string(),
        crate::llm::Backend::Replay => format!("a replayed transcript · model {model}"),
        crate::llm::Backend::Openai => format!("a language model · {model}"),
    }
}

/// A described task's reading (what the fitness was understood as, and its
/// dry run) as a block of the page; a reading line in `**…**` (words left
/// unmeasured under `--accept-partial-fitness`) is shown in bold.
fn reading_html(reading: &super::described::FitnessReading) -> String {
    let mut h = format!(
        "<section id=\"reading\"><h2>What the task was understood as</h2><p>The description: \
         \"{}\"</p><p>The fitness program, written by {}, reads:</p><blockquote>",
        esc(&reading.description),
        esc(&reading.written_by)
    );
    for line in &reading.reading {
        let line = line.trim();
        match line.strip_prefix("**").and_then(|l| l.strip_suffix("**")) {
            Some(bold) => {
                let _ = write!(h, "<p><strong>{}</strong></p>", esc(bold));
            }
            None => {
                let _ = write!(h, "<p>{}</p>", esc(line));
            }
        }
    }
    h.push_str(
        "</blockquote><table><tr><th>dry run (before training)</th><th>mean fitness</th>\
         <th>episodes</th></tr>",
    );
    for d in &reading.dry_run {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.4}</td><td>{}</td></tr>",
            esc(&d.behaviour),
            d.mean(),
            d.values.len()
        );
    }
    h.push_str("</table>");
    if !reading.answers.is_empty() {
        h.push_str("<p>The person's answers before the search:</p><ol>");
        for line in reading.answer_lines() {
            let _ = write!(h, "<li>{}</li>", esc(&line));
        }
        h.push_str("</ol>");
    }
    h.push_str("</section>");
    h
}

/// Whether the search succeeded, in words, and the verdict's style class.
fn verdict(record: &RunRecord, summary: &RunSummary, live: bool) -> (&'static str, String) {
    if let Some(f) = &summary.final_eval {
        let seeds = f.best.values.len();
        let score = match f.normalized_score {
            Some(s) => format!(
                " Normalised score {s:.3} (0 = the sparse reward, 1 = the human-written one)."
            ),
            None => format!(" Normalised score: {}.", f.score_text()),
        };
        return match &f.human {
            Some(human) => {
                let (verb, class) = compare(&f.best, human);
                let why = if f.best.ci95.is_some() && human.ci95.is_some() {
                    if verb == "matches" {
                        "the 95% intervals overlap, so the difference is within the seeds' spread"
                    } else {
                        "the 95% intervals do not overlap"
                    }
                } else {
                    "one seed each, so this compares single numbers"
                };
                (
                    class,
                    format!(
                        "The search found a reward that {verb} the human-written one: over {seeds} seeds × {} env steps, the best reward reaches a fitness of {} against the human-written reward's {}; {why}.{score}",
                        f.budget,
                        stats_words(&f.best),
                        stats_words(human)
                    ),
                )
            }
            None => (
                "neutral",
                format!(
                    "The task has no human-written reward to compare with. Over {seeds} seeds × {} env steps, the best reward found reaches a fitness of {}{}.{score}",
                    f.budget,
                    stats_words(&f.best),
                    f.sparse.as_ref().map_or(String::new(), |s| format!(
                        ", the sparse reward {}",
                        stats_words(s)
                    ))
                ),
            ),
        };
    }
    let so_far = if live { " so far" } else { "" };
    match &summary.best {
        Some(b) => {
            let why = if live {
                format!(
                    "The search is still running ({} of {} generations done); the final evaluation against the human-written reward comes after the last generation.",
                    concluded(summary),
                    record.search.generations
                )
            } else {
                "There was no final evaluation (it was skipped), so there is no comparison with the human-written reward.".to_string()
            };
            (
                "neutral",
                format!(
                    "{why} The best candidate{so_far} (generation {}, candidate {}) reached a fitness of {:.4} in its one search training.",
                    b.generation, b.candidate, b.fitness
                ),
            )
        }
        None if live && summary.generations.is_empty() => (
            "neutral",
            "The search is still running: no generation is done yet.".to_string(),
        ),
        None => (
            "bad",
            format!(
                "No candidate trained successfully{so_far}, so there was no final evaluation: the search has found no usable reward{}.",
                if live { " yet" } else { "" }
            ),
        ),
    }
}

/// The final evaluation as an HTML table.
fn final_table(f: &FinalReport) -> String {
    let mut h = format!(
        "<table class=\"final\" id=\"final\"><caption>Final evaluation: {} seeds × {} env steps per training</caption>\
         <thead><tr><th>reward</th><th>fitness mean</th><th>std (n − 1)</th><th>95% interval of the mean</th><th>per seed</th><th>normalised score</th></tr></thead><tbody>",
        f.best.values.len(),
        f.budget
    );
    let anchored = f.normalized_score.is_some();
    for (name, stats, score) in [
        ("best found", Some(&f.best), f.score_text()),
        (
            "human-written",
            f.human.as_ref(),
            if anchored { "1 (by definition)" } else { "—" }.to_string(),
        ),
        (
            "sparse",
            f.sparse.as_ref(),
            if anchored { "0 (by definition)" } else { "—" }.to_string(),
        ),
    ] {
        match stats {
            Some(s) => {
                let ci = s.ci95.map_or("n/a (one seed)".to_string(), |[lo, hi]| {
                    format!("{lo:.4} to {hi:.4}")
                });
                let seeds: Vec<String> = s.values.iter().map(|v| format!("{v:.4}")).collect();
                let _ = write!(
                    h,
                    "<tr><th>{name}</th><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{ci}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    s.mean,
                    s.std,
                    seeds.join(", "),
                    esc(&score)
                );
            }
            None => {
                let _ = write!(
                    h,
                    "<tr><th>{name}</th><td colspan=\"5\">n/a (the task has none)</td></tr>"
                );
            }
        }
    }
    h.push_str("</tbody></table>");
    if let Some(x) = &f.success {
        let _ = write!(
            h,
            "<p id=\"success\">The best reward's policies met the task's success condition in \
             <b>{:.0}%</b> of held-out episodes (mean over seeds; per seed: {}).</p>",
            100.0 * x.mean,
            x.values
                .iter()
                .map(|v| format!("{:.0}%", 100.0 * v))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    h
}

/// The rollout picture of a candidate, relative to the run folder: the
/// animation, else the filmstrip, else nothing.
fn rollout_picture(store: &RunStore, generation: usize, candidate: usize) -> Option<String> {
    [files::ROLLOUT_GIF, files::ROLLOUT_PNG]
        .into_iter()
        .map(|name| store.candidate_file(generation, candidate, name))
        .find(|p| p.is_file())
        .and_then(|p| relative(store.root(), &p))
}

/// `path` relative to `root` with `/` separators, for a link in the page.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// One candidate's card: fitness or failure, its program, curves, rollout,
/// checks.
fn candidate_card(
    store: &RunStore,
    generation: &GenerationRecord,
    c: &CandidateLine,
    run_best: bool,
) -> String {
    let g = generation.generation;
    let mut badge = match c.fitness {
        Some(f) => format!("fitness {f:.4}"),
        None => "failed".to_string(),
    };
    if generation.best == Some(c.index) {
        badge.push_str(" · best of its generation");
    }
    if run_best {
        badge.push_str(" · ★ best of the run");
    }
    let mut h = format!(
        "<article class=\"card{best}\" id=\"gen-{g}-cand-{i}\"><h3>Generation {g}, candidate {i} <span class=\"badge\">{badge}</span></h3>",
        best = if run_best { " best" } else { "" },
        i = c.index,
        badge = esc(&badge)
    );
    if let Some(f) = &c.failure {
        let _ = write!(h, "<p class=\"failure\"><b>Failed:</b> {}</p>", esc(f));
    }
    card_program(&mut h, store, g, c.index);
    let outcome = read_json::<Outcome>(&store.candidate_file(g, c.index, files::RESULT));
    let mut media = String::new();
    let (check, extra) = match outcome {
        Ok(Some(Outcome::Trained {
            check,
            report,
            analysis,
            rungs,
        })) => {
            for chart in training_charts(&report) {
                media.push_str(&svg_chart(&chart));
            }
            (
                Some(check),
                format!(
                    "<p>{}{}</p><details><summary>What the trained policy did</summary><pre>{}</pre></details>",
                    esc(&super::reflection::figure_source(&report)),
                    rungs.map_or_else(String::new, |r| format!(" {}.", esc(&r.line()))),
                    esc(analysis.describe().trim_end())
                ),
            )
        }
        Ok(Some(Outcome::Rejected { check })) => (Some(check), String::new()),
        Ok(Some(Outcome::Criticised { check, reasons })) => {
            let items: String = reasons
                .iter()
                .map(|r| format!("<li>{}</li>", esc(r)))
                .collect();
            (
                Some(check),
                format!("<p>The LLM critic's reasons:</p><ul>{items}</ul>"),
            )
        }
        Ok(Some(Outcome::NoCode { .. } | Outcome::Crashed { .. }) | None) => (
            read_json(&store.candidate_file(g, c.index, files::CHECK))
                .ok()
                .flatten(),
            String::new(),
        ),
        Err(e) => (
            None,
            format!("<p class=\"failure\">{}</p>", esc(&format!("{e:#}"))),
        ),
    };
    if let Some(rel) = rollout_picture(store, g, c.index) {
        let _ = write!(
            media,
            "<figure><a href=\"{0}\"><img class=\"rollout\" src=\"{0}\" alt=\"rollout of generation {g}, candidate {1}\"></a><figcaption>rollout of the trained policy</figcaption></figure>",
            esc(&rel),
            c.index
        );
    }
    if !media.is_empty() {
        let _ = write!(h, "<div class=\"media\">{media}</div>");
    }
    if let Some(check) = check {
        checks_list(&mut h, &check);
    }
    h.push_str(&extra);
    h.push_str("</article>");
    h
}

/// A card's program: the reward, else the designer's answer that held none.
fn card_program(h: &mut String, store: &RunStore, g: usize, candidate: usize) {
    match std::fs::read_to_string(store.candidate_file(g, candidate, files::REWARD_RHAI)) {
        Ok(code) => {
            let _ = write!(
                h,
                "<pre class=\"code\">{}</pre>",
                highlight_rhai(code.trim_end())
            );
        }
        Err(_) => {
            if let Ok(text) =
                std::fs::read_to_string(store.candidate_file(g, candidate, files::COMPLETION))
            {
                let _ = write!(
                    h,
                    "<details><summary>The designer's answer (no program in it)</summary><pre>{}</pre></details>",
                    esc(text.trim_end())
                );
            }
        }
    }
}

/// A card's checks: the sandbox's errors and warnings.
fn checks_list(h: &mut String, check: &rewardsmith_sandbox::CheckReport) {
    let mut items = String::new();
    for e in &check.errors {
        let _ = write!(
            items,
            "<li class=\"failure\">error: {}</li>",
            esc(&e.to_string())
        );
    }
    for w in &check.warnings {
        let who = w
            .component
            .as_deref()
            .map_or(String::new(), |c| format!("{c}: "));
        let _ = write!(
            items,
            "<li>warning: {}</li>",
            esc(&format!("{who}{}", w.message))
        );
    }
    if items.is_empty() {
        items.push_str("<li>passed, no warnings</li>");
    }
    let _ = write!(
        h,
        "<p>Checks ({} dry-run calls, {:.1} µs each on average):</p><ul>{items}</ul>",
        check.calls, check.call_us_mean
    );
}

/// Every LLM call of the run, folded away: each request's messages and the
/// answers.
fn llm_exchange(store: &RunStore) -> String {
    let calls = match Recorder::read_dir(&store.llm_dir()) {
        Ok(calls) if !calls.is_empty() => calls,
        Ok(_) => return String::new(),
        Err(e) => {
            return format!(
                "<section id=\"llm\"><h2>LLM exchange</h2><p class=\"failure\">{}</p></section>",
                esc(&e.to_string())
            );
        }
    };
    let mut h = format!(
        "<section id=\"llm\"><h2>LLM exchange</h2><details><summary>{} calls (requests and answers)</summary>",
        calls.len()
    );
    for call in &calls {
        let usage = call.response.as_ref().map_or(String::new(), |r| {
            format!(
                ", {} prompt + {} completion tokens",
                r.usage.prompt_tokens, r.usage.completion_tokens
            )
        });
        let _ = write!(
            h,
            "<details><summary>{}</summary>",
            esc(&format!(
                "call {}: {} · {} · {} answer(s) asked, {} ms{usage}",
                call.index, call.backend, call.request.model, call.request.n, call.elapsed_ms
            ))
        );
        for m in &call.request.messages {
            let _ = write!(
                h,
                "<p><b>{}</b></p><pre>{}</pre>",
                m.role.as_str(),
                esc(m.content.trim_end())
            );
        }
        if let Some(r) = &call.response {
            for (k, c) in r.completions.iter().enumerate() {
                let _ = write!(
                    h,
                    "<p><b>answer {k}</b></p><pre>{}</pre>",
                    esc(c.text.trim_end())
                );
            }
        }
        if let Some(e) = &call.error {
            let _ = write!(h, "<p class=\"failure\">error: {}</p>", esc(e));
        }
        h.push_str("</details>");
    }
    h.push_str("</details></section>");
    h
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
            best: None,
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

    #[test]
    fn programs_are_highlighted_and_escaped() {
        let html = highlight_rhai(
            "// <b>hi</b> & bye\nfn f(s) { let x = 1.5e3 + s.v; \"</pre><script>\" }\n/* a < b */ x_1",
        );
        assert!(
            html.contains("<span class=\"c\">// &lt;b&gt;hi&lt;/b&gt; &amp; bye</span>"),
            "{html}"
        );
        assert!(html.contains("<span class=\"k\">fn</span>"));
        assert!(html.contains("<span class=\"k\">let</span>"));
        assert!(html.contains("<span class=\"n\">1.5e3</span>"), "{html}");
        assert!(
            html.contains("<span class=\"s\">&quot;&lt;/pre&gt;&lt;script&gt;&quot;</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"c\">/* a &lt; b */</span>"),
            "{html}"
        );
        assert!(!html.contains("<script") && !html.contains("</pre>"));
        assert!(
            html.ends_with(" x_1"),
            "identifiers are not keywords: {html}"
        );
        // Unterminated pieces end at the end of the text, without panicking.
        for src in ["\"open", "/* open", "`tick\\", "1.", "\\"] {
            let _ = highlight_rhai(src);
        }
    }

    fn stats(values: &[f64]) -> SeedStats {
        SeedStats::new(values.to_vec())
    }

    #[test]
    fn the_verdict_compares_intervals_with_the_human_written_reward() {
        let human = stats(&[0.5, 0.6, 0.7]);
        assert_eq!(compare(&stats(&[0.95, 0.96, 0.97]), &human).0, "exceeds");
        assert_eq!(
            compare(&stats(&[0.1, 0.15, 0.2]), &human).0,
            "falls short of"
        );
        assert_eq!(compare(&stats(&[0.55, 0.65, 0.75]), &human).0, "matches");
        // One seed: the means decide.
        assert_eq!(compare(&stats(&[0.61]), &stats(&[0.6])).0, "exceeds");
        assert_eq!(compare(&stats(&[0.6]), &stats(&[0.6])).0, "matches");
    }

    #[test]
    fn a_live_report_is_written_from_the_folder_mid_run_with_everything_escaped() {
        let registry = rewardsmith_envs::registry();
        let task = registry.task("cartpole-balance").unwrap();
        let record = RunRecord::new(
            task,
            crate::search::SearchConfig::default(),
            crate::llm::LlmConfig::default(),
            2,
        );
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::open(dir.path()).unwrap();
        let evil = "<script>alert(1)</script>";
        write_atomic(
            &store.candidate_file(0, 0, files::COMPLETION),
            evil.as_bytes(),
        )
        .unwrap();
        super::super::store::write_json(
            &store.candidate_file(0, 0, files::RESULT),
            &Outcome::NoCode {
                reason: evil.to_string(),
            },
        )
        .unwrap();
        let generation = GenerationRecord {
            generation: 0,
            candidates: vec![CandidateLine {
                index: 0,
                fitness: None,
                failure: Some(format!("no reward program found: {evil}")),
            }],
            best: None,
            next_answer: None,
            next_feedback: evil.to_string(),
        };
        super::super::store::write_json(&store.generation_file(0, files::GENERATION), &generation)
            .unwrap();
        write_live_report(&store, task, &record).unwrap();
        let html = std::fs::read_to_string(dir.path().join(files::REPORT_HTML)).unwrap();
        assert!(html.contains("id=\"live\""), "{html}");
        assert!(html.contains("1 of 5 generations done"), "{html}");
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(
            html.contains("No candidate trained successfully so far"),
            "{html}"
        );
        assert!(!html.contains(evil), "unescaped text from the LLM");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(
            html.matches("<script>").count(),
            1,
            "only the error catcher"
        );
        assert!(dir.path().join(files::REPORT_MD).is_file());
        // A candidate of the next generation finishes: the page shows it
        // before its generation is concluded.
        super::super::store::write_json(
            &store.candidate_file(1, 0, files::RESULT),
            &Outcome::NoCode {
                reason: "no code block".to_string(),
            },
        )
        .unwrap();
        write_live_report(&store, task, &record).unwrap();
        let html = std::fs::read_to_string(dir.path().join(files::REPORT_HTML)).unwrap();
        assert!(
            html.contains("1 of 5 generations done; 1 candidate(s) of generation 1 finished"),
            "{html}"
        );
        assert!(html.contains("no code block"), "{html}");
    }
}
