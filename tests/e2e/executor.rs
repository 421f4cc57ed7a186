//! An executor injected through `Search::builder(...).executor(...)` is the
//! one the search uses for its candidates and its final evaluation, and a
//! search through a wrapper of the local executor ends exactly as one with
//! the default executor.

use rewardsmith::search::{
    Candidates, Evaluation, Executor, FinalTrained, FinalTraining, LocalExecutor, RunContext,
    RunSummary, Search,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the calls of each kind and hands them on to a [`LocalExecutor`].
struct Counting {
    inner: LocalExecutor,
    /// Calls of train_uniform, train_halving, train_final.
    calls: Arc<[AtomicUsize; 3]>,
}

impl Executor for Counting {
    fn train_uniform(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation> {
        self.calls[0].fetch_add(1, Ordering::SeqCst);
        self.inner.train_uniform(run, candidates)
    }

    fn train_halving(
        &self,
        run: &RunContext<'_>,
        candidates: &dyn Candidates,
    ) -> anyhow::Result<Evaluation> {
        self.calls[1].fetch_add(1, Ordering::SeqCst);
        self.inner.train_halving(run, candidates)
    }

    fn train_final(
        &self,
        run: &RunContext<'_>,
        budget: u64,
        trainings: &[FinalTraining<'_>],
    ) -> anyhow::Result<Vec<anyhow::Result<FinalTrained>>> {
        self.calls[2].fetch_add(1, Ordering::SeqCst);
        self.inner.train_final(run, budget, trainings)
    }
}

fn search(dir: &std::path::Path, executor: Option<Box<dyn Executor>>) -> RunSummary {
    let registry = rewardsmith_envs::registry();
    let mut builder = Search::builder(&registry, "cartpole-balance")
        .generations(2)
        .samples(3)
        .budget(12_288)
        .final_budget(8_192)
        .final_seeds(1)
        .threads(2)
        .out(dir);
    if let Some(e) = executor {
        builder = builder.executor(e);
    }
    builder.run().expect("the search runs")
}

/// What must match between two runs: every candidate's fitness and failure,
/// the best, and the final table.
fn results(s: &RunSummary) -> String {
    let generations: Vec<_> = s
        .generations
        .iter()
        .map(|g| {
            g.candidates
                .iter()
                .map(|c| (c.index, c.fitness, c.failure.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let best = s
        .best
        .as_ref()
        .map(|b| (b.generation, b.candidate, b.fitness));
    let fin = s
        .final_eval
        .as_ref()
        .map(|f| (f.best.clone(), f.human.clone(), f.sparse.clone()));
    format!("{generations:?} {best:?} {fin:?}")
}

#[test]
fn an_injected_executor_runs_every_training_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let calls = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    let counting = Counting {
        inner: LocalExecutor::new(2).unwrap(),
        calls: Arc::clone(&calls),
    };
    let injected = search(&tmp.path().join("injected"), Some(Box::new(counting)));
    let counts: Vec<usize> = calls.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    // The default allocation is successive halving: one call per generation,
    // and one for the final evaluation.
    assert_eq!(counts, [0, 2, 1], "uniform, halving, final calls");
    assert!(injected.final_eval.is_some());
    let default = search(&tmp.path().join("default"), None);
    assert_eq!(results(&injected), results(&default));
    assert!(injected.best.is_some(), "no candidate trained");
}
