//! The final evaluation: the best reward retrained with several seeds at the full
//! budget, side by side with the task's human-written and sparse rewards under
//! the same seeds and budget, and the human-normalised score.

use super::candidate::{CandidateSpec, Outcome};
use super::config::ExecutorKind;
use super::described::DescribedTask;
use super::executor::{SlurmBatch, Unit, with_time_limit};
use super::record::{FinalReport, RunRecord, SeedStats};
use super::store::{RunStore, files, write_json};
use crate::events::RunEvent;
use crate::progress::RunProgress;
use crate::training::{TrainRequest, train_reward};
use anyhow::anyhow;
use rayon::prelude::*;
use rewardsmith_core::{Registry, derive_seed};
use rewardsmith_rl::PpoOverrides;
use rewardsmith_sandbox::ProgramSource;

/// Runs the final evaluation and writes `best/final.json`.
///
/// # Errors
/// A reward that cannot compile or train (the best one trained before, so this
/// points at the machine), or an unwritable folder.
pub fn final_evaluation(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    best: &str,
    progress: &dyn RunProgress,
) -> anyhow::Result<FinalReport> {
    let task = registry.task(&record.task)?;
    let on_slurm = record.executor.kind == ExecutorKind::Slurm;
    let budget = if record.search.final_budget > 0 {
        record.search.final_budget
    } else {
        task.defaults.budget
    };
    let mut sources = vec![("best", best.to_string())];
    for (name, baseline) in [
        ("human", &task.human_reward),
        ("sparse", &task.sparse_reward),
    ] {
        if let Some(b) = baseline {
            sources.push((name, b.source.to_string()));
        }
    }
    let jobs: Vec<(usize, usize)> = (0..sources.len())
        .flat_map(|r| (0..record.search.final_seeds).map(move |s| (r, s)))
        .collect();
    let overrides = PpoOverrides {
        total_timesteps: Some(budget),
        ..PpoOverrides::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(record.concurrent)
        .build()
        .map_err(|e| anyhow!("cannot start worker threads: {e}"))?;
    if record.search.final_seeds < 3 {
        store.note(
            progress,
            format!(
                "warning: the final evaluation trains each reward with {} seed(s); with fewer \
                 than 3 the spread and the 95% interval say little (--final-seeds 3 or more)",
                record.search.final_seeds
            ),
        )?;
    }
    store.emit(
        progress,
        RunEvent::FinalStarted {
            trainings: jobs.len(),
            budget,
        },
    )?;
    let results: Vec<anyhow::Result<Trained>> = if on_slurm {
        let cluster = FinalOnSlurm {
            task,
            store,
            record,
            budget,
            progress,
        };
        cluster.run(&sources, &jobs)?
    } else {
        pool.install(|| {
            jobs.par_iter()
                .enumerate()
                .map(|(k, &(r, s))| {
                    let (name, source) = &sources[r];
                    let job = FinalJob {
                        k,
                        name,
                        seed_index: s,
                        source,
                    };
                    final_training(task, store, record, &overrides, &job, progress)
                })
                .collect()
        })
    };
    let trained = results
        .into_iter()
        .collect::<anyhow::Result<Vec<Trained>>>()?;
    let values: Vec<f64> = trained.iter().map(|t| t.fitness).collect();
    let per = record.search.final_seeds;
    let mut report = final_report(budget, &sources, &values, per)?;
    report.env_steps = trained.iter().map(|t| t.env_steps).sum();
    // The best reward's trainings come first ("best" is sources[0]).
    report.success = trained[..per]
        .iter()
        .map(|t| t.success)
        .collect::<Option<Vec<f64>>>()
        .map(SeedStats::new);
    store.note(
        progress,
        format!("final ({per} seeds × {budget} steps): {}", report.line()),
    )?;
    write_json(&store.best_dir().join(files::FINAL), &report)?;
    Ok(report)
}

/// What one final training gives: its fitness, env steps and success share.
struct Trained {
    fitness: f64,
    env_steps: u64,
    success: Option<f64>,
}

/// The final evaluation's trainings as one Slurm job array of
/// `eval-candidate` tasks, each in its own folder of `best/final/`.
struct FinalOnSlurm<'a> {
    task: &'a rewardsmith_core::Task,
    store: &'a RunStore,
    record: &'a RunRecord,
    budget: u64,
    progress: &'a dyn RunProgress,
}

