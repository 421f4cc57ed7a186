//! The final evaluation: the best reward retrained with several seeds at the full
//! budget, side by side with the task's human-written and sparse rewards under
//! the same seeds and budget, and the human-normalised score. The trainings
//! run on the search's [`Executor`]; this file says which, and sums them up.

use super::executor::{Executor, FinalTrained, FinalTraining, RunContext};
use super::record::{FinalReport, RunRecord, SeedStats};
use super::store::{files, write_json};
use crate::events::RunEvent;
use anyhow::anyhow;
use rewardsmith_core::derive_seed;

/// Runs the final evaluation through `executor` and writes `best/final.json`.
///
/// # Errors
/// A reward that cannot compile or train (the best one trained before, so this
/// points at the machine), or an unwritable folder.
pub fn final_evaluation(
    run: &RunContext<'_>,
    executor: &dyn Executor,
    best: &str,
) -> anyhow::Result<FinalReport> {
    let (store, record, progress) = (run.store, run.record, run.progress);
    let budget = if record.search.final_budget > 0 {
        record.search.final_budget
    } else {
        run.task.defaults.budget
    };
    let mut sources = vec![("best", best.to_string())];
    for (name, baseline) in [
        ("human", &run.task.human_reward),
        ("sparse", &run.task.sparse_reward),
    ] {
        if let Some(b) = baseline {
            sources.push((name, b.source.to_string()));
        }
    }
    let trainings: Vec<FinalTraining<'_>> = sources
        .iter()
        .flat_map(|(name, reward)| {
            let (name, reward) = (*name, reward.as_str());
            (0..record.search.final_seeds).map(move |s| FinalTraining {
                name,
                seed_index: s,
                seed: final_seed(record, s),
                reward,
            })
        })
        .collect();
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
            trainings: trainings.len(),
            budget,
        },
    )?;
    let trained = executor
        .train_final(run, budget, &trainings)?
        .into_iter()
        .collect::<anyhow::Result<Vec<FinalTrained>>>()?;
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

/// The training seed of final seed `seed_index`, wherever it trains.
fn final_seed(record: &RunRecord, seed_index: usize) -> u64 {
    derive_seed(record.search.seed, 1_000_000 + seed_index as u64)
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
