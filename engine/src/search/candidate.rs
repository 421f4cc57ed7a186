//! One candidate, end to end: check, train, score, analyse — as a self-contained
//! job (`rewardsmith eval-candidate SPEC.json`) that the local loop runs too.

use super::analyzer::{TrajectorySummary, analyse};
use super::described::DescribedTask;
use super::store::{files, write_atomic, write_json};
use crate::training::{self, StatePairs, TrainError, TrainRequest, TrainedReward, train_checked};
use rewardsmith_core::{Registry, TrainReport};
use rewardsmith_rl::PpoOverrides;
use rewardsmith_sandbox::{CheckReport, ProgramSource};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything needed to evaluate one reward program, and nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateSpec {
    /// Task name.
    pub task: String,
    /// The reward program (Rhai source).
    pub reward: String,
    /// Env steps of training.
    pub budget: u64,
    /// Seed of training and evaluation.
    pub seed: u64,
    /// Worker threads of training.
    pub threads: usize,
    /// Evaluation episodes of the trajectory analyzer.
    pub analysis_episodes: usize,
    /// The task, when it was described in a user's own words rather than
    /// named (then `task` is its generated name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub described: Option<DescribedTask>,
}

/// How a candidate ended.
#[allow(clippy::large_enum_variant)] // one per candidate, written once: size is no concern
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The completion held no program.
    NoCode {
        /// Why, in words for the next prompt.
        reason: String,
    },
    /// The checks refused the program; it was not trained.
    Rejected {
        /// The check verdict.
        check: CheckReport,
    },
    /// The LLM critic (`--llm-critic`) turned the program down; it was not
    /// trained.
    Criticised {
        /// The sandbox's verdict, which the program passed.
        check: CheckReport,
        /// The critic's reasons.
        reasons: Vec<String>,
    },
    /// Training started but the program (or the trainer) failed.
    Crashed {
        /// What went wrong.
        error: String,
    },
    /// Trained and scored.
    Trained {
        /// The check verdict (its warnings matter for the reflection).
        check: CheckReport,
        /// What training reported.
        report: TrainReport,
        /// What the trained policy did.
        analysis: TrajectorySummary,
    },
}

impl Outcome {
    /// The task fitness, for trained candidates.
    #[must_use]
    pub fn fitness(&self) -> Option<f64> {
        match self {
            Self::Trained { report, .. } => Some(report.final_fitness),
            _ => None,
        }
    }

    /// A one-line account of a failure, for the next prompt and the report.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        match self {
            Self::NoCode { reason } => Some(format!("no reward program found: {reason}")),
            Self::Rejected { check } => Some(
                check
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Self::Criticised { reasons, .. } => Some(format!(
                "rejected by the LLM critic before training: {}",
                if reasons.is_empty() {
                    "(no reasons given)".to_string()
                } else {
                    reasons.join("; ")
                }
            )),
            Self::Crashed { error } => Some(format!("training failed: {error}")),
            Self::Trained { .. } => None,
        }
    }
}

/// Checks, trains and analyses the candidate of `spec`, writing its files into
/// `out` (`reward.rhai`, `check.json`, `metrics.*`, `policy.*`, `result.json`).
///
/// # Errors
/// Only for failures of the machine (unknown task, unwritable folder); failures
/// of the program are an [`Outcome`].
pub fn evaluate_candidate(
    registry: &Registry,
    spec: &CandidateSpec,
    out: &Path,
) -> anyhow::Result<Outcome> {
    evaluate_candidate_with(registry, spec, out, &|_| {})
}

/// [`evaluate_candidate`], telling `on_steps` the env steps trained so far
/// after every PPO iteration.
///
/// # Errors
/// As [`evaluate_candidate`].
pub fn evaluate_candidate_with(
    registry: &Registry,
    spec: &CandidateSpec,
    out: &Path,
    on_steps: &dyn Fn(u64),
) -> anyhow::Result<Outcome> {
    let task = registry.task(&spec.task)?;
    write_atomic(&out.join(files::REWARD_RHAI), spec.reward.as_bytes())?;
    let source = ProgramSource::Rhai(spec.reward.clone());
    let (check, samples) = dry_check(task, &spec.reward, spec.seed);
    write_json(&out.join(files::CHECK), &check)?;
    let outcome = if check.ok {
        train_candidate(task, spec, &source, &samples, check, out, on_steps)?
    } else {
        Outcome::Rejected { check }
    };
    write_json(&out.join(files::RESULT), &outcome)?;
    Ok(outcome)
}

/// The sandbox's checks of a Rhai reward program (see [`training::dry_check`]).
#[must_use]
pub fn dry_check(
    task: &rewardsmith_core::Task,
    reward: &str,
    seed: u64,
) -> (CheckReport, StatePairs) {
    training::dry_check(task, &ProgramSource::Rhai(reward.to_string()), seed)
}

fn train_candidate(
    task: &rewardsmith_core::Task,
    spec: &CandidateSpec,
    source: &ProgramSource,
    samples: &StatePairs,
    check: CheckReport,
    out: &Path,
    on_steps: &dyn Fn(u64),
) -> anyhow::Result<Outcome> {
    let overrides = PpoOverrides {
        total_timesteps: Some(spec.budget),
        ..PpoOverrides::default()
    };
    let request = TrainRequest {
        task,
        source,
        overrides: &overrides,
        seed: spec.seed,
        threads: spec.threads,
        out: Some(out),
    };
    let trained = match train_checked(&request, check, samples, &mut |p| on_steps(p.env_steps)) {
        Ok(t) => t,
        Err(TrainError::Io(e)) => return Err(e),
        Err(e) => {
            return Ok(Outcome::Crashed {
                error: e.to_string(),
            });
        }
    };
    let TrainedReward { check, trained, .. } = trained;
    if !trained.report.final_fitness.is_finite() {
        return Ok(Outcome::Crashed {
            error: "the task's fitness program gave a non-finite value for the trained policy's \
                    episodes (a machine-written fitness: see fitness.rhai in the run folder)"
                .to_string(),
        });
    }
    let analysis = analyse(task, &trained.policy, spec.analysis_episodes, spec.seed)?;
    Ok(Outcome::Trained {
        check,
        report: trained.report,
        analysis,
    })
}