impl FinalOnSlurm<'_> {
    /// Trains `jobs` (reward index into `sources`, seed index) and returns
    /// each one's fitness, env steps and success share, in order.
    ///
    /// # Errors
    /// Slurm's tools fail, or the run folder cannot be written.
    fn run(
        &self,
        sources: &[(&str, String)],
        jobs: &[(usize, usize)],
    ) -> anyhow::Result<Vec<anyhow::Result<Trained>>> {
        let (store, record) = (self.store, self.record);
        let root = store.best_dir().join(files::FINAL_DIR);
        let described: Option<DescribedTask> = match &record.described {
            Some(d) if d.fitness.is_some() => Some(d.clone()),
            Some(d) => Some(d.with_stored_fitness(store.root())?),
            None => None,
        };
        let mut units = Vec::with_capacity(jobs.len());
        let mut specs = Vec::with_capacity(jobs.len());
        for (k, &(r, s)) in jobs.iter().enumerate() {
            let (name, source) = &sources[r];
            let out = root.join(format!("{k:02}-{name}-seed{s}"));
            let spec = CandidateSpec {
                task: record.task.clone(),
                reward: source.clone(),
                budget: self.budget,
                seed: final_seed(record, s),
                threads: record.candidate_threads(),
                analysis_episodes: record.search.analysis_episodes,
                described: described.clone(),
                stop_at: None,
                pause_at: Vec::new(),
            };
            write_json(&out.join(files::SPEC), &spec)?;
            units.push(Unit {
                key: k,
                spec: out.join(files::SPEC),
                out,
            });
            specs.push(spec);
        }
        let spec_refs: Vec<&CandidateSpec> = specs.iter().collect();
        let (options, line) = with_time_limit(
            &record.executor.slurm,
            store,
            self.task,
            self.budget,
            &spec_refs,
        );
        if let Some(line) = line {
            store.note(self.progress, line)?;
        }
        let mut outcomes = SlurmBatch {
            store,
            options: &options,
            progress: self.progress,
            label: "final evaluation".to_string(),
            dir: root.clone(),
            jobs_file: root.join(files::SLURM_JOBS),
            job_name: "rewardsmith-final".to_string(),
        }
        .run(&units)?;
        let mut results = Vec::with_capacity(jobs.len());
        for (k, &(r, s)) in jobs.iter().enumerate() {
            let name = sources[r].0;
            let result = match outcomes.remove(&k) {
                Some(Outcome::Trained { report, .. }) => {
                    let fitness = report.fitness();
                    store.emit(
                        self.progress,
                        RunEvent::FinalTrainingFinished {
                            training: k,
                            label: format!("{name} reward, seed {s}"),
                            fitness,
                        },
                    )?;
                    Ok(Trained {
                        fitness,
                        env_steps: report.env_steps,
                        success: report.best.as_ref().and_then(|b| b.success),
                    })
                }
                Some(other) => Err(anyhow!(
                    "training the {name} reward failed: {}",
                    other.failure().unwrap_or_default()
                )),
                None => Err(anyhow!(
                    "the final training {k} ({name} reward, seed {s}) came back from Slurm \
                     without a result"
                )),
            };
            results.push(result);
        }
        Ok(results)
    }
}

/// The training seed of final seed `seed_index`, wherever it trains.
fn final_seed(record: &RunRecord, seed_index: usize) -> u64 {
    derive_seed(record.search.seed, 1_000_000 + seed_index as u64)
}

