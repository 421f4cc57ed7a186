//! Where trainings run: the [`Executor`] seam, and [`LocalExecutor`], which
//! trains on this process's threads.
//!
//! The search hands an executor a generation's candidates as [`Candidates`]
//! (it stages, pictures and announces each; the executor trains the staged
//! specs and returns every candidate's outcome, in order), and the final
//! evaluation hands it its [`FinalTraining`]s. An executor may train in any
//! order and anywhere, but calls the search's steps for each candidate in the
//! order its contract says, so the run folder and `events.jsonl` do not
//! depend on where the trainings ran. `SlurmExecutor` is the cluster's.

use super::allocation::waves;
use super::candidate::{CandidateSpec, Outcome, Staged, evaluate_candidate_with};
use super::halving::Halving;
use super::record::RunRecord;
use super::store::RunStore;
use crate::events::RunEvent;
use crate::progress::RunProgress;
use crate::training::{TrainRequest, train_reward};
use anyhow::anyhow;
use rayon::prelude::*;
use rewardsmith_core::{Registry, Task};
use rewardsmith_rl::PpoOverrides;
use rewardsmith_sandbox::ProgramSource;
use std::time::Instant;

/// Where a search's candidate trainings and its final trainings run.
///
/// Candidate evaluation calls [`train_uniform`](Self::train_uniform) or
/// [`train_halving`](Self::train_halving) (the run's allocation chooses),
/// the final evaluation [`train_final`](Self::train_final). The local one is
/// [`LocalExecutor`]; `rewardsmith run --executor slurm` uses
/// [`SlurmExecutor`](super::SlurmExecutor).
pub trait Executor: Send + Sync {
    /// Evaluates every candidate of a generation, each trained to the run's
    /// budget: calls [`started`](Candidates::started) then
    /// [`stage`](Candidates::stage) for each, trains those staged to train,
    /// [`picture`](Candidates::picture)s each trained one, calls
    /// [`finished`](Candidates::finished) for each and
    /// [`live_report`](Candidates::live_report) at least once at the end.
    ///
    /// # Errors
    /// The run folder cannot be written, or the executor's machinery fails
    /// (failed candidates are outcomes, not errors).
    fn train_uniform(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation>;

    /// As [`train_uniform`](Self::train_uniform), under successive halving
    /// (`run.record.search.eta`): all candidates train to the first rung,
    /// the best continue to the next, and so on to the budget; each outcome
    /// carries its course of rungs.
    ///
    /// # Errors
    /// As [`train_uniform`](Self::train_uniform).
    fn train_halving(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation>;

    /// Trains each of `trainings` for `budget` env steps and returns what
    /// each gave, in order; emits [`RunEvent::FinalTrainingFinished`] for
    /// each that trained.
    ///
    /// # Errors
    /// The run folder cannot be written, or the executor's machinery fails;
    /// a training that fails is an error in its place of the list.
    fn train_final(
        &self,
        run: &RunContext<'_>,
        budget: u64,
        trainings: &[FinalTraining<'_>],
    ) -> anyhow::Result<Vec<anyhow::Result<FinalTrained>>>;
}

/// What an executor reads of the run it trains for.
#[derive(Clone, Copy)]
pub struct RunContext<'a> {
    /// The tasks (a described task is registered in it).
    pub registry: &'a Registry,
    /// The run's task.
    pub task: &'a Task,
    /// The run folder.
    pub store: &'a RunStore,
    /// The run's settings.
    pub record: &'a RunRecord,
    /// Where events go.
    pub progress: &'a dyn RunProgress,
}

/// A generation's candidates as the search hands them to an [`Executor`]:
/// the search's steps around each candidate's training. Every method may be
/// called from any thread.
pub trait Candidates: Sync {
    /// The generation.
    fn generation(&self) -> usize;

    /// How many candidates (indices `0..count`).
    fn count(&self) -> usize;

    /// Announces candidate `i` unless its outcome is already on disk;
    /// returns whether it is yet to be evaluated. Called before
    /// [`stage`](Self::stage).
    ///
    /// # Errors
    /// The event log cannot be written.
    fn started(&self, i: usize) -> anyhow::Result<bool>;

    /// Candidate `i` read back or made ready: its outcome (written) or its
    /// spec (written in its folder) to train into its folder.
    ///
    /// # Errors
    /// The run folder cannot be read or written.
    fn stage(&self, i: usize) -> anyhow::Result<Staged>;

    /// Pictures candidate `i`, trained from `spec` to `outcome`, when the
    /// run renders and the candidate has a fitness.
    ///
    /// # Errors
    /// The event log cannot be written (a picture that fails is logged).
    fn picture(&self, i: usize, spec: &CandidateSpec, outcome: &Outcome) -> anyhow::Result<()>;

    /// Announces that candidate `i` ended as `outcome`.
    ///
    /// # Errors
    /// The event log cannot be written.
    fn finished(&self, i: usize, outcome: &Outcome) -> anyhow::Result<()>;

    /// Rewrites the run's live report from the folder.
    ///
    /// # Errors
    /// The report cannot be written.
    fn live_report(&self) -> anyhow::Result<()>;
}

/// A generation's evaluation: every candidate's outcome, in order, and the
/// wall seconds this process's threads spent on the candidates it evaluated.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Every candidate's outcome, by index.
    pub outcomes: Vec<Outcome>,
    /// Seconds on the candidates in all (checks, training, analysis,
    /// pictures).
    pub candidate_thread_s: f64,
    /// Of those, seconds in the trainer.
    pub train_thread_s: f64,
}

/// One training of the final evaluation.
#[derive(Clone, Copy, Debug)]
pub struct FinalTraining<'a> {
    /// `best`, `human` or `sparse`.
    pub name: &'a str,
    /// Which of the final seeds.
    pub seed_index: usize,
    /// Its training seed.
    pub seed: u64,
    /// The reward program (Rhai).
    pub reward: &'a str,
}

