//! The library's [`Error`], what its public entry points return.
//!
//! Inside the engine, steps work with `anyhow` and add context; the public
//! entry points (the search, the run folder, candidate evaluation, the
//! reports) convert at their boundary, so a caller matches on the kind of
//! failure and still prints the whole chain of causes.

use crate::training::TrainError;

/// What the engine library's public entry points return.
///
/// Variants holding an [`anyhow::Error`] keep its chain of causes (print it
/// with `{:#}`, or walk [`std::error::Error::source`]): the kind is what a
/// caller decides on, the chain is what a person reads.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input the caller gave is unusable: settings out of range, a
    /// malformed or unreadable file, a combination that cannot work.
    #[error(transparent)]
    Input(anyhow::Error),
    /// No task of that name is registered (or the registry is inconsistent).
    #[error(transparent)]
    Task(#[from] rewardsmith_core::Error),
    /// The person's answers cannot be had or do not fit the question (a
    /// [`FeedbackError`](crate::feedback::FeedbackError) in the chain).
    #[error(transparent)]
    Feedback(anyhow::Error),
    /// The reward designer failed: the LLM endpoint, the replay transcript or
    /// its configuration (an [`LlmError`](crate::llm::LlmError) in the chain).
    #[error(transparent)]
    Llm(anyhow::Error),
    /// The run folder cannot be used: it already holds a run (and was not
    /// to be replaced), holds none, is corrupt, or cannot be made.
    #[error(transparent)]
    RunFolder(anyhow::Error),
    /// A training did not happen or did not finish.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Anything else: a failure of the machine (a file that cannot be
    /// written, worker threads that cannot start, …) or of the engine.
    #[error(transparent)]
    Other(anyhow::Error),
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
