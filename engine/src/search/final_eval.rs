//! The final evaluation: the best reward retrained with several seeds at the full
//! budget, side by side with the task's human-written and sparse rewards under
//! the same seeds and budget, and the human-normalised score.

use super::runner::RunRecord;
use super::store::{RunStore, write_json};
use crate::events::RunEvent;
use crate::progress::RunProgress;
use crate::training::{TrainRequest, train_reward};
use anyhow::anyhow;
use rayon::prelude::*;
use rewardsmith_core::{Registry, derive_seed};
use rewardsmith_rl::PpoOverrides;
use rewardsmith_sandbox::ProgramSource;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Fitness over the seeds of one reward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedStats {
    /// Final fitness per seed.
    pub values: Vec<f64>,
    /// Mean over seeds.
    pub mean: f64,
    /// Standard deviation over seeds.
    pub std: f64,
}

impl SeedStats {
    fn new(values: Vec<f64>) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Self { values, mean, std }
    }
}

/// The three rewards side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalReport {
    /// Env steps per training.
    pub budget: u64,
    /// The best reward of the search.
    pub best: SeedStats,
    /// The task's human-written reward (`None` when the task has none).
    pub human: Option<SeedStats>,
    /// The task's sparse reward (`None` when the task has none).
    pub sparse: Option<SeedStats>,
    /// `(F − F_sparse) / |F_human − F_sparse|`; `None` when human and sparse tie
    /// or a baseline is missing.
    pub normalized_score: Option<f64>,
}

impl FinalReport {
    /// The `final` object of the run summary.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let s = |x: &SeedStats| json!({"mean": x.mean, "std": x.std, "values": x.values});
        json!({
            "budget": self.budget,
            "best": s(&self.best),
            "human": self.human.as_ref().map(s),
            "sparse": self.sparse.as_ref().map(s),
            "normalized_score": self.normalized_score,
        })
    }

    /// The normalised score in words: the number, or why there is none.
    #[must_use]
    pub fn score_text(&self) -> String {
        match (self.normalized_score, &self.human, &self.sparse) {
            (Some(s), _, _) => format!("{s:.3}"),
            (None, Some(_), Some(_)) => "n/a (human and sparse tie)".to_string(),
            (None, _, _) => "n/a (the task has no human-written or sparse reward)".to_string(),
        }
    }

    /// One line: every reward's mean ± std and the normalised score.
    #[must_use]
    pub fn line(&self) -> String {
        let s = |x: &Option<SeedStats>| {
            x.as_ref().map_or("n/a".to_string(), |x| {
                format!("{:.4} ± {:.4}", x.mean, x.std)
            })
        };
        format!(
            "best {:.4} ± {:.4}, human {}, sparse {}, normalised score {}",
            self.best.mean,
            self.best.std,
            s(&self.human),
            s(&self.sparse),
            self.score_text()
        )
    }

    /// The comparison as a Markdown table.
    #[must_use]
    pub fn markdown_table(&self) -> String {
        let mut out = String::from("| reward | fitness mean | std |\n|---|---|---|\n");
        for (name, stats) in [
            ("best found", Some(&self.best)),
            ("human-written", self.human.as_ref()),
            ("sparse", self.sparse.as_ref()),
        ] {
            match stats {
                Some(x) => out.push_str(&format!("| {name} | {:.4} | {:.4} |\n", x.mean, x.std)),
                None => out.push_str(&format!("| {name} | n/a | n/a |\n")),
            }
        }
        out
    }
}

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
    write_json(&store.best_dir().join("final.json"), &report)?;
    Ok(report)
}
