//! The one training pipeline: a reward program is checked in the sandbox on
//! random-policy states, compiled against a real state, trained with PPO and,
//! when given a folder, leaves its reward file, metrics and policy there.
//! `rewardsmith train`, every search candidate (`eval-candidate` too) and the
//! final evaluation all train through [`train_reward`].

use crate::search::{files, write_atomic};
use rewardsmith_core::Task;
use rewardsmith_envs::rollout::sample_states;
use rewardsmith_rl::{MetricsWriter, PpoConfig, PpoOverrides, Progress, Trained, Trainer};
use rewardsmith_sandbox::{CheckReport, Limits, ProgramSource, check_source, compile_with_sample};
use std::path::Path;

/// Dry-run steps of the sandbox's check before training.
pub const DRY_RUN_PAIRS: usize = 256;

/// Consecutive `(prev, s)` reward states of random-policy episodes.
pub type StatePairs = Vec<(Vec<f64>, Vec<f64>)>;

/// One training to run.
#[derive(Clone, Copy, Debug)]
pub struct TrainRequest<'a> {
    /// The task.
    pub task: &'a Task,
    /// The reward program.
    pub source: &'a ProgramSource,
    /// PPO settings replacing the task's (the budget is `total_timesteps`).
    pub overrides: &'a PpoOverrides,
    /// Seed of the dry run, of training and of its evaluations.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Where the reward file, `metrics.*` and `policy.*` go (nothing is
    /// written without one).
    pub out: Option<&'a Path>,
}

/// A finished training.
#[derive(Debug)]
pub struct TrainedReward {
    /// The sandbox's verdict on the program (its warnings matter).
    pub check: CheckReport,
    /// The PPO settings used.
    pub config: PpoConfig,
    /// What the trainer returned: report, policy, timing.
    pub trained: Trained,
}

/// Why a training did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The program failed the sandbox's checks; nothing was trained.
    #[error("the reward program is not usable: {}", errors(.0))]
    Unusable(CheckReport),
    /// The PPO settings are invalid.
    #[error("invalid PPO settings: {0}")]
    Settings(String),
    /// The program or the trainer failed while training (or compiling).
    #[error("{0}")]
    Failed(String),
    /// A file could not be written: a failure of the machine, not the program.
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

fn errors(check: &CheckReport) -> String {
    check
        .errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The sandbox's checks of a reward program: compile, unknown fields, and a
/// dry run over random-policy states drawn from `seed` (returned too).
#[must_use]
pub fn dry_check(task: &Task, source: &ProgramSource, seed: u64) -> (CheckReport, StatePairs) {
    let samples = sample_states(task, DRY_RUN_PAIRS, seed);
    let check = check_source(source, &task.env_spec().state, &samples, &Limits::default());
    (check, samples)
}

/// The reward file's name for a program: `reward.rhai`, `.wat` or `.wasm`.
#[must_use]
pub fn reward_file_name(source: &ProgramSource) -> &'static str {
    match source {
        ProgramSource::Rhai(_) => files::REWARD_RHAI,
        ProgramSource::Wat(_) => "reward.wat",
        ProgramSource::Wasm(_) => "reward.wasm",
    }
}

fn reward_bytes(source: &ProgramSource) -> &[u8] {
    match source {
        ProgramSource::Rhai(text) | ProgramSource::Wat(text) => text.as_bytes(),
        ProgramSource::Wasm(bytes) => bytes,
    }
}

/// Checks, compiles and trains `request`'s program, telling `observer` of
/// every PPO iteration; see the [module docs](self).
///
/// # Errors
/// [`TrainError`]: an unusable program, bad settings, a failure in training,
/// or a folder that cannot be written.
pub fn train_reward(
    request: &TrainRequest<'_>,
    observer: &mut dyn FnMut(&Progress),
) -> Result<TrainedReward, TrainError> {
    let (check, samples) = dry_check(request.task, request.source, request.seed);
    if !check.ok {
        return Err(TrainError::Unusable(check));
    }
    train_checked(request, check, &samples, observer)
}

/// [`train_reward`] for a program whose check (`check`, over `samples`) has
/// already passed.
///
/// # Errors
/// As [`train_reward`], but for the check.
pub fn train_checked(
    request: &TrainRequest<'_>,
    check: CheckReport,
    samples: &StatePairs,
    observer: &mut dyn FnMut(&Progress),
) -> Result<TrainedReward, TrainError> {
    let mut training = Training::start(request, check, samples)?;
    training.advance(u64::MAX, observer)?;
    training.finish()
}

/// A training under way that can stop between iterations and go on later
/// ([`Trainer`]): successive halving pauses its candidates here.
pub struct Training<'a> {
    trainer: Trainer<'a>,
    metrics: Option<MetricsWriter>,
    out: Option<&'a Path>,
    check: CheckReport,
    config: PpoConfig,
}

impl<'a> Training<'a> {
    /// Compiles `request`'s checked program and sets its training up at
    /// step 0 (writing the reward file and the metrics' headers).
    ///
    /// # Errors
    /// As [`train_checked`].
    pub fn start(
        request: &TrainRequest<'a>,
        check: CheckReport,
        samples: &StatePairs,
    ) -> Result<Self, TrainError> {
        Self::open(request, check, samples, None)
    }

