//! The final evaluation: the best reward retrained with several seeds at the full
//! budget, side by side with the task's human-written and sparse rewards under
//! the same seeds and budget, and the human-normalised score.

use super::runner::RunRecord;
use super::store::{RunStore, write_json};
use anyhow::anyhow;
use rayon::prelude::*;
use rewardsmith_core::{Registry, derive_seed};
use rewardsmith_rl::{PpoConfig, PpoOverrides, train};
use rewardsmith_sandbox::{Limits, ProgramSource, compile};
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
    /// The task's human-written reward.
    pub human: SeedStats,
    /// The task's sparse reward.
    pub sparse: SeedStats,
    /// `(F − F_sparse) / |F_human − F_sparse|`; `None` when human and sparse tie.
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
            "human": s(&self.human),
            "sparse": s(&self.sparse),
            "normalized_score": self.normalized_score,
        })
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
    say: &mut dyn FnMut(&str),
) -> anyhow::Result<FinalReport> {
    let task = registry.task(&record.task)?;
    let budget = if record.search.final_budget > 0 {
        record.search.final_budget
    } else {
        task.defaults.budget
    };
    let sources = [
        ("best", best.to_string()),
        ("human", task.human_reward.source.to_string()),
        ("sparse", task.sparse_reward.source.to_string()),
    ];
    let jobs: Vec<(usize, usize)> = (0..sources.len())
        .flat_map(|r| (0..record.search.final_seeds).map(move |s| (r, s)))
        .collect();
    let config = PpoConfig::for_task(task).with_overrides(&PpoOverrides {
        total_timesteps: Some(budget),
        ..PpoOverrides::default()
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(record.concurrent)
        .build()
        .map_err(|e| anyhow!("cannot start worker threads: {e}"))?;
    let results: Vec<anyhow::Result<f64>> = pool.install(|| {
        jobs.par_iter()
            .map(|&(r, s)| {
                let (name, source) = &sources[r];
                let program = compile(
                    &ProgramSource::Rhai(source.clone()),
                    &task.env_spec().state,
                    &Limits::default(),
                )
                .map_err(|e| anyhow!("the {name} reward does not compile: {e}"))?;
                let seed = derive_seed(record.search.seed, 1_000_000 + s as u64);
                let trained = train(
                    task,
                    program.as_ref(),
                    &config,
                    seed,
                    record.threads_per_candidate,
                    &mut |_| {},
                )
                .map_err(|e| anyhow!("training the {name} reward failed: {e}"))?;
                Ok(trained.report.final_fitness)
            })
            .collect()
    });
    let values = results.into_iter().collect::<anyhow::Result<Vec<f64>>>()?;
    let per = record.search.final_seeds;
    let stats = |r: usize| SeedStats::new(values[r * per..(r + 1) * per].to_vec());
    let (best, human, sparse) = (stats(0), stats(1), stats(2));
    let gap = (human.mean - sparse.mean).abs();
    let normalized_score = (gap > 1e-9).then(|| (best.mean - sparse.mean) / gap);
    let report = FinalReport {
        budget,
        best,
        human,
        sparse,
        normalized_score,
    };
    say(&format!(
        "final ({} seeds × {budget} steps): best {:.4} ± {:.4}, human {:.4} ± {:.4}, sparse {:.4} ± {:.4}, normalised score {}",
        per,
        report.best.mean,
        report.best.std,
        report.human.mean,
        report.human.std,
        report.sparse.mean,
        report.sparse.std,
        report
            .normalized_score
            .map_or("n/a".to_string(), |s| format!("{s:.3}"))
    ));
    write_json(&store.best_dir().join("final.json"), &report)?;
    Ok(report)
}
