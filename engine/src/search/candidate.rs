//! One candidate, end to end: check, train, score, analyse — as a self-contained
//! job (`rewardsmith eval-candidate SPEC.json`) that the local loop runs too.

use super::allocation::Rungs;
use super::analyzer::{TrajectorySummary, analyse};
use super::described::DescribedTask;
use super::store::{files, write_atomic, write_json};
use crate::training::{self, StatePairs, TrainError, TrainRequest, TrainedReward};
use rewardsmith_core::{Registry, Task, TrainReport};
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
    /// Stop after this many env steps of the budget's schedule, score the
    /// best checkpoint so far into `rung.json` and finish there: a
    /// successive-halving rung trained on a cluster. The training is the
    /// first `stop_at` steps of the full one, bitwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_at: Option<u64>,
    /// Env steps at which the training pauses on its way (the rungs before
    /// `stop_at`). A pause takes a checkpoint, so the training on a cluster
    /// has the checkpoints, and the best one, of the same training run
    /// locally under successive halving.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pause_at: Vec<u64>,
    /// A training of this spec saved where it paused at an earlier rung (its
    /// `trainer/` folder): the training goes on from there, bitwise as if it
    /// had not stopped, instead of from step 0. A training that stops at
    /// [`stop_at`](Self::stop_at) before its budget saves itself into its
    /// own `trainer/` for the next rung.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<std::path::PathBuf>,
}

/// A rung's score (`rung.json`), written by a training that stopped at
/// [`CandidateSpec::stop_at`]: the best checkpoint's held-out fitness so far.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RungResult {
    /// Env steps trained.
    pub env_steps: u64,
    /// Mean held-out fitness (none when no checkpoint was scored).
    pub mean: Option<f64>,
    /// Its standard error.
    pub se: f64,
}

/// A candidate before training: already finished (read back, or failed
/// before training), or a spec to train.
#[allow(clippy::large_enum_variant)] // one per candidate, short-lived: size is no concern
pub enum Staged {
    /// Its outcome, written.
    Done(Outcome),
    /// Its spec, written; train it.
    Train(CandidateSpec),
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
        /// Its course through successive halving's rungs (absent for a
        /// candidate trained to the full budget without rungs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rungs: Option<Rungs>,
    },
}

impl Outcome {
    /// The task fitness, for trained candidates.
    #[must_use]
    pub fn fitness(&self) -> Option<f64> {
        match self {
            Self::Trained { report, .. } => Some(report.fitness()),
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
/// Only for failures of the machine: [`Error::Task`](crate::Error::Task) for
/// an unknown task, [`Error::Other`](crate::Error::Other) for an unwritable
/// folder; failures of the program are an [`Outcome`].
pub fn evaluate_candidate(
    registry: &Registry,
    spec: &CandidateSpec,
    out: &Path,
) -> Result<Outcome, crate::Error> {
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
) -> Result<Outcome, crate::Error> {
    let task = registry.task(&spec.task)?;
    evaluate_on(task, spec, out, on_steps).map_err(crate::Error::Other)
}

/// [`evaluate_candidate_with`] once the task is found.
fn evaluate_on(
    task: &Task,
    spec: &CandidateSpec,
    out: &Path,
    on_steps: &dyn Fn(u64),
) -> anyhow::Result<Outcome> {
    let inputs = TrainingInputs::new(spec);
    let mut prepared = match prepare(task, spec, &inputs, out)? {
        Ok(p) => p,
        Err(done) => return Ok(done),
    };
    let stop = spec.stop_at.unwrap_or(u64::MAX);
    for &until in spec.pause_at.iter().filter(|&&p| p < stop).chain([&stop]) {
        if let Some(crashed) = prepared.advance(until, on_steps)? {
            return Ok(crashed);
        }
    }
    if let Some(until) = spec.stop_at {
        if !prepared.done() {
            prepared.save(&out.join(files::TRAINER_DIR))?;
        }
        let score = prepared.score();
        let rung = RungResult {
            env_steps: until.min(spec.budget),
            mean: score.map(|s| s.0),
            se: score.map_or(0.0, |s| s.1),
        };
        write_json(&out.join(files::RUNG), &rung)?;
    }
    prepared.finish(None)
}

/// What a candidate's training borrows for as long as it runs.
pub(crate) struct TrainingInputs {
    source: ProgramSource,
    overrides: PpoOverrides,
}

impl TrainingInputs {
    /// The reward program.
    pub(crate) fn source(&self) -> &ProgramSource {
        &self.source
    }

    /// The PPO settings (the budget).
    pub(crate) fn overrides(&self) -> &PpoOverrides {
        &self.overrides
    }

    /// The program and settings of `spec`.
    pub(crate) fn new(spec: &CandidateSpec) -> Self {
        Self {
            source: ProgramSource::Rhai(spec.reward.clone()),
            overrides: PpoOverrides {
                total_timesteps: Some(spec.budget),
                ..PpoOverrides::default()
            },
        }
    }
}

/// A candidate checked and set up for training, which can train in steps
/// (successive halving's rungs) before it is finished.
pub(crate) struct Prepared<'a> {
    task: &'a rewardsmith_core::Task,
    spec: &'a CandidateSpec,
    out: &'a Path,
    training: training::Training<'a>,
}

/// Writes the reward, checks it and sets its training up; a candidate that
/// cannot train is returned as its (written) outcome.
///
/// # Errors
/// An unwritable folder.
pub(crate) fn prepare<'a>(
    task: &'a rewardsmith_core::Task,
    spec: &'a CandidateSpec,
    inputs: &'a TrainingInputs,
    out: &'a Path,
) -> anyhow::Result<Result<Prepared<'a>, Outcome>> {
    write_atomic(&out.join(files::REWARD_RHAI), spec.reward.as_bytes())?;
    let (check, samples) = dry_check(task, &spec.reward, spec.seed);
    write_json(&out.join(files::CHECK), &check)?;
    if !check.ok {
        return done(out, Outcome::Rejected { check }).map(Err);
    }
    let request = TrainRequest {
        task,
        source: &inputs.source,
        overrides: &inputs.overrides,
        seed: spec.seed,
        threads: spec.threads,
        out: Some(out),
    };
    let training = match &spec.resume_from {
        None => training::Training::start(&request, check, &samples),
        Some(saved) => training::Training::resume(&request, check, &samples, saved),
    };
    match training {
        Ok(training) => Ok(Ok(Prepared {
            task,
            spec,
            out,
            training,
        })),
        Err(TrainError::Io(e)) => Err(e),
        Err(e) => done(
            out,
            Outcome::Crashed {
                error: e.to_string(),
            },
        )
        .map(Err),
    }
}

