//! Reward-hacking checks on a trained candidate, from its checkpoints alone:
//! the signs that a policy farms its reward without doing the task (Pan, Bhatia
//! & Steinhardt, ICLR 2022: proxy return rising while the true objective falls;
//! Eureka's rules on constant and dominating components). The flags go into the
//! reflection, the human-feedback table and the report; they never change a
//! candidate's fitness or its rank.

use rewardsmith_core::TrainReport;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Fewest checkpoints the trend checks need.
const MIN_CHECKPOINTS: usize = 5;
/// The return "rises" when its last third exceeds its first third by this
/// share of its largest magnitude.
const RETURN_RISE: f64 = 0.2;
/// The fitness is "flat" when its last third exceeds its first third by less
/// than this share of its largest magnitude.
const FITNESS_FLAT: f64 = 0.05;
/// Rank correlation between return and fitness below which they are called
/// unrelated.
const MIN_RANK_CORRELATION: f64 = 0.3;
/// Share of the summed |component| means above which one component dominates.
const DOMINANT_SHARE: f64 = 0.9;
/// Spread over the checkpoints, relative to the magnitude, under which a
/// component is called constant.
const CONSTANT_SPREAD: f64 = 1e-3;

/// One sign of reward hacking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum HackFlag {
    /// The candidate's own return rose over training while the task fitness
    /// stayed flat or fell.
    ReturnRoseFitnessDid {
        /// Mean return, first third of the checkpoints → last third.
        returns: [f64; 2],
        /// Mean fitness, first third → last third.
        fitness: [f64; 2],
    },
    /// Return and fitness hardly move together across checkpoints.
    Uncorrelated {
        /// Spearman's rank correlation between them.
        rho: f64,
    },
    /// One component carries most of the reward.
    Dominant {
        /// The component.
        component: String,
        /// Its share of the summed |means| over the last third.
        share: f64,
    },
    /// A component barely changed during training.
    Constant {
        /// The component.
        component: String,
    },
}

