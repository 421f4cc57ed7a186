//! The search's public entry points: make or open a run folder, run (or
//! resume) the search in it. They convert the steps' `anyhow` errors into
//! the library's [`Error`] by kind; the steps themselves live in the runner.

use super::executor::Executor;
use super::record::{RunRecord, RunSummary};
use super::runner;
use super::store::RunStore;
use crate::Error;
use crate::feedback::{FeedbackError, FeedbackSource};
use crate::llm::{LlmClient, LlmError};
use crate::progress::RunProgress;
use rewardsmith_core::Registry;
use std::path::Path;

/// Creates a new run folder for `record` (refusing a folder that holds a
/// run, unless `force`, which clears it first).
///
/// # Errors
/// [`Error::RunFolder`]: the folder already holds a run, or cannot be
/// cleared or written.
pub fn create_run(dir: &Path, record: &RunRecord, force: bool) -> Result<RunStore, Error> {
    runner::create_run(dir, record, force).map_err(Error::RunFolder)
}

/// Opens an existing run folder for `resume`.
///
/// # Errors
/// [`Error::RunFolder`]: no run there, or a corrupt `run.toml` (named).
pub fn open_run(dir: &Path) -> Result<(RunStore, RunRecord), Error> {
    runner::open_run(dir).map_err(Error::RunFolder)
}

/// Runs (or resumes) the search recorded in `store`, without human feedback
/// (a run in human-feedback mode fails when it needs an answer; use
/// [`run_search_with`]).
///
/// `progress` hears of every notable step (bars on a terminal, lines in a log).
///
/// # Errors
/// [`Error::Llm`] when the reward designer fails, [`Error::Other`] for
/// failures of the machine; failures of candidates are recorded and fed
/// back, never raised.
pub fn run_search(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    progress: &dyn RunProgress,
) -> Result<RunSummary, Error> {
    runner::run_search_designed(registry, store, record, None, None, None, progress)
        .map_err(classified)
}

/// Runs (or resumes) the search recorded in `store`; in human-feedback mode,
/// `feedback` is asked after every generation but the last whose answer is
/// not yet in the run folder (`gen-NNN/feedback.json`, replayed on resume).
///
/// # Errors
/// As [`run_search`], and [`Error::Feedback`] when the person's answers
/// cannot be had or do not fit.
pub fn run_search_with(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    feedback: Option<&mut dyn FeedbackSource>,
    progress: &dyn RunProgress,
) -> Result<RunSummary, Error> {
    runner::run_search_designed(registry, store, record, None, None, feedback, progress)
        .map_err(classified)
}

/// [`run_search_with`] with the reward designer given rather than built from
/// `record.llm` (`None`: built from it), and the executor given rather than
/// built from `record.executor` (`None`: [`executor_for`](super::executor_for)).
/// Every call is recorded in the run's `llm/` either way, so the run replays
/// with `--llm replay`.
///
/// # Errors
/// As [`run_search_with`].
pub fn run_search_designed(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    designer: Option<Box<dyn LlmClient>>,
    executor: Option<Box<dyn Executor>>,
    feedback: Option<&mut dyn FeedbackSource>,
    progress: &dyn RunProgress,
) -> Result<RunSummary, Error> {
    runner::run_search_designed(
        registry, store, record, designer, executor, feedback, progress,
    )
    .map_err(classified)
}

/// An error of a search step, classified by what its chain holds: the
/// person's answers ([`Error::Feedback`]), the reward designer
/// ([`Error::Llm`]), else [`Error::Other`]. The chain is kept whole.
fn classified(error: anyhow::Error) -> Error {
    if error.chain().any(|e| e.is::<FeedbackError>()) {
        Error::Feedback(error)
    } else if error.chain().any(|e| e.is::<LlmError>()) {
        Error::Llm(error)
    } else {
        Error::Other(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_errors_are_classified_by_their_chain() {
        let feedback = anyhow::Error::new(FeedbackError::Ended {
            source_name: "standard input".into(),
            generation: 1,
        });
        assert!(matches!(classified(feedback), Error::Feedback(_)));
        let llm =
            anyhow::Error::new(LlmError::Config("bad".into())).context("the LLM request failed");
        let e = classified(llm);
        assert!(matches!(e, Error::Llm(_)));
        assert_eq!(
            format!("{:#}", anyhow::Error::new(e)),
            "the LLM request failed: invalid LLM configuration: bad"
        );
        let other = classified(anyhow::anyhow!("disk full"));
        assert!(matches!(other, Error::Other(_)));
    }
}