/// One training of the final evaluation.
struct FinalJob<'a> {
    /// Its index among the final trainings.
    k: usize,
    /// `best`, `human` or `sparse`.
    name: &'a str,
    /// Which of the final seeds.
    seed_index: usize,
    /// The reward program (Rhai).
    source: &'a str,
}

/// Trains one reward with one final seed through the training pipeline and
/// returns its fitness, env steps and success share.
fn final_training(
    task: &rewardsmith_core::Task,
    store: &RunStore,
    record: &RunRecord,
    overrides: &PpoOverrides,
    job: &FinalJob<'_>,
    progress: &dyn RunProgress,
) -> anyhow::Result<Trained> {
    let FinalJob {
        k,
        name,
        seed_index,
        source,
    } = *job;
    let seed = final_seed(record, seed_index);
    let source = ProgramSource::Rhai(source.to_string());
    let request = TrainRequest {
        task,
        source: &source,
        overrides,
        seed,
        threads: record.threads_per_candidate,
        out: None,
    };
    let trained = train_reward(&request, &mut |p| {
        progress.event(&RunEvent::FinalTrainingSteps {
            training: k,
            steps: p.env_steps,
        });
    })
    .map_err(|e| anyhow!("training the {name} reward failed: {e}"))?
    .trained;
    let fitness = trained.report.fitness();
    store.emit(
        progress,
        RunEvent::FinalTrainingFinished {
            training: k,
            label: format!("{name} reward, seed {seed_index}"),
            fitness,
        },
    )?;
    Ok(Trained {
        fitness,
        env_steps: trained.report.env_steps,
        success: trained.report.best.as_ref().and_then(|b| b.success),
    })
}

/// The table from every training's fitness (`values`, `per` seeds per reward
/// in the order of `sources`) and the human-normalised score.
fn final_report(
    budget: u64,
    sources: &[(&str, String)],
    values: &[f64],
    per: usize,
) -> anyhow::Result<FinalReport> {
    let stats = |name: &str| {
        sources
            .iter()
            .position(|(n, _)| *n == name)
            .map(|r| SeedStats::new(values[r * per..(r + 1) * per].to_vec()))
    };
    let best = stats("best").ok_or_else(|| anyhow!("the best reward was not evaluated"))?;
    let (human, sparse) = (stats("human"), stats("sparse"));
    let normalized_score = match (&human, &sparse) {
        (Some(h), Some(s)) => {
            let gap = (h.mean - s.mean).abs();
            (gap > 1e-9).then(|| (best.mean - s.mean) / gap)
        }
        _ => None,
    };
    Ok(FinalReport {
        budget,
        best,
        human,
        sparse,
        normalized_score,
        env_steps: 0,
        success: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_table_and_its_normalised_score_are_hand_computed_figures() {
        let sources = [
            ("best", String::new()),
            ("human", String::new()),
            ("sparse", String::new()),
        ];
        // Two seeds each: best 0.8, 0.6; human 1.0, 1.0; sparse 0.2, 0.4.
        let values = [0.8, 0.6, 1.0, 1.0, 0.2, 0.4];
        let report = final_report(1000, &sources, &values, 2).unwrap();
        assert!((report.best.mean - 0.7).abs() < 1e-12);
        assert_eq!(report.human.as_ref().unwrap().std, 0.0);
        let sparse = report.sparse.as_ref().unwrap();
        assert!((sparse.mean - 0.3).abs() < 1e-12);
        // (0.7 − 0.3) / |1.0 − 0.3| = 0.571428…
        assert!((report.normalized_score.unwrap() - 0.4 / 0.7).abs() < 1e-12);
        // Human and sparse tie: no score.
        let tie = final_report(1000, &sources, &[0.5, 0.5, 0.3, 0.3, 0.3, 0.3], 2).unwrap();
        assert_eq!(tie.normalized_score, None);
        assert!(tie.score_text().contains("tie"));
        // A described task has no baselines.
        let alone = final_report(1000, &sources[..1], &[0.1, 0.3], 2).unwrap();
        assert!(alone.human.is_none() && alone.normalized_score.is_none());
    }
}