/// Writes `outcome` as the candidate's result and returns it.
fn done(out: &Path, outcome: Outcome) -> anyhow::Result<Outcome> {
    write_json(&out.join(files::RESULT), &outcome)?;
    Ok(outcome)
}

impl Prepared<'_> {
    /// Trains to at least `env_steps` (or the budget); a training that
    /// failed gives its (written) outcome.
    ///
    /// # Errors
    /// An unwritable folder.
    pub(crate) fn advance(
        &mut self,
        env_steps: u64,
        on_steps: &dyn Fn(u64),
    ) -> anyhow::Result<Option<Outcome>> {
        match self
            .training
            .advance(env_steps, &mut |p| on_steps(p.env_steps))
        {
            Ok(()) => Ok(None),
            Err(TrainError::Io(e)) => Err(e),
            Err(e) => done(
                self.out,
                Outcome::Crashed {
                    error: e.to_string(),
                },
            )
            .map(Some),
        }
    }

    /// Whether the whole budget is trained.
    pub(crate) fn done(&self) -> bool {
        self.training.done()
    }

    /// Saves the training where it is into the folder `dir`, to go on from
    /// ([`CandidateSpec::resume_from`]).
    ///
    /// # Errors
    /// An unwritable folder.
    pub(crate) fn save(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.training.save(dir).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Trains on `threads` worker threads from now on.
    ///
    /// # Errors
    /// The threads cannot be started.
    pub(crate) fn set_threads(&mut self, threads: usize) -> anyhow::Result<()> {
        self.training
            .set_threads(threads)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The best checkpoint's held-out evaluation so far (successive
    /// halving's rung score): its mean and standard error.
    pub(crate) fn score(&mut self) -> Option<(f64, f64)> {
        let eval = self.training.held_out_evaluation()?;
        let stats = super::record::SeedStats::new(eval.fitness);
        Some((stats.mean, stats.standard_error()))
    }

    /// Ends the training where it is, analyses the kept policy and writes
    /// the result.
    ///
    /// # Errors
    /// An unwritable folder.
    pub(crate) fn finish(self, rungs: Option<Rungs>) -> anyhow::Result<Outcome> {
        let trained = match self.training.finish() {
            Ok(t) => t,
            Err(TrainError::Io(e)) => return Err(e),
            Err(e) => {
                return done(
                    self.out,
                    Outcome::Crashed {
                        error: e.to_string(),
                    },
                );
            }
        };
        let TrainedReward { check, trained, .. } = trained;
        if !trained.report.fitness().is_finite() {
            return done(
                self.out,
                Outcome::Crashed {
                    error: "the task's fitness program gave a non-finite value for the trained \
                            policy's episodes (a machine-written fitness: see fitness.rhai in the \
                            run folder)"
                        .to_string(),
                },
            );
        }
        let analysis = analyse(
            self.task,
            &trained.policy,
            self.spec.analysis_episodes,
            self.spec.seed,
        )?;
        done(
            self.out,
            Outcome::Trained {
                check,
                report: trained.report,
                analysis,
                rungs,
            },
        )
    }
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
