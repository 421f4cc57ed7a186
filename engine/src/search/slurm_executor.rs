//! [`SlurmExecutor`]: the [`Executor`] that trains on a Slurm cluster, as job
//! arrays of `rewardsmith eval-candidate` tasks on specs in the run folder
//! (which the nodes must share). A generation's candidates are all staged
//! first, trained by one array (or one per rung under successive halving,
//! see `on_slurm`), then pictured here and finished in order; the final
//! evaluation's trainings are one array in `best/final/`.

use super::allocation::Allocation;
use super::candidate::{CandidateSpec, Outcome, Staged};
use super::described::DescribedTask;
use super::executor::{
    Candidates, Evaluation, Executor, FinalTrained, FinalTraining, RunContext, final_trained,
    stage_all,
};
use super::on_slurm::SlurmGeneration;
use super::slurm::SlurmOptions;
use super::slurm_batch::{SlurmBatch, Unit, with_time_limit};
use super::store::{files, write_json};
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::time::Instant;

/// Trains on a Slurm cluster (`--executor slurm`): the run folder must be on
/// a filesystem the nodes share. Under successive halving a promoted
/// candidate trains again from step 0 to the next rung (bitwise the same
/// first steps), so the outcomes are those of the same search run locally.
#[derive(Clone, Debug)]
pub struct SlurmExecutor {
    options: SlurmOptions,
}

impl SlurmExecutor {
    /// An executor submitting with `options` (`[executor.slurm]`).
    #[must_use]
    pub fn new(options: SlurmOptions) -> Self {
        Self { options }
    }

    /// A generation's evaluation under `allocation`: every candidate staged,
    /// those to train trained on the cluster, then pictured here, and every
    /// candidate finished in order.
    fn generation(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
        allocation: Allocation,
    ) -> anyhow::Result<Evaluation> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; candidates.count()];
        let mut train = Vec::new();
        for (i, (_, staged)) in stage_all(candidates)?.into_iter().enumerate() {
            match staged {
                Staged::Done(o) => outcomes[i] = Some(o),
                Staged::Train(spec) => train.push((i, spec)),
            }
        }
        let done: BTreeMap<usize, Outcome> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.clone().map(|o| (i, o)))
            .collect();
        let on_slurm = SlurmGeneration {
            task: run.task,
            store: run.store,
            record: run.record,
            options: &self.options,
            progress: run.progress,
            generation: candidates.generation(),
        };
        let mut trained = match allocation {
            Allocation::Halving => on_slurm.halving(&train, &done)?,
            Allocation::Uniform => on_slurm.uniform(&train)?,
        };
        let mut evaluation = Evaluation::default();
        for (i, spec) in &train {
            let outcome = trained
                .remove(i)
                .ok_or_else(|| anyhow!("candidate {i} came back from Slurm without a result"))?;
            let pictured = Instant::now();
            candidates.picture(*i, spec, &outcome)?;
            if let Outcome::Trained { report, .. } = &outcome {
                evaluation.train_thread_s += report.wall_s;
                evaluation.candidate_thread_s += report.wall_s + pictured.elapsed().as_secs_f64();
            }
            outcomes[*i] = Some(outcome);
        }
        evaluation.outcomes = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| o.ok_or_else(|| anyhow!("candidate {i} has no outcome")))
            .collect::<anyhow::Result<_>>()?;
        for (i, o) in evaluation.outcomes.iter().enumerate() {
            candidates.finished(i, o)?;
        }
        candidates.live_report()?;
        Ok(evaluation)
    }
}

impl Executor for SlurmExecutor {
    /// One job array for the candidates to train.
    fn train_uniform(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation> {
        self.generation(run, candidates, Allocation::Uniform)
    }

    /// One job array per rung, a promoted candidate retrained from step 0.
    fn train_halving(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation> {
        self.generation(run, candidates, Allocation::Halving)
    }

    /// One job array, each training in its folder of `best/final/`; their
    /// ends are emitted in order once all are done.
    fn train_final(
        &self,
        run: &RunContext<'_>,
        budget: u64,
        trainings: &[FinalTraining<'_>],
    ) -> anyhow::Result<Vec<anyhow::Result<FinalTrained>>> {
        let root = run.store.best_dir().join(files::FINAL_DIR);
        let (units, specs) = final_units(run, budget, trainings)?;
        let spec_refs: Vec<&CandidateSpec> = specs.iter().collect();
        let (options, line) =
            with_time_limit(&self.options, run.store, run.task, budget, &spec_refs);
        if let Some(line) = line {
            run.store.note(run.progress, line)?;
        }
        let mut outcomes = SlurmBatch {
            store: run.store,
            options: &options,
            progress: run.progress,
            label: "final evaluation".to_string(),
            dir: root.clone(),
            jobs_file: root.join(files::SLURM_JOBS),
            job_name: "rewardsmith-final".to_string(),
        }
        .run(&units)?;
        let mut results = Vec::with_capacity(trainings.len());
        for (k, training) in trainings.iter().enumerate() {
            results.push(final_result(run, k, training, outcomes.remove(&k))?);
        }
        Ok(results)
    }
}

/// The final trainings as specs written in their folders of `best/final/`.
fn final_units(
    run: &RunContext<'_>,
    budget: u64,
    trainings: &[FinalTraining<'_>],
) -> anyhow::Result<(Vec<Unit>, Vec<CandidateSpec>)> {
    let record = run.record;
    let root = run.store.best_dir().join(files::FINAL_DIR);
    let described: Option<DescribedTask> = match &record.described {
        Some(d) if d.fitness.is_some() => Some(d.clone()),
        Some(d) => Some(d.with_stored_fitness(run.store.root())?),
        None => None,
    };
    let mut units = Vec::with_capacity(trainings.len());
    let mut specs = Vec::with_capacity(trainings.len());
    for (k, training) in trainings.iter().enumerate() {
        let out = root.join(format!(
            "{k:02}-{}-seed{}",
            training.name, training.seed_index
        ));
        let spec = CandidateSpec {
            task: record.task.clone(),
            reward: training.reward.to_string(),
            budget,
            seed: training.seed,
            threads: record.candidate_threads(),
            analysis_episodes: record.search.analysis_episodes,
            described: described.clone(),
            stop_at: None,
            pause_at: Vec::new(),
            resume_from: None,
        };
        write_json(&out.join(files::SPEC), &spec)?;
        units.push(Unit {
            key: k,
            spec: out.join(files::SPEC),
            out,
        });
        specs.push(spec);
    }
    Ok((units, specs))
}

/// Final training `k`'s result from its outcome on the cluster; a trained
/// one's end is emitted.
///
/// # Errors
/// The event log cannot be written.
fn final_result(
    run: &RunContext<'_>,
    k: usize,
    training: &FinalTraining<'_>,
    outcome: Option<Outcome>,
) -> anyhow::Result<anyhow::Result<FinalTrained>> {
    let name = training.name;
    Ok(match outcome {
        Some(Outcome::Trained { report, .. }) => Ok(final_trained(run, k, training, &report)?),
        Some(other) => Err(anyhow!(
            "training the {name} reward failed: {}",
            other.failure().unwrap_or_default()
        )),
        None => Err(anyhow!(
            "the final training {k} ({}) came back from Slurm without a result",
            training.label()
        )),
    })
}
