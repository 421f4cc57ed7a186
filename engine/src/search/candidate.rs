//! One candidate, end to end: check, train, score, analyse — as a self-contained
//! job (`rewardsmith eval-candidate SPEC.json`) that the local loop runs too.

use super::analyzer::{TrajectorySummary, analyse};
use super::described::DescribedTask;
use super::store::{write_atomic, write_json};
use anyhow::Context;
use rewardsmith_core::{Registry, TrainReport};
use rewardsmith_envs::rollout::sample_states;
use rewardsmith_rl::{MetricsWriter, PpoConfig, PpoOverrides, train};
use rewardsmith_sandbox::{CheckReport, Limits, ProgramSource, check_source, compile_with_sample};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Dry-run steps of the check before training.
const DRY_RUN_PAIRS: usize = 256;

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
    write_atomic(&out.join("reward.rhai"), spec.reward.as_bytes())?;
    let source = ProgramSource::Rhai(spec.reward.clone());
    let (check, samples) = dry_check(task, &spec.reward, spec.seed);
    write_json(&out.join("check.json"), &check)?;
    let outcome = if check.ok {
        let probe = samples.first().map(|(p, s)| (p.as_slice(), s.as_slice()));
        train_checked(task, spec, &source, probe, check, out, on_steps)?
    } else {
        Outcome::Rejected { check }
    };
    write_json(&out.join("result.json"), &outcome)?;
    Ok(outcome)
}

/// Consecutive `(prev, s)` reward states of random-policy episodes.
pub type StatePairs = Vec<(Vec<f64>, Vec<f64>)>;

/// The sandbox's checks of a reward program: compile, unknown fields, and a
/// dry run over random-policy states drawn from `seed` (returned too).
#[must_use]
pub fn dry_check(
    task: &rewardsmith_core::Task,
    reward: &str,
    seed: u64,
) -> (CheckReport, StatePairs) {
    let samples = sample_states(task, DRY_RUN_PAIRS, seed);
    let check = check_source(
        &ProgramSource::Rhai(reward.to_string()),
        &task.env_spec().state,
        &samples,
        &Limits::default(),
    );
    (check, samples)
}

fn train_checked(
    task: &rewardsmith_core::Task,
    spec: &CandidateSpec,
    source: &ProgramSource,
    probe: Option<(&[f64], &[f64])>,
    check: CheckReport,
    out: &Path,
    on_steps: &dyn Fn(u64),
) -> anyhow::Result<Outcome> {
    // Compile exactly the program that was checked: the probe call that learns
    // the component names runs on a real state, not an all-zero one.
    let program =
        match compile_with_sample(source, &task.env_spec().state, &Limits::default(), probe) {
            Ok(p) => p,
            Err(e) => {
                return Ok(Outcome::Crashed {
                    error: e.to_string(),
                });
            }
        };
    let config = PpoConfig::for_task(task).with_overrides(&PpoOverrides {
        total_timesteps: Some(spec.budget),
        ..PpoOverrides::default()
    });
    let mut metrics = MetricsWriter::create(out, program.components())
        .with_context(|| format!("cannot write metrics in {}", out.display()))?;
    let mut io_error = None;
    let mut observer = |p: &rewardsmith_rl::Progress| {
        on_steps(p.env_steps);
        if let Some(cp) = &p.checkpoint
            && let Err(e) = metrics.write(cp)
        {
            io_error.get_or_insert(e);
        }
    };
    let trained = match train(
        task,
        program.as_ref(),
        &config,
        spec.seed,
        spec.threads,
        &mut observer,
    ) {
        Ok(t) => t,
        Err(e) => {
            return Ok(Outcome::Crashed {
                error: e.to_string(),
            });
        }
    };
    if let Some(e) = io_error {
        return Err(e.into());
    }
    if !trained.report.final_fitness.is_finite() {
        return Ok(Outcome::Crashed {
            error: "the task's fitness program gave a non-finite value for the trained policy's \
                    episodes (a machine-written fitness: see fitness.rhai in the run folder)"
                .to_string(),
        });
    }
    trained.policy.save(out)?;
    let analysis = analyse(task, &trained.policy, spec.analysis_episodes, spec.seed)?;
    Ok(Outcome::Trained {
        check,
        report: trained.report,
        analysis,
    })
}
