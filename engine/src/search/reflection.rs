//! Reward reflection: what training showed, in words and numbers, for the next
//! generation's prompt (Eureka's reflection, plus automatic tips, the trajectory
//! analyzer's account, and one line for every candidate of the generation:
//! its fitness, its components' last values, why it failed or where successive
//! halving stopped it).
//!
//! The tips on constant components follow one rule, decided from the numbers:
//! an exactly constant positive term (an alive bonus) is kept where episodes
//! ended early and dropped where they all ran to the limit; a constant
//! penalty, a term that is exactly 0 and a term that barely moves each get
//! their own tip. No tip offers both keeping and dropping a term.

use super::candidate::Outcome;
use super::hacking::{HackFlag, hacking_flags};
use rewardsmith_core::TrainReport;
use std::fmt::Write as _;

/// A component whose checkpoint means vary less than this (relative to its
/// magnitude) is called constant.
const CONSTANT_SPREAD: f64 = 1e-3;
/// A component larger than the others by this factor is called dominant.
const DOMINANT_RATIO: f64 = 10.0;
/// Fitness at or below this counts as "never learned".
const NO_PROGRESS: f64 = 1e-3;
/// Longest failure message in a candidate's line, in characters.
const FAILURE_CHARS: usize = 300;

fn curve_text(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
    format!("[{}]", parts.join(", "))
}

fn stats(values: &[f64]) -> (f64, f64, f64) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let max = finite.iter().copied().fold(f64::MIN, f64::max);
    let min = finite.iter().copied().fold(f64::MAX, f64::min);
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    (max, mean, min)
}

/// How the episodes of a training ended: the task's time limit, and whether
/// any checkpoint's episodes were shorter (some ended early).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpisodeEnds {
    /// The task's time limit, steps.
    pub limit: usize,
    /// The shortest mean episode length over the checkpoints, steps.
    pub shortest_mean: f64,
}

impl EpisodeEnds {
    /// From a training's report and the task's time limit.
    #[must_use]
    pub fn of(report: &TrainReport, limit: usize) -> Self {
        let shortest_mean = report
            .episode_length_curve()
            .into_iter()
            .filter(|l| l.is_finite())
            .fold(f64::INFINITY, f64::min);
        Self {
            limit,
            shortest_mean: if shortest_mean.is_finite() {
                shortest_mean
            } else {
                limit as f64
            },
        }
    }

    /// Whether some episodes ended before the limit.
    #[must_use]
    pub fn some_ended_early(&self) -> bool {
        self.shortest_mean < self.limit as f64 - 0.5
    }
}

/// The one tip for a component whose checkpoint means do not change (exactly
/// or nearly), or `None` for a component that moves.
#[must_use]
pub fn constant_tip(name: &str, curve: &[f64], episode: EpisodeEnds) -> Option<String> {
    let (max, mean, min) = stats(curve);
    if !mean.is_finite() {
        return None;
    }
    let spread = max - min;
    if spread <= 1e-12 * mean.abs().max(1.0) {
        let v = mean;
        return Some(if v.abs() <= 1e-12 {
            format!(
                "`{name}` is exactly 0 at every checkpoint: the term never acts (a zero weight, a condition never met, or a quantity that does not change): fix it or drop it."
            )
        } else if v > 0.0 && episode.some_ended_early() {
            format!(
                "`{name}` is exactly {v:.3} per step at every checkpoint: a constant bonus (an alive bonus). Episodes here end early (mean length down to {:.0} of {} steps), so it pays the policy to stay alive longer: keep it, small next to the task's terms.",
                episode.shortest_mean, episode.limit
            )
        } else if v > 0.0 {
            format!(
                "`{name}` is exactly {v:.3} per step at every checkpoint: a constant bonus, and every checkpoint's episodes ran to the {}-step limit, so it changes nothing the policy can choose: drop it.",
                episode.limit
            )
        } else {
            format!(
                "`{name}` is exactly {v:.3} per step at every checkpoint: a constant penalty. It changes nothing the policy can choose, except that where episodes can end early it pays the policy to end them sooner: drop it."
            )
        });
    }
    if spread <= CONSTANT_SPREAD * mean.abs().max(1e-9) || spread < 1e-9 {
        return Some(format!(
            "`{name}` barely changed during training ({min:.4} to {max:.4}): the policy cannot influence it as written: rescale it or change its temperature so that it separates good behaviour from bad, or drop it."
        ));
    }
    None
}

