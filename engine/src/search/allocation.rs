//! How a generation spends its training budget across its candidates:
//! `uniform` trains every candidate to the full budget; `halving` (successive
//! halving, as in Hyperband/ASHA) trains all of them to budget/η², continues
//! the best 1/η to budget/η and the best of those to the full budget, each
//! from where it stopped. This file holds the rung schedule, the rule that
//! picks who continues and how trainings share the threads ([`waves`]); the
//! runner drives the trainings.

use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How a generation's budget is spent (`--allocation`, `[search] allocation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// Every candidate trains to the full budget.
    Uniform,
    /// Successive halving: weak candidates stop at a rung.
    #[default]
    Halving,
}

impl Allocation {
    /// What a run recorded before the choice existed did: `uniform`.
    #[must_use]
    pub fn recorded_before() -> Self {
        Self::Uniform
    }

    /// The name, as on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Halving => "halving",
        }
    }
}

/// The default reduction factor η: a third continues at each rung.
pub const DEFAULT_ETA: usize = 3;

/// The env steps at which candidates are ranked: budget/η², budget/η and the
/// budget (fewer when `batch`, the env steps of one PPO iteration, makes two
/// rungs the same iteration). The last is always `budget`.
#[must_use]
pub fn rungs(budget: u64, eta: usize, batch: u64) -> Vec<u64> {
    let eta = eta.max(2) as u64;
    let batch = batch.max(1);
    let iterations = |steps: u64| steps.div_ceil(batch).max(1);
    let mut out: Vec<u64> = Vec::new();
    for steps in [budget / (eta * eta), budget / eta, budget] {
        let at = iterations(steps);
        if out.last().is_none_or(|&last| iterations(last) < at) {
            out.push(steps.max(1));
        }
    }
    if let Some(last) = out.last_mut() {
        *last = budget;
    }
    out
}

/// One candidate's score at a rung: the held-out fitness of its best
/// checkpoint so far, with its standard error over the episodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RungScore {
    /// The candidate's index in its generation.
    pub candidate: usize,
    /// Mean held-out fitness.
    pub mean: f64,
    /// Standard error of that mean.
    pub se: f64,
}

/// Who continues after a rung, and the score that was needed.
#[derive(Clone, Debug, PartialEq)]
pub struct Promotion {
    /// Candidates that continue, by index.
    pub keep: Vec<usize>,
    /// The lowest score among the best 1/η (the cut).
    pub cut: f64,
}

/// How many candidates continue after rung `rung` (0-based) of a generation
/// that `entered` candidates began: ⌈entered / η^(rung+1)⌉, at least one. It
/// is counted from the generation's start, as Hyperband's nᵢ, so a runner-up
/// let through at one rung does not widen the next: 8 candidates give 3, then
/// 1, whoever was let through.
#[must_use]
pub fn quota(entered: usize, eta: usize, rung: usize) -> usize {
    let eta = eta.max(2);
    let mut left = entered;
    for _ in 0..=rung {
        left = left.div_ceil(eta);
    }
    left.max(1)
}

/// The best `quota` continue (all of them when fewer scored). When `runner_up`
/// is set, so does the best of the others whose score is within one standard
/// error of the cut (both errors counted), so one lucky or unlucky evaluation
/// does not decide alone. The runner sets it at every rung but the one that
/// decides who trains to the full budget: letting one more through there
/// costs 2/3 of a full training, letting one through the first rung 2/9,
/// which keeps a generation of 8 under a third of uniform's env steps. Ties
/// are broken by index, so the choice is deterministic.
#[must_use]
pub fn promote(scores: &[RungScore], quota: usize, runner_up: bool) -> Promotion {
    let mut order: Vec<&RungScore> = scores.iter().collect();
    order.sort_by(|a, b| {
        b.mean
            .total_cmp(&a.mean)
            .then(a.candidate.cmp(&b.candidate))
    });
    let k = quota.max(1).min(scores.len());
    let Some(last_kept) = k.checked_sub(1).and_then(|i| order.get(i)) else {
        return Promotion {
            keep: Vec::new(),
            cut: f64::NAN,
        };
    };
    let cut = last_kept.mean;
    let mut keep: Vec<usize> = order[..k].iter().map(|s| s.candidate).collect();
    if let Some(next) = order.get(k)
        && runner_up
        && next.mean + next.se >= cut - last_kept.se
    {
        keep.push(next.candidate);
    }
    keep.sort_unstable();
    Promotion { keep, cut }
}

/// A candidate's course through the rungs, kept in its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rungs {
    /// Env steps of each rung of the schedule.
    pub schedule: Vec<u64>,
    /// Its score at each rung it reached.
    pub scores: Vec<f64>,
    /// The standard error of each score.
    pub errors: Vec<f64>,
    /// The cut at the rung where it stopped, when it stopped before the
    /// budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_below: Option<f64>,
}

impl Rungs {
    /// A course through `schedule` not yet begun.
    #[must_use]
    pub fn new(schedule: Vec<u64>) -> Self {
        Self {
            schedule,
            scores: Vec::new(),
            errors: Vec::new(),
            stopped_below: None,
        }
    }