    /// [`start`](Self::start), but going on from the training saved in
    /// `saved` ([`save`](Self::save)) by the same request: the metrics get
    /// its checkpoints so far.
    ///
    /// # Errors
    /// As [`start`](Self::start); a saved training that cannot be read or is
    /// another's is [`TrainError::Failed`], naming why.
    pub fn resume(
        request: &TrainRequest<'a>,
        check: CheckReport,
        samples: &StatePairs,
        saved: &Path,
    ) -> Result<Self, TrainError> {
        Self::open(request, check, samples, Some(saved))
    }

    fn open(
        request: &TrainRequest<'a>,
        check: CheckReport,
        samples: &StatePairs,
        saved: Option<&Path>,
    ) -> Result<Self, TrainError> {
        let task = request.task;
        let config = PpoConfig::for_task(task).with_overrides(request.overrides);
        config
            .validate()
            .map_err(|e| TrainError::Settings(e.to_string()))?;
        // Compile exactly the program that was checked: the probe call that
        // learns the component names runs on a real state, not an all-zero one.
        let probe = samples.first().map(|(p, s)| (p.as_slice(), s.as_slice()));
        let program = compile_with_sample(
            request.source,
            &task.env_spec().state,
            &Limits::default(),
            probe,
        )
        .map_err(|e| TrainError::Failed(e.to_string()))?;
        let mut metrics = match request.out {
            Some(out) => {
                write_atomic(
                    &out.join(reward_file_name(request.source)),
                    reward_bytes(request.source),
                )?;
                Some(
                    MetricsWriter::create(out, program.components()).map_err(|e| {
                        TrainError::Io(anyhow::anyhow!(
                            "cannot write metrics in {}: {e}",
                            out.display()
                        ))
                    })?,
                )
            }
            None => None,
        };
        let (reward, seed, threads) = (program.as_ref(), request.seed, request.threads);
        let trainer = match saved {
            None => Trainer::new(task, reward, &config, seed, threads),
            Some(dir) => Trainer::resume(task, reward, &config, seed, threads, dir),
        }
        .map_err(|e| TrainError::Failed(e.to_string()))?;
        if let Some(metrics) = metrics.as_mut() {
            for cp in trainer.checkpoints() {
                metrics
                    .write(cp)
                    .map_err(|e| TrainError::Io(anyhow::anyhow!("cannot write metrics: {e}")))?;
            }
        }
        Ok(Self {
            trainer,
            metrics,
            out: request.out,
            check,
            config,
        })
    }

    /// Trains to at least `env_steps` env steps (or the budget), writing the
    /// checkpoints to the metrics and telling `observer` of every iteration.
    ///
    /// # Errors
    /// [`TrainError::Failed`] when training fails, [`TrainError::Io`] when
    /// the metrics cannot be written.
    pub fn advance(
        &mut self,
        env_steps: u64,
        observer: &mut dyn FnMut(&Progress),
    ) -> Result<(), TrainError> {
        let mut io_error = None;
        let metrics = &mut self.metrics;
        let mut observe = |p: &Progress| {
            if let (Some(metrics), Some(cp)) = (metrics.as_mut(), &p.checkpoint)
                && let Err(e) = metrics.write(cp)
            {
                io_error.get_or_insert(e);
            }
            observer(p);
        };
        self.trainer
            .advance(env_steps, &mut observe)
            .map_err(|e| TrainError::Failed(e.to_string()))?;
        if let Some(e) = io_error {
            return Err(TrainError::Io(anyhow::anyhow!("cannot write metrics: {e}")));
        }
        Ok(())
    }

    /// Trains on `threads` worker threads from now on.
    ///
    /// # Errors
    /// The threads cannot be started.
    pub fn set_threads(&mut self, threads: usize) -> Result<(), TrainError> {
        self.trainer
            .set_threads(threads)
            .map_err(|e| TrainError::Io(anyhow::anyhow!("{e}")))
    }

    /// Whether the whole budget is trained.
    #[must_use]
    pub fn done(&self) -> bool {
        self.trainer.done()
    }

    /// Saves the training where it is into the folder `dir`, for
    /// [`resume`](Self::resume) in this or another process.
    ///
    /// # Errors
    /// [`TrainError::Io`] when it cannot be written.
    pub fn save(&mut self, dir: &Path) -> Result<(), TrainError> {
        self.trainer
            .save(dir)
            .map_err(|e| TrainError::Io(anyhow::anyhow!("cannot save the training: {e}")))
    }

    /// The best checkpoint's held-out evaluation so far
    /// ([`Trainer::held_out_evaluation`]).
    pub fn held_out_evaluation(&mut self) -> Option<rewardsmith_rl::EvalReport> {
        self.trainer.held_out_evaluation()
    }

    /// Ends the training where it is: the best checkpoint's policy is saved
    /// as `policy.*` and the last one's in `last/` (with a folder).
    ///
    /// # Errors
    /// As [`advance`](Self::advance).
    pub fn finish(self) -> Result<TrainedReward, TrainError> {
        let trained = self
            .trainer
            .finish()
            .map_err(|e| TrainError::Failed(e.to_string()))?;
        if let Some(out) = self.out {
            let save = |policy: &rewardsmith_rl::Policy, dir: &Path| {
                policy
                    .save(dir)
                    .map_err(|e| TrainError::Io(anyhow::anyhow!("cannot save the policy: {e}")))
            };
            save(&trained.policy, out)?;
            let last = out.join(files::LAST_POLICY_DIR);
            std::fs::create_dir_all(&last).map_err(|e| {
                TrainError::Io(anyhow::anyhow!("cannot create {}: {e}", last.display()))
            })?;
            save(&trained.last_policy, &last)?;
        }
        Ok(TrainedReward {
            check: self.check,
            config: self.config,
            trained,
        })
    }
}