/// The reflection on one trained candidate (the generation's best), with
/// one line for each candidate of the generation (`others`, from
/// [`candidate_lines`]); `episode_steps` is the task's time limit.
#[must_use]
pub fn reflect(
    report: &TrainReport,
    analysis: Option<&str>,
    hide_fitness: bool,
    episode_steps: usize,
    others: &[String],
) -> String {
    let episode = EpisodeEnds::of(report, episode_steps);
    let mut out = String::new();
    let curves = report.component_curves();
    let magnitudes: Vec<f64> = curves.iter().map(|c| stats(&c.curve).1.abs()).collect();
    for (c, &mag) in curves.iter().zip(&magnitudes) {
        let (max, mean, min) = stats(&c.curve);
        let _ = writeln!(
            out,
            "{}: {}, Max: {max:.3}, Mean: {mean:.3}, Min: {min:.3}",
            c.name,
            curve_text(&c.curve)
        );
        if let Some(tip) = constant_tip(&c.name, &c.curve, episode) {
            let _ = writeln!(out, "  tip: {tip}");
        }
        let others: Vec<f64> = magnitudes
            .iter()
            .copied()
            .filter(|&m| (m - mag).abs() > f64::EPSILON)
            .collect();
        if !others.is_empty() {
            let largest_other = others.iter().copied().fold(0.0, f64::max);
            if largest_other > 0.0 && mag > DOMINANT_RATIO * largest_other {
                let _ = writeln!(
                    out,
                    "  tip: `{}` is over {DOMINANT_RATIO}× larger than every other component and drowns them out: scale it down.",
                    c.name
                );
            }
        }
    }
    if !hide_fitness {
        let fitness = report.fitness_curve();
        let (max, mean, min) = stats(&fitness);
        let _ = writeln!(
            out,
            "task fitness: {}, Max: {max:.3}, Mean: {mean:.3}, Min: {min:.3}",
            curve_text(&fitness)
        );
        let _ = writeln!(out, "  {}", figure_source(report));
        if max <= NO_PROGRESS {
            let _ = writeln!(
                out,
                "  tip: the task fitness never rose above zero: the policy did not learn the task; rewrite the reward rather than tune it."
            );
        }
        // The trend checks compare the return with the fitness, so they stay
        // out of a reflection that hides the fitness (the component tips
        // above already cover constant and dominant terms).
        for flag in hacking_flags(report) {
            if matches!(
                flag,
                HackFlag::ReturnRoseFitnessDid { .. } | HackFlag::Uncorrelated { .. }
            ) {
                let _ = writeln!(
                    out,
                    "  warning: {flag}: the policy may be farming the reward without doing the task; make the reward pay for what the task measures."
                );
            }
        }
    }
    let lengths = report.episode_length_curve();
    let (max, mean, min) = stats(&lengths);
    let _ = writeln!(
        out,
        "episode length: {}, Max: {max:.1}, Mean: {mean:.1}, Min: {min:.1}",
        curve_text(&lengths)
    );
    if let Some(a) = analysis {
        let _ = writeln!(out, "\nWhat the trained policy did:\n{}", a.trim_end());
    }
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "\nEvery candidate of this generation (fitness as above; last values are the components' per-step means at the last checkpoint): learn from what failed as well as from what worked."
        );
        for line in others {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

/// The reflection on generation `outcomes` whose best candidate is `best`:
/// its full account ([`reflect`], with its trajectory analysis) and one line
/// for every candidate ([`candidate_lines`]); `None` when `best` was not
/// trained.
#[must_use]
pub fn generation_reflection(
    outcomes: &[Outcome],
    best: usize,
    hide_fitness: bool,
    episode_steps: usize,
) -> Option<String> {
    let Some(Outcome::Trained {
        report, analysis, ..
    }) = outcomes.get(best)
    else {
        return None;
    };
    let lines = candidate_lines(outcomes, Some(best), hide_fitness, episode_steps);
    Some(reflect(
        report,
        Some(&analysis.describe()),
        hide_fitness,
        episode_steps,
        &lines,
    ))
}

/// One compact line per candidate of a generation, in candidate order: its
/// fitness, its components' last values and episode length, where
/// successive halving stopped it, or why it failed; the best candidate's line
/// points to its full account.
#[must_use]
pub fn candidate_lines(
    outcomes: &[Outcome],
    best: Option<usize>,
    hide_fitness: bool,
    episode_steps: usize,
) -> Vec<String> {
    outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| candidate_line(i, o, best == Some(i), hide_fitness, episode_steps))
        .collect()
}

fn candidate_line(
    i: usize,
    outcome: &Outcome,
    is_best: bool,
    hide_fitness: bool,
    episode_steps: usize,
) -> String {
    let Outcome::Trained { report, rungs, .. } = outcome else {
        let failure = outcome.failure().unwrap_or_default();
        let failure = failure.split_whitespace().collect::<Vec<_>>().join(" ");
        let shown: String = failure.chars().take(FAILURE_CHARS).collect();
        let cut = if shown.len() < failure.len() {
            " …"
        } else {
            ""
        };
        return format!("candidate {i}: failed: {shown}{cut}");
    };
    let mut line = format!("candidate {i}:");
    if is_best {
        line.push_str(" the best (above);");
    }
    if !hide_fitness {
        let _ = write!(line, " fitness {:.3};", report.fitness());
        if let Some(s) = report.best.as_ref().and_then(|b| b.success) {
            let _ = write!(line, " success {:.0}% of episodes;", 100.0 * s);
        }
    }
    let last: Vec<String> = report
        .component_curves()
        .iter()
        .map(|c| {
            format!(
                "{} {:.3}",
                c.name,
                c.curve.last().copied().unwrap_or(f64::NAN)
            )
        })
        .collect();
    let _ = write!(line, " last values: {}", last.join(", "));
    if let Some(length) = report
        .episode_length_curve()
        .last()
        .filter(|l| l.is_finite())
    {
        let _ = write!(line, "; episode length {length:.0} of {episode_steps}");
    }
    if let Some(r) = rungs.as_ref().filter(|r| r.stopped_early()) {
        if hide_fitness {
            let _ = write!(
                line,
                "; stopped by successive halving at rung {} of {}: it ranked below the candidates that continued",
                r.scores.len(),
                r.schedule.len()
            );
        } else {
            let _ = write!(line, "; successive halving: {}", r.line());
        }
    }
    line
}