impl FinalTraining<'_> {
    /// How events name it: "best reward, seed 0".
    #[must_use]
    pub fn label(&self) -> String {
        format!("{} reward, seed {}", self.name, self.seed_index)
    }
}

/// What one final training gives.
#[derive(Clone, Copy, Debug)]
pub struct FinalTrained {
    /// Its fitness.
    pub fitness: f64,
    /// Env steps it trained.
    pub env_steps: u64,
    /// The best checkpoint's success share, if the task has one.
    pub success: Option<f64>,
}

/// Trains on this process's threads: up to `concurrent` trainings side by
/// side; under successive halving a promoted candidate continues its paused
/// training in memory.
#[derive(Debug)]
pub struct LocalExecutor {
    pool: rayon::ThreadPool,
}

impl LocalExecutor {
    /// An executor training up to `concurrent` candidates side by side.
    ///
    /// # Errors
    /// The threads cannot be started.
    pub fn new(concurrent: usize) -> anyhow::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrent)
            .build()
            .map_err(|e| anyhow!("cannot start {concurrent} worker threads: {e}"))?;
        Ok(Self { pool })
    }
}

impl Executor for LocalExecutor {
    /// Each candidate announced, staged, trained, pictured and finished on
    /// one thread of the pool, the live report rewritten after each.
    fn train_uniform(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation> {
        let evaluated: Vec<anyhow::Result<Evaluated>> = self.pool.install(|| {
            // One job per training (`with_max_len(1)`): rayon otherwise keeps
            // neighbouring items in one sequential job, and a thread could
            // train two in a row while another thread idles.
            (0..candidates.count())
                .into_par_iter()
                .with_max_len(1)
                .map(|i| evaluate_one(run, candidates, i))
                .collect()
        });
        let mut evaluation = Evaluation::default();
        for result in evaluated {
            let (outcome, spent) = result?;
            if let Some((all, train)) = spent {
                evaluation.candidate_thread_s += all;
                evaluation.train_thread_s += train;
            }
            evaluation.outcomes.push(outcome);
        }
        Ok(evaluation)
    }

    /// Every candidate announced and staged, trained together rung by rung
    /// ([`Halving`]), then each pictured and finished in order.
    fn train_halving(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation> {
        let staged = stage_all(candidates)?;
        let fresh: Vec<bool> = staged.iter().map(|(fresh, _)| *fresh).collect();
        // What a trained candidate's picture needs, kept from its staging.
        let to_picture: Vec<Option<CandidateSpec>> = staged
            .iter()
            .map(|(_, s)| match s {
                Staged::Train(spec) => Some(spec.clone()),
                Staged::Done(_) => None,
            })
            .collect();
        let (outcomes, spent) = Halving {
            task: run.task,
            store: run.store,
            record: run.record,
            pool: &self.pool,
            progress: run.progress,
            generation: candidates.generation(),
        }
        .run(staged.into_iter().map(|(_, s)| s).collect())?;
        let mut evaluation = Evaluation::default();
        for (i, outcome) in outcomes.iter().enumerate() {
            if fresh[i] {
                let pictured = Instant::now();
                if let Some(spec) = &to_picture[i] {
                    candidates.picture(i, spec, outcome)?;
                }
                evaluation.candidate_thread_s += spent[i] + pictured.elapsed().as_secs_f64();
                if let Outcome::Trained { report, .. } = outcome {
                    evaluation.train_thread_s += report.wall_s;
                }
            }
            candidates.finished(i, outcome)?;
        }
        candidates.live_report()?;
        evaluation.outcomes = outcomes;
        Ok(evaluation)
    }

    /// The trainings side by side on the pool, each emitting its events as
    /// it goes; nothing is written but the events.
    fn train_final(
        &self,
        run: &RunContext<'_>,
        budget: u64,
        trainings: &[FinalTraining<'_>],
    ) -> anyhow::Result<Vec<anyhow::Result<FinalTrained>>> {
        let overrides = PpoOverrides {
            total_timesteps: Some(budget),
            ..PpoOverrides::default()
        };
        let mut trained: Vec<anyhow::Result<FinalTrained>> = Vec::with_capacity(trainings.len());
        let waves = waves(
            trainings.len(),
            self.pool.current_num_threads(),
            run.record.threads_per_candidate,
        );
        for (wave, threads) in waves {
            let offset = wave.start;
            trained.extend(self.pool.install(|| {
                trainings[wave]
                    .par_iter()
                    .with_max_len(1)
                    .enumerate()
                    .map(|(j, training)| {
                        final_training(run, &overrides, offset + j, training, threads)
                    })
                    .collect::<Vec<_>>()
            }));
        }
        Ok(trained)
    }
}

/// Calls [`Candidates::started`] then [`Candidates::stage`] for every
/// candidate in order: whether each is yet to be evaluated, and its staging.
///
/// # Errors
/// As those.
pub(super) fn stage_all(candidates: &dyn Candidates) -> anyhow::Result<Vec<(bool, Staged)>> {
    (0..candidates.count())
        .map(|i| {
            let fresh = candidates.started(i)?;
            Ok((fresh, candidates.stage(i)?))
        })
        .collect()
}

/// A candidate's outcome, and for one evaluated by this process its wall
/// seconds in all and in the trainer.
type Evaluated = (Outcome, Option<(f64, f64)>);

/// Candidate `i` announced, staged, trained, pictured and finished, then
/// the live report.
fn evaluate_one(
    run: &RunContext<'_>,
    candidates: &dyn Candidates,
    i: usize,
) -> anyhow::Result<Evaluated> {
    let g = candidates.generation();
    let fresh = candidates.started(i)?;
    let started = Instant::now();
    let outcome = match candidates.stage(i)? {
        Staged::Done(o) => o,
        Staged::Train(spec) => {
            let dir = run.store.candidate_dir(g, i);
            let outcome = evaluate_candidate_with(run.registry, &spec, &dir, &|steps| {
                run.progress.event(&RunEvent::TrainingSteps {
                    generation: g,
                    candidate: i,
                    steps,
                });
            })?;
            candidates.picture(i, &spec, &outcome)?;
            outcome
        }
    };
    candidates.finished(i, &outcome)?;
    candidates.live_report()?;
    let spent = match &outcome {
        Outcome::Trained { report, .. } if fresh => {
            Some((started.elapsed().as_secs_f64(), report.wall_s))
        }
        _ if fresh => Some((started.elapsed().as_secs_f64(), 0.0)),
        _ => None,
    };
    Ok((outcome, spent))
}

/// Trains final training `k` on `threads` threads through the training
/// pipeline (nothing written) and emits its end.
fn final_training(
    run: &RunContext<'_>,
    overrides: &PpoOverrides,
    k: usize,
    training: &FinalTraining<'_>,
    threads: usize,
) -> anyhow::Result<FinalTrained> {
    let source = ProgramSource::Rhai(training.reward.to_string());
    let request = TrainRequest {
        task: run.task,
        source: &source,
        overrides,
        seed: training.seed,
        threads,
        out: None,
    };
    let trained = train_reward(&request, &mut |p| {
        run.progress.event(&RunEvent::FinalTrainingSteps {
            training: k,
            steps: p.env_steps,
        });
    })
    .map_err(|e| anyhow!("training the {} reward failed: {e}", training.name))?
    .trained;
    final_trained(run, k, training, &trained.report)
}

/// What final training `k` gave, from its report; emits its end. Every
/// executor ends a final training through this.
///
/// # Errors
/// The event log cannot be written.
pub(super) fn final_trained(
    run: &RunContext<'_>,
    k: usize,
    training: &FinalTraining<'_>,
    report: &rewardsmith_core::TrainReport,
) -> anyhow::Result<FinalTrained> {
    let fitness = report.fitness();
    run.store.emit(
        run.progress,
        RunEvent::FinalTrainingFinished {
            training: k,
            label: training.label(),
            fitness,
        },
    )?;
    Ok(FinalTrained {
        fitness,
        env_steps: report.env_steps,
        success: report.best.as_ref().and_then(|b| b.success),
    })
}
