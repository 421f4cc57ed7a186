//! Reward reflection: what training showed, in words and numbers, for the next
//! generation's prompt (Eureka's reflection, plus automatic tips, the trajectory
//! analyzer's account and the errors of failed candidates).

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

/// The reflection on one trained candidate, with the other candidates' failures.
#[must_use]
pub fn reflect(
    report: &TrainReport,
    analysis: Option<&str>,
    hide_fitness: bool,
    failures: &[String],
) -> String {
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
        let spread = max - min;
        if spread.abs() <= CONSTANT_SPREAD * mag.max(1e-9) || spread.abs() < 1e-9 {
            let _ = writeln!(
                out,
                "  tip: `{}` barely changed during training. If it is a constant bonus per step (an alive bonus), keep it only if episodes can end early (then living longer earns more); any other term the policy cannot influence as written: rescale it, change its temperature, or drop it.",
                c.name
            );
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
        let _ = writeln!(out, "\nWhat the trained policy did:\n{a}");
    }
    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "\nOther candidates of this generation failed before or during training; avoid their mistakes:"
        );
        for f in failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

/// Where a training's figure comes from: the best checkpoint's step and its
/// held-out episodes.
pub(crate) fn figure_source(report: &rewardsmith_core::TrainReport) -> String {
    match &report.best {
        Some(b) => format!(
            "Fitness {:.3}: the best checkpoint (env step {} of {}) on {} held-out episodes; \
             the last checkpoint scored {:.3}.",
            b.fitness, b.env_steps, report.env_steps, b.episodes, report.final_fitness
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
            &["syntax error".into()],
        );
        assert!(text.contains("alive: [0.500, 0.500], Max: 0.500, Mean: 0.500, Min: 0.500"));
        assert!(text.contains("tip: `alive` barely changed"));
        assert!(text.contains("tip: `speed` is over 10× larger"));
        assert!(text.contains("task fitness: [0.100, 0.400]"));
        assert!(text.contains("fell twice"));
        assert!(text.contains("- syntax error"));
    }

    #[test]
    fn hidden_fitness_is_not_shown() {
        let text = reflect(&report(), None, true, &[]);
        assert!(!text.contains("task fitness"));
    }
}