    /// Whether it stopped before the full budget.
    #[must_use]
    pub fn stopped_early(&self) -> bool {
        self.stopped_below.is_some()
    }

    /// One line for the reflection and the report.
    #[must_use]
    pub fn line(&self) -> String {
        let reached = self.scores.len();
        match (self.stopped_below, self.scores.last()) {
            (Some(cut), Some(score)) => format!(
                "stopped early at rung {reached} of {} ({} env steps): its held-out fitness \
                 {score:.3} was below the {cut:.3} needed to continue",
                self.schedule.len(),
                self.schedule.get(reached - 1).copied().unwrap_or(0)
            ),
            _ => format!(
                "trained to the full budget through {} rung(s) of successive halving",
                self.schedule.len()
            ),
        }
    }
}

/// Who continues after rung `rung` of a schedule of `rungs` rungs, among the
/// candidates scored there, in a generation that `entered` candidates began:
/// the [`quota`], with a close runner-up ([`promote`]) at every rung but the
/// one that decides who trains to the full budget.
#[must_use]
pub fn promote_at(
    scores: &[RungScore],
    entered: usize,
    eta: usize,
    rung: usize,
    rungs: usize,
) -> Promotion {
    promote(scores, quota(entered, eta, rung), rung + 2 < rungs)
}

/// How `count` trainings share a pool of `slots` threads, `each` threads a
/// training: waves of whole rounds side by side, then a last wave smaller than
/// the slots that shares all the threads, so no core idles while it trains (a
/// training's result does not depend on its thread count). Each wave is its
/// index range and the threads of each of its trainings; 9 trainings on 2
/// slots are 8 on one thread each, then 1 on two.
pub(super) fn waves(count: usize, slots: usize, each: usize) -> [(Range<usize>, usize); 2] {
    let slots = slots.max(1);
    let full = count - count % slots;
    let spread = match count - full {
        0 => each,
        last => (slots * each / last).max(each),
    };
    [(0..full, each), (full..count, spread)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(candidate: usize, mean: f64, se: f64) -> RungScore {
        RungScore {
            candidate,
            mean,
            se,
        }
    }

    #[test]
    fn rungs_are_budget_over_eta_squared_eta_and_one() {
        assert_eq!(rungs(900_000, 3, 2048), vec![100_000, 300_000, 900_000]);
        // Rungs that fall in the same iteration merge.
        assert_eq!(rungs(8192, 3, 4096), vec![910, 8192]);
        assert_eq!(rungs(4096, 3, 4096), vec![4096]);
    }

    #[test]
    fn the_best_third_continue_and_ties_go_by_index() {
        let scores: Vec<RungScore> = [0.1, 0.9, 0.5, 0.2, 0.8, 0.0, 0.3, 0.7]
            .iter()
            .enumerate()
            .map(|(i, &m)| s(i, m, 0.0))
            .collect();
        let p = promote(&scores, quota(8, 3, 0), true);
        assert_eq!(p.keep, vec![1, 4, 7]);
        assert_eq!(p.cut, 0.7);
        let ties: Vec<RungScore> = (0..5).map(|i| s(i, 0.0, 0.0)).collect();
        // ⌈5/3⌉ = 2 plus the next one, tied within its (zero) error.
        assert_eq!(promote(&ties, quota(5, 3, 0), true).keep, vec![0, 1, 2]);
    }

    #[test]
    fn quotas_count_from_the_generations_start() {
        assert_eq!((0..2).map(|r| quota(8, 3, r)).collect::<Vec<_>>(), [3, 1]);
        assert_eq!((0..2).map(|r| quota(3, 3, r)).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(quota(27, 3, 1), 3);
        assert_eq!(quota(0, 3, 0), 1);
    }

    #[test]
    fn a_close_runner_up_continues_a_distant_one_does_not() {
        let close = [s(0, 0.9, 0.05), s(1, 0.2, 0.05), s(2, 0.87, 0.05)];
        assert_eq!(promote(&close, 1, true).keep, vec![0, 2]);
        // Not for the full budget.
        assert_eq!(promote(&close, 1, false).keep, vec![0]);
        let far = [s(0, 0.9, 0.01), s(1, 0.5, 0.01), s(2, 0.2, 0.01)];
        assert_eq!(promote(&far, 1, true).keep, vec![0]);
    }

    #[test]
    fn a_last_wave_smaller_than_the_slots_shares_all_the_threads() {
        assert_eq!(waves(9, 2, 1), [(0..8, 1), (8..9, 2)]);
        assert_eq!(waves(3, 2, 1), [(0..2, 1), (2..3, 2)]);
        assert_eq!(waves(1, 2, 1), [(0..0, 1), (0..1, 2)]);
        assert_eq!(waves(8, 2, 1), [(0..8, 1), (8..8, 1)]);
        assert_eq!(waves(5, 4, 2), [(0..4, 2), (4..5, 8)]);
        assert_eq!(waves(2, 4, 1), [(0..0, 1), (0..2, 2)]);
    }
}
