//! `report.md` and `report.html`: the task, every generation's candidates, the
//! best reward's code and curves, and the final comparison.

use super::candidate::Outcome;
use super::runner::{RunRecord, RunSummary};
use super::store::{RunStore, read_json, write_atomic};
use rewardsmith_core::Task;
use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |f| format!("{f:.4}"))
}

/// A small inline SVG line chart of `series` (name, values).
fn svg_chart(title: &str, series: &[(String, Vec<f64>)]) -> String {
    const W: f64 = 480.0;
    const H: f64 = 200.0;
    const COLORS: [&str; 6] = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let all: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    if all.is_empty() {
        return String::new();
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if (hi - lo).abs() < 1e-12 {
        1.0
    } else {
        hi - lo
    };
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"{W}\" height=\"{H}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        esc(title),
        H + 20.0 * series.len() as f64,
        H + 20.0 * series.len() as f64
    );
    for (k, (name, values)) in series.iter().enumerate() {
        let n = values.len().max(2) - 1;
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| {
                let x = 10.0 + (W - 20.0) * i as f64 / n as f64;
                let y = H - 10.0 - (H - 20.0) * (v - lo) / span;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let color = COLORS[k % COLORS.len()];
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/><text x=\"10\" y=\"{}\" fill=\"{color}\" font-size=\"12\">{}</text>",
            pts.join(" "),
            H + 15.0 + 20.0 * k as f64,
            esc(name)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"14\" font-size=\"11\" text-anchor=\"end\">max {hi:.3}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">min {lo:.3}</text></svg></figure>",
        W - 5.0,
        W - 5.0,
        H - 4.0
    );
    svg
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
    charts.push(svg_chart(
        "best fitness per generation",
        &[("best".to_string(), best_per_gen)],
    ));
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
                .join("result.json"),
        )?;
        if let Some(Outcome::Trained {
            report, analysis, ..
        }) = result
        {
            charts.push(svg_chart(
                "fitness during training",
                &[("fitness".into(), report.fitness_curve())],
            ));
            let comps: Vec<(String, Vec<f64>)> = report
                .component_curves()
                .into_iter()
                .map(|c| (c.name, c.curve))
                .collect();
            charts.push(svg_chart("reward components (per-step mean)", &comps));
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
    let pictures = rollout_pictures(store, summary);
    if !pictures.is_empty() {
        let _ = writeln!(md, "\n## Rollouts\n");
        for g in &summary.generations {
            for c in &g.candidates {
                let rel = format!(
                    "gen-{:03}/cand-{:02}/{}",
                    g.generation,
                    c.index,
                    crate::feedback::ROLLOUT_GIF
                );
                if store.root().join(&rel).exists() {
                    let _ = writeln!(
                        md,
                        "- generation {}, candidate {}: [{rel}]({rel})",
                        g.generation, c.index
                    );
                }
            }
        }
        charts.push(format!(
            "<h2>Rollouts</h2><div style=\"display:flex;flex-wrap:wrap;gap:1em\">{}</div>",
            pictures.join("")
        ));
    }
    write_atomic(&store.root().join("report.md"), md.as_bytes())?;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>rewardsmith: {}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}pre{{background:#f4f4f4;padding:1em;overflow:auto}}</style>\
         </head><body>{}<pre>{}</pre></body></html>",
        esc(&task.name),
        charts.join(""),
        esc(&md)
    );
    write_atomic(&store.root().join("report.html"), html.as_bytes())
}

/// A `<figure>` for every candidate with a rendered rollout, linked relative to
/// the report.
fn rollout_pictures(store: &RunStore, summary: &RunSummary) -> Vec<String> {
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
                out.push(format!(
                    "<figure style=\"margin:0\"><a href=\"{rel}\"><img src=\"{rel}\" width=\"256\"></a><figcaption>generation {}, candidate {}{}</figcaption></figure>",
                    g.generation,
                    c.index,
                    c.fitness.map_or(String::new(), |f| format!(", fitness {f:.4}"))
                ));
            }
        }
    }
    out
}