/// Where a training's figure comes from: the best checkpoint's step and its
/// held-out episodes.
pub(crate) fn figure_source(report: &rewardsmith_core::TrainReport) -> String {
    match &report.best {
        Some(b) => format!(
            "Fitness {:.3}: the best checkpoint (env step {} of {}) on {} held-out episodes{}; \
             the last checkpoint scored {:.3}.",
            b.fitness,
            b.env_steps,
            report.env_steps,
            b.episodes,
            b.success.map_or(String::new(), |s| format!(
                ", {:.0}% of which met the task's success condition",
                100.0 * s
            )),
            report.final_fitness
        ),
        None => format!(
            "Fitness {:.3}: the last checkpoint (env step {}).",
            report.final_fitness, report.env_steps
        ),
    }
}

/// The errors of a generation in which every candidate failed.
#[must_use]
pub fn all_failed(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "Every reward function of the last generation failed; none could be trained. The errors:\n",
    );
    for (i, o) in outcomes.iter().enumerate() {
        if let Some(f) = o.failure() {
            let _ = writeln!(out, "- candidate {i}: {f}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewardsmith_core::Checkpoint;

    fn report() -> TrainReport {
        let cp = |i: u64, f: f64| Checkpoint {
            env_steps: i * 100,
            components: vec![0.5, f * 500.0],
            episode_return: 10.0,
            episode_length: 20.0 + f,
            fitness: f,
        };
        TrainReport {
            task: "t".into(),
            components: vec!["alive".into(), "speed".into()],
            checkpoints: vec![cp(1, 0.1), cp(2, 0.4)],
            env_steps: 200,
            final_fitness: 0.4,
            max_fitness: 0.4,
            wall_s: 1.0,
            env_steps_per_sec: 200.0,
            best: None,
        }
    }

    #[test]
    fn reflection_lists_curves_and_tips() {
        let text = reflect(
            &report(),
            Some("fell twice"),
            false,
            100,
            &["candidate 1: failed: syntax error".into()],
        );
        assert!(text.contains("alive: [0.500, 0.500], Max: 0.500, Mean: 0.500, Min: 0.500"));
        // Episodes (length 20 of 100) end early: the alive bonus is kept.
        assert!(
            text.contains("tip: `alive` is exactly 0.500 per step at every checkpoint: a constant bonus (an alive bonus). Episodes here end early"),
            "{text}"
        );
        assert!(text.contains("tip: `speed` is over 10× larger"));
        assert!(text.contains("task fitness: [0.100, 0.400]"));
        assert!(text.contains("fell twice"));
        assert!(text.contains("- candidate 1: failed: syntax error"));
    }

    #[test]
    fn hidden_fitness_is_not_shown() {
        let text = reflect(&report(), None, true, 100, &[]);
        assert!(!text.contains("task fitness"));
    }

    /// Every kind of constant term gets exactly one tip, and none both keeps
    /// and drops it.
    #[test]
    fn constant_terms_of_every_kind_get_one_consistent_tip() {
        let early = EpisodeEnds {
            limit: 1000,
            shortest_mean: 300.0,
        };
        let full = EpisodeEnds {
            limit: 1000,
            shortest_mean: 1000.0,
        };
        let tip = |curve: &[f64], ends| constant_tip("t", curve, ends);
        let alive_early = tip(&[1.0, 1.0, 1.0], early).unwrap();
        assert!(
            alive_early.contains("keep it") && !alive_early.contains("drop"),
            "{alive_early}"
        );
        let alive_full = tip(&[1.0, 1.0, 1.0], full).unwrap();
        assert!(
            alive_full.contains("drop it") && !alive_full.contains("keep"),
            "{alive_full}"
        );
        for ends in [early, full] {
            let effort = tip(&[-0.02, -0.02, -0.02], ends).unwrap();
            assert!(
                effort.contains("constant penalty") && effort.contains("drop it"),
                "{effort}"
            );
            assert!(!effort.contains("keep"), "{effort}");
            let zero = tip(&[0.0, 0.0, 0.0], ends).unwrap();
            assert!(
                zero.contains("exactly 0") && !zero.contains("keep"),
                "{zero}"
            );
            let nearly = tip(&[0.5, 0.50001, 0.5], ends).unwrap();
            assert!(
                nearly.contains("barely changed") && !nearly.contains("keep"),
                "{nearly}"
            );
            assert!(tip(&[0.1, 0.4, 0.9], ends).is_none());
        }
    }
}