impl fmt::Display for HackFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReturnRoseFitnessDid { returns, fitness } => write!(
                f,
                "possible reward hacking: the reward's own return rose from {:.3} to {:.3} over training while the task fitness went from {:.3} to {:.3}",
                returns[0], returns[1], fitness[0], fitness[1]
            ),
            Self::Uncorrelated { rho } => write!(
                f,
                "possible reward hacking: return and task fitness hardly move together across checkpoints (rank correlation {rho:.2})"
            ),
            Self::Dominant { component, share } => write!(
                f,
                "`{component}` carries {:.0}% of the reward: the others barely matter",
                100.0 * share
            ),
            Self::Constant { component } => write!(
                f,
                "`{component}` barely changed during training: the policy cannot influence it as written"
            ),
        }
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Ranks with ties averaged (1-based).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation (`None` when either side is constant).
#[must_use]
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ra, rb) = (ranks(a), ranks(b));
    let (ma, mb) = (mean(&ra), mean(&rb));
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// The flags of one training; see the [module docs](self).
#[must_use]
pub fn hacking_flags(report: &TrainReport) -> Vec<HackFlag> {
    let mut flags = Vec::new();
    let pairs: Vec<(f64, f64)> = report
        .checkpoints
        .iter()
        .filter(|c| c.episode_return.is_finite() && c.fitness.is_finite())
        .map(|c| (c.episode_return, c.fitness))
        .collect();
    if pairs.len() >= MIN_CHECKPOINTS {
        let returns: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let fitness: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let third = pairs.len() / 3;
        let (r0, r1) = (
            mean(&returns[..third]),
            mean(&returns[pairs.len() - third..]),
        );
        let (f0, f1) = (
            mean(&fitness[..third]),
            mean(&fitness[pairs.len() - third..]),
        );
        let r_scale = returns.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let f_scale = fitness.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-6);
        if r1 - r0 > RETURN_RISE * r_scale && f1 - f0 < FITNESS_FLAT * f_scale {
            flags.push(HackFlag::ReturnRoseFitnessDid {
                returns: [r0, r1],
                fitness: [f0, f1],
            });
        }
        if let Some(rho) = spearman(&returns, &fitness)
            && rho < MIN_RANK_CORRELATION
        {
            flags.push(HackFlag::Uncorrelated { rho });
        }
    }
    let curves = report.component_curves();
    if curves.len() >= 2 && !report.checkpoints.is_empty() {
        let n = report.checkpoints.len();
        let tail = n - n.div_ceil(3);
        let mags: Vec<f64> = curves
            .iter()
            .map(|c| mean(&c.curve[tail..]).abs())
            .collect();
        let total: f64 = mags.iter().sum();
        if total > 0.0
            && let Some((i, &m)) = mags.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))
            && m / total > DOMINANT_SHARE
        {
            flags.push(HackFlag::Dominant {
                component: curves[i].name.clone(),
                share: m / total,
            });
        }
    }
    for c in &curves {
        let finite: Vec<f64> = c.curve.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.len() < 2 {
            continue;
        }
        let max = finite.iter().copied().fold(f64::MIN, f64::max);
        let min = finite.iter().copied().fold(f64::MAX, f64::min);
        let mag = mean(&finite).abs();
        if max - min <= CONSTANT_SPREAD * mag.max(1e-9) {
            flags.push(HackFlag::Constant {
                component: c.name.clone(),
            });
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewardsmith_core::Checkpoint;

    fn report(returns: &[f64], fitness: &[f64], components: &[&[f64]]) -> TrainReport {
        TrainReport {
            task: "t".into(),
            components: (0..components.len()).map(|i| format!("c{i}")).collect(),
            checkpoints: returns
                .iter()
                .zip(fitness)
                .enumerate()
                .map(|(k, (&r, &f))| Checkpoint {
                    env_steps: 1000 * (k as u64 + 1),
                    components: components.iter().map(|c| c[k]).collect(),
                    episode_return: r,
                    episode_length: 100.0,
                    fitness: f,
                })
                .collect(),
            env_steps: 1000 * returns.len() as u64,
            final_fitness: *fitness.last().unwrap(),
            max_fitness: fitness.iter().copied().fold(f64::MIN, f64::max),
            wall_s: 1.0,
            env_steps_per_sec: 1.0,
            best: None,
        }
    }

    #[test]
    fn spearman_matches_hand_computed_ranks() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]), None);
        // Ties share their mean rank: ranks [1.5, 1.5, 3] and [1, 2, 3].
        let rho = spearman(&[5.0, 5.0, 9.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((rho - 0.866_025).abs() < 1e-6, "{rho}");
    }

    #[test]
    fn a_farmed_return_is_flagged_and_a_learned_task_is_not() {
        // Measured on cartpole-balance, 60k steps, seed 0: a reward paying for
        // cart speed (the cart runs, the pole falls) ...
        let hack = report(
            &[
                9.58, 14.96, 22.85, 59.03, 139.21, 127.57, 127.64, 117.23, 119.4, 115.35,
            ],
            &[
                0.056, 0.091, 1.0, 0.863, 0.509, 0.352, 0.291, 0.26, 0.242, 0.231,
            ],
            &[&[0.1, 0.2, 0.3, 0.6, 1.4, 1.3, 1.3, 1.2, 1.2, 1.2]],
        );
        let flags = hacking_flags(&hack);
        assert!(
            flags
                .iter()
                .any(|f| matches!(f, HackFlag::ReturnRoseFitnessDid { .. })),
            "{flags:?}"
        );
        // (Its rank correlation is 0.38: the early rise of both keeps it
        // above the threshold; the trend check is what catches it.)
        assert!(
            flags
                .iter()
                .all(|f| !matches!(f, HackFlag::Uncorrelated { .. }))
        );
        // A return that climbs while the fitness wanders is uncorrelated.
        let wander = report(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            &[0.5, 0.1, 0.6, 0.2, 0.4, 0.3, 0.1, 0.2],
            &[&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]],
        );
        let flags = hacking_flags(&wander);
        assert!(
            flags
                .iter()
                .any(|f| matches!(f, HackFlag::Uncorrelated { rho } if *rho < 0.0)),
            "{flags:?}"
        );
        // ... and its human-written reward.
        let human = report(
            &[
                49.95, 174.67, 241.2, 247.39, 257.08, 333.84, 675.62, 590.53, 409.67, 395.39,
            ],
            &[
                0.357, 0.349, 0.333, 0.347, 0.423, 1.0, 0.724, 0.665, 0.602, 0.612,
            ],
            &[
                &[0.5, 0.6, 0.7, 0.7, 0.7, 0.8, 0.9, 0.9, 0.8, 0.8],
                &[-0.1, -0.1, -0.2, -0.1, -0.1, -0.2, -0.1, -0.1, -0.2, -0.1],
            ],
        );
        assert_eq!(hacking_flags(&human), vec![]);
    }

    #[test]
    fn dominant_and_constant_components_are_named() {
        let r = report(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            &[&[10.0, 20.0, 30.0, 40.0, 50.0, 60.0], &[0.5; 6]],
        );
        let flags = hacking_flags(&r);
        assert!(
            flags.contains(&HackFlag::Dominant {
                component: "c0".into(),
                share: flags
                    .iter()
                    .find_map(|f| match f {
                        HackFlag::Dominant { share, .. } => Some(*share),
                        _ => None,
                    })
                    .unwrap()
            })
        );
        assert!(flags.contains(&HackFlag::Constant {
            component: "c1".into()
        }));
        assert!(
            flags
                .iter()
                .all(|f| !matches!(f, HackFlag::Uncorrelated { .. }))
        );
    }
}
