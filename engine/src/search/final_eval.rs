//! The final evaluation: the best reward retrained with several seeds at the full
//! budget, side by side with the task's human-written and sparse rewards under
//! the same seeds and budget, and the human-normalised score.

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
    let results: Vec<anyhow::Result<f64>> = pool.install(|| {
        jobs.par_iter()
            .enumerate()
            .map(|(k, &(r, s))| {
                let (name, source) = &sources[r];
                let seed = derive_seed(record.search.seed, 1_000_000 + s as u64);
                let source = ProgramSource::Rhai(source.clone());
                let request = TrainRequest {
                    task,
                    source: &source,
                    overrides: &overrides,
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
                let fitness = trained.report.final_fitness;
                store.emit(
                    progress,
                    RunEvent::FinalTrainingFinished {
                        training: k,
                        label: format!("{name} reward, seed {s}"),
                        fitness,
                    },
                )?;
                Ok(fitness)
            })
            .collect()
    });
    let values = results.into_iter().collect::<anyhow::Result<Vec<f64>>>()?;
    let per = record.search.final_seeds;
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
    let report = FinalReport {
        budget,
        best,
        human,
        sparse,
        normalized_score,
    };
    store.note(
        progress,
        format!("final ({per} seeds × {budget} steps): {}", report.line()),
    )?;
    write_json(&store.best_dir().join(files::FINAL), &report)?;
    Ok(report)
}
